"""Netdev back-ends for the network device tests: pyvmm's echoing far end
keeping what was sent, and one that swallows every frame."""

from pyvmm.io.net import echo as echo_netdev
from pyvmm.io.net.netdev import Netdev

# The echoing peer's MAC, as the guests (guests/pci/nic.S) address it.
PEER_MAC = echo_netdev.ECHO_MAC


def echo(frame):
    """The peer's reply: the frame back to its sender, from the peer's MAC."""
    return frame[6:12] + PEER_MAC + frame[12:]


class EchoNetdev(echo_netdev.EchoNetdev):
    """pyvmm's echo netdev, also keeping every frame it was sent."""

    def __init__(self):
        super().__init__("echo")
        self.sent = []

    def _transmit(self, frame):
        self.sent.append(frame)
        return super()._transmit(frame)


class SinkNetdev(Netdev):
    """A wire whose far end takes every frame and answers none."""
    kind = "sink"

    def __init__(self):
        super().__init__("sink")
        self.sent = []

    def _transmit(self, frame):
        self.sent.append(frame)
        return True

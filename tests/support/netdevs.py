"""Netdev back-ends for the network device tests: a far end that echoes
every frame, and one that swallows them; both keep what was sent."""

from pyvmm.io.net.netdev import Netdev

# The echoing peer's MAC, as the guests (guests/pci/nic.S) address it.
PEER_MAC = bytes.fromhex("525400000002")


def echo(frame):
    """The peer's reply: the frame back to its sender, from the peer's MAC."""
    return frame[6:12] + PEER_MAC + frame[12:]


class EchoNetdev(Netdev):
    """A wire whose far end answers every frame at once with its echo."""
    kind = "echo"

    def __init__(self):
        super().__init__("echo")
        self.sent = []

    def _transmit(self, frame):
        self.sent.append(frame)
        self.deliver(echo(frame))
        return True


class SinkNetdev(Netdev):
    """A wire whose far end takes every frame and answers none."""
    kind = "sink"

    def __init__(self):
        super().__init__("sink")
        self.sent = []

    def _transmit(self, frame):
        self.sent.append(frame)
        return True

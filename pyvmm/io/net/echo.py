"""The echo netdev: a far end inside this process that answers every frame
the NIC sends with the same frame back, the addresses swapped (to the
sender, from ECHO_MAC), before `send` returns.

It is the peer of the network benchmarks and of tests: the reply is in the
receive queue by the time the transmit doorbell's device access ends, so a
driver's instruction counts and the device's counters are the same on every
run (no host socket, no thread, no timing). `--netdev echo,id=ID`.
"""

from pyvmm.io.net.netdev import Netdev

ECHO_MAC = bytes.fromhex("525400000002")


class EchoNetdev(Netdev):
    """Answers each transmitted frame with it back, from ECHO_MAC."""

    kind = "echo"

    def __init__(self, netdev_id="echo"):
        super().__init__(netdev_id)
        self.echoed = 0

    def _transmit(self, frame):
        # A reply the receive queue cannot take is lost on the wire, as a
        # real peer's would be; the send itself went out.
        if self.deliver(frame[6:12] + ECHO_MAC + frame[12:]):
            self.echoed += 1
        return True

    def stats(self):
        out = super().stats()
        out["echoed"] = self.echoed
        return out

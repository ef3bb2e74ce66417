"""The internal Ethernet switch of an SR-IOV pyvmm-nic: a Virtual Ethernet
Bridge (VEB) between the controller's functions (the physical function and
each virtual function it enabled) and its one wire, the netdev, as SR-IOV
NICs have.

Every function is a port with a receive FIFO of its own, so one function
that has no free receive buffer holds up nobody else. Frames are switched
by destination MAC against each function's current MAC register:

* from the wire: to the function with that MAC; a broadcast or multicast
  frame to every function; a unicast frame no function owns to the
  physical function (the default port, as a NIC's PF pool);
* from a function: a unicast frame for another function's MAC goes to that
  function and not out (VF-to-VF traffic stays in the controller); anything
  else goes out on the wire, and a broadcast or multicast frame also to
  every other function.

A function whose controller is not enabled (CTRL.EN clear) takes no frames:
the switch drops what is addressed to it and counts it, as a pool whose
receiver is off does. A FIFO that is full drops the frame and counts it
(`rx_fifo_dropped` of that function). Frames are copied in the order they
arrive, and a function that got one takes it into its rings at once, so the
counters are the same on every run.
"""

from pyvmm.io.net.netdev import RX_QUEUE_FRAMES, FrameQueue


def is_group(mac):
    """Broadcast or multicast: the I/G bit of the first octet."""
    return bool(mac[0] & 1)


class NicSwitch:
    """The switch of the physical function `pf` (its netdev is the wire)."""

    def __init__(self, pf):
        self.pf = pf
        self.counters = dict.fromkeys(("from_wire", "to_wire", "between_functions",
                                       "to_disabled", "unmatched_to_pf"), 0)

    def ports(self):
        """The PF, then its VFs in index order, while they exist."""
        return [self.pf] + list(self.pf.sriov.vfs)

    @staticmethod
    def new_fifo():
        return FrameQueue(RX_QUEUE_FRAMES)

    def transmit(self, sender, frame):
        """`sender` sends `frame`: True if it left the sender's port (the
        wire took it, or another function did)."""
        destination = frame[:6]
        if not is_group(destination):
            for port in self.ports():
                if port is not sender and port.mac == destination:
                    self.counters["between_functions"] += 1
                    self._deliver(port, frame, sender)
                    return True
        sent = self.pf.netdev.send(frame)
        if sent:
            self.counters["to_wire"] += 1
        if is_group(destination):
            for port in self.ports():
                if port is not sender:
                    self._deliver(port, frame, sender)
        self.pull(sender)
        return sent

    def pull(self, sender=None):
        """Switch the frames waiting on the wire to their ports. A port that
        got one takes it into its rings now, except `sender` (which does,
        once its transmit doorbell's work is done)."""
        netdev = self.pf.netdev
        while netdev.peek() is not None:
            frame = netdev.pop()
            self.counters["from_wire"] += 1
            destination = frame[:6]
            if is_group(destination):
                for port in self.ports():
                    self._deliver(port, frame, sender)
                continue
            for port in self.ports():
                if port.mac == destination:
                    self._deliver(port, frame, sender)
                    break
            else:
                self.counters["unmatched_to_pf"] += 1
                self._deliver(self.pf, frame, sender)

    def _deliver(self, port, frame, sender):
        if not port.ctrl_enabled():
            self.counters["to_disabled"] += 1
            return
        port.rx_fifo.put(frame)
        if port is not sender:
            port.take_frames()

    def stats(self):
        return {f"switch_{k}": v for k, v in self.counters.items()}

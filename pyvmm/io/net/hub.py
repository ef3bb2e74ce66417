"""pyvmm's switch: the VMs of one process (and the board's NIC) on one
Ethernet segment.

A hub is a learning switch. It remembers which port each source MAC came
from; a unicast frame to a known MAC goes to that port only, and broadcast,
multicast and unknown destinations are flooded to every other port in the
order the ports were attached, so delivery is deterministic. Hubs live in a
per-process registry keyed by id: every `--netdev hub,id=ID` of that id gets
a new port on the same hub, and the hub leaves the registry when its last
port closes.
"""

from pyvmm.io.net.netdev import ETH_HEADER_LEN, RX_QUEUE_FRAMES, Netdev

# Bounded so a guest sending from random source MACs cannot grow the host's
# memory; once full, new stations are flooded to rather than learned.
MAC_TABLE_LIMIT = 4096


def _is_group(mac):
    return bool(mac[0] & 1)


class HubPort(Netdev):
    kind = "hub"

    def __init__(self, hub, index, rx_limit):
        super().__init__(hub.id, rx_limit)
        self.hub = hub
        self.index = index

    def _transmit(self, frame):
        return self.hub.forward(self, frame)

    def close(self):
        if not self.closed:
            super().close()
            self.hub.detach(self)

    def stats(self):
        return {**super().stats(), "port": self.index}


class Hub:
    def __init__(self, hub_id):
        self.id = hub_id
        self.ports = []
        self._next_index = 0
        self.macs = {}              # MAC bytes -> HubPort
        self.forwarded = 0
        self.flooded = 0
        self.filtered = 0           # unicast to a station on the sender's own port

    def attach(self, rx_limit=RX_QUEUE_FRAMES):
        port = HubPort(self, self._next_index, rx_limit)
        self._next_index += 1
        self.ports.append(port)
        return port

    def detach(self, port):
        if port in self.ports:
            self.ports.remove(port)
        for mac in [m for m, p in self.macs.items() if p is port]:
            del self.macs[mac]
        if not self.ports and _registry.get(self.id) is self:
            del _registry[self.id]

    def forward(self, source, frame):
        """Switch one frame from `source`; True if the switch accepted it
        (even if no other port was there to take it)."""
        if len(frame) < ETH_HEADER_LEN:
            return False
        dst, src = frame[0:6], frame[6:12]
        if not _is_group(src):
            if src in self.macs or len(self.macs) < MAC_TABLE_LIMIT:
                self.macs[src] = source
        if not _is_group(dst):
            owner = self.macs.get(dst)
            if owner is source:
                self.filtered += 1
                return True
            if owner is not None:
                self.forwarded += 1
                owner.deliver(frame)
                return True
        self.flooded += 1
        for port in self.ports:
            if port is not source:
                port.deliver(frame)
        return True

    def stats(self):
        return {"ports": len(self.ports), "macs": len(self.macs),
                "forwarded": self.forwarded, "flooded": self.flooded,
                "filtered": self.filtered}


_registry = {}


def hub_port(hub_id, rx_limit=RX_QUEUE_FRAMES):
    """A new port on hub `hub_id` of this process, creating the hub."""
    hub = _registry.get(hub_id)
    if hub is None:
        hub = _registry[hub_id] = Hub(hub_id)
    return hub.attach(rx_limit)


def find_hub(hub_id):
    return _registry.get(hub_id)

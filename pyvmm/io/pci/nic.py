"""pyvmm-nic: the host's "physical" Ethernet controller on PCI, in the style
of a real NIC (descriptor rings in host memory, head/tail doorbells, a
descriptor-done bit, an interrupt cause register) but pyvmm's own design,
small enough to document completely (docs/network.md has the programming
model). It is not a QEMU device: vendor 0x1B36, device 0x00F0, class
02.00.00 (Ethernet), INTA, BAR0 16 KiB 64-bit memory.

Frames go to and from a netdev (pyvmm.io.net). The controller has N
transmit/receive ring pairs (`queues`, 1..8); each ring has its own base,
length, head and tail registers, and writing a tail is the doorbell. A
received frame goes to the receive ring its flow selects (CRC-32 of the IP
flow, as virtio-net's multiqueue does, or of the Ethernet header for a frame
that is not IP) among the first MQ_ACTIVE rings (1 after reset).

With `sriov_max_vfs=N` (the NVMe controller's property, pyvmm.io.pci.sriov)
the controller is an SR-IOV physical function: each virtual function it
enables (NicVirtualFunction) is a pyvmm-nic of its own, with its own
registers in a slice of the VF BAR0 window, its own `queues` ring pairs,
counters and MAC (the PF's MAC with 1 + i added to its last byte for VF i),
and its DMA under its own routing ID. The functions share the wire through
the controller's switch (pyvmm.io.pci.nic_switch), which sends each frame
to the function whose MAC it is addressed to.

Every DMA goes through BusMasterMemory (and the IOMMU when there is one).
A buffer the DMA cannot reach ends as an error bit in its descriptor; a
descriptor ring that cannot be read or written back stops the controller
(STATUS.FATAL, cause bit FATAL) until the driver resets it, like NVMe's
Controller Fatal Status. Nothing a driver writes is a host exception.
"""

import zlib

from pyvmm.io.net.netdev import ETH_HEADER_LEN, MAX_FRAME_LEN
from pyvmm.io.pci import sriov
from pyvmm.io.pci.config import SUBSYSTEM_QEMU, VENDOR_QUMRANET, PciFunction, RegisterRegion
from pyvmm.io.pci.dma import BusMasterMemory
from pyvmm.io.pci.nic_switch import NicSwitch
from pyvmm.io.virtio.net import DEFAULT_MAC, flow_key, parse_mac
from pyvmm.machine.memory import DmaError

VENDOR_REDHAT = 0x1B36
DEVICE_NIC = 0x00F0
CLASS_ETHERNET = 0x020000
BAR0_SIZE = 0x4000
NIC_VERSION = 0x0001_0000
MAX_QUEUES = 8
MAX_RING = 4096                 # descriptors in one ring
DESC_SIZE = 16

# Controller registers (32-bit, aligned).
REG_VERSION, REG_CTRL, REG_STATUS, REG_QUEUES = 0x00, 0x04, 0x08, 0x0C
REG_MAC_LO, REG_MAC_HI, REG_ICR, REG_IMS, REG_MQ_ACTIVE = 0x10, 0x14, 0x18, 0x1C, 0x20
QUEUE_REGS, QUEUE_STRIDE = 0x100, 0x40
# Within a queue pair's block: the transmit ring, then the receive ring.
RING_BASE_LO, RING_BASE_HI, RING_LEN, RING_HEAD, RING_TAIL = 0x00, 0x04, 0x08, 0x0C, 0x10
RX_RING = 0x20

CTRL_EN, CTRL_RST = 1, 2
STATUS_LINK_UP, STATUS_ENABLED, STATUS_FATAL = 1, 2, 4
ICR_LSC, ICR_FATAL = 1 << 30, 1 << 31          # bit q: TX done on q; bit 8 + q: RX on q

# Descriptor: u64 buffer address, u16 length, u16 reserved, u8 reserved,
# u8 status, u16 reserved.
DESC_LENGTH, DESC_STATUS = 8, 13
DD, ERR_DMA, ERR_LEN, ERR_LINK = 0x01, 0x02, 0x04, 0x08


def vf_mac(pf_mac, index):
    """VF `index`'s MAC: the PF's with 1 + index added to its last byte
    (modulo 256), so 52:54:00:12:34:56's VF 0 is 52:54:00:12:34:57."""
    return bytes(pf_mac[:5]) + bytes([(pf_mac[5] + 1 + index) & 0xFF])


def rx_queue_for(frame, active):
    """The receive ring (0..active-1) a frame is steered to."""
    key = flow_key(frame)
    if key is None:
        key = bytes(frame[:ETH_HEADER_LEN])
    return zlib.crc32(key) % active


class Ring:
    """One descriptor ring: where it is and how far each side got."""

    def __init__(self):
        self.base = 0
        self.size = 0           # descriptors; 0: the ring is off
        self.head = 0           # next descriptor the controller takes
        self.tail = 0           # one past the last descriptor the driver gave

    def state(self):
        return [self.base, self.size, self.head, self.tail]

    def load(self, state):
        self.base, self.size, self.head, self.tail = state

    def valid(self):
        return 0 < self.size <= MAX_RING and self.base % DESC_SIZE == 0


class NicController(sriov.PhysicalFunction, PciFunction):
    """`netdev` carries the frames; `queues` ring pairs; `mac` six bytes;
    `sriov_max_vfs` the VFs it can enable (0: no SR-IOV)."""

    def __init__(self, netdev, queues=1, mac=DEFAULT_MAC, sriov_max_vfs=0):
        if not 1 <= queues <= MAX_QUEUES:
            raise ValueError(f"pyvmm-nic: queues={queues} is not 1..{MAX_QUEUES}")
        if sriov_max_vfs:
            self.config_size = sriov.EXTENDED_CONFIG_SIZE
        super().__init__(VENDOR_REDHAT, DEVICE_NIC, CLASS_ETHERNET, revision=1,
                         subsystem_vendor_id=VENDOR_QUMRANET, subsystem_id=SUBSYSTEM_QEMU,
                         interrupt_pin=1, name="pyvmm-nic")
        self.sriov = None
        switch = None
        if sriov_max_vfs:
            self.sriov = sriov.SriovCapability(self, sriov_max_vfs, DEVICE_NIC, BAR0_SIZE)
            switch = NicSwitch(self)
        self._init_function(netdev, queues, parse_mac(mac) if isinstance(mac, str) else bytes(mac), switch)

    def _init_function(self, netdev, queues, mac, switch):
        """What a PF and a VF share: BAR0, the rings, the counters; `switch`
        (None without SR-IOV) is where frames go and come from."""
        self.netdev = netdev
        self.queues = queues
        self.default_mac = mac
        self.switch = switch
        self.port_fifo = NicSwitch.new_fifo() if switch is not None else None
        self.add_bar(0, BAR0_SIZE, RegisterRegion(self), is64=True)
        self.memory = None
        self.link_up = netdev.link_up
        self.counters = dict.fromkeys(
            ("tx_frames", "tx_bytes", "rx_frames", "rx_bytes", "tx_dropped", "tx_len_errors",
             "rx_too_big", "dma_errors", "doorbell_writes", "doorbell_errors", "ring_errors",
             "fatal_errors", "link_changes", "rx_ring_off"), 0)
        self.per_queue = [dict.fromkeys(("tx_frames", "tx_bytes", "rx_frames", "rx_bytes"), 0)
                          for _ in range(queues)]
        self._controller_reset()

    # -- the PCI function ---------------------------------------------------------

    def attach_memory(self, memory):
        self.memory = BusMasterMemory(memory, self)

    def reset(self):
        super().reset()
        self._controller_reset()
        self.disable_vfs_on_reset()

    def _controller_reset(self):
        self.ctrl = 0
        self.fatal = False
        self.icr = 0
        self.ims = 0
        self.mac = self.default_mac
        self.mq_active = 1          # one ring until the driver asks for more, as virtio-net
        self.tx = [Ring() for _ in range(self.queues)]
        self.rx = [Ring() for _ in range(self.queues)]
        if self.switch is not None:
            self.rx_fifo.clear()       # a disabled port takes no frames
        self._update_irq()

    def close(self):
        if self.sriov is not None:
            for vf in self.sriov.vfs:
                vf.close()
        self.netdev.close()

    # -- SR-IOV -------------------------------------------------------------------------

    def create_vf(self, index):
        return NicVirtualFunction(self, index)

    # -- the switch's side of a port ----------------------------------------------------

    @property
    def rx_fifo(self):
        """Where received frames wait: this function's port of the switch,
        or without one the netdev's own queue."""
        return self.netdev if self.port_fifo is None else self.port_fifo

    def ctrl_enabled(self):
        return bool(self.ctrl & CTRL_EN)

    def take_frames(self):
        """Frames arrived in this function's FIFO: into its rings now."""
        self._receive()
        self._update_irq()

    # -- registers ----------------------------------------------------------------------

    def register_read(self, offset, size):
        """Aligned 32-bit reads; anything else reads 0."""
        if size != 4 or offset % 4:
            return 0
        if offset >= QUEUE_REGS:
            ring, field = self._ring_at(offset)
            if ring is None:
                return 0
            return {RING_BASE_LO: ring.base & 0xFFFF_FFFF, RING_BASE_HI: ring.base >> 32,
                    RING_LEN: ring.size, RING_HEAD: ring.head, RING_TAIL: ring.tail}.get(field, 0)
        if offset == REG_VERSION:
            return NIC_VERSION
        if offset == REG_CTRL:
            return self.ctrl
        if offset == REG_STATUS:
            return ((STATUS_LINK_UP if self.link_up else 0) | (STATUS_ENABLED if self.ctrl & CTRL_EN else 0)
                    | (STATUS_FATAL if self.fatal else 0))
        if offset == REG_QUEUES:
            return self.queues
        if offset == REG_MAC_LO:
            return int.from_bytes(self.mac[:4], "little")
        if offset == REG_MAC_HI:
            return int.from_bytes(self.mac[4:], "little")
        if offset == REG_ICR:
            return self.icr
        if offset == REG_IMS:
            return self.ims
        if offset == REG_MQ_ACTIVE:
            return self.mq_active
        return 0

    def register_write(self, offset, size, value):
        if size != 4 or offset % 4:
            return
        value &= 0xFFFF_FFFF
        if offset >= QUEUE_REGS:
            self._ring_write(offset, value)
        elif offset == REG_CTRL:
            if value & CTRL_RST:
                self._controller_reset()
                return
            was = self.ctrl & CTRL_EN
            self.ctrl = value & CTRL_EN
            if self.ctrl and not was:
                self._run_all()
        elif offset == REG_MAC_LO:
            self.mac = value.to_bytes(4, "little") + self.mac[4:]
        elif offset == REG_MAC_HI:
            self.mac = self.mac[:4] + (value & 0xFFFF).to_bytes(2, "little")
        elif offset == REG_ICR:
            self.icr &= ~value
            self._update_irq()
        elif offset == REG_IMS:
            self.ims = value & self._cause_mask()
            self._update_irq()
        elif offset == REG_MQ_ACTIVE:
            if 1 <= value <= self.queues:
                self.mq_active = value
            else:
                self.counters["ring_errors"] += 1
        # VERSION, STATUS and QUEUES are read-only.

    def _cause_mask(self):
        every = (1 << self.queues) - 1
        return every | every << 8 | ICR_LSC | ICR_FATAL

    def _ring_at(self, offset):
        pair, within = divmod(offset - QUEUE_REGS, QUEUE_STRIDE)
        if pair >= self.queues:
            return None, None
        if within >= RX_RING:
            return self.rx[pair], within - RX_RING
        return self.tx[pair], within

    def _ring_write(self, offset, value):
        ring, field = self._ring_at(offset)
        if ring is None:
            return
        pair = (offset - QUEUE_REGS) // QUEUE_STRIDE
        if field in (RING_BASE_LO, RING_BASE_HI, RING_LEN):
            # Reprogramming a ring starts it empty, as a driver expects after setup.
            if field == RING_BASE_LO:
                ring.base = (ring.base & ~0xFFFF_FFFF) | value
            elif field == RING_BASE_HI:
                ring.base = (ring.base & 0xFFFF_FFFF) | value << 32
            else:
                ring.size = value
            ring.head = ring.tail = 0
            if field == RING_LEN and ring.size and not ring.valid():
                self.counters["ring_errors"] += 1
        elif field == RING_TAIL:
            self.counters["doorbell_writes"] += 1
            if not ring.valid() or value >= ring.size:
                self.counters["doorbell_errors"] += 1       # dropped, as NVMe's bad doorbells
                return
            ring.tail = value
            if ring is self.tx[pair]:
                self._transmit(pair)
            # A transmit may have answered at once (a hub in this process).
            self._receive()
            self._update_irq()
        # HEAD is the controller's: writes are ignored.

    # -- the data path ----------------------------------------------------------------

    def _running(self):
        return self.ctrl & CTRL_EN and not self.fatal and self.memory is not None

    def _run_all(self):
        for pair in range(self.queues):
            self._transmit(pair)
        self._receive()
        self._update_irq()

    def _descriptor(self, ring):
        """The descriptor at the ring's head: (address, length), or None after
        a fatal error (the ring itself cannot be read)."""
        at = ring.base + ring.head * DESC_SIZE
        try:
            raw = self.memory.read(at, DESC_SIZE)
        except DmaError:
            self._fatal()
            return None
        return int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:10], "little")

    def _write_back(self, ring, length, status):
        at = ring.base + ring.head * DESC_SIZE
        try:
            self.memory.write(at + DESC_LENGTH, length.to_bytes(2, "little"))
            self.memory.write(at + DESC_STATUS, bytes([status]))
        except DmaError:
            self._fatal()
            return False
        ring.head = (ring.head + 1) % ring.size
        return True

    def _transmit(self, pair):
        ring = self.tx[pair]
        done = False
        while self._running() and ring.valid() and ring.head != ring.tail:
            descriptor = self._descriptor(ring)
            if descriptor is None:
                break
            address, length = descriptor
            status = DD
            if not ETH_HEADER_LEN <= length <= MAX_FRAME_LEN:
                status |= ERR_LEN
                self.counters["tx_len_errors"] += 1
            else:
                try:
                    frame = self.memory.read(address, length)
                except DmaError:
                    status |= ERR_DMA
                    self.counters["dma_errors"] += 1
                else:
                    if self._send(frame):
                        self.counters["tx_frames"] += 1
                        self.counters["tx_bytes"] += length
                        self.per_queue[pair]["tx_frames"] += 1
                        self.per_queue[pair]["tx_bytes"] += length
                    else:
                        status |= ERR_LINK
                        self.counters["tx_dropped"] += 1
            if not self._write_back(ring, length, status):
                break
            done = True
        if done:
            self.icr |= 1 << pair

    def _send(self, frame):
        if self.switch is None:
            return self.netdev.send(frame)
        return self.switch.transmit(self, frame)

    def _receive(self):
        """Move waiting frames into receive buffers, in arrival order: a frame
        whose ring has no free descriptor waits (and the ones after it), so
        none is lost while the driver catches up; the receive FIFO (the
        netdev's bounded queue, or this function's port of the switch)
        overflows."""
        while self._running():
            frame = self.rx_fifo.peek()
            if frame is None:
                return
            pair = rx_queue_for(frame, self.mq_active)
            ring = self.rx[pair]
            if not ring.valid():
                # A receive ring that is off drops its frames, as a disabled
                # receiver does, rather than holding up the other rings.
                self.rx_fifo.pop()
                self.counters["rx_ring_off"] += 1
                continue
            if ring.head == ring.tail:
                return
            descriptor = self._descriptor(ring)
            if descriptor is None:
                return
            address, capacity = descriptor
            status = DD
            if len(frame) > capacity:
                status |= ERR_LEN
                self.counters["rx_too_big"] += 1
            else:
                try:
                    self.memory.write(address, frame)
                except DmaError:
                    status |= ERR_DMA
                    self.counters["dma_errors"] += 1
            # The length field is 16 bits; a longer frame (up to the netdev's
            # 69,632 bytes) never fits a buffer and reports 0xFFFF.
            if not self._write_back(ring, min(len(frame), 0xFFFF), status):
                return
            self.rx_fifo.pop()
            if status == DD:
                self.counters["rx_frames"] += 1
                self.counters["rx_bytes"] += len(frame)
                self.per_queue[pair]["rx_frames"] += 1
                self.per_queue[pair]["rx_bytes"] += len(frame)
            self.icr |= 1 << (8 + pair)

    def _fatal(self):
        self.fatal = True
        self.icr |= ICR_FATAL
        self.counters["fatal_errors"] += 1

    def _update_irq(self):
        self.set_irq(self.icr & self.ims)

    def poll(self):
        """Between slices: the netdev's traffic, link changes, received frames."""
        self.netdev.poll()
        if self.netdev.link_up != self.link_up:
            self.link_up = self.netdev.link_up
            self.counters["link_changes"] += 1
            self.icr |= ICR_LSC
        if self.switch is not None:
            self.switch.pull()
        self._receive()
        self._update_irq()

    def wait_handles(self):
        return [self.netdev] if self.netdev.fileno() >= 0 else []

    # -- snapshots and counters -------------------------------------------------------

    def state(self):
        nic = {
            "ctrl": self.ctrl, "fatal": self.fatal, "icr": self.icr, "ims": self.ims,
            "mac": self.mac.hex(), "mq_active": self.mq_active, "link_up": self.link_up,
            "tx": [ring.state() for ring in self.tx], "rx": [ring.state() for ring in self.rx],
            "counters": dict(self.counters), "per_queue": [dict(q) for q in self.per_queue],
        }
        if self.switch is not None:
            nic["rx_fifo"] = [frame.hex() for frame in self.rx_fifo.frames()]
            nic["rx_fifo_dropped"] = self.rx_fifo.dropped
        if self.sriov is not None:
            nic["switch"] = dict(self.switch.counters)
            nic["vfs"] = [vf.state() for vf in self.sriov.vfs]
        return dict(super().state(), nic=nic)

    def restore(self, state):
        nic = state["nic"]
        if ("vfs" in nic) != (self.sriov is not None) or ("rx_fifo" in nic) != (self.switch is not None):
            raise ValueError(f"{self.name}: the state is of a controller "
                             f"{'without' if self.switch is not None else 'with'} SR-IOV")
        if self.sriov is not None:
            for vf in self.sriov.vfs:
                vf.close()
            self.sriov.vfs = []
        PciFunction.restore(self, state)
        self._restore_controller(nic)
        if self.sriov is not None:
            if len(nic["vfs"]) != (self.sriov.num_vfs if self.sriov.enabled else 0):
                raise ValueError(f"{self.name}: the snapshot's VFs disagree with its SR-IOV registers")
            self.switch.counters = dict(nic["switch"])
            self.sriov.vfs = [self.create_vf(i) for i in range(len(nic["vfs"]))]
            for vf, vf_state in zip(self.sriov.vfs, nic["vfs"]):
                vf.restore(vf_state)
            self.vfs_changed()

    def _restore_controller(self, nic):
        if len(nic["tx"]) != self.queues:
            raise ValueError(f"pyvmm-nic: the state has {len(nic['tx'])} queue pairs, "
                             f"this controller {self.queues}")
        for name in ("ctrl", "fatal", "icr", "ims", "mq_active", "link_up"):
            setattr(self, name, nic[name])
        self.mac = bytes.fromhex(nic["mac"])
        for ring, saved in zip(self.tx + self.rx, nic["tx"] + nic["rx"]):
            ring.load(saved)
        self.counters = dict(nic["counters"])
        self.per_queue = [dict(q) for q in nic["per_queue"]]
        if self.switch is not None:
            self.rx_fifo.clear()
            for frame in nic["rx_fifo"]:
                self.rx_fifo.put(bytes.fromhex(frame))
            self.rx_fifo.dropped = nic["rx_fifo_dropped"]

    def stats(self):
        out = dict(super().stats(), **{f"nic_{k}": v for k, v in self.counters.items()})
        for pair, counts in enumerate(self.per_queue):
            for key, value in counts.items():
                out[f"nic_q{pair}_{key}"] = value
        if self.switch is not None:
            out["nic_rx_fifo_dropped"] = self.rx_fifo.dropped
        if self.sriov is not None:
            out.update({f"nic_{k}": v for k, v in self.switch.stats().items()})
            # The VFs' own counters, where a board's statistics show the PF's.
            for vf in self.sriov.vfs:
                out.update({f"vf{vf.index}_{k}": v for k, v in vf.stats().items()
                            if k.startswith(("nic_", "dma_"))})
        out.update({f"netdev_{k}": v for k, v in self.netdev.stats().items()})
        if self.memory is not None:
            out.update(self.memory.stats())
        return out


class NicVirtualFunction(sriov.VirtualFunction, NicController):
    """Virtual function `index` of an SR-IOV pyvmm-nic `pf`: a controller of
    its own on the PF's wire (through the PF's switch), whose configuration
    space follows the SR-IOV rules for a VF as NVMe's do: Vendor and Device
    ID read 0xFFFF, the BAR registers read 0 and BAR0 decodes inside the
    PF's VF BAR0 window, and of the command register only Bus Master Enable
    and INTx Disable are writable. Its MAC is vf_mac(PF's MAC, index); it
    keeps the PF's INTA pin."""

    def __init__(self, pf, index):
        PciFunction.__init__(self, 0xFFFF, 0xFFFF, CLASS_ETHERNET, revision=1,
                             subsystem_vendor_id=VENDOR_QUMRANET, subsystem_id=SUBSYSTEM_QEMU,
                             interrupt_pin=1, name=f"pyvmm-nic-vf{index}")
        self.pf = pf
        self.index = index
        self.sriov = None
        self._init_function(pf.netdev, pf.queues, vf_mac(pf.default_mac, index), pf.switch)
        self.vf_config_rules()

    def close(self):
        """The wire is the PF's, which closes it; frames held here go."""
        self.rx_fifo.clear()

    def wait_handles(self):
        return []           # the PF waits on the wire for every function


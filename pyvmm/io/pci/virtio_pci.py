"""The modern virtio-pci transport (virtio 1.2 section 4.1), laid out as
QEMU 7.2 lays out a virtio-*-pci device with disable-legacy=on, vectors=0.

Identity: vendor 0x1AF4, device 0x1040 + virtio device id, revision 1,
QEMU's subsystem ids (0x1AF4, 0x1100) and class code per device type.
One 16 KiB 64-bit prefetchable memory BAR (BAR 4) holds four 4 KiB
structures, each described by a vendor-specific capability:

    0x0000 common configuration   (COMMON_CFG)
    0x1000 ISR status             (ISR_CFG)
    0x2000 device configuration   (DEVICE_CFG)
    0x3000 notifications          (NOTIFY_CFG, notify_off_multiplier 4,
                                   queue_notify_off = queue index)

plus the PCI_CFG capability, a window onto the BAR through configuration
space. The capabilities link newest first, as QEMU adds them: PCI_CFG at
0x84, NOTIFY 0x70, DEVICE 0x60, ISR 0x50, COMMON 0x40.

MSI-X is not offered: there is no MSI-X capability, config_msix_vector and
queue_msix_vector always read NO_VECTOR (0xFFFF), and the device interrupts
through INTA: the line follows the ISR status, and reading the ISR returns
and clears it. Registers of the BAR take naturally aligned accesses of 1, 2,
4 or 8 bytes (8 as two 4-byte accesses, low half first); a misaligned one is
a bus error. Without Bus Master Enable the device reaches no guest memory,
and clearing it takes DRIVER_OK away, as QEMU does.
"""

from pyvmm.io.pci.config import CAP_ID_VENDOR, SUBSYSTEM_QEMU, VENDOR_QUMRANET, PciFunction
from pyvmm.io.pci.dma import BusMasterMemory
from pyvmm.io.virtio.device import DRIVER_OK
from pyvmm.machine.bus import BusFault

DEVICE_ID_BASE = 0x1040
REVISION = 1

# virtio_pci_cap.cfg_type
COMMON_CFG = 1
NOTIFY_CFG = 2
ISR_CFG = 3
DEVICE_CFG = 4
PCI_CFG = 5

MODERN_BAR = 4
REGION_SIZE = 0x1000
COMMON_OFFSET = 0x0000
ISR_OFFSET = 0x1000
DEVICE_OFFSET = 0x2000
NOTIFY_OFFSET = 0x3000
BAR_SIZE = 0x4000
NOTIFY_OFF_MULTIPLIER = 4
CAP_LEN = 16
NOTIFY_CAP_LEN = 20
PCI_CFG_CAP_LEN = 20

VIRTIO_QUEUE_MAX = 1024
NO_VECTOR = 0xFFFF

# Common configuration structure (virtio 1.2 section 4.1.4.3).
DEVICE_FEATURE_SELECT = 0x00
DEVICE_FEATURE = 0x04
DRIVER_FEATURE_SELECT = 0x08
DRIVER_FEATURE = 0x0C
CONFIG_MSIX_VECTOR = 0x10
NUM_QUEUES = 0x12
DEVICE_STATUS = 0x14
CONFIG_GENERATION = 0x15
QUEUE_SELECT = 0x16
QUEUE_SIZE = 0x18
QUEUE_MSIX_VECTOR = 0x1A
QUEUE_ENABLE = 0x1C
QUEUE_NOTIFY_OFF = 0x1E
QUEUE_DESC = 0x20
QUEUE_DRIVER = 0x28
QUEUE_DEVICE = 0x30

# PCI class codes QEMU 7.2 gives each virtio-*-pci device (class, subclass, prog-if).
CLASS_OTHERS = 0x00FF00
CLASS_CODES = {
    1: 0x020000,    # net: network controller, ethernet
    2: 0x010000,    # block: mass storage, SCSI
    3: 0x078000,    # console: communication, other
    4: CLASS_OTHERS,
    5: CLASS_OTHERS,
    8: 0x010000,    # scsi
    9: 0x000200,    # 9p
    16: 0x038000,   # gpu: display, other
}

_QUEUE_ADDRESSES = {QUEUE_DESC: "desc", QUEUE_DRIVER: "driver", QUEUE_DEVICE: "device"}


class QueueLatch:
    """The queue address registers as the driver wrote them; they reach the
    virtqueue when the driver enables it."""

    __slots__ = ("desc", "driver", "device")

    def __init__(self):
        self.desc = self.driver = self.device = 0


class ModernBar:
    """BAR 4: access rules, then the structure the offset falls in."""

    def __init__(self, function):
        self.function = function

    def _pieces(self, offset, size):
        if offset % size:
            raise BusFault(f"misaligned {size}-byte virtio-pci access at BAR offset {offset:#x}")
        return [(offset, 4), (offset + 4, 4)] if size == 8 else [(offset, size)]

    def read(self, offset, size):
        value = 0
        for shift, (at, n) in enumerate(self._pieces(offset, size)):
            value |= self.function.region_read(at, n) << (32 * shift)
        return value

    def write(self, offset, size, value):
        for shift, (at, n) in enumerate(self._pieces(offset, size)):
            self.function.region_write(at, n, (value >> (32 * shift)) & ((1 << (8 * n)) - 1))


def _virtio_cap(cfg_type, offset, length, cap_len=CAP_LEN, bar=MODERN_BAR):
    """The bytes of a virtio_pci_cap after cap_vndr and cap_next."""
    return (bytes([cap_len, cfg_type, bar, 0, 0, 0])
            + offset.to_bytes(4, "little") + length.to_bytes(4, "little"))


class VirtioPciFunction(PciFunction):
    """A VirtioDevice behind the modern virtio-pci transport. `class_code`
    overrides the class QEMU would give the device type (input devices,
    for one, differ by kind)."""

    def __init__(self, device, class_code=None):
        if class_code is None:
            class_code = CLASS_CODES.get(device.device_id, CLASS_OTHERS)
        super().__init__(VENDOR_QUMRANET, DEVICE_ID_BASE + device.device_id, class_code,
                         revision=REVISION, subsystem_vendor_id=VENDOR_QUMRANET,
                         subsystem_id=SUBSYSTEM_QEMU, interrupt_pin=1,
                         name=f"{device.name}-pci")
        self.virtio = device
        device.on_interrupt = self.set_irq
        self.add_bar(MODERN_BAR, BAR_SIZE, ModernBar(self), is64=True, prefetchable=True)
        self.common_cap = self.add_capability(CAP_ID_VENDOR, CAP_LEN,
                                              _virtio_cap(COMMON_CFG, COMMON_OFFSET, REGION_SIZE))
        self.isr_cap = self.add_capability(CAP_ID_VENDOR, CAP_LEN,
                                           _virtio_cap(ISR_CFG, ISR_OFFSET, REGION_SIZE))
        self.device_cap = self.add_capability(CAP_ID_VENDOR, CAP_LEN,
                                              _virtio_cap(DEVICE_CFG, DEVICE_OFFSET, REGION_SIZE))
        self.notify_cap = self.add_capability(
            CAP_ID_VENDOR, NOTIFY_CAP_LEN,
            _virtio_cap(NOTIFY_CFG, NOTIFY_OFFSET, REGION_SIZE, NOTIFY_CAP_LEN)
            + NOTIFY_OFF_MULTIPLIER.to_bytes(4, "little"))
        self.pci_cfg_cap = self.add_capability(CAP_ID_VENDOR, PCI_CFG_CAP_LEN,
                                               _virtio_cap(PCI_CFG, 0, 0, PCI_CFG_CAP_LEN, bar=0))
        # The driver chooses cap.bar, cap.offset, cap.length and the data.
        cap = self.pci_cfg_cap
        for start, n in ((cap + 4, 1), (cap + 8, 4), (cap + 12, 4), (cap + 16, 4)):
            self.wmask[start:start + n] = b"\xff" * n
        self.device_feature_select = 0
        self.driver_feature_select = 0
        self._reset_transport()
        self.isr_reads = 0

    def _reset_transport(self):
        self.driver_features = [0, 0]
        self.queue_select = 0
        self.latches = [QueueLatch() for _ in self.virtio.queues]

    # -- DMA and lifecycle --------------------------------------------------

    def attach_memory(self, memory):
        self.virtio.attach_memory(BusMasterMemory(memory, self))

    def poll(self):
        self.virtio.poll()

    def reset(self):
        self.virtio.reset()
        self._reset_transport()
        self.device_feature_select = self.driver_feature_select = 0
        super().reset()

    def stats(self):
        out = dict(super().stats(), isr_reads=self.isr_reads)
        out.update(self.virtio.stats())
        return out

    def state(self):
        return {
            "pci": super().state(),
            "virtio": self.virtio.state(),
            "device_feature_select": self.device_feature_select,
            "driver_feature_select": self.driver_feature_select,
            "driver_features": list(self.driver_features),
            "queue_select": self.queue_select,
            "latches": [(q.desc, q.driver, q.device) for q in self.latches],
        }

    def restore(self, state):
        self.virtio.restore(state["virtio"])
        super().restore(state["pci"])
        self.device_feature_select = state["device_feature_select"]
        self.driver_feature_select = state["driver_feature_select"]
        self.driver_features = list(state["driver_features"])
        self.queue_select = state["queue_select"]
        for latch, (desc, driver, device) in zip(self.latches, state["latches"]):
            latch.desc, latch.driver, latch.device = desc, driver, device

    # -- configuration space side effects ------------------------------------

    def config_written(self, offset, size, value, touches_command):
        if touches_command and not self.bus_master and self.virtio.status & DRIVER_OK:
            self.virtio.status &= ~DRIVER_OK
        if self._covers_pci_cfg_data(offset, size):
            self._pci_cfg_access(write=True)

    def config_read_hook(self, offset, size):
        if self._covers_pci_cfg_data(offset, size):
            self._pci_cfg_access(write=False)

    def _covers_pci_cfg_data(self, offset, size):
        data = self.pci_cfg_cap + 16
        return offset < data + 4 and offset + size > data

    def _pci_cfg_access(self, write):
        """A BAR access through the PCI_CFG window (virtio 1.2 section
        4.1.4.9): cap.length bytes at cap.offset of the BAR cap.bar names,
        from or into pci_cfg_data. Any other length, or a BAR the device
        lacks, moves nothing."""
        cap = self.pci_cfg_cap
        bar = self.config[cap + 4]
        offset = int.from_bytes(self.config[cap + 8:cap + 12], "little")
        length = int.from_bytes(self.config[cap + 12:cap + 16], "little")
        if bar != MODERN_BAR or length not in (1, 2, 4):
            return
        offset &= ~(length - 1)
        if offset + length > BAR_SIZE:
            return
        data = cap + 16
        if write:
            self.region_write(offset, length, int.from_bytes(self.config[data:data + length], "little"))
        else:
            value = self.region_read(offset, length)
            self.config[data:data + length] = value.to_bytes(length, "little")

    # -- the BAR's structures -------------------------------------------------

    def region_read(self, offset, size):
        """A 1-, 2- or 4-byte aligned read at `offset` of BAR 4."""
        within = offset % REGION_SIZE
        if offset < ISR_OFFSET:
            return self._common_read(within) & ((1 << (8 * size)) - 1)
        if offset < DEVICE_OFFSET:
            return self._isr_read()
        if offset < NOTIFY_OFFSET:
            return self.virtio.config_read(within, size)
        return 0

    def region_write(self, offset, size, value):
        within = offset % REGION_SIZE
        if offset < ISR_OFFSET:
            self._common_write(within, value)
        elif offset < DEVICE_OFFSET:
            return              # the ISR status is read-only
        elif offset < NOTIFY_OFFSET:
            self.virtio.config_write(within, size, value)
        else:
            self.virtio.notify(within // NOTIFY_OFF_MULTIPLIER)

    def _isr_read(self):
        """Reading returns the interrupt status and clears it, which lowers INTx."""
        self.isr_reads += 1
        value = self.virtio.interrupt_status
        if value:
            self.virtio.ack_interrupt(value)
        return value

    def _selected(self):
        """(queue, latch) for queue_select, or (None, None) for a queue the device lacks."""
        index = self.queue_select
        if index < len(self.virtio.queues):
            return self.virtio.queues[index], self.latches[index]
        return None, None

    def _common_read(self, offset):
        virtio = self.virtio
        if offset == DEVICE_FEATURE_SELECT:
            return self.device_feature_select
        if offset == DEVICE_FEATURE:
            if self.device_feature_select > 1:
                return 0
            return (virtio.device_features >> (32 * self.device_feature_select)) & 0xFFFF_FFFF
        if offset == DRIVER_FEATURE_SELECT:
            return self.driver_feature_select
        if offset == DRIVER_FEATURE:
            return self.driver_features[self.driver_feature_select] if self.driver_feature_select <= 1 else 0
        if offset in (CONFIG_MSIX_VECTOR, QUEUE_MSIX_VECTOR):
            return NO_VECTOR
        if offset == NUM_QUEUES:
            return len(virtio.queues)
        if offset == DEVICE_STATUS:
            return virtio.status
        if offset == CONFIG_GENERATION:
            return virtio.config_generation & 0xFF
        if offset == QUEUE_SELECT:
            return self.queue_select
        if offset == QUEUE_NOTIFY_OFF:
            return self.queue_select
        queue, latch = self._selected()
        if queue is None:
            return 0
        if offset == QUEUE_SIZE:
            return queue.num
        if offset == QUEUE_ENABLE:
            return int(queue.ready)
        base = offset & ~7
        if base in _QUEUE_ADDRESSES and offset in (base, base + 4):
            address = getattr(latch, _QUEUE_ADDRESSES[base])
            return (address >> 32) if offset == base + 4 else address & 0xFFFF_FFFF
        return 0

    def _common_write(self, offset, value):
        virtio = self.virtio
        if offset == DEVICE_FEATURE_SELECT:
            self.device_feature_select = value
        elif offset == DRIVER_FEATURE_SELECT:
            self.driver_feature_select = value
        elif offset == DRIVER_FEATURE:
            if self.driver_feature_select <= 1:
                self.driver_features[self.driver_feature_select] = value
                virtio.set_driver_features(self.driver_features[0] | self.driver_features[1] << 32)
        elif offset == DEVICE_STATUS:
            virtio.set_status(value & 0xFF)
            if virtio.status == 0:
                self._reset_transport()
        elif offset == QUEUE_SELECT:
            if value < VIRTIO_QUEUE_MAX:
                self.queue_select = value
        else:
            self._queue_write(offset, value)

    def _queue_write(self, offset, value):
        queue, latch = self._selected()
        if queue is None:
            return
        if offset == QUEUE_SIZE:
            # As QEMU: a queue cannot be sized to 0; the ring checks reject
            # any other size the device cannot serve when it is used.
            if value:
                queue.num = value
        elif offset == QUEUE_ENABLE:
            if value == 1:
                queue.desc_addr, queue.driver_addr, queue.device_addr = latch.desc, latch.driver, latch.device
                queue.ready = True
            else:
                self.virtio.device_error(f"queue_enable written with {value:#x} (only 1 is allowed)")
        else:
            base = offset & ~7
            if base in _QUEUE_ADDRESSES and offset in (base, base + 4):
                name = _QUEUE_ADDRESSES[base]
                address = getattr(latch, name)
                if offset == base + 4:
                    address = (address & 0xFFFF_FFFF) | (value & 0xFFFF_FFFF) << 32
                else:
                    address = (address & ~0xFFFF_FFFF) | (value & 0xFFFF_FFFF)
                setattr(latch, name, address)

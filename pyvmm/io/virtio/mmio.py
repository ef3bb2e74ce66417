"""The virtio-mmio transport (virtio 1.2 section 4.2), as QEMU 7.2's virt
board shows it in each of its eight slots.

One slot is a 0x200-byte register window: registers below 0x100, the
device's configuration space from 0x100. Like QEMU:

* registers take 4-byte accesses; a 1- or 2-byte access to a register reads
  as 0 and its write is dropped; an 8-byte access is two 4-byte accesses
  (low word first); an access not aligned to its size, or past 0x200, is a
  decode error (BusFault, an access fault in the guest);
* the configuration space takes 1-, 2- and 4-byte accesses;
* read-only registers ignore writes and write-only registers read as 0;
* with no device plugged in, MagicValue, Version and VendorID answer and
  everything else reads 0 (DeviceID 0: the slot is empty) and ignores writes.

`legacy=True` gives Version 1 (QEMU's default, force-legacy=on): page-frame
queue addresses (GuestPageSize, QueueAlign, QueuePFN), 32 feature bits and no
FEATURES_OK step. pyvmm defaults to Version 2 (modern): QueueReady and 64-bit
ring addresses.
"""

from pyvmm.io.virtio.device import FEATURES_OK
from pyvmm.machine.bus import BusFault

MAGIC_VALUE = 0x000
VERSION = 0x004
DEVICE_ID = 0x008
VENDOR_ID = 0x00C
DEVICE_FEATURES = 0x010
DEVICE_FEATURES_SEL = 0x014
DRIVER_FEATURES = 0x020
DRIVER_FEATURES_SEL = 0x024
GUEST_PAGE_SIZE = 0x028
QUEUE_SEL = 0x030
QUEUE_NUM_MAX = 0x034
QUEUE_NUM = 0x038
QUEUE_ALIGN = 0x03C
QUEUE_PFN = 0x040
QUEUE_READY = 0x044
QUEUE_NOTIFY = 0x050
INTERRUPT_STATUS = 0x060
INTERRUPT_ACK = 0x064
STATUS = 0x070
QUEUE_DESC_LOW = 0x080
QUEUE_DESC_HIGH = 0x084
QUEUE_DRIVER_LOW = 0x090
QUEUE_DRIVER_HIGH = 0x094
QUEUE_DEVICE_LOW = 0x0A0
QUEUE_DEVICE_HIGH = 0x0A4
CONFIG_GENERATION = 0x0FC
CONFIG = 0x100

WINDOW_SIZE = 0x200

VIRT_MAGIC = 0x7472_6976        # "virt"
VIRT_VENDOR = 0x554D_4551       # "QEMU"

# QEMU's VIRTIO_QUEUE_MAX: QueueSel and QueueNotify values at or past it are dropped.
QUEUE_SEL_LIMIT = 1024
LEGACY_VRING_ALIGN = 4096


class _QueueRegisters:
    """What a modern driver wrote for one queue; it takes effect on QueueReady=1."""

    __slots__ = ("num", "desc", "driver", "device")

    def __init__(self, num):
        self.num = num
        self.desc = self.driver = self.device = 0


def _set_half(value, high, word):
    if high:
        return (value & 0xFFFF_FFFF) | (word << 32)
    return (value & ~0xFFFF_FFFF) | word


class VirtioMmio:
    def __init__(self, device=None, legacy=False, set_irq=None):
        self.device = device
        self.legacy = legacy
        self.set_irq = set_irq
        self.accesses = 0
        if device is not None:
            device.legacy = legacy
            device.on_interrupt = self._interrupt
        self.reset()

    def reset(self):
        """The transport's own registers back to their reset values (and the
        device reset)."""
        self.device_features_sel = 0
        self.driver_features_sel = 0
        self.driver_features = [0, 0]
        self.queue_sel = 0
        self.guest_page_shift = 0
        if self.device is not None:
            self.device.reset()
            self._reset_queue_registers()

    def _reset_queue_registers(self):
        self.queue_regs = [_QueueRegisters(q.num_max) for q in self.device.queues]
        self.queue_align = [LEGACY_VRING_ALIGN] * len(self.device.queues)

    def attach_memory(self, memory):
        if self.device is not None:
            self.device.attach_memory(memory)

    def _interrupt(self, level):
        if self.set_irq is not None:
            self.set_irq(level)

    # -- bus interface ------------------------------------------------------

    def read(self, offset, size):
        self._check(offset, size)
        if size == 8:
            return self.read(offset, 4) | (self.read(offset + 4, 4) << 32)
        self.accesses += 1
        if self.device is None:
            return {MAGIC_VALUE: VIRT_MAGIC, VERSION: self._version(),
                    VENDOR_ID: VIRT_VENDOR}.get(offset, 0) if size == 4 else 0
        if offset >= CONFIG:
            return self.device.config_read(offset - CONFIG, size)
        if size != 4:
            return 0
        return self._read_register(offset)

    def write(self, offset, size, value):
        self._check(offset, size)
        if size == 8:
            self.write(offset, 4, value & 0xFFFF_FFFF)
            self.write(offset + 4, 4, value >> 32)
            return
        self.accesses += 1
        if self.device is None:
            return
        if offset >= CONFIG:
            self.device.config_write(offset - CONFIG, size, value)
            return
        if size == 4:
            self._write_register(offset, value & 0xFFFF_FFFF)

    @staticmethod
    def _check(offset, size):
        if size not in (1, 2, 4, 8) or offset % size or offset < 0 or offset + size > WINDOW_SIZE:
            raise BusFault(f"virtio-mmio: {size}-byte access at offset {offset:#x}")

    def _version(self):
        return 1 if self.legacy else 2

    # -- registers ----------------------------------------------------------

    def _queue(self):
        """The selected queue, or None when QueueSel names no queue."""
        if self.queue_sel < len(self.device.queues):
            return self.device.queues[self.queue_sel]
        return None

    def _read_register(self, offset):
        device = self.device
        queue = self._queue()
        if offset == MAGIC_VALUE:
            return VIRT_MAGIC
        if offset == VERSION:
            return self._version()
        if offset == DEVICE_ID:
            return device.device_id
        if offset == VENDOR_ID:
            return VIRT_VENDOR
        if offset == DEVICE_FEATURES:
            features = device.device_features
            if self.legacy:
                return features & 0xFFFF_FFFF if self.device_features_sel == 0 else 0
            if self.device_features_sel > 1:
                return 0
            return (features >> (32 * self.device_features_sel)) & 0xFFFF_FFFF
        if offset == QUEUE_NUM_MAX:
            return queue.num_max if queue is not None else 0
        if offset == INTERRUPT_STATUS:
            return device.interrupt_status
        if offset == STATUS:
            return device.status
        if self.legacy:
            if offset == QUEUE_PFN:
                return (queue.desc_addr >> self.guest_page_shift) & 0xFFFF_FFFF if queue else 0
            return 0
        if offset == QUEUE_READY:
            return int(queue.ready) if queue is not None else 0
        if offset == CONFIG_GENERATION:
            return device.config_generation
        return 0

    def _write_register(self, offset, value):
        device = self.device
        if offset == DEVICE_FEATURES_SEL:
            self.device_features_sel = value
        elif offset == DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == DRIVER_FEATURES:
            if self.legacy:
                if self.driver_features_sel == 0:
                    device.set_driver_features(value)
            elif self.driver_features_sel < 2:
                self.driver_features[self.driver_features_sel] = value
        elif offset == QUEUE_SEL:
            if value < QUEUE_SEL_LIMIT:
                self.queue_sel = value
        elif offset == QUEUE_NOTIFY:
            if value < QUEUE_SEL_LIMIT:
                device.notify(value)
        elif offset == INTERRUPT_ACK:
            device.ack_interrupt(value)
        elif offset == STATUS:
            self._write_status(value)
        elif self.legacy:
            self._write_legacy_queue(offset, value)
        else:
            self._write_modern_queue(offset, value)

    def _write_status(self, value):
        device = self.device
        if not self.legacy and value & FEATURES_OK:
            device.set_driver_features(self.driver_features[0] | (self.driver_features[1] << 32))
        device.set_status(value & 0xFF)
        if device.status == 0:
            self.reset()

    def _write_modern_queue(self, offset, value):
        queue = self._queue()
        if queue is None:
            return
        regs = self.queue_regs[self.queue_sel]
        if offset == QUEUE_NUM:
            regs.num = value
        elif offset == QUEUE_READY:
            if value:
                queue.num = regs.num
                queue.desc_addr = regs.desc
                queue.driver_addr = regs.driver
                queue.device_addr = regs.device
            queue.ready = bool(value)
        elif offset in (QUEUE_DESC_LOW, QUEUE_DESC_HIGH):
            regs.desc = _set_half(regs.desc, offset == QUEUE_DESC_HIGH, value)
        elif offset in (QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH):
            regs.driver = _set_half(regs.driver, offset == QUEUE_DRIVER_HIGH, value)
        elif offset in (QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH):
            regs.device = _set_half(regs.device, offset == QUEUE_DEVICE_HIGH, value)

    def _write_legacy_queue(self, offset, value):
        if offset == GUEST_PAGE_SIZE:
            shift = (value & -value).bit_length() - 1 if value else 32
            self.guest_page_shift = shift if shift <= 31 else 0
            return
        queue = self._queue()
        if queue is None:
            return
        if offset == QUEUE_NUM:
            queue.num = value
            self._legacy_layout(queue)
        elif offset == QUEUE_ALIGN:
            self.queue_align[self.queue_sel] = value
            self._legacy_layout(queue)
        elif offset == QUEUE_PFN:
            if value == 0:
                # QEMU resets the whole device when a legacy driver releases a queue.
                self.reset()
                return
            queue.desc_addr = value << self.guest_page_shift
            self._legacy_layout(queue)

    def _legacy_layout(self, queue):
        """Version 1 rings are contiguous: descriptors, the available ring
        (with used_event), then the used ring at the next QueueAlign boundary
        (virtio 1.2 section 2.7.2, legacy layout)."""
        if queue.desc_addr == 0:
            queue.ready = False
            return
        align = self.queue_align[queue.index] or 1
        queue.driver_addr = queue.desc_addr + 16 * queue.num
        avail_end = queue.driver_addr + 6 + 2 * queue.num
        queue.device_addr = (avail_end + align - 1) // align * align
        queue.ready = True

    # -- snapshots ----------------------------------------------------------

    def state(self):
        state = {
            "legacy": self.legacy,
            "device_features_sel": self.device_features_sel,
            "driver_features_sel": self.driver_features_sel,
            "driver_features": list(self.driver_features),
            "queue_sel": self.queue_sel,
            "guest_page_shift": self.guest_page_shift,
        }
        if self.device is not None:
            state["queue_regs"] = [[r.num, r.desc, r.driver, r.device] for r in self.queue_regs]
            state["queue_align"] = list(self.queue_align)
            state["device"] = self.device.state()
        return state

    def restore(self, state):
        self.legacy = state["legacy"]
        self.device_features_sel = state["device_features_sel"]
        self.driver_features_sel = state["driver_features_sel"]
        self.driver_features = list(state["driver_features"])
        self.queue_sel = state["queue_sel"]
        self.guest_page_shift = state["guest_page_shift"]
        if self.device is not None:
            for regs, (num, desc, driver, dev) in zip(self.queue_regs, state["queue_regs"]):
                regs.num, regs.desc, regs.driver, regs.device = num, desc, driver, dev
            self.queue_align = list(state["queue_align"])
            self.device.restore(state["device"])

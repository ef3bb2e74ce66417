"""An empty virtio-mmio transport slot, as QEMU's virt board shows one with no
back-end plugged in.

QEMU answers MagicValue, Version and VendorID and reads everything else as
zero; DeviceID 0 tells a driver (Linux's virtio_mmio) that the slot is empty,
so it probes all eight slots without complaint. Writes are ignored.
"""

MAGIC_VALUE = 0x000
VERSION = 0x004
DEVICE_ID = 0x008
VENDOR_ID = 0x00C

VIRT_MAGIC = 0x7472_6976        # "virt"
VIRT_VERSION_LEGACY = 1         # QEMU's virtio-mmio "force-legacy" defaults to on
VIRT_VENDOR = 0x554D_4551       # "QEMU"


class EmptyVirtioSlot:
    def read(self, offset, size):
        if offset == MAGIC_VALUE:
            return VIRT_MAGIC
        if offset == VERSION:
            return VIRT_VERSION_LEGACY
        if offset == VENDOR_ID:
            return VIRT_VENDOR
        return 0

    def write(self, offset, size, value):
        return None     # no back-end: QEMU drops writes to an empty slot too

"""Where the PCI host bridge's windows sit in the `virt` physical map, as
QEMU 7.2's hw/riscv/virt.c places them for rv64.

CPU and PCI addresses are the same in both memory windows (QEMU maps them as
identity aliases of the PCI memory space); the I/O window starts at PCI I/O
address 0.
"""

ECAM_BASE = 0x3000_0000
ECAM_SIZE = 0x1000_0000           # 256 buses x 32 devices x 8 functions x 4 KiB
PIO_BASE = 0x0300_0000
PIO_SIZE = 0x1_0000
MMIO_BASE = 0x4000_0000
MMIO_SIZE = 0x4000_0000
HIGH_MMIO_SIZE = 16 << 30         # VIRT64_HIGH_PCIE_MMIO_SIZE

INTX_IRQ_FIRST = 32               # PCIE_IRQ: INTA..INTD of slot 0 raise PLIC sources 32..35
NUM_INTX = 4


def high_mmio_base(ram_base, ram_size):
    """The 64-bit window starts after RAM, rounded up to its own size."""
    end = ram_base + ram_size
    return (end + HIGH_MMIO_SIZE - 1) // HIGH_MMIO_SIZE * HIGH_MMIO_SIZE

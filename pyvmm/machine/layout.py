"""The `virt` board's physical memory map and interrupt numbers.

Laid out like QEMU 7.2's `virt` machine (hw/riscv/virt.c) so an image built
for `qemu-system-riscv64 -machine virt` runs unchanged. Every other module
takes addresses from here.
"""

RAM_BASE = 0x8000_0000
RAM_SIZE_DEFAULT = 128 << 20

TEST_BASE = 0x0010_0000          # SiFive test finisher
TEST_SIZE = 0x1000
RTC_BASE = 0x0010_1000           # goldfish RTC
RTC_SIZE = 0x1000
CLINT_BASE = 0x0200_0000
CLINT_SIZE = 0x1_0000
CLINT_MSIP = 0x0000               # + 4 * hart
CLINT_MTIMECMP = 0x4000           # + 8 * hart
CLINT_MTIME = 0xBFF8
PLIC_BASE = 0x0C00_0000
PLIC_SIZE = 0x60_0000
UART0_BASE = 0x1000_0000
UART0_SIZE = 0x100
VIRTIO_BASE = 0x1000_1000
VIRTIO_STRIDE = 0x1000
VIRTIO_COUNT = 8
IOMMU_BASE = 0x0301_0000         # the RISC-V IOMMU's registers (when the board has one)
IOMMU_SIZE = 0x1000

UART0_IRQ = 10
RTC_IRQ = 11
IOMMU_IRQ = 36                    # the IOMMU's wired interrupt, after the PCI INTx lines 32..35
VIRTIO_IRQ_FIRST = 1              # virtio slot i raises PLIC source 1 + i
PLIC_NUM_SOURCES = 96             # QEMU: VIRT_IRQCHIP_NUM_SOURCES
PLIC_NUM_PRIORITIES = 7

TIMEBASE_FREQ = 10_000_000        # 10 MHz, RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ

# RISC-V Linux boot convention: firmware at RAM base, the S-mode kernel 2 MiB above.
KERNEL_OFFSET = 0x20_0000
# QEMU's riscv_load_initrd: the initrd goes min(RAM / 2, 128 MiB) above the
# kernel's entry, out of the way of a kernel that decompresses itself.
INITRD_MAX_OFFSET = 128 << 20

# Exit statuses of `pyvmm run` beyond the guest's own (0, or a failure code).
EXIT_USAGE = 2
EXIT_BUDGET = 124                 # --max-insns ran out (timeout(1)'s convention)
EXIT_IDLE = 125                   # WFI with nothing that can ever wake the hart
EXIT_GUEST_ERROR = 126            # the guest asked a device for something pyvmm does not serve (HTIF)

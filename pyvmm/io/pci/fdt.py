"""The host bridge's device-tree node, written as QEMU 7.2's virt.c writes
it (create_fdt_pcie and create_pcie_irq_map), properties in the order
`dtc -O dts` prints QEMU's tree.

The interrupt map lists, for each of the four slot residues (device number
mod 4, selected by the mask 0x1800 on the child's phys.hi) and each pin
INTA..INTD, the PLIC source the swizzle gives.
"""

from pyvmm.io.pci import memmap
from pyvmm.io.pci.intx import plic_source
from pyvmm.machine.fdt import Node, cells, string

# PCI address (phys.hi) space codes, IEEE 1275 PCI binding.
SPACE_IO = 0x0100_0000
SPACE_MEM32 = 0x0200_0000
SPACE_MEM64 = 0x0300_0000

DEVICE_SHIFT = 11                 # device number in phys.hi
INTERRUPT_MAP_MASK = (0x1800, 0, 0, 7)
ROUTING_IDS = 0x10000


def _pci_range(space, pci_address, cpu_address, size):
    return [space, pci_address >> 32, pci_address & 0xFFFF_FFFF,
            cpu_address >> 32, cpu_address & 0xFFFF_FFFF,
            size >> 32, size & 0xFFFF_FFFF]


def interrupt_map(phandle_plic):
    entries = []
    for device in range(4):
        for pin in range(1, 5):
            entries += [device << DEVICE_SHIFT, 0, 0, pin, phandle_plic, plic_source(device, pin)]
    return entries


def pcie_node(phandle_plic, high_mmio_base, phandle_iommu=None):
    """The pci@30000000 node (for /soc); `high_mmio_base` from memmap.high_mmio_base.
    With `phandle_iommu`, an `iommu-map` (the PCI IOMMU binding: rid-base,
    iommu, iommu-base, length) maps every routing ID 0..0xFFFF to the
    same device id of that IOMMU."""
    ranges = (_pci_range(SPACE_IO, 0, memmap.PIO_BASE, memmap.PIO_SIZE)
              + _pci_range(SPACE_MEM32, memmap.MMIO_BASE, memmap.MMIO_BASE, memmap.MMIO_SIZE)
              + _pci_range(SPACE_MEM64, high_mmio_base, high_mmio_base, memmap.HIGH_MMIO_SIZE))
    last_bus = memmap.ECAM_SIZE // (1 << 20) - 1
    iommu = {} if phandle_iommu is None else {"iommu-map": cells(0, phandle_iommu, 0, ROUTING_IDS)}
    return Node("pci@%x" % memmap.ECAM_BASE, {
        **iommu,
        "interrupt-map-mask": cells(*INTERRUPT_MAP_MASK),
        "interrupt-map": cells(*interrupt_map(phandle_plic)),
        "ranges": cells(*ranges),
        "reg": cells(0, memmap.ECAM_BASE, 0, memmap.ECAM_SIZE),
        "dma-coherent": b"",
        "bus-range": cells(0, last_bus),
        "linux,pci-domain": cells(0),
        "device_type": string("pci"),
        "compatible": string("pci-host-ecam-generic"),
        "#size-cells": cells(2),
        "#interrupt-cells": cells(1),
        "#address-cells": cells(3),
    })

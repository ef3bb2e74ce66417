"""The RISC-V IOMMU: device directory, G-stage translation of PCI DMA,
IOTLB, command and fault queues (docs/iommu.md)."""

from pyvmm.io.iommu.iommu import RiscvIommu
from pyvmm.io.iommu.walk import IommuFault

__all__ = ["IommuFault", "RiscvIommu"]

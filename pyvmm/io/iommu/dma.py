"""One device's view of memory through the IOMMU: the GuestMemory
interface, where every address is an I/O virtual address of `device_id`.

An access is translated page by page before any byte moves, so a transfer
the IOMMU refuses anywhere touches no memory at all: it raises DmaError
(which a device turns into an error status) after the IOMMU has recorded
the fault.
"""

from pyvmm.io.iommu.walk import PAGE_SIZE
from pyvmm.machine.memory import DmaError


class IommuMemory:
    def __init__(self, iommu, device_id):
        self.iommu = iommu
        self.device_id = device_id
        self.bytes_read = 0
        self.bytes_written = 0
        self.refused = 0

    def _runs(self, iova, n, write):
        """(machine address, length) runs covering [iova, iova + n)."""
        if iova < 0 or n < 0:
            raise DmaError(f"DMA at {iova:#x}+{n:#x} is malformed")
        iommu, runs = self.iommu, []
        while n > 0:
            length = min(n, PAGE_SIZE - iova % PAGE_SIZE)
            spa = iommu.translate(self.device_id, iova, write)
            if spa is None:
                self.refused += 1
                raise DmaError(f"IOMMU refused device {self.device_id:#06x} "
                               f"{'write' if write else 'read'} at {iova:#x}")
            if not iommu.memory.contains(spa, length):
                self.refused += 1
                iommu.access_fault(self.device_id, iova, write)
                raise DmaError(f"device {self.device_id:#06x}: {iova:#x} translates to "
                               f"{spa:#x}, outside memory")
            if runs and runs[-1][0] + runs[-1][1] == spa:
                runs[-1][1] += length
            else:
                runs.append([spa, length])
            iova += length
            n -= length
        iommu.bytes_translated += sum(length for _, length in runs)
        return runs

    def contains(self, iova, n=1):
        """Can the device read [iova, iova + n)? A refusal is recorded like
        any other: the probe is a real read request."""
        try:
            self._runs(iova, n, False)
        except DmaError:
            return False
        return True

    def views(self, iova, n):
        views = []
        for spa, length in self._runs(iova, n, False):
            views.extend(self.iommu.memory.views(spa, length))
        return views

    def read(self, iova, n):
        data = b"".join(self.iommu.memory.read(spa, length) for spa, length in self._runs(iova, n, False))
        self.bytes_read += n
        return data

    def write(self, iova, data):
        source = memoryview(data).cast("B")
        done = 0
        for spa, length in self._runs(iova, len(source), True):
            self.iommu.memory.write(spa, source[done:done + length])
            done += length
        self.bytes_written += done

    def fill(self, iova, n, byte=0):
        for spa, length in self._runs(iova, n, True):
            self.iommu.memory.fill(spa, length, byte)
        self.bytes_written += n

    def read_u16(self, iova):
        return int.from_bytes(self.read(iova, 2), "little")

    def read_u32(self, iova):
        return int.from_bytes(self.read(iova, 4), "little")

    def read_u64(self, iova):
        return int.from_bytes(self.read(iova, 8), "little")

    def write_u16(self, iova, value):
        self.write(iova, (value & 0xFFFF).to_bytes(2, "little"))

    def write_u32(self, iova, value):
        self.write(iova, (value & 0xFFFF_FFFF).to_bytes(4, "little"))

    def write_u64(self, iova, value):
        self.write(iova, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def stats(self):
        return {"dma_bytes_read": self.bytes_read, "dma_bytes_written": self.bytes_written,
                "dma_refused_by_iommu": self.refused}

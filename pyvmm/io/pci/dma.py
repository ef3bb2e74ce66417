"""Guest memory as a PCI function reaches it: through its Bus Master Enable.

A function whose command register has Bus Master Enable clear cannot start
a memory transaction, so every DMA it attempts fails with DmaError (which a
device turns into an error status) and `contains` answers False; with the
bit set the accesses go to the board's GuestMemory unchanged.
"""

from pyvmm.machine.memory import DmaError


class BusMasterMemory:
    """The GuestMemory interface, gated by `function.bus_master`."""

    def __init__(self, memory, function):
        self.memory = memory
        self.function = function
        self.refused = 0

    def _gate(self, gpa, n):
        if not self.function.bus_master:
            self.refused += 1
            raise DmaError(f"{self.function.name}: DMA to {gpa:#x}+{n:#x} with bus mastering disabled")

    def contains(self, gpa, n=1):
        return self.function.bus_master and self.memory.contains(gpa, n)

    def views(self, gpa, n):
        self._gate(gpa, n)
        return self.memory.views(gpa, n)

    def read(self, gpa, n):
        self._gate(gpa, n)
        return self.memory.read(gpa, n)

    def write(self, gpa, data):
        self._gate(gpa, len(data))
        self.memory.write(gpa, data)

    def fill(self, gpa, n, byte=0):
        self._gate(gpa, n)
        self.memory.fill(gpa, n, byte)

    def read_u16(self, gpa):
        self._gate(gpa, 2)
        return self.memory.read_u16(gpa)

    def read_u32(self, gpa):
        self._gate(gpa, 4)
        return self.memory.read_u32(gpa)

    def read_u64(self, gpa):
        self._gate(gpa, 8)
        return self.memory.read_u64(gpa)

    def write_u16(self, gpa, value):
        self._gate(gpa, 2)
        self.memory.write_u16(gpa, value)

    def write_u32(self, gpa, value):
        self._gate(gpa, 4)
        self.memory.write_u32(gpa, value)

    def write_u64(self, gpa, value):
        self._gate(gpa, 8)
        self.memory.write_u64(gpa, value)

    def stats(self):
        return dict(self.memory.stats(), dma_refused_no_bus_master=self.refused)

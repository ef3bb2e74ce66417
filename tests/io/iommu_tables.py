"""A hypervisor's side of the RISC-V IOMMU for the tests: tables built in
machine memory, the command and fault queues programmed through the
register interface, and commands and fault records as the specification
encodes them."""

import hashlib

from pyvmm.io.iommu import regs
from pyvmm.io.iommu.iommu import RiscvIommu
from pyvmm.machine.memory import GuestMemory

RAM_BASE = 0x8000_0000
RAM_SIZE = 8 << 20
PAGE = 4096
LEAF = regs.PTE_V | regs.PTE_R | regs.PTE_W | regs.PTE_U | regs.PTE_A | regs.PTE_D
READ_ONLY = regs.PTE_V | regs.PTE_R | regs.PTE_U | regs.PTE_A


def ram_hash(memory, skip=()):
    """SHA-256 of all RAM except the [start, end) ranges in `skip`."""
    digest, at = hashlib.sha256(), memory.ram_base
    for start, end in sorted(skip) + [(memory.ram_base + memory.ram_size,) * 2]:
        digest.update(memory.read(at, start - at))
        at = end
    return digest.hexdigest()


class Irq:
    def __init__(self):
        self.level = False
        self.changes = 0

    def __call__(self, level):
        self.level = level
        self.changes += 1


class GStage:
    """An Sv39x4 (or Sv48x4) G-stage table in memory."""

    def __init__(self, hv, mode=regs.HGATP_SV39X4):
        self.hv = hv
        self.mode = mode
        self.levels = 3 if mode == regs.HGATP_SV39X4 else 4
        self.root = hv.alloc(4, align=4)

    def iohgatp(self, gscid):
        return self.mode << 60 | gscid << 44 | self.root >> 12

    def pte_address(self, gpa, level=0):
        """Address of the entry mapping gpa at `level`, making tables on the way."""
        table = self.root
        for current in range(self.levels - 1, level, -1):
            bits = 11 if current == self.levels - 1 else 9
            slot = table + 8 * ((gpa >> (12 + 9 * current)) & ((1 << bits) - 1))
            entry = self.hv.memory.read_u64(slot)
            if not entry & regs.PTE_V:
                entry = (self.hv.alloc() >> 12) << 10 | regs.PTE_V
                self.hv.memory.write_u64(slot, entry)
            table = (entry >> 10) << 12
        bits = 11 if level == self.levels - 1 else 9
        return table + 8 * ((gpa >> (12 + 9 * level)) & ((1 << bits) - 1))

    def map(self, gpa, spa, flags=LEAF, level=0):
        self.hv.memory.write_u64(self.pte_address(gpa, level), (spa >> 12) << 10 | flags)

    def unmap(self, gpa, level=0):
        self.hv.memory.write_u64(self.pte_address(gpa, level), 0)


class Hypervisor:
    """Owns the IOMMU: a 1LVL (or 2LVL) directory, a 256-entry command queue
    and a 64-entry fault queue, in the first pages of RAM (or from `first_page`)."""

    def __init__(self, memory=None, levels=regs.MODE_1LVL, fault_entries=64, iommu=None, first_page=None):
        self.memory = memory or GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE)
        self.irq = Irq()
        self.iommu = iommu or RiscvIommu(self.irq)
        self.iommu.attach_memory(self.memory)
        self.next_page = self.memory.ram_base if first_page is None else first_page
        self.cq = self.alloc()
        self.fq = self.alloc(fault_entries * 32 // PAGE or 1)
        self.ddt = self.alloc()
        self.levels = levels
        self.write(regs.CQB, 8, (self.cq >> 12) << 10 | 7)                # 256 commands
        self.write(regs.CQCSR, 4, regs.QCSR_EN)
        self.write(regs.FQB, 8, (self.fq >> 12) << 10 | (fault_entries.bit_length() - 2))
        self.write(regs.FQCSR, 4, regs.QCSR_EN | regs.QCSR_IE)
        self.write(regs.DDTP, 8, (self.ddt >> 12) << 10 | levels)

    def alloc(self, pages=1, align=1):
        while (self.next_page >> 12) % align:
            self.next_page += PAGE
        page = self.next_page
        self.next_page += pages * PAGE
        return page

    def read(self, offset, size):
        return self.iommu.read(offset, size)

    def write(self, offset, size, value):
        self.iommu.write(offset, size, value)

    def context_address(self, device_id):
        if self.levels == regs.MODE_1LVL:
            return self.ddt + 32 * device_id
        slot = self.ddt + 8 * (device_id >> 7)
        entry = self.memory.read_u64(slot)
        if not entry & regs.DDTE_V:
            entry = (self.alloc() >> 12) << 10 | regs.DDTE_V
            self.memory.write_u64(slot, entry)
        return ((entry >> 10) << 12) + 32 * (device_id & 0x7F)

    def set_context(self, device_id, iohgatp, tc=regs.TC_V, ta=0, fsc=0):
        address = self.context_address(device_id)
        for i, word in enumerate((tc, iohgatp, ta, fsc)):
            self.memory.write_u64(address + 8 * i, word)

    def command(self, low, high=0):
        tail = self.read(regs.CQT, 4)
        self.memory.write_u64(self.cq + 16 * tail, low)
        self.memory.write_u64(self.cq + 16 * tail + 8, high)
        self.write(regs.CQT, 4, (tail + 1) % 256)

    def iotinval_gvma(self, gscid=None, gpa=None):
        low = regs.OP_IOTINVAL | regs.IOTINVAL_GVMA << 7
        if gscid is not None:
            low |= 1 << 33 | gscid << 44
        high = 0
        if gpa is not None:
            low |= 1 << 10
            high = (gpa >> 12) << 10
        self.command(low, high)

    def iodir_inval_ddt(self, device_id=None):
        low = regs.OP_IODIR | regs.IODIR_INVAL_DDT << 7
        if device_id is not None:
            low |= 1 << 33 | device_id << 40
        self.command(low)

    def faults(self):
        """New fault records as (cause, ttyp, device id, iotval, iotval2); consumes them."""
        records = []
        head, tail = self.read(regs.FQH, 4), self.read(regs.FQT, 4)
        entries = 1 << ((self.read(regs.FQB, 8) & 0x1F) + 1)
        while head != tail:
            raw = self.memory.read(self.fq + 32 * head, 32)
            word0 = int.from_bytes(raw[0:8], "little")
            records.append((word0 & 0xFFF, (word0 >> 34) & 0x3F, word0 >> 40,
                            int.from_bytes(raw[16:24], "little"), int.from_bytes(raw[24:32], "little")))
            head = (head + 1) % entries
        self.write(regs.FQH, 4, head)
        return records

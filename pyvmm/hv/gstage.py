"""The G-stage (second-stage) page tables of one VM: Sv39x4 over host frames.

Sv39x4 translates a 41-bit guest-physical address: the root table is four
times the usual size (2048 entries, 16 KiB, 16 KiB aligned) and indexed by
GPA bits 40:30, then two ordinary levels. Every leaf is a 4 KiB page with
U = 1 (the spec treats every G-stage access as a user access) and A and D
already set, so the hart never has to write back into these tables.

The tables live in host frames that are never mapped into any VM, so no
guest can read or change its own (or another VM's) translation. Guest
device pages are simply left unmapped: the VCPU registers them with
core.add_guest_mmio so an access there returns EXIT_MMIO with the GPA.
"""

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D = 1, 2, 4, 8, 16, 64, 128
LEAF_RWX = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
PPN_MASK = (1 << 44) - 1

HGATP_MODE_BARE = 0
HGATP_MODE_SV39X4 = 8
HGATP_MODE_SHIFT = 60
HGATP_VMID_SHIFT = 44
VMID_BITS = 14

ROOT_FRAMES = 4                  # 16 KiB root
ROOT_ENTRIES = 2048
GPA_BITS = 41                    # Sv39x4


class GStageTables:
    """Builds and edits the Sv39x4 tables for a VM's GPA -> HPA map."""

    def __init__(self, host, vmid):
        if not 0 <= vmid < (1 << VMID_BITS):
            raise ValueError(f"VMID {vmid} does not fit hgatp's {VMID_BITS} bits")
        self.core = host.core
        self.frames = host.frames
        self.vmid = vmid
        self.root = self.frames.alloc(ROOT_FRAMES, align=ROOT_FRAMES)
        self.table_frames = [self.root + i * PAGE_SIZE for i in range(ROOT_FRAMES)]
        self._zero(self.root, ROOT_FRAMES * PAGE_SIZE)
        self._tables = {}            # (level, index prefix) -> HPA of that table
        self.leaves = 0

    def _zero(self, hpa, size):
        self.core.write_mem(hpa, bytes(size))

    def _read_pte(self, addr):
        return int.from_bytes(self.core.read_mem(addr, 8), "little")

    def _write_pte(self, addr, pte):
        self.core.write_mem(addr, pte.to_bytes(8, "little"))

    def _next_table(self, pte_addr):
        pte = self._read_pte(pte_addr)
        if pte & PTE_V:
            return ((pte >> 10) & PPN_MASK) << PAGE_SHIFT
        table = self.frames.alloc(1)
        self.table_frames.append(table)
        self._zero(table, PAGE_SIZE)
        self._write_pte(pte_addr, ((table >> PAGE_SHIFT) << 10) | PTE_V)
        return table

    def _leaf_address(self, gpa):
        if gpa >> GPA_BITS:
            raise ValueError(f"GPA {gpa:#x} is beyond Sv39x4's {GPA_BITS} bits")
        table = self.root
        pte_addr = table + ((gpa >> 30) & (ROOT_ENTRIES - 1)) * 8
        table = self._next_table(pte_addr)
        pte_addr = table + ((gpa >> 21) & 0x1FF) * 8
        table = self._next_table(pte_addr)
        return table + ((gpa >> 12) & 0x1FF) * 8

    def map_page(self, gpa, hpa, perms=LEAF_RWX):
        """GPA page -> HPA frame (both 4 KiB aligned)."""
        if gpa % PAGE_SIZE or hpa % PAGE_SIZE:
            raise ValueError(f"unaligned G-stage mapping {gpa:#x} -> {hpa:#x}")
        leaf = self._leaf_address(gpa)
        if not self._read_pte(leaf) & PTE_V:
            self.leaves += 1
        self._write_pte(leaf, ((hpa >> PAGE_SHIFT) << 10) | perms)

    def unmap_page(self, gpa):
        self._write_pte(self._leaf_address(gpa), 0)
        self.leaves -= 1

    def translate(self, gpa):
        """Walk the tables as the hart would: HPA or None (for tests and tools)."""
        table = self.root
        for shift, entries in ((30, ROOT_ENTRIES), (21, 512), (12, 512)):
            pte = self._read_pte(table + ((gpa >> shift) & (entries - 1)) * 8)
            if not pte & PTE_V:
                return None
            table = ((pte >> 10) & PPN_MASK) << PAGE_SHIFT
            if pte & (PTE_R | PTE_X):
                return table | (gpa & ((1 << shift) - 1))
        return None

    @property
    def hgatp(self):
        return ((HGATP_MODE_SV39X4 << HGATP_MODE_SHIFT) | (self.vmid << HGATP_VMID_SHIFT)
                | (self.root >> PAGE_SHIFT))

    def release(self):
        for frame in self.table_frames[ROOT_FRAMES:]:
            self.frames.free(frame, 1)
        self.frames.free(self.root, ROOT_FRAMES)
        self.table_frames = []

"""A process's address space: Sv39 page tables that Python builds in the core's RAM.

Why Sv39 page tables rather than a flat (Bare) mapping: a static Linux
executable is linked at low virtual addresses (0x10000) and expects a stack
near the top of a 39-bit space, unmapped pages that fault (a NULL pointer is
SIGSEGV, not a load of RAM), per-page permissions (mprotect, read-only text)
and mappings placed anywhere. The core already walks Sv39 tables in U-mode
and reports a page fault as an exit, so the kernel side is only Python
bookkeeping: physical frames come from the core's RAM, each process has its
own root table (a process switch is a satp write), and the first touch of a
page inside a mapping exits as a page fault that maps a frame in (demand
paging), exactly as Linux fills anonymous memory. A fault outside every
mapping, or against its permissions, is the program's SIGSEGV.

The Python side keeps the truth: `vmas` (the mappings, sorted, never
overlapping) and `pages` (virtual page number -> physical frame). Every
access a system call makes to user memory goes through `read`/`write`,
which translate page by page and fault pages in under the mapping's
permissions, so a system call can never touch RAM outside the process's
mappings: a bad pointer is -EFAULT.
"""

import bisect

import numpy as np

PAGE = 4096
PAGE_SHIFT = 12

PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x100
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_FIXED_NOREPLACE = 0x100000

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2

# The user half of Sv39: addresses below 2**38 (bit 38 clear, so no sign extension).
TASK_SIZE = 1 << 38
STACK_TOP = TASK_SIZE
STACK_SIZE = 8 << 20           # RLIMIT_STACK's default
# Linux's top-down mmap base: below the stack with a gap of at least 128 MiB.
MMAP_BASE = STACK_TOP - (128 << 20) - STACK_SIZE
# Where Linux loads an ET_DYN executable (static-pie): 2/3 of TASK_SIZE, page aligned.
ET_DYN_BASE = (TASK_SIZE // 3 * 2) & ~(PAGE - 1)
MMAP_MIN_ADDR = 0x10000

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = 1, 2, 4, 8, 16, 32, 64, 128
SATP_SV39 = 8 << 60

# page-fault causes and the permission each needs
CAUSE_FETCH_PAGE_FAULT = 12
CAUSE_LOAD_PAGE_FAULT = 13
CAUSE_STORE_PAGE_FAULT = 15
FAULT_NEEDS = {CAUSE_FETCH_PAGE_FAULT: PROT_EXEC, CAUSE_LOAD_PAGE_FAULT: PROT_READ,
               CAUSE_STORE_PAGE_FAULT: PROT_WRITE}


class OutOfMemory(Exception):
    """The core's RAM has no free frame left."""


class BadAddress(Exception):
    """A system call's pointer reaches memory the process may not access that way (EFAULT)."""


def page_down(a):
    return a & ~(PAGE - 1)


def page_up(a):
    return (a + PAGE - 1) & ~(PAGE - 1)


class Frames:
    """Physical 4 KiB frames of the core's RAM, handed out one at a time.

    RAM starts zeroed, so a never-used frame needs no clearing; a frame that
    comes back from `free` is cleared (and its decoded instructions dropped)
    when it is handed out again."""

    def __init__(self, core):
        self.core = core
        self.ram = core.ram
        self.base = core.ram_base
        self.count = core.ram_size // PAGE
        self.next_fresh = 0
        self.free_list = []

    def alloc(self):
        if self.free_list:
            paddr = self.free_list.pop()
            off = paddr - self.base
            self.ram[off:off + PAGE] = 0
            self.core.invalidate_code(paddr, PAGE)
            return paddr
        if self.next_fresh >= self.count:
            raise OutOfMemory("out of guest RAM")
        paddr = self.base + self.next_fresh * PAGE
        self.next_fresh += 1
        return paddr

    def free(self, paddr):
        self.free_list.append(paddr)

    @property
    def in_use(self):
        return self.next_fresh - len(self.free_list)


class Vma:
    """One mapping [start, end) with PROT_* `prot`; `data`/`data_offset`:
    for a file mapping, the file's bytes the mapping was made from and the
    file offset of `start` (pages past the data read as zeros); `name` is
    what /proc/self/maps would show ("[stack]", "[heap]", a path or "")."""

    __slots__ = ("start", "end", "prot", "flags", "data", "data_offset", "name")

    def __init__(self, start, end, prot, flags=MAP_PRIVATE | MAP_ANONYMOUS, data=None, data_offset=0, name=""):
        self.start, self.end, self.prot, self.flags = start, end, prot, flags
        self.data, self.data_offset, self.name = data, data_offset, name

    def split_copy(self, start, end):
        """The part [start, end) of this mapping as a new Vma."""
        return Vma(start, end, self.prot, self.flags, self.data,
                   self.data_offset + (start - self.start), self.name)

    def __repr__(self):
        return f"Vma({self.start:#x}-{self.end:#x} prot={self.prot} {self.name})"


class AddressSpace:
    """The mappings and Sv39 page tables of one process (see the module doc)."""

    def __init__(self, frames):
        self.frames = frames
        self.core = frames.core
        self.ram64 = frames.ram.view(np.uint64)
        self.root = frames.alloc()
        self.tables = {}            # (level, index prefix) -> table frame; level 1 = vpn>>18, 0 = vpn>>9
        self.vmas = []              # sorted by start
        self.pages = {}             # vpn -> frame paddr
        self.brk_start = self.brk = 0
        self.mmap_base = MMAP_BASE

    @property
    def satp(self):
        return SATP_SV39 | (self.root >> PAGE_SHIFT)

    # --- page tables ------------------------------------------------------------

    def _pte_index(self, table, idx):
        return ((table - self.frames.base) >> 3) + idx

    def _table_for(self, vpn, create):
        """The level-0 table holding vpn's leaf PTE (created on demand)."""
        t0 = self.tables.get((0, vpn >> 9))
        if t0 is not None or not create:
            return t0
        t1 = self.tables.get((1, vpn >> 18))
        if t1 is None:
            t1 = self.frames.alloc()
            self.tables[(1, vpn >> 18)] = t1
            self.ram64[self._pte_index(self.root, (vpn >> 18) & 511)] = ((t1 >> PAGE_SHIFT) << 10) | PTE_V
        t0 = self.frames.alloc()
        self.tables[(0, vpn >> 9)] = t0
        self.ram64[self._pte_index(t1, (vpn >> 9) & 511)] = ((t0 >> PAGE_SHIFT) << 10) | PTE_V
        return t0

    @staticmethod
    def _pte_bits(prot):
        bits = 0
        if prot & PROT_READ:
            bits |= PTE_R
        if prot & PROT_WRITE:
            bits |= PTE_R | PTE_W      # W without R is reserved in RISC-V: Linux maps it readable too
        if prot & PROT_EXEC:
            bits |= PTE_X
        return bits

    def _set_pte(self, vpn, paddr, prot):
        bits = self._pte_bits(prot)
        t0 = self._table_for(vpn, True)
        # A and D preset: the core need not update them, and Python never reads them.
        value = ((paddr >> PAGE_SHIFT) << 10) | bits | PTE_U | PTE_A | PTE_D | PTE_V if bits else 0
        self.ram64[self._pte_index(t0, vpn & 511)] = value

    def _clear_pte(self, vpn):
        t0 = self._table_for(vpn, False)
        if t0 is not None:
            self.ram64[self._pte_index(t0, vpn & 511)] = 0

    # --- mappings ---------------------------------------------------------------

    def find_vma(self, addr):
        i = bisect.bisect_right([v.start for v in self.vmas], addr) - 1
        if i >= 0 and addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def _insert(self, vma):
        starts = [v.start for v in self.vmas]
        self.vmas.insert(bisect.bisect_left(starts, vma.start), vma)

    def overlaps(self, start, end):
        return any(v.start < end and start < v.end for v in self.vmas)

    def unmap(self, start, end):
        """Remove [start, end) (page aligned) from the mappings, freeing its frames."""
        kept = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                kept.append(v)
                continue
            if v.start < start:
                kept.append(v.split_copy(v.start, start))
            if v.end > end:
                kept.append(v.split_copy(end, v.end))
        self.vmas = sorted(kept, key=lambda v: v.start)
        flushed = False
        for vpn in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
            paddr = self.pages.pop(vpn, None)
            if paddr is not None:
                self._clear_pte(vpn)
                self.frames.free(paddr)
                flushed = True
        if flushed:
            self.core.flush_tlb()

    def map(self, vma):
        """Add a mapping, replacing whatever was at its range (MAP_FIXED semantics)."""
        self.unmap(vma.start, vma.end)
        self._insert(vma)

    def protect(self, start, end, prot):
        """mprotect: new permissions for [start, end); the range must be fully mapped."""
        addr = start
        for v in self.vmas:
            if v.end <= addr or v.start >= end:
                continue
            if v.start > addr:
                return False
            addr = v.end
        if addr < end:
            return False
        pieces = []
        for v in self.vmas:
            if v.end <= start or v.start >= end:
                pieces.append(v)
                continue
            if v.start < start:
                pieces.append(v.split_copy(v.start, start))
            mid = v.split_copy(max(v.start, start), min(v.end, end))
            mid.prot = prot
            pieces.append(mid)
            if v.end > end:
                pieces.append(v.split_copy(end, v.end))
        self.vmas = pieces
        for vpn in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
            paddr = self.pages.get(vpn)
            if paddr is not None:
                self._set_pte(vpn, paddr, prot)
        self.core.flush_tlb()
        return True

    def find_free(self, length, hint=0):
        """A free range of `length` bytes: at `hint` if free, else top-down below mmap_base."""
        if hint:
            hint = page_down(hint)
            if MMAP_MIN_ADDR <= hint and hint + length <= TASK_SIZE and not self.overlaps(hint, hint + length):
                return hint
        top = self.mmap_base
        for v in sorted(self.vmas, key=lambda v: v.start, reverse=True):
            if v.start >= top:
                continue                    # above the gap being looked at
            if v.end <= top - length:
                break                       # the gap [v.end, top) fits
            top = v.start
        start = top - length
        if start < max(MMAP_MIN_ADDR, page_up(self.brk) + (1 << 20)):
            return None
        return start

    # --- faults and user memory ------------------------------------------------

    def populate(self, vpn, vma):
        """Give page vpn of `vma` a frame: zeros, or its file bytes for a file mapping."""
        paddr = self.frames.alloc()
        if vma.data is not None:
            va = vpn << PAGE_SHIFT
            off = vma.data_offset + (va - vma.start)
            chunk = vma.data[off:off + PAGE] if off < len(vma.data) else b""
            if chunk:
                self.core.write_mem(paddr, chunk)
        self.pages[vpn] = paddr
        self._set_pte(vpn, paddr, vma.prot)
        return paddr

    def fault(self, addr, need):
        """A page fault at addr needing PROT_* `need`: map the page in when a
        mapping allows it (True), or report the program's SIGSEGV (False)."""
        vma = self.find_vma(addr)
        if vma is None or not (vma.prot & need):
            return False
        if need == PROT_READ and not (vma.prot & (PROT_READ | PROT_WRITE)):
            return False
        vpn = addr >> PAGE_SHIFT
        if vpn in self.pages:
            # present with the right permissions: a stale TLB entry, drop it
            self.core.flush_tlb()
            return True
        self.populate(vpn, vma)
        return True

    def _frame(self, vpn, need):
        paddr = self.pages.get(vpn)
        vma = self.find_vma(vpn << PAGE_SHIFT)
        if vma is None:
            raise BadAddress(vpn << PAGE_SHIFT)
        allowed = vma.prot | (PROT_READ if vma.prot & PROT_WRITE else 0)
        if not (allowed & need):
            raise BadAddress(vpn << PAGE_SHIFT)
        if paddr is None:
            paddr = self.populate(vpn, vma)
        return paddr

    def read(self, addr, n):
        """n bytes of user memory at addr (raises BadAddress where not readable)."""
        if n <= 0:
            return b""
        if addr < 0 or addr + n > TASK_SIZE:
            raise BadAddress(addr)
        out = []
        base = self.frames.base
        ram = self.frames.ram
        while n:
            vpn = addr >> PAGE_SHIFT
            off = addr & (PAGE - 1)
            take = min(n, PAGE - off)
            paddr = self._frame(vpn, PROT_READ)
            start = paddr - base + off
            out.append(ram[start:start + take].tobytes())
            addr += take
            n -= take
        return b"".join(out)

    def write(self, addr, data):
        """Store bytes into user memory (raises BadAddress where not writable)."""
        n = len(data)
        if n == 0:
            return
        if addr < 0 or addr + n > TASK_SIZE:
            raise BadAddress(addr)
        pos = 0
        while pos < n:
            vpn = addr >> PAGE_SHIFT
            off = addr & (PAGE - 1)
            take = min(n - pos, PAGE - off)
            paddr = self._frame(vpn, PROT_WRITE)
            self.core.write_mem(paddr + off, data[pos:pos + take])
            addr += take
            pos += take

    def poke(self, addr, data):
        """Store bytes whatever the page permissions (the loader filling text)."""
        pos = 0
        n = len(data)
        while pos < n:
            vpn = addr >> PAGE_SHIFT
            off = addr & (PAGE - 1)
            take = min(n - pos, PAGE - off)
            paddr = self.pages.get(vpn)
            if paddr is None:
                vma = self.find_vma(vpn << PAGE_SHIFT)
                if vma is None:
                    raise BadAddress(addr)
                paddr = self.populate(vpn, vma)
            self.core.write_mem(paddr + off, data[pos:pos + take])
            addr += take
            pos += take

    def read_cstr(self, addr, limit=4096):
        """A NUL-terminated string at addr (bytes, without the NUL); BadAddress
        where unreadable, and a string longer than `limit` raises ValueError."""
        out = bytearray()
        while len(out) <= limit:
            take = PAGE - (addr & (PAGE - 1))
            chunk = self.read(addr, take)
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                if len(out) > limit:
                    break
                return bytes(out)
            out += chunk
            addr += take
        raise ValueError("string too long")

    def read_u64(self, addr):
        return int.from_bytes(self.read(addr, 8), "little")

    # --- whole-space operations ------------------------------------------------

    def clone(self):
        """A copy for fork: the same mappings, every present page copied to a new frame."""
        other = AddressSpace(self.frames)
        other.vmas = [v.split_copy(v.start, v.end) for v in self.vmas]
        other.brk_start, other.brk, other.mmap_base = self.brk_start, self.brk, self.mmap_base
        ram = self.frames.ram
        base = self.frames.base
        for vpn, paddr in self.pages.items():
            new = self.frames.alloc()
            src = paddr - base
            dst = new - base
            ram[dst:dst + PAGE] = ram[src:src + PAGE]
            other.pages[vpn] = new
            other._set_pte(vpn, new, other.find_vma(vpn << PAGE_SHIFT).prot)
        return other

    def release(self):
        """Free every frame of this address space (the process exited or exec'd)."""
        for paddr in self.pages.values():
            self.frames.free(paddr)
        for paddr in self.tables.values():
            self.frames.free(paddr)
        self.frames.free(self.root)
        self.pages = {}
        self.tables = {}
        self.vmas = []
        self.root = None

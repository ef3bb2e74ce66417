# The shadow pager's walk of a guest's own page tables (pyvmm/hv/shadow.py).
#
# A hypervisor that shadows a guest's tables walks them as the guest's hart
# would on every hidden fault and every store it performs for the guest.
# The guest's RAM is not the host's: guest page i lives in the host frame at
# offset offsets[i] of the RAM buffer (the VM's page map, a list the
# hypervisor edits in place), so each PTE address goes through it, and one
# that is not guest RAM is the guest's access fault, never a read elsewhere.
# The walk has no side effects: A/D updates are the pager's (it performs them
# as guest stores, copy-on-write and invalidation included).

from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF


cdef class GuestWalk:
    """A successful walk of the guest's tables: the GPA reached, the guest's
    leaf PTE and its GPA (None for a Bare guest) and the GPAs of every guest
    PTE the translation depends on, root first."""

    cdef public object gpa
    cdef public object leaf_gpa
    cdef public object leaf
    cdef public object pte_gpas

    def __init__(self, gpa, leaf_gpa, leaf, pte_gpas):
        self.gpa = gpa
        self.leaf_gpa = leaf_gpa
        self.leaf = leaf
        self.pte_gpas = pte_gpas

    def __repr__(self):
        return f"GuestWalk(gpa={self.gpa!r}, leaf_gpa={self.leaf_gpa!r}, leaf={self.leaf!r}, " \
               f"pte_gpas={self.pte_gpas!r})"


cdef class GuestTables:
    """Walks a guest's Sv39/Sv48/Sv57 tables over the guest RAM of one VM:
    guest page i at offset offsets[i] of the host RAM buffer `ram` (a
    Core's ram_buffer), the first guest page at guest_base. `offsets` is the
    page map's own list (read at every walk, so frames it changes count at
    once)."""

    cdef const uint8_t[::1] ram
    cdef list offsets
    cdef uint64_t guest_base

    def __cinit__(self, ram, list offsets not None, guest_base):
        self.ram = ram
        self.offsets = offsets
        self.guest_base = guest_base

    def walk(self, uint64_t gva, int levels, uint64_t root_ppn, int access, int guest_priv,
             bint sum, bint mxr):
        """Translate gva from the root table at root_ppn (levels 3, 4 or 5)
        for access (ACC_FETCH 0, ACC_LOAD 1, ACC_STORE 2) at guest privilege
        guest_priv (0 U, else S) with the guest's SUM and MXR. Returns
        (GuestWalk, None), or (None, cause): the page fault of the access,
        or its access fault when a PTE address is not guest RAM."""
        cdef const uint8_t* ram = &self.ram[0]
        cdef uint64_t ram_size = <uint64_t>self.ram.shape[0]
        cdef list offsets = self.offsets
        cdef uint64_t npages = <uint64_t>len(offsets)
        cdef uint64_t fault = 12 if access == ACC_FETCH else (13 if access == ACC_LOAD else 15)
        cdef uint64_t va_bits, top, table, pte_gpa = 0, pte = 0, ppn, shift, index, frame
        cdef uint64_t pte_gpas[5]
        cdef int level, depth = 0, i
        cdef object item
        cdef tuple deps
        cdef GuestWalk result
        if levels < 3 or levels > 5:
            raise ValueError(f"{levels} page-table levels: 3, 4 or 5 (Sv39, Sv48, Sv57)")
        va_bits = 12 + 9 * <uint64_t>levels
        top = gva >> (va_bits - 1)
        if top != 0 and top != (1ULL << (65 - va_bits)) - 1:
            return None, fault
        table = (root_ppn & PPN_MASK) << 12
        level = levels - 1
        shift = 12 + 9 * <uint64_t>level
        while True:
            pte_gpa = table + ((gva >> shift) & 0x1FF) * 8
            if pte_gpa < self.guest_base:
                return None, (1 if access == ACC_FETCH else (5 if access == ACC_LOAD else 7))
            index = (pte_gpa - self.guest_base) >> 12
            if index >= npages:
                return None, (1 if access == ACC_FETCH else (5 if access == ACC_LOAD else 7))
            frame = <uint64_t>offsets[index] + (pte_gpa & 0xFFF)
            if frame + 8 > ram_size:
                raise IndexError(f"guest page {index} at host RAM offset {frame:#x}: outside RAM")
            pte = pyvmm_ld(ram + frame, 8)
            pte_gpas[depth] = pte_gpa
            depth += 1
            # V clear, W without R, or bits pyvmm does not implement: a fault
            if (pte & (PTE_V | PTE_HIGH_BITS)) != PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W:
                return None, fault
            if pte & (PTE_R | PTE_X):
                break                   # a leaf
            if (pte & (PTE_A | PTE_D | PTE_U)) or level == 0:
                return None, fault
            table = ((pte >> 10) & PPN_MASK) << 12
            level -= 1
            shift -= 9
        ppn = (pte >> 10) & PPN_MASK
        if ppn & ((1ULL << (9 * level)) - 1):
            return None, fault          # a misaligned superpage
        if pte & PTE_U:
            if guest_priv and (access == ACC_FETCH or not sum):
                return None, fault
        elif not guest_priv:
            return None, fault
        if access == ACC_LOAD:
            if not (pte & PTE_R) and not (mxr and (pte & PTE_X)):
                return None, fault
        elif not (pte & (PTE_X if access == ACC_FETCH else PTE_W)):
            return None, fault
        deps = PyTuple_New(depth)
        for i in range(depth):
            item = pte_gpas[i]
            Py_INCREF(item)
            PyTuple_SET_ITEM(deps, i, item)
        result = GuestWalk.__new__(GuestWalk)
        result.gpa = (ppn << 12) | (gva & ((1ULL << shift) - 1))
        result.leaf_gpa = pte_gpa
        result.leaf = pte
        result.pte_gpas = deps
        return result, None

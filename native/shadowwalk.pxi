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
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE


cdef inline bint frame_shared(bytearray readonly, uint64_t index) noexcept:
    # a page map's readonly[index], a page past its end counting as shared
    # (whoever writes there takes the general path)
    if index >= <uint64_t>PyByteArray_GET_SIZE(readonly):
        return True
    return (<uint8_t*>PyByteArray_AS_STRING(readonly))[index] != 0


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


cdef uint64_t amo_result(int funct5, uint64_t old, uint64_t operand, int size) noexcept:
    # the value an AMO of size 4 or 8 stores (the low size bytes count)
    cdef uint64_t mask = 0xFFFFFFFFULL if size == 4 else ~0ULL
    cdef int64_t a, b
    old &= mask
    operand &= mask
    if funct5 == 0x01:
        return operand
    if funct5 == 0x00:
        return (old + operand) & mask
    if funct5 == 0x04:
        return old ^ operand
    if funct5 == 0x0C:
        return old & operand
    if funct5 == 0x08:
        return old | operand
    if size == 4:
        a = <int32_t>old
        b = <int32_t>operand
    else:
        a = <int64_t>old
        b = <int64_t>operand
    if funct5 == 0x10:
        return <uint64_t>(a if a < b else b) & mask
    if funct5 == 0x14:
        return <uint64_t>(a if a > b else b) & mask
    if funct5 == 0x18:
        return old if old < operand else operand
    return old if old > operand else operand      # 0x1C


cdef struct WalkResult:
    uint64_t gpa            # the guest-physical address reached
    uint64_t leaf           # the leaf PTE
    uint64_t leaf_gpa       # its address
    int depth               # PTEs read (pte_gpas[0 .. depth-1], root first)
    uint64_t pte_gpas[5]


cdef class GuestTables:
    """Walks a guest's Sv39/Sv48/Sv57 tables over the guest RAM of one VM:
    guest page i at offset offsets[i] of the host RAM buffer `ram` (a
    Core's ram_buffer), the first guest page at guest_base. `offsets` is the
    page map's own list (read at every walk, so frames it changes count at
    once). With the Core that owns `ram` (core), `store` performs a guest's
    store through its tables as the hart would."""

    cdef const uint8_t[::1] ram
    cdef list offsets
    cdef uint64_t guest_base
    cdef Core core

    def __cinit__(self, ram, list offsets not None, guest_base, Core core=None):
        self.ram = ram
        self.offsets = offsets
        self.guest_base = guest_base
        self.core = core
        if core is not None and <const uint8_t*>core.h.ram != &self.ram[0]:
            raise ValueError("GuestTables: ram is not that core's RAM")

    cdef uint64_t _walk(self, uint64_t gva, int levels, uint64_t root_ppn, int access, int guest_priv,
                        bint sum, bint mxr, WalkResult* out) except? 0xFFFFFFFFFFFFFFFF:
        # 0 with *out filled, or the cause of the access's fault
        cdef const uint8_t* ram = &self.ram[0]
        cdef uint64_t ram_size = <uint64_t>self.ram.shape[0]
        cdef list offsets = self.offsets
        cdef uint64_t npages = <uint64_t>len(offsets)
        cdef uint64_t fault = 12 if access == ACC_FETCH else (13 if access == ACC_LOAD else 15)
        cdef uint64_t va_bits, top, table, pte_gpa = 0, pte = 0, ppn, shift, index, frame
        cdef int level
        if levels < 3 or levels > 5:
            raise ValueError(f"{levels} page-table levels: 3, 4 or 5 (Sv39, Sv48, Sv57)")
        if access != ACC_FETCH and access != ACC_LOAD and access != ACC_STORE:
            raise ValueError(f"access {access}: ACC_FETCH 0, ACC_LOAD 1 or ACC_STORE 2")
        out.depth = 0
        va_bits = 12 + 9 * <uint64_t>levels
        top = gva >> (va_bits - 1)
        if top != 0 and top != (1ULL << (65 - va_bits)) - 1:
            return fault
        table = (root_ppn & PPN_MASK) << 12
        level = levels - 1
        shift = 12 + 9 * <uint64_t>level
        while True:
            pte_gpa = table + ((gva >> shift) & 0x1FF) * 8
            if pte_gpa < self.guest_base:
                return 1 if access == ACC_FETCH else (5 if access == ACC_LOAD else 7)
            index = (pte_gpa - self.guest_base) >> 12
            if index >= npages:
                return 1 if access == ACC_FETCH else (5 if access == ACC_LOAD else 7)
            frame = <uint64_t>offsets[index] + (pte_gpa & 0xFFF)
            if frame + 8 > ram_size:
                raise IndexError(f"guest page {index} at host RAM offset {frame:#x}: outside RAM")
            pte = pyvmm_ld(ram + frame, 8)
            out.pte_gpas[out.depth] = pte_gpa
            out.depth += 1
            # V clear, W without R, or bits pyvmm does not implement: a fault
            if (pte & (PTE_V | PTE_HIGH_BITS)) != PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W:
                return fault
            if pte & (PTE_R | PTE_X):
                break                   # a leaf
            if (pte & (PTE_A | PTE_D | PTE_U)) or level == 0:
                return fault
            table = ((pte >> 10) & PPN_MASK) << 12
            level -= 1
            shift -= 9
        ppn = (pte >> 10) & PPN_MASK
        if ppn & ((1ULL << (9 * level)) - 1):
            return fault                # a misaligned superpage
        if pte & PTE_U:
            if guest_priv and (access == ACC_FETCH or not sum):
                return fault
        elif not guest_priv:
            return fault
        if access == ACC_LOAD:
            if not (pte & PTE_R) and not (mxr and (pte & PTE_X)):
                return fault
        elif not (pte & (PTE_X if access == ACC_FETCH else PTE_W)):
            return fault
        out.gpa = (ppn << 12) | (gva & ((1ULL << shift) - 1))
        out.leaf = pte
        out.leaf_gpa = pte_gpa
        return 0

    def walk(self, uint64_t gva, int levels, uint64_t root_ppn, int access, int guest_priv,
             bint sum, bint mxr):
        """Translate gva from the root table at root_ppn (levels 3, 4 or 5)
        for access (ACC_FETCH 0, ACC_LOAD 1, ACC_STORE 2) at guest privilege
        guest_priv (0 U, else S) with the guest's SUM and MXR. Returns
        (GuestWalk, None), or (None, cause): the page fault of the access,
        or its access fault when a PTE address is not guest RAM."""
        cdef WalkResult w
        cdef uint64_t cause = self._walk(gva, levels, root_ppn, access, guest_priv, sum, mxr, &w)
        cdef int i
        cdef object item
        cdef tuple deps
        cdef GuestWalk result
        if cause:
            return None, cause
        deps = PyTuple_New(w.depth)
        for i in range(w.depth):
            item = w.pte_gpas[i]
            Py_INCREF(item)
            PyTuple_SET_ITEM(deps, i, item)
        result = GuestWalk.__new__(GuestWalk)
        result.gpa = w.gpa
        result.leaf_gpa = w.leaf_gpa
        result.leaf = w.leaf
        result.pte_gpas = deps
        return result, None

    cdef uint64_t _private_frame(self, uint64_t gpa, bytearray readonly) except? 0xFFFFFFFFFFFFFFFF:
        # Host RAM offset of guest RAM address gpa when its page is on a
        # frame of this VM alone, else ~0 (not guest RAM, or shared)
        cdef uint64_t index
        if gpa < self.guest_base:
            return ~0ULL
        index = (gpa - self.guest_base) >> 12
        cdef uint64_t offset
        if index >= <uint64_t>len(self.offsets) or frame_shared(readonly, index):
            return ~0ULL
        offset = <uint64_t>self.offsets[index] + (gpa & 0xFFF)
        if offset + 8 > <uint64_t>self.ram.shape[0]:
            raise IndexError(f"guest page {index} at host RAM offset {offset:#x}: outside RAM")
        return offset

    cdef void _write(self, uint64_t offset, int size, uint64_t value) noexcept:
        # Core.write_mem's store: decoded code stays coherent, the page is dirty
        cdef Hart* h = self.core.h
        pyvmm_st(h.ram + offset, size, value)
        invalidate_code_all(h, h.ram_base + offset, <uint64_t>size)
        dirty_mark_range(h, h.ram_base + offset, <uint64_t>size)

    def write_pte(self, uint64_t gpa, uint64_t value, bytearray readonly not None):
        """Write guest PTE (8 bytes) value at gpa as Core.write_mem would, if
        its page is guest RAM on a frame of this VM alone (readonly[i] clear
        for guest page i); True if written, False (nothing done) otherwise."""
        cdef uint64_t offset
        if self.core is None:
            raise RuntimeError("GuestTables.write_pte needs the core that owns the RAM")
        if gpa & 7:
            raise ValueError(f"a PTE at {gpa:#x}: not 8-byte aligned")
        offset = self._private_frame(gpa, readonly)
        if offset == ~0ULL:
            return False
        self._write(offset, 8, value)
        return True

    def store(self, ShadowSlots slots not None, uint64_t gva, int levels, uint64_t root_ppn, int guest_priv,
              bint sum, bint mxr, int size, uint64_t value, bytearray readonly not None, dict watched,
              int amo=-1):
        """The guest's store of `size` bytes (1, 2, 4 or 8, within one page)
        of value at gva, as its hart would perform it: translated by the
        guest's tables (levels, root_ppn, guest_priv, SUM, MXR), the leaf's
        A and D set, value written to guest RAM, and the shadow slots
        derived from guest PTEs it overwrote dropped (slots.invalidate).
        With amo (its funct5: amoswap, amoadd, amoxor, amoand, amoor,
        amomin[u], amomax[u], or sc, which succeeds) the AMO of size 4 or
        8 at an aligned gva with operand value. Returns the fault's cause
        (an int) when the guest faults, or (whether it wrote a page-table
        page, slots dropped, pages freed, the AMO's result for rd); None,
        having done nothing, when the store needs more than this: a target
        outside guest RAM, a frame shared copy-on-write (readonly[i] for
        guest page i) or a page in watched."""
        cdef WalkResult w
        cdef uint64_t cause, data, leaf_at, page, old = 0, result = 0
        cdef bint page_table
        if self.core is None:
            raise RuntimeError("GuestTables.store needs the core that owns the RAM")
        if size not in (1, 2, 4, 8) or (gva & 0xFFF) + <uint64_t>size > 4096:
            raise ValueError(f"a store of {size} bytes at {gva:#x}: 1, 2, 4 or 8 within one page")
        if amo != -1 and (size not in (4, 8) or gva % <uint64_t>size or
                          amo not in (0x00, 0x01, 0x03, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C)):
            raise ValueError(f"AMO funct5 {amo:#x} of {size} bytes at {gva:#x}: not one pyvmm performs")
        cause = self._walk(gva, levels, root_ppn, ACC_STORE, guest_priv, sum, mxr, &w)
        if cause:
            return cause
        data = self._private_frame(w.gpa, readonly)
        if data == ~0ULL:               # not guest RAM, or shared
            return None
        page = w.gpa & ~0xFFFULL
        if watched and page in watched:
            return None
        leaf_at = self._private_frame(w.leaf_gpa, readonly)
        if (w.leaf & (PTE_A | PTE_D)) != (PTE_A | PTE_D):
            if leaf_at == ~0ULL:
                return None
            self._write(leaf_at, 8, w.leaf | PTE_A | PTE_D)
        page_table = page in slots.pt_refs
        if amo != -1:
            old = pyvmm_ld(self.core.h.ram + data, size)
            if amo == 0x03:             # sc: stores, and rd gets 0
                result = 0
            else:
                result = amo_result(amo, old, value, size)
                value = result
                result = <uint64_t>(<int64_t>(<int32_t>old)) if size == 4 else old
        self._write(data, size, value)
        dropped, freed = slots.invalidate(w.gpa, size)
        return page_table, dropped, freed, result

    def fill_fault(self, ShadowSlots slots not None, tree, uint64_t slot, uint64_t gva, int levels,
                   uint64_t root_ppn, int access, int guest_priv, bint sum, bint mxr, bint user_split,
                   int group_pages, list page_hpa not None, bytearray readonly not None, dict watched):
        """A hidden fault at gva, handled as the pager does: the walk, the
        leaf's A (and for a store D) bit, and the shadow leaf at `slot`
        (empty, in `tree`'s leaf table for gva) for the guest page on host
        frame page_hpa[i], with the rights the guest's leaf gives (ring
        compression's under user_split), and with group_pages > 1 the rest
        of that group of a guest superpage's pages (ShadowSlots.fill,
        fill_group). A store's caller has made sure it is not one to
        perform (it lies within the faulting page, which holds no PTE a slot
        depends on). Returns the fault's cause (an int) when the guest
        faults, or (TLB flushes the write protection asks for, leaves the
        group filled, whether the page now maps its own PTE: the guest's
        store access fault); None, having done nothing, when the fault
        needs more: a target outside guest RAM, a frame shared
        copy-on-write, a store to a watched page or a page table."""
        cdef WalkResult w
        cdef uint64_t cause, index, leaf_at, perms, pte, new_pte, gpa_first, group, page
        cdef bint status_dependent = False
        cdef int i, flushes, group_fills = 0
        cdef tuple deps
        cdef object item
        if self.core is None:
            raise RuntimeError("GuestTables.fill_fault needs the core that owns the RAM")
        cause = self._walk(gva, levels, root_ppn, access, guest_priv, sum, mxr, &w)
        if cause:
            return cause
        if w.gpa < self.guest_base:
            return None
        index = (w.gpa - self.guest_base) >> 12
        if index >= <uint64_t>len(self.offsets) or index >= <uint64_t>len(page_hpa):
            return None                 # a device (or nothing): the pager's general path
        page = w.gpa & ~0xFFFULL
        if access == ACC_STORE:
            if index < <uint64_t>PyByteArray_GET_SIZE(readonly) and frame_shared(readonly, index):
                return None             # copy-on-write first
            if page in watched or page in slots.pt_refs:
                return None
        pte = w.leaf
        new_pte = pte | PTE_A | (PTE_D if access == ACC_STORE else 0)
        if new_pte != pte:
            leaf_at = self._private_frame(w.leaf_gpa, readonly)
            if leaf_at == ~0ULL:
                return None
            self._write(leaf_at, 8, new_pte)
            pte = new_pte
        # the shadow leaf's rights (ShadowPager._shadow_perms)
        perms = pte & (PTE_R | PTE_W | PTE_X)
        if not (pte & PTE_D):
            perms &= ~PTE_W
        if not user_split:
            perms |= pte & PTE_U
        else:
            if guest_priv != 0 and (pte & PTE_U):
                perms &= ~PTE_X         # guest S never executes guest U pages
                status_dependent = True # reachable only while the guest's SUM is set
            if access == ACC_LOAD and not (pte & PTE_R):
                perms |= PTE_R          # the guest's MXR made an execute-only page readable
                status_dependent = True
            perms |= PTE_U
        deps = PyTuple_New(w.depth)
        for i in range(w.depth):
            item = w.pte_gpas[i]
            Py_INCREF(item)
            PyTuple_SET_ITEM(deps, i, item)
        flushes = slots.fill(slot, tree, deps, page, status_dependent, perms, <uint64_t>page_hpa[index],
                             watched, readonly, self.guest_base)
        if group_pages > 1 and not status_dependent and w.depth < levels:
            gpa_first = page - (gva & (0x1FFULL << 12))
            group = ((gva >> 12) & 0x1FF) & ~(<uint64_t>group_pages - 1)
            group_fills = slots.fill_group(tree, slot, group, group_pages, gpa_first, deps, perms, watched,
                                           page_hpa, readonly, self.guest_base)
        return flushes, group_fills, access == ACC_STORE and page in slots.pt_refs

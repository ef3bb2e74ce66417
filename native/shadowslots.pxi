# The shadow pager's bookkeeping of the leaf slots it fills (pyvmm/hv/shadow.py).
#
# Every hidden fault fills shadow leaves and every store the pager performs on
# a guest page table drops the leaves derived from the PTEs it changed: each
# time a loop over the slots, the guest PTEs they depend on and the reverse
# maps between them. Those loops run here over the pager's own dictionaries
# (it reads them as before): the maps stay Python's, only the interpreter
# between them is gone.

cdef inline uint64_t shadow_leaf(uint64_t hpa_page, uint64_t perms) noexcept:
    # a shadow leaf for host page hpa_page with rights perms (D with W: the
    # guest's D was set before a store right was given)
    cdef uint64_t leaf = ((hpa_page >> 12) << 10) | PTE_V | PTE_A | perms
    if perms & PTE_W:
        leaf |= PTE_D
    return leaf


cdef enum:
    # Changed slots the pager flushes page by page; more take a whole flush.
    CHANGED_MAX = 16


cdef class ShadowSlots:
    """The leaf slots of a ShadowPager's trees and the maps between them and
    the guest's pages, over the host RAM buffer `ram` (a Core's ram_buffer,
    whose first byte is host-physical ram_base) that holds the shadow
    tables. The dictionaries are the pager's:

    slots: slot HPA -> (its tree's root HPA, guest PTE GPAs, data page GPA,
        status-dependent, whether the guest's PTEs let it store there);
    status_slots: the status-dependent slots, in order (values None);
    rmap: guest PTE GPA -> {slot HPA}; pt_refs: guest page GPA -> number
    of (slot, PTE) dependencies in it; data_rmap: guest page GPA -> {slot
    HPA mapping it}; trees: root HPA -> the tree (its `slots` set).

    `changed` lists the slots whose leaves were dropped or lost their store
    right since the pager last took it (their pages' entries are what the
    hart's TLB must lose), up to CHANGED_MAX; past that, `changed_overflow`
    is set and only a whole flush will do."""

    cdef uint8_t[::1] ram
    cdef uint64_t ram_base
    cdef readonly dict slots, status_slots, rmap, pt_refs, data_rmap, trees
    cdef readonly list changed
    cdef readonly bint changed_overflow
    cdef dict table_gva                 # leaf table HPA -> (its tree, the GVA it starts at), for gvas_of

    def __cinit__(self, ram, ram_base):
        self.ram = ram
        self.ram_base = ram_base
        self.slots = {}
        self.status_slots = {}
        self.rmap = {}
        self.pt_refs = {}
        self.data_rmap = {}
        self.trees = {}
        self.changed = []
        self.changed_overflow = False
        self.table_gva = {}

    cdef inline void _note_changed(self, object slot) except *:
        if self.changed_overflow:
            return
        if len(self.changed) >= CHANGED_MAX:
            self.changed_overflow = True
            return
        self.changed.append(slot)

    def take_changed(self):
        """The slots `changed` holds, or None after an overflow; both are
        reset."""
        cdef list taken = None if self.changed_overflow else self.changed
        self.changed = []
        self.changed_overflow = False
        return taken

    def take_changed_gvas(self):
        """gvas_of the slots take_changed takes, or None after an overflow
        or when none were recorded: the pages the hart's TLB must lose."""
        cdef list slots = self.take_changed()
        if not slots:
            return None
        return self.gvas_of(slots)

    cpdef list gvas_of(self, list slots):
        """The guest-virtual page each leaf slot maps (from its leaf table's
        key in its tree's leaf_tables, gva >> 21), or None when a table is
        named by no canonical key of a tree the pager holds: a table seen for
        the first time or reused since is looked for in every tree again, and
        a non-canonical key (an alias, ShadowPager._leaf_slot) is never an
        address the hart's TLB holds."""
        cdef list gvas = []
        cdef object slot, known, tree
        cdef uint64_t table
        for slot in slots:
            table = (<uint64_t>slot) & ~0xFFFULL
            known = self.table_gva.get(table)
            if known is None or (<tuple>known)[0].leaf_tables.get((<uint64_t>(<tuple>known)[1]) >> 21) != table:
                self._map_leaf_tables()
                known = self.table_gva.get(table)
                if known is None:
                    return None
            gvas.append((<uint64_t>(<tuple>known)[1]) | ((<uint64_t>slot) & 0xFFFULL) << 9)
        return gvas

    cdef int _map_leaf_tables(self) except -1:
        cdef object tree, key, leaf_table
        cdef uint64_t gva, top, ones
        cdef int levels
        self.table_gva = {}
        for tree in self.trees.values():
            levels = tree.levels
            ones = (1ULL << (65 - 12 - 9 * levels)) - 1
            for key, leaf_table in tree.leaf_tables.items():
                gva = (<uint64_t>key) << 21
                top = gva >> (12 + 9 * levels - 1)
                if top == 0 or top == ones:
                    self.table_gva[leaf_table] = (tree, gva)
        return 0

    cdef inline uint64_t _offset(self, uint64_t hpa) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t offset = hpa - self.ram_base
        if hpa < self.ram_base or offset + 8 > <uint64_t>self.ram.shape[0]:
            raise IndexError(f"shadow entry {hpa:#x} outside host RAM")
        return offset

    cpdef list drop(self, slots):
        """Forget `slots`, in their order: each leaf (zeroed), its dependence
        on the guest PTEs it was filled from, its data page's mapping.
        Returns the guest pages that no longer hold any PTE a slot depends
        on, in the order they emptied (the pager gives their writes back)."""
        cdef dict slot_map = self.slots, status_slots = self.status_slots, rmap = self.rmap
        cdef dict pt_refs = self.pt_refs, data_rmap = self.data_rmap, trees = self.trees
        cdef list freed = []
        cdef tuple entry
        cdef set dependents, mapped
        cdef uint8_t* ram = &self.ram[0]
        cdef object slot, pte_gpa, page, count, data_page
        for slot in slots:
            entry = slot_map.pop(slot)
            if entry[3]:
                del status_slots[slot]
            pyvmm_st(ram + self._offset(slot), 8, 0)
            self._note_changed(slot)
            (<set>trees[entry[0]].slots).discard(slot)
            for pte_gpa in <tuple>entry[1]:
                dependents = rmap[pte_gpa]
                dependents.discard(slot)
                if not dependents:
                    del rmap[pte_gpa]
                page = (<uint64_t>pte_gpa) & ~0xFFFULL
                count = pt_refs[page] - 1
                if count:
                    pt_refs[page] = count
                else:
                    del pt_refs[page]
                    freed.append(page)
            data_page = entry[2]
            mapped = data_rmap[data_page]
            mapped.discard(slot)
            if not mapped:
                del data_rmap[data_page]
        return freed

    def invalidate(self, uint64_t gpa, uint64_t n):
        """Drop the slots derived from the guest PTEs in gpa..gpa+n (guest
        memory changed there). Returns (how many slots were dropped, the
        pages drop freed, in order)."""
        cdef dict pt_refs = self.pt_refs, rmap = self.rmap
        cdef uint64_t end = gpa + n, page = gpa & ~0xFFFULL, pte_gpa, stop
        cdef Py_ssize_t dropped = 0
        cdef list freed = []
        cdef object slots
        if end < gpa:
            raise OverflowError(f"guest range {gpa:#x}+{n:#x} wraps around")
        while page < end:
            if page in pt_refs:         # only page-table pages have PTEs anything came from
                pte_gpa = page if page > (gpa & ~7ULL) else gpa & ~7ULL
                stop = page + 4096 if page + 4096 < end else end
                while pte_gpa < stop:
                    slots = rmap.get(pte_gpa)
                    if slots:
                        dropped += len(<set>slots)
                        freed.extend(self.drop(list(<set>slots)))
                    pte_gpa += 8
            page += 4096
        return dropped, freed

    def restore_writes(self, list pages, dict watched, bytearray readonly not None, uint64_t guest_base):
        """Of `pages` (which drop freed), those that hold no PTE a slot
        depends on any more, are not watched and not shared (readonly[i]
        for guest page i from guest_base): the leaves mapping them get back
        the store right their guest PTEs give (W and D), rather than each
        taking a hidden fault on the next store. Adding a right leaves
        nothing stale in the hart's TLB."""
        cdef dict slot_map = self.slots, data_rmap = self.data_rmap, pt_refs = self.pt_refs
        cdef uint8_t* ram = &self.ram[0]
        cdef uint64_t gpa, index, offset
        cdef object page, slot, entry, mapped
        for page in pages:
            if page in pt_refs or page in watched:
                continue
            gpa = page
            if gpa >= guest_base:
                index = (gpa - guest_base) >> 12
                if index < <uint64_t>PyByteArray_GET_SIZE(readonly) and frame_shared(readonly, index):
                    continue
            mapped = data_rmap.get(page)
            if mapped is None:
                continue
            for slot in <set>mapped:
                entry = slot_map.get(slot)
                if entry is not None and (<tuple>entry)[4]:
                    offset = self._offset(slot)
                    pyvmm_st(ram + offset, 8, pyvmm_ld(ram + offset, 8) | PTE_W | PTE_D)

    cpdef list depend(self, slot, tuple deps):
        """Slot `slot` now depends on the guest PTEs at deps. Returns the
        guest pages that just became page-table pages (to write-protect),
        in order."""
        cdef dict rmap = self.rmap, pt_refs = self.pt_refs
        cdef list protect = []
        cdef object pte_gpa, page, dependents, count
        for pte_gpa in deps:
            dependents = rmap.get(pte_gpa)
            if dependents is None:
                rmap[pte_gpa] = {slot}
            else:
                (<set>dependents).add(slot)
            page = (<uint64_t>pte_gpa) & ~0xFFFULL
            count = pt_refs.get(page)
            if count is None:
                pt_refs[page] = 1
                protect.append(page)
            else:
                pt_refs[page] = count + 1
        return protect

    cpdef add(self, slot, tree, tuple deps, data_page, bint status_dependent, bint writable, uint64_t leaf):
        """Record filled slot `slot` of `tree` (its dependencies already
        recorded by depend) and write its shadow leaf."""
        cdef object mapped
        self.slots[slot] = (tree.root, deps, data_page, status_dependent, writable)
        if status_dependent:
            self.status_slots[slot] = None
        mapped = self.data_rmap.get(data_page)
        if mapped is None:
            self.data_rmap[data_page] = {slot}
        else:
            (<set>mapped).add(slot)
        (<set>tree.slots).add(slot)
        pyvmm_st(&self.ram[0] + self._offset(slot), 8, leaf)

    cpdef bint write_protect(self, page) except -1:
        """Guest page `page` holds page tables now: no leaf mapping it may
        let the guest store there. Returns whether some leaf lost its store
        right (the hart's TLB may hold it)."""
        cdef uint8_t* ram = &self.ram[0]
        cdef uint64_t offset, leaf
        cdef bint changed = False
        cdef object mapped = self.data_rmap.get(page), other
        if mapped is not None:
            for other in <set>mapped:
                offset = self._offset(other)
                leaf = pyvmm_ld(ram + offset, 8)
                if leaf & PTE_W:
                    pyvmm_st(ram + offset, 8, leaf & ~(PTE_W | PTE_D))
                    self._note_changed(other)
                    changed = True
        return changed

    cdef bint _store_kept_out(self, data_page, dict watched, bytearray readonly,
                              uint64_t guest_base) except -1:
        # the guest may not store to data_page through a shadow leaf: it
        # holds page tables, is watched, or its frame is shared (readonly[i]
        # for guest page i from guest_base)
        cdef uint64_t gpa = data_page, index
        if data_page in self.pt_refs or data_page in watched:
            return True
        if gpa < guest_base:
            return False
        index = (gpa - guest_base) >> 12
        return index < <uint64_t>PyByteArray_GET_SIZE(readonly) and frame_shared(readonly, index)

    def fill(self, slot, tree, tuple deps, data_page, bint status_dependent, uint64_t perms,
             uint64_t hpa_page, dict watched, bytearray readonly not None, uint64_t guest_base):
        """Fill slot `slot` of `tree` (empty) for guest page data_page on host
        page hpa_page, with the guest's rights perms (R/W/X/U): its
        dependencies on the guest PTEs at deps, whose pages become
        write-protected in every shadow if they were not page tables yet,
        and its leaf, read-only when data_page holds page tables, is watched
        or is shared (readonly[i] for guest page i from guest_base). Returns
        how many pages newly protected took a store right from some leaf
        (each a TLB flush for the pager)."""
        cdef list protect = self.depend(slot, deps)
        cdef uint64_t leaf_perms = perms
        cdef int changed_pages = 0
        cdef object page
        for page in protect:
            changed_pages += self.write_protect(page)
        if perms & PTE_W and self._store_kept_out(data_page, watched, readonly, guest_base):
            leaf_perms &= ~PTE_W
        self.add(slot, tree, deps, data_page, status_dependent, perms & PTE_W,
                 shadow_leaf(hpa_page, leaf_perms))
        return changed_pages

    def fill_group(self, tree, uint64_t slot, uint64_t first_index, int count, uint64_t gpa_first,
                   tuple deps, uint64_t perms, dict watched, list page_hpa, bytearray readonly not None,
                   uint64_t guest_base):
        """The pages of a guest superpage beside the one just filled at
        `slot`: entries first_index .. first_index+count-1 of slot's leaf
        table, for guest pages gpa_first + 4 KiB * index (guest page i on
        host frame page_hpa[i], shared when readonly[i]). The same PTEs
        (deps) and rights (perms) for all; read-only where the page holds
        page tables, is watched or shared; slots already filled and pages
        that are not guest RAM left alone. Returns how many were filled."""
        cdef dict slot_map = self.slots, rmap = self.rmap, pt_refs = self.pt_refs
        cdef uint64_t table = slot - (((slot - self.ram_base) >> 3) & 0x1FF) * 8
        cdef uint64_t index, neighbour, data_page, page_index, leaf_perms
        cdef uint64_t npages = <uint64_t>len(page_hpa)
        cdef list filled = []
        cdef object key, data_key, pte_gpa, page
        cdef bint writable = (perms & PTE_W) != 0
        for index in range(first_index, first_index + <uint64_t>count):
            neighbour = table + index * 8
            key = neighbour
            if neighbour == slot or key in slot_map:
                continue
            data_page = gpa_first + (index << 12)
            if data_page < guest_base:
                continue
            page_index = (data_page - guest_base) >> 12
            if page_index >= npages:
                continue
            data_key = data_page
            leaf_perms = perms
            if writable and self._store_kept_out(data_key, watched, readonly, guest_base):
                leaf_perms &= ~PTE_W
            # its dependencies are the first fill's, counted below at once
            self.add(key, tree, deps, data_key, False, writable,
                     shadow_leaf(<uint64_t>page_hpa[page_index], leaf_perms))
            filled.append(key)
        if filled:
            for pte_gpa in deps:        # (the first fill made these entries)
                (<set>rmap[pte_gpa]).update(filled)
                page = (<uint64_t>pte_gpa) & ~0xFFFULL
                pt_refs[page] += len(filled)
        return len(filled)

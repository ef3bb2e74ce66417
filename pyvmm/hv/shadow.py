"""Shadow page tables: GVA->HPA tables the hypervisor builds itself.

Without a G stage the hart can translate only once, so the hypervisor
composes the guest's own tables (GVA->GPA, in guest memory) with its memory
map (GPA->HPA) into shadow tables in host frames, and installs those in the
real satp (trap-emulate, bt) or vsatp over a Bare hgatp (hw, paging="shadow").

The shadow starts empty and fills lazily: an access the shadow cannot
translate faults to the hypervisor, which walks the guest's tables as the
hardware would. If the guest's tables deny the access the fault is the
guest's own ("guest": reflect it); otherwise one 4 KiB shadow leaf is filled
and the access re-executes ("hidden": the guest never sees it).

Coherence comes from write protection: every guest page holding a PTE that
some shadow entry was derived from is mapped read-only in every shadow, so
the guest kernel's PTE stores fault too. The pager performs such a store on
guest memory itself, drops the shadow entries derived from the PTEs it
changed (a reverse map from guest PTE address to shadow slots), and steps
the guest past the instruction ("emulated").

Guest-visible A/D bits are emulated as hardware sets them: A when a
translation is filled for any access, D when filled for a store. A writable
page whose guest D bit is still clear is shadowed read-only, so the first
store faults (a hidden fault) and sets D.

With user_split=True (trap-emulate: guest kernel and guest user both run in
real U-mode) each guest address space has two shadow trees, one the guest
kernel runs on and one for guest user code that maps only guest U=1 pages:
ring compression, so guest user code cannot reach guest kernel memory.
"""

from collections import OrderedDict
import functools
import weakref

import numpy as np

from pyvmm._core import Core, GuestTables, GuestWalk, ShadowSlots

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
PTES_PER_TABLE = 512
MASK64 = (1 << 64) - 1

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = (1 << bit for bit in range(8))
PTE_HIGH_BITS = 0x3FF << 54           # N, PBMT and reserved: pyvmm implements none of them
PTE_PPN_MASK = (1 << 44) - 1

SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48, SATP_MODE_SV57 = 0, 8, 9, 10
LEVELS = {SATP_MODE_SV39: 3, SATP_MODE_SV48: 4}
MODE_OF_LEVELS = {3: SATP_MODE_SV39, 4: SATP_MODE_SV48, 5: SATP_MODE_SV57}
SATP_ASID_SHIFT = 44
SATP_ASID_MASK = 0xFFFF
SATP_PPN_MASK = PTE_PPN_MASK
HOST_ASIDS = 1 << 16
BARE_SHADOW_VA_BITS = 39              # a Bare guest is shadowed with Sv39: GPAs below 2^38

FETCH, LOAD, STORE = "fetch", "load", "store"
PAGE_FAULT_ACCESS = {12: FETCH, 13: LOAD, 15: STORE}
PAGE_FAULT_CAUSE = {FETCH: 12, LOAD: 13, STORE: 15}
ACCESS_FAULT_CAUSE = {FETCH: 1, LOAD: 5, STORE: 7}
ACCESS_CODE = {FETCH: 0, LOAD: 1, STORE: 2}     # the core's ACC_FETCH, ACC_LOAD, ACC_STORE
_NOT_SHARED = bytearray()             # a VM without a page map shares no frame

# With fill_superpages, a fault under a guest superpage fills the aligned
# group of this many 4 KiB pages around it (64 KiB): Linux clearing and
# initialising its direct map at boot faults once per group, while a new
# address space's few kernel pages cost 16 fills, not a whole 2 MiB's 512
# (which a Linux boot's later processes, each its own space, paid for).
SUPERPAGE_FILL_PAGES = 16
OPCODE_STORE = 0x23
OPCODE_AMO = 0x2F
AMO_LR, AMO_SC = 0x02, 0x03


class _AsidPool:
    """Host ASIDs, one per shadow tree, shared by every pager on a host so
    that trees of different VMs never alias in the hart's ASID-tagged TLB."""

    def __init__(self):
        self.next = 1                 # ASID 0 stays the host's own
        self.free = []

    def take(self):
        if self.free:
            return self.free.pop()
        if self.next >= HOST_ASIDS:
            raise RuntimeError("shadow paging: all 65535 host ASIDs are in use")
        self.next += 1
        return self.next - 1

    def give(self, asid):
        self.free.append(asid)


_ASID_POOLS = weakref.WeakKeyDictionary()


def _asid_pool(host):
    try:
        return _ASID_POOLS.setdefault(host, _AsidPool())
    except TypeError:                 # a host that cannot be weakly referenced: a pool of its own
        return _AsidPool()


class _Tree:
    """One shadow page table: a root frame, its lower tables, the leaf slots
    (host addresses of shadow leaf PTEs) filled in it."""

    def __init__(self, root, asid, levels):
        self.root = root
        self.asid = asid
        self.levels = levels
        self.tables = []              # lower-level table frames, freed on reset
        self.slots = set()
        self.leaf_tables = {}         # gva >> 21 -> its level-0 table (the walk, remembered)
        self.leaf_tables_complete = True   # leaf_tables names every level-0 table of the tree


class _Space:
    """One guest address space (a guest satp root), its shadow trees by view."""

    def __init__(self, mode, root_ppn, guest_asid):
        self.mode = mode
        self.root_ppn = root_ppn
        self.guest_asid = guest_asid
        self.trees = {}


class ShadowPager:
    """Shadow page tables for one VM; see the module docstring and docs/shadow.md."""

    def __init__(self, vm, user_split=False, max_spaces=8, drop_on_sfence=True, shadow_levels=None,
                 fill_superpages=False):
        self.vm = vm
        # Shadow trees deeper than the guest's own (Sv57 for an Sv39 guest)
        # leave addresses no guest translation produces for the
        # hypervisor's own pages (binary translation's TC and state page).
        if shadow_levels not in (None, 3, 4, 5):
            raise ValueError(f"shadow_levels {shadow_levels}: 3, 4 or 5 (Sv39, Sv48, Sv57)")
        self.shadow_levels = shadow_levels
        # Write protection already keeps every shadow entry coherent with the
        # guest's PTEs, so dropping entries on sfence.vma is fidelity to the
        # spec's model (and a measurable cost), not a need: False keeps them.
        self.drop_on_sfence = bool(drop_on_sfence)
        # A fault under a guest superpage fills the pages of it around the
        # fault (SUPERPAGE_FILL_PAGES), not just one: a kernel touching its
        # direct map page by page (clearing and initialising memory at
        # boot) then faults once per group.
        self.fill_superpages = bool(fill_superpages)
        self.core = vm.host.core
        self.frames = vm.host.frames
        self._pagemap = getattr(vm, "pagemap", None)      # frames shared copy-on-write
        # Guest page -> offset of its frame in the host's RAM (the page map's
        # list, edited in place): guest PTEs read without a call per level.
        self._page_offsets = None
        # The walk itself runs in the core over that list (GuestTables).
        self._guest_tables = None
        if self._pagemap is not None and vm.host.ram_base == vm.host.core.ram_base:
            self._page_offsets = self._pagemap.offsets
            core = self.core if isinstance(self.core, Core) else None
            self._guest_tables = GuestTables(self.core.ram_buffer, self._page_offsets,
                                             self._pagemap.ram_base, core)
        # emulate_store's common case runs in the core (GuestTables.store).
        self._store_in_core = self._guest_tables is not None and isinstance(self.core, Core)
        self.user_split = bool(user_split)
        self.max_spaces = max(1, int(max_spaces))
        self._asids = _asid_pool(vm.host)
        self._ram_base = self.core.ram_base
        self._ram64 = self.core.ram.view(np.uint64)
        # One word at a time as Python ints: a memoryview reads and writes
        # them several times faster than NumPy indexing (which the slices keep).
        self._ram_words = memoryview(self._ram64)
        self._spaces = OrderedDict()          # (mode, root ppn) -> _Space, least recent first
        self._space = None
        self.guest_satp = 0
        self.guest_sum = False
        self.guest_mxr = False
        # slot HPA -> (its tree's root HPA, guest PTE GPAs, data page GPA,
        # status-dependent, whether the guest's PTEs let it store there:
        # shadowed writable unless the page holds page tables, is watched or
        # is shared). Ints only: the garbage collector stops tracking them.
        # The maps are ShadowSlots', whose loops over them (fill, drop) run in the core.
        self._maps = ShadowSlots(self.core.ram_buffer, self._ram_base)
        self._slots = self._maps.slots
        self._trees = self._maps.trees        # root HPA -> _Tree
        self._status_slots = self._maps.status_slots  # the status-dependent slots of _slots, in its order
        self._rmap = self._maps.rmap          # guest PTE GPA -> {slot HPA}
        self._pt_refs = self._maps.pt_refs    # guest page GPA -> number of (slot, PTE) dependencies in it
        self._data_rmap = self._maps.data_rmap    # guest page GPA -> {slot HPA mapping it}
        self._watched = {}                    # guest page GPA -> on_store(page) or None
        self.fault_cause = None               # what to reflect after a "guest" outcome
        # Moves whenever a root entry link_host_table set may be gone (satp
        # changed, a tree reset or released, another link): a caller that
        # linked while it read e need not link again while it still reads e.
        self.link_epoch = 0
        self.fault_tval = None
        self.counters = {
            "hidden_faults": 0, "guest_faults": 0, "shadow_fills": 0, "wp_traps": 0,
            "shadow_pages": 0, "flushes": 0, "invalidations": 0, "tlb_flushes": 0,
            "mmio_fills": 0, "unprotects": 0, "spaces": 0, "evictions": 0, "watch_traps": 0,
        }
        self.set_guest_satp(0)

    # ------------------------------------------------------------------ guest satp, roots

    def set_guest_satp(self, value):
        """The guest wrote satp. A mode other than Bare/Sv39/Sv48 leaves satp
        unchanged, as the spec's WARL rule has it."""
        value &= MASK64
        mode = value >> 60
        if mode not in (SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48):
            return
        if mode == SATP_MODE_BARE:
            value = 0                 # with Bare the other fields are ignored
        self.guest_satp = value
        self.link_epoch += 1
        asid = (value >> SATP_ASID_SHIFT) & SATP_ASID_MASK
        key = (mode, value & SATP_PPN_MASK if mode else 0)
        space = self._spaces.get(key)
        if space is None:
            space = _Space(mode, key[1], asid)
            self._spaces[key] = space
            while len(self._spaces) > self.max_spaces:
                _, evicted = self._spaces.popitem(last=False)
                self._release_space(evicted)
                self.counters["evictions"] += 1
            self.counters["spaces"] = len(self._spaces)
        else:
            self._spaces.move_to_end(key)
        space.guest_asid = asid
        self._space = space

    def root_satp(self, guest_priv=1):
        """satp (or vsatp) to install while the guest runs at guest_priv."""
        tree = self._tree(self._space, guest_priv)
        mode = MODE_OF_LEVELS[tree.levels]
        return (mode << 60) | (tree.asid << SATP_ASID_SHIFT) | (tree.root >> PAGE_SHIFT)

    def _view(self, mode, guest_priv):
        # Which tree of an address space serves guest_priv: one, except that
        # ring compression gives guest user code a tree of its own. (A Bare
        # guest has one tree in which a page's U bit follows the privilege
        # that last faulted on it: real S and U code in VS/VU run on the same
        # vsatp, and Bare protects nothing anyway.)
        if self.user_split and mode != SATP_MODE_BARE:
            return 0 if guest_priv == 0 else 1
        return 1

    def _tree(self, space, guest_priv):
        view = self._view(space.mode, guest_priv)
        tree = space.trees.get(view)
        if tree is None:
            levels = max(LEVELS.get(space.mode, 3), self.shadow_levels or 0)
            tree = _Tree(self._alloc_table(), self._asids.take(), levels)
            space.trees[view] = tree
            self._trees[tree.root] = tree
        return tree

    def close(self):
        """Give every shadow frame and host ASID back."""
        for space in self._spaces.values():
            self._release_space(space)
        self._spaces.clear()
        self._space = None

    # ------------------------------------------------------------------ guest events

    def sfence(self, vaddr=None, asid=None):
        """The guest executed sfence.vma: drop the shadow entries it covers."""
        self.counters["flushes"] += 1
        if not self.drop_on_sfence:
            self._flush_tlb()
            return
        if vaddr is not None:
            vaddr &= MASK64
            key = vaddr >> 21
            offset = ((vaddr >> PAGE_SHIFT) & 0x1FF) * 8
            canonical = {}            # levels -> _canonical(vaddr, levels)
        elif asid is None:
            self._drop_all_guest_slots()
        if asid is not None:
            asid &= SATP_ASID_MASK
        slot_map = self._slots
        for space in self._spaces.values():
            if space.mode == SATP_MODE_BARE:
                continue              # nothing there came from guest tables
            if asid is not None and space.guest_asid != asid:
                continue
            for tree in space.trees.values():
                if vaddr is None:
                    self._reset_tree(tree)
                elif tree.slots:      # (most trees hold nothing an address sfence could name)
                    leaf_table = tree.leaf_tables.get(key)
                    if leaf_table is not None:
                        slot = leaf_table + offset
                    else:
                        if tree.leaf_tables_complete:
                            inside = canonical.get(tree.levels)
                            if inside is None:
                                inside = canonical[tree.levels] = _canonical(vaddr, tree.levels)
                            if inside:
                                continue      # the tree has no leaf table there
                        slot = self._leaf_slot(tree, vaddr)
                    if slot is not None and slot in slot_map:
                        self._drop_slot(slot)
        self._flush_tlb()

    def _drop_all_guest_slots(self):
        """A full sfence.vma drops every slot of every tree but a Bare
        space's. When that is every slot there is, the pager's maps empty
        wholesale rather than slot by slot (what _drop_slots would leave)."""
        for space in self._spaces.values():
            if space.mode == SATP_MODE_BARE and any(tree.slots for tree in space.trees.values()):
                return                # some slots stay: _reset_tree drops the others one by one
        words = self._ram_words
        ram_base = self._ram_base
        for slot in self._slots:
            words[(slot - ram_base) >> 3] = 0
        for space in self._spaces.values():
            for tree in space.trees.values():
                tree.slots.clear()
        self._slots.clear()
        self._status_slots.clear()
        self._rmap.clear()
        self._pt_refs.clear()
        self._data_rmap.clear()

    def set_guest_status(self, sum=None, mxr=None):
        """The guest changed sstatus.SUM/MXR. Only user_split shadows depend
        on them (elsewhere the real SUM/MXR of the guest apply to shadow
        PTEs): entries filled under the old values are dropped."""
        changed = False
        if sum is not None and bool(sum) != self.guest_sum:
            self.guest_sum = bool(sum)
            changed = True
        if mxr is not None and bool(mxr) != self.guest_mxr:
            self.guest_mxr = bool(mxr)
            changed = True
        if changed and self.user_split:
            stale = list(self._status_slots)
            self._drop_slots(stale)
            if stale:
                self._flush_changed()

    def is_page_table(self, gpa):
        """Whether the guest page holding `gpa` has PTEs some shadow entry was
        built from (so it is write-protected in every tree)."""
        return gpa & ~(PAGE_SIZE - 1) in self._pt_refs

    def invalidate_gpa(self, gpa, n):
        """Guest memory gpa..gpa+n changed behind the guest's back (a device,
        the loader, an emulated store): drop shadow entries derived from PTEs
        there. Returns the number of shadow entries dropped."""
        dropped, freed = self._maps.invalidate(gpa, n)
        self._after_invalidate(dropped, freed)
        return dropped

    def _after_invalidate(self, dropped, freed):
        # Pages that no longer hold page tables get their store right back;
        # the hart may hold what was dropped.
        if freed:
            self._restore_writes(freed)
        if dropped:
            self.counters["invalidations"] += dropped
            self._flush_changed()

    # ------------------------------------------------------------------ page faults

    def handle_page_fault(self, cause, gva, guest_priv, sum, mxr, insn=None):
        """A page fault (cause 12/13/15) under the shadow, at guest privilege
        guest_priv with the guest's SUM/MXR. Returns "hidden" (shadow filled:
        re-run), "mmio" (filled with the device window: re-running exits as
        MMIO), "emulated" (a store to a guest page table performed, pc
        advanced) or "guest" (the guest's own fault: reflect fault_cause with
        tval fault_tval, which is gva for page faults)."""
        access = PAGE_FAULT_ACCESS.get(cause)
        if access is None:
            raise ValueError(f"cause {cause} is not a page fault")
        gva &= MASK64
        if self.user_split and (bool(sum) != self.guest_sum or bool(mxr) != self.guest_mxr):
            self.set_guest_status(sum, mxr)
        space = self._space
        if self._store_in_core and space.mode != SATP_MODE_BARE and (
                cause != 15 or self._store_fault_plain(gva, insn)):
            # A fault whose tree and leaf table exist: in one call to the core.
            tree = space.trees.get(self._view(space.mode, guest_priv))
            leaf_table = tree.leaf_tables.get(gva >> 21) if tree is not None else None
            if leaf_table is not None:
                slot = leaf_table + ((gva >> PAGE_SHIFT) & 0x1FF) * 8
                if slot not in self._slots:
                    self.fault_cause = None
                    pagemap = self._pagemap
                    done = self._guest_tables.fill_fault(
                        self._maps, tree, slot, gva, LEVELS[space.mode], space.root_ppn, ACCESS_CODE[access],
                        guest_priv, sum, mxr, self.user_split,
                        SUPERPAGE_FILL_PAGES if self.fill_superpages else 1, pagemap.hpa, pagemap.readonly,
                        self._watched)
                    if done is not None:
                        if done.__class__ is int:
                            return self._guest_fault(done, gva)
                        flushes, group_fills, maps_itself = done
                        if flushes:
                            self._flush_changed(flushes)
                        self.counters["shadow_fills"] += 1 + group_fills
                        if maps_itself:       # (see below)
                            return self._guest_fault(ACCESS_FAULT_CAUSE[STORE], gva)
                        self.counters["hidden_faults"] += 1
                        return "hidden"
        walk, fault = self.guest_walk(gva, access, guest_priv, sum, mxr)
        if walk is None:
            return self._guest_fault(fault, gva)
        data_page = walk.gpa & ~PAGE_MASK
        hpa = self.vm.gpa_to_hpa(data_page)
        if hpa is None:
            if access == FETCH or not self.vm.is_mmio(walk.gpa):
                return self._guest_fault(ACCESS_FAULT_CAUSE[access], gva)
            self._set_accessed(walk, access)
            self._fill(gva, self.vm.mmio_window(data_page) & ~PAGE_MASK, walk, access, guest_priv,
                       mmio=True)
            self.counters["hidden_faults"] += 1
            self.counters["mmio_fills"] += 1
            return "mmio"
        leaf = walk.leaf
        if leaf is not None and (leaf & PTE_A == 0 or (access == STORE and leaf & PTE_D == 0)):
            self._set_accessed(walk, access)
        if access != STORE:
            self._fill(gva, hpa & ~PAGE_MASK, walk, access, guest_priv)
            self.counters["hidden_faults"] += 1
            return "hidden"
        if self._watched:
            self._store_to_watched(data_page)
        if self._pt_refs:
            outcome = self._store_to_page_table(gva, walk, guest_priv, sum, mxr, insn)
            if outcome is not None:
                return outcome
        if self._shared(data_page):
            # The guest may write here but the frame is shared: this VM gets its own copy.
            pagemap = self._pagemap
            pagemap.counters["cow_faults"] += 1
            pagemap.break_share(pagemap.index(data_page))
            hpa = self.vm.gpa_to_hpa(data_page)
        self._fill(gva, hpa & ~PAGE_MASK, walk, access, guest_priv)
        if data_page in self._pt_refs:
            # The page maps itself: still protected, and re-running would only
            # fault again. The guest gets the store access fault instead.
            return self._guest_fault(ACCESS_FAULT_CAUSE[STORE], gva)
        self.counters["hidden_faults"] += 1
        return "hidden"

    def _store_fault_plain(self, gva, insn):
        """Whether a store fault at gva is sure not to be a store to perform
        on a page table (_store_to_page_table): no page holds PTEs a slot
        depends on, or the store, decoded from insn, lies within gva's page
        (the core checks that page holds none)."""
        if not self._pt_refs:
            return True
        op = _decode_store(insn) if insn else None
        if op is None or op[2] is None:
            return False
        start = (self.core.get_x(op[2]) + op[3]) & MASK64
        return start <= gva < start + op[1] and start >> PAGE_SHIFT == (start + op[1] - 1) >> PAGE_SHIFT

    def _guest_fault(self, cause, tval):
        self.fault_cause = cause
        self.fault_tval = tval
        self.counters["guest_faults"] += 1
        return "guest"

    def guest_walk(self, gva, access, guest_priv, sum=False, mxr=False):
        """Translate gva through the guest's current tables as the hart would,
        without side effects. Returns (GuestWalk, None) or (None, cause)."""
        space = self._space
        tables = self._guest_tables
        if tables is None or space.mode == SATP_MODE_BARE:
            return self.guest_walk_python(gva, access, guest_priv, sum, mxr)
        self.fault_cause = None
        return tables.walk(gva, LEVELS[space.mode], space.root_ppn, ACCESS_CODE[access], guest_priv,
                           sum, mxr)

    def guest_walk_python(self, gva, access, guest_priv, sum=False, mxr=False):
        """guest_walk in Python, PTE by PTE: the walk of a VM without a page
        map, and the reference the core's walk (GuestTables) is tested against."""
        space = self._space
        self.fault_cause = None
        if space.mode == SATP_MODE_BARE:
            if gva >> (BARE_SHADOW_VA_BITS - 1):
                return None, ACCESS_FAULT_CAUSE[access]     # beyond what the Sv39 shadow maps
            return GuestWalk(gva, None, None, ()), None
        levels = LEVELS[space.mode]
        va_bits = PAGE_SHIFT + 9 * levels
        top = gva >> (va_bits - 1)
        if top and top != (1 << (65 - va_bits)) - 1:
            return None, PAGE_FAULT_CAUSE[access]
        table = space.root_ppn << PAGE_SHIFT
        pte_gpas = []
        words = self._ram_words
        offsets = self._page_offsets
        if offsets is not None:
            guest_base = self._pagemap.ram_base
            guest_end = guest_base + (len(offsets) << PAGE_SHIFT)
        level = levels - 1
        shift = PAGE_SHIFT + 9 * level
        while True:
            pte_gpa = table + ((gva >> shift) & 0x1FF) * 8
            if offsets is not None:
                if not guest_base <= pte_gpa < guest_end:
                    return None, ACCESS_FAULT_CAUSE[access]
                frame = offsets[(pte_gpa - guest_base) >> PAGE_SHIFT]
                pte = words[(frame + (pte_gpa & PAGE_MASK)) >> 3]
            else:
                pte = self._read_guest_pte(pte_gpa)
                if pte is None:
                    return None, ACCESS_FAULT_CAUSE[access]
            pte_gpas.append(pte_gpa)
            # V clear, W without R, or bits pyvmm does not implement: a fault.
            if pte & (PTE_V | PTE_HIGH_BITS) != PTE_V or pte & (PTE_R | PTE_W) == PTE_W:
                return None, PAGE_FAULT_CAUSE[access]
            if pte & (PTE_R | PTE_X):
                break                 # a leaf
            if pte & (PTE_A | PTE_D | PTE_U) or not level:
                return None, PAGE_FAULT_CAUSE[access]
            table = ((pte >> 10) & PTE_PPN_MASK) << PAGE_SHIFT
            level -= 1
            shift -= 9
        ppn = (pte >> 10) & PTE_PPN_MASK
        if ppn & ((1 << (9 * level)) - 1):
            return None, PAGE_FAULT_CAUSE[access]      # misaligned superpage
        # _permitted, inline (once per shadow fill)
        if pte & PTE_U:
            if guest_priv and (access == FETCH or not sum):
                return None, PAGE_FAULT_CAUSE[access]
        elif not guest_priv:
            return None, PAGE_FAULT_CAUSE[access]
        if access == LOAD:
            if not pte & PTE_R and not (mxr and pte & PTE_X):
                return None, PAGE_FAULT_CAUSE[access]
        elif not pte & (PTE_X if access == FETCH else PTE_W):
            return None, PAGE_FAULT_CAUSE[access]
        gpa = (ppn << PAGE_SHIFT) | (gva & ((1 << shift) - 1))
        return GuestWalk(gpa, pte_gpa, pte, tuple(pte_gpas)), None

    def _read_guest_pte(self, pte_gpa):
        hpa = self.vm.gpa_to_hpa(pte_gpa)
        if hpa is None:
            return None
        return self._ram_words[(hpa - self._ram_base) >> 3]

    def _set_accessed(self, walk, access):
        # The hardware A/D update the guest would have seen.
        if walk.leaf_gpa is None:
            return
        new = walk.leaf | PTE_A | (PTE_D if access == STORE else 0)
        if new != walk.leaf:
            # Only adds rights: nothing derived from this PTE goes stale.
            if not (self._store_in_core and
                    self._guest_tables.write_pte(walk.leaf_gpa, new, self._pagemap.readonly)):
                self._write_guest(walk.leaf_gpa, new.to_bytes(8, "little"))     # (a shared frame)
            walk.leaf = new

    def _write_guest(self, gpa, data):
        # Straight to the frame (one page at most): vm.write would drop
        # shadow entries, and the pager invalidates what it changes itself.
        # A shared frame is copied for this VM first.
        pagemap = self._pagemap
        if pagemap is not None:
            index = (gpa - pagemap.ram_base) >> PAGE_SHIFT
            if 0 <= index < len(pagemap.hpa) and not pagemap.readonly[index]:
                hpa = pagemap.hpa[index] | (gpa & PAGE_MASK)      # private already
            else:
                hpa = pagemap.writable_hpa(gpa)
        else:
            hpa = self.vm.gpa_to_hpa(gpa)
        self.core.write_mem(hpa, data)

    def _shared(self, gpa_page):
        """Is this guest RAM page on a frame shared copy-on-write?"""
        pagemap = self._pagemap
        if pagemap is None:
            return False
        index = (gpa_page - pagemap.ram_base) >> PAGE_SHIFT
        return 0 <= index < len(pagemap.readonly) and bool(pagemap.readonly[index])

    # ------------------------------------------------------------------ filling

    def _fill(self, gva, hpa_page, walk, access, guest_priv, mmio=False):
        space = self._space
        # The tree (_tree) and the leaf slot (_leaf_slot), the common case inline.
        tree = space.trees.get(self._view(space.mode, guest_priv))
        if tree is None:
            tree = self._tree(space, guest_priv)
        perms, status_dependent = self._shadow_perms(space, walk, access, guest_priv)
        if mmio:
            perms &= ~PTE_X
        data_page = walk.gpa & ~PAGE_MASK
        leaf_table = tree.leaf_tables.get(gva >> 21)
        if leaf_table is not None:
            slot = leaf_table + ((gva >> PAGE_SHIFT) & 0x1FF) * 8
        else:
            slot = self._leaf_slot(tree, gva, create=True)
        slot_map = self._slots
        replaced = slot in slot_map
        if replaced:
            self._drop_slot(slot)
        deps = walk.pte_gpas
        pagemap = self._pagemap
        # The guest pages of deps that were not page tables yet get write-protected.
        flushes = self._maps.fill(slot, tree, deps, data_page, status_dependent, perms, hpa_page,
                                  self._watched, _NOT_SHARED if pagemap is None else pagemap.readonly,
                                  0 if pagemap is None else pagemap.ram_base)
        if replaced:                  # the hart may hold the old rights (read-only, other U)
            flushes += 1
        if flushes:
            self._flush_changed(flushes)
        self.counters["shadow_fills"] += 1
        if self.fill_superpages and not mmio and not status_dependent and walk.leaf_gpa is not None \
                and len(deps) < LEVELS[space.mode]:
            self._fill_superpage(tree, slot, gva, walk, perms)

    def _fill_superpage(self, tree, slot, gva, walk, perms):
        """The rest of the aligned group of SUPERPAGE_FILL_PAGES pages of a
        guest superpage around the page just filled at `slot` (one leaf
        table holds them all): the same guest PTEs, the same rights (neither
        depends on the access or the page, see _shadow_perms), each page
        still read-only where it holds page tables, is watched or is
        shared. Slots already filled, and pages that are not guest RAM, are
        left alone; nothing is replaced, so the hart's TLB holds nothing
        stale."""
        deps = walk.pte_gpas
        gpa_first = (walk.gpa & ~PAGE_MASK) - (gva & (0x1FF << PAGE_SHIFT))
        group = ((gva >> PAGE_SHIFT) & 0x1FF) & ~(SUPERPAGE_FILL_PAGES - 1)
        pagemap = self._pagemap
        if self._guest_tables is not None:        # the VM's RAM is its page map's: the loop in the core
            self.counters["shadow_fills"] += self._maps.fill_group(
                tree, slot, group, SUPERPAGE_FILL_PAGES, gpa_first, deps, perms, self._watched,
                pagemap.hpa, pagemap.readonly, pagemap.ram_base)
            return
        slots = self._slots
        words = self._ram_words
        rmap = self._rmap
        pt_refs = self._pt_refs
        data_rmap = self._data_rmap
        watched = self._watched
        gpa_to_hpa = self.vm.gpa_to_hpa
        table = slot - ((gva >> PAGE_SHIFT) & 0x1FF) * 8
        filled = []
        for index in range(group, group + SUPERPAGE_FILL_PAGES):
            neighbour = table + index * 8
            if neighbour == slot or neighbour in slots:
                continue
            data_page = gpa_first + (index << PAGE_SHIFT)
            hpa = gpa_to_hpa(data_page)
            if hpa is None:
                continue
            leaf_perms = perms
            if perms & PTE_W and (data_page in pt_refs or data_page in watched
                                  or self._shared(data_page)):
                leaf_perms &= ~PTE_W
            slots[neighbour] = (tree.root, deps, data_page, False, bool(perms & PTE_W))
            mapped = data_rmap.get(data_page)
            if mapped is None:
                data_rmap[data_page] = {neighbour}
            else:
                mapped.add(neighbour)
            tree.slots.add(neighbour)
            leaf = ((hpa >> PAGE_SHIFT) << 10) | PTE_V | PTE_A | leaf_perms
            if leaf_perms & PTE_W:
                leaf |= PTE_D
            words[(neighbour - self._ram_base) >> 3] = leaf
            filled.append(neighbour)
        if filled:
            for pte_gpa in deps:              # (the first fill made these entries)
                rmap[pte_gpa].update(filled)
                page = pte_gpa & ~PAGE_MASK
                pt_refs[page] += len(filled)
        self.counters["shadow_fills"] += len(filled)

    def _shadow_perms(self, space, walk, access, guest_priv):
        """Shadow PTE permission bits (R/W/X/U) and whether they depend on the
        guest's SUM/MXR."""
        if space.mode == SATP_MODE_BARE:
            user = PTE_U if self.user_split or guest_priv == 0 else 0
            return PTE_R | PTE_W | PTE_X | user, False
        pte = walk.leaf
        perms = pte & (PTE_R | PTE_W | PTE_X)
        if not pte & PTE_D:
            perms &= ~PTE_W
        if not self.user_split:
            return perms | (pte & PTE_U), False
        status_dependent = False
        if guest_priv != 0 and pte & PTE_U:
            perms &= ~PTE_X           # guest S never executes guest U pages
            status_dependent = True   # reachable only while the guest's SUM is set
        if access == LOAD and not pte & PTE_R:
            perms |= PTE_R            # the guest's MXR made an execute-only page readable
            status_dependent = True
        return perms | PTE_U, status_dependent

    def _leaf_slot(self, tree, gva, create=False):
        """Host address of the level-0 shadow PTE for gva (tables made on the
        way if create), or None."""
        leaf_table = tree.leaf_tables.get(gva >> 21)
        if leaf_table is not None:
            return leaf_table + ((gva >> PAGE_SHIFT) & 0x1FF) * 8
        table = tree.root
        for level in range(tree.levels - 1, 0, -1):
            index = (table - self._ram_base) // 8 + ((gva >> (PAGE_SHIFT + 9 * level)) & 0x1FF)
            pte = self._ram_words[index]
            if pte & PTE_V:
                table = ((pte >> 10) & PTE_PPN_MASK) << PAGE_SHIFT
                continue
            if not create:
                return None
            frame = self._alloc_table()
            tree.tables.append(frame)
            self._ram_words[index] = ((frame >> PAGE_SHIFT) << 10) | PTE_V
            table = frame
        tree.leaf_tables[gva >> 21] = table
        if create and not _canonical(gva, tree.levels):
            # Keys are canonical addresses: this table may alias one with another key.
            tree.leaf_tables_complete = False
        return table + ((gva >> PAGE_SHIFT) & 0x1FF) * 8

    def _alloc_table(self):
        frame = self.frames.alloc(1)
        start = (frame - self._ram_base) >> 3
        self._ram64[start:start + PTES_PER_TABLE] = 0
        self.counters["shadow_pages"] += 1
        return frame

    def _free_table(self, frame):
        self.frames.free(frame, 1)
        self.counters["shadow_pages"] -= 1

    # ------------------------------------------------------------------ for other policies

    def watch_page(self, gpa_page, on_store=None):
        """Write-protect a guest page in every shadow until the guest stores
        to it (binary translation watches the pages it translated code from).
        The first store calls on_store(gpa_page), ends the watch and then
        completes as usual; watch the page again to see the next one."""
        gpa_page &= ~PAGE_MASK
        watched = self._watched
        if gpa_page in watched and watched[gpa_page] == on_store:
            return        # protected in every shadow since: a store ends the watch first
        watched[gpa_page] = on_store
        self._write_protect(gpa_page)

    def unwatch_page(self, gpa_page):
        self._watched.pop(gpa_page & ~PAGE_MASK, None)

    def _store_to_watched(self, gpa_page):
        if gpa_page in self._watched:
            on_store = self._watched.pop(gpa_page)
            self.counters["watch_traps"] += 1
            if on_store is not None:
                on_store(gpa_page)

    def map_host_page(self, gva, hpa, pte_bits, guest_priv=1):
        """Map a page of the hypervisor's own (a translation cache, VCPU
        state) at gva in the current tree serving guest_priv: a leaf of
        pte_bits (R/W/X/U; V, A and D added). No guest PTE change drops it;
        sfence without address, eviction and close do (map it again on the
        next fault there), and so does a fill for the same gva."""
        tree = self._tree(self._space, guest_priv)
        slot = self._leaf_slot(tree, gva & MASK64, create=True)
        if slot in self._slots:
            self._drop_slot(slot)
        perms = pte_bits & (PTE_R | PTE_W | PTE_X | PTE_U)
        leaf = ((hpa >> PAGE_SHIFT) << 10) | PTE_V | PTE_A | perms | (PTE_D if perms & PTE_W else 0)
        self._ram_words[(slot - self._ram_base) >> 3] = leaf
        self._flush_tlb()

    def link_host_table(self, gva, table_hpa, guest_priv=1):
        """Point the root entry covering gva, in the current tree serving
        guest_priv, at a page table the hypervisor owns and fills itself:
        pages of its own mapped alike in every address space at once (bt's
        TC and state page), in place of any table linked there before (the
        caller picks a root entry no guest translation reaches). The pager
        never frees or changes that table; a tree reset (sfence without
        address, eviction) unlinks it: link it again."""
        tree = self._tree(self._space, guest_priv)
        index = ((tree.root - self._ram_base) >> 3) + \
            ((gva >> (PAGE_SHIFT + 9 * (tree.levels - 1))) & 0x1FF)
        entry = ((table_hpa >> PAGE_SHIFT) << 10) | PTE_V
        current = self._ram_words[index]
        if current == entry:
            return
        self._ram_words[index] = entry
        self.link_epoch += 1
        # Walks through the old table are void. The pager fills nothing
        # under a root entry no guest translation reaches, so leaf_tables
        # stays complete for the filled slots unless a table of its own
        # below that entry had been remembered.
        root_index = index - ((tree.root - self._ram_base) >> 3)
        shift = 9 * (tree.levels - 2)
        under = [key for key in tree.leaf_tables if (key >> shift) & 0x1FF == root_index]
        for key in under:
            del tree.leaf_tables[key]
        if under:
            tree.leaf_tables_complete = False
        self._flush_tlb()

    def shadow_leaf(self, gva, guest_priv=1):
        """(host address the shadow maps gva's page to, the shadow leaf PTE,
        the guest page it was filled from or None for a host page) in the
        current tree serving guest_priv, or None when nothing is mapped."""
        tree = self._tree(self._space, guest_priv)
        slot = self._leaf_slot(tree, gva & MASK64)
        if slot is None:
            return None
        leaf = self._ram_words[(slot - self._ram_base) >> 3]
        if not leaf & PTE_V:
            return None
        entry = self._slots.get(slot)
        return ((leaf >> 10) & PTE_PPN_MASK) << PAGE_SHIFT, leaf, entry[2] if entry else None

    # ------------------------------------------------------------------ snapshots

    def export_state(self, watchers=None, host_tables=None):
        """What the shadow holds, by guest address, for a snapshot: every
        address space in least-recently-used order, each tree's filled
        leaves in the order they were filled (guest page address, the guest
        PTE addresses the leaf depends on, its guest page, whether it
        depends on SUM/MXR, whether the guest's PTEs allow a store, the
        leaf's flag bits), the watched guest pages (each by the name
        `watchers` gives its callback), the tables of the hypervisor's own
        each tree links (link_host_table; by their name in `host_tables`,
        name -> (an address the table maps, its host address)), SUM/MXR as
        the pager last saw them.
        Host frames, ASIDs and the leaves' host pages are left out:
        import_state builds them on the new host. Which pages hold page
        tables, which leaves are read-only and which are filled at all decide
        the guest's hidden faults and write-protect traps (and bt's adaptive
        stores): a restored VM takes exactly the exits it would have."""
        names = {}
        for name, callback in (watchers or {}).items():
            names[callback] = name
        watched = []
        for page, callback in self._watched.items():
            if callback is not None and callback not in names:
                raise ValueError(f"guest page {page:#x} is watched by {callback!r}, which has no name")
            watched.append((page, None if callback is None else names[callback]))
        table_names = {hpa: name for name, (_, hpa) in (host_tables or {}).items()}
        where = {}                    # tree root -> (space index, view)
        spaces = []
        for number, space in enumerate(self._spaces.values()):
            trees = []
            for view, tree in space.trees.items():
                where[tree.root] = (number, view)
                trees.append((view, tree.levels, self._host_links(tree, table_names)))
            spaces.append({"mode": space.mode, "root_ppn": space.root_ppn,
                           "guest_asid": space.guest_asid, "trees": trees})
        gva_of_table = {}             # leaf table HPA -> the guest address it starts at
        for tree in self._trees.values():
            self._leaf_tables_of(tree, set(tree.tables), tree.root, tree.levels - 1, 0, gva_of_table)
        words = self._ram_words
        ram_base = self._ram_base
        leaves = []
        for slot, (root, deps, data_page, status_dependent, writable) in self._slots.items():
            number, view = where[root]
            table = slot & ~PAGE_MASK
            gva = gva_of_table[table] | (((slot & PAGE_MASK) >> 3) << PAGE_SHIFT)
            flags = words[(slot - ram_base) >> 3] & 0x3FF
            leaves.append((number, view, gva, tuple(deps), data_page, bool(status_dependent),
                           bool(writable), flags))
        current = None if self._space is None else list(self._spaces.values()).index(self._space)
        return {"guest_satp": self.guest_satp, "sum": self.guest_sum, "mxr": self.guest_mxr,
                "spaces": spaces, "current": current, "leaves": leaves, "watched": watched}

    def _host_links(self, tree, table_names):
        # (root index, table name) of the root entries pointing at tables the
        # pager does not own.
        owned = set(tree.tables)
        base = (tree.root - self._ram_base) >> 3
        links = []
        for index in range(PTES_PER_TABLE):
            pte = self._ram_words[base + index]
            if not pte & PTE_V or pte & (PTE_R | PTE_W | PTE_X):
                continue
            table = ((pte >> 10) & PTE_PPN_MASK) << PAGE_SHIFT
            if table in owned:
                continue
            if table not in table_names:
                raise ValueError(f"a shadow tree links host table {table:#x}, which has no name")
            links.append((index, table_names[table]))
        return links

    def _leaf_tables_of(self, tree, owned, table, level, gva, out):
        # The pager's own tables below `table` (a host-linked table is not
        # walked): level-0 tables into `out` with the address they map from.
        words = self._ram_words
        base = (table - self._ram_base) >> 3
        shift = PAGE_SHIFT + 9 * level
        top_bit = PAGE_SHIFT + 9 * tree.levels - 1
        for index in range(PTES_PER_TABLE):
            pte = words[base + index]
            if not pte & PTE_V or pte & (PTE_R | PTE_W | PTE_X):
                continue
            child = ((pte >> 10) & PTE_PPN_MASK) << PAGE_SHIFT
            if child not in owned:
                continue
            at = gva | (index << shift)
            if level == tree.levels - 1 and at >> top_bit:
                at |= MASK64 & ~((1 << top_bit) - 1)        # sign-extended, as the guest's are
            if level == 1:
                out[child] = at
            else:
                self._leaf_tables_of(tree, owned, child, level - 1, at, out)

    def import_state(self, state, watchers=None, host_tables=None):
        """Build the shadow export_state described, on this pager (new: it
        holds nothing yet) and this VM's frames: the same spaces, trees and
        leaves, each leaf on the host page now behind its guest page, with
        its saved rights; the same watched pages. ValueError if the state
        does not fit this VM (a guest page outside its RAM and devices)."""
        callbacks = dict(watchers or {})
        for page, name in state["watched"]:
            if name is not None and name not in callbacks:
                raise ValueError(f"guest page {page:#x} is watched for {name!r}, unknown here")
        host_tables = dict(host_tables or {})
        flushes = self.counters["tlb_flushes"]
        self.close()
        self.counters["tlb_flushes"] = flushes       # the restore's own, not the guest's
        self._spaces.clear()
        spaces = []
        for saved in state["spaces"]:
            space = _Space(saved["mode"], saved["root_ppn"], saved["guest_asid"])
            if space.mode not in (SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48):
                raise ValueError(f"address space of mode {space.mode}")
            for view, levels, links in saved["trees"]:
                if levels != max(LEVELS.get(space.mode, 3), self.shadow_levels or 0):
                    raise ValueError(f"a shadow tree of {levels} levels for mode {space.mode}")
                tree = _Tree(self._alloc_table(), self._asids.take(), levels)
                space.trees[view] = tree
                self._trees[tree.root] = tree
                for index, name in links:
                    if name not in host_tables:
                        raise ValueError(f"a shadow tree links host table {name!r}, unknown here")
                    gva, table = host_tables[name]
                    if index != (gva >> (PAGE_SHIFT + 9 * (levels - 1))) & 0x1FF:
                        raise ValueError(f"host table {name!r} linked at root entry {index}")
                    self._ram_words[((tree.root - self._ram_base) >> 3) + index] = \
                        ((table >> PAGE_SHIFT) << 10) | PTE_V
            self._spaces[(space.mode, space.root_ppn)] = space
            spaces.append(space)
        self.counters["spaces"] = len(self._spaces)
        for number, view, gva, deps, data_page, status_dependent, writable, flags in state["leaves"]:
            tree = spaces[number].trees[view]
            hpa = self.vm.gpa_to_hpa(data_page)
            if hpa is None:
                hpa = self.vm.mmio_window(data_page)      # HvError: not a device page either
            if flags & PTE_W and self._shared(data_page):
                flags &= ~(PTE_W | PTE_D)     # a frame shared copy-on-write (a clone's RAM)
            slot = self._leaf_slot(tree, gva, create=True)
            if slot in self._slots:
                raise ValueError(f"two shadow leaves for guest address {gva:#x}")
            self._maps.depend(slot, tuple(deps))
            self._maps.add(slot, tree, tuple(deps), data_page, status_dependent, writable,
                           ((hpa >> PAGE_SHIFT) << 10) | flags)
        self.restore_watched(state["watched"], callbacks)
        self.guest_sum = bool(state["sum"])
        self.guest_mxr = bool(state["mxr"])
        self.guest_satp = state["guest_satp"]
        self._space = None if state["current"] is None else spaces[state["current"]]
        self.link_epoch += 1
        self.core.flush_tlb()

    def restore_watched(self, watched, watchers=None):
        """The watched guest pages exactly as export_state listed them (page,
        callback name), in place of those watched now; the leaves keep the
        rights they have."""
        callbacks = dict(watchers or {})
        self._watched.clear()
        for page, name in watched:
            self._watched[page] = None if name is None else callbacks[name]

    # ------------------------------------------------------------------ protection, invalidation

    def _write_protect(self, page):
        # A guest page just became a page-table page (or watched): no shadow
        # may let the guest store to it without the pager seeing it.
        if self._maps.write_protect(page):
            self._flush_tlb()

    def _restore_writes(self, pages):
        # Guest pages that may no longer hold any PTE a shadow entry came
        # from (a freed page table, a kernel's fixmap slot cleared): the
        # entries mapping them get back the store right their guest PTE
        # gives (ShadowSlots.restore_writes says which).
        pagemap = self._pagemap
        self._maps.restore_writes(pages, self._watched, _NOT_SHARED if pagemap is None else pagemap.readonly,
                                  0 if pagemap is None else pagemap.ram_base)

    def remap_pages(self, gpa_pages):
        """These guest pages changed frame or became read-only (copy-on-write
        sharing): drop the shadow entries mapping them, which refill from the
        VM's page map on the next access."""
        dropped = 0
        for page in gpa_pages:
            for slot in list(self._data_rmap.get(page & ~PAGE_MASK, ())):
                self._drop_slot(slot)
                dropped += 1
        if dropped:
            self.counters["invalidations"] += dropped
            self._flush_tlb()
        return dropped

    def _unprotect(self, page):
        dropped = 0
        for pte_gpa in range(page, page + PAGE_SIZE, 8):
            for slot in list(self._rmap.get(pte_gpa, ())):
                self._drop_slot(slot)
                dropped += 1
        self.counters["unprotects"] += 1
        self.counters["invalidations"] += dropped
        self._flush_tlb()

    def _drop_slot(self, slot):
        self._drop_slots((slot,))

    def _drop_slots(self, slots):
        """Forget shadow `slots`, in their order: each entry, its dependence on
        the guest PTEs it was filled from, and its data page's mapping; a page
        no longer holding any guest page table gets its write right back once
        all are gone (a tree reset drops hundreds at a time)."""
        freed = self._maps.drop(slots)
        if freed:
            self._restore_writes(freed)

    def _reset_tree(self, tree):
        self.link_epoch += 1
        if tree.slots:
            self._drop_slots(list(tree.slots))
        for frame in tree.tables:
            self._free_table(frame)
        tree.tables = []
        tree.leaf_tables.clear()
        tree.leaf_tables_complete = True
        start = (tree.root - self._ram_base) >> 3
        self._ram64[start:start + PTES_PER_TABLE] = 0

    def _release_space(self, space):
        self.link_epoch += 1
        for tree in space.trees.values():
            self._reset_tree(tree)
            self._free_table(tree.root)
            del self._trees[tree.root]
            self._asids.give(tree.asid)
        space.trees = {}
        self._flush_tlb()             # a recycled ASID must not find old entries

    def _flush_tlb(self):
        self.core.flush_tlb()
        self.counters["tlb_flushes"] += 1
        self._maps.take_changed()     # (all of it went)

    def _flush_changed(self, flushes=1):
        """The hart loses what its TLB may hold of the leaves dropped or made
        read-only since the last flush (ShadowSlots.changed), as a hypervisor
        flushes a page whose shadow entry it changed: page by page when they
        are few and each one's address is known, else everything. Counted
        as the `flushes` flushes the pager asked for."""
        gvas = self._maps.take_changed_gvas()
        if gvas is None:
            self.core.flush_tlb()
        else:
            self.core.flush_tlb_pages(gvas)
        self.counters["tlb_flushes"] += flushes

    # ------------------------------------------------------------------ emulated stores

    def _store_to_page_table(self, gva, walk, guest_priv, sum, mxr, insn):
        """If the faulting store writes a guest page-table page, perform it on
        guest memory and step past it: "emulated" (or "guest" if a second
        page of a misaligned store is the guest's fault). None: not a store
        to a page table, fill as usual."""
        core = self.core
        op = _decode_store(insn) if insn else None
        if op is None:                # no instruction given, or not a store: read the guest's
            fetched = self._fetch_insn(core.pc, guest_priv)
            op = _decode_store(fetched) if fetched is not None else None
        if op is None:
            if walk.gpa & ~PAGE_MASK in self._pt_refs:
                # An instruction the pager cannot perform (none in RV64IMAC):
                # stop shadowing through this page so it can be mapped writable.
                self._unprotect(walk.gpa & ~PAGE_MASK)
            return None
        if walk.gpa & ~PAGE_MASK not in self._pt_refs and op[2] is not None:
            # The common store fault (first store to a page, D not yet set):
            # when all of it lands in this one page, which holds no PTE,
            # there is nothing to perform.
            start = (core.get_x(op[2]) + op[3]) & MASK64
            if start <= gva < start + op[1] and start >> PAGE_SHIFT == (start + op[1] - 1) >> PAGE_SHIFT:
                return None
        outcome = self._perform_store(op, gva, walk, guest_priv, sum, mxr, page_tables_only=True)
        if outcome == "emulated":
            core.pc = (core.pc + length_of(op)) & MASK64
            self.counters["wp_traps"] += 1
        return outcome

    def emulate_store(self, insn, guest_priv, sum, mxr):
        """Perform the store or AMO instruction `insn` (operands in the core's
        registers) as the guest's hart would, wherever it writes: through the
        guest's tables (A and D set as the hardware sets them), onto guest RAM,
        dropping the shadow entries derived from PTEs it changes. For a
        translator that calls out for stores it expects to hit page tables.
        Returns "emulated" (done, and it wrote a page-table page), "stored"
        (done, to ordinary RAM) — the pc is the caller's to advance either
        way —, "guest" (the guest's own fault: fault_cause, fault_tval) or
        None (the target is not guest RAM, e.g. MMIO: nothing done, run the
        store for real).
        The guest's misaligned AMO is its address-misaligned fault."""
        op = _decode_store(insn)
        if op is None or op[2] is None:
            raise ValueError(f"{insn:#x} is not a store or AMO with its base register")
        kind, size, base, offset = op[:4]
        gva = (self.core.get_x(base) + offset) & MASK64
        if kind == "amo" and gva % size:
            return self._guest_fault(6, gva)
        space = self._space
        if self._store_in_core and (kind == "amo" or (gva & PAGE_MASK) + size <= PAGE_SIZE) \
                and space.mode != SATP_MODE_BARE and not (
                    self.user_split and (bool(sum) != self.guest_sum or bool(mxr) != self.guest_mxr)):
            # The common store (a PTE written whole, or by an AMO) in one call to the core.
            self.fault_cause = None
            done = self._guest_tables.store(self._maps, gva, LEVELS[space.mode], space.root_ppn, guest_priv,
                                            sum, mxr, size, self.core.get_x(op[4]), self._pagemap.readonly,
                                            self._watched, op[6] if kind == "amo" else -1)
            if done is not None:
                if done.__class__ is int:
                    return self._guest_fault(done, gva)
                page_table, dropped, freed, result = done
                if kind == "amo" and op[5]:
                    self.core.set_x(op[5], result)
                self._after_invalidate(dropped, freed)
                return "emulated" if page_table else "stored"
        walk, fault = self.guest_walk(gva, STORE, guest_priv, sum, mxr)
        if walk is None:
            return self._guest_fault(fault, gva)
        if self.user_split:
            self.set_guest_status(sum, mxr)
        if kind == "store" and (gva & PAGE_MASK) + size <= PAGE_SIZE:
            return self._perform_plain_store(op, walk)
        return self._perform_store(op, gva, walk, guest_priv, sum, mxr, page_tables_only=False)

    def _perform_plain_store(self, op, walk):
        """_perform_store of a plain store within one page (most of those a
        translator calls out for: a PTE written whole), without its
        page-by-page pieces."""
        gpa = walk.gpa
        if self.vm.gpa_to_hpa(gpa) is None:
            return None
        page = gpa & ~PAGE_MASK
        page_table = page in self._pt_refs
        self._set_accessed(walk, STORE)
        if self._watched:
            self._store_to_watched(page)
        size = op[1]
        self._write_guest(gpa, (self.core.get_x(op[4]) & ((1 << (8 * size)) - 1))
                          .to_bytes(size, "little"))
        self.invalidate_gpa(gpa, size)
        return "emulated" if page_table else "stored"

    def _perform_store(self, op, gva, walk, guest_priv, sum, mxr, page_tables_only):
        """The store `op` that faulted (or would) at gva, walk its translation:
        performed on guest memory, "emulated" (a page-table page written) or
        "stored" (none); "guest" when a second page of a misaligned store is
        the guest's fault; None when not performed (the first page is not
        RAM, or page_tables_only and no page-table page is written)."""
        core = self.core
        kind, size, base, offset, rs2, rd, funct5, length = op
        addr = gva
        if base is not None:
            start = (core.get_x(base) + offset) & MASK64
            if start <= gva < start + size:
                addr = start          # the fault may name the second page of a misaligned store
        pieces = []                   # (gva, gpa, length) page by page
        placed = 0                    # bytes the pieces cover
        while len(pieces) < 2 and placed < size:
            at = (addr + placed) & MASK64
            length = min(size - placed, PAGE_SIZE - (at & PAGE_MASK))
            if at >> PAGE_SHIFT == gva >> PAGE_SHIFT:
                piece_walk = walk
            else:
                piece_walk, cause = self.guest_walk(at, STORE, guest_priv, sum, mxr)
                if piece_walk is None:
                    return self._guest_fault(cause, at)
            if self.vm.gpa_to_hpa(piece_walk.gpa) is None:
                if at >> PAGE_SHIFT == gva >> PAGE_SHIFT:
                    return None
                return self._guest_fault(ACCESS_FAULT_CAUSE[STORE], at)
            pieces.append((at, piece_walk, length))
            placed += length
        page_table = any(w.gpa & ~PAGE_MASK in self._pt_refs for _, w, _ in pieces)
        if page_tables_only and not page_table:
            return None
        for _, piece_walk, _ in pieces:
            self._set_accessed(piece_walk, STORE)
            if self._watched:
                self._store_to_watched(piece_walk.gpa & ~PAGE_MASK)
        value = core.get_x(rs2) & ((1 << (8 * size)) - 1)
        if kind == "amo":             # aligned, so one piece
            gpa = pieces[0][1].gpa
            old = int.from_bytes(self.core.read_mem(self.vm.gpa_to_hpa(gpa), size), "little")
            if funct5 == AMO_SC:
                new, result = value, 0
            else:
                new, result = _amo(funct5, old, value, size), _sign_extend(old, size)
            value = new
        data = value.to_bytes(size, "little")
        done = 0
        for _, piece_walk, length in pieces:
            self._write_guest(piece_walk.gpa, data[done:done + length])
            done += length
        if kind == "amo" and rd:
            core.set_x(rd, result & MASK64)
        for _, piece_walk, length in pieces:
            self.invalidate_gpa(piece_walk.gpa, length)
        return "emulated" if page_table else "stored"

    def _fetch_insn(self, pc, guest_priv):
        parcels = []
        for offset in (0, 2):
            walk, _ = self.guest_walk((pc + offset) & MASK64, FETCH, guest_priv)
            self.fault_cause = None
            if walk is None or self.vm.gpa_to_hpa(walk.gpa) is None:
                return None
            parcels.append(int.from_bytes(self.vm.read(walk.gpa, 2), "little"))
            if parcels[0] & 3 != 3:
                return parcels[0]
        return parcels[0] | (parcels[1] << 16)


def retire_performed_store(vcpu):
    """Count a store the pager performed ("emulated") as the hart counts one
    it runs: one instruction retired by the VCPU and one instruction of the
    clock time derives from. Whether a store faults on a write-protected page
    table depends on what the shadow holds (kept across sfence.vma, refilled
    after a restore), which the guest must not be able to tell by its
    instret, its time or its timer interrupts."""
    vcpu.instret += 1
    vcpu.core.clock_insns += 1


def _canonical(va, levels):
    """Is va a valid (sign-extended) address of a tree with this many levels?"""
    top = va >> (PAGE_SHIFT + 9 * levels - 1)
    return top == 0 or top == (1 << (65 - PAGE_SHIFT - 9 * levels)) - 1


def _permitted(pte, access, guest_priv, sum, mxr):
    if pte & PTE_U:
        if guest_priv != 0 and (access == FETCH or not sum):
            return False
    elif guest_priv == 0:
        return False
    if access == FETCH:
        return bool(pte & PTE_X)
    if access == LOAD:
        return bool(pte & PTE_R or (mxr and pte & PTE_X))
    return bool(pte & PTE_W)


def length_of(op):
    return op[7]


@functools.lru_cache(maxsize=4096)
def _decode_store(insn):
    """(kind, size, base register, offset, rs2, rd, funct5, length) of a store
    or AMO, or None. Accepts the raw instruction (16 or 32 bits) or the
    transformed form a trap reports in htinst (a compressed store expanded,
    bits 1:0 = 01; no base register there: None)."""
    insn &= 0xFFFF_FFFF
    if insn & 3 == 3 or (insn & 3 == 1 and insn >> 16):
        transformed = insn & 3 != 3 or not (insn >> 15) & 31
        length = 4 if insn & 3 == 3 else 2
        insn |= 3
        opcode = insn & 0x7F
        funct3 = (insn >> 12) & 7
        rs1 = None if transformed else (insn >> 15) & 31
        rs2 = (insn >> 20) & 31
        if opcode == OPCODE_STORE and funct3 <= 3:
            offset = ((insn >> 25) << 5) | ((insn >> 7) & 31)
            if offset >= 1 << 11:
                offset -= 1 << 12
            return "store", 1 << funct3, rs1, offset, rs2, 0, 0, length
        if opcode == OPCODE_AMO and funct3 in (2, 3):
            funct5 = insn >> 27
            if funct5 == AMO_LR or _amo(funct5, 0, 0, 4) is None and funct5 != AMO_SC:
                return None
            return "amo", 1 << funct3, rs1, 0, rs2, (insn >> 7) & 31, funct5, length
        return None
    insn &= 0xFFFF
    quadrant = insn & 3
    funct3 = insn >> 13
    if quadrant == 0 and funct3 in (6, 7):               # c.sw, c.sd
        offset = ((insn >> 7) & 0x38) | (((insn >> 6) & 1) << 2 if funct3 == 6 else ((insn << 1) & 0xC0))
        if funct3 == 6:
            offset |= ((insn >> 5) & 1) << 6
        return "store", 4 if funct3 == 6 else 8, 8 + ((insn >> 7) & 7), offset, \
            8 + ((insn >> 2) & 7), 0, 0, 2
    if quadrant == 2 and funct3 in (6, 7):               # c.swsp, c.sdsp
        if funct3 == 6:
            offset = ((insn >> 7) & 0x3C) | ((insn >> 1) & 0xC0)
        else:
            offset = ((insn >> 7) & 0x38) | ((insn >> 1) & 0x1C0)
        return "store", 4 if funct3 == 6 else 8, 2, offset, (insn >> 2) & 31, 0, 0, 2
    return None


def _sign_extend(value, size):
    bits = 8 * size
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _amo(funct5, old, operand, size):
    mask = (1 << (8 * size)) - 1
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
    if funct5 in (0x10, 0x14):
        signed_old, signed_operand = _sign_extend(old, size), _sign_extend(operand, size)
        pick = min if funct5 == 0x10 else max
        return pick(signed_old, signed_operand) & mask
    if funct5 == 0x18:
        return min(old, operand)
    if funct5 == 0x1C:
        return max(old, operand)
    return None

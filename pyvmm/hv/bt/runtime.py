"""The BT runtime: trap-and-emulate's virtual hart with a translation cache
in front of the guest kernel.

Everything trap_emulate does stays (the virtual supervisor state, SBI, the
shadow pager with ring compression, reflection of guest traps, the timer,
MMIO); what changes is how the guest kernel's instructions reach the core:

* virtual S: the core runs the kernel's translated blocks in the TC (real
  U-mode, kernel shadow tree), so its sensitive instructions never trap by
  accident; they are callouts (an `ecall` in the TC the runtime recognises
  by address) or inline accesses to the VCPU-state page.
* virtual U: guest user code runs in place, untranslated, as under trap-emulate.

The VCPU's pc is always the *guest* pc: hypercalls, reflection and
interrupt delivery see the addresses the guest would. Setting it marks the
core's pc stale; the next run resolves it to a TC address (looking the
block up, translating it on a miss). A callout that resumes right after
itself (CSR, sfence.vma, wfi, ecall) leaves a continuation, so resolving
its next pc costs nothing.

Interrupts are taken at TC instruction boundaries only (the first word of a
rewrite): a pending one finds the core mid-rewrite at most a few words
away, and the VCPU single-steps there first.

While the core runs translated code its gp holds the state page's address
(layout.BASE_REG) and the guest's gp waits in the state page; every exit
puts the guest's value back, so everything outside the core (emulation,
SBI, the pager, snapshots, a debugger) sees the guest's registers only.
"""


import numpy as np

from pyvmm.hv.bt import layout
from pyvmm.hv.bt.cache import ENTRY_BYTES, IndirectTable, TranslationCache
from pyvmm.hv.bt.translator import FetchFault
from pyvmm.hv.exits import Exit
from pyvmm.hv.host import HvError
from pyvmm.hv.trap_emulate import TrapEmulatePolicy, TrapEmulateVCPU
from pyvmm.hv.vcpu import CORE_EXIT_TRAP
from pyvmm.hv.vcpu_state import NAMED_CSRS, PRIV_S, PRIV_U, SSTATUS_FS, SSTATUS_MXR, \
    SSTATUS_SUM, SSTATUS_UXL_64, SupervisorState
from pyvmm.isa import causes

MASK64 = (1 << 64) - 1
INTERRUPT_BIT = 1 << 63
EXC_ECALL_U = causes.EXC_ECALL_U
EXC_LOAD_PAGE_FAULT = causes.EXC_LOAD_PAGE_FAULT
EXC_STORE_PAGE_FAULT = causes.EXC_STORE_PAGE_FAULT
BASE_REG, STATE_GVA = layout.BASE_REG, layout.STATE_GVA
REG_A0, REG_A7 = 10, 17
CSR_SCOUNTEREN = 0x106
SCOUNTEREN_TM = 1 << 1                   # U-mode may read `time`

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D = 1, 2, 4, 8, 16, 64, 128
TC_PTE = PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
PTE_A_D = PTE_A | PTE_D
STATE_PTE = PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
TABLE_PTE = PTE_V | PTE_R | PTE_U | PTE_A           # translated code only reads the lookup table

# Callouts after which the guest goes on with its next instruction.
CONTINUING = frozenset(("csr", "sfence", "wfi", "ecall"))
EMULATED = frozenset(("csr", "sfence", "wfi", "sret"))
# Callouts BTVCPU.run completes itself and goes on: the frequent ones whose
# completion can neither stop the VM nor block the VCPU (it may move the
# guest pc, raise a guest trap or translate a block: the checks before the
# next entry see to that), so the slice surely goes on after them. Not wfi
# (it may block), nor ecall (an SBI call may stop the VM).
SHORT_CALLOUTS = frozenset(("ptstore", "csr", "sret", "exit", "jalr"))
# ...and other traps of the guest completed alike: its page faults (shadow
# fills above all) and the host timer that stands for its own.
CHEAP_TRAPS = frozenset((causes.EXC_INST_PAGE_FAULT, causes.EXC_LOAD_PAGE_FAULT,
                         causes.EXC_STORE_PAGE_FAULT, INTERRUPT_BIT | causes.IRQ_M_TIMER))
MAX_FETCH_REFLECTIONS = 4
# Adaptive BT: write-protect traps emulated at one guest store before it is
# retranslated as a "ptstore" callout (Adams & Agesen: a trap costs ~10x a callout).
PTSTORE_TRAPS = 2
# ...and ptstore callouts in a row that wrote no page table before it is
# copied again (a callout costs a plain store's price many times over).
PTSTORE_PLAIN = 8


class PageBackedState(SupervisorState):
    """SupervisorState whose CSRs live in the VCPU-state page (host RAM), so
    that translated code reads and writes them with plain loads and stores
    while Python keeps using the attributes (properties over the page's
    slots, set up below the class)."""

    def __init__(self, ram_words, index, **options):
        self._words = ram_words          # host RAM as 64-bit words (a memoryview: fast ints)
        self._index = index
        super().__init__(**options)

    def pending_interrupt(self):
        # Asked before every run of the core: nothing pending and enabled
        # is the common answer, read straight from the two slots.
        words, index = self._words, self._index
        if not words[index + _SIP_SLOT] & words[index + _SIE_SLOT]:
            return None
        return super().pending_interrupt()

    def read(self, csr):
        # A CSR in a slot reads as the slot holds it (sstatus with UXL, as
        # its setter stores it), without the property in between.
        slot = _READ_SLOT.get(csr)
        if slot is None:
            return super().read(csr)
        value = self._words[self._index + slot]
        return value | SSTATUS_UXL_64 if slot == _SSTATUS_SLOT else value


def _slot_property(name, offset):
    slot = offset // 8
    # Read on every exit (sstatus above all): one accessor pair per slot, so
    # that a read is an index and nothing else.
    if name == "sstatus":
        def get(self):
            return self._words[self._index + slot] & ~SSTATUS_UXL_64

        def set(self, value):
            # UXL is what an inline read must see
            self._words[self._index + slot] = (value | SSTATUS_UXL_64) & MASK64
    else:
        def get(self):
            return self._words[self._index + slot]

        def set(self, value):
            self._words[self._index + slot] = value & MASK64

    return property(get, set, doc=f"the virtual {name}, in its state-page slot")


_SIP_SLOT = layout.STATE_OFFSET["sip"] // 8
_SIE_SLOT = layout.STATE_OFFSET["sie"] // 8
_SSTATUS_SLOT = layout.STATE_OFFSET["sstatus"] // 8
# CSR number -> its slot, for the CSRs SupervisorState.read answers with the
# register's value as is (sstatus: with UXL).
_READ_SLOT = {NAMED_CSRS[name]: offset // 8 for name, offset in layout.STATE_OFFSET.items()}
for _name, _offset in layout.STATE_OFFSET.items():
    setattr(PageBackedState, _name, _slot_property(_name, _offset))


class RuntimeTables:
    """The VCPU's own pages (state page, lookup table, TC pages) as a
    page-table subtree in host frames: the levels below the root entry
    covering RUNTIME_BASE, a leaf table per 2 MiB in use. Every shadow tree
    the VCPU's guest kernel runs on links to it with one root entry, so
    neither a new address space nor a guest sfence.vma costs more than that
    entry."""

    def __init__(self, core, frames, levels):
        self._ram64 = core.ram.view(np.uint64)
        self._ram_base = core.ram_base
        self._frames = frames
        self.levels = levels
        self.tables = [self._zeroed() for _ in range(levels - 1)]   # top (below the root) first
        for level, (table, below) in enumerate(zip(self.tables, self.tables[1:])):
            self._set(table, levels - 2 - level, layout.RUNTIME_BASE, ((below >> 12) << 10) | PTE_V)
        self.leaves = {0: self.tables[-1]}    # 2 MiB region index -> its leaf table
        self.mapped = set()               # page GVAs with a leaf

    @property
    def top(self):
        return self.tables[0]

    def _zeroed(self):
        table = self._frames.alloc(1)
        start = (table - self._ram_base) >> 3
        self._ram64[start:start + 512] = 0
        return table

    def _set(self, table, level, gva, pte):
        index = ((table - self._ram_base) >> 3) + ((gva >> (12 + 9 * level)) & 0x1FF)
        self._ram64[index] = pte

    def map(self, gva, hpa, pte_bits):
        """A leaf for the page at gva (within the 1 GiB the runtime's
        second-to-last table covers)."""
        region = (gva - layout.RUNTIME_BASE) >> 21
        if not 0 <= region < 512:
            raise HvError(f"bt: {gva:#x} is outside the runtime's 1 GiB")
        leaf = self.leaves.get(region)
        if leaf is None:
            leaf = self.leaves[region] = self._zeroed()
            self._set(self.tables[-2], 1, gva, ((leaf >> 12) << 10) | PTE_V)
        self._set(leaf, 0, gva, ((hpa >> 12) << 10) | pte_bits)
        self.mapped.add(gva & ~(layout.PAGE_SIZE - 1))


class BTVCPU(TrapEmulateVCPU):
    # Does run() complete the cheap exits itself (when its caller counts
    # them)? Off, every exit goes back to the caller: the reference a test
    # compares with.
    short_path = True

    def __init__(self, vm, hartid=0):
        super().__init__(vm, hartid)
        core = self.core
        frames = vm.host.frames
        self.state_hpa = frames.alloc(1)
        ram64 = core.ram.view(np.uint64)
        index = (self.state_hpa - core.ram_base) // 8
        ram64[index:index + layout.PAGE_SIZE // 8] = 0
        old = self.state
        ram_words = memoryview(core.ram).cast("B").cast("Q")
        self.state = PageBackedState(ram_words, index, counters=self._read_counter, stce=old.stce)
        table_pages = layout.IBL_BYTES // layout.PAGE_SIZE
        table = IndirectTable(core, frames.alloc(table_pages))
        self.tc = TranslationCache(core, frames, table)
        self.runtime_tables = RuntimeTables(core, frames, layout.SHADOW_LEVELS)
        self.runtime_tables.map(layout.STATE_GVA, self.state_hpa, STATE_PTE)
        for page in range(table_pages):
            self.runtime_tables.map(layout.IBL_GVA + page * layout.PAGE_SIZE,
                                    table.hpa + page * layout.PAGE_SIZE, TABLE_PTE)
        self._guest_pc = self._pc
        self._pc_stale = False            # the core's pc must be resolved from _guest_pc
        self._continuation = None         # (guest pc, TC address) a callout resumes at
        self.pending_callout = None       # (TC address, callout record) of the exit being handled
        self.fetch_pages = {}             # guest code page (GVA) -> guest page (GPA)
        self.fetch_hpa = {}               # guest code page (GVA) -> host page behind it
        self.code_walks = {}              # translated code page (GVA) -> the guest page (GPA) it was
        self.walk_tables = {}             # page-table page (GPA) -> code pages (GVA) walked through it
        self.stale_tables = set()         # walk_tables pages stored to since the last sfence.vma
        self._linked_pager = None         # the pager, and its link_epoch, when run() last linked
        self._linked_epoch = None         # the runtime tables (no link needed while both hold)
        self._ram16 = memoryview(core.ram).cast("B").cast("H")   # parcels as plain ints
        self._ram_base = core.ram_base
        self.lookups = 0
        self.lookup_misses = 0
        self.interrupt_steps = 0          # single steps to a boundary for a pending interrupt
        self.entry_instret = 0            # instret when run() last entered the core
        self._ram_words = ram_words
        self._guest_gp_index = index + layout.GUEST_GP // 8
        self._sfence_work_index = index + layout.SFENCE_WORK // 8
        self._base_in_gp = False          # the core's gp holds STATE_GVA, the guest's is saved
        self._stand_in = None             # register renaming gp where the last exit faulted
        self._hart_scounteren = None      # what the hart's scounteren holds (None: unknown)
        self._sstatus_index = index + layout.STATE_OFFSET["sstatus"] // 8
        self._sip_index = index + layout.STATE_OFFSET["sip"] // 8
        self._sie_index = index + layout.STATE_OFFSET["sie"] // 8

    # -- the guest pc ----------------------------------------------------------------------------

    @property
    def pc(self):
        if self.state.priv == PRIV_U:
            return self.core.pc if self.loaded else self._pc
        if self._pc_stale:
            return self._guest_pc
        if not self.loaded:
            # Saved out of the core inside a translation, the VCPU stands at _pc
            # (_guest_pc is only where it last entered one); never loaded yet, at
            # _guest_pc.
            guest = self.tc.guest_pc_at(self._pc)
            return self._guest_pc if guest is None else guest
        guest = self.tc.guest_pc_at(self.core.pc)
        if guest is None:
            raise HvError(f"bt: core pc {self.core.pc:#x} is outside every translated block")
        return guest

    @pc.setter
    def pc(self, value):
        value &= MASK64
        if self.state.priv == PRIV_U:
            self._pc_stale = False
            if self.loaded:
                self.core.pc = value
            else:
                self._pc = value
            return
        continuation = self._continuation
        self._continuation = None
        if continuation is not None and continuation[0] == value and self.loaded:
            self.core.pc = continuation[1]
            self._pc_stale = False
            return
        self._guest_pc = value
        self._pc_stale = True

    def resume_at(self, tc_addr):
        """Go on at TC address tc_addr, after a callout of this VCPU's own
        run (so the core holds it, in translated kernel code): what setting
        the guest pc does, for a pc whose translation is known."""
        self.core.pc = tc_addr
        self._pc_stale = False
        self._continuation = None

    def save(self):
        stale_s = self.state.priv == PRIV_S and self._pc_stale
        super().save()
        if stale_s:
            self._pc_stale = True

    def _load(self):
        super()._load()
        self._hart_scounteren = 0         # trap-emulate's _load: every counter read traps
        if self.state.priv == PRIV_S and not self._pc_stale:
            self.core.pc = self._pc

    def _counters_for(self, priv):
        """The hart's scounteren for the guest mode about to run: translated
        kernel code reads `time` itself (the virtual mcounteren grants the
        guest kernel every counter, and its time is the host's mtime); guest
        user code's reads trap, for the virtual scounteren to decide."""
        wanted = SCOUNTEREN_TM if priv == PRIV_S else 0
        if wanted != self._hart_scounteren:
            self.core.write_csr(CSR_SCOUNTEREN, wanted)
            self._hart_scounteren = wanted

    def state_slot(self, offset):
        """A 64-bit slot of the VCPU-state page."""
        return self._ram_words[(self.state_hpa - self.core.ram_base + offset) >> 3]

    def export_runtime_state(self):
        """The VCPU-state page's slots in use (virtual CSRs, the spill slots
        a rewrite interrupted by a stop still needs), for a snapshot. The
        guest's gp is in the register file whenever the VCPU is stopped."""
        return self.core.read_mem(self.state_hpa, layout.STATE_BYTES)

    def import_runtime_state(self, data):
        if len(data) != layout.STATE_BYTES:
            raise HvError(f"bt: runtime state of {len(data)} bytes, not {layout.STATE_BYTES}")
        self.core.write_mem(self.state_hpa, bytes(data))

    def export_fetch_map(self):
        """What the VCPU knows of the guest's code pages, for a snapshot: the
        guest page each code page (GVA) was fetched from, the walks that found
        them (PTE addresses and values), which page-table pages those walks
        read and which of them the guest stored to since its last sfence.vma;
        and the TC pages its runtime tables map (as TC offsets). They decide
        which stores are watched, which sfence.vma drops blocks and which TC
        fetches fault: a restored VCPU exits, translates and drops exactly
        what it would have."""
        return {"fetch_pages": sorted(self.fetch_pages.items()),
                "code_walks": [(page, gpa, tuple(ptes), tuple(values))
                               for page, (gpa, ptes, values) in sorted(self.code_walks.items())],
                "walk_tables": [(table, sorted(pages))
                                for table, pages in sorted(self.walk_tables.items())],
                "stale_tables": sorted(self.stale_tables),
                "tc_pages": sorted(page - self.tc.base for page in self.runtime_tables.mapped
                                   if self.tc.contains(page))}

    def import_fetch_map(self, saved, translated=False):
        """Know the guest's code pages as export_fetch_map saw them. With
        `translated`, every code page a walk ever found is known as fetched
        (from the guest page that walk found), not only those fetched in the
        current address space: for translating the saved blocks again, some
        translated under another one (a kernel's first, before it turned its
        MMU on). Import again without it once they are."""
        self.fetch_pages = dict(saved["fetch_pages"])
        if translated:
            known = {page: gpa for page, gpa, _, _ in saved["code_walks"]}
            known.update(self.fetch_pages)
            self.fetch_pages = known
        self.fetch_hpa.clear()
        self.code_walks = {page: (gpa, tuple(ptes), tuple(values))
                           for page, gpa, ptes, values in saved["code_walks"]}
        self.walk_tables = {table: set(pages) for table, pages in saved["walk_tables"]}
        self.stale_tables = set(saved["stale_tables"])
        # Translated sfence.vma calls out while some walked table is stale (note_stale_table).
        self._ram_words[self._sfence_work_index] = 1 if self.stale_tables else 0

    def map_tc_pages(self, offsets):
        """Leaves for the TC pages at these offsets (export_fetch_map's
        tc_pages), once the TC is rebuilt."""
        tables = self.runtime_tables
        for offset in offsets:
            page = self.tc.base + offset
            if page not in tables.mapped:
                tables.map(page, self.tc.hpa_of(page), TC_PTE)

    def restore_stand_in(self):
        """A fault the guest is about to see stopped a renamed instruction:
        give the register standing in for gp its guest value back."""
        reg = self._stand_in
        self._stand_in = None
        if reg is not None:
            self.set_x(reg, self.state_slot(layout.SPILL_RENAME))

    def at_boundary(self):
        """Can the guest take an interrupt where the core stands?"""
        if self.state.priv == PRIV_U or self._pc_stale:
            return True
        return self.core.pc in self.tc.boundaries

    # -- guest code ----------------------------------------------------------------------------

    def _fetch(self, gva):
        parcels, first = self._code_page(gva)
        # pcs are even: a parcel never straddles a page
        return parcels[first + ((gva & (layout.PAGE_SIZE - 1)) >> 1)]

    def _code_page(self, gva):
        """The parcels of the guest code page holding gva, for the
        translator: (host RAM as 16-bit parcels, the index of the page's
        first); FetchFault (at gva) when the guest cannot fetch there."""
        page = gva & ~(layout.PAGE_SIZE - 1)
        hpa_page = self.fetch_hpa.get(page)
        if hpa_page is None:
            gpa_page = self.fetch_pages.get(page)
            if gpa_page is None:
                status = self.state.sstatus
                walk, cause = self.vm.pager.guest_walk(gva, "fetch", PRIV_S,
                                                       bool(status & SSTATUS_SUM),
                                                       bool(status & SSTATUS_MXR))
                if walk is None:
                    raise FetchFault(gva, cause)
                gpa_page = walk.gpa & ~(layout.PAGE_SIZE - 1)
                self.fetch_pages[page] = gpa_page
                self._note_code_walk(page, gpa_page, walk.pte_gpas)
            hpa_page = self.vm.gpa_to_hpa(gpa_page)
            if hpa_page is None:
                raise FetchFault(gva, causes.EXC_INST_ACCESS)
            self.fetch_hpa[page] = hpa_page
        return self._ram16, (hpa_page - self._ram_base) >> 1

    def _note_code_walk(self, page, gpa_page, pte_gpas):
        """Blocks are keyed by guest virtual pc: remember which guest page
        code page `page` maps to through which PTEs (and their values), and
        watch the page-table pages holding them, so that a remapped code
        page (a module unloaded, another loaded at its address) drops its
        blocks (revalidate_code). Kept as tuples of ints (None for a PTE
        outside guest RAM), which the garbage collector stops tracking: a
        booting Linux walks thousands of code pages."""
        self.code_walks[page] = (gpa_page, pte_gpas, self._pte_values(pte_gpas))
        self._watch_code_walk(page, pte_gpas)

    def _watch_code_walk(self, page, pte_gpas):
        """Code page `page` was walked through pte_gpas: watch their tables."""
        for pte_gpa in pte_gpas:
            table = pte_gpa & ~(layout.PAGE_SIZE - 1)
            pages = self.walk_tables.get(table)
            if pages is None:
                pages = self.walk_tables[table] = set()
                self.vm.policy.watch_walk_table(table)
            pages.add(page)

    def _pte_values(self, pte_gpas, known=None):
        """The PTEs at pte_gpas, less the A and D bits the walks of others set
        (with `known`, a dict of PTE GPA -> value, those read already)."""
        values = []
        for pte_gpa in pte_gpas:
            if known is not None and pte_gpa in known:
                values.append(known[pte_gpa])
                continue
            hpa = self.vm.gpa_to_hpa(pte_gpa)
            value = None if hpa is None else self._ram_words[(hpa - self._ram_base) >> 3] & ~PTE_A_D
            if known is not None:
                known[pte_gpa] = value
            values.append(value)
        return tuple(values)

    def revalidate_code(self):
        """At a guest sfence.vma (the point where a changed translation
        must take effect): for the code pages whose page tables were stored
        to, check the PTEs their walk read; where one changed, walk again
        and drop the blocks of a page that no longer maps to the guest page
        it was translated from."""
        stale, self.stale_tables = self.stale_tables, set()
        self._ram_words[self._sfence_work_index] = 0
        pages = set()
        for table in stale:
            pages |= self.walk_tables.pop(table, set())
        status = self.state.sstatus
        read = {}                     # the code pages' walks share their upper PTEs
        for page in pages:
            known = self.code_walks.get(page)
            if known is None:
                continue
            gpa_page, pte_gpas, values = known
            if self._pte_values(pte_gpas, read) == values:
                self._watch_code_walk(page, pte_gpas)
                continue
            walk, _ = self.vm.pager.guest_walk(page, "fetch", PRIV_S, bool(status & SSTATUS_SUM),
                                               bool(status & SSTATUS_MXR))
            if walk is not None and walk.gpa & ~(layout.PAGE_SIZE - 1) == gpa_page:
                self._note_code_walk(page, gpa_page, walk.pte_gpas)
            else:
                del self.code_walks[page]
                self.fetch_pages.pop(page, None)
                self.tc.invalidate_gva_page(page)

    def _code_gpa_pages(self, block):
        fetch_pages = self.fetch_pages
        pages = block.pages
        if len(pages) == 1:
            gpa_page = fetch_pages.get(pages[0])
            return () if gpa_page is None else (gpa_page,)
        return [fetch_pages[page] for page in pages if page in fetch_pages]

    def block_for(self, guest_pc):
        """The translated block at guest_pc (translated now on a miss)."""
        self.lookups += 1
        block = self.tc.lookup(guest_pc)
        if block is None:
            self.lookup_misses += 1
            # The host pages behind guest code are looked up anew for each
            # block (the host may have moved a guest page: a copy-on-write
            # break, a balloon); the guest's walks stay known.
            self.fetch_hpa.clear()
            # (its exits to blocks already translated chained on the way)
            block = self.tc.translate(self._fetch, guest_pc, self._code_gpa_pages, self._code_page)
            self.vm.policy.protect_code(self, block)
            self._map_tc_pages(block)
        return block

    def _map_tc_pages(self, block):
        """Leaves for the TC pages a new block occupies, before it runs (no
        fault to take on the way in)."""
        tables = self.runtime_tables
        page = (block.tc_addr - ENTRY_BYTES) & ~(layout.PAGE_SIZE - 1)   # its indirect entry too
        end = block.tc_addr + block.size
        while page < end:
            if page not in tables.mapped:
                tables.map(page, self.tc.hpa_of(page), TC_PTE)
            page += layout.PAGE_SIZE

    def _resolve_pc(self):
        """Point the core at the translation of the pending guest pc; a guest
        pc that cannot be fetched is the guest's instruction fault."""
        for _ in range(MAX_FETCH_REFLECTIONS):
            if not self._pc_stale or self.state.priv == PRIV_U:
                return True
            guest_pc = self._guest_pc
            try:
                block = self.block_for(guest_pc)
            except FetchFault as fault:
                self.vm.policy.reflect(self, fault.cause, fault.gva, guest_pc)
                continue
            self.core.pc = block.tc_addr
            self._pc_stale = False
        if self._pc_stale and self.state.priv == PRIV_S:
            self.vm.error = f"bt: guest kernel code at {self._guest_pc:#x} cannot be fetched, " \
                            "nor its trap vector"
            self.vm.request_stop("error", 1)
            return False
        return True

    def flush_fetch_pages(self):
        """A new address space: every code page is walked again."""
        self.fetch_pages.clear()
        self.fetch_hpa.clear()

    def note_stale_table(self, table):
        """The guest stored to page table `table`, which a translated code
        page was walked through: check at its next sfence.vma, which
        translated code now calls out for (layout.SFENCE_WORK)."""
        self.stale_tables.add(table)
        self._ram_words[self._sfence_work_index] = 1

    def refresh_fetch_pages(self):
        """At a guest sfence.vma that calls out: the guest walks of code
        pages stay known (revalidate_code forgets those whose page tables
        changed)."""
        if self.stale_tables:
            self.revalidate_code()

    # -- KVM_RUN -----------------------------------------------------------------------------------

    def run(self, budget):
        # Once per exit: what the checks below read straight from the state
        # page (sip, sie, sstatus) and from attributes, each once.
        vm = self.vm
        if vm.stopped:
            return Exit("shutdown", pc=self.pc)
        self.activate()
        # Under a scheduler that counts exits completed here (quiet_units,
        # entry_instret) and with no tracer to see each exit, the cheap ones
        # are completed here and the core entered again, with what is left
        # of the budget, through the same checks below.
        short = self.complete_in_core and self.short_path and vm.tracer is None
        state = self.state
        words = self._ram_words
        core = self.core
        sip_at, sie_at, sstatus_at = self._sip_index, self._sie_index, self._sstatus_index
        gp_at = self._guest_gp_index
        run_core = self.run_core
        while True:
            self._stand_in = None
            if self.blocked_until is not None:
                self._wake()
            steps = budget
            if words[sip_at] & words[sie_at] and state.pending_interrupt() is not None:
                if self.at_boundary():
                    vm.policy.deliver_interrupt(self)
                else:
                    steps = 1             # step onto an instruction boundary first
                    self.interrupt_steps += 1
            priv = state.priv
            if self._pc_stale and priv == PRIV_S:
                if not self._resolve_pc():
                    return Exit("shutdown", pc=self._guest_pc)
                priv = state.priv
            fs = words[sstatus_at] & SSTATUS_FS
            if fs != self._hart_fs:
                self.fp_to_hart()
            if priv == PRIV_S:
                if self._hart_scounteren != SCOUNTEREN_TM:
                    self._counters_for(priv)
                pager = vm.pager
                if pager.link_epoch != self._linked_epoch or pager is not self._linked_pager:
                    pager.link_host_table(layout.RUNTIME_BASE, self.runtime_tables.top, PRIV_S)
                    self._linked_epoch = pager.link_epoch
                    self._linked_pager = pager
                # Entering translated code: gp becomes the state page's address.
                words[gp_at] = core.get_x(BASE_REG)
                core.set_x(BASE_REG, STATE_GVA)
                self._base_in_gp = True
            elif self._hart_scounteren != 0:
                self._counters_for(priv)
            entered = self.entry_instret = self.instret
            reason = run_core(steps)
            if fs != SSTATUS_FS and fs:
                # As under trap-emulate: only FS Initial or Clean can change while
                # the guest runs (Off makes FP illegal, Dirty stays Dirty).
                self.fp_from_hart()
            # Completed here only while the slice surely goes on after it: a
            # unit is left even if its handler retires the instruction.
            if short and reason == CORE_EXIT_TRAP and budget - (self.instret - entered) > 1 \
                    and self._complete_cheap_exit():
                retired = self.instret - entered
                if retired:
                    budget -= retired
                else:
                    budget -= 1           # a unit of the slice, as the scheduler counts it
                    self.quiet_units += 1
                continue
            return self.decode_exit(reason)

    def _complete_cheap_exit(self):
        """Complete the trap the core just returned, if it is one of the
        cheap ones (a callout of SHORT_CALLOUTS, one of CHEAP_TRAPS), exactly
        as VM.handle would complete it; False (nothing done) for any other."""
        core = self.core
        cause = core.exit_cause
        if cause == EXC_ECALL_U:
            if self.state.priv != PRIV_S:
                return False
            tc_pc = core.exit_pc
            callout = self.tc.callouts.get(tc_pc)
            if callout is None or callout[0] not in SHORT_CALLOUTS:
                return False
            self._leave_translated()
            self.pending_callout = None
            vm = self.vm
            vm.exit_counts["trap"] += 1
            vm.policy.complete_callout(self, tc_pc, callout)
            return True
        if cause not in CHEAP_TRAPS:
            return False
        if (cause == EXC_STORE_PAGE_FAULT or cause == EXC_LOAD_PAGE_FAULT) \
                and self.state.priv == PRIV_S:
            return self.vm.policy.data_fault_in_translated(self, cause)
        self.vm.handle(self, self.decode_exit(CORE_EXIT_TRAP))
        return True

    def _leave_translated(self):
        """The core left translated code: gp holds the guest's value again."""
        if self._base_in_gp:
            self._base_in_gp = False
            self.core.set_x(BASE_REG, self._ram_words[self._guest_gp_index])

    def decode_exit(self, reason):
        core = self.core
        self._leave_translated()
        self.pending_callout = None
        if reason != CORE_EXIT_TRAP or self.state.priv == PRIV_U:
            return super().decode_exit(reason)
        cause = core.exit_cause
        tc_pc = core.exit_pc
        if cause & INTERRUPT_BIT:
            return super().decode_exit(reason)
        if cause == EXC_ECALL_U:
            callout = self.tc.callouts.get(tc_pc)
            if callout is not None:
                self.pending_callout = (tc_pc, callout)
                kind, guest_pc, insn = callout[0], callout[1], callout[2]
                if kind == "ecall":
                    self._continuation = ((guest_pc + 4) & MASK64, tc_pc + 4)
                    a0, a1, a2, a3, a4, a5, fid, ext = core.x[REG_A0:REG_A7 + 1].tolist()
                    return Exit.of("sbi", {"cause": cause, "pc": guest_pc, "ext": ext, "fid": fid,
                                           "args": (a0, a1, a2, a3, a4, a5), "virt": 0,
                                           "priv": PRIV_S})
                return Exit.of("trap", {"cause": cause, "pc": guest_pc, "insn": insn, "virt": 0,
                                        "priv": PRIV_S})
        self._stand_in = self.tc.renamed.get(tc_pc)
        return self.translated_trap_exit(cause, tc_pc)

    def translated_trap_exit(self, cause, tc_pc):
        """The exit of a trap the core took at TC address tc_pc, in translated kernel code."""
        core = self.core
        guest_pc = self.tc.guest_pc_at(tc_pc)
        if guest_pc is None:
            guest_pc = tc_pc              # not translated code: the runtime's own bug shows as is
        return Exit.of("trap", {"cause": cause, "pc": guest_pc, "tval": core.exit_tval,
                                "insn": core.exit_insn, "virt": 0, "priv": PRIV_S})


def _on_state_page(gva):
    return STATE_GVA <= gva < STATE_GVA + layout.PAGE_SIZE


class BTPolicy(TrapEmulatePolicy):
    """trap_emulate's policy plus the callouts, the TC and state-page
    mappings and self-modifying-code detection. stats()["bt"]."""

    # Sv57 shadow trees: the runtime's pages sit above every guest address space.
    # The trees outlive a guest sfence.vma: write protection keeps them
    # coherent with the guest's PTEs, and Linux flushes everything (so every
    # tree, the kernel's global pages included) thousands of times in a boot.
    # A fault under a guest superpage fills the 64 KiB around it: Linux
    # touches its direct map page by page while it boots.
    pager_options = {"shadow_levels": layout.SHADOW_LEVELS, "drop_on_sfence": False,
                     "fill_superpages": True}

    def __init__(self, vm):
        if vm.paging != "shadow":
            raise HvError(f"bt runs the guest kernel in real U-mode, so with shadow paging only "
                          f"(not {vm.paging})")
        super().__init__(vm)
        self.handlers["trap"] = self._bt_trap
        self.callouts = {}
        self.pt_store_traps = {}          # guest pc -> write-protect traps emulated there
        self.ptstore_plain = {}           # guest pc -> ptstore callouts in a row to no page table
        self.ptstore_reverts = 0          # ptstore callouts copied again for that
        self.ptstore_fallbacks = 0        # ptstore callouts whose target was not guest RAM

    def reflect(self, vcpu, cause, tval, epc):
        if hasattr(vcpu, "restore_stand_in"):
            vcpu.restore_stand_in()
        super().reflect(vcpu, cause, tval, epc)

    # -- callouts --------------------------------------------------------------------------------

    def _count(self, kind):
        self.callouts[kind] = self.callouts.get(kind, 0) + 1

    def _sbi(self, vcpu, exit):
        self._count("ecall")
        if vcpu.state.priv != PRIV_S:
            super()._sbi(vcpu, exit)
            return
        vcpu._pc_stale = False
        super()._sbi(vcpu, exit)
        # exits.handle_sbi steps the core's pc past the ecall (a guest
        # address here); a handler that moved the guest pc has set it stale.
        next_pc = (exit.pc + 4) & MASK64
        if not vcpu._pc_stale and vcpu.state.priv == PRIV_S and vcpu.core.pc == next_pc:
            vcpu.pc = next_pc
        vcpu._continuation = None

    def _bt_trap(self, vcpu, exit):
        pending = vcpu.pending_callout
        vcpu.pending_callout = None
        if pending is None:
            self._trap(vcpu, exit)
            return
        self.complete_callout(vcpu, *pending)

    def complete_callout(self, vcpu, tc_pc, callout):
        """Complete the callout at TC address tc_pc (a TC ecall the core has
        just returned): its exit says no more than the callout record does,
        so BTVCPU.run completes those of SHORT_CALLOUTS with this directly."""
        kind, guest_pc, insn, length, target, site, literal = callout
        callouts = self.callouts
        callouts[kind] = callouts.get(kind, 0) + 1
        if kind == "ptstore":
            self._ptstore(vcpu, tc_pc, guest_pc, insn, length)
        elif kind == "exit":
            self._exit_stub(vcpu, tc_pc, target)
        elif kind == "jalr":
            # The inline cache missed: rd is written, the target is in the state page.
            self._indirect_miss(vcpu, site, literal, vcpu.state_slot(layout.SPILL_TARGET))
        elif kind in EMULATED:
            self._emulate_callout(vcpu, tc_pc, kind, guest_pc, insn, length)
        elif kind == "ebreak":
            self.exits["guest_exception"] += 1
            # stval 0, as the hart writes it for ebreak.
            self.reflect(vcpu, causes.EXC_BREAKPOINT, 0, guest_pc)
        elif kind == "illegal":
            self.exits["privileged"] += 1
            self.reflect(vcpu, causes.EXC_ILLEGAL_INST, insn, guest_pc)
        else:
            raise HvError(f"bt: unknown callout kind {kind!r}")

    def _emulate_callout(self, vcpu, tc_pc, kind, guest_pc, insn, length):
        """A privileged instruction's callout, emulated as trap-emulate's
        exit would be (an instruction its hart would not run: the guest's
        illegal-instruction trap)."""
        if kind in CONTINUING:
            vcpu._continuation = ((guest_pc + length) & MASK64, tc_pc + 4)
        if not self.emulate_insn(vcpu, insn & 0xFFFF_FFFF, guest_pc):
            vcpu._continuation = None
            self.reflect(vcpu, causes.EXC_ILLEGAL_INST, insn, guest_pc)
        vcpu._continuation = None

    def _ptstore(self, vcpu, tc_pc, store_pc, insn, length):
        """A store translated as a callout because it kept writing page
        tables: performed by the pager as its write-protect path would (shadow
        coherent, guest A/D set), wherever it now writes; a guest fault is
        reflected at the store. A target outside guest RAM (MMIO) makes it an
        ordinary store again, run for real."""
        status = vcpu.state.sstatus
        pager = self.vm.pager
        outcome = pager.emulate_store(insn, PRIV_S, bool(status & SSTATUS_SUM),
                                      bool(status & SSTATUS_MXR))
        if outcome in ("emulated", "stored"):
            self._retire(vcpu, "ptstore")
            vcpu.resume_at(tc_pc + 4)     # the guest's next instruction, store_pc + length
            if outcome == "emulated":
                self.ptstore_plain.pop(store_pc, None)
                return
            plain = self.ptstore_plain.get(store_pc, 0) + 1
            self.ptstore_plain[store_pc] = plain
            if plain >= PTSTORE_PLAIN:
                self.ptstore_reverts += 1
                self._unadapt(vcpu, store_pc)
        elif outcome == "guest":
            self.exits["guest_exception"] += 1
            self.reflect(vcpu, pager.fault_cause, pager.fault_tval, store_pc)
        else:
            self.ptstore_fallbacks += 1
            self._unadapt(vcpu, store_pc)
            vcpu.pc = store_pc

    def _unadapt(self, vcpu, store_pc):
        """Make the store at store_pc a copied store again, its trap count anew."""
        self.pt_store_traps.pop(store_pc, None)
        self.ptstore_plain.pop(store_pc, None)
        vcpu.tc.retranslate_store(store_pc, ptstore=False)

    def _indirect_miss(self, vcpu, site, literal, target):
        def link(tc, block):
            tc.link_indirect(site, literal, block)
            tc.remember_target(block)
        self._go_to(vcpu, target, link)

    def _exit_stub(self, vcpu, stub, target):
        def link(tc, block):
            if stub in tc.callouts and stub not in tc.patched:
                tc.chain(stub, block)
        self._go_to(vcpu, target, link)

    def _go_to(self, vcpu, target, link):
        """Continue at guest pc `target` from a jump's callout, linking the
        jump to the target's block (unless translating it flushed the TC,
        jump and all); a target the guest cannot fetch is its fault there."""
        generation = vcpu.tc.generation
        try:
            block = vcpu.block_for(target)
        except FetchFault as fault:
            self.reflect(vcpu, fault.cause, fault.gva, target)
            return
        if vcpu.tc.generation == generation:
            link(vcpu.tc, block)
        vcpu.resume_at(block.tc_addr)

    # -- the guest's translation changes: guest code may sit elsewhere ------------------------------

    def set_guest_satp(self, vcpu, value):
        super().set_guest_satp(vcpu, value)
        if hasattr(vcpu, "fetch_pages"):
            vcpu.flush_fetch_pages()
            self._install_runtime_pages(vcpu)

    def guest_sfence(self, vcpu, vaddr, asid):
        super().guest_sfence(vcpu, vaddr, asid)
        vcpu.refresh_fetch_pages()
        self._install_runtime_pages(vcpu)

    def watch_walk_table(self, table):
        self.vm.pager.watch_page(table, self._store_to_walk_table)

    def _store_to_walk_table(self, table):
        """The guest stores to a page table some translated code page was
        walked through: its translation may change; the next sfence.vma checks."""
        for vcpu in self.vm.vcpus:
            if table in getattr(vcpu, "walk_tables", ()):
                vcpu.note_stale_table(table)

    def _install_runtime_pages(self, vcpu):
        """Link the VCPU's runtime tables (TC pages in use, state page) into
        the kernel tree now, rather than through a fault after the pager
        dropped its tree (sfence.vma, a new address space)."""
        self.vm.pager.link_host_table(layout.RUNTIME_BASE, vcpu.runtime_tables.top, PRIV_S)

    # -- page faults: TC and state page first, then self-modifying code, then the pager ---------

    def _page_fault(self, vcpu, exit):
        cause, tval = exit.cause, exit.tval
        if vcpu.state.priv == PRIV_S:
            # Fetches from the TC, and loads of its indirect-jump literals
            # (possibly on a page not yet fetched from).
            if cause != causes.EXC_STORE_PAGE_FAULT and vcpu.tc.contains(tval):
                vcpu.runtime_tables.map(tval, vcpu.tc.hpa_of(tval), TC_PTE)
                self._install_runtime_pages(vcpu)
                vcpu.core.flush_tlb()
                self.exits["tc_map"] += 1
                return
            if cause != causes.EXC_INST_PAGE_FAULT and _on_state_page(tval):
                self._install_runtime_pages(vcpu)
                self.exits["state_map"] += 1
                return
        emulated = self.exits["page_fault_emulated"]
        super()._page_fault(vcpu, exit)
        if self.exits["page_fault_emulated"] != emulated and vcpu.state.priv == PRIV_S:
            self._adapt(vcpu, exit.pc)

    def data_fault_in_translated(self, vcpu, cause):
        """A load or store page fault of translated kernel code, completed as
        VM.handle completes its exit, the exit built only when the pager's
        outcome needs it: a hidden fault (most of them) needs only its
        counts. False (nothing done) for a fault on the TC or state page."""
        core = vcpu.core
        tval = core.exit_tval
        if vcpu.tc.contains(tval) or _on_state_page(tval):
            return False
        vcpu._leave_translated()
        vcpu.pending_callout = None
        tc_pc = core.exit_pc
        vcpu._stand_in = vcpu.tc.renamed.get(tc_pc)
        vm = self.vm
        vm.exit_counts["trap"] += 1
        status = vcpu.state.sstatus
        outcome = vm.pager.handle_page_fault(cause, tval, PRIV_S, bool(status & SSTATUS_SUM),
                                             bool(status & SSTATUS_MXR), core.exit_insn)
        if outcome == "hidden":
            self.exits["page_fault_hidden"] += 1
            return True
        exit = vcpu.translated_trap_exit(cause, tc_pc)
        self._page_fault_outcome(vcpu, exit, outcome)
        if outcome == "emulated":
            self._adapt(vcpu, exit.pc)
        return True

    def _adapt(self, vcpu, store_pc):
        """The guest kernel's store at store_pc was a write-protect trap on a
        page table: after PTSTORE_TRAPS of them, retranslate it as a callout."""
        if vcpu.tc.boundaries.get(vcpu.core.exit_pc) != store_pc:
            return                        # not a copied guest store (cannot happen today)
        traps = self.pt_store_traps.get(store_pc, 0) + 1
        self.pt_store_traps[store_pc] = traps
        if traps >= PTSTORE_TRAPS and store_pc not in vcpu.tc.ptstores:
            vcpu.tc.retranslate_store(store_pc, ptstore=True)

    def protect_code(self, vcpu, block):
        """Watch, in every shadow, the guest pages a new block was read from:
        the pager keeps them read-only until a store, which drops their blocks."""
        pager = self.vm.pager
        for page in block.gpa_pages:
            pager.watch_page(page, self._store_to_code)

    def _store_to_code(self, page):
        """The guest stores to a page blocks were translated from (the pager
        calls this before performing or re-running the store): drop them in
        every VCPU's TC. The store's own block, if there, finishes as translated."""
        code = False
        dropped = 0
        for vcpu in self.vm.vcpus:
            tc = getattr(vcpu, "tc", None)
            if tc is not None and page in tc.code_pages:
                code = True
                dropped += tc.invalidate_page(page)
        if code:
            self.exits["code_page_writes"] += 1
        if dropped:
            self.vm.host.core.flush_tlb()

    def pager_watchers(self):
        """The callbacks this policy watches guest pages with, by name (a
        snapshot names them, ShadowPager.export_state)."""
        return {"code": self._store_to_code, "walk_table": self._store_to_walk_table}

    def pager_host_tables(self):
        """The tables of its own this policy links into shadow trees, by name
        (each VCPU's runtime tables), with the address each maps: a snapshot
        names them."""
        return {f"runtime{vcpu.hartid}": (layout.RUNTIME_BASE, vcpu.runtime_tables.top)
                for vcpu in self.vm.vcpus}

    # -- figures -------------------------------------------------------------------------------

    def stats(self):
        stats = super().stats()
        vcpus = self.vm.vcpus
        bt = {"callouts": dict(sorted(self.callouts.items())),
              "callouts_total": sum(self.callouts.values()),
              "lookups": sum(v.lookups for v in vcpus),
              "lookup_misses": sum(v.lookup_misses for v in vcpus),
              "interrupt_steps": sum(v.interrupt_steps for v in vcpus),
              "ptstore_fallbacks": self.ptstore_fallbacks,
              "ptstore_reverts": self.ptstore_reverts}
        for vcpu in vcpus:
            for key, value in vcpu.tc.stats().items():
                bt[key] = bt.get(key, 0) + value
        stats["bt"] = dict(sorted(bt.items()))
        return stats

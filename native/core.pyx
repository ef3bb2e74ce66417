# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""pyvmm._core: one RISC-V RV64IMAFDC(H) hart with its RAM and CLINT, in C.

`Core.run(budget)` executes guest code without the GIL until an exit
(docs/architecture.md section 2); everything else here is the Python face of
the C state: registers, CSRs, memory, exit payloads, controls and counters.
"""

from hart cimport Hart, HartGroup, DirtyLog, DecodePage, JitPage, DecodedInsn, TlbEntry, PRV_U, PRV_S, PRV_M, \
    TLB_SIZE, SLOTS_PER_PAGE, MAX_WATCHES, ACC_FETCH, ACC_LOAD, ACC_STORE, TLB_CONTEXTS, \
    WALK_CACHE_SIZE, MAX_GUEST_MMIO, MAX_HARTS, NUM_TRIGGERS, MAX_DEBUG_BPS, MAX_DEBUG_WPS

include "defs.pxi"
include "bitmanip.pxi"
include "decode.pxi"
include "mmu.pxi"
include "hpm.pxi"
include "csr.pxi"
include "trap.pxi"
include "fpu.pxi"
include "debug.pxi"
include "cmo.pxi"
include "jit.pxi"
include "execute.pxi"
include "hostbuf.pxi"
include "snapshot.pxi"
include "dirtylog.pxi"
include "vcsr.pxi"

EXIT_BUDGET = EXIT_BUDGET_C
EXIT_MMIO = EXIT_MMIO_C
EXIT_TRAP = EXIT_TRAP_C
EXIT_WFI = EXIT_WFI_C
EXIT_WATCH = EXIT_WATCH_C
EXIT_DEBUG = EXIT_DEBUG_C
DEBUG_BREAK = DEBUG_KIND_BREAK
DEBUG_WATCH = DEBUG_KIND_WATCH
TRIGGERS = NUM_TRIGGERS
MAX_DEBUG_BREAKPOINTS = MAX_DEBUG_BPS
MAX_DEBUG_WATCHPOINTS = MAX_DEBUG_WPS

EXIT_NAMES = {
    EXIT_BUDGET_C: "budget",
    EXIT_MMIO_C: "mmio",
    EXIT_TRAP_C: "trap",
    EXIT_WFI_C: "wfi",
    EXIT_WATCH_C: "watch",
    EXIT_DEBUG_C: "debug",
}

PRIV_U = PRV_U
PRIV_S = PRV_S
PRIV_M = PRV_M
MAX_HARTS_PER_MACHINE = MAX_HARTS
U64_ALL = 0xFFFFFFFFFFFFFFFF


cdef class Core:
    """One hart, its RAM at `ram_base` and the CLINT.

    `Core(hartid=i, peer=other)` makes another hart of `other`'s machine: it
    shares `other`'s RAM buffer (ram_size/ram_base come from it) and CLINT,
    so each hart's msip and mtimecmp are reachable from every hart's CLINT
    accesses, an SC or AMO clears the other harts' reservations on its word,
    and `write_mem`/`invalidate_code` keep every hart's decoded code
    coherent. The TLB and the decoded-instruction cache stay per hart: a
    hart sees another's store into code it has decoded after its own
    `fence.i` (or `flush_decode_cache()`), as the architecture requires.
    Harts of one machine have hart ids below MAX_HARTS_PER_MACHINE.

    Writing guest code through `core.ram` bypasses the decoded-instruction
    cache: use `write_mem`, or call `flush_decode_cache()` afterwards.
    """

    cdef Hart* h
    cdef HostBuffer _ram_block    # guest RAM, shared by the machine's harts
    cdef HostBuffer _regs_block   # x0..x31, the x0 write sink, then f0..f31
    cdef object _x         # the one NumPy view core.x returns (made on first use: the core runs without NumPy)
    cdef object _f         # and core.f's
    cdef bint _running
    cdef VirtCsrs _vcsr    # virtual supervisor CSRs run_vcsr completes (vcsr.pxi)

    def __cinit__(self, ram_size=128 << 20, ram_base=0x8000_0000, hartid=0, Core peer=None, jit=None):
        cdef HartGroup* g
        hartid = int(hartid)
        if hartid < 0 or hartid > 0xFFFFFFFFFFFFFFFF:
            raise ValueError(f"hartid must fit in 64 bits, not {hartid}")
        if peer is not None:
            ram_size = peer.h.ram_size
            ram_base = peer.h.ram_base
            if hartid >= MAX_HARTS or peer.h.hartid >= MAX_HARTS:
                raise ValueError(f"harts of one machine have ids below {MAX_HARTS}")
            if peer.h.hartid == hartid or (peer.h.group != NULL and peer.h.group.harts[hartid] != NULL):
                raise ValueError(f"the machine already has a hart {hartid}")
        ram_size = int(ram_size)
        ram_base = int(ram_base)
        if ram_size <= 0 or ram_size % 4096:
            raise ValueError(f"ram_size must be a positive multiple of 4096, not {ram_size}")
        if ram_base < 0 or ram_base % 4096 or ram_base + ram_size > (1 << 56):
            raise ValueError(f"ram_base must be 4 KiB aligned and RAM must end below 2**56, not {ram_base:#x}")
        if ram_base < CLINT_BASE + CLINT_SIZE and ram_base + ram_size > CLINT_BASE:
            raise ValueError("RAM overlaps the CLINT at 0x2000000")
        self.h = <Hart*>calloc(1, sizeof(Hart))
        if self.h == NULL:
            raise MemoryError("cannot allocate the hart")
        self._ram_block = HostBuffer(ram_size) if peer is None else peer._ram_block
        # x0..x31, the x0 write sink, then f0..f31: one buffer the views share
        self._regs_block = HostBuffer(65 * 8, 8)
        h = self.h
        h.ram = <uint8_t*>self._ram_block.ptr
        h.x = <uint64_t*>self._regs_block.ptr
        h.f = h.x + 33
        h.host_fpenv = pyvmm_host_save()
        h.ram_base = ram_base
        h.ram_size = ram_size
        h.ram_end = ram_base + ram_size
        h.num_pages = ram_size >> 12
        h.dpages = <DecodePage**>calloc(h.num_pages, sizeof(DecodePage*))
        if h.dpages == NULL:
            raise MemoryError("cannot allocate the decode cache directory")
        h.hartid = hartid
        h.insns_per_tick = 10
        h.decode_gen = 1
        if peer is not None:
            if peer.h.group == NULL:
                g = <HartGroup*>calloc(1, sizeof(HartGroup))
                if g == NULL:
                    raise MemoryError("cannot allocate the hart group")
                g.refs = 1
                g.harts[peer.h.hartid] = peer.h
                peer.h.group = g
            g = peer.h.group
            g.refs += 1
            g.harts[hartid] = h
            h.group = g
            h.insns_per_tick = peer.h.insns_per_tick
            h.realtime = peer.h.realtime
            h.time_offset = peer.h.time_offset
            h.insn_offset = <int64_t>(peer.h.instret + <uint64_t>peer.h.insn_offset)
            dirty_log_attach(h, peer.h.dirty)
        self._reset()
        self.jit_threshold = jit_threshold_default()
        self.jit = jit_default() if jit is None else jit

    cdef void _reset(self):
        h = self.h
        h.pc = h.ram_base
        h.misa = MISA_VALUE
        h.mstatus = (2ULL << 32) | (2ULL << 34)      # UXL = SXL = 64
        h.mtimecmp = U64_MAX
        h.stimecmp = U64_MAX
        h.mideleg = HS_FORCED_DELEG
        h.hstatus = 2ULL << 32                      # VSXL = 64
        h.vsstatus = 2ULL << 32                     # UXL = 64
        h.vstimecmp = U64_MAX
        h.walk_cache_on = 1
        h.tlb_mask = TLB_SIZE - 1
        h.priv = PRV_M
        h.virt = 0
        pmp_update(h)
        tlb_flush(h)
        triggers_reset(h)

    def __dealloc__(self):
        cdef uint64_t i
        cdef HartGroup* g
        if self.h != NULL:
            dirty_log_release(self.h)
            g = self.h.group
            if g != NULL:
                g.harts[self.h.hartid] = NULL
                g.refs -= 1
                if g.refs == 0:
                    free(g)
                self.h.group = NULL
            jit_release(self.h)
            if self.h.dpages != NULL:
                for i in range(self.h.num_pages):
                    if self.h.dpages[i] != NULL:
                        free(self.h.dpages[i])
                free(self.h.dpages)
            free(self.h)
            self.h = NULL

    # ------------------------------------------------------------ state

    @property
    def ram(self):
        """numpy uint8 view of guest RAM (zero-copy, writable)."""
        return self._ram_block.numpy_view()

    @property
    def ram_buffer(self):
        """Guest RAM as the object that owns it (buffer protocol, zero-copy):
        `memoryview(core.ram_buffer)` needs no NumPy."""
        return self._ram_block

    @property
    def x(self):
        """numpy uint64[32] view of the integer registers; x0 reads as 0 in the guest."""
        if self._x is None:
            self._x = self._regs_block.numpy_view()[:32]
        return self._x

    @property
    def regs(self):
        """memoryview of x0..x31 (format 'Q', zero-copy, writable) for code
        that runs without NumPy: `core.regs[10:18].tolist()` is a0..a7."""
        return memoryview(self._regs_block)[:32]

    def release_ram(self):
        """Give guest RAM's host pages back now (it reads as zeros afterwards):
        what `Machine.close()` does, so a loop of machines does not wait for
        the garbage collector to bound its memory."""
        self._ram_block.discard()
        self._invalidate_all(self.h.ram_base, self.h.ram_size)

    def get_x(self, int i):
        """Integer register i (0..31) as a Python int: cheaper than core.x[i]."""
        if i < 0 or i > 31:
            raise IndexError(f"no register x{i}")
        return self.h.x[i] if i else 0

    def set_x(self, int i, value):
        """Set integer register i (0..31) to value mod 2**64; writes to x0 are ignored."""
        cdef uint64_t v
        if i < 0 or i > 31:
            raise IndexError(f"no register x{i}")
        try:
            v = value
        except OverflowError:
            v = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)
        if i:
            self.h.x[i] = v

    @property
    def f(self):
        """numpy uint64[32] view of the floating-point registers f0..f31 (a
        single-precision value is NaN-boxed: its upper 32 bits all ones)."""
        if self._f is None:
            self._f = self._regs_block.numpy_view()[33:65]
        return self._f

    def get_f(self, int i):
        """Floating-point register i (0..31), all 64 bits, as a Python int."""
        if i < 0 or i > 31:
            raise IndexError(f"no register f{i}")
        return self.h.f[i]

    def set_f(self, int i, value):
        """Set floating-point register i (0..31) to value mod 2**64. Like any
        write from outside the guest it leaves mstatus.FS as it is."""
        if i < 0 or i > 31:
            raise IndexError(f"no register f{i}")
        self.h.f[i] = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)

    @property
    def fflags(self):
        """The accrued exception flags NV DZ OF UF NX (fcsr bits 4:0)."""
        return self.h.fflags

    @fflags.setter
    def fflags(self, value):
        self.h.fflags = <uint32_t>(int(value) & 0x1F)

    @property
    def frm(self):
        """The dynamic rounding mode (fcsr bits 7:5)."""
        return self.h.frm

    @frm.setter
    def frm(self, value):
        self.h.frm = <uint32_t>(int(value) & 7)

    @property
    def fcsr(self):
        """frm << 5 | fflags. Setting it, like the other F/D state setters,
        does not mark mstatus.FS Dirty (read_csr/write_csr reach the same
        registers by number)."""
        return (self.h.frm << 5) | self.h.fflags

    @fcsr.setter
    def fcsr(self, value):
        v = int(value)
        self.h.fflags = <uint32_t>(v & 0x1F)
        self.h.frm = <uint32_t>((v >> 5) & 7)

    @property
    def ram_base(self):
        return self.h.ram_base

    @property
    def ram_size(self):
        return self.h.ram_size

    @property
    def hartid(self):
        return self.h.hartid

    @property
    def pc(self):
        return self.h.pc

    @pc.setter
    def pc(self, value):
        cdef uint64_t v
        try:
            v = value       # the common case, an int in range, converts in C
        except (OverflowError, TypeError):
            v = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)
        self.h.pc = v
        self.h.mmio_state = MMIO_IDLE

    @property
    def priv(self):
        return self.h.priv

    @priv.setter
    def priv(self, value):
        """M-mode has no V=1: setting priv 3 also clears virt."""
        value = int(value)
        if value not in (PRV_U, PRV_S, PRV_M):
            raise ValueError(f"priv must be 0 (U), 1 (S) or 3 (M), not {value}")
        set_mode(self.h, 0 if value == PRV_M else self.h.virt, value)

    @property
    def virt(self):
        """The H extension's virtualization mode V (1 = VS/VU)."""
        return self.h.virt

    @virt.setter
    def virt(self, value):
        value = int(value)
        if value not in (0, 1):
            raise ValueError(f"virt must be 0 or 1, not {value}")
        if value and self.h.priv == PRV_M:
            raise ValueError("virt=1 needs priv 0 (VU) or 1 (VS), not M")
        set_mode(self.h, value, self.h.priv)
        force_event_check(self.h)

    @property
    def cpu_profile(self):
        """0 standard; 1 classic: U-mode reads sstatus/satp, its sstatus writes are ignored."""
        return self.h.cpu_profile

    @cpu_profile.setter
    def cpu_profile(self, value):
        value = int(value)
        if value not in (0, 1):
            raise ValueError(f"cpu_profile must be 0 (standard) or 1 (classic), not {value}")
        self.h.cpu_profile = value

    @property
    def tlb_entries(self):
        """Entries per direct-mapped TLB set (privilege x access type x address
        space), a power of two from 1 to 256 (default 256); fewer entries model
        a smaller TLB. Setting it flushes the TLB."""
        return int(self.h.tlb_mask + 1)

    @tlb_entries.setter
    def tlb_entries(self, value):
        value = int(value)
        if value < 1 or value > TLB_SIZE or value & (value - 1):
            raise ValueError(f"tlb_entries must be a power of two from 1 to {TLB_SIZE}, not {value}")
        self.h.tlb_mask = value - 1
        tlb_flush(self.h)

    @property
    def walk_cache(self):
        """Cache G-stage translations of VS page-table pages (default True)."""
        return bool(self.h.walk_cache_on)

    @walk_cache.setter
    def walk_cache(self, value):
        self.h.walk_cache_on = 1 if value else 0
        walk_cache_flush(self.h)

    def add_guest_mmio(self, gpa, size):
        """At V=1, a load/store whose G-stage translation fails inside
        [gpa, gpa + size) exits as EXIT_MMIO with exit_addr = the GPA."""
        gpa = int(gpa)
        size = int(size)
        if size <= 0 or gpa < 0 or gpa + size > (1 << 64):
            raise ValueError(f"bad guest MMIO range [{gpa:#x}, +{size:#x})")
        if self.h.num_gmmio >= MAX_GUEST_MMIO:
            raise ValueError(f"at most {MAX_GUEST_MMIO} guest MMIO ranges")
        self.h.gmmio_lo[self.h.num_gmmio] = gpa
        self.h.gmmio_hi[self.h.num_gmmio] = gpa + size if gpa + size < (1 << 64) else U64_MAX
        self.h.num_gmmio += 1

    def clear_guest_mmio(self):
        self.h.num_gmmio = 0

    def inject_vs_exception(self, cause, tval=0):
        """Deliver exception `cause` to VS-mode now, as a hypervisor
        reflecting a trap into its guest: vsepc = pc, vscause, vstval,
        vsstatus.SPP/SPIE/SIE, pc = vstvec, V=1, priv S."""
        cdef uint64_t s
        cause = int(cause)
        if cause < 0 or cause > 63:
            raise ValueError(f"exception cause must be 0..63, not {cause}")
        h = self.h
        if not h.virt and h.priv == PRV_M:
            raise RuntimeError("inject_vs_exception: the hart is in M-mode, not a guest's context")
        h.vscause = cause
        h.vsepc = h.pc
        h.vstval = <uint64_t>(int(tval) & 0xFFFFFFFFFFFFFFFF)
        s = h.vsstatus & ~(MSTATUS_SPIE | MSTATUS_SPP)
        if s & MSTATUS_SIE:
            s |= MSTATUS_SPIE
        # the mode the trap came from: the guest's, or (from HS) hstatus.SPVP
        if (h.virt and h.priv == PRV_S) or (not h.virt and (h.hstatus & HSTATUS_SPVP)):
            s |= MSTATUS_SPP
        h.vsstatus = s & ~MSTATUS_SIE
        h.res_valid = 0
        h.mmio_state = MMIO_IDLE
        set_mode(h, 1, PRV_S)
        h.pc = h.vstvec & ~3ULL
        force_event_check(h)

    def read_csr(self, csr):
        """Read a CSR as M-mode would, without privilege checks."""
        cdef uint32_t n = self._csr_number(csr)
        return csr_read(self.h, n)

    def write_csr(self, csr, value):
        """Write a CSR with its WARL masks applied, without privilege checks.

        Read-only CSRs (mhartid, cycle, ...) raise ValueError."""
        cdef uint32_t n = self._csr_number(csr)
        if ((n >> 10) & 3) == 3:
            raise ValueError(f"CSR {n:#x} is read-only")
        csr_write(self.h, n, <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF))
        # csr_write allows for the writing instruction's own retirement; no instruction here
        if n == CSR_MCYCLE:
            self.h.mcycle_offset += 1
        elif n == CSR_MINSTRET:
            self.h.minstret_offset += 1

    cdef uint32_t _csr_number(self, csr) except? 0xFFFFFFFF:
        n = int(csr)
        if n < 0 or n > 0xFFF or not csr_exists(self.h, <uint32_t>n):
            raise ValueError(f"no CSR {n:#x} on this hart")
        return <uint32_t>n

    def _check_ram(self, paddr, n):
        if n < 0 or paddr < self.h.ram_base or paddr + n > self.h.ram_end:
            raise ValueError(f"[{paddr:#x}, {paddr + n:#x}) is not inside RAM "
                             f"[{self.h.ram_base:#x}, {self.h.ram_end:#x})")

    def read_mem(self, paddr, n):
        """Bytes of physical RAM."""
        paddr = int(paddr)
        n = int(n)
        self._check_ram(paddr, n)
        off = paddr - self.h.ram_base
        return bytes(memoryview(self._ram_block)[off:off + n])

    def write_mem(self, paddr, data):
        """Write physical RAM, keeping decoded code coherent."""
        paddr = int(paddr)
        data = bytes(data)
        self._check_ram(paddr, len(data))
        off = paddr - self.h.ram_base
        memoryview(self._ram_block)[off:off + len(data)] = data
        self._invalidate_all(paddr, len(data))
        dirty_mark_range(self.h, paddr, len(data))

    def write_words(self, paddr, words):
        """Write a sequence of 32-bit words (ints) to physical RAM at paddr,
        as write_mem would their little-endian bytes: decoded code kept
        coherent, the pages logged. Every word is checked before any is
        written (OverflowError for one outside 0..2**32-1)."""
        cdef uint64_t base = int(paddr)
        cdef Py_ssize_t n = len(words), i
        cdef uint32_t* buf
        self._check_ram(base, 4 * n)
        if n == 0:
            return
        buf = <uint32_t*>calloc(n, 4)
        if buf == NULL:
            raise MemoryError("cannot allocate a buffer of words")
        try:
            for i in range(n):
                buf[i] = <uint32_t>words[i]
            for i in range(n):
                pyvmm_st(self.h.ram + (base - self.h.ram_base) + 4 * i, 4, buf[i])
        finally:
            free(buf)
        self._invalidate_all(base, 4 * n)
        dirty_mark_range(self.h, base, 4 * n)

    cdef void _invalidate_all(self, uint64_t paddr, uint64_t n):
        # RAM is the machine's: every hart's decoded copy of it goes
        if n != 0:
            invalidate_code_all(self.h, paddr, n)

    def invalidate_code(self, paddr, n):
        """Forget decoded instructions in physical RAM [paddr, paddr + n) and
        mark its pages in the dirty log: a device wrote there by DMA, behind
        the hart's back."""
        paddr = int(paddr)
        n = int(n)
        self._check_ram(paddr, n)
        self._invalidate_all(paddr, n)
        dirty_mark_range(self.h, paddr, n)

    # ------------------------------------------------------------ dirty log

    def dirty_log_start(self):
        """Log the RAM pages written from now on, by every hart of this
        machine (they share the log), by `write_mem` and by device DMA
        (`invalidate_code`). Starting it again clears it."""
        cdef Hart* harts[MAX_HARTS]
        cdef int i, n = machine_harts(self.h, harts)
        cdef DirtyLog* log = <DirtyLog*>calloc(1, sizeof(DirtyLog))
        if log == NULL:
            raise MemoryError("cannot allocate the dirty log")
        log.num_pages = self.h.num_pages
        log.pages = <uint8_t*>calloc((log.num_pages + 7) & ~7ULL, 1)
        if log.pages == NULL:
            free(log)
            raise MemoryError("cannot allocate the dirty log")
        for i in range(n):
            dirty_log_release(harts[i])
            dirty_log_attach(harts[i], log)
            # entries filled before the log existed would let stores pass unseen
            drop_store_entries(harts[i])

    def dirty_log_fetch(self):
        """The RAM pages written since the log was started or last fetched,
        as a memoryview of uint32 page indexes (page i is ram_base + 4096*i),
        in increasing order; the log starts over empty."""
        cdef Hart* harts[MAX_HARTS]
        cdef int i, n
        cdef uint64_t count
        if self.h.dirty == NULL:
            raise RuntimeError("dirty-page logging is off (dirty_log_start() first)")
        out = bytearray(4 * self.h.dirty.num_pages)
        cdef unsigned char[::1] view = out
        count = dirty_log_collect(self.h.dirty, <uint32_t*>&view[0])
        n = machine_harts(self.h, harts)
        for i in range(n):
            drop_store_entries(harts[i])
        return memoryview(bytes(out[:4 * count])).cast("I")

    def dirty_log_stop(self):
        """Stop logging on every hart of this machine; the log is dropped."""
        cdef Hart* harts[MAX_HARTS]
        cdef int i, n = machine_harts(self.h, harts)
        for i in range(n):
            dirty_log_release(harts[i])

    @property
    def dirty_logging(self):
        """Is dirty-page logging on?"""
        return self.h.dirty != NULL

    # ------------------------------------------------------------ running

    def run(self, budget):
        """Run until an exit; retire at most `budget` instructions (each trap
        taken also uses one unit). Returns an EXIT_* code."""
        cdef uint64_t b
        cdef int r
        try:
            b = budget      # the common case, an int in range, converts in C
        except (OverflowError, TypeError):
            budget = int(budget)
            if budget < 0:
                raise ValueError("budget must be >= 0")
            b = <uint64_t>min(budget, 0xFFFFFFFFFFFFFFFF)
        if self._running:
            raise RuntimeError("run() is already in progress on this core (another thread)")
        self._running = True
        try:
            with nogil:
                r = run_hart(self.h, b)
        finally:
            self._running = False
        return r

    # ------------------------------------------------------------ virtual CSRs (vcsr.pxi)

    def vcsr_load(self, sstatus, sie, sip, sscratch, sepc, scause, stval, time_readable):
        """Hand run_vcsr a trap-and-emulate guest's virtual supervisor
        registers (its kernel at virtual S); counts start from zero."""
        cdef VirtCsrs* v = &self._vcsr
        v.sstatus = sstatus
        v.sie = sie
        v.sip = sip
        v.sscratch = sscratch
        v.sepc = sepc
        v.scause = scause
        v.stval = stval
        v.time_readable = bool(time_readable)
        v.changed = False
        v.completed = 0
        v.quiet = 0
        v.last_quiet = False
        v.nwords = 0

    def run_vcsr(self, budget):
        """run(budget), completing in between the guest kernel's accesses to
        the registers of vcsr_load (sstatus, sscratch, sepc, scause, stval;
        reads of time) that have no effect beyond them. Returns the EXIT_*
        code of the first exit it leaves to the caller."""
        cdef uint64_t b
        cdef int r
        b = budget
        if self._running:
            raise RuntimeError("run() is already in progress on this core (another thread)")
        self._running = True
        try:
            with nogil:
                r = run_vcsr(self.h, &self._vcsr, b)
        finally:
            self._running = False
        return r

    def vcsr_take(self):
        """What run_vcsr did since vcsr_load: None if it completed nothing,
        else (accesses completed, of which after a run that retired nothing,
        [(instruction word, count)], (sstatus, sscratch, sepc, scause, stval)
        or None when none was written, whether the run that ended it retired
        nothing)."""
        cdef VirtCsrs* v = &self._vcsr
        cdef int i
        if not v.completed:
            return None
        words = [(v.words[i], v.counts[i]) for i in range(v.nwords)]
        registers = (v.sstatus, v.sscratch, v.sepc, v.scause, v.stval) if v.changed else None
        return v.completed, v.quiet, words, registers, v.last_quiet

    def complete_mmio(self, value):
        """Answer the MMIO load of the last EXIT_MMIO; it retires on the next run()."""
        if self.h.mmio_state != MMIO_LOAD_WAITING:
            raise RuntimeError("no MMIO load is waiting for a value")
        self.h.mmio_value = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)
        self.h.mmio_state = MMIO_LOAD_COMPLETED

    def complete_mmio_fault(self):
        """Make the access of the last EXIT_MMIO raise a load/store access fault."""
        if self.h.mmio_state == MMIO_LOAD_WAITING:
            self.h.mmio_state = MMIO_LOAD_FAULTED
        elif self.h.mmio_state == MMIO_STORE_DONE:
            self.h.mmio_state = MMIO_STORE_FAULTED
        else:
            raise RuntimeError("no MMIO access is waiting for completion")

    @property
    def exit_reason(self):
        return self.h.exit_reason

    @property
    def exit_addr(self):
        return self.h.exit_addr

    @property
    def exit_size(self):
        return self.h.exit_size

    @property
    def exit_is_write(self):
        return bool(self.h.exit_is_write)

    @property
    def exit_data(self):
        return self.h.exit_data

    @property
    def exit_pc(self):
        return self.h.exit_pc

    @property
    def exit_cause(self):
        return self.h.exit_cause

    @property
    def exit_tval(self):
        return self.h.exit_tval

    @property
    def exit_insn(self):
        return self.h.exit_insn

    @property
    def exit_virt(self):
        return self.h.exit_virt

    @property
    def exit_priv(self):
        return self.h.exit_priv

    @property
    def exit_gpa(self):
        return self.h.exit_gpa

    @property
    def exit_htinst(self):
        return self.h.exit_htinst

    @property
    def exit_on_exception(self):
        """Bit mask of exception causes that exit to Python instead of being delivered."""
        return self.h.exit_on_exception

    @exit_on_exception.setter
    def exit_on_exception(self, value):
        self.h.exit_on_exception = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)

    @property
    def exit_on_interrupt(self):
        """Bit mask of interrupt causes that exit to Python instead of being delivered."""
        return self.h.exit_on_interrupt

    @exit_on_interrupt.setter
    def exit_on_interrupt(self, value):
        self.h.exit_on_interrupt = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)

    def add_watch(self, paddr, size):
        """Exit with EXIT_WATCH after any store into [paddr, paddr + size) of RAM."""
        paddr = int(paddr)
        size = int(size)
        if size <= 0:
            raise ValueError("watch size must be positive")
        self._check_ram(paddr, size)
        if self.h.num_watches >= MAX_WATCHES:
            raise ValueError(f"at most {MAX_WATCHES} watches")
        self.h.watch_lo[self.h.num_watches] = paddr
        self.h.watch_hi[self.h.num_watches] = paddr + size
        self.h.num_watches += 1
        tlb_flush(self.h)

    def clear_watches(self):
        self.h.num_watches = 0
        tlb_flush(self.h)

    # ------------------------------------------------------------ debugger

    @property
    def debug_breakpoints(self):
        """The debugger's breakpoints: pc values at which run() exits with
        EXIT_DEBUG (exit_cause DEBUG_BREAK) before the instruction executes."""
        return tuple(self.h.dbg_bp[i] for i in range(self.h.num_dbg_bps))

    @debug_breakpoints.setter
    def debug_breakpoints(self, addrs):
        values = sorted({int(a) & 0xFFFFFFFFFFFFFFFF for a in addrs})
        if len(values) > MAX_DEBUG_BPS:
            raise ValueError(f"at most {MAX_DEBUG_BPS} debugger breakpoints")
        for i, a in enumerate(values):
            self.h.dbg_bp[i] = a
        self.h.num_dbg_bps = len(values)
        debug_update(self.h)

    @property
    def debug_watchpoints(self):
        """The debugger's watchpoints: (vaddr, size, kind) with kind 1 load,
        2 store, 3 either. A load/store touching the range retires, then
        run() exits with EXIT_DEBUG (exit_cause DEBUG_WATCH, exit_addr the
        watched address hit, exit_pc the accessing instruction, pc the next)."""
        return tuple((self.h.dbg_wp_lo[i], self.h.dbg_wp_hi[i] - self.h.dbg_wp_lo[i], self.h.dbg_wp_kind[i])
                     for i in range(self.h.num_dbg_wps))

    @debug_watchpoints.setter
    def debug_watchpoints(self, watches):
        items = [(int(a), int(n), int(k)) for a, n, k in watches]
        if len(items) > MAX_DEBUG_WPS:
            raise ValueError(f"at most {MAX_DEBUG_WPS} debugger watchpoints")
        for a, n, k in items:
            if n <= 0 or a < 0 or a + n > (1 << 64) or k not in (1, 2, 3):
                raise ValueError(f"bad watchpoint ({a:#x}, {n}, {k})")
        for i, (a, n, k) in enumerate(items):
            self.h.dbg_wp_lo[i] = a
            self.h.dbg_wp_hi[i] = a + n if a + n < (1 << 64) else U64_MAX
            self.h.dbg_wp_kind[i] = k
        self.h.num_dbg_wps = len(items)
        debug_update(self.h)

    def set_irq(self, meip, seip):
        """Drive the external interrupt lines: mip.MEIP and the line part of mip.SEIP."""
        h = self.h
        h.mip_hw = (h.mip_hw & ~(MIP_MEIP | MIP_SEIP)) | (MIP_MEIP if meip else 0) | (MIP_SEIP if seip else 0)

    # ------------------------------------------------------------ time

    @property
    def insns_per_tick(self):
        return self.h.insns_per_tick

    @insns_per_tick.setter
    def insns_per_tick(self, value):
        value = int(value)
        if value < 1:
            raise ValueError("insns_per_tick must be >= 1")
        now = mtime_now(self.h)
        self.h.insns_per_tick = value
        set_mtime(self.h, now)

    @property
    def realtime(self):
        return bool(self.h.realtime)

    @realtime.setter
    def realtime(self, value):
        now = mtime_now(self.h)
        self.h.realtime = 1 if value else 0
        set_mtime(self.h, now)

    @property
    def mtime(self):
        return mtime_now(self.h)

    @mtime.setter
    def mtime(self, value):
        """Setting mtime sets it for every hart of the machine, as a CLINT store does."""
        clint_write(self.h, CLINT_MTIME, 8, <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF))

    @property
    def clock_insns(self):
        """The instruction count mtime derives from: (clock_insns /
        insns_per_tick) + an offset. It is the hart's instret when the hart
        runs alone; a scheduler of several harts sets it to the machine's
        clock before each hart's turn, so all harts read one mtime."""
        return self.h.instret + <uint64_t>self.h.insn_offset

    @clock_insns.setter
    def clock_insns(self, value):
        self.h.insn_offset = <int64_t>(<uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF) - self.h.instret)
        update_timer_bits(self.h)
        force_event_check(self.h)

    @property
    def wfi_exit(self):
        """A WFI with no interrupt pending retires and exits with EXIT_WFI
        instead of skipping time to the hart's next timer: with several
        harts, time is the machine's and others may still run."""
        return bool(self.h.wfi_exit)

    @wfi_exit.setter
    def wfi_exit(self, value):
        self.h.wfi_exit = 1 if value else 0

    @property
    def interrupt_pending(self):
        """An interrupt is pending and enabled in mie at the hart's current
        time: WFI would not stall (global enables do not matter to WFI)."""
        update_timer_bits(self.h)
        return (read_mip(self.h) & self.h.mie) != 0

    @property
    def wake_time(self):
        """The mtime at which a timer makes an interrupt the hart enables in
        mie pending (mtimecmp; stimecmp and vstimecmp under Sstc), or None."""
        h = self.h
        target = U64_ALL
        if h.mie & MIP_MTIP:
            target = h.mtimecmp
        if (h.mie & MIP_STIP) and (h.menvcfg & MENVCFG_STCE) and h.stimecmp < target:
            target = h.stimecmp
        if (h.mie & MIP_VSTIP) and vs_sstc(h) and h.vstimecmp != U64_MAX \
                and <uint64_t>(h.vstimecmp - h.htimedelta) < target:
            target = <uint64_t>(h.vstimecmp - h.htimedelta)
        return None if target == U64_ALL else target

    @property
    def mtimecmp(self):
        return self.h.mtimecmp

    @mtimecmp.setter
    def mtimecmp(self, value):
        self.h.mtimecmp = <uint64_t>(int(value) & 0xFFFFFFFFFFFFFFFF)
        update_timer_bits(self.h)

    @property
    def msip(self):
        return self.h.msip

    @msip.setter
    def msip(self, value):
        clint_write(self.h, 4 * self.h.hartid, 4, 1 if value else 0)

    # ------------------------------------------------------------ caches and counters

    def flush_tlb(self):
        tlb_flush(self.h)

    def flush_tlb_pages(self, vaddrs):
        """Drop the TLB entries of the pages holding `vaddrs` in every
        address space, counted as one flush: what a hypervisor that changed
        those pages' leaves only needs (a superpage entry makes it the whole
        flush_tlb)."""
        cdef Py_ssize_t n = len(vaddrs), i
        cdef uint64_t* pages
        if n == 0:
            return
        pages = <uint64_t*>calloc(n, sizeof(uint64_t))
        if pages == NULL:
            raise MemoryError("cannot allocate the page list")
        try:
            for i in range(n):
                pages[i] = <uint64_t>vaddrs[i]
            tlb_flush_pages(self.h, pages, <int>n)
        finally:
            free(pages)

    def hfence_gvma(self, vmid=None):
        """HFENCE.GVMA from the hypervisor: the G-stage tables of `vmid`
        (every VMID when None) changed, so its guest translations go."""
        walk_cache_flush(self.h)
        tlb_flush_contexts(self.h, 1, -1 if vmid is None else <int64_t>int(vmid))

    def flush_decode_cache(self):
        decode_cache_flush(self.h)

    @property
    def reservation(self):
        """The LR reservation's physical address, or None."""
        return self.h.res_paddr if self.h.res_valid else None

    @property
    def instret(self):
        return self.h.instret

    # ------------------------------------------------------------ snapshots

    def export_state(self):
        """Every architectural register of the hart as plain data (ints,
        lists, dicts; see native/snapshot.pxi and docs/snapshots.md)."""
        return hart_export(self.h)

    def import_state(self, state):
        """Load a state from export_state(): validated whole first (a bad one
        raises HartStateError and changes nothing), then written raw; the
        TLB, walk cache and decoded instructions are flushed."""
        state = hart_validate(self.h, state)
        hart_apply(self, self.h, state)

    @property
    def jit(self):
        """Whether hot straight-line runs are translated to host code and
        run as blocks (native/jit.pxi). Setting True where the host cannot
        (not x86-64, no executable memory) leaves it False and jit_error
        says why; the interpreter runs either way with the same results."""
        return bool(self.h.jit_on)

    @jit.setter
    def jit(self, on):
        # the code buffer is mapped when the first run gets hot (jit_start)
        if on and not JIT_HOST:
            self.h.jit_error = JIT_NO_HOST
        self.h.jit_on = 1 if on and self.h.jit_error == 0 else 0

    @property
    def jit_threshold(self):
        """Entries into a straight-line run before it is translated (1..32)."""
        return self.h.jit_threshold

    @jit_threshold.setter
    def jit_threshold(self, n):
        n = int(n)
        if not 1 <= n <= JIT_HOT:
            raise ValueError(f"jit_threshold must be 1..{JIT_HOT}, not {n}")
        self.h.jit_threshold = n

    @property
    def jit_buffer_size(self):
        """Bytes of executable memory for blocks (16 MiB by default); when
        they run out, every block is dropped at once and translation starts
        over. Setting it drops the blocks translated so far."""
        return self.h.jit_size if self.h.jit_size else JIT_BUF_SIZE

    @jit_buffer_size.setter
    def jit_buffer_size(self, size):
        size = int(size)
        if size < JIT_MIN_BUF_SIZE or size % 4096:
            raise ValueError(f"jit_buffer_size must be a multiple of 4096 of at least {JIT_MIN_BUF_SIZE}, not {size}")
        jit_release(self.h)
        self.h.jit_size = size

    @property
    def jit_error(self):
        """Why the translator cannot run on this host, or None."""
        return JIT_ERRORS.get(self.h.jit_error)

    def jit_stats(self):
        """The translator's counters: blocks translated, code bytes emitted,
        buffer flushes, block entries from the interpreter (a block that
        jumps straight to another is one entry)."""
        h = self.h
        return {
            "jit": bool(h.jit_on),
            "jit_error": JIT_ERRORS.get(h.jit_error),
            "jit_blocks": h.jit_blocks,
            "jit_code_bytes": h.jit_bytes,
            "jit_flushes": h.jit_flushes,
            "jit_block_runs": h.jit_runs,
        }

    def stats(self):
        h = self.h
        return {
            "instret": h.instret,
            "cycles": h.instret,
            "traps": {c: h.traps[c] for c in range(64) if h.traps[c]},
            "interrupts": {c: h.interrupts[c] for c in range(64) if h.interrupts[c]},
            "tlb_hits": h.tlb_hits,
            "tlb_misses": h.tlb_misses,
            "page_walks": h.page_walks,
            "walk_mem_refs": h.walk_mem_refs,
            "exits": {EXIT_NAMES[r]: h.exits[r] for r in EXIT_NAMES if h.exits[r]},
            "decode_cache_fills": h.decode_fills,
            "decode_cache_flushes": h.decode_flushes,
            "walks_2d": h.walks_2d,
            "walk_2d_mem_refs": h.walk_2d_mem_refs,
            "gstage_walks": h.gstage_walks,
            "tlb_flushes": h.tlb_flushes,
            "walk_cache_hits": h.walk_cache_hits,
        }

include "shadowwalk.pxi"
include "shadowslots.pxi"
include "btblock.pxi"
include "btscan.pxi"

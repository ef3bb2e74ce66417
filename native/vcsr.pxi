# Virtual supervisor CSRs completed inside the core, for a trap-and-emulate
# monitor (pyvmm/hv/trap_emulate.py, docs/trap-emulate.md).
#
# The guest kernel runs in real U-mode, so each of its CSR instructions is an
# illegal-instruction exit. Most of them are mechanical: Linux masks and
# restores interrupts (csrrci/csrrs sstatus), its trap entry and exit move
# sscratch, sepc, scause and stval, and it reads time. The monitor hands the
# core a copy of those virtual registers (VirtCsrs) and run_vcsr completes
# exactly those accesses in C, the way the monitor's Python would, and goes
# on running; everything else (any side effect: SUM/MXR, FS, an interrupt
# that could become deliverable, another CSR, a slice about to end) returns
# as the exit it is. The monitor then takes the registers back and counts
# the completed accesses by instruction word as if each had been an exit.

DEF VCSR_WORDS = 32              # distinct instruction words counted per run

cdef enum:
    VCSR_SSTATUS = 0x100
    VCSR_SSCRATCH = 0x140
    VCSR_SEPC = 0x141
    VCSR_SCAUSE = 0x142
    VCSR_STVAL = 0x143
    VCSR_TIME = 0xC01

cdef enum:
    VSTATUS_SIE = 1 << 1
    VSTATUS_SPIE = 1 << 5
    VSTATUS_SPP = 1 << 8
    VSTATUS_FS = 3 << 13
    VSTATUS_SUM = 1 << 18
    VSTATUS_MXR = 1 << 19

cdef uint64_t VSTATUS_SD = (<uint64_t>1) << 63
cdef uint64_t VSTATUS_UXL_64 = (<uint64_t>2) << 32
cdef uint64_t VSTATUS_WRITABLE = (VSTATUS_SIE | VSTATUS_SPIE | VSTATUS_SPP | VSTATUS_FS
                                  | VSTATUS_SUM | VSTATUS_MXR)


cdef struct VirtCsrs:
    uint64_t sstatus, sie, sip, sscratch, sepc, scause, stval
    bint time_readable          # the virtual mcounteren grants time
    bint changed                # a register above was written
    uint64_t completed          # accesses completed in the core since the last take
    uint64_t quiet              # of which after a run that retired nothing
    bint last_quiet             # the run that ended run_vcsr retired nothing
    int nwords
    uint32_t words[VCSR_WORDS]
    uint64_t counts[VCSR_WORDS]


cdef bint vcsr_count(VirtCsrs* v, uint32_t word) noexcept nogil:
    cdef int i
    for i in range(v.nwords):
        if v.words[i] == word:
            v.counts[i] += 1
            return True
    if v.nwords == VCSR_WORDS:
        return False
    v.words[v.nwords] = word
    v.counts[v.nwords] = 1
    v.nwords += 1
    return True


cdef bint vcsr_complete(Hart* h, VirtCsrs* v) noexcept nogil:
    """Complete the CSR instruction of the illegal-instruction exit h holds,
    at virtual S, if it is one the core may; False leaves it to the monitor."""
    cdef uint64_t word = h.exit_insn if h.exit_insn else h.exit_tval
    cdef uint32_t funct3, rd, rs1, csr
    cdef uint64_t operand, old, new
    cdef bint writes
    if h.exit_cause != CAUSE_ILLEGAL_INSN or word & 0x7F != 0x73 or word >> 32:
        return False
    funct3 = (word >> 12) & 7
    if funct3 == 0 or funct3 == 4:
        return False
    rd = (word >> 7) & 31
    rs1 = (word >> 15) & 31
    csr = <uint32_t>(word >> 20)
    writes = (funct3 & 3) == 1 or rs1 != 0
    if funct3 & 4:
        operand = rs1
    else:
        operand = h.x[rs1] if rs1 else 0
    if csr == VCSR_SSTATUS:
        old = v.sstatus
    elif csr == VCSR_SSCRATCH:
        old = v.sscratch
    elif csr == VCSR_SEPC:
        old = v.sepc
    elif csr == VCSR_SCAUSE:
        old = v.scause
    elif csr == VCSR_STVAL:
        old = v.stval
    elif csr == VCSR_TIME:
        if writes or not v.time_readable:
            return False          # read-only, or not granted: the monitor raises it
        old = mtime_now(h)
    else:
        return False
    if writes:
        if (funct3 & 3) == 1:
            new = operand
        elif (funct3 & 3) == 2:
            new = old | operand
        else:
            new = old & ~operand
        if csr == VCSR_SSTATUS:
            new &= VSTATUS_WRITABLE
            # FS (and with it SD) and SUM/MXR changes have effects outside
            # these registers, and setting SIE may let a pending interrupt in.
            if (new ^ old) & (VSTATUS_FS | VSTATUS_SUM | VSTATUS_MXR) or \
                    (new & VSTATUS_SIE and v.sip & v.sie):
                return False
            if new & VSTATUS_FS == VSTATUS_FS:
                new |= VSTATUS_SD
        elif csr == VCSR_SEPC:
            new &= ~(<uint64_t>1)
    if not vcsr_count(v, <uint32_t>word):
        return False
    if writes:
        if csr == VCSR_SSTATUS:
            v.sstatus = new
        elif csr == VCSR_SSCRATCH:
            v.sscratch = new
        elif csr == VCSR_SEPC:
            v.sepc = new
        elif csr == VCSR_SCAUSE:
            v.scause = new
        else:
            v.stval = new
        v.changed = True
    if csr == VCSR_SSTATUS:
        old |= VSTATUS_UXL_64
    if rd:
        h.x[rd] = old
    h.pc = h.exit_pc + 4
    h.mmio_state = MMIO_IDLE
    v.completed += 1
    return True


cdef int run_vcsr(Hart* h, VirtCsrs* v, uint64_t budget) noexcept nogil:
    """run_hart, completing the exits vcsr_complete can in between. The
    budget is spent as the host's scheduler spends a slice: each run's
    retired instructions, or one unit for a run that retired none. An exit
    whose completion would use the budget up is returned, as the scheduler
    would end its slice after it."""
    cdef uint64_t before, retired, units
    cdef int r
    while True:
        before = h.instret
        r = run_hart(h, budget)
        if r != EXIT_TRAP_C:
            v.last_quiet = h.instret == before
            return r
        retired = h.instret - before
        v.last_quiet = retired == 0
        units = retired if retired else 1
        if units >= budget or not vcsr_complete(h, v):
            return r
        if not retired:
            v.quiet += 1
        budget -= units

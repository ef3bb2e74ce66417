# Traps: exception and interrupt delivery to M or (delegated) S, interrupt
# selection by the spec's priority, xRET, and the event check the run loop
# makes at budget ends, timer deadlines and after state changes.

cdef int trap_exit(Hart* h, uint64_t cause, uint64_t tval, uint32_t insn) noexcept nogil:
    h.exit_reason = EXIT_TRAP_C
    h.exit_cause = cause
    h.exit_tval = tval
    h.exit_pc = h.pc
    h.exit_insn = insn
    return EXIT_TRAP_C


cdef int take_trap(Hart* h, uint64_t code, bint interrupt, uint64_t tval, uint32_t insn) noexcept nogil:
    # deliver a trap at h.pc; returns 0, or EXIT_TRAP when Python asked to see it first
    cdef uint64_t cause = code | (INTERRUPT_BIT if interrupt else 0)
    cdef uint64_t deleg, s, vector
    if interrupt:
        h.interrupts[code] += 1
        if (h.exit_on_interrupt >> code) & 1:
            return trap_exit(h, cause, tval, insn)
        deleg = h.mideleg
    else:
        h.traps[code] += 1
        if (h.exit_on_exception >> code) & 1:
            return trap_exit(h, cause, tval, insn)
        deleg = h.medeleg
    # a reservation must not survive into another context (the spec allows clearing it)
    h.res_valid = 0
    if h.priv <= PRV_S and (deleg >> code) & 1:
        h.scause = cause
        h.sepc = h.pc
        h.stval = tval
        s = h.mstatus
        s &= ~(MSTATUS_SPIE | MSTATUS_SPP)
        if s & MSTATUS_SIE:
            s |= MSTATUS_SPIE
        if h.priv == PRV_S:
            s |= MSTATUS_SPP
        s &= ~MSTATUS_SIE
        h.mstatus = s
        vector = h.stvec
        set_priv(h, PRV_S)
    else:
        h.mcause = cause
        h.mepc = h.pc
        h.mtval = tval
        s = h.mstatus
        s &= ~(MSTATUS_MPIE | MSTATUS_MPP)
        if s & MSTATUS_MIE:
            s |= MSTATUS_MPIE
        s |= (<uint64_t>h.priv) << 11
        s &= ~MSTATUS_MIE
        h.mstatus = s
        vector = h.mtvec
        set_priv(h, PRV_M)
    if interrupt and (vector & 3) == 1:
        h.pc = (vector & ~3ULL) + 4 * code
    else:
        h.pc = vector & ~3ULL
    # every trap costs one unit of budget, so a trap storm still ends the run
    if h.budget_end > h.instret:
        h.budget_end -= 1
    force_event_check(h)
    return 0


cdef int pending_interrupt(Hart* h) noexcept nogil:
    # the interrupt to take now, or -1
    cdef uint64_t pend = read_mip(h) & h.mie
    cdef uint64_t m_pend, s_pend, chosen
    if pend == 0:
        return -1
    m_pend = pend & ~h.mideleg
    s_pend = pend & h.mideleg
    if h.priv == PRV_M and not (h.mstatus & MSTATUS_MIE):
        m_pend = 0
    if h.priv == PRV_M or (h.priv == PRV_S and not (h.mstatus & MSTATUS_SIE)):
        s_pend = 0
    chosen = m_pend if m_pend else s_pend
    if chosen == 0:
        return -1
    if chosen & MIP_MEIP:
        return IRQ_MEI
    if chosen & MIP_MSIP:
        return IRQ_MSI
    if chosen & MIP_MTIP:
        return IRQ_MTI
    if chosen & MIP_SEIP:
        return IRQ_SEI
    if chosen & MIP_SSIP:
        return IRQ_SSI
    return IRQ_STI


cdef uint64_t next_timer_event(Hart* h) noexcept nogil:
    # the instret at which a timer interrupt becomes pending
    cdef uint64_t at = U64_MAX
    cdef uint64_t t
    if h.realtime:
        return h.instret + 4096
    if not (h.mip_hw & MIP_MTIP):
        at = instret_when_time_reaches(h, h.mtimecmp)
    if (h.menvcfg & MENVCFG_STCE) and not (h.mip_hw & MIP_STIP):
        t = instret_when_time_reaches(h, h.stimecmp)
        if t < at:
            at = t
    return at


cdef int handle_events(Hart* h) noexcept nogil:
    cdef int irq, r
    cdef uint64_t at
    if h.instret >= h.budget_end:
        h.exit_reason = EXIT_BUDGET_C
        return EXIT_BUDGET_C
    update_timer_bits(h)
    irq = pending_interrupt(h)
    if irq >= 0:
        r = take_trap(h, <uint64_t>irq, True, 0, 0)
        if r:
            return r
        return 0    # event_at stays forced: look again before the handler's first instruction
    at = next_timer_event(h)
    h.event_at = at if at < h.budget_end else h.budget_end
    return 0


cdef int do_mret(Hart* h) noexcept nogil:
    cdef uint64_t s = h.mstatus
    cdef int new_priv = <int>((s >> 11) & 3)
    s &= ~MSTATUS_MIE
    if s & MSTATUS_MPIE:
        s |= MSTATUS_MIE
    s |= MSTATUS_MPIE
    s &= ~MSTATUS_MPP
    if new_priv != PRV_M:
        s &= ~MSTATUS_MPRV
    h.mstatus = s
    h.res_valid = 0
    set_priv(h, new_priv)
    h.pc = h.mepc
    force_event_check(h)
    return ST_OK


cdef int do_sret(Hart* h) noexcept nogil:
    cdef uint64_t s = h.mstatus
    cdef int new_priv = PRV_S if (s & MSTATUS_SPP) else PRV_U
    s &= ~MSTATUS_SIE
    if s & MSTATUS_SPIE:
        s |= MSTATUS_SIE
    s |= MSTATUS_SPIE
    s &= ~MSTATUS_SPP
    s &= ~MSTATUS_MPRV
    h.mstatus = s
    h.res_valid = 0
    set_priv(h, new_priv)
    h.pc = h.sepc
    force_event_check(h)
    return ST_OK

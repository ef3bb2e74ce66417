# Traps: exception and interrupt delivery to M or (delegated) S, interrupt
# selection by the spec's priority, xRET, and the event check the run loop
# makes at budget ends, timer deadlines and after state changes.

cdef int trap_exit(Hart* h, uint64_t cause, uint64_t tval, uint32_t insn) noexcept nogil:
    h.exit_reason = EXIT_TRAP_C
    h.exit_cause = cause
    h.exit_tval = tval
    h.exit_pc = h.pc
    h.exit_insn = insn
    h.exit_virt = h.virt
    h.exit_priv = h.priv
    if cause & INTERRUPT_BIT:
        h.exit_gpa = 0
        h.exit_htinst = 0
    else:
        h.exit_gpa = h.exc_gpa
        h.exit_htinst = h.exc_tinst
    return EXIT_TRAP_C


cdef enum:
    TARGET_M = 0
    TARGET_HS = 1
    TARGET_VS = 2


cdef int take_trap(Hart* h, uint64_t code, bint interrupt, uint64_t tval, uint32_t insn) noexcept nogil:
    # deliver a trap at h.pc to M, HS or VS by medeleg/mideleg, then
    # hedeleg/hideleg from V=1; returns 0, or EXIT_TRAP when Python asked to
    # see it first (at V=1 only traps leaving the guest, to HS or M, exit)
    cdef uint64_t cause = code | (INTERRUPT_BIT if interrupt else 0)
    cdef uint64_t s, vector, mask, gpa, tinst
    cdef int target, vector_code
    cdef bint gva
    if interrupt:
        h.interrupts[code] += 1
        mask = h.exit_on_interrupt
        if not ((h.mideleg >> code) & 1):
            target = TARGET_M
        elif h.virt and (h.hideleg >> code) & 1:
            target = TARGET_VS
        else:
            target = TARGET_HS
        gva = False
        gpa = 0
        tinst = 0
    else:
        h.traps[code] += 1
        mask = h.exit_on_exception
        if h.priv > PRV_S or not ((h.medeleg >> code) & 1):
            target = TARGET_M
        elif h.virt and (h.hedeleg >> code) & 1:
            target = TARGET_VS
        else:
            target = TARGET_HS
        gva = ((ADDRESS_CAUSES >> code) & 1) != 0 and h.exc_gva != 0
        gpa = h.exc_gpa
        tinst = h.exc_tinst
    if (mask >> code) & 1 and not (h.virt and target == TARGET_VS):
        return trap_exit(h, cause, tval, insn)
    # a reservation must not survive into another context (the spec allows clearing it)
    h.res_valid = 0
    vector_code = <int>code
    if target == TARGET_VS:
        # VS interrupts arrive at the guest as their supervisor counterparts
        if interrupt:
            vector_code = <int>code - 1
            cause = <uint64_t>vector_code | INTERRUPT_BIT
        h.vscause = cause
        h.vsepc = h.pc
        h.vstval = tval
        s = h.vsstatus
        s &= ~(MSTATUS_SPIE | MSTATUS_SPP)
        if s & MSTATUS_SIE:
            s |= MSTATUS_SPIE
        if h.priv == PRV_S:
            s |= MSTATUS_SPP
        s &= ~MSTATUS_SIE
        h.vsstatus = s
        vector = h.vstvec
        set_mode(h, 1, PRV_S)
    elif target == TARGET_HS:
        h.scause = cause
        h.sepc = h.pc
        h.stval = tval
        h.htval = gpa >> 2
        h.htinst = tinst
        s = h.hstatus & ~(HSTATUS_SPV | HSTATUS_GVA)
        if h.virt:
            s |= HSTATUS_SPV
            s = (s & ~HSTATUS_SPVP) | (HSTATUS_SPVP if h.priv == PRV_S else 0)
        if gva:
            s |= HSTATUS_GVA
        h.hstatus = s
        s = h.mstatus
        s &= ~(MSTATUS_SPIE | MSTATUS_SPP)
        if s & MSTATUS_SIE:
            s |= MSTATUS_SPIE
        if h.priv == PRV_S:
            s |= MSTATUS_SPP
        s &= ~MSTATUS_SIE
        h.mstatus = s
        vector = h.stvec
        set_mode(h, 0, PRV_S)
    else:
        h.mcause = cause
        h.mepc = h.pc
        h.mtval = tval
        h.mtval2 = gpa >> 2
        h.mtinst = tinst
        s = h.mstatus
        s &= ~(MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPV | MSTATUS_GVA)
        if s & MSTATUS_MIE:
            s |= MSTATUS_MPIE
        s |= (<uint64_t>h.priv) << 11
        if h.virt:
            s |= MSTATUS_MPV
        if gva:
            s |= MSTATUS_GVA
        s &= ~MSTATUS_MIE
        h.mstatus = s
        vector = h.mtvec
        set_mode(h, 0, PRV_M)
    if interrupt and (vector & 3) == 1:
        h.pc = (vector & ~3ULL) + 4 * <uint64_t>vector_code
    else:
        h.pc = vector & ~3ULL
    # every trap costs one unit of budget, so a trap storm still ends the run
    if h.budget_end > h.instret:
        h.budget_end -= 1
    force_event_check(h)
    return 0


cdef int pending_interrupt(Hart* h) noexcept nogil:
    # the interrupt to take now, or -1: M-level first, then HS, then VS
    # (VS interrupts the guest gets through hideleg, only while V=1)
    cdef uint64_t pend = read_mip(h) & h.mie
    cdef uint64_t m_pend, hs_pend, vs_pend, chosen
    if pend == 0:
        return -1
    m_pend = pend & ~h.mideleg
    hs_pend = pend & h.mideleg & ~h.hideleg
    vs_pend = pend & h.mideleg & h.hideleg
    if h.priv == PRV_M and not (h.mstatus & MSTATUS_MIE):
        m_pend = 0
    if h.priv == PRV_M or (h.priv == PRV_S and not h.virt and not (h.mstatus & MSTATUS_SIE)):
        hs_pend = 0
    if not h.virt or (h.priv == PRV_S and not (h.vsstatus & MSTATUS_SIE)):
        vs_pend = 0
    chosen = m_pend if m_pend else (hs_pend if hs_pend else vs_pend)
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
    if chosen & MIP_STIP:
        return IRQ_STI
    if chosen & MIP_SGEIP:
        return IRQ_SGEI
    if chosen & MIP_VSEIP:
        return IRQ_VSEI
    if chosen & MIP_VSSIP:
        return IRQ_VSSI
    return IRQ_VSTI


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
    if vs_sstc(h) and not (h.mip_hw & MIP_VSTIP):
        t = instret_when_time_reaches(h, h.vstimecmp - h.htimedelta)
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
    cdef int new_virt = 1 if (new_priv != PRV_M and (s & MSTATUS_MPV)) else 0
    s &= ~MSTATUS_MIE
    if s & MSTATUS_MPIE:
        s |= MSTATUS_MIE
    s |= MSTATUS_MPIE
    s &= ~(MSTATUS_MPP | MSTATUS_MPV)
    if new_priv != PRV_M:
        s &= ~MSTATUS_MPRV
    h.mstatus = s
    h.res_valid = 0
    set_mode(h, new_virt, new_priv)
    h.pc = h.mepc
    force_event_check(h)
    return ST_OK


cdef int do_sret(Hart* h) noexcept nogil:
    # from HS: to V=hstatus.SPV (cleared, as QEMU does); from VS: within the
    # guest, by vsstatus
    cdef uint64_t s
    cdef int new_priv, new_virt
    if h.virt:
        s = h.vsstatus
        new_priv = PRV_S if (s & MSTATUS_SPP) else PRV_U
        s &= ~MSTATUS_SIE
        if s & MSTATUS_SPIE:
            s |= MSTATUS_SIE
        s |= MSTATUS_SPIE
        s &= ~MSTATUS_SPP
        h.vsstatus = s
        h.res_valid = 0
        set_mode(h, 1, new_priv)
        h.pc = h.vsepc
        force_event_check(h)
        return ST_OK
    s = h.mstatus
    new_priv = PRV_S if (s & MSTATUS_SPP) else PRV_U
    new_virt = 1 if (h.hstatus & HSTATUS_SPV) else 0
    s &= ~MSTATUS_SIE
    if s & MSTATUS_SPIE:
        s |= MSTATUS_SIE
    s |= MSTATUS_SPIE
    s &= ~MSTATUS_SPP
    s &= ~MSTATUS_MPRV
    h.mstatus = s
    h.hstatus &= ~HSTATUS_SPV
    h.res_valid = 0
    set_mode(h, new_virt, new_priv)
    h.pc = h.sepc
    force_event_check(h)
    return ST_OK

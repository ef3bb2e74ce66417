# The run loop: fetch through the decoded-page cache, execute, retire, and
# leave only through an exit. Instruction semantics follow the unprivileged
# and privileged specs; names follow the spec's mnemonics.

cdef inline uint64_t sext32(uint64_t v) noexcept nogil:
    return <uint64_t><int64_t><int32_t><uint32_t>v


cdef inline uint64_t extend(uint64_t v, int size, bint is_signed) noexcept nogil:
    if size >= 8:
        return v
    if is_signed:
        return <uint64_t>((<int64_t>(v << (64 - 8 * size))) >> (64 - 8 * size))
    return v & ((1ULL << (8 * size)) - 1)


cdef inline int illegal(Hart* h, DecodedInsn* d) noexcept nogil:
    return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)


cdef inline int virtual_insn(Hart* h, DecodedInsn* d) noexcept nogil:
    # the H extension's trap for what HS-mode could do but VS/VU may not
    return raise_exc(h, CAUSE_VIRTUAL_INSN, d.raw)


cdef inline void mmio_load_wait(Hart* h, DecodedInsn* d, uint64_t vaddr, int size, bint is_signed) noexcept nogil:
    h.mmio_state = MMIO_LOAD_WAITING
    h.mmio_rd = d.rd
    h.mmio_size = <uint8_t>size
    h.mmio_signed = is_signed
    h.mmio_fp = 0
    h.mmio_ilen = insn_len(d)
    h.mmio_vaddr = vaddr


cdef inline int do_load(Hart* h, DecodedInsn* d, int size, bint is_signed) noexcept nogil:
    cdef uint64_t v
    cdef uint64_t addr = h.x[d.rs1] + <uint64_t><int64_t>d.imm
    cdef int st = load(h, addr, size, &v)
    if st == ST_OK:
        h.x[d.rd] = extend(v, size, is_signed)
    elif st == ST_EXIT_BEFORE:
        mmio_load_wait(h, d, addr, size, is_signed)
    return st


cdef void break_peer_reservations(Hart* h, uint64_t pa, int size) noexcept nogil:
    # An SC or AMO that writes takes the line from every other hart's
    # reservation, as a cache-coherent machine would. Plain stores are not
    # checked here (they run on the TLB fast path); SC's value comparison
    # catches those that change the reserved word.
    cdef int i
    cdef Hart* t
    if h.group == NULL:
        return
    for i in range(MAX_HARTS):
        t = h.group.harts[i]
        if t != NULL and t != h and t.res_valid and t.res_paddr < pa + <uint64_t>size and pa < t.res_paddr + 8:
            t.res_valid = 0


cdef int do_amo(Hart* h, DecodedInsn* d, int size) noexcept nogil:
    cdef uint64_t addr = h.x[d.rs1]
    cdef uint64_t pa, old, src, new
    cdef int st = atomic_ram_addr(h, addr, size, ACC_STORE, &pa)
    cdef int funct5 = d.imm
    if st != ST_OK:
        return st
    old = pyvmm_ld(h.ram + (pa - h.ram_base), size)
    src = h.x[d.rs2]
    if size == 4:
        old = sext32(old)
        src = sext32(src)
    if funct5 == AMO_SWAP:
        new = src
    elif funct5 == AMO_ADD:
        new = old + src
    elif funct5 == AMO_XOR:
        new = old ^ src
    elif funct5 == AMO_AND:
        new = old & src
    elif funct5 == AMO_OR:
        new = old | src
    elif funct5 == AMO_MIN:
        new = old if <int64_t>old < <int64_t>src else src
    elif funct5 == AMO_MAX:
        new = old if <int64_t>old > <int64_t>src else src
    elif funct5 == AMO_MINU:
        if size == 4:
            new = old if <uint32_t>old < <uint32_t>src else src
        else:
            new = old if old < src else src
    else:
        if size == 4:
            new = old if <uint32_t>old > <uint32_t>src else src
        else:
            new = old if old > src else src
    break_peer_reservations(h, pa, size)
    st = store_ram(h, pa, size, new)
    h.x[d.rd] = old
    return st


cdef int do_lr(Hart* h, DecodedInsn* d, int size) noexcept nogil:
    cdef uint64_t addr = h.x[d.rs1]
    cdef uint64_t pa, v
    cdef int st = atomic_ram_addr(h, addr, size, ACC_LOAD, &pa)
    if st != ST_OK:
        return st
    v = pyvmm_ld(h.ram + (pa - h.ram_base), size)
    h.res_valid = 1
    h.res_addr = addr
    h.res_paddr = pa
    h.res_value = v
    h.x[d.rd] = sext32(v) if size == 4 else v
    return ST_OK


cdef int do_sc(Hart* h, DecodedInsn* d, int size) noexcept nogil:
    # like QEMU: succeed when the reservation address matches and memory
    # still holds the value LR saw. As Spike orders it, the store's
    # alignment, translation and PMP are checked first, so an SC that would
    # fault raises the fault (a hypervisor sees its guest-page fault) even
    # when no reservation is held.
    cdef uint64_t addr = h.x[d.rs1]
    cdef uint64_t pa, cur
    cdef int st
    # A faulting SC leaves the reservation as it was (Spike's order): the
    # fault may be the hypervisor's own (a copy-on-write page), after which
    # the SC re-runs and must see what the guest saw.
    cdef bint reserved = h.res_valid and h.res_addr == addr
    st = atomic_ram_addr(h, addr, size, ACC_STORE, &pa)
    if st != ST_OK:
        return st
    h.res_valid = 0
    if not reserved:
        h.x[d.rd] = 1
        return ST_OK
    cur = pyvmm_ld(h.ram + (pa - h.ram_base), size)
    if cur != h.res_value:
        h.x[d.rd] = 1
        return ST_OK
    break_peer_reservations(h, pa, size)
    st = store_ram(h, pa, size, h.x[d.rs2])
    h.x[d.rd] = 0
    return st


cdef int do_csr(Hart* h, DecodedInsn* d) noexcept nogil:
    cdef uint32_t csr = (<uint32_t>d.imm) & 0xFFF
    cdef int op = d.op
    cdef bint write
    cdef int chk
    cdef uint64_t src, old, rmw_old, new
    if op == OP_CSRRW or op == OP_CSRRS or op == OP_CSRRC:
        src = h.x[d.rs1]
    else:
        src = d.rs1
    write = op == OP_CSRRW or op == OP_CSRRWI or d.rs1 != 0
    chk = csr_check(h, csr, write)
    if chk != CSR_OK:
        if (h.cpu_profile == 1 and chk == CSR_ILLEGAL and h.priv == PRV_U and not h.virt
                and (csr == CSR_SSTATUS or (csr == CSR_SATP and not write))):
            # classic profile: U-mode reads sstatus/satp, its sstatus writes
            # vanish (x86's PUSHF/SMSW/POPF before VT-x)
            h.x[d.rd] = csr_read(h, csr)
            return ST_OK
        return virtual_insn(h, d) if chk == CSR_VIRTUAL else illegal(h, d)
    if h.virt:
        csr = csr_at_v1(csr)
    old = csr_read(h, csr)
    if h.virt and csr == CSR_TIME:
        # the guest's clock runs htimedelta ahead of the host's
        old += h.htimedelta
    if write:
        rmw_old = old
        if csr == CSR_MIP or csr == CSR_SIP:
            # read-modify-write sees only the software-writable SEIP bit
            rmw_old = (old & ~MIP_SEIP) | (h.mip_sw & MIP_SEIP)
        if op == OP_CSRRW or op == OP_CSRRWI:
            new = src
        elif op == OP_CSRRS or op == OP_CSRRSI:
            new = rmw_old | src
        else:
            new = rmw_old & ~src
        csr_write(h, csr, new)
        if csr <= CSR_FCSR:
            # fflags/frm/fcsr are F/D state: writing them makes it Dirty
            fp_dirty(h)
    h.x[d.rd] = old
    return ST_OK


cdef int do_wfi(Hart* h, DecodedInsn* d) noexcept nogil:
    cdef uint64_t target, now
    if h.priv < PRV_M and (h.mstatus & MSTATUS_TW):
        return illegal(h, d)
    if h.priv == PRV_U:
        return virtual_insn(h, d) if h.virt else illegal(h, d)
    if h.virt and (h.hstatus & HSTATUS_VTW):
        return virtual_insn(h, d)
    update_timer_bits(h)
    if read_mip(h) & h.mie:
        force_event_check(h)
        return ST_OK
    if h.wfi_exit:
        # several harts take turns: time is the machine's, not this hart's
        # to skip; the scheduler wakes the hart when an interrupt is pending
        h.exit_reason = EXIT_WFI_C
        h.exit_pc = h.pc
        return ST_EXIT_AFTER
    target = U64_MAX
    if h.mie & MIP_MTIP:
        target = h.mtimecmp
    if (h.mie & MIP_STIP) and (h.menvcfg & MENVCFG_STCE) and h.stimecmp < target:
        target = h.stimecmp
    if (h.mie & MIP_VSTIP) and vs_sstc(h) and h.vstimecmp != U64_MAX and h.vstimecmp - h.htimedelta < target:
        target = h.vstimecmp - h.htimedelta
    if target == U64_MAX:
        # retire, then leave: an interrupt Python raises later is taken with
        # xepc after the WFI, as on QEMU, whose WFI halts with pc advanced
        h.exit_reason = EXIT_WFI_C
        h.exit_pc = h.pc
        return ST_EXIT_AFTER
    now = mtime_now(h)
    if h.realtime:
        # sleep towards the deadline in short steps so run() stays responsive
        if target > now:
            pyvmm_sleep_ticks(target - now if target - now < 10000 else 10000)
        if h.budget_end > h.instret:
            h.budget_end -= 1
        force_event_check(h)
        return ST_RETRY
    if target > now:
        h.time_offset += <int64_t>(target - now)
    update_timer_bits(h)
    force_event_check(h)
    return ST_OK


cdef int hyp_translate(Hart* h, uint64_t vaddr, int size, int acc, bint hlvx, uint64_t* pa) noexcept nogil:
    # V=1 translation at hstatus.SPVP's privilege, and PMP, for HLV/HLVX/HSV
    cdef int priv = PRV_S if (h.hstatus & HSTATUS_SPVP) else PRV_U
    cdef uint64_t cause
    h.tlb_misses += 1
    cause = translate(h, vaddr, acc, priv, 1, hlvx, pa)
    if cause:
        return raise_xlate(h, cause, vaddr)
    if not pmp_check(h, pa[0], <uint64_t>size, acc, priv):
        return raise_exc(h, access_fault_cause(acc), vaddr)
    return ST_OK


cdef int hyp_access(Hart* h, DecodedInsn* d, uint64_t vaddr, int size, int acc, bint hlvx,
                    uint64_t* value) noexcept nogil:
    # one HLV/HLVX/HSV access, without the TLB (these are rare: hypervisors
    # reading guest memory)
    cdef uint64_t pa, pa2, v
    cdef int r, first, k
    if (vaddr & 0xFFF) + <uint64_t>size > 4096:
        # crosses a page: both halves must translate and be RAM
        first = <int>(4096 - (vaddr & 0xFFF))
        r = hyp_translate(h, vaddr, first, acc, hlvx, &pa)
        if r:
            return r
        r = hyp_translate(h, vaddr + <uint64_t>first, size - first, acc, hlvx, &pa2)
        if r:
            return r
        if not in_ram(h, pa, <uint64_t>first) or not in_ram(h, pa2, <uint64_t>(size - first)):
            return raise_exc(h, access_fault_cause(acc), vaddr)
        if acc == ACC_LOAD:
            v = 0
            for k in range(size):
                if k < first:
                    v |= (<uint64_t>h.ram[pa - h.ram_base + <uint64_t>k]) << (8 * k)
                else:
                    v |= (<uint64_t>h.ram[pa2 - h.ram_base + <uint64_t>(k - first)]) << (8 * k)
            value[0] = v
            return ST_OK
        r = ST_OK
        for k in range(size):
            if k < first:
                if store_ram(h, pa + <uint64_t>k, 1, (value[0] >> (8 * k)) & 0xFF) != ST_OK:
                    r = ST_EXIT_AFTER
            elif store_ram(h, pa2 + <uint64_t>(k - first), 1, (value[0] >> (8 * k)) & 0xFF) != ST_OK:
                r = ST_EXIT_AFTER
        return r
    r = hyp_translate(h, vaddr, size, acc, hlvx, &pa)
    if r:
        return r
    if in_ram(h, pa, <uint64_t>size):
        if acc == ACC_LOAD:
            value[0] = pyvmm_ld(h.ram + (pa - h.ram_base), size)
            return ST_OK
        return store_ram(h, pa, size, value[0])
    if pa >= CLINT_BASE and pa < CLINT_BASE + CLINT_SIZE:
        if not clint_size_ok(pa - CLINT_BASE, size):
            return raise_exc(h, access_fault_cause(acc), vaddr)
        if acc == ACC_LOAD:
            value[0] = clint_read(h, pa - CLINT_BASE, size)
        else:
            clint_write(h, pa - CLINT_BASE, size, value[0])
        return ST_OK
    if hlvx:
        return raise_exc(h, CAUSE_LOAD_ACCESS, vaddr)
    if acc == ACC_LOAD:
        mmio_load_wait(h, d, vaddr, size, (d.imm & 4) != 0)
        return mmio_exit(h, pa, size, False, 0)
    h.mmio_state = MMIO_STORE_DONE
    h.mmio_vaddr = vaddr
    return mmio_exit(h, pa, size, True, value[0])


cdef int do_hypervisor_insn(Hart* h, DecodedInsn* d) noexcept nogil:
    # HLV/HLVX/HSV and HFENCE: HS and M (and U with hstatus.HU for the loads
    # and stores); from V=1 a virtual instruction, from U otherwise illegal
    cdef uint64_t v = 0
    cdef int size, st
    cdef int64_t vmid
    if h.virt:
        return virtual_insn(h, d)
    if d.op == OP_HFENCE_VVMA or d.op == OP_HFENCE_GVMA:
        if h.priv == PRV_U:
            return illegal(h, d)
        if d.op == OP_HFENCE_GVMA:
            if h.priv == PRV_S and (h.mstatus & MSTATUS_TVM):
                return illegal(h, d)
            # guest-physical mappings changed: every guest context of the VMID goes
            vmid = <int64_t>(h.x[d.rs2] & HGATP_VMID_MASK) if d.rs2 != 0 else -1
            walk_cache_flush(h)
            tlb_flush_contexts(h, 1, vmid)
        else:
            vmid = <int64_t>hgatp_vmid(h.hgatp)
            if d.rs1 != 0:
                tlb_flush_page(h, h.x[d.rs1], 1, vmid)
            else:
                tlb_flush_contexts(h, 1, vmid)
        return ST_OK
    if h.priv == PRV_U and not (h.hstatus & HSTATUS_HU):
        return illegal(h, d)
    if d.op == OP_HLV:
        size = 1 << (d.imm & 3)
        st = hyp_access(h, d, h.x[d.rs1], size, ACC_LOAD, (d.imm & 8) != 0, &v)
        if st == ST_OK:
            h.x[d.rd] = extend(v, size, (d.imm & 4) != 0)
        return st
    v = h.x[d.rs2]
    return hyp_access(h, d, h.x[d.rs1], 1 << (d.imm & 3), ACC_STORE, False, &v)


cdef int finish(Hart* h, int reason) noexcept nogil:
    # the host FPU's rounding mode goes back to what Python had
    pyvmm_host_restore(h.host_fpenv)
    h.exit_reason = reason
    if reason == EXIT_BUDGET_C:
        h.exit_pc = h.pc
    h.exits[reason] += 1
    return reason


cdef int resume_mmio(Hart* h) noexcept nogil:
    cdef int state = h.mmio_state
    h.mmio_state = MMIO_IDLE
    if state == MMIO_LOAD_COMPLETED:
        if h.mmio_fp:
            write_fd(h, h.mmio_rd, box32(h.mmio_value) if h.mmio_size == 4 else h.mmio_value)
        else:
            h.x[h.mmio_rd] = extend(h.mmio_value, h.mmio_size, h.mmio_signed)
        h.pc += h.mmio_ilen
        h.instret += 1
    elif state == MMIO_LOAD_FAULTED:
        raise_exc(h, CAUSE_LOAD_ACCESS, h.mmio_vaddr)
        h.exc_gva = h.mmio_virt
        return take_trap(h, CAUSE_LOAD_ACCESS, False, h.mmio_vaddr, <uint32_t>h.exit_insn)
    elif state == MMIO_STORE_FAULTED:
        # a store has no effect on the hart's registers, so undoing its
        # retirement makes the access fault precise
        h.pc = h.exit_pc
        h.instret -= 1
        raise_exc(h, CAUSE_STORE_ACCESS, h.mmio_vaddr)
        h.exc_gva = h.mmio_virt
        return take_trap(h, CAUSE_STORE_ACCESS, False, h.mmio_vaddr, <uint32_t>h.exit_insn)
    return 0


cdef extern from *:
    """
    #define PYVMM_LIKELY(cond) __builtin_expect(!!(cond), 1)
    """
    # tells GCC which way a test usually goes, so that it lays that path out
    # straight (a taken jump costs the fast run as much as several instructions)
    bint likely "PYVMM_LIKELY" (bint cond) nogil


cdef inline bint tlb_fast_hit(TlbEntry* e, uint64_t vaddr, int size) noexcept nogil:
    # an access of `size` bytes through entry e takes the fast path: RAM
    # without TLB_SLOW, and naturally aligned, so inside the page (a
    # misaligned one goes to the general path, which counts it alike)
    return likely(e.tag == (vaddr >> 12)) and likely((vaddr & <uint64_t>(size - 1)) == 0)


# Threaded dispatch for run_hart's fast run: every handler ends in its own
# indirect jump to the next instruction's handler (GCC/Clang computed goto),
# so the host predicts each jump from the guest op before it instead of
# through one shared jump. Cython has no labels or computed goto, so these
# macros name run_hart's locals and the op ids by the C names Cython 3 gives
# them (__pyx_v_<local>, __pyx_e_5pyvmm_5_core_<enum>); a rename shows up as a
# compile error, never as a silent change. Ops without a label go to
# fast_generic, the if/elif dispatch that sends them to the general path.
cdef extern from *:
    """
    #define PYVMM_L(name) __pyx_v_##name
    #define PYVMM_OP(op) __pyx_e_5pyvmm_5_core_OP_##op
    #define PYVMM_FAST_OPS(X) \
        X(ADDI) \
        X(LUI) \
        X(AUIPC) \
        X(SLTI) \
        X(SLTIU) \
        X(XORI) \
        X(ORI) \
        X(ANDI) \
        X(SLLI) \
        X(SRLI) \
        X(SRAI) \
        X(ADD) \
        X(SUB) \
        X(SLL) \
        X(SLT) \
        X(SLTU) \
        X(XOR) \
        X(SRL) \
        X(SRA) \
        X(OR) \
        X(AND) \
        X(ADDIW) \
        X(SLLIW) \
        X(SRLIW) \
        X(SRAIW) \
        X(ADDW) \
        X(SUBW) \
        X(SLLW) \
        X(SRLW) \
        X(SRAW) \
        X(MUL) \
        X(MULH) \
        X(MULHSU) \
        X(MULHU) \
        X(DIV) \
        X(DIVU) \
        X(REM) \
        X(REMU) \
        X(MULW) \
        X(DIVW) \
        X(DIVUW) \
        X(REMW) \
        X(REMUW) \
        X(FENCE) \
        X(LB) \
        X(LH) \
        X(LW) \
        X(LD) \
        X(LBU) \
        X(LHU) \
        X(LWU) \
        X(SB) \
        X(SH) \
        X(SW) \
        X(SD) \
        X(JAL) \
        X(JALR) \
        X(BEQ) \
        X(BNE) \
        X(BLT) \
        X(BGE) \
        X(BLTU) \
        X(BGEU) \
        X(FP) \
        X(FLD) \
        X(FLW) \
        X(FSD) \
        X(FSW) \
        PYVMM_BITMANIP_FAST_OPS(X) \
        X(JAL_NEAR) \
        X(BEQ_NEAR) \
        X(BNE_NEAR) \
        X(BLT_NEAR) \
        X(BGE_NEAR) \
        X(BLTU_NEAR) \
        X(BGEU_NEAR) \
        X(ADDI_F) \
        X(ADDIW_F) \
        X(ADD_F) \
        X(ADDW_F) \
        X(XOR_F) \
        X(SLLI_F) \
        X(SRLI_F) \
        X(ANDI_F) \
        X(SLLIW_F) \
        X(MUL_F) \
        X(LD_F) \
        X(LW_F) \
        X(LBU_F) \
        X(BNE_NEAR_F) \
        X(BEQ_NEAR_F) \
        X(BLTU_NEAR_F) \
        X(BGEU_NEAR_F) \
        X(SB_F) \
        X(SW_F) \
        X(SD_F) \
        X(BLT_NEAR_R) \
        X(BGE_NEAR_R) \
        X(BLTU_NEAR_R) \
        X(BGEU_NEAR_R) \
        X(SLLI_SRLI) \
        X(AUIPC_ADDI) \
        X(LUI_ADDI) \
        X(LUI_ADDIW) \
        X(ADD_SRLI) \
        X(SRLI_ADD) \
        X(ADDI_BNE) \
        X(ADDIW_BNE) \
        X(ADD_LW) \
        X(ADD_LD) \
        X(ADDI_ADD) \
        X(MUL_ADD) \
        X(XOR_ADD) \
        X(ADDW_BLTU) \
        X(ADDI_BEQ) \
        X(LBU_BEQ) \
        X(ADD_SB) \
        X(ADD_SD)
    /* a fused pair and the op of its first instruction, whose plain
       handler runs it alone when the run counts one at a time */
    #define PYVMM_FUSED_PAIRS(X) \
        X(SLLI_SRLI, SLLI) \
        X(AUIPC_ADDI, AUIPC) \
        X(LUI_ADDI, LUI) \
        X(LUI_ADDIW, LUI) \
        X(ADD_SRLI, ADD) \
        X(SRLI_ADD, SRLI) \
        X(ADDI_BNE, ADDI) \
        X(ADDIW_BNE, ADDIW) \
        X(ADD_LW, ADD) \
        X(ADD_LD, ADD) \
        X(ADDI_ADD, ADDI) \
        X(MUL_ADD, MUL) \
        X(XOR_ADD, XOR) \
        X(ADDW_BLTU, ADDW) \
        X(ADDI_BEQ, ADDI) \
        X(LBU_BEQ, LBU) \
        X(ADD_SB, ADD) \
        X(ADD_SD, ADD)
    /* The run counts instructions a straight-line run at a time: entering
       slot d (at the run's start, after a branch or jump, after a branch
       not taken) it takes d->blen, the instructions to the end of d's run,
       from `left` and then runs them without counting; the run's last
       instruction is a branch or jump, which enters the next run, or one
       that leaves the fast run (putting back what it did not retire). When
       fewer than d->blen remain it counts one at a time (dispatching through
       pyvmm_count_targets, whose every entry is the count check) so the run
       stops on exactly the instruction where `left` runs out. */
    #define PYVMM_FAST_TARGET(op) [PYVMM_OP(op)] = &&pyvmm_fast2_##op, [256 + PYVMM_OP(op)] = &&pyvmm_fast___pyx_e_5pyvmm_5_core_OP_##op,
    /* counting one at a time, a fused pair's slot runs only its first
       instruction (pyvmm_single_targets): the count check comes before each */
    #define PYVMM_SINGLE_TARGET(pair, first) [PYVMM_OP(pair)] = &&pyvmm_fast2_##first, \
        [256 + PYVMM_OP(pair)] = &&pyvmm_fast___pyx_e_5pyvmm_5_core_OP_##first,
    #define PYVMM_FAST_TARGETS() \
        _Static_assert(PYVMM_OP(DISPATCH_END) <= 256, "dispatch indexes hold an op in 8 bits"); \
        static void *pyvmm_fast_targets[512] = { \
        [0 ... 511] = &&pyvmm_fast_generic, \
        PYVMM_FAST_OPS(PYVMM_FAST_TARGET) \
        }; \
        static void *pyvmm_count_targets[512] = { [0 ... 511] = &&pyvmm_fast_count }; \
        static void *pyvmm_single_targets[512] = { \
        [0 ... 511] = &&pyvmm_fast_generic, \
        PYVMM_FAST_OPS(PYVMM_FAST_TARGET) \
        PYVMM_FUSED_PAIRS(PYVMM_SINGLE_TARGET) \
        }
    /* the table is indexed by a slot's dispatch field: op, plus 256 for a
       4-byte instruction. Dispatch steps the next slot nd by a 4-byte
       instruction's length, a constant, so its address never waits for a
       load from this one; a 4-byte instruction's entry is its handler, a
       2-byte one's a stub that steps nd back, which GCC places right before
       the handler. Neither takes a second jump. */
    #define PYVMM_FAST_STUB(op) \
        pyvmm_fast2_##op: PYVMM_L(nd) = PYVMM_L(d) + 1; goto pyvmm_fast___pyx_e_5pyvmm_5_core_OP_##op;
    /* the stubs and the run's entry sit after the fast run, which jumps
       over them to where pc is recomputed from the slot d */
    #define PYVMM_FAST_STUBS() goto pyvmm_fast_end_slot; \
        PYVMM_FAST_OPS(PYVMM_FAST_STUB) \
      /* a straight-line run entered and counted, on a page the translator \
         watches (jit.pxi): run its block if it has one; the block either \
         stopped at an instruction of a counted run, or goes on to a new run */ \
      pyvmm_jit_enter: \
        /* a run the translator left to the interpreter needs no call */ \
        if (PYVMM_L(jitp)->entry[PYVMM_FAST_SLOT_OFF() >> 4] == __pyx_e_5pyvmm_5_core_JIT_HOT) \
            goto *pyvmm_fast_targets[PYVMM_L(d)->dispatch]; \
        PYVMM_L(jf).left = PYVMM_L(left); \
        PYVMM_L(jkind) = __pyx_f_5pyvmm_5_core_jit_enter(PYVMM_L(h), PYVMM_L(d), &PYVMM_L(jf)); \
        if (PYVMM_L(jkind) == 0) \
            goto *pyvmm_fast_targets[PYVMM_L(d)->dispatch]; \
        PYVMM_L(left) = PYVMM_L(jf).left; \
        PYVMM_L(npc) = PYVMM_L(jf).npc; \
        if (unlikely(PYVMM_L(jf).page_pc != PYVMM_L(page_pc))) { \
            /* the block went on to another page's blocks (jit_far_enter \
               entered that page): the run goes on there */ \
            PYVMM_L(page_pc) = PYVMM_L(jf).page_pc; \
            PYVMM_L(slots_addr) = (uintptr_t)PYVMM_L(h)->fetch_page->slots; \
            PYVMM_L(jitp) = PYVMM_L(h)->fetch_page->jit; \
        } \
        if (PYVMM_L(jkind) == 1) { \
            PYVMM_L(d) = (void *)(PYVMM_L(slots_addr) + (PYVMM_L(npc) - PYVMM_L(page_pc)) * 8); \
            PYVMM_L(fwd) = PYVMM_L(x)[PYVMM_L(d)->rs1]; \
            PYVMM_L(nd) = PYVMM_L(d) + 2; \
            goto *pyvmm_fast_targets[PYVMM_L(d)->dispatch]; \
        } \
        PYVMM_FAST_JUMP(); \
      pyvmm_fast_enter: \
        PYVMM_L(fwd) = PYVMM_L(x)[PYVMM_L(d)->rs1]; \
        if (likely(PYVMM_L(left) >= PYVMM_L(d)->blen)) { \
            PYVMM_L(left) -= PYVMM_L(d)->blen; \
            PYVMM_L(tbl) = pyvmm_fast_targets; \
            PYVMM_L(nd) = PYVMM_L(d) + 2; \
            if (PYVMM_L(jitp) != NULL) goto pyvmm_jit_enter; \
            goto *pyvmm_fast_targets[PYVMM_L(d)->dispatch]; \
        } \
        PYVMM_L(tbl) = pyvmm_count_targets; \
      pyvmm_fast_count: \
        if (PYVMM_L(left) == 0) \
            goto pyvmm_fast_end_slot; \
        PYVMM_L(left) -= 1; \
        PYVMM_L(nd) = PYVMM_L(d) + 2; \
        goto *pyvmm_single_targets[PYVMM_L(d)->dispatch]
    /* entering the straight-line run at d, where a branch or jump lands:
       the same check as pyvmm_fast_enter, but each branch has its own copy
       and so its own indirect jump, which the host predicts from the
       branch instead of from every run entry at once */
    #define PYVMM_FAST_ENTER_HERE() do { \
        PYVMM_L(fwd) = PYVMM_L(x)[PYVMM_L(d)->rs1]; \
        if (likely(PYVMM_L(left) >= PYVMM_L(d)->blen)) { \
            PYVMM_L(left) -= PYVMM_L(d)->blen; \
            PYVMM_L(tbl) = pyvmm_fast_targets; \
            PYVMM_L(nd) = PYVMM_L(d) + 2; \
            if (PYVMM_L(jitp) != NULL) goto pyvmm_jit_enter; \
            goto *pyvmm_fast_targets[PYVMM_L(d)->dispatch]; \
        } \
        goto pyvmm_fast_enter; \
    } while (0)
    /* the run starts by entering its first slot's straight-line run */
    #define PYVMM_FAST_START() PYVMM_L(tbl) = pyvmm_fast_targets; goto pyvmm_fast_enter
    /* leaving the run at slot d, not retired: give back what was counted
       for it (its run's rest, or the one instruction when counting singly) */
    #define PYVMM_FAST_UNCOUNT() \
        (PYVMM_L(left) += PYVMM_L(tbl) == pyvmm_count_targets ? 1 : PYVMM_L(d)->blen)
    /* Slots are 16 bytes per 2-byte parcel: a slot's byte offset from the
       page's slot 0 (slots_addr) is 8 times its pc's offset from page_pc, so
       the run keeps no pc of its own. */
    #define PYVMM_FAST_SLOT_OFF() ((uintptr_t)PYVMM_L(d) - PYVMM_L(slots_addr))
    /* the pc after this instruction's, for a link register */
    #define PYVMM_FAST_NEXT_PC() (PYVMM_L(page_pc) + (((uintptr_t)PYVMM_L(nd) - PYVMM_L(slots_addr)) >> 3))
    /* a taken branch or jal: imm from this slot's pc; a target on this page
       continues the run, one off it ends the run at that pc */
    #define PYVMM_FAST_BRANCH() do { \
        uintptr_t pyvmm_off = PYVMM_FAST_SLOT_OFF() + (uintptr_t)((intptr_t)PYVMM_L(d)->imm * 8); \
        if (pyvmm_off < 2048 * 16) { \
            PYVMM_L(d) = (void *)(PYVMM_L(slots_addr) + pyvmm_off); \
            PYVMM_FAST_ENTER_HERE(); \
        } \
        PYVMM_L(pc) = PYVMM_L(page_pc) + (PYVMM_FAST_SLOT_OFF() >> 3) + (uint64_t)(int64_t)PYVMM_L(d)->imm; \
        goto pyvmm_fast_end; \
    } while (0)
    /* a taken branch or jal decoded as near: its target is on this page */
    #define PYVMM_FAST_BRANCH_NEAR() do { \
        PYVMM_L(d) = (void *)((uintptr_t)PYVMM_L(d) + (uintptr_t)((intptr_t)PYVMM_L(d)->imm * 8)); \
        PYVMM_FAST_ENTER_HERE(); \
    } while (0)
    /* a jump to npc, an absolute address */
    #define PYVMM_FAST_JUMP() do { \
        if (PYVMM_L(npc) - PYVMM_L(page_pc) < 4096) { \
            PYVMM_L(d) = (void *)(PYVMM_L(slots_addr) + (PYVMM_L(npc) - PYVMM_L(page_pc)) * 8); \
            PYVMM_FAST_ENTER_HERE(); \
        } \
        PYVMM_L(pc) = PYVMM_L(npc); \
        goto pyvmm_fast_end; \
    } while (0)
    #define PYVMM_FAST_OP(op) pyvmm_fast_##op: (void)0
    #define PYVMM_FAST_GENERIC() pyvmm_fast_generic: (void)0
    #define PYVMM_FAST_END() pyvmm_fast_end: (void)0
    #define PYVMM_FAST_END_SLOT() pyvmm_fast_end_slot: (void)0
    /* a sequential instruction retired: on to the next one's handler, in
       the same straight-line run */
    #define PYVMM_FAST_NEXT() do { \
        PYVMM_L(d) = PYVMM_L(nd); \
        PYVMM_L(nd) = PYVMM_L(d) + 2; \
        goto *PYVMM_L(tbl)[PYVMM_L(d)->dispatch]; \
    } while (0)
    /* a branch not taken: the next instruction starts a straight-line run */
    #define PYVMM_FAST_FALL() do { \
        PYVMM_L(d) = PYVMM_L(nd); \
        PYVMM_FAST_ENTER_HERE(); \
    } while (0)
    /* whether the op in the local `op` has a handler in the fast run */
    #define PYVMM_FAST_IS_OP(name) || PYVMM_L(op) == PYVMM_OP(name)
    #define PYVMM_FAST_HAS_OP() (0 PYVMM_FAST_OPS(PYVMM_FAST_IS_OP))
    """
    void fast_targets "PYVMM_FAST_TARGETS" () nogil
    void fast_op "PYVMM_FAST_OP" (int op) nogil
    void fast_generic "PYVMM_FAST_GENERIC" () nogil
    void fast_end "PYVMM_FAST_END" () nogil
    void fast_stubs "PYVMM_FAST_STUBS" () nogil
    void fast_end_slot "PYVMM_FAST_END_SLOT" () nogil
    void fast_next "PYVMM_FAST_NEXT" () nogil
    void fast_fall "PYVMM_FAST_FALL" () nogil
    void fast_start "PYVMM_FAST_START" () nogil
    void fast_uncount "PYVMM_FAST_UNCOUNT" () nogil
    bint fast_has_op "PYVMM_FAST_HAS_OP" () nogil
    void fast_branch "PYVMM_FAST_BRANCH" () nogil
    void fast_branch_near "PYVMM_FAST_BRANCH_NEAR" () nogil
    void fast_jump "PYVMM_FAST_JUMP" () nogil
    uint64_t fast_slot_off "PYVMM_FAST_SLOT_OFF" () nogil
    uint64_t fast_next_pc "PYVMM_FAST_NEXT_PC" () nogil


cdef bint fast_op_continues(int op) noexcept nogil:
    # the fast run executes op and steps to the next instruction: the
    # straight-line runs decode_run builds go on through it
    if op == OP_JAL or op == OP_JALR or (op >= OP_BEQ and op <= OP_BGEU) or op >= OP_DECODED_COUNT:
        return False
    return fast_has_op()


cdef struct FastRunEnd:
    # where a fast run stopped: the slot it stopped at (valid when it stopped
    # on this page), its pc, and how many of its instructions it did not retire
    DecodedInsn* d
    uint64_t pc
    uint64_t left


cdef int fast_run(Hart* h, DecodedInsn* d, uint64_t pc, uint64_t left, FastRunEnd* end) noexcept nogil:
    # The fast run: up to `left` instructions from slot d (at pc) of the
    # current fetch page. Returns whether it stopped at an instruction for
    # the general path. A function of its own so that GCC allocates its few
    # hot values (x, d, left) to registers; in run_hart they were spilled.
    cdef uint64_t* x = h.x
    cdef DecodedInsn* nd
    cdef TlbEntry* e
    cdef TlbEntry* load_tlb
    cdef TlbEntry* store_tlb
    cdef uint64_t tlb_mask = h.tlb_mask
    cdef uint64_t npc, a, b, hits, page_pc
    cdef uintptr_t slots_addr
    cdef void** tbl
    cdef uint64_t fwd      # the last result written to x[], also in a register
    cdef uint8_t* p
    cdef int64_t sa, sb
    cdef int32_t wa, wb
    cdef int op
    cdef bint slow
    cdef JitPage* jitp     # the page's translator entries; NULL: no blocks here
    cdef JitFrame jf
    cdef uint64_t jkind

    fast_targets()
    # locals, not h's fields: with no strict aliasing, a store through
    # x[] would force every field to be read again. The run counts down
    # `left`, the instructions it may still retire, and keeps pc as the
    # slot d (page_pc plus d's offset from slots_addr, over 8).
    load_tlb = h.load_tlb
    store_tlb = h.store_tlb
    hits = 0
    slow = False
    page_pc = pc & ~0xFFFULL
    if d == cross_slot(h):
        slots_addr = <uintptr_t>h.cross_page.slots
    else:
        slots_addr = <uintptr_t>h.fetch_page.slots
    tbl = NULL      # the dispatch table in use: fast_start() sets it
    fwd = 0         # entering a straight-line run sets it
    jitp = NULL
    jkind = 0
    jf.hits = 0
    if h.jit_on and d != cross_slot(h):
        jitp = jit_page(h, h.fetch_page)
        jf.x = x
        jf.load_tlb = load_tlb
        jf.store_tlb = store_tlb
        jf.tlb_mask = tlb_mask
        jf.page_pc = page_pc
        jf.npc = 0
        jf.hart = h
    fast_start()
    while True:
        fast_generic()
        op = d.op
        nd = d + (insn_len(d) >> 1)
        if op == OP_ADDI:
            fast_op(OP_ADDI)
            fwd = x[d.rs1] + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LUI:
            fast_op(OP_LUI)
            fwd = <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_AUIPC:
            fast_op(OP_AUIPC)
            fwd = page_pc + (fast_slot_off() >> 3) + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLTI:
            fast_op(OP_SLTI)
            x[d.rd] = 1 if <int64_t>x[d.rs1] < <int64_t>d.imm else 0
            fast_next()
        elif op == OP_SLTIU:
            fast_op(OP_SLTIU)
            x[d.rd] = 1 if x[d.rs1] < <uint64_t><int64_t>d.imm else 0
            fast_next()
        elif op == OP_XORI:
            fast_op(OP_XORI)
            fwd = x[d.rs1] ^ <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ORI:
            fast_op(OP_ORI)
            fwd = x[d.rs1] | <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ANDI:
            fast_op(OP_ANDI)
            fwd = x[d.rs1] & <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLLI:
            fast_op(OP_SLLI)
            fwd = x[d.rs1] << d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRLI:
            fast_op(OP_SRLI)
            fwd = x[d.rs1] >> d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRAI:
            fast_op(OP_SRAI)
            fwd = <uint64_t>(<int64_t>x[d.rs1] >> d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADD:
            fast_op(OP_ADD)
            fwd = x[d.rs1] + x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SUB:
            fast_op(OP_SUB)
            fwd = x[d.rs1] - x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLL:
            fast_op(OP_SLL)
            x[d.rd] = x[d.rs1] << (x[d.rs2] & 63)
            fast_next()
        elif op == OP_SLT:
            fast_op(OP_SLT)
            fwd = 1 if <int64_t>x[d.rs1] < <int64_t>x[d.rs2] else 0
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLTU:
            fast_op(OP_SLTU)
            fwd = 1 if x[d.rs1] < x[d.rs2] else 0
            x[d.rd] = fwd
            fast_next()
        elif op == OP_XOR:
            fast_op(OP_XOR)
            fwd = x[d.rs1] ^ x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRL:
            fast_op(OP_SRL)
            x[d.rd] = x[d.rs1] >> (x[d.rs2] & 63)
            fast_next()
        elif op == OP_SRA:
            fast_op(OP_SRA)
            x[d.rd] = <uint64_t>(<int64_t>x[d.rs1] >> (x[d.rs2] & 63))
            fast_next()
        elif op == OP_OR:
            fast_op(OP_OR)
            fwd = x[d.rs1] | x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_AND:
            fast_op(OP_AND)
            fwd = x[d.rs1] & x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADDIW:
            fast_op(OP_ADDIW)
            fwd = sext32(x[d.rs1] + <uint64_t><int64_t>d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLLIW:
            fast_op(OP_SLLIW)
            fwd = sext32(x[d.rs1] << d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRLIW:
            fast_op(OP_SRLIW)
            fwd = sext32((<uint32_t>x[d.rs1]) >> d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRAIW:
            fast_op(OP_SRAIW)
            x[d.rd] = <uint64_t><int64_t>((<int32_t><uint32_t>x[d.rs1]) >> d.imm)
            fast_next()
        elif op == OP_ADDW:
            fast_op(OP_ADDW)
            fwd = sext32(x[d.rs1] + x[d.rs2])
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SUBW:
            fast_op(OP_SUBW)
            fwd = sext32(x[d.rs1] - x[d.rs2])
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLLW:
            fast_op(OP_SLLW)
            x[d.rd] = sext32(x[d.rs1] << (x[d.rs2] & 31))
            fast_next()
        elif op == OP_SRLW:
            fast_op(OP_SRLW)
            x[d.rd] = sext32((<uint32_t>x[d.rs1]) >> (x[d.rs2] & 31))
            fast_next()
        elif op == OP_SRAW:
            fast_op(OP_SRAW)
            x[d.rd] = <uint64_t><int64_t>((<int32_t><uint32_t>x[d.rs1]) >> (x[d.rs2] & 31))
            fast_next()
        elif op == OP_MUL:
            fast_op(OP_MUL)
            fwd = x[d.rs1] * x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_MULH:
            fast_op(OP_MULH)
            x[d.rd] = pyvmm_mulh(<int64_t>x[d.rs1], <int64_t>x[d.rs2])
            fast_next()
        elif op == OP_MULHSU:
            fast_op(OP_MULHSU)
            x[d.rd] = pyvmm_mulhsu(<int64_t>x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_MULHU:
            fast_op(OP_MULHU)
            x[d.rd] = pyvmm_mulhu(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_DIV:
            fast_op(OP_DIV)
            sa = <int64_t>x[d.rs1]
            sb = <int64_t>x[d.rs2]
            if sb == 0:
                x[d.rd] = U64_MAX
            elif sb == -1:
                x[d.rd] = <uint64_t>0 - <uint64_t>sa      # also the overflow case
            else:
                x[d.rd] = <uint64_t>(sa // sb)
            fast_next()
        elif op == OP_DIVU:
            fast_op(OP_DIVU)
            a = x[d.rs1]
            b = x[d.rs2]
            x[d.rd] = U64_MAX if b == 0 else a // b
            fast_next()
        elif op == OP_REM:
            fast_op(OP_REM)
            sa = <int64_t>x[d.rs1]
            sb = <int64_t>x[d.rs2]
            if sb == 0:
                x[d.rd] = <uint64_t>sa
            elif sb == -1:
                x[d.rd] = 0
            else:
                x[d.rd] = <uint64_t>(sa % sb)
            fast_next()
        elif op == OP_REMU:
            fast_op(OP_REMU)
            a = x[d.rs1]
            b = x[d.rs2]
            x[d.rd] = a if b == 0 else a % b
            fast_next()
        elif op == OP_MULW:
            fast_op(OP_MULW)
            x[d.rd] = sext32(x[d.rs1] * x[d.rs2])
            fast_next()
        elif op == OP_DIVW:
            fast_op(OP_DIVW)
            wa = <int32_t><uint32_t>x[d.rs1]
            wb = <int32_t><uint32_t>x[d.rs2]
            if wb == 0:
                x[d.rd] = U64_MAX
            elif wb == -1:
                x[d.rd] = sext32(<uint64_t>0 - <uint64_t><int64_t>wa)
            else:
                x[d.rd] = <uint64_t><int64_t>(wa // wb)
            fast_next()
        elif op == OP_DIVUW:
            fast_op(OP_DIVUW)
            a = <uint32_t>x[d.rs1]
            b = <uint32_t>x[d.rs2]
            x[d.rd] = U64_MAX if b == 0 else sext32(a // b)
            fast_next()
        elif op == OP_REMW:
            fast_op(OP_REMW)
            wa = <int32_t><uint32_t>x[d.rs1]
            wb = <int32_t><uint32_t>x[d.rs2]
            if wb == 0:
                x[d.rd] = <uint64_t><int64_t>wa
            elif wb == -1:
                x[d.rd] = 0
            else:
                x[d.rd] = <uint64_t><int64_t>(wa % wb)
            fast_next()
        elif op == OP_REMUW:
            fast_op(OP_REMUW)
            a = <uint32_t>x[d.rs1]
            b = <uint32_t>x[d.rs2]
            x[d.rd] = sext32(a) if b == 0 else sext32(a % b)
            fast_next()
        elif op == OP_FENCE:
            fast_op(OP_FENCE)
            # harts take turns and devices see every store at once: memory is already in order
            fast_next()
        elif op == OP_LD:
            fast_op(OP_LD)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = pyvmm_ld(p, 8)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LW:
            fast_op(OP_LW)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = sext32(pyvmm_ld(p, 4))
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LWU:
            fast_op(OP_LWU)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = pyvmm_ld(p, 4)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LBU:
            fast_op(OP_LBU)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = p[0]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LB:
            fast_op(OP_LB)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = <uint64_t><int64_t>(<int8_t*>p)[0]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LHU:
            fast_op(OP_LHU)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 2):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = pyvmm_ld(p, 2)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LH:
            fast_op(OP_LH)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 2):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = <uint64_t><int64_t><int16_t>pyvmm_ld(p, 2)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SD:
            fast_op(OP_SD)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 8, x[d.rs2])
            fast_next()
        elif op == OP_SW:
            fast_op(OP_SW)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 4, x[d.rs2])
            fast_next()
        elif op == OP_SB:
            fast_op(OP_SB)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            p[0] = <uint8_t>x[d.rs2]
            fast_next()
        elif op == OP_SH:
            fast_op(OP_SH)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 2):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 2, x[d.rs2])
            fast_next()
        elif op == OP_JAL:
            fast_op(OP_JAL)
            x[d.rd] = fast_next_pc()
            fast_branch()
        elif op == OP_JALR:
            fast_op(OP_JALR)
            npc = (x[d.rs1] + <uint64_t><int64_t>d.imm) & ~1ULL
            x[d.rd] = fast_next_pc()
            fast_jump()
        elif op == OP_BEQ:
            fast_op(OP_BEQ)
            if x[d.rs1] == x[d.rs2]:
                fast_branch()
            fast_fall()
        elif op == OP_BNE:
            fast_op(OP_BNE)
            if x[d.rs1] != x[d.rs2]:
                fast_branch()
            fast_fall()
        elif op == OP_BLT:
            fast_op(OP_BLT)
            if <int64_t>x[d.rs1] < <int64_t>x[d.rs2]:
                fast_branch()
            fast_fall()
        elif op == OP_BGE:
            fast_op(OP_BGE)
            if <int64_t>x[d.rs1] >= <int64_t>x[d.rs2]:
                fast_branch()
            fast_fall()
        elif op == OP_BLTU:
            fast_op(OP_BLTU)
            if x[d.rs1] < x[d.rs2]:
                fast_branch()
            fast_fall()
        elif op == OP_BGEU:
            fast_op(OP_BGEU)
            if x[d.rs1] >= x[d.rs2]:
                fast_branch()
            fast_fall()
        elif op == OP_JAL_NEAR:
            fast_op(OP_JAL_NEAR)
            x[d.rd] = fast_next_pc()
            fast_branch_near()
        elif op == OP_BEQ_NEAR:
            fast_op(OP_BEQ_NEAR)
            if x[d.rs1] == x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BNE_NEAR:
            fast_op(OP_BNE_NEAR)
            if x[d.rs1] != x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BLT_NEAR:
            fast_op(OP_BLT_NEAR)
            if <int64_t>x[d.rs1] < <int64_t>x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BGE_NEAR:
            fast_op(OP_BGE_NEAR)
            if <int64_t>x[d.rs1] >= <int64_t>x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BLTU_NEAR:
            fast_op(OP_BLTU_NEAR)
            if x[d.rs1] < x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BGEU_NEAR:
            fast_op(OP_BGEU_NEAR)
            if x[d.rs1] >= x[d.rs2]:
                fast_branch_near()
            fast_fall()
        # rs1 is the result of the instruction before (decode_run picks these)
        elif op == OP_ADDI_F:
            fast_op(OP_ADDI_F)
            fwd = fwd + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADDIW_F:
            fast_op(OP_ADDIW_F)
            fwd = sext32(fwd + <uint64_t><int64_t>d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADD_F:
            fast_op(OP_ADD_F)
            fwd = fwd + x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADDW_F:
            fast_op(OP_ADDW_F)
            fwd = sext32(fwd + x[d.rs2])
            x[d.rd] = fwd
            fast_next()
        elif op == OP_XOR_F:
            fast_op(OP_XOR_F)
            fwd = fwd ^ x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLLI_F:
            fast_op(OP_SLLI_F)
            fwd = fwd << d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRLI_F:
            fast_op(OP_SRLI_F)
            fwd = fwd >> d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ANDI_F:
            fast_op(OP_ANDI_F)
            fwd = fwd & <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SLLIW_F:
            fast_op(OP_SLLIW_F)
            fwd = sext32(fwd << d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_MUL_F:
            fast_op(OP_MUL_F)
            fwd = fwd * x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LD_F:
            fast_op(OP_LD_F)
            a = fwd + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = pyvmm_ld(p, 8)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LW_F:
            fast_op(OP_LW_F)
            a = fwd + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = sext32(pyvmm_ld(p, 4))
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LBU_F:
            fast_op(OP_LBU_F)
            a = fwd + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = p[0]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_BNE_NEAR_F:
            fast_op(OP_BNE_NEAR_F)
            if fwd != x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BEQ_NEAR_F:
            fast_op(OP_BEQ_NEAR_F)
            if fwd == x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BLTU_NEAR_F:
            fast_op(OP_BLTU_NEAR_F)
            if fwd < x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_BGEU_NEAR_F:
            fast_op(OP_BGEU_NEAR_F)
            if fwd >= x[d.rs2]:
                fast_branch_near()
            fast_fall()
        elif op == OP_SB_F:
            fast_op(OP_SB_F)
            a = fwd + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            p[0] = <uint8_t>x[d.rs2]
            fast_next()
        elif op == OP_SW_F:
            fast_op(OP_SW_F)
            a = fwd + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 4, x[d.rs2])
            fast_next()
        elif op == OP_SD_F:
            fast_op(OP_SD_F)
            a = fwd + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 8, x[d.rs2])
            fast_next()
        # rs1 and rs2 trade places in the slot: fwd is the second operand
        elif op == OP_BLT_NEAR_R:
            fast_op(OP_BLT_NEAR_R)
            if <int64_t>x[d.rs2] < <int64_t>fwd:
                fast_branch_near()
            fast_fall()
        elif op == OP_BGE_NEAR_R:
            fast_op(OP_BGE_NEAR_R)
            if <int64_t>x[d.rs2] >= <int64_t>fwd:
                fast_branch_near()
            fast_fall()
        elif op == OP_BLTU_NEAR_R:
            fast_op(OP_BLTU_NEAR_R)
            if x[d.rs2] < fwd:
                fast_branch_near()
            fast_fall()
        elif op == OP_BGEU_NEAR_R:
            fast_op(OP_BGEU_NEAR_R)
            if x[d.rs2] >= fwd:
                fast_branch_near()
            fast_fall()
        elif op == OP_SLLI_SRLI:
            # a fused pair (decode.pxi, fused_op): the first instruction's
            # result goes to the second in a register; then d steps to the
            # second's slot, which does the rest as its own handler would
            fast_op(OP_SLLI_SRLI)
            a = x[d.rs1] << d.imm
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a >> d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_AUIPC_ADDI:
            fast_op(OP_AUIPC_ADDI)
            a = page_pc + (fast_slot_off() >> 3) + <uint64_t><int64_t>d.imm
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LUI_ADDI:
            fast_op(OP_LUI_ADDI)
            a = <uint64_t><int64_t>d.imm
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_LUI_ADDIW:
            fast_op(OP_LUI_ADDIW)
            a = <uint64_t><int64_t>d.imm
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = sext32(a + <uint64_t><int64_t>d.imm)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADD_SRLI:
            fast_op(OP_ADD_SRLI)
            a = x[d.rs1] + x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a >> d.imm
            x[d.rd] = fwd
            fast_next()
        elif op == OP_SRLI_ADD:
            fast_op(OP_SRLI_ADD)
            a = x[d.rs1] >> d.imm
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a + x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADDI_BNE:
            fast_op(OP_ADDI_BNE)
            fwd = x[d.rs1] + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            d = nd
            if fwd != x[d.rs2]:
                fast_branch_near()
            nd = d + (insn_len(d) >> 1)
            fast_fall()
        elif op == OP_ADDIW_BNE:
            fast_op(OP_ADDIW_BNE)
            fwd = sext32(x[d.rs1] + <uint64_t><int64_t>d.imm)
            x[d.rd] = fwd
            d = nd
            if fwd != x[d.rs2]:
                fast_branch_near()
            nd = d + (insn_len(d) >> 1)
            fast_fall()
        elif op == OP_ADD_LW:
            # a load off the fast path leaves at its own slot with the add
            # retired, as when the two run apart
            fast_op(OP_ADD_LW)
            a = x[d.rs1] + x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            a = a + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = sext32(pyvmm_ld(p, 4))
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADD_LD:
            fast_op(OP_ADD_LD)
            a = x[d.rs1] + x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            a = a + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = pyvmm_ld(p, 8)
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADDI_ADD:
            fast_op(OP_ADDI_ADD)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a + x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_MUL_ADD:
            fast_op(OP_MUL_ADD)
            a = x[d.rs1] * x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a + x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_XOR_ADD:
            fast_op(OP_XOR_ADD)
            a = x[d.rs1] ^ x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            fwd = a + x[d.rs2]
            x[d.rd] = fwd
            fast_next()
        elif op == OP_ADDW_BLTU:
            fast_op(OP_ADDW_BLTU)
            fwd = sext32(x[d.rs1] + x[d.rs2])
            x[d.rd] = fwd
            d = nd
            if fwd < x[d.rs2]:
                fast_branch_near()
            nd = d + (insn_len(d) >> 1)
            fast_fall()
        elif op == OP_ADDI_BEQ:
            fast_op(OP_ADDI_BEQ)
            fwd = x[d.rs1] + <uint64_t><int64_t>d.imm
            x[d.rd] = fwd
            d = nd
            if fwd == x[d.rs2]:
                fast_branch_near()
            nd = d + (insn_len(d) >> 1)
            fast_fall()
        elif op == OP_LBU_BEQ:
            # a load off the fast path leaves at the first slot, as LBU's own handler does
            fast_op(OP_LBU_BEQ)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            fwd = p[0]
            x[d.rd] = fwd
            d = nd
            if fwd == x[d.rs2]:
                fast_branch_near()
            nd = d + (insn_len(d) >> 1)
            fast_fall()
        elif op == OP_ADD_SB:
            fast_op(OP_ADD_SB)
            a = x[d.rs1] + x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            a = a + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 1):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            p[0] = <uint8_t>x[d.rs2]
            fast_next()
        elif op == OP_ADD_SD:
            fast_op(OP_ADD_SD)
            a = x[d.rs1] + x[d.rs2]
            x[d.rd] = a
            d = nd
            nd = d + (insn_len(d) >> 1)
            a = a + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 8, x[d.rs2])
            fast_next()
        elif op == OP_FP:
            fast_op(OP_FP)
            if exec_fp(h, d) != ST_OK:
                # illegal (FS Off or a reserved rounding mode): the
                # general path takes the trap
                slow = True
                break
            fast_next()
        elif op == OP_FLD:
            fast_op(OP_FLD)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8) or not fp_enabled(h):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            write_fd(h, d.rd, pyvmm_ld(p, 8))
            fast_next()
        elif op == OP_FLW:
            fast_op(OP_FLW)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &load_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4) or not fp_enabled(h):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            write_fd(h, d.rd, box32(pyvmm_ld(p, 4)))
            fast_next()
        elif op == OP_FSD:
            fast_op(OP_FSD)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 8) or not fp_enabled(h):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 8, h.f[d.rs2])
            fast_next()
        elif op == OP_FSW:
            fast_op(OP_FSW)
            a = x[d.rs1] + <uint64_t><int64_t>d.imm
            e = &store_tlb[(a >> 12) & tlb_mask]
            if not tlb_fast_hit(e, a, 4) or not fp_enabled(h):
                slow = True
                break
            hits += 1
            p = <uint8_t*>(<uint64_t>e.addend + a)
            pyvmm_st(p, 4, h.f[d.rs2])
            fast_next()
        # Zba, Zbb, Zbc, Zbs (bitmanip.pxi)
        elif op == OP_ADD_UW:
            fast_op(OP_ADD_UW)
            x[d.rd] = uw(x[d.rs1]) + x[d.rs2]
            fast_next()
        elif op == OP_SH1ADD:
            fast_op(OP_SH1ADD)
            x[d.rd] = (x[d.rs1] << 1) + x[d.rs2]
            fast_next()
        elif op == OP_SH2ADD:
            fast_op(OP_SH2ADD)
            x[d.rd] = (x[d.rs1] << 2) + x[d.rs2]
            fast_next()
        elif op == OP_SH3ADD:
            fast_op(OP_SH3ADD)
            x[d.rd] = (x[d.rs1] << 3) + x[d.rs2]
            fast_next()
        elif op == OP_SH1ADD_UW:
            fast_op(OP_SH1ADD_UW)
            x[d.rd] = (uw(x[d.rs1]) << 1) + x[d.rs2]
            fast_next()
        elif op == OP_SH2ADD_UW:
            fast_op(OP_SH2ADD_UW)
            x[d.rd] = (uw(x[d.rs1]) << 2) + x[d.rs2]
            fast_next()
        elif op == OP_SH3ADD_UW:
            fast_op(OP_SH3ADD_UW)
            x[d.rd] = (uw(x[d.rs1]) << 3) + x[d.rs2]
            fast_next()
        elif op == OP_SLLI_UW:
            fast_op(OP_SLLI_UW)
            x[d.rd] = uw(x[d.rs1]) << d.imm
            fast_next()
        elif op == OP_ANDN:
            fast_op(OP_ANDN)
            x[d.rd] = x[d.rs1] & ~x[d.rs2]
            fast_next()
        elif op == OP_ORN:
            fast_op(OP_ORN)
            x[d.rd] = x[d.rs1] | ~x[d.rs2]
            fast_next()
        elif op == OP_XNOR:
            fast_op(OP_XNOR)
            x[d.rd] = ~(x[d.rs1] ^ x[d.rs2])
            fast_next()
        elif op == OP_CLZ:
            fast_op(OP_CLZ)
            x[d.rd] = zb_clz(x[d.rs1])
            fast_next()
        elif op == OP_CLZW:
            fast_op(OP_CLZW)
            x[d.rd] = zb_clzw(x[d.rs1])
            fast_next()
        elif op == OP_CTZ:
            fast_op(OP_CTZ)
            x[d.rd] = zb_ctz(x[d.rs1])
            fast_next()
        elif op == OP_CTZW:
            fast_op(OP_CTZW)
            x[d.rd] = zb_ctzw(x[d.rs1])
            fast_next()
        elif op == OP_CPOP:
            fast_op(OP_CPOP)
            x[d.rd] = <uint64_t>__builtin_popcountll(x[d.rs1])
            fast_next()
        elif op == OP_CPOPW:
            fast_op(OP_CPOPW)
            x[d.rd] = <uint64_t>__builtin_popcountll(uw(x[d.rs1]))
            fast_next()
        elif op == OP_MAX:
            fast_op(OP_MAX)
            x[d.rd] = x[d.rs1] if <int64_t>x[d.rs1] > <int64_t>x[d.rs2] else x[d.rs2]
            fast_next()
        elif op == OP_MAXU:
            fast_op(OP_MAXU)
            x[d.rd] = x[d.rs1] if x[d.rs1] > x[d.rs2] else x[d.rs2]
            fast_next()
        elif op == OP_MIN:
            fast_op(OP_MIN)
            x[d.rd] = x[d.rs1] if <int64_t>x[d.rs1] < <int64_t>x[d.rs2] else x[d.rs2]
            fast_next()
        elif op == OP_MINU:
            fast_op(OP_MINU)
            x[d.rd] = x[d.rs1] if x[d.rs1] < x[d.rs2] else x[d.rs2]
            fast_next()
        elif op == OP_SEXT_B:
            fast_op(OP_SEXT_B)
            x[d.rd] = <uint64_t><int64_t><int8_t>x[d.rs1]
            fast_next()
        elif op == OP_SEXT_H:
            fast_op(OP_SEXT_H)
            x[d.rd] = <uint64_t><int64_t><int16_t>x[d.rs1]
            fast_next()
        elif op == OP_ZEXT_H:
            fast_op(OP_ZEXT_H)
            x[d.rd] = x[d.rs1] & 0xFFFF
            fast_next()
        elif op == OP_ROL:
            fast_op(OP_ROL)
            x[d.rd] = zb_rol(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_ROLW:
            fast_op(OP_ROLW)
            x[d.rd] = zb_rolw(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_ROR:
            fast_op(OP_ROR)
            x[d.rd] = zb_ror(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_RORI:
            fast_op(OP_RORI)
            x[d.rd] = zb_ror(x[d.rs1], <uint64_t>d.imm)
            fast_next()
        elif op == OP_RORIW:
            fast_op(OP_RORIW)
            x[d.rd] = zb_rorw(x[d.rs1], <uint64_t>d.imm)
            fast_next()
        elif op == OP_RORW:
            fast_op(OP_RORW)
            x[d.rd] = zb_rorw(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_ORC_B:
            fast_op(OP_ORC_B)
            x[d.rd] = zb_orc_b(x[d.rs1])
            fast_next()
        elif op == OP_REV8:
            fast_op(OP_REV8)
            x[d.rd] = __builtin_bswap64(x[d.rs1])
            fast_next()
        elif op == OP_CLMUL:
            fast_op(OP_CLMUL)
            x[d.rd] = zb_clmul(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_CLMULH:
            fast_op(OP_CLMULH)
            x[d.rd] = zb_clmulh(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_CLMULR:
            fast_op(OP_CLMULR)
            x[d.rd] = zb_clmulr(x[d.rs1], x[d.rs2])
            fast_next()
        elif op == OP_BCLR:
            fast_op(OP_BCLR)
            x[d.rd] = x[d.rs1] & ~(1ULL << (x[d.rs2] & 63))
            fast_next()
        elif op == OP_BCLRI:
            fast_op(OP_BCLRI)
            x[d.rd] = x[d.rs1] & ~(1ULL << d.imm)
            fast_next()
        elif op == OP_BEXT:
            fast_op(OP_BEXT)
            x[d.rd] = (x[d.rs1] >> (x[d.rs2] & 63)) & 1
            fast_next()
        elif op == OP_BEXTI:
            fast_op(OP_BEXTI)
            x[d.rd] = (x[d.rs1] >> d.imm) & 1
            fast_next()
        elif op == OP_BINV:
            fast_op(OP_BINV)
            x[d.rd] = x[d.rs1] ^ (1ULL << (x[d.rs2] & 63))
            fast_next()
        elif op == OP_BINVI:
            fast_op(OP_BINVI)
            x[d.rd] = x[d.rs1] ^ (1ULL << d.imm)
            fast_next()
        elif op == OP_BSET:
            fast_op(OP_BSET)
            x[d.rd] = x[d.rs1] | (1ULL << (x[d.rs2] & 63))
            fast_next()
        elif op == OP_BSETI:
            fast_op(OP_BSETI)
            x[d.rd] = x[d.rs1] | (1ULL << d.imm)
            fast_next()
        else:
            # undecoded (or the slot past the page's end), or an
            # instruction for the general path below
            slow = op != OP_NONE
            break
        # never reached: every handler above ends in fast_next(),
        # fast_fall(), fast_branch() or fast_jump(), which jump straight to
        # the next instruction's handler or out of the run
    fast_uncount()
    fast_stubs()
    fast_end_slot()
    pc = page_pc + (fast_slot_off() >> 3)
    fast_end()
    h.tlb_hits += hits + jf.hits
    end.d = d
    end.pc = pc
    end.left = left
    return slow


cdef int run_hart(Hart* h, uint64_t budget) noexcept nogil:
    cdef uint64_t* x = h.x
    cdef DecodedInsn* d
    cdef FastRunEnd run_end
    cdef uint64_t pc, npc, instret, limit
    cdef int st, r, op

    x[0] = 0
    h.host_fpenv = pyvmm_host_save()
    h.exit_reason = EXIT_NONE
    if budget == 0:
        return finish(h, EXIT_BUDGET_C)
    h.budget_end = h.instret + budget if budget <= U64_MAX - h.instret else U64_MAX
    r = resume_mmio(h)
    if r:
        return finish(h, r)
    force_event_check(h)
    # pc, instret and the run's limit live in locals: a store through x[]
    # could alias the struct fields, which would force a reload on every
    # instruction. h.pc/h.instret are written before anything that can look
    # at them (events, traps, slow memory paths, system instructions).
    pc = h.pc
    instret = h.instret
    while True:
        if instret >= h.event_at:
            h.pc = pc
            h.instret = instret
            r = handle_events(h)
            pc = h.pc
            if r:
                return finish(h, r)
        if h.debug_exec:
            # a breakpoint or execute trigger is armed: every instruction
            # comes back here (the run's limit below) to be checked first
            h.pc = pc
            h.instret = instret
            r = debug_exec_check(h)
            pc = h.pc
            if r > 0:
                return finish(h, r)
            if r < 0:
                continue
        if (pc >> 12) != h.fetch_vpn:
            if enter_fetch_page(h, pc) != ST_OK:
                h.pc = pc
                h.instret = instret
                r = take_trap(h, h.exc_cause, False, h.exc_tval, 0)
                pc = h.pc
                if r:
                    return finish(h, r)
                continue
        d = &h.fetch_page.slots[(pc & 0xFFF) >> 1]
        if d.op == OP_NONE:
            d = fill_slot(h, pc, d)
            if d == NULL:
                h.pc = pc
                h.instret = instret
                r = take_trap(h, h.exc_cause, False, h.exc_tval, 0)
                pc = h.pc
                if r:
                    return finish(h, r)
                continue

        # The fast run: straight from the decoded slots of this page, until
        # the next event, a jump off the page, an undecoded slot, or an
        # instruction that needs the hart's state in memory (system
        # instructions, memory accesses off the TLB's fast path). Nothing in
        # it can change event_at, the privilege, the TLB or the decode cache.
        limit = h.event_at
        if limit <= instret:
            # events were just handled (an interrupt taken leaves the check
            # forced): one instruction executes before they are looked at again
            limit = instret + 1
        if d == cross_slot(h) or h.fetch_vpn == NO_VPN or h.debug_exec:
            # straddles a page, or its page has mixed PMP rules: one at a time
            limit = instret + 1
        r = fast_run(h, d, pc, limit - instret, &run_end)
        d = run_end.d
        pc = run_end.pc
        instret = limit - run_end.left
        if not r:
            continue

        # The general path: one instruction with the hart's state in memory.
        h.pc = pc
        h.instret = instret
        h.debug_hit = 0
        npc = pc + insn_len(d)
        st = ST_OK
        op = d.op
        if op == OP_LB:
            st = do_load(h, d, 1, True)
        elif op == OP_LH:
            st = do_load(h, d, 2, True)
        elif op == OP_LW:
            st = do_load(h, d, 4, True)
        elif op == OP_LD:
            st = do_load(h, d, 8, False)
        elif op == OP_LBU:
            st = do_load(h, d, 1, False)
        elif op == OP_LHU:
            st = do_load(h, d, 2, False)
        elif op == OP_LWU:
            st = do_load(h, d, 4, False)
        elif op == OP_SB:
            st = store(h, x[d.rs1] + <uint64_t><int64_t>d.imm, 1, x[d.rs2])
        elif op == OP_SH:
            st = store(h, x[d.rs1] + <uint64_t><int64_t>d.imm, 2, x[d.rs2])
        elif op == OP_SW:
            st = store(h, x[d.rs1] + <uint64_t><int64_t>d.imm, 4, x[d.rs2])
        elif op == OP_SD:
            st = store(h, x[d.rs1] + <uint64_t><int64_t>d.imm, 8, x[d.rs2])
        elif op == OP_FP:
            st = exec_fp(h, d)
        elif op == OP_FLW:
            st = exec_fp_load(h, d, 4)
        elif op == OP_FLD:
            st = exec_fp_load(h, d, 8)
        elif op == OP_FSW:
            st = exec_fp_store(h, d, 4)
        elif op == OP_FSD:
            st = exec_fp_store(h, d, 8)
        elif op == OP_LR_W:
            st = do_lr(h, d, 4)
        elif op == OP_LR_D:
            st = do_lr(h, d, 8)
        elif op == OP_SC_W:
            st = do_sc(h, d, 4)
        elif op == OP_SC_D:
            st = do_sc(h, d, 8)
        elif op == OP_AMO_W:
            st = do_amo(h, d, 4)
        elif op == OP_AMO_D:
            st = do_amo(h, d, 8)
        elif (op == OP_CSRRW or op == OP_CSRRS or op == OP_CSRRC or op == OP_CSRRWI
              or op == OP_CSRRSI or op == OP_CSRRCI):
            st = do_csr(h, d)
        elif op == OP_ECALL:
            # from VS the cause is 10, ecall from VS mode
            st = raise_exc(h, CAUSE_ECALL_VS if (h.virt and h.priv == PRV_S) else CAUSE_ECALL_U + <uint64_t>h.priv, 0)
        elif op == OP_EBREAK:
            st = raise_exc(h, CAUSE_BREAKPOINT, 0)
        elif op == OP_MRET:
            if h.priv != PRV_M:
                st = illegal(h, d)
            elif not h.pmp_active and ((h.mstatus >> 11) & 3) != PRV_M:
                # QEMU 7.2 refuses to leave M-mode while no PMP rule grants anything
                st = illegal(h, d)
            else:
                do_mret(h)
                npc = h.pc
        elif op == OP_SRET:
            if h.priv == PRV_U:
                st = virtual_insn(h, d) if h.virt else illegal(h, d)
            elif h.priv == PRV_S and not h.virt and (h.mstatus & MSTATUS_TSR):
                st = illegal(h, d)
            elif h.virt and (h.hstatus & HSTATUS_VTSR):
                st = virtual_insn(h, d)
            else:
                do_sret(h)
                npc = h.pc
        elif op == OP_WFI:
            st = do_wfi(h, d)
        elif op == OP_SFENCE_VMA:
            if h.priv == PRV_U:
                st = virtual_insn(h, d) if h.virt else illegal(h, d)
            elif h.priv == PRV_S and not h.virt and (h.mstatus & MSTATUS_TVM):
                st = illegal(h, d)
            elif h.virt and (h.hstatus & HSTATUS_VTVM):
                st = virtual_insn(h, d)
            elif h.virt:
                # the guest's fence: its own VS-stage entries, current VMID only
                if d.rs1 != 0:
                    tlb_flush_page(h, x[d.rs1], 1, <int64_t>hgatp_vmid(h.hgatp))
                else:
                    tlb_flush_contexts(h, 1, <int64_t>hgatp_vmid(h.hgatp))
            elif d.rs1 != 0:
                tlb_flush_page(h, x[d.rs1], 0, -1)
            else:
                tlb_flush_contexts(h, 0, -1)
        elif op == OP_HLV or op == OP_HSV or op == OP_HFENCE_VVMA or op == OP_HFENCE_GVMA:
            st = do_hypervisor_insn(h, d)
        elif op >= OP_CBO_CLEAN and op <= OP_CBO_ZERO:
            st = do_cbo(h, d)
        else:
            # OP_ILLEGAL: every other op retires in the fast run
            st = illegal(h, d)

        if st == ST_OK:
            pc = npc
            instret += 1
            if h.debug_hit:
                # a debugger watchpoint: report after the access retired
                h.debug_hit = 0
                h.pc = pc
                h.instret = instret
                return finish(h, EXIT_DEBUG_C)
        elif st == ST_EXC:
            r = take_trap(h, h.exc_cause, False, h.exc_tval, d.raw)
            pc = h.pc
            if r:
                return finish(h, r)
        elif st == ST_EXIT_AFTER:
            h.exit_insn = d.raw
            h.pc = npc
            h.instret = instret + 1
            return finish(h, h.exit_reason)
        elif st == ST_EXIT_BEFORE:
            h.exit_insn = d.raw
            return finish(h, h.exit_reason)
        # anything else: the instruction neither retired nor trapped (a
        # realtime WFI still waiting); fetch it again

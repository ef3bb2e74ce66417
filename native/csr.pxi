# Control and status registers: access rules (privilege, read-only, TVM,
# counter enables, Sstc) and the WARL behaviour of each register, following
# the privileged spec and QEMU 7.2 where the spec leaves a choice.

cdef enum:
    CSR_FFLAGS = 0x001
    CSR_FRM = 0x002
    CSR_FCSR = 0x003
    CSR_SSTATUS = 0x100
    CSR_SIE = 0x104
    CSR_STVEC = 0x105
    CSR_SCOUNTEREN = 0x106
    CSR_SENVCFG = 0x10A
    CSR_SSCRATCH = 0x140
    CSR_SEPC = 0x141
    CSR_SCAUSE = 0x142
    CSR_STVAL = 0x143
    CSR_SIP = 0x144
    CSR_STIMECMP = 0x14D
    CSR_SATP = 0x180
    CSR_VSSTATUS = 0x200
    CSR_VSIE = 0x204
    CSR_VSTVEC = 0x205
    CSR_VSSCRATCH = 0x240
    CSR_VSEPC = 0x241
    CSR_VSCAUSE = 0x242
    CSR_VSTVAL = 0x243
    CSR_VSIP = 0x244
    CSR_VSTIMECMP = 0x24D
    CSR_VSATP = 0x280
    CSR_HSTATUS = 0x600
    CSR_HEDELEG = 0x602
    CSR_HIDELEG = 0x603
    CSR_HIE = 0x604
    CSR_HTIMEDELTA = 0x605
    CSR_HCOUNTEREN = 0x606
    CSR_HGEIE = 0x607
    CSR_HENVCFG = 0x60A
    CSR_HTVAL = 0x643
    CSR_HIP = 0x644
    CSR_HVIP = 0x645
    CSR_HTINST = 0x64A
    CSR_HGATP = 0x680
    CSR_HGEIP = 0xE12
    CSR_MTINST = 0x34A
    CSR_MTVAL2 = 0x34B
    CSR_MSTATUS = 0x300
    CSR_MISA = 0x301
    CSR_MEDELEG = 0x302
    CSR_MIDELEG = 0x303
    CSR_MIE = 0x304
    CSR_MTVEC = 0x305
    CSR_MCOUNTEREN = 0x306
    CSR_MENVCFG = 0x30A
    CSR_MCOUNTINHIBIT = 0x320
    CSR_MSCRATCH = 0x340
    CSR_MEPC = 0x341
    CSR_MCAUSE = 0x342
    CSR_MTVAL = 0x343
    CSR_MIP = 0x344
    CSR_PMPCFG0 = 0x3A0
    CSR_PMPADDR0 = 0x3B0
    CSR_MCYCLE = 0xB00
    CSR_MINSTRET = 0xB02
    CSR_CYCLE = 0xC00
    CSR_TIME = 0xC01
    CSR_INSTRET = 0xC02
    CSR_MVENDORID = 0xF11
    CSR_MARCHID = 0xF12
    CSR_MIMPID = 0xF13
    CSR_MHARTID = 0xF14
    CSR_MCONFIGPTR = 0xF15

# csr_check outcomes
cdef enum:
    CSR_OK = 0
    CSR_ILLEGAL = 1
    CSR_VIRTUAL = 2


cdef inline uint64_t read_mcycle(Hart* h) noexcept nogil:
    if h.mcountinhibit & 1:
        return h.mcycle_frozen
    return h.instret + h.mcycle_offset


cdef inline uint64_t read_minstret(Hart* h) noexcept nogil:
    if h.mcountinhibit & 4:
        return h.minstret_frozen
    return h.instret + h.minstret_offset


cdef void write_mcountinhibit(Hart* h, uint64_t value) noexcept nogil:
    # CY and IR freeze mcycle/minstret, bits 3..18 the HPM counters; QEMU 7.2
    # keeps every bit written
    cdef uint64_t old = h.mcountinhibit
    cdef uint64_t new = value
    hpm_rebase(h)
    if (new & 1) and not (old & 1):
        h.mcycle_frozen = read_mcycle(h) + 1        # the writing instruction still counts
    elif (old & 1) and not (new & 1):
        h.mcycle_offset = h.mcycle_frozen - h.instret - 1
    if (new & 4) and not (old & 4):
        h.minstret_frozen = read_minstret(h) + 1
    elif (old & 4) and not (new & 4):
        h.minstret_offset = h.minstret_frozen - h.instret - 1
    h.mcountinhibit = new


cdef bint csr_exists(Hart* h, uint32_t csr) noexcept nogil:
    if csr == CSR_FFLAGS or csr == CSR_FRM or csr == CSR_FCSR:
        return True
    if (csr == CSR_SSTATUS or csr == CSR_SIE or csr == CSR_STVEC or csr == CSR_SCOUNTEREN
            or csr == CSR_SENVCFG or csr == CSR_SSCRATCH or csr == CSR_SEPC or csr == CSR_SCAUSE
            or csr == CSR_STVAL or csr == CSR_SIP or csr == CSR_STIMECMP or csr == CSR_SATP
            or csr == CSR_MSTATUS or csr == CSR_MISA or csr == CSR_MEDELEG or csr == CSR_MIDELEG
            or csr == CSR_MIE or csr == CSR_MTVEC or csr == CSR_MCOUNTEREN or csr == CSR_MENVCFG
            or csr == CSR_MCOUNTINHIBIT
            or csr == CSR_MSCRATCH or csr == CSR_MEPC or csr == CSR_MCAUSE
            or csr == CSR_MTVAL or csr == CSR_MIP or csr == CSR_MVENDORID or csr == CSR_MARCHID
            or csr == CSR_MIMPID or csr == CSR_MHARTID or csr == CSR_MCONFIGPTR):
        return True
    if (csr == CSR_VSSTATUS or csr == CSR_VSIE or csr == CSR_VSTVEC or csr == CSR_VSSCRATCH
            or csr == CSR_VSEPC or csr == CSR_VSCAUSE or csr == CSR_VSTVAL or csr == CSR_VSIP
            or csr == CSR_VSTIMECMP or csr == CSR_VSATP or csr == CSR_HSTATUS or csr == CSR_HEDELEG
            or csr == CSR_HIDELEG or csr == CSR_HIE or csr == CSR_HTIMEDELTA or csr == CSR_HCOUNTEREN
            or csr == CSR_HGEIE or csr == CSR_HENVCFG or csr == CSR_HTVAL or csr == CSR_HIP
            or csr == CSR_HVIP or csr == CSR_HTINST or csr == CSR_HGATP or csr == CSR_HGEIP
            or csr == CSR_MTINST or csr == CSR_MTVAL2):
        return True
    if csr >= CSR_CYCLE and csr < CSR_HPMCOUNTER3 + NUM_HPM:      # cycle, time, instret, hpmcounterN
        return True
    if csr == CSR_MCYCLE or csr == CSR_MINSTRET or (csr >= CSR_MHPMCOUNTER3 and csr < CSR_MHPMCOUNTER3 + NUM_HPM):
        return True
    if csr >= CSR_MHPMEVENT3 and csr <= CSR_MHPMEVENT31:
        return True
    if csr == CSR_PMPCFG0 or csr == CSR_PMPCFG0 + 2:   # 16 PMP entries, as QEMU 7.2
        return True
    if csr >= CSR_PMPADDR0 and csr < CSR_PMPADDR0 + NUM_PMP:
        return True
    if csr >= CSR_TSELECT and csr <= CSR_TINFO:   # Sdtrig
        return True
    return False


cdef int csr_check(Hart* h, uint32_t csr, bint write) noexcept nogil:
    # privilege, read-only and trap-virtualisation rules (privileged spec,
    # H extension 9.6.1): CSR_OK, CSR_ILLEGAL or CSR_VIRTUAL
    cdef uint32_t bit
    cdef int level = <int>((csr >> 8) & 3)
    if not csr_exists(h, csr):
        return CSR_ILLEGAL
    if csr <= CSR_FCSR and not fp_enabled(h):
        # the F/D state is Off (mstatus.FS, and vsstatus.FS at V=1)
        return CSR_ILLEGAL
    if write and ((csr >> 10) & 3) == 3:
        return CSR_ILLEGAL
    if level == 3:
        if h.priv < PRV_M:
            return CSR_ILLEGAL
    elif h.priv == PRV_U:
        # U-mode: supervisor and hypervisor CSRs; from VU a virtual
        # instruction, as HS-mode could access them
        if level >= 1:
            return CSR_VIRTUAL if h.virt else CSR_ILLEGAL
    elif h.virt and level == 2:
        # VS-mode reaching H or VS CSRs by their own numbers
        return CSR_VIRTUAL
    if h.priv == PRV_S and csr == CSR_SATP:
        if h.virt:
            if h.hstatus & HSTATUS_VTVM:
                return CSR_VIRTUAL
        elif h.mstatus & MSTATUS_TVM:
            return CSR_ILLEGAL
    if h.priv == PRV_S and not h.virt and csr == CSR_HGATP and (h.mstatus & MSTATUS_TVM):
        return CSR_ILLEGAL
    if csr >= 0xC00 and csr <= 0xC1F and h.priv < PRV_M:
        bit = csr - 0xC00
        if not ((h.mcounteren >> bit) & 1):
            return CSR_ILLEGAL
        if h.virt:
            if not ((h.hcounteren >> bit) & 1):
                return CSR_VIRTUAL
            if h.priv == PRV_U and not ((h.scounteren >> bit) & 1):
                return CSR_VIRTUAL
        elif h.priv == PRV_U and not ((h.scounteren >> bit) & 1):
            return CSR_ILLEGAL
    if (csr == CSR_STIMECMP or csr == CSR_VSTIMECMP) and h.priv < PRV_M:
        if not ((h.mcounteren >> 1) & 1) or not (h.menvcfg & MENVCFG_STCE):
            return CSR_ILLEGAL
        if h.virt and (not ((h.hcounteren >> 1) & 1) or not (h.henvcfg & MENVCFG_STCE)):
            return CSR_VIRTUAL
    return CSR_OK


cdef inline uint32_t csr_at_v1(uint32_t csr) noexcept nogil:
    # at V=1 the supervisor CSR numbers reach the VS copies
    if (csr == CSR_SSTATUS or csr == CSR_SIE or csr == CSR_STVEC or csr == CSR_SSCRATCH
            or csr == CSR_SEPC or csr == CSR_SCAUSE or csr == CSR_STVAL or csr == CSR_SIP
            or csr == CSR_STIMECMP or csr == CSR_SATP):
        return csr + 0x100
    return csr


cdef inline uint64_t vs_deleg(Hart* h) noexcept nogil:
    # the VS interrupt bits the guest sees (delegated by hideleg)
    return h.hideleg & VS_INTERRUPTS


cdef uint64_t csr_read(Hart* h, uint32_t csr) noexcept nogil:
    # the value of an existing CSR (csr_check has passed)
    if csr == CSR_MSTATUS:
        return h.mstatus | status_sd(h.mstatus)
    if csr == CSR_SSTATUS:
        return (h.mstatus & SSTATUS_READABLE) | status_sd(h.mstatus)
    if csr == CSR_FFLAGS:
        return h.fflags
    if csr == CSR_FRM:
        return h.frm
    if csr == CSR_FCSR:
        return (h.frm << 5) | h.fflags
    if csr == CSR_MISA:
        return h.misa
    if csr == CSR_MEDELEG:
        return h.medeleg
    if csr == CSR_MIDELEG:
        return h.mideleg
    if csr == CSR_MIE:
        return h.mie
    if csr == CSR_SIE:
        return h.mie & h.mideleg & S_INTERRUPTS
    if csr == CSR_MIP:
        update_timer_bits(h)
        return read_mip(h)
    if csr == CSR_SIP:
        update_timer_bits(h)
        return read_mip(h) & h.mideleg & S_INTERRUPTS
    if csr == CSR_MTVEC:
        return h.mtvec
    if csr == CSR_STVEC:
        return h.stvec
    if csr == CSR_MCOUNTEREN:
        return h.mcounteren
    if csr == CSR_SCOUNTEREN:
        return h.scounteren
    if csr == CSR_MENVCFG:
        return h.menvcfg
    if csr == CSR_MCOUNTINHIBIT:
        return h.mcountinhibit
    if csr == CSR_SENVCFG:
        return h.senvcfg
    if csr == CSR_MSCRATCH:
        return h.mscratch
    if csr == CSR_SSCRATCH:
        return h.sscratch
    if csr == CSR_MEPC:
        return h.mepc
    if csr == CSR_SEPC:
        return h.sepc
    if csr == CSR_MCAUSE:
        return h.mcause
    if csr == CSR_SCAUSE:
        return h.scause
    if csr == CSR_MTVAL:
        return h.mtval
    if csr == CSR_STVAL:
        return h.stval
    if csr == CSR_SATP:
        return h.satp
    if csr == CSR_STIMECMP:
        return h.stimecmp
    if csr == CSR_MHARTID:
        return h.hartid
    if csr == CSR_MCYCLE or csr == CSR_CYCLE:
        return read_mcycle(h)
    if csr == CSR_MINSTRET or csr == CSR_INSTRET:
        return read_minstret(h)
    if csr == CSR_TIME:
        return mtime_now(h)
    if csr == CSR_MIDELEG:
        return h.mideleg
    if csr == CSR_VSSTATUS:
        return h.vsstatus | status_sd(h.vsstatus)
    if csr == CSR_VSIE:
        return (h.mie & vs_deleg(h)) >> 1
    if csr == CSR_VSIP:
        update_timer_bits(h)
        return (read_mip(h) & vs_deleg(h)) >> 1
    if csr == CSR_VSTVEC:
        return h.vstvec
    if csr == CSR_VSSCRATCH:
        return h.vsscratch
    if csr == CSR_VSEPC:
        return h.vsepc
    if csr == CSR_VSCAUSE:
        return h.vscause
    if csr == CSR_VSTVAL:
        return h.vstval
    if csr == CSR_VSATP:
        return h.vsatp
    if csr == CSR_VSTIMECMP:
        return h.vstimecmp
    if csr == CSR_HSTATUS:
        return h.hstatus
    if csr == CSR_HEDELEG:
        return h.hedeleg
    if csr == CSR_HIDELEG:
        return h.hideleg
    if csr == CSR_HIE:
        return h.mie & HS_FORCED_DELEG
    if csr == CSR_HIP:
        update_timer_bits(h)
        return read_mip(h) & HS_FORCED_DELEG
    if csr == CSR_HVIP:
        return h.hvip
    if csr == CSR_HTIMEDELTA:
        return h.htimedelta
    if csr == CSR_HCOUNTEREN:
        return h.hcounteren
    if csr == CSR_HENVCFG:
        # STCE reads zero while M-mode keeps Sstc from S
        return h.henvcfg & (~MENVCFG_STCE | (h.menvcfg & MENVCFG_STCE))
    if csr == CSR_HTVAL:
        return h.htval
    if csr == CSR_HTINST:
        return h.htinst
    if csr == CSR_HGATP:
        return h.hgatp
    if csr == CSR_MTVAL2:
        return h.mtval2
    if csr == CSR_MTINST:
        return h.mtinst
    if csr == CSR_PMPCFG0 or csr == CSR_PMPCFG0 + 2:
        return pmpcfg_read(h, (csr - CSR_PMPCFG0) * 4)
    if csr >= CSR_PMPADDR0 and csr < CSR_PMPADDR0 + NUM_PMP:
        return h.pmpaddr[csr - CSR_PMPADDR0]
    if csr >= CSR_TSELECT and csr <= CSR_TINFO:
        return trigger_csr_read(h, csr)
    if csr >= CSR_MHPMCOUNTER3 and csr < CSR_MHPMCOUNTER3 + NUM_HPM:
        return hpm_read(h, <int>(csr - CSR_MHPMCOUNTER3 + 3))
    if csr >= CSR_HPMCOUNTER3 and csr < CSR_HPMCOUNTER3 + NUM_HPM:
        return hpm_read(h, <int>(csr - CSR_HPMCOUNTER3 + 3))
    if csr >= CSR_MHPMEVENT3 and csr <= CSR_MHPMEVENT31:
        return h.mhpmevent[csr - CSR_MHPMEVENT3 + 3]
    # mvendorid, marchid, mimpid, mconfigptr read zero
    return 0


cdef uint64_t pmpcfg_read(Hart* h, uint32_t first) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v |= (<uint64_t>h.pmpcfg[first + i]) << (8 * i)
    return v


cdef void pmpcfg_write(Hart* h, uint32_t first, uint64_t value) noexcept nogil:
    cdef int i
    cdef uint8_t cfg
    for i in range(8):
        if h.pmpcfg[first + i] & 0x80:      # locked entries keep their configuration
            continue
        cfg = <uint8_t>((value >> (8 * i)) & 0x9F)
        h.pmpcfg[first + i] = cfg


cdef void pmpaddr_write(Hart* h, uint32_t index, uint64_t value) noexcept nogil:
    if h.pmpcfg[index] & 0x80:
        return
    # a locked TOR entry above also locks this address register
    if index + 1 < NUM_PMP and (h.pmpcfg[index + 1] & 0x80) and ((h.pmpcfg[index + 1] >> 3) & 3) == 1:
        return
    h.pmpaddr[index] = value & ((1ULL << 54) - 1)


cdef void write_mstatus(Hart* h, uint64_t value, uint64_t mask) noexcept nogil:
    cdef uint64_t old = h.mstatus
    cdef uint64_t new = (old & ~mask) | (value & mask)
    if (new & MSTATUS_MPP) == (2ULL << 11):      # reserved MPP value: keep the old one (WARL)
        new = (new & ~MSTATUS_MPP) | (old & MSTATUS_MPP)
    h.mstatus = new
    if (old ^ new) & (MSTATUS_SUM | MSTATUS_MXR):
        tlb_flush(h)
    elif (old ^ new) & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_MPV):
        update_mode(h)


cdef void write_vsstatus(Hart* h, uint64_t value) noexcept nogil:
    cdef uint64_t old = h.vsstatus
    h.vsstatus = (old & ~SSTATUS_WRITABLE) | (value & SSTATUS_WRITABLE)
    if (old ^ h.vsstatus) & (MSTATUS_SUM | MSTATUS_MXR):
        # V=1 permissions changed: the guest's contexts go
        tlb_flush_contexts(h, 1, -1)


cdef inline bint satp_mode_ok(uint64_t mode) noexcept nogil:
    # satp/vsatp MODE values this hart translates with (QEMU 7.2's rv64:
    # Bare, Sv39, Sv48, Sv57); a write of another leaves the register as it was
    return mode == SATP_MODE_BARE or mode == SATP_MODE_SV39 or mode == SATP_MODE_SV48 \
        or mode == SATP_MODE_SV57


cdef void write_hgatp(Hart* h, uint64_t value) noexcept nogil:
    # Bare, Sv39x4, Sv48x4, Sv57x4; other modes leave hgatp unchanged (WARL).
    # The root is 16 KiB aligned: PPN[1:0] read zero.
    cdef uint64_t mode = value >> 60
    if mode != SATP_MODE_BARE and mode != HGATP_MODE_SV39X4 and mode != HGATP_MODE_SV48X4 \
            and mode != HGATP_MODE_SV57X4:
        return
    h.hgatp = (mode << 60) | (value & (HGATP_VMID_MASK << HGATP_VMID_SHIFT)) | (value & PPN_MASK & ~3ULL)
    update_mode(h)


cdef void csr_write(Hart* h, uint32_t csr, uint64_t value) noexcept nogil:
    # WARL write of an existing CSR (csr_check has passed)
    cdef uint64_t mask, mode
    if csr == CSR_FFLAGS:
        h.fflags = <uint32_t>(value & 0x1F)
    elif csr == CSR_FRM:
        h.frm = <uint32_t>(value & 7)
    elif csr == CSR_FCSR:
        h.fflags = <uint32_t>(value & 0x1F)
        h.frm = <uint32_t>((value >> 5) & 7)
    elif csr == CSR_MSTATUS:
        write_mstatus(h, value, MSTATUS_WRITABLE)
    elif csr == CSR_SSTATUS:
        write_mstatus(h, value, SSTATUS_WRITABLE)
    elif csr == CSR_MEDELEG:
        h.medeleg = value & DELEGABLE_EXCEPTIONS
    elif csr == CSR_MIDELEG:
        h.mideleg = (value & S_INTERRUPTS) | HS_FORCED_DELEG
    elif csr == CSR_MIE:
        h.mie = value & ALL_INTERRUPTS
    elif csr == CSR_SIE:
        mask = h.mideleg & S_INTERRUPTS
        h.mie = (h.mie & ~mask) | (value & mask)
    elif csr == CSR_MIP:
        mask = MIP_SSIP | MIP_SEIP
        if not (h.menvcfg & MENVCFG_STCE):
            mask |= MIP_STIP
        h.mip_sw = (h.mip_sw & ~mask) | (value & mask)
        # mip.VSSIP is hvip.VSSIP
        h.hvip = (h.hvip & ~MIP_VSSIP) | (value & MIP_VSSIP)
    elif csr == CSR_SIP:
        mask = MIP_SSIP & h.mideleg
        h.mip_sw = (h.mip_sw & ~mask) | (value & mask)
    elif csr == CSR_MTVEC:
        if (value & 3) < 2:
            h.mtvec = value
    elif csr == CSR_STVEC:
        if (value & 3) < 2:
            h.stvec = value
    elif csr == CSR_MCOUNTEREN:
        h.mcounteren = value & 0xFFFFFFFFULL
    elif csr == CSR_SCOUNTEREN:
        h.scounteren = value & 0xFFFFFFFFULL
    elif csr == CSR_MENVCFG:
        h.menvcfg = value & MENVCFG_WRITABLE
        update_timer_bits(h)
    elif csr == CSR_SENVCFG:
        h.senvcfg = value & SENVCFG_WRITABLE
    elif csr == CSR_MSCRATCH:
        h.mscratch = value
    elif csr == CSR_SSCRATCH:
        h.sscratch = value
    elif csr == CSR_MEPC:
        h.mepc = value & ~1ULL
    elif csr == CSR_SEPC:
        h.sepc = value & ~1ULL
    elif csr == CSR_MCAUSE:
        h.mcause = value
    elif csr == CSR_SCAUSE:
        h.scause = value
    elif csr == CSR_MTVAL:
        h.mtval = value
    elif csr == CSR_STVAL:
        h.stval = value
    elif csr == CSR_SATP:
        if satp_mode_ok(value >> 60):
            # the TLB is tagged by satp: a new address space selects its own context
            h.satp = value
            update_mode(h)
    elif csr == CSR_STIMECMP:
        h.stimecmp = value
        update_timer_bits(h)
    elif csr == CSR_VSSTATUS:
        write_vsstatus(h, value)
    elif csr == CSR_VSIE:
        mask = vs_deleg(h)
        h.mie = (h.mie & ~mask) | ((value << 1) & mask)
    elif csr == CSR_VSIP:
        # only VSSIP is the guest's to write
        mask = vs_deleg(h) & MIP_VSSIP
        h.hvip = (h.hvip & ~mask) | ((value << 1) & mask)
    elif csr == CSR_VSTVEC:
        if (value & 3) < 2:
            h.vstvec = value
    elif csr == CSR_VSSCRATCH:
        h.vsscratch = value
    elif csr == CSR_VSEPC:
        h.vsepc = value & ~1ULL
    elif csr == CSR_VSCAUSE:
        h.vscause = value
    elif csr == CSR_VSTVAL:
        h.vstval = value
    elif csr == CSR_VSATP:
        if satp_mode_ok(value >> 60):
            h.vsatp = value
            update_mode(h)
    elif csr == CSR_VSTIMECMP:
        h.vstimecmp = value
        update_timer_bits(h)
    elif csr == CSR_HSTATUS:
        h.hstatus = (h.hstatus & ~HSTATUS_WRITABLE) | (value & HSTATUS_WRITABLE)
    elif csr == CSR_HEDELEG:
        h.hedeleg = value & VS_DELEGABLE_EXCEPTIONS
    elif csr == CSR_HIDELEG:
        h.hideleg = value & VS_INTERRUPTS
    elif csr == CSR_HIE:
        mask = VS_INTERRUPTS | MIP_SGEIP
        h.mie = (h.mie & ~mask) | (value & mask)
    elif csr == CSR_HIP:
        h.hvip = (h.hvip & ~MIP_VSSIP) | (value & MIP_VSSIP)
    elif csr == CSR_HVIP:
        h.hvip = value & VS_INTERRUPTS
    elif csr == CSR_HTIMEDELTA:
        h.htimedelta = value
        update_timer_bits(h)
    elif csr == CSR_HCOUNTEREN:
        h.hcounteren = value & 0xFFFFFFFFULL
    elif csr == CSR_HENVCFG:
        h.henvcfg = value & HENVCFG_WRITABLE
        update_timer_bits(h)
    elif csr == CSR_HTVAL:
        h.htval = value
    elif csr == CSR_HTINST:
        h.htinst = value
    elif csr == CSR_HGATP:
        write_hgatp(h, value)
    elif csr == CSR_MTVAL2:
        h.mtval2 = value
    elif csr == CSR_MTINST:
        h.mtinst = value
    elif csr == CSR_MCOUNTINHIBIT:
        write_mcountinhibit(h, value)
    elif csr == CSR_MCYCLE:
        h.mcycle_offset = value - h.instret - 1
        h.mcycle_frozen = value
    elif csr == CSR_MINSTRET:
        # the writing instruction retires after the write, so the next read sees `value`
        h.minstret_offset = value - h.instret - 1
        h.minstret_frozen = value
    elif csr == CSR_PMPCFG0 or csr == CSR_PMPCFG0 + 2:
        pmpcfg_write(h, (csr - CSR_PMPCFG0) * 4, value)
        pmp_update(h)
        tlb_flush(h)
    elif csr >= CSR_PMPADDR0 and csr < CSR_PMPADDR0 + NUM_PMP:
        pmpaddr_write(h, csr - CSR_PMPADDR0, value)
        pmp_update(h)
        tlb_flush(h)
    elif csr >= CSR_TSELECT and csr <= CSR_TINFO:
        trigger_csr_write(h, csr, value)
    elif csr >= CSR_MHPMCOUNTER3 and csr < CSR_MHPMCOUNTER3 + NUM_HPM:
        hpm_write_counter(h, <int>(csr - CSR_MHPMCOUNTER3 + 3), value)
    elif csr >= CSR_MHPMEVENT3 and csr <= CSR_MHPMEVENT31:
        hpm_write_event(h, <int>(csr - CSR_MHPMEVENT3 + 3), value)
    force_event_check(h)

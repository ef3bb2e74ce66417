# Debug support: the Sdtrig trigger module (RISC-V debug spec 1.0, chapter 5)
# and the debugger's own breakpoints and watchpoints.
#
# Triggers are address-match triggers of type 2 (mcontrol) and type 6
# (mcontrol6), the two types QEMU 7.2 offers, with its reset values: every
# trigger resets to type 2 with nothing enabled. Action 0 only (a breakpoint
# exception, cause 3, tval = the matching address); there is no Debug Mode.
# Execute triggers fire before the instruction executes, load/store triggers
# before the access. Writing tdata1 with type 0 (the way to disable a
# trigger) or with a type the hart lacks leaves it as type 15, disabled.
#
# The debugger's breakpoints (pc values) and watchpoints (virtual ranges)
# exit with EXIT_DEBUG: a breakpoint before its instruction executes, a
# watchpoint after the accessing instruction retires.
#
# Cost when nothing is armed: the run loop tests debug_exec once per run of
# instructions; load/store TLB entries stay fast unless debug_data is set.

cdef enum:
    TRIG_TYPE_NONE = 0
    TRIG_TYPE_MCONTROL = 2
    TRIG_TYPE_MCONTROL6 = 6
    TRIG_TYPE_DISABLED = 15
    TRIG_LOAD = 1
    TRIG_STORE = 2
    TRIG_EXEC = 4
    DEBUG_KIND_BREAK = 0
    DEBUG_KIND_WATCH = 1
    CSR_TSELECT = 0x7A0
    CSR_TDATA1 = 0x7A1
    CSR_TDATA2 = 0x7A2
    CSR_TDATA3 = 0x7A3
    CSR_TINFO = 0x7A4

# tinfo.info: the types a trigger may be written with (2, 6, and 15 = disabled)
cdef uint64_t TINFO_VALUE = (1ULL << 2) | (1ULL << 6) | (1ULL << 15)
# the U, S and M enables (bits 3, 4, 6) and mcontrol6's VU, VS (bits 23, 24)
cdef uint64_t TRIG_USM = (1ULL << 3) | (1ULL << 4) | (1ULL << 6)
cdef uint64_t TRIG_VUVS = (1ULL << 23) | (1ULL << 24)
cdef uint64_t TRIG_MATCH_MASK = 0xFULL << 7
cdef uint64_t MCONTROL_SIZELO = 3ULL << 16
cdef uint64_t MCONTROL_SIZEHI = 3ULL << 21
cdef uint64_t MCONTROL6_SIZE = 0xFULL << 16


cdef inline uint64_t trig_type(uint64_t t1) noexcept nogil:
    return t1 >> 60


cdef inline int trig_size(uint64_t t1) noexcept nogil:
    # the size field: 0 any, 1 8-bit, 2 16-bit, 3 32-bit, 5 64-bit
    if trig_type(t1) == TRIG_TYPE_MCONTROL:
        return <int>(((t1 >> 16) & 3) | (((t1 >> 21) & 3) << 2))
    return <int>((t1 >> 16) & 0xF)


cdef uint64_t tdata1_legalize(uint64_t v) noexcept nogil:
    # WARL: type 2 or 6 keep their enables, match 0-3 and a supported size;
    # dmode, chain, action, timing, select and hit read 0; anything else
    # becomes type 15
    cdef uint64_t t = trig_type(v)
    cdef uint64_t out, match, size
    if t != TRIG_TYPE_MCONTROL and t != TRIG_TYPE_MCONTROL6:
        return (<uint64_t>TRIG_TYPE_DISABLED) << 60
    out = (t << 60) | (v & (TRIG_USM | TRIG_LOAD | TRIG_STORE | TRIG_EXEC))
    match = (v >> 7) & 0xF
    if match <= 3:
        out |= match << 7
    if t == TRIG_TYPE_MCONTROL:
        size = ((v >> 16) & 3) | (((v >> 21) & 3) << 2)
    else:
        out |= v & TRIG_VUVS
        size = (v >> 16) & 0xF
    if size == 1 or size == 2 or size == 3 or size == 5:
        if t == TRIG_TYPE_MCONTROL:
            out |= ((size & 3) << 16) | ((size >> 2) << 21)
        else:
            out |= size << 16
    return out


cdef bint trig_enabled(uint64_t t1) noexcept nogil:
    cdef uint64_t t = trig_type(t1)
    if t == TRIG_TYPE_MCONTROL:
        return (t1 & TRIG_USM) != 0
    if t == TRIG_TYPE_MCONTROL6:
        return (t1 & (TRIG_USM | TRIG_VUVS)) != 0
    return False


cdef void debug_update(Hart* h) noexcept nogil:
    # recompute what is armed; data watching changes which TLB entries are fast
    cdef int i, data
    cdef uint64_t t1
    h.debug_exec = 1 if h.num_dbg_bps > 0 else 0
    data = 1 if h.num_dbg_wps > 0 else 0
    for i in range(NUM_TRIGGERS):
        t1 = h.tdata1[i]
        if trig_enabled(t1):
            if t1 & TRIG_EXEC:
                h.debug_exec = 1
            if t1 & (TRIG_LOAD | TRIG_STORE):
                data = 1
    if data != h.debug_data:
        h.debug_data = data
        tlb_flush(h)


cdef void triggers_reset(Hart* h) noexcept nogil:
    cdef int i
    h.tselect = 0
    for i in range(NUM_TRIGGERS):
        h.tdata1[i] = (<uint64_t>TRIG_TYPE_MCONTROL) << 60
        h.tdata2[i] = 0
    debug_update(h)


cdef uint64_t trigger_csr_read(Hart* h, uint32_t csr) noexcept nogil:
    if csr == CSR_TSELECT:
        return <uint64_t>h.tselect
    if csr == CSR_TDATA1:
        return h.tdata1[h.tselect]
    if csr == CSR_TDATA2:
        return h.tdata2[h.tselect]
    if csr == CSR_TINFO:
        return TINFO_VALUE
    return 0        # tdata3: no textra matching


cdef void trigger_csr_write(Hart* h, uint32_t csr, uint64_t value) noexcept nogil:
    if csr == CSR_TSELECT:
        if value < NUM_TRIGGERS:
            h.tselect = <int>value
    elif csr == CSR_TDATA1:
        h.tdata1[h.tselect] = tdata1_legalize(value)
        debug_update(h)
    elif csr == CSR_TDATA2:
        h.tdata2[h.tselect] = value
    # tdata3 (all-zero textra) and tinfo are read-only in effect


cdef inline bint trig_mode_ok(Hart* h, uint64_t t1) noexcept nogil:
    # mcontrol never fires at V=1; mcontrol6 uses VU/VS there
    if h.virt:
        if trig_type(t1) != TRIG_TYPE_MCONTROL6:
            return False
        return ((t1 >> 23) >> h.priv) & 1
    return ((t1 >> 3) >> h.priv) & 1


cdef bint trig_addr_match(uint64_t t1, uint64_t t2, uint64_t addr, uint64_t size) noexcept nogil:
    # does any byte of [addr, addr + size) satisfy the match condition?
    cdef uint64_t match = (t1 >> 7) & 0xF
    cdef uint64_t last = addr + size - 1
    cdef uint64_t m
    if match == 0:
        return t2 - addr < size
    if match == 1:          # NAPOT: the bits above the lowest 0 of tdata2
        m = ~(t2 ^ (t2 + 1))
        return (addr & m) <= (t2 & m) and (t2 & m) <= (last & m)
    if match == 2:          # >=
        return last >= t2
    return addr < t2        # 3: <


cdef int debug_exec_check(Hart* h) noexcept nogil:
    # before the instruction at h.pc: 0 to execute it, EXIT_DEBUG_C for a
    # debugger breakpoint, -1 when a trigger's breakpoint exception was taken
    # (h.pc is the handler), EXIT_TRAP_C when that exception exits to Python
    cdef int i, r
    cdef uint64_t t1
    for i in range(h.num_dbg_bps):
        if h.dbg_bp[i] == h.pc:
            h.exit_cause = DEBUG_KIND_BREAK
            h.exit_addr = h.pc
            h.exit_size = 0
            h.exit_is_write = 0
            h.exit_pc = h.pc
            h.exit_virt = h.virt
            h.exit_priv = h.priv
            return EXIT_DEBUG_C
    for i in range(NUM_TRIGGERS):
        t1 = h.tdata1[i]
        if (t1 & TRIG_EXEC) and trig_enabled(t1) and trig_mode_ok(h, t1) \
                and trig_addr_match(t1, h.tdata2[i], h.pc, 1):
            raise_exc(h, CAUSE_BREAKPOINT, h.pc)
            h.exc_gva = 0
            r = take_trap(h, CAUSE_BREAKPOINT, False, h.pc, 0)
            return r if r else -1
    return 0


cdef int debug_data_check(Hart* h, uint64_t vaddr, int size, int acc) noexcept nogil:
    # a load/store (acc) of [vaddr, vaddr + size): ST_EXC for a trigger's
    # breakpoint exception (before the access), else ST_OK, with debug_hit
    # set when a debugger watchpoint matched
    cdef int i, bit, tsize
    cdef uint64_t t1
    bit = TRIG_LOAD if acc == ACC_LOAD else TRIG_STORE
    for i in range(NUM_TRIGGERS):
        t1 = h.tdata1[i]
        if (t1 & <uint64_t>bit) and trig_enabled(t1) and trig_mode_ok(h, t1):
            tsize = trig_size(t1)
            if tsize != 0 and (1 << (tsize - 1) if tsize < 5 else 8) != size:
                continue
            if trig_addr_match(t1, h.tdata2[i], vaddr, <uint64_t>size):
                raise_exc(h, CAUSE_BREAKPOINT, vaddr)
                h.exc_gva = 0
                return ST_EXC
    for i in range(h.num_dbg_wps):
        if (h.dbg_wp_kind[i] & bit) and h.dbg_wp_lo[i] < vaddr + <uint64_t>size and h.dbg_wp_hi[i] > vaddr:
            h.debug_hit = 1
            h.exit_cause = DEBUG_KIND_WATCH
            h.exit_addr = vaddr if vaddr > h.dbg_wp_lo[i] else h.dbg_wp_lo[i]
            h.exit_size = <uint64_t>size
            h.exit_is_write = acc != ACC_LOAD
            h.exit_pc = h.pc
            h.exit_virt = h.virt
            h.exit_priv = h.priv
            break
    return ST_OK

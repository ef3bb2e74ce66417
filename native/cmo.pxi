# The cache-block operations of Zicbom (cbo.clean, cbo.flush, cbo.inval) and
# Zicboz (cbo.zero), as QEMU implements them (its first release with them,
# 8.0: op_helper.c): the envcfg permission checks, the block's translation and
# PMP check, and for cbo.zero the zeroing. pyvmm models no caches, so the
# management operations have no effect once permitted; Zicbop's prefetches
# are ORI hints and Zihintpause's pause a FENCE hint, which execute as such.

cdef enum:
    CBO_BLOCK = 64          # cbom and cboz block size in bytes (QEMU's default)

# the envcfg fields (menvcfg, senvcfg, henvcfg alike)
cdef uint64_t ENVCFG_CBIE = 3ULL << 4      # cbo.inval: 00 illegal, 01 flush, 11 invalidate
cdef uint64_t ENVCFG_CBCFE = 1ULL << 6     # cbo.clean and cbo.flush
cdef uint64_t ENVCFG_CBZE = 1ULL << 7      # cbo.zero


cdef int cbo_envcfg_check(Hart* h, DecodedInsn* d, uint64_t field) noexcept nogil:
    # QEMU's order: below M the menvcfg field must allow it (else illegal);
    # at V=1 henvcfg, and senvcfg from VU, must too (else virtual
    # instruction); in U senvcfg must (else illegal)
    if h.priv < PRV_M and not (h.menvcfg & field):
        return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)
    if h.virt and (not (h.henvcfg & field) or (h.priv == PRV_U and not (h.senvcfg & field))):
        return raise_exc(h, CAUSE_VIRTUAL_INSN, d.raw)
    if h.priv == PRV_U and not (h.senvcfg & field):
        return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)
    return ST_OK


cdef uint64_t cbo_translate(Hart* h, uint64_t block, int acc, uint64_t* pa) noexcept nogil:
    # translation and PMP of a whole block for an access type, at the
    # privilege and V of loads and stores (MPRV applies): 0 or the fault's cause
    cdef uint64_t cause = translate(h, block, acc, h.data_priv, h.data_virt, False, pa)
    if cause:
        return cause
    if not pmp_check(h, pa[0], CBO_BLOCK, acc, h.data_priv):
        return access_fault_cause(acc)
    return 0


cdef int cbo_manage(Hart* h, uint64_t block) noexcept nogil:
    # cbo.clean/flush/inval may touch the block when a load or a store could:
    # readable is enough; otherwise the store's fault is the one raised
    cdef uint64_t pa, cause
    h.tlb_misses += 1
    if cbo_translate(h, block, ACC_LOAD, &pa) == 0:
        return ST_OK
    cause = cbo_translate(h, block, ACC_STORE, &pa)
    if cause:
        return raise_xlate(h, cause, block)
    return ST_OK


cdef int cbo_zero(Hart* h, uint64_t block) noexcept nogil:
    # a store of zeros to the whole block; it goes through store_ram so that
    # decoded code on the block stays coherent and watched ranges report
    cdef uint64_t pa, cause
    cdef int i, r, st = ST_OK
    h.tlb_misses += 1
    cause = cbo_translate(h, block, ACC_STORE, &pa)
    if cause:
        return raise_xlate(h, cause, block)
    if not in_ram(h, pa, CBO_BLOCK):
        # devices take accesses of at most 8 bytes (the CLINT 4 or 8): a
        # 64-byte zeroing is not an access any of them accepts
        return raise_exc(h, CAUSE_STORE_ACCESS, block)
    for i in range(0, CBO_BLOCK, 8):
        r = store_ram(h, pa + <uint64_t>i, 8, 0)
        if r != ST_OK:
            st = r
    return st


cdef int do_cbo(Hart* h, DecodedInsn* d) noexcept nogil:
    cdef uint64_t block = h.x[d.rs1] & ~<uint64_t>(CBO_BLOCK - 1)
    cdef int st
    if d.op == OP_CBO_ZERO:
        st = cbo_envcfg_check(h, d, ENVCFG_CBZE)
        return st if st != ST_OK else cbo_zero(h, block)
    # cbo.inval is allowed (as a flush, which needs no more here) when CBIE is
    # 01 or 11; the reserved 10 is kept as written and allows it too, as QEMU
    st = cbo_envcfg_check(h, d, ENVCFG_CBIE if d.op == OP_CBO_INVAL else ENVCFG_CBCFE)
    return st if st != ST_OK else cbo_manage(h, block)

# The bit-manipulation extensions Zba, Zbb, Zbc and Zbs: their op ids, their
# decode, and each instruction's semantics as a small inline function named
# after the spec's mnemonic. All of them are register-to-register ALU
# operations, so the run loop executes them in its fast run (execute.pxi);
# counting bits uses the host's instructions through GCC's builtins.

cdef extern from *:
    """
    /* the fast run's handlers for these ops (see PYVMM_FAST_OPS in execute.pxi) */
    #define PYVMM_BITMANIP_FAST_OPS(X) \
        X(ADD_UW) X(SH1ADD) X(SH2ADD) X(SH3ADD) X(SH1ADD_UW) X(SH2ADD_UW) X(SH3ADD_UW) X(SLLI_UW) \
        X(ANDN) X(ORN) X(XNOR) X(CLZ) X(CLZW) X(CTZ) X(CTZW) X(CPOP) X(CPOPW) \
        X(MAX) X(MAXU) X(MIN) X(MINU) X(SEXT_B) X(SEXT_H) X(ZEXT_H) \
        X(ROL) X(ROLW) X(ROR) X(RORI) X(RORIW) X(RORW) X(ORC_B) X(REV8) \
        X(CLMUL) X(CLMULH) X(CLMULR) \
        X(BCLR) X(BCLRI) X(BEXT) X(BEXTI) X(BINV) X(BINVI) X(BSET) X(BSETI)
    """
    int __builtin_clzll(unsigned long long x) nogil
    int __builtin_ctzll(unsigned long long x) nogil
    int __builtin_clz(unsigned int x) nogil
    int __builtin_ctz(unsigned int x) nogil
    int __builtin_popcountll(unsigned long long x) nogil
    uint64_t __builtin_bswap64(uint64_t x) nogil

# Op ids continue the base table's (defs.pxi), so both stay below 256, the
# fast run's dispatch table size per instruction length.
cdef enum:
    OP_ADD_UW = OP_COUNT
    OP_SH1ADD
    OP_SH2ADD
    OP_SH3ADD
    OP_SH1ADD_UW
    OP_SH2ADD_UW
    OP_SH3ADD_UW
    OP_SLLI_UW          # imm = shamt
    OP_ANDN
    OP_ORN
    OP_XNOR
    OP_CLZ
    OP_CLZW
    OP_CTZ
    OP_CTZW
    OP_CPOP
    OP_CPOPW
    OP_MAX
    OP_MAXU
    OP_MIN
    OP_MINU
    OP_SEXT_B
    OP_SEXT_H
    OP_ZEXT_H
    OP_ROL
    OP_ROLW
    OP_ROR
    OP_RORI             # imm = shamt
    OP_RORIW            # imm = shamt
    OP_RORW
    OP_ORC_B
    OP_REV8
    OP_CLMUL
    OP_CLMULH
    OP_CLMULR
    OP_BCLR
    OP_BCLRI            # imm = bit index
    OP_BEXT
    OP_BEXTI
    OP_BINV
    OP_BINVI
    OP_BSET
    OP_BSETI
    # Zicbom / Zicboz: the general path (cmo.pxi)
    OP_CBO_CLEAN
    OP_CBO_FLUSH
    OP_CBO_INVAL
    OP_CBO_ZERO
    OP_DECODED_COUNT    # every op decode gives is below this; decode.pxi's dispatch-only ops follow


cdef inline uint64_t uw(uint64_t v) noexcept nogil:
    # the ".uw" operand: the low word, zero-extended
    return v & 0xFFFFFFFFULL


cdef inline uint64_t zb_clz(uint64_t v) noexcept nogil:
    return 64 if v == 0 else <uint64_t>__builtin_clzll(v)


cdef inline uint64_t zb_clzw(uint64_t v) noexcept nogil:
    return 32 if <uint32_t>v == 0 else <uint64_t>__builtin_clz(<uint32_t>v)


cdef inline uint64_t zb_ctz(uint64_t v) noexcept nogil:
    return 64 if v == 0 else <uint64_t>__builtin_ctzll(v)


cdef inline uint64_t zb_ctzw(uint64_t v) noexcept nogil:
    return 32 if <uint32_t>v == 0 else <uint64_t>__builtin_ctz(<uint32_t>v)


cdef inline uint64_t zb_rol(uint64_t v, uint64_t n) noexcept nogil:
    n &= 63
    return v if n == 0 else (v << n) | (v >> (64 - n))


cdef inline uint64_t zb_ror(uint64_t v, uint64_t n) noexcept nogil:
    n &= 63
    return v if n == 0 else (v >> n) | (v << (64 - n))


cdef inline uint64_t zb_rolw(uint64_t v, uint64_t n) noexcept nogil:
    cdef uint32_t w = <uint32_t>v
    n &= 31
    if n:
        w = (w << n) | (w >> (32 - n))
    return <uint64_t><int64_t><int32_t>w


cdef inline uint64_t zb_rorw(uint64_t v, uint64_t n) noexcept nogil:
    cdef uint32_t w = <uint32_t>v
    n &= 31
    if n:
        w = (w >> n) | (w << (32 - n))
    return <uint64_t><int64_t><int32_t>w


cdef inline uint64_t zb_orc_b(uint64_t v) noexcept nogil:
    # each byte becomes 0xff when any of its bits is set: adding 0x7f to the
    # low seven bits carries into bit 7 exactly when one is set, never further
    cdef uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL
    cdef uint64_t t = (((v & low7) + low7) | v) & ~low7
    return (t >> 7) * 0xFF


cdef inline uint64_t zb_clmul(uint64_t a, uint64_t b) noexcept nogil:
    # carry-less product, low half: a << i for every set bit i of b
    cdef uint64_t r = 0
    while b:
        r ^= a << __builtin_ctzll(b)
        b &= b - 1
    return r


cdef inline uint64_t zb_clmulh(uint64_t a, uint64_t b) noexcept nogil:
    # high half: a >> (64 - i) for every set bit i > 0 of b
    cdef uint64_t r = 0
    cdef int i
    b &= ~1ULL
    while b:
        i = __builtin_ctzll(b)
        r ^= a >> (64 - i)
        b &= b - 1
    return r


cdef inline uint64_t zb_clmulr(uint64_t a, uint64_t b) noexcept nogil:
    # bits 126..63 of the product: a >> (63 - i) for every set bit i of b
    cdef uint64_t r = 0
    while b:
        r ^= a >> (63 - __builtin_ctzll(b))
        b &= b - 1
    return r


cdef inline int decode_bitmanip(uint32_t w, int32_t* imm) noexcept nogil:
    # the op of a Zba/Zbb/Zbc/Zbs or Zicbom/Zicboz word, else OP_ILLEGAL;
    # immediate forms leave their shift amount or bit index in imm
    cdef uint32_t opcode = w & 0x7F
    cdef uint32_t f3 = (w >> 12) & 7
    cdef uint32_t f7 = w >> 25
    cdef uint32_t f6 = w >> 26
    cdef uint32_t f12 = w >> 20
    cdef uint32_t rd = (w >> 7) & 31
    imm[0] = <int32_t>((w >> 20) & 0x3F)
    if opcode == 0x33:
        if f7 == 0x10:
            if f3 == 2:
                return OP_SH1ADD
            if f3 == 4:
                return OP_SH2ADD
            if f3 == 6:
                return OP_SH3ADD
        elif f7 == 0x20:
            if f3 == 7:
                return OP_ANDN
            if f3 == 6:
                return OP_ORN
            if f3 == 4:
                return OP_XNOR
        elif f7 == 0x05:
            if f3 == 1:
                return OP_CLMUL
            if f3 == 2:
                return OP_CLMULR
            if f3 == 3:
                return OP_CLMULH
            if f3 == 4:
                return OP_MIN
            if f3 == 5:
                return OP_MINU
            if f3 == 6:
                return OP_MAX
            if f3 == 7:
                return OP_MAXU
        elif f7 == 0x30:
            if f3 == 1:
                return OP_ROL
            if f3 == 5:
                return OP_ROR
        elif f7 == 0x24:
            if f3 == 1:
                return OP_BCLR
            if f3 == 5:
                return OP_BEXT
        elif f7 == 0x34 and f3 == 1:
            return OP_BINV
        elif f7 == 0x14 and f3 == 1:
            return OP_BSET
    elif opcode == 0x3B:
        if f7 == 0x04:
            if f3 == 0:
                return OP_ADD_UW
            if f3 == 4 and ((w >> 20) & 31) == 0:
                return OP_ZEXT_H
        elif f7 == 0x10:
            if f3 == 2:
                return OP_SH1ADD_UW
            if f3 == 4:
                return OP_SH2ADD_UW
            if f3 == 6:
                return OP_SH3ADD_UW
        elif f7 == 0x30:
            if f3 == 1:
                return OP_ROLW
            if f3 == 5:
                return OP_RORW
    elif opcode == 0x13:
        if f3 == 1:
            if f12 == 0x600:
                return OP_CLZ
            if f12 == 0x601:
                return OP_CTZ
            if f12 == 0x602:
                return OP_CPOP
            if f12 == 0x604:
                return OP_SEXT_B
            if f12 == 0x605:
                return OP_SEXT_H
            if f6 == 0x12:
                return OP_BCLRI
            if f6 == 0x1A:
                return OP_BINVI
            if f6 == 0x0A:
                return OP_BSETI
        elif f3 == 5:
            if f12 == 0x287:
                return OP_ORC_B
            if f12 == 0x6B8:
                return OP_REV8
            if f6 == 0x18:
                return OP_RORI
            if f6 == 0x12:
                return OP_BEXTI
    elif opcode == 0x1B:
        if f3 == 1:
            if f12 == 0x600:
                return OP_CLZW
            if f12 == 0x601:
                return OP_CTZW
            if f12 == 0x602:
                return OP_CPOPW
            if f6 == 0x02:
                return OP_SLLI_UW
        elif f3 == 5 and f7 == 0x30:
            imm[0] = <int32_t>((w >> 20) & 31)
            return OP_RORIW
    elif opcode == 0x0F:
        if f3 == 2 and rd == 0 and (f12 & ~7U) == 0:
            if f12 == 0:
                return OP_CBO_INVAL
            if f12 == 1:
                return OP_CBO_CLEAN
            if f12 == 2:
                return OP_CBO_FLUSH
            if f12 == 4:
                return OP_CBO_ZERO
    return OP_ILLEGAL

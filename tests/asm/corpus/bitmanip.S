# Zba, Zbb, Zbc, Zbs and the cache-block and hint extensions (Zicbom, Zicboz,
# Zicbop, Zihintpause): every mnemonic and operand form GNU as accepts,
# including the register mnemonics that take a shift amount (ror a0,a1,3 is
# rori) and the pseudo-instructions that become one instruction here.
    .attribute arch, "rv64imac_zicsr_zifencei_zicbom_zicboz_zicbop_zihintpause_zba_zbb_zbc_zbs"
    .text
    .globl _start
_start:
    add.uw a0, a1, a2
    add.uw s0, s1, zero
    zext.w a0, a1
    zext.w s0, s0
    sh1add a0, a1, a2
    sh2add t0, t1, t2
    sh3add s10, s11, t6
    sh1add.uw a0, a1, a2
    sh2add.uw a3, a4, a5
    sh3add.uw zero, ra, sp
    slli.uw a0, a1, 0
    slli.uw a0, a1, 32
    slli.uw a0, a1, 63
    andn a0, a1, a2
    orn a0, a1, a2
    xnor a0, a1, a2
    clz a0, a1
    clzw a0, a1
    ctz a0, a1
    ctzw a0, a1
    cpop a0, a1
    cpopw a0, a1
    max a0, a1, a2
    maxu a0, a1, a2
    min a0, a1, a2
    minu a0, a1, a2
    sext.b a0, a1
    sext.b s0, s0
    sext.h a0, a1
    sext.h s0, s0
    zext.h a0, a1
    zext.h s0, s0
    rol a0, a1, a2
    rolw a0, a1, a2
    ror a0, a1, a2
    ror a0, a1, 0
    ror a0, a1, 63
    rori a0, a1, 17
    rorw a0, a1, a2
    rorw a0, a1, 31
    roriw a0, a1, 0
    roriw a0, a1, 31
    orc.b a0, a1
    rev8 a0, a1
    clmul a0, a1, a2
    clmulh a0, a1, a2
    clmulr a0, a1, a2
    bclr a0, a1, a2
    bclr a0, a1, 5
    bclri a0, a1, 63
    bext a0, a1, a2
    bext a0, a1, 0
    bexti a0, a1, 40
    binv a0, a1, a2
    binv a0, a1, 62
    binvi a0, a1, 1
    bset a0, a1, a2
    bset a0, a1, 31
    bseti a0, a1, 32
    cbo.clean (a0)
    cbo.clean 0(a0)
    cbo.flush (sp)
    cbo.inval (t6)
    cbo.zero (s0)
    cbo.zero 0(zero)
    prefetch.i 0(a0)
    prefetch.i (a1)
    prefetch.r -2048(sp)
    prefetch.r 2016(t0)
    prefetch.w 32(s1)
    prefetch.w -32(s1)
    pause
    ret

# zb.S -- the bit-manipulation extensions Zba, Zbb, Zbc and Zbs, and the
# Zicbop/Zihintpause hints, against QEMU 7.2.
#
# Each register-register instruction runs over every pair of sixteen chosen
# values (zero, one, all ones, the sign bits, word boundaries, patterns), each
# unary one over each value, each immediate form over each value with shift
# amounts or bit indexes 0, 1, 31, 32 and the top one; the results of one
# instruction are folded (h = rotl(h, 7) ^ result) and printed as
# "<mnemonic>=<fold>". Then writes to x0, x0 as a source, and the hints:
# prefetch.i/r/w at an address with nothing behind it and pause, which must
# not trap. Exit status 0.
# Run: pyvmm run guests/isa/zb.S

    .attribute arch, "rv64imac_zicsr_zifencei_zicbop_zihintpause_zba_zbb_zbc_zbs"

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ NVALUES,       16
    .equ NO_DEVICE,     0x08000000      # a hole in the virt memory map

    # h = rotl(h, 7) ^ a0, h in s2
    .macro fold
    slli    t0, s2, 7
    srli    s2, s2, 57
    or      s2, s2, t0
    xor     s2, s2, a0
    .endm

    # print "name=" and the fold
    .macro show name
    la      a1, 9f
    call    report
    .section .rodata
9:  .asciz  "\name"
    .text
    .endm

    # a register-register instruction over every pair of values
    .macro rr op
    li      s2, 0
    la      s0, values
    li      s3, NVALUES
1:  ld      a1, 0(s0)
    la      s1, values
    li      s4, NVALUES
2:  ld      a2, 0(s1)
    \op     a0, a1, a2
    fold
    addi    s1, s1, 8
    addi    s4, s4, -1
    bnez    s4, 2b
    addi    s0, s0, 8
    addi    s3, s3, -1
    bnez    s3, 1b
    show    \op
    .endm

    # a unary instruction over every value
    .macro un op
    li      s2, 0
    la      s0, values
    li      s3, NVALUES
1:  ld      a1, 0(s0)
    \op     a0, a1
    fold
    addi    s0, s0, 8
    addi    s3, s3, -1
    bnez    s3, 1b
    show    \op
    .endm

    # an immediate form over every value, with each of the given immediates
    .macro imm op, i0, i1, i2, i3, i4
    li      s2, 0
    la      s0, values
    li      s3, NVALUES
1:  ld      a1, 0(s0)
    .irp i, \i0, \i1, \i2, \i3, \i4
    \op     a0, a1, \i
    fold
    .endr
    addi    s0, s0, 8
    addi    s3, s3, -1
    bnez    s3, 1b
    show    \op
    .endm

    # ctzw counts in the low word only, so its operand's upper word never
    # matters; it is cleared here because QEMU 7.2 counts past bit 31 when the
    # low word is zero and the upper one is not (ctzw of 1 << 63 gives 63, where
    # the spec says 32)
    .macro ctzw_low rd, rs
    zext.w  \rd, \rs
    ctzw    \rd, \rd
    .endm

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap_handler
    csrw    mtvec, t0

    .irp op, add.uw, sh1add, sh2add, sh3add, sh1add.uw, sh2add.uw, sh3add.uw
    rr      \op
    .endr
    .irp op, andn, orn, xnor, max, maxu, min, minu, rol, rolw, ror, rorw
    rr      \op
    .endr
    .irp op, clmul, clmulh, clmulr, bclr, bext, binv, bset
    rr      \op
    .endr
    .irp op, clz, clzw, ctz, cpop, cpopw, sext.b, sext.h, zext.h, zext.w, orc.b, rev8
    un      \op
    .endr
    un      ctzw_low                # ctzw of the low words (see ctzw_low below)
    imm     slli.uw, 0, 1, 31, 32, 63
    imm     rori, 0, 1, 31, 32, 63
    imm     roriw, 0, 1, 15, 16, 31
    imm     bclri, 0, 1, 31, 32, 63
    imm     bexti, 0, 1, 31, 32, 63
    imm     binvi, 0, 1, 31, 32, 63
    imm     bseti, 0, 1, 31, 32, 63

    # x0 as destination stays zero; x0 as a source reads zero
    li      a1, -1
    li      a2, 5
    sh3add  zero, a1, a2
    clz     zero, zero
    mv      a0, zero
    sh1add.uw a3, zero, a2
    rol     a4, a1, zero
    or      a0, a0, a3
    slli    a4, a4, 8
    xor     a0, a0, a4
    li      s2, 0
    fold
    show    x0

    # hints: no access, no trap
    li      s11, 0
    li      a0, NO_DEVICE
    prefetch.i 0(a0)
    prefetch.r 64(a0)
    prefetch.w -2048(a0)
    pause
    mv      s2, s11                 # traps taken (none)
    show    hints

    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
1:  j       1b


# report(a1 = name): "name=" and s2 in hex
report:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a0, a1
    call    puts
    li      a0, '='
    call    putc
    mv      a0, s2
    call    puthex
    li      a0, '\n'
    call    putc
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# a trap is counted in s11 and skipped (4-byte instructions only here)
    .balign 4
trap_handler:
    addi    s11, s11, 1
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    mret

    .include "../include/uart.inc"

    .section .rodata
    .balign 8
values:
    .dword  0, 1, -1, 0x8000000000000000, 0x7fffffffffffffff, 0x00000000ffffffff
    .dword  0xffffffff80000000, 0x0123456789abcdef, 0xfedcba9876543210, 0x00ff00ff00ff00ff
    .dword  63, 32, 31, 0x80, 0x8000, 0x0000000080000000

    .section .bss
    .balign 16
stack: .space 1024
stack_top:

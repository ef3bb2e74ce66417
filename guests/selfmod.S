# selfmod.S -- self-modifying code made visible with fence.i.
#
# Shows what an emulator's decoded-instruction cache must get right:
#  1. patching the immediate of an `addi` inside a routine, once per round,
#     then `fence.i` and calling it again (the old decode must not survive);
#  2. patching the instruction that directly follows the store and fence.i in
#     the same straight-line block;
#  3. generating code at run time: copying a routine into a data buffer,
#     running it, overwriting one of its instructions with a different
#     operation (mul -> add), and running it again;
#  4. patching a 16-bit compressed instruction (c.li) in place.
# Each step prints what the patched code computed (7+100k for k = 1..5, 42,
# 144, 42, 13); exit status 0.
# Run: pyvmm run guests/selfmod.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555

    # Encodings built at run time.
    .equ ADDI_A0_A0,    0x00050513  # addi a0, a0, 0 (imm in bits 31:20)
    .equ ADDI_A0_ZERO,  0x00000513  # addi a0, zero, 0
    .equ ADD_A0_A0_A1,  0x00b50533  # add  a0, a0, a1
    .equ C_LI_A0,       0x4501      # c.li a0, 0 (imm[4:0] in bits 6:2)

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      a0, s_banner
    call    puts

    # 1. patch the immediate of patched_addi, five rounds
    li      s0, 1
1:  li      t0, 100
    mul     t0, t0, s0              # new immediate: 100 * round
    slli    t0, t0, 20
    li      t1, ADDI_A0_A0
    or      t0, t0, t1
    la      t1, patched_addi
    sw      t0, 0(t1)
    fence.i
    li      a0, 7
    call    add_constant
    mv      s1, a0
    la      a0, s_step1
    call    puts
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc
    addi    s0, s0, 1
    li      t0, 6
    bltu    s0, t0, 1b

    # 2. patch the very next instruction: addi a0, zero, 0 -> addi a0, zero, 42
    la      t0, next_insn
    li      t1, ADDI_A0_ZERO | (42 << 20)
    sw      t1, 0(t0)
    fence.i
    .balign 4
next_insn:
    .word   ADDI_A0_ZERO            # replaced before it runs
    mv      s1, a0
    la      a0, s_step2
    call    puts
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc

    # 3. copy template_square (mul a0, a0, a0; ret) into jit_buffer and run it
    la      t0, template_square
    la      t1, jit_buffer
    lw      t2, 0(t0)
    sw      t2, 0(t1)
    lw      t2, 4(t0)
    sw      t2, 4(t1)
    fence.i
    li      a0, 12
    la      t0, jit_buffer
    jalr    t0
    mv      s1, a0
    la      a0, s_step3a
    call    puts
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc
    # ... then turn its mul into an add a0, a0, a1 and run it again
    la      t1, jit_buffer
    li      t2, ADD_A0_A0_A1
    sw      t2, 0(t1)
    fence.i
    li      a0, 12
    li      a1, 30
    la      t0, jit_buffer
    jalr    t0
    mv      s1, a0
    la      a0, s_step3b
    call    puts
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc

    # 4. patch a compressed c.li a0, 0 into c.li a0, 13
    la      t0, patched_cli
    li      t1, C_LI_A0 | (13 << 2)
    sh      t1, 0(t0)
    fence.i
    call    load_small
    mv      s1, a0
    la      a0, s_step4
    call    puts
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc

    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
2:  j       2b

# add_constant(a0) -> a0 + (the immediate patched in)
    .balign 4
add_constant:
patched_addi:
    .word   ADDI_A0_A0
    ret

# load_small() -> a0 = the immediate of the c.li patched in
    .balign 4
load_small:
patched_cli:
    .hword  C_LI_A0
    ret

# The routine copied into jit_buffer: two 32-bit instructions.
    .balign 4
template_square:
    .word   0x02a50533              # mul a0, a0, a0
    .word   0x00008067              # jalr zero, 0(ra)

    .include "include/uart.inc"   # putc, puts, puthex

    .section .rodata
s_banner:   .asciz "selfmod: patching code, fence.i, running it again\n"
s_step1:    .asciz "patched addi: 7 + 100*round = "
s_step2:    .asciz "patched next instruction: "
s_step3a:   .asciz "generated mul a0,a0,a0 on 12: "
s_step3b:   .asciz "regenerated add a0,a0,a1 on 12, 30: "
s_step4:    .asciz "patched c.li a0, 13: "

    .section .bss
    .balign 16
jit_buffer: .space 64
stack:      .space 4096
stack_top:

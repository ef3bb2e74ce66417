# dirty.S -- a write-heavy guest for live migration.
#
# Rewrites a 2 MiB buffer (512 pages) again and again: each pass reads every
# doubleword, scrambles it with the pass number and writes it back, folding
# what it wrote into a checksum it prints. One page is rewritten every ~4,100
# instructions, faster than pre-copy's modeled link sends pages even at its
# 500 Mbit/s maximum, so the writable working set never shrinks and
# iterating ends by Xen's other rules (29 rounds or 3x RAM sent).
#
# Expected output:  "dirty: start", PASSES lines "pass <hex> sum <hex>",
#                   "dirty: done", exit status 0.
# Run:              pyvmm run guests/lifecycle/dirty.S --ram 8M

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ BUFFER,        0x80100000
    .equ BUFFER_SIZE,   0x200000
    .equ PASSES,        100

    .include "dirty_pass.inc"     # SCRAMBLE, PRINT_PASS

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      a0, hello
    call    puts
    li      s0, 0                   # pass
    li      s1, 0x9E3779B97F4A7C15  # multiplier (odd: the scramble is a bijection)
    li      s4, PASSES
pass:
    li      a1, BUFFER
    li      a3, BUFFER + BUFFER_SIZE
    SCRAMBLE
    PRINT_PASS
    addi    s0, s0, 1
    bne     s0, s4, pass
    la      a0, bye
    call    puts
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
halt:
    wfi
    j       halt

    .include "../include/uart.inc"   # putc, puts, puthex

    .section .rodata
hello:      .asciz "dirty: start\n"
pass_text:  .asciz "pass "
sum_text:   .asciz " sum "
bye:        .asciz "dirty: done\n"

    .section .bss
    .balign 16
stack:      .space 1024
stack_top:

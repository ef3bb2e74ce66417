# idle.S -- an idle guest for live migration.
#
# Says hello, then spins on registers alone for SPINS iterations (two
# instructions each, no stores: nothing dirties its memory), then says
# goodbye. Pre-copy's first round sends its few pages and finds almost
# nothing dirtied: iterating stops at once, the downtime is the state.
#
# Expected output:  "idle: start", "idle: done", exit status 0.
# Run:              pyvmm run guests/lifecycle/idle.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ SPINS,         4000000

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      a0, hello
    call    puts
    li      t3, SPINS
1:  addi    t3, t3, -1
    bnez    t3, 1b
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
hello:      .asciz "idle: start\n"
bye:        .asciz "idle: done\n"

    .section .bss
    .balign 16
stack:      .space 1024
stack_top:

# dirty_smp.S -- every hart rewrites memory at once, for migrating an SMP board.
#
# Run with --smp 2 (--bios none: both harts start here in M-mode). Each hart
# rewrites its own 1 MiB half of a 2 MiB buffer PASSES times as dirty.S
# does. Hart 0 prints its checksum after every pass; hart 1 keeps its own in
# memory and, when done, raises a flag with an AMO; hart 0 waits for the
# flag, prints hart 1's checksum and powers off. The harts take turns in
# fixed instruction quanta, so the output is the same on every run.
#
# Expected output:  "dirty_smp: start", PASSES lines "hart0 pass <hex> sum
#                   <hex>", "hart1 sum <hex>", "dirty_smp: done", status 0.
# Run:              pyvmm run guests/lifecycle/dirty_smp.S --smp 2 --ram 4M

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ BUFFER,        0x80100000
    .equ HALF,          0x100000
    .equ PASSES,        60

    .include "dirty_pass.inc"     # SCRAMBLE, PRINT_PASS

    .section .text
    .globl _start
_start:
    csrr    s5, mhartid
    la      sp, stacks
    addi    t0, s5, 1
    slli    t0, t0, 10              # 1 KiB of stack each
    add     sp, sp, t0
    bnez    s5, 1f
    la      a0, hello
    call    puts
1:
    HALF_PASSES
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
halt:
    wfi
    j       halt

secondary_done:
    la      t0, hart1_sum
    sd      s2, 0(t0)
    la      t0, done_flag
    li      t1, 1
    amoadd.w zero, t1, (t0)
    j       halt

    .include "../include/uart.inc"   # putc, puts, puthex

    .section .rodata
hello:      .asciz "dirty_smp: start\n"
pass_text:  .asciz "hart0 pass "
sum_text:   .asciz " sum "
hart1_text: .asciz "hart1 sum "
bye:        .asciz "\ndirty_smp: done\n"

    .section .data
    .balign 8
hart1_sum:  .dword 0
done_flag:  .word 0

    .section .bss
    .balign 16
stacks:     .space 2048

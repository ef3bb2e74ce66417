# dirty_smp_s.S -- dirty_smp.S as an S-mode kernel for an SMP VM: every VCPU
# rewrites memory at once, for migrating a VM with two VCPUs.
#
# Run under a hypervisor with two VCPUs (pyvmm run --technique hw --smp 2).
# The boot hart starts the other through SBI HSM; each rewrites its own
# 1 MiB half of a 2 MiB buffer PASSES times as dirty_s.S does. The boot hart
# prints its checksum after every pass; the other keeps its own in memory
# and, when done, raises a flag with an AMO and stops itself (HSM); the boot
# hart waits for the flag, prints the other's checksum and powers off (SRST).
# The VCPUs take turns in fixed instruction slices, so the output is the
# same on every run.
#
# Expected output:  "dirty_smp_s: start", PASSES lines "hart0 pass <hex> sum
#                   <hex>", "hart1 sum <hex>", "dirty_smp_s: done", status 0.
# Run:              pyvmm run guests/lifecycle/dirty_smp_s.S --technique hw --smp 2 --ram 8M

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ EID_HSM,       0x48534D
    .equ EID_SRST,      0x53525354
    .equ BUFFER,        0x80400000     # above the image (RAM base + 2 MiB)
    .equ HALF,          0x100000
    .equ PASSES,        50

    .include "dirty_pass.inc"     # SCRAMBLE, PRINT_PASS

    .section .text
    .globl _start
_start:
    mv      s7, a0                  # this hart's id: the boot hart
    la      sp, stacks + 1024
    la      a0, hello
    call    puts
    li      a7, EID_HSM             # hart_start(the other, secondary, 0)
    li      a6, 0
    xori    a0, s7, 1
    la      a1, secondary
    li      a2, 0
    ecall
    li      s5, 0                   # the boot hart rewrites the first half
    j       rewrite
secondary:
    la      sp, stacks + 2048
    li      s5, 1                   # the second half
rewrite:
    HALF_PASSES
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0                   # shutdown
    li      a1, 0                   # reason: none
    ecall
halt:
    wfi
    j       halt

secondary_done:
    la      t0, hart1_sum
    sd      s2, 0(t0)
    la      t0, done_flag
    li      t1, 1
    amoadd.w zero, t1, (t0)
    li      a7, EID_HSM             # hart_stop
    li      a6, 1
    ecall
    j       halt

    .include "../include/uart.inc"   # putc, puts, puthex

    .section .rodata
hello:      .asciz "dirty_smp_s: start\n"
pass_text:  .asciz "hart0 pass "
sum_text:   .asciz " sum "
hart1_text: .asciz "hart1 sum "
bye:        .asciz "\ndirty_smp_s: done\n"

    .section .data
    .balign 8
hart1_sum:  .dword 0
done_flag:  .word 0

    .section .bss
    .balign 16
stacks:     .space 2048

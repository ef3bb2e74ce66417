# remap_code.S -- an S-mode kernel that maps one virtual code page to
# different physical pages in turn (as a kernel does when it unloads a
# module and loads another at the same address) and calls it each time.
# Prints "ABA": on the board and under every technique the call runs the
# code the page maps at the time (after the sfence.vma the change needs).
#
# Sv39: root[2] is a gigapage identity map of RAM for the kernel; VA
# CODE_VA (root[1] -> l1 -> l0) maps page_a, then page_b, then page_a.
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_LEGACY_SHUTDOWN, 0x08
    .equ RAM_BASE, 0x80000000
    .equ CODE_VA, 0x40000000
    .equ SATP_SV39, 8 << 60
    .equ PTE_TABLE, 0x01            # V
    .equ PTE_RX, 0xCB               # V R X A D
    .equ PTE_RWX, 0xCF              # V R W X A D

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, l1
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, PTE_TABLE
    la      t1, root
    sd      t0, 1*8(t1)             # root[1] -> l1 (VA CODE_VA)
    li      t2, (RAM_BASE >> 12) << 10 | PTE_RWX
    sd      t2, 2*8(t1)             # root[2]: gigapage identity for the kernel
    la      t0, l0
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, PTE_TABLE
    la      t1, l1
    sd      t0, 0(t1)               # l1[0] -> l0
    la      a0, root
    srli    a0, a0, 12
    li      t0, SATP_SV39
    or      a0, a0, t0
    csrw    satp, a0
    sfence.vma

    la      a0, page_a
    call    map_and_call
    la      a0, page_b
    call    map_and_call
    la      a0, page_a
    call    map_and_call
    li      a0, '\n'
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    li      a7, EID_LEGACY_SHUTDOWN
    ecall
1:  j       1b

# map_and_call(a0 = physical code page): CODE_VA -> a0, sfence.vma, call
# CODE_VA and print the letter it returns.
map_and_call:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    srli    a0, a0, 12
    slli    a0, a0, 10
    ori     a0, a0, PTE_RX
    la      t0, l0
    sd      a0, 0(t0)               # l0[0] -> the page
    sfence.vma
    li      t0, CODE_VA
    jalr    t0
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .balign 4096
page_a:
    li      a0, 'A'
    ret
    .balign 4096
page_b:
    li      a0, 'B'
    ret

    .section .data
    .balign 4096
root:   .zero 4096
l1:     .zero 4096
l0:     .zero 4096
    .balign 16
stack:  .zero 4096
stack_top:

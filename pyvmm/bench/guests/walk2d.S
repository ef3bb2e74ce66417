# walk2d.S -- the two-dimensional page walk microbenchmark (S-mode kernel).
#
# Maps its own 2 MiB window (0x8020_0000, identity) with Sv39, either with
# 512 4 KiB pages (three levels) or one 2 MiB megapage (two levels), every
# leaf with A and D set so no walk writes back. Then, ROUNDS times over
# PAGES pages, it flushes the TLB (sfence.vma) and loads from one page: each
# load and the fetch after each flush miss the TLB and walk. Natively a walk
# reads n PTEs; under nested paging each of those n reads and the final
# guest-physical address go through an m-level G-stage walk as well.
# Powers off with SBI SRST. MEGAPAGE, PAGES and ROUNDS are set by whoever
# assembles it (pyvmm.bench.walk2d).

    .equ SATP_SV39, 8 << 60
    .equ WINDOW, 0x80200000
    .equ TOUCH, 0x80300000
    .equ PTE_V, 1
    .equ PTE_RWXAD, 0xCE            # R W X A D
    .equ SBI_SRST, 0x53525354

    .section .text
    .globl _start
_start:
    la      s0, root
    la      s1, level1
    la      s2, level0
    # root[2] -> level1 (VA bits 38:30 = 2 for 0x8xxx_xxxx)
    srli    t0, s1, 12
    slli    t0, t0, 10
    ori     t0, t0, PTE_V
    sd      t0, 16(s0)
    li      t1, MEGAPAGE
    bnez    t1, 2f
    # level1[1] -> level0; level0[j] = identity 4 KiB leaf of WINDOW + j pages
    srli    t0, s2, 12
    slli    t0, t0, 10
    ori     t0, t0, PTE_V
    sd      t0, 8(s1)
    li      t2, WINDOW >> 12
    li      t3, 512
    mv      t4, s2
1:  slli    t0, t2, 10
    ori     t0, t0, PTE_RWXAD | PTE_V
    sd      t0, 0(t4)
    addi    t2, t2, 1
    addi    t4, t4, 8
    addi    t3, t3, -1
    bnez    t3, 1b
    j       3f
    # level1[1] = a 2 MiB leaf for the whole window
2:  li      t0, ((WINDOW >> 12) << 10) | PTE_RWXAD | PTE_V
    sd      t0, 8(s1)
3:  srli    t0, s0, 12
    li      t1, SATP_SV39
    or      t0, t0, t1
    csrw    satp, t0
    sfence.vma zero, zero

    li      s3, ROUNDS
4:  li      s4, PAGES
    li      s5, TOUCH
5:  sfence.vma zero, zero
    ld      t0, 0(s5)
    li      t1, 4096
    add     s5, s5, t1
    addi    s4, s4, -1
    bnez    s4, 5b
    addi    s3, s3, -1
    bnez    s3, 4b

    li      a7, SBI_SRST
    li      a6, 0
    li      a0, 0                   # shutdown
    li      a1, 0                   # no reason
    ecall
6:  wfi
    j       6b

    .section .bss
    .balign 4096
root:   .space 4096
level1: .space 4096
level0: .space 4096

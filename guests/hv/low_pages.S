# low_pages.S -- an S-mode kernel that uses the low addresses a hypervisor
# might borrow for itself, and prints what it saw; the output is the same on
# the board (pyvmm run --bios builtin) and under every technique.
#
#  1. Paging off: a store and a load at every doubleword of guest-physical
#     page 0 (below RAM: each is an access fault) and at 0x3F_C000_0000.
#     The trap handler counts the faults, folds scause and stval, and steps
#     over the instruction.
#  2. Paging off: a pattern written over the first page of RAM (0x8000_0000)
#     through gp and read back.
#  3. Sv39, then Sv48: virtual page 0 and virtual page 0x3F_C000_0000 both
#     map the first page of RAM. A pattern is written at VA 0 and read back
#     at VA 0, at the alias, and (paging off again) at its physical address;
#     a store to the unmapped VA 0x1000 is a page fault.
#
# Uses gp as an ordinary register throughout, as a kernel may.
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_LEGACY_SHUTDOWN, 0x08
    .equ RAM_BASE, 0x80000000
    .equ OLD_TC, 0x3FC0000000
    .equ SATP_SV39, 8 << 60
    .equ SATP_SV48, 9 << 60
    .equ PTE_TABLE, 0x01            # V
    .equ PTE_RW, 0xC7               # V R W A D
    .equ PTE_RWX, 0xCF              # V R W X A D

    .option norvc                   # the trap handler steps over 4-byte instructions
    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    li      s9, 0                   # faults taken
    li      s11, 0                  # fold of scause and stval

    # 1. guest-physical page 0 and the old TC address, paging off
    li      s0, 0
    li      s1, 4096
1:  sd      s0, 0(s0)
    ld      t1, 0(s0)
    addi    s0, s0, 8
    blt     s0, s1, 1b
    li      s0, OLD_TC
    sd      s0, 0(s0)
    ld      t1, 8(s0)
    la      a0, msg_page0
    call    puts
    call    print_faults

    # 2. the first page of RAM, paging off
    li      a0, RAM_BASE
    li      a1, 0x1234
    call    pattern
    mv      s2, a0
    li      a0, RAM_BASE
    call    checksum
    mv      a2, a0
    mv      a1, s2
    la      a0, msg_ram0
    call    print_two

    # 3. Sv39: VA 0 and VA OLD_TC -> RAM_BASE, VA RAM_BASE.. identity (gigapage)
    la      t0, l1
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, PTE_TABLE
    la      t1, root
    sd      t0, 0(t1)               # root[0] -> l1
    sd      t0, 255*8(t1)           # root[255] -> l1 (VA OLD_TC)
    li      t2, (RAM_BASE >> 12) << 10 | PTE_RWX
    sd      t2, 2*8(t1)             # root[2]: gigapage identity for the kernel
    la      t0, l0
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, PTE_TABLE
    la      t1, l1
    sd      t0, 0(t1)               # l1[0] -> l0
    li      t2, (RAM_BASE >> 12) << 10 | PTE_RW
    la      t1, l0
    sd      t2, 0(t1)               # l0[0] -> the first page of RAM
    la      t0, root4
    la      t1, root
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, PTE_TABLE
    sd      t1, 0(t0)               # Sv48: root4[0] -> the Sv39 root as its next level

    la      a0, root
    srli    a0, a0, 12
    li      t0, SATP_SV39
    or      a0, a0, t0
    li      a1, 0x5678
    la      a2, msg_sv39
    call    paged_round

    la      a0, root4
    srli    a0, a0, 12
    li      t0, SATP_SV48
    or      a0, a0, t0
    li      a1, 0x9ABC
    la      a2, msg_sv48
    call    paged_round

    li      a7, EID_LEGACY_SHUTDOWN
    ecall
2:  j       2b

# paged_round(a0 = satp, a1 = seed, a2 = label): pattern at VA 0 under that
# satp, read back at VA 0 and at VA OLD_TC, then paging off at RAM_BASE; a
# store to VA 0x1000 (unmapped) faults. Prints label, three checksums, faults.
paged_round:
    addi    sp, sp, -48
    sd      ra, 0(sp)
    sd      s2, 8(sp)
    sd      s3, 16(sp)
    sd      s4, 24(sp)
    sd      s5, 32(sp)
    mv      s5, a2
    csrw    satp, a0
    sfence.vma
    li      a0, 0
    call    pattern                 # the pattern's own fold
    mv      s2, a0
    li      a0, 0
    call    checksum
    mv      s3, a0
    li      a0, OLD_TC
    call    checksum
    mv      s4, a0
    li      t0, 0x1000
    sd      t0, 0(t0)               # unmapped: a store page fault
    csrw    satp, zero
    sfence.vma
    li      a0, RAM_BASE
    call    checksum
    mv      a3, a0
    mv      a0, s5
    call    puts
    mv      a0, s2
    call    print_hex
    mv      a0, s3
    call    print_hex
    mv      a0, s4
    call    print_hex
    mv      a0, a3
    call    print_hex
    call    print_faults
    ld      ra, 0(sp)
    ld      s2, 8(sp)
    ld      s3, 16(sp)
    ld      s4, 24(sp)
    ld      s5, 32(sp)
    addi    sp, sp, 48
    ret

# pattern(a0 = base, a1 = seed): 512 doublewords of an LCG from seed at
# base, stored through gp; returns their fold in a0.
pattern:
    mv      gp, a0
    li      t0, 512
    li      t3, 6364136223846793005
    li      t4, 1442695040888963407
    li      a0, 0
1:  mul     a1, a1, t3
    add     a1, a1, t4
    sd      a1, 0(gp)
    slli    t5, a0, 7
    srli    a0, a0, 57
    or      a0, a0, t5
    xor     a0, a0, a1
    addi    gp, gp, 8
    addi    t0, t0, -1
    bnez    t0, 1b
    ret

# checksum(a0 = base): the same fold over the 512 doublewords at base, read through gp.
checksum:
    mv      gp, a0
    li      t0, 512
    li      a0, 0
1:  ld      t1, 0(gp)
    slli    t5, a0, 7
    srli    a0, a0, 57
    or      a0, a0, t5
    xor     a0, a0, t1
    addi    gp, gp, 8
    addi    t0, t0, -1
    bnez    t0, 1b
    ret

# print_two(a0 = label, a1, a2): label, then a1 and a2 in hex, newline.
print_two:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      a1, 8(sp)
    sd      a2, 16(sp)
    call    puts
    ld      a0, 8(sp)
    call    print_hex
    ld      a0, 16(sp)
    call    print_hex
    li      a0, '\n'
    call    putc
    ld      ra, 0(sp)
    addi    sp, sp, 32
    ret

# print_faults: " faults N fold X" and a newline; resets both.
print_faults:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      a0, msg_faults
    call    puts
    mv      a0, s9
    call    print_hex
    mv      a0, s11
    call    print_hex
    li      a0, '\n'
    call    putc
    li      s9, 0
    li      s11, 0
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

puts:                               # a0: NUL-terminated string
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    mv      s0, a0
1:  lbu     a0, 0(s0)
    beqz    a0, 2f
    call    putc
    addi    s0, s0, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      s0, 8(sp)
    addi    sp, sp, 16
    ret

print_hex:                          # a0: " " then 16 hex digits
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    mv      s0, a0
    li      a0, ' '
    call    putc
    li      s1, 60
1:  srl     a0, s0, s1
    andi    a0, a0, 15
    li      t0, 10
    blt     a0, t0, 2f
    addi    a0, a0, 'a' - 10 - '0'
2:  addi    a0, a0, '0'
    call    putc
    addi    s1, s1, -4
    bgez    s1, 1b
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    addi    sp, sp, 32
    ret

putc:
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    ret

    .balign 4
trap:                               # count, fold scause and stval, step over
    csrr    t5, scause
    csrr    t6, stval
    addi    s9, s9, 1
    slli    t4, s11, 5
    sub     s11, t4, s11            # s11 * 31
    add     s11, s11, t5
    xor     s11, s11, t6
    csrr    t5, sepc
    addi    t5, t5, 4
    csrw    sepc, t5
    sret

    .section .rodata
msg_page0:  .string "paging off, page 0 and 0x3fc0000000:"
msg_ram0:   .string "paging off, first page of RAM:"
msg_sv39:   .string "sv39, VA 0 / alias / physical:"
msg_sv48:   .string "sv48, VA 0 / alias / physical:"
msg_faults: .string " faults"

    .section .bss
    .balign 4096
root:   .space 4096
l1:     .space 4096
l0:     .space 4096
root4:  .space 4096
stack:  .space 4096
stack_top:

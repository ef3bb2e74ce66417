# sv57.S -- five-level paging (satp MODE 10, Sv57), as QEMU 7.2's rv64 has it.
#
# M-mode builds Sv57 tables and enters S-mode, which reads one marker word
# through a leaf at every level: a 4 KiB page (level 0), a 2 MiB megapage
# (1), a 1 GiB gigapage (2), a 512 GiB terapage (3) and a 256 TiB petapage
# (4, the root), the last also from the upper half of the address space.
# Then the faults: a non-canonical address (bits 63:57 not copies of bit 56),
# a misaligned megapage, a store to a read-only page; and the hardware A/D
# update, and satp's WARL write of a reserved MODE. An address with bit 48
# set works here where Sv48 would call it non-canonical. Each probe prints
# "<name>=<value>", or "<name>!<mcause>,<mtval>" when it trapped (every
# trap goes to M, which skips the instruction).
# Run: pyvmm run guests/isa/sv57.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ LEAF,          0xcf            # V R W X A D
    .equ LEAF_RO,       0x43            # V R A
    .equ LEAF_RW_CLEAN, 0x07            # V R W, A and D clear
    .equ VA_4K,         0x00000000c0005000
    .equ VA_4K_RO,      0x00000000c0006000
    .equ VA_4K_AD,      0x00000000c0007000
    .equ VA_2M,         0x00000000c0200000
    .equ VA_2M_BAD,     0x00000000c0400000
    .equ VA_1G,         0x0000000100000000
    .equ VA_512G,       0x0000008000000000
    .equ VA_256T,       0x0001000000000000
    .equ VA_UPPER,      0xff00000000000000
    .equ VA_NONCANON,   0x0100000080000000

    # pte TABLE, INDEX, REG: TABLE[INDEX] = REG
    .macro pte table, index, reg
    la      t1, \table
    li      t4, \index * 8
    add     t1, t1, t4
    sd      \reg, 0(t1)
    .endm

    # REG = a pointer PTE to TABLE
    .macro ptr reg, table
    la      \reg, \table
    srli    \reg, \reg, 12
    slli    \reg, \reg, 10
    ori     \reg, \reg, 1
    .endm

    # REG = a leaf PTE for physical address PA (a register) with FLAGS
    .macro leaf reg, pa, flags
    srli    \reg, \pa, 12
    slli    \reg, \reg, 10
    ori     \reg, \reg, \flags
    .endm

    .macro begin
    li      s11, -1
    .endm
    .macro end name
    la      a1, 9f
    call    report
    .section .rodata
9:  .asciz  "\name"
    .text
    .endm

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap_handler
    csrw    mtvec, t0
    li      t0, -1                  # PMP: S may use all of memory
    srli    t0, t0, 10
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0

    # root: [0] -> l3, [1] petapage at 0, [256] petapage at 0 (upper half)
    ptr     t0, l3
    pte     l4, 0, t0
    li      t0, LEAF
    pte     l4, 1, t0
    pte     l4, 256, t0
    # l3: [0] -> l2, [1] terapage at 0
    ptr     t0, l2
    pte     l3, 0, t0
    li      t0, LEAF
    pte     l3, 1, t0
    # l2: [0] gigapage 0 (devices), [2] gigapage 0x80000000 (RAM, identity),
    # [3] -> l1, [4] gigapage 0x80000000
    li      t0, LEAF
    pte     l2, 0, t0
    li      t2, 0x80000000
    leaf    t0, t2, LEAF
    pte     l2, 2, t0
    pte     l2, 4, t0
    ptr     t0, l1
    pte     l2, 3, t0
    # l1: [0] -> l0, [1] megapage holding the marker, [2] a misaligned megapage
    ptr     t0, l0
    pte     l1, 0, t0
    la      t2, marker
    li      t3, -0x200000
    and     t3, t2, t3
    leaf    t0, t3, LEAF
    pte     l1, 1, t0
    li      t3, 0x1000
    add     t3, t0, t3              # PPN[0] = 1: not a 2 MiB-aligned leaf
    pte     l1, 2, t3
    # l0: [5] the marker's page, [6] the same read-only, [7] with A and D clear
    srli    t3, t2, 12
    slli    t3, t3, 12
    leaf    t0, t3, LEAF
    pte     l0, 5, t0
    leaf    t0, t3, LEAF_RO
    pte     l0, 6, t0
    leaf    t0, t3, LEAF_RW_CLEAN
    pte     l0, 7, t0

    # satp: Sv57 sticks; the reserved MODE 11 leaves it as it was
    la      t0, l4
    srli    t0, t0, 12
    li      t1, 10 << 60
    or      t0, t0, t1
    csrw    satp, t0
    li      t1, 11 << 60
    csrw    satp, t1
    begin
    csrr    a0, satp
    srli    a0, a0, 60
    end     satp_mode
    sfence.vma

    li      t0, 0x800               # MPP = S
    csrw    mstatus, t0
    la      t0, in_s
    csrw    mepc, t0
    mret

in_s:
    la      s0, marker
    li      t2, 0xfff
    and     s1, s0, t2              # the marker's page offset
    li      t2, 0x1fffff
    and     s2, s0, t2              # its megapage offset
    li      t2, 0x7fffffff
    and     s3, s0, t2              # its offset in the gigapage at 0x80000000

    .option norvc                   # the trap handler skips 4-byte instructions
    begin
    li      t0, VA_4K
    add     t0, t0, s1
    ld      a0, 0(t0)
    end     page_4k
    begin
    li      t0, VA_2M
    add     t0, t0, s2
    ld      a0, 0(t0)
    end     mega_2m
    begin
    li      t0, VA_1G
    add     t0, t0, s3
    ld      a0, 0(t0)
    end     giga_1g
    begin
    li      t0, VA_512G
    add     t0, t0, s0
    ld      a0, 0(t0)
    end     tera_512g
    begin
    li      t0, VA_256T             # bit 48 set: not canonical under Sv48
    add     t0, t0, s0
    ld      a0, 0(t0)
    end     peta_256t
    begin
    li      t0, VA_UPPER
    add     t0, t0, s0
    ld      a0, 0(t0)
    end     upper_half
    begin
    li      t0, VA_NONCANON
    ld      a0, 0(t0)
    end     noncanonical
    begin
    li      t0, VA_NONCANON
    sd      zero, 0(t0)
    end     noncanonical_store
    begin
    li      t0, VA_2M_BAD
    ld      a0, 0(t0)
    end     misaligned_mega
    begin
    li      t0, VA_4K_RO
    add     t0, t0, s1
    sd      zero, 0(t0)
    end     readonly_store
    begin
    li      t0, VA_4K_AD
    add     t0, t0, s1
    li      a0, 0x600d
    sd      a0, 0(t0)
    ld      a0, 0(t0)
    end     ad_store
    .option rvc
    ecall                           # back to M: the PTE's A and D bits, then done

m_done:
    begin
    la      t1, l0
    ld      a0, 7 * 8(t1)
    andi    a0, a0, 0xff
    end     ad_bits
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
1:  j       1b

# report(a0 = value, a1 = name): "name=value" or "name!mcause,mtval"
report:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    mv      a0, a1
    call    puts
    li      t0, -1
    beq     s11, t0, 1f
    li      a0, '!'
    call    putc
    mv      a0, s11
    call    puthex
    li      a0, ','
    call    putc
    mv      a0, s10
    j       2f
1:  li      a0, '='
    call    putc
    ld      a0, 8(sp)
2:  call    puthex
    li      a0, '\n'
    call    putc
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# ecall from S: finish in M; any other trap: mcause in s11, mtval in s10,
# skip the (4-byte) instruction
    .balign 4
trap_handler:
    csrr    s11, mcause
    li      t0, 9
    bne     s11, t0, 1f
    la      t0, m_done
    csrw    mepc, t0
    li      t0, 0x1800              # stay in M
    csrs    mstatus, t0
    mret
1:  csrr    s10, mtval
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    mret

    .include "../include/uart.inc"

    .section .data
    .balign 8
marker: .dword 0x5737000000c0ffee

    .section .bss
    .balign 4096
l4: .space 4096
l3: .space 4096
l2: .space 4096
l1: .space 4096
l0: .space 4096
    .balign 16
stack: .space 1024
stack_top:

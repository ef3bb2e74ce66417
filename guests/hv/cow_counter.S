# cow_counter.S -- an S-mode kernel that writes memory and reads it back:
# ROUNDS times it prints a counter kept in memory, increments it with a
# store, an AMO and an LR/SC pair, and fills a 64 KiB buffer with the round
# number; at the end it prints the buffer's sum. Every value it prints comes
# from memory it wrote itself, so a clone (docs/clones.md) that saw another
# VM's writes, or a write that reached a shared frame, prints other numbers.
# Run: pyvmm run --technique hw guests/hv/cow_counter.S
#      pyvmm clone guests/hv/cow_counter.S --at 60000 --count 3
    .equ ROUNDS, 8
    .equ BUFFER_BYTES, 65536
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_SRST, 0x53525354

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    li      s0, 0                   # round
1:  la      a0, round_text
    call    puts
    mv      a0, s0
    call    put_hex
    la      a0, cell_text
    call    puts
    la      t0, cell
    ld      a0, 0(t0)
    call    put_hex
    la      a0, amo_text
    call    puts
    la      t0, amo_cell
    ld      a0, 0(t0)
    call    put_hex
    li      a0, 10
    call    putc
    la      t0, cell                # store
    ld      t1, 0(t0)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    la      t0, amo_cell            # AMO, then LR/SC
    li      t1, 0x100
    amoadd.d zero, t1, (t0)
2:  lr.d    t1, (t0)
    addi    t1, t1, 1
    sc.d    t2, t1, (t0)
    bnez    t2, 2b
    la      t0, buffer              # fill the buffer with the round number
    li      t1, BUFFER_BYTES
    add     t1, t1, t0
3:  sd      s0, 0(t0)
    addi    t0, t0, 8
    bne     t0, t1, 3b
    addi    s0, s0, 1
    li      t0, ROUNDS
    bne     s0, t0, 1b
    la      t0, buffer              # read it all back
    li      t1, BUFFER_BYTES
    add     t1, t1, t0
    li      a0, 0
4:  ld      t2, 0(t0)
    add     a0, a0, t2
    addi    t0, t0, 8
    bne     t0, t1, 4b
    mv      s1, a0
    la      a0, sum_text
    call    puts
    mv      a0, s1
    call    put_hex
    li      a0, 10
    call    putc
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
5:  j       5b

putc:                               # a0: one byte, via legacy putchar
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    ret

puts:                               # a0: NUL-terminated string
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s2, 8(sp)
    mv      s2, a0
1:  lbu     a0, 0(s2)
    beqz    a0, 2f
    call    putc
    addi    s2, s2, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      s2, 8(sp)
    addi    sp, sp, 16
    ret

put_hex:                            # a0: printed as 16 hex digits
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s2, 8(sp)
    sd      s3, 16(sp)
    mv      s2, a0
    li      s3, 60
1:  srl     a0, s2, s3
    andi    a0, a0, 15
    la      t0, digits
    add     t0, t0, a0
    lbu     a0, 0(t0)
    call    putc
    addi    s3, s3, -4
    bgez    s3, 1b
    ld      ra, 0(sp)
    ld      s2, 8(sp)
    ld      s3, 16(sp)
    addi    sp, sp, 32
    ret

    .section .data
digits:
    .ascii  "0123456789abcdef"
round_text:
    .asciz  "cow: round "
cell_text:
    .asciz  " cell "
amo_text:
    .asciz  " amo "
sum_text:
    .asciz  "cow: buffer sum "
    .balign 4096
cell:
    .dword  0x1000
    .balign 4096
amo_cell:
    .dword  0x2000
    .balign 4096
buffer:
    .space  BUFFER_BYTES
    .space  4096
stack_top:

# compute.S -- a CPU-bound workload with a checkable result (MIPS measurements).
#
# Shows: plain RV64IMC integer code with no traps, no paging and no devices
# except the console at the end. Each round fills a 2 KiB buffer from a 64-bit
# LCG seeded by the round number, then runs four kernels over it:
#   * a sieve of Eratosthenes (byte array, limit 6000 + 7*round),
#   * a bitwise CRC-32 (reflected polynomial 0xEDB88320) of the buffer,
#   * a 16x16 64-bit matrix multiply (mul) of matrices taken from the buffer,
#   * an insertion sort of the buffer's 256 signed doublewords,
# and folds their results into a checksum with rotates, mulhu and remu.
# ROUNDS (below) sizes the run: 117 rounds retire about 50 million
# instructions. Output: the last round's results and the checksum; exit 0.
# Run: pyvmm run guests/compute.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555

    .equ ROUNDS,        117
    .equ BUF_BYTES,     2048
    .equ SORT_COUNT,    256         # doublewords in the buffer
    .equ MAT_N,         16

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      a0, s_banner
    call    puts
    li      s0, 0                   # round
    li      s1, 0                   # checksum
round_loop:
    mv      a0, s0
    call    fill_buffer

    li      a0, 6000
    li      t0, 7
    mul     t0, t0, s0
    add     a0, a0, t0
    call    sieve
    mv      s2, a0
    mv      a0, s2
    call    fold

    call    crc32
    mv      s3, a0
    call    fold

    call    matmul
    mv      s4, a0
    call    fold

    call    insertion_sort
    mv      s5, a0
    call    fold

    addi    s0, s0, 1
    li      t0, ROUNDS
    bltu    s0, t0, round_loop

    la      a0, s_primes
    mv      a1, s2
    call    put_field
    la      a0, s_crc
    mv      a1, s3
    call    put_field
    la      a0, s_matmul
    mv      a1, s4
    call    put_field
    la      a0, s_sort
    mv      a1, s5
    call    put_field
    la      a0, s_checksum
    mv      a1, s1
    call    put_field
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
1:  j       1b

# fold(a0): s1 = rotl(s1, 7) ^ a0 ^ mulhu(a0, golden) ^ (a0 remu 65521)
fold:
    slli    t0, s1, 7
    srli    t1, s1, 57
    or      s1, t0, t1
    xor     s1, s1, a0
    li      t0, 0x9e3779b97f4a7c15
    mulhu   t1, a0, t0
    xor     s1, s1, t1
    li      t0, 65521
    remu    t1, a0, t0
    xor     s1, s1, t1
    ret

# fill_buffer(a0 = seed): BUF_BYTES of LCG output
fill_buffer:
    li      t0, 6364136223846793005
    li      t1, 1442695040888963407
    la      t2, buffer
    li      t3, BUF_BYTES / 8
    mv      t4, a0
1:  mul     t4, t4, t0
    add     t4, t4, t1
    sd      t4, 0(t2)
    addi    t2, t2, 8
    addi    t3, t3, -1
    bnez    t3, 1b
    ret

# sieve(a0 = limit) -> a0 = number of primes below limit
sieve:
    la      t0, sieve_buf
    li      t1, 0
    li      t2, 1
1:  add     t3, t0, t1              # mark everything as a candidate
    sb      t2, 0(t3)
    addi    t1, t1, 1
    bltu    t1, a0, 1b
    sb      zero, 0(t0)
    sb      zero, 1(t0)
    li      t1, 2                   # i
2:  mul     t3, t1, t1
    bgeu    t3, a0, 5f
    add     t4, t0, t1
    lbu     t4, 0(t4)
    beqz    t4, 4f
3:  add     t4, t0, t3              # j = i*i, i*i + i, ...
    sb      zero, 0(t4)
    add     t3, t3, t1
    bltu    t3, a0, 3b
4:  addi    t1, t1, 1
    j       2b
5:  li      t1, 0                   # count
    li      t2, 0
6:  add     t3, t0, t2
    lbu     t3, 0(t3)
    add     t1, t1, t3
    addi    t2, t2, 1
    bltu    t2, a0, 6b
    mv      a0, t1
    ret

# crc32() -> a0 = CRC-32 of the buffer
crc32:
    la      t0, buffer
    li      t1, BUF_BYTES
    li      a0, 0xffffffff
    li      t2, 0xedb88320
1:  lbu     t3, 0(t0)
    xor     a0, a0, t3
    li      t4, 8
2:  andi    t5, a0, 1
    neg     t5, t5
    and     t5, t5, t2
    srli    a0, a0, 1
    xor     a0, a0, t5
    addi    t4, t4, -1
    bnez    t4, 2b
    addi    t0, t0, 1
    addi    t1, t1, -1
    bnez    t1, 1b
    not     a0, a0
    slli    a0, a0, 32
    srli    a0, a0, 32
    ret

# matmul() -> a0 = sum of C = A x B, A = buffer[0..255] >> 48, B = buffer[256..511] & 0xffff as 16-bit halves
matmul:
    la      a1, buffer              # A: signed 16-bit elements (lh)
    addi    a2, a1, MAT_N * MAT_N * 2   # B: unsigned 16-bit elements (lhu)
    li      a0, 0
    li      t0, 0                   # i
1:  li      t1, 0                   # j
2:  li      t2, 0                   # k
    li      t3, 0                   # C[i][j]
3:  slli    t4, t0, 4               # A[i][k]
    add     t4, t4, t2
    slli    t4, t4, 1
    add     t4, t4, a1
    lh      t4, 0(t4)
    slli    t5, t2, 4               # B[k][j]
    add     t5, t5, t1
    slli    t5, t5, 1
    add     t5, t5, a2
    lhu     t5, 0(t5)
    mul     t4, t4, t5
    add     t3, t3, t4
    addi    t2, t2, 1
    li      t6, MAT_N
    bltu    t2, t6, 3b
    slli    t4, t0, 4               # store C[i][j] as a doubleword
    add     t4, t4, t1
    slli    t4, t4, 3
    la      t5, matrix_c
    add     t4, t4, t5
    sd      t3, 0(t4)
    xor     a0, a0, t3
    slli    t5, a0, 1               # mix the position in
    srli    a0, a0, 63
    or      a0, a0, t5
    addi    t1, t1, 1
    bltu    t1, t6, 2b
    addi    t0, t0, 1
    bltu    t0, t6, 1b
    ret

# insertion_sort() -> a0 = sorted[0] ^ sorted[127] ^ sorted[255] ^ inversions
insertion_sort:
    la      a1, buffer
    li      a2, SORT_COUNT
    li      a3, 0                   # inversions fixed (element moves)
    li      t0, 1                   # i
1:  slli    t1, t0, 3
    add     t1, t1, a1
    ld      t2, 0(t1)               # key
    mv      t3, t0                  # j
2:  beqz    t3, 3f
    ld      t4, -8(t1)
    ble     t4, t2, 3f              # signed order
    sd      t4, 0(t1)
    addi    t1, t1, -8
    addi    t3, t3, -1
    addi    a3, a3, 1
    j       2b
3:  sd      t2, 0(t1)
    addi    t0, t0, 1
    bltu    t0, a2, 1b
    ld      a0, 0(a1)
    ld      t0, 127 * 8(a1)
    xor     a0, a0, t0
    ld      t0, 255 * 8(a1)
    xor     a0, a0, t0
    xor     a0, a0, a3
    ret

# put_field(a0 = label, a1 = value): "label0x...\n"
put_field:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a1, 8(sp)
    call    puts
    ld      a0, 8(sp)
    call    puthex
    li      a0, '\n'
    call    putc
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .include "include/uart.inc"   # putc, puts, puthex

    .section .rodata
s_banner:   .asciz "compute: sieve, crc32, matmul, insertion sort\n"
s_primes:   .asciz "primes (last round): "
s_crc:      .asciz "crc32 (last round):  "
s_matmul:   .asciz "matmul (last round): "
s_sort:     .asciz "sort (last round):   "
s_checksum: .asciz "checksum:            "

    .section .bss
    .balign 16
buffer:     .space BUF_BYTES
matrix_c:   .space MAT_N * MAT_N * 8
sieve_buf:  .space 8192
stack:      .space 4096
stack_top:

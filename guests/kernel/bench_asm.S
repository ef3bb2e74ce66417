/* bench_asm.S -- the callret nanobenchmark's loop, in assembly so that each
 * iteration is exactly one call (jal), one return and the loop's own two
 * instructions, whatever the compiler would have done. */
    .option norelax
    .text
    .globl bench_callret_loop
/* uint64_t bench_callret_loop(uint64_t n): sum over i of leaf(i) = i + 1 */
bench_callret_loop:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    mv      t1, a0                  /* iterations left */
    li      t2, 0                   /* checksum */
    li      a0, 0
    beqz    t1, 2f
1:  jal     callret_leaf            /* one instruction: a0 = a0 + 1, t2 += a0 */
    addi    t1, t1, -1
    bnez    t1, 1b
2:  mv      a0, t2
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

callret_leaf:
    addi    a0, a0, 1
    add     t2, t2, a0
    ret

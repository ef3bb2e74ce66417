# Every standard pseudo-instruction, with and without RVC.
    .equ BIG, 0x123456789abcdef0
    .text
    .globl _start
_start:
    .option push
    .option norvc
    call pseudos
    .option pop
    call pseudos
    tail pseudos
    call t0, pseudos
    jump pseudos, t1
pseudos:
    nop
    li a0, 0
    li a0, 31
    li a0, -32
    li a0, 2047
    li a0, -2048
    li a0, 2048
    li a0, 0x1000
    li sp, 0x1000
    li zero, 0x1000
    li x0, 5
    li a0, 0x12345678
    li a0, 0x7fffffff
    li a0, 0x80000000
    li a0, -0x80000000
    li a0, 0xffffffff
    li a0, 0x100000000
    li a0, BIG
    li a0, -1
    li a0, 0xffffffffffffffff
    li a0, 0x8000000000000000
    li a0, 0x7fffffffffffffff
    li t3, 0x0000000000000fff
    li s11, 0x00ff00ff00ff00ff
    li a1, BIG >> 4
    la a0, data_word
    lla a1, data_word
    la a2, pseudos
    mv a0, a1
    not a0, a1
    neg a0, a1
    negw a0, a1
    sext.w a1, a2
    seqz a0, a1
    snez a0, a1
    sltz a0, a1
    sgtz a0, a1
    sgt a0, a1, a2
    sgtu a0, a1, a2
    zext.b a0, a1
1:  beqz a0, 1b
    bnez s1, 1b
    blez a0, 1b
    bgez a0, 1b
    bltz a0, 1b
    bgtz a0, 1b
    bgt a0, a1, 1b
    ble a0, a1, 1b
    bgtu a0, a1, 1b
    bleu a0, a1, 1b
    j 1b
    jal 1b
    jal ra, 1b
    jr a0
    jr 8(a0)
    jr a0, 8
    jalr a0
    jalr 8(a0)
    jalr a0, 8
    jalr t0, a1
    jalr t0, 8(a1)
    jalr t0, a1, -8
    ret
    csrr a0, mstatus
    csrw mscratch, a0
    csrs mie, a1
    csrc mip, a2
    csrwi mscratch, 5
    csrsi sie, 31
    csrci sstatus, 2
    csrw mtvec, 3
    csrs mie, 8
    csrc mstatus, 1
    csrrw a0, mscratch, 7
    rdtime a0
    rdcycle a1
    rdinstret a2
    fence
    fence rw, rw
    fence i, o
    fence.i
    fence.tso
    sfence.vma
    sfence.vma a0
    sfence.vma a0, a1
    hfence.vvma
    hfence.gvma a0
    lw a3, data_word
    ld a4, data_word
    lbu a5, data_word
    sw a3, data_word, t0
    sd a4, data_word, t1
    sb a5, data_word, t2
    .data
data_word:
    .word 0x11223344

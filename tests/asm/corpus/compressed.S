# Every RV64C mnemonic written explicitly, and the GNU RVC choice for the
# 32-bit spellings that have (and have not) a compressed form.
    .text
    .globl _start
_start:
    c.addi4spn a0, sp, 4
    c.addi4spn s1, sp, 1020
    c.lw a5, 124(s0)
    c.ld a0, 248(a1)
    c.sw a2, 0(a3)
    c.sd s1, 8(a5)
    c.nop
    c.addi a0, -32
    c.addi sp, 31
    c.addiw a1, 0
    c.li t0, -1
    c.addi16sp sp, -512
    c.addi16sp sp, 496
    c.lui a0, 0x1
    c.lui t6, 0xfffff
    c.srli a0, 63
    c.srai s1, 1
    c.andi a2, -1
    c.sub a0, a1
    c.xor s0, s1
    c.or a4, a5
    c.and a3, a2
    c.subw a0, a0
    c.addw a5, s0
1:  c.j 1b
    c.beqz a0, 1b
    c.bnez s1, 2f
    c.slli ra, 1
    c.slli t6, 63
    # HINT spellings (RV64: the RV128 shift-by-64 forms, c.addi x0 as c.nop IMM)
    c.slli64 a0
    c.slli64 zero
    c.srli64 s1
    c.srai64 a5
    c.nop 1
    c.nop -32
    c.nop 31
    c.nop 1+1
    c.lwsp a0, 252(sp)
    c.ldsp ra, 504(sp)
    c.jr ra
    c.mv a0, t6
    c.ebreak
    c.jalr t0
    c.add sp, a0
    c.swsp zero, 0(sp)
    c.sdsp t6, 504(sp)
2:  c.unimp
# 32-bit spellings and what GNU as makes of them
    addi a0, sp, 1020
    addi a0, sp, 1024
    addi a0, sp, 0
    addi sp, sp, 16
    addi sp, sp, -64
    addi sp, sp, 0
    addi a0, a0, 0
    addi zero, zero, 0
    addi zero, zero, 5
    addi a0, zero, -32
    addi zero, a0, 0
    add a0, a0, 5
    add a0, a0, 0
    add a0, zero, a1
    add a0, a1, zero
    add a0, a1, a0
    add sp, sp, -16
    add a0, sp, 8
    and a0, a1, a0
    and a0, a0, 3
    or s0, s1, s0
    xor a5, a5, a4
    sub a0, a1, a0
    addw a0, a1, a0
    addw a0, a0, 7
    subw a1, a0, a1
    addiw a0, a0, 0
    addiw zero, zero, 1
    sext.w a0, a0
    sext.w a0, a1
    slli zero, zero, 3
    slli a0, a0, 0
    sll a0, a0, 12
    srl s0, s0, 3
    sra s0, s0, 63
    srli a6, a6, 3
    lui zero, 1
    lui sp, 1
    lui a0, 0x20
    lui a0, 0xfffe0
    mv a0, zero
    mv zero, a0
    move a1, a2
    lw zero, 4(sp)
    ld s0, 512(sp)
    sw zero, 252(sp)
    sd a0, -8(sp)
    lw a0, 128(a1)
    ld a0, 4(a1)
    jalr zero, 0(a0)
    jalr ra, 0(a0)
    jalr a0
    jr a0
    ret
    ebreak
    sbreak
    nop
    unimp
    .option norvc
    unimp
    nop
    ret
    .option rvc
    fence
.insn 0x13
.insn 2, 0x4501
.insn 4, 0x00b50533

# Every 32-bit instruction of pyvmm.isa with a few operand choices, assembled
# with and without RVC (generated once from the isa table, then kept as is).
    .text
    .globl _start
_start:
    .option norvc
    lui zero, 0x0
    lui sp, 0xfffff
    lui a3, 0x0
    auipc s1, 0x0
    auipc s11, 0xfffff
    auipc gp, 0x0
1:  jal sp, 1b
    jal sp, 1b
    jal sp, 1b
    jalr s0, -2048(zero)
    jalr sp, 2047(a1)
    jalr sp, 0(s2)
    beq sp, zero, 1f
    beq sp, zero, 1f
    beq zero, sp, 1f
1:
    bne sp, sp, 1f
    bne t2, a2, 1f
    bne zero, zero, 1f
1:
    blt zero, sp, 1f
    blt a4, a0, 1f
    blt a5, a6, 1f
1:
    bge sp, zero, 1f
    bge zero, zero, 1f
    bge s1, t3, 1f
1:
    bltu gp, sp, 1f
    bltu zero, sp, 1f
    bltu t5, zero, 1f
1:
    bgeu s1, sp, 1f
    bgeu s0, s7, 1f
    bgeu sp, a3, 1f
1:
    lb a1, -2048(zero)
    lb s6, 2047(a2)
    lb sp, 0(t0)
    lh a5, -2048(a3)
    lh t5, 2047(zero)
    lh sp, 0(zero)
    lw a0, -2048(zero)
    lw sp, 2047(s0)
    lw zero, 0(sp)
    ld a2, -2048(a4)
    ld zero, 2047(s0)
    ld t3, 0(zero)
    lbu sp, -2048(s0)
    lbu a2, 2047(t3)
    lbu a3, 0(a5)
    lhu zero, -2048(zero)
    lhu t3, 2047(s1)
    lhu s1, 0(a2)
    lwu t4, -2048(a0)
    lwu zero, 2047(sp)
    lwu sp, 0(zero)
    sb sp, -2048(s1)
    sb sp, 2047(sp)
    sb sp, 0(sp)
    sh t0, -2048(sp)
    sh sp, 2047(sp)
    sh t2, 0(a2)
    sw sp, -2048(s0)
    sw sp, 2047(a5)
    sw a7, 0(sp)
    sd a5, -2048(zero)
    sd a2, 2047(a1)
    sd s9, 0(sp)
    addi s11, sp, -2048
    addi zero, sp, 2047
    addi sp, a3, 0
    slti sp, sp, -2048
    slti sp, a2, 2047
    slti s1, zero, 0
    sltiu a2, zero, -2048
    sltiu sp, zero, 2047
    sltiu ra, s0, 0
    xori zero, s0, -2048
    xori zero, tp, 2047
    xori sp, a1, 0
    ori t6, t5, -2048
    ori sp, a2, 2047
    ori zero, s1, 0
    andi zero, t4, -2048
    andi zero, zero, 2047
    andi zero, a3, 0
    slli sp, s0, 0
    slli zero, s0, 63
    slli zero, zero, 0
    srli s8, sp, 0
    srli s1, sp, 63
    srli zero, zero, 0
    srai gp, a2, 0
    srai sp, zero, 63
    srai s9, zero, 0
    add s2, zero, sp
    add sp, sp, t5
    add a0, a5, zero
    sub a0, s1, sp
    sub sp, zero, a4
    sub sp, sp, a0
    sll a2, zero, s11
    sll zero, t5, zero
    sll t3, a0, t1
    slt s0, sp, zero
    slt t2, zero, a6
    slt zero, a3, a1
    sltu sp, s0, t6
    sltu zero, zero, zero
    sltu a4, zero, a5
    xor a1, sp, zero
    xor zero, s0, s0
    xor zero, s0, sp
    srl s1, a1, sp
    srl sp, t3, sp
    srl zero, zero, zero
    sra zero, zero, sp
    sra zero, a5, zero
    sra sp, sp, sp
    or sp, a7, s0
    or zero, zero, zero
    or sp, sp, sp
    and zero, zero, zero
    and zero, sp, t0
    and zero, a1, a5
    addiw sp, sp, -2048
    addiw zero, a0, 2047
    addiw a2, zero, 0
    slliw a5, t4, 0
    slliw zero, sp, 31
    slliw s0, sp, 0
    srliw t3, a3, 0
    srliw a3, sp, 31
    srliw sp, a3, 0
    sraiw tp, t6, 0
    sraiw a4, zero, 31
    sraiw sp, sp, 0
    addw s10, zero, s9
    addw zero, zero, a5
    addw s0, s1, a0
    subw a2, a0, a5
    subw s3, t5, s1
    subw a4, a0, a4
    sllw s8, a1, sp
    sllw zero, sp, zero
    sllw zero, a1, a5
    srlw a5, t5, sp
    srlw s11, t3, sp
    srlw zero, s0, a1
    sraw a2, sp, sp
    sraw a5, a5, sp
    sraw s0, a4, zero
    fence iorw, iorw
    fence iorw, iorw
    fence iorw, iorw
    fence.tso
    fence.tso
    fence.tso
    ecall
    ecall
    ecall
    ebreak
    ebreak
    ebreak
    fence.i
    fence.i
    fence.i
    csrrw zero, 0x0, sp
    csrrw sp, 0xfff, a1
    csrrw sp, 0x0, s4
    csrrs sp, 0x0, s10
    csrrs a5, 0xfff, ra
    csrrs s6, 0x0, sp
    csrrc sp, 0x0, a0
    csrrc zero, 0xfff, sp
    csrrc s9, 0x0, zero
    csrrwi a5, 0x0, 0
    csrrwi a4, 0xfff, 31
    csrrwi gp, 0x0, 0
    csrrsi zero, 0x0, 0
    csrrsi tp, 0xfff, 31
    csrrsi zero, 0x0, 0
    csrrci a1, 0x0, 0
    csrrci sp, 0xfff, 31
    csrrci sp, 0x0, 0
    mul s0, a1, a3
    mul a3, zero, zero
    mul a2, s1, s1
    mulh s1, s6, s0
    mulh sp, a3, tp
    mulh a1, t2, zero
    mulhsu t1, sp, sp
    mulhsu sp, sp, sp
    mulhsu ra, sp, s0
    mulhu a2, s0, s2
    mulhu s6, zero, a2
    mulhu a1, t6, t0
    div s4, s9, sp
    div sp, zero, a5
    div sp, sp, zero
    divu a1, a5, sp
    divu a0, a3, a3
    divu s1, zero, sp
    rem sp, a2, zero
    rem t4, a4, s2
    rem zero, zero, a1
    remu zero, sp, a4
    remu sp, zero, a4
    remu zero, t6, a1
    mulw a2, zero, sp
    mulw a5, a1, sp
    mulw zero, gp, sp
    divw s1, a4, a5
    divw a0, a5, zero
    divw a2, a3, sp
    divuw zero, sp, sp
    divuw zero, a3, s3
    divuw a3, s6, sp
    remw s1, zero, a0
    remw s9, zero, zero
    remw sp, a1, t5
    remuw a5, zero, s0
    remuw zero, sp, s11
    remuw a1, sp, zero
    lr.w s0, (sp)
    lr.w sp, (sp)
    lr.w zero, (sp)
    sc.w zero, sp, (zero)
    sc.w a3, a2, (zero)
    sc.w zero, s3, (zero)
    amoswap.w a4, t0, (t4)
    amoswap.w zero, sp, (sp)
    amoswap.w zero, sp, (zero)
    amoadd.w zero, s9, (a4)
    amoadd.w t5, a5, (zero)
    amoadd.w zero, t0, (s0)
    amoxor.w zero, sp, (sp)
    amoxor.w sp, gp, (gp)
    amoxor.w sp, a0, (zero)
    amoand.w a0, a3, (zero)
    amoand.w sp, s2, (s0)
    amoand.w a4, zero, (sp)
    amoor.w sp, a4, (a2)
    amoor.w zero, zero, (a1)
    amoor.w zero, sp, (zero)
    amomin.w t0, sp, (a5)
    amomin.w a1, sp, (zero)
    amomin.w s1, t6, (s7)
    amomax.w s1, s6, (s0)
    amomax.w sp, a7, (sp)
    amomax.w a3, a1, (ra)
    amominu.w zero, tp, (sp)
    amominu.w zero, a5, (a1)
    amominu.w sp, s6, (zero)
    amomaxu.w s1, s0, (s3)
    amomaxu.w sp, a6, (zero)
    amomaxu.w a5, zero, (s0)
    lr.w.aq sp, (s0)
    lr.w.aq s8, (sp)
    lr.w.aq a4, (sp)
    sc.w.aq s0, zero, (zero)
    sc.w.aq a1, sp, (sp)
    sc.w.aq sp, t4, (s0)
    amoswap.w.aq t5, sp, (a2)
    amoswap.w.aq zero, a4, (a2)
    amoswap.w.aq sp, s0, (sp)
    amoadd.w.aq zero, a2, (a0)
    amoadd.w.aq a1, sp, (a1)
    amoadd.w.aq a2, zero, (sp)
    amoxor.w.aq s2, zero, (a2)
    amoxor.w.aq a1, a0, (s6)
    amoxor.w.aq a3, s4, (zero)
    amoand.w.aq s0, ra, (a0)
    amoand.w.aq sp, ra, (a2)
    amoand.w.aq zero, t1, (sp)
    amoor.w.aq zero, a7, (a4)
    amoor.w.aq a1, a4, (zero)
    amoor.w.aq sp, zero, (zero)
    amomin.w.aq s4, sp, (a5)
    amomin.w.aq s1, zero, (s0)
    amomin.w.aq zero, t4, (sp)
    amomax.w.aq sp, zero, (sp)
    amomax.w.aq sp, a0, (zero)
    amomax.w.aq s1, zero, (a2)
    amominu.w.aq zero, a4, (sp)
    amominu.w.aq sp, sp, (zero)
    amominu.w.aq sp, sp, (sp)
    amomaxu.w.aq sp, s0, (zero)
    amomaxu.w.aq zero, s1, (sp)
    amomaxu.w.aq a0, zero, (zero)
    lr.w.rl zero, (zero)
    lr.w.rl sp, (zero)
    lr.w.rl sp, (zero)
    sc.w.rl s8, zero, (sp)
    sc.w.rl zero, sp, (sp)
    sc.w.rl a3, sp, (sp)
    amoswap.w.rl zero, t4, (s6)
    amoswap.w.rl tp, zero, (zero)
    amoswap.w.rl zero, s1, (sp)
    amoadd.w.rl a2, sp, (sp)
    amoadd.w.rl zero, a1, (zero)
    amoadd.w.rl sp, zero, (t1)
    amoxor.w.rl zero, a0, (s1)
    amoxor.w.rl a0, s1, (zero)
    amoxor.w.rl sp, sp, (a7)
    amoand.w.rl a7, zero, (s8)
    amoand.w.rl a4, s0, (a5)
    amoand.w.rl sp, sp, (zero)
    amoor.w.rl zero, sp, (s9)
    amoor.w.rl s1, zero, (sp)
    amoor.w.rl s9, sp, (s9)
    amomin.w.rl a3, zero, (a3)
    amomin.w.rl sp, a3, (a5)
    amomin.w.rl a2, a5, (sp)
    amomax.w.rl zero, zero, (zero)
    amomax.w.rl zero, zero, (a3)
    amomax.w.rl zero, sp, (zero)
    amominu.w.rl sp, a2, (a2)
    amominu.w.rl tp, a2, (sp)
    amominu.w.rl a5, a7, (zero)
    amomaxu.w.rl a5, s9, (a1)
    amomaxu.w.rl a7, s0, (sp)
    amomaxu.w.rl s1, a0, (zero)
    lr.w.aqrl s6, (s2)
    lr.w.aqrl a5, (sp)
    lr.w.aqrl zero, (a4)
    sc.w.aqrl zero, s5, (a4)
    sc.w.aqrl t6, a0, (a2)
    sc.w.aqrl sp, s6, (a2)
    amoswap.w.aqrl zero, a5, (sp)
    amoswap.w.aqrl a0, a5, (a0)
    amoswap.w.aqrl a4, t2, (a5)
    amoadd.w.aqrl sp, s3, (s3)
    amoadd.w.aqrl zero, sp, (a0)
    amoadd.w.aqrl zero, sp, (zero)
    amoxor.w.aqrl sp, zero, (a2)
    amoxor.w.aqrl t0, a4, (a3)
    amoxor.w.aqrl sp, a4, (a3)
    amoand.w.aqrl sp, a6, (zero)
    amoand.w.aqrl zero, a5, (s1)
    amoand.w.aqrl a0, t3, (zero)
    amoor.w.aqrl sp, zero, (s1)
    amoor.w.aqrl sp, tp, (zero)
    amoor.w.aqrl zero, zero, (zero)
    amomin.w.aqrl zero, sp, (sp)
    amomin.w.aqrl sp, s0, (a4)
    amomin.w.aqrl zero, zero, (s9)
    amomax.w.aqrl a0, sp, (sp)
    amomax.w.aqrl zero, a4, (zero)
    amomax.w.aqrl s0, a4, (a2)
    amominu.w.aqrl s0, s9, (s7)
    amominu.w.aqrl sp, zero, (t0)
    amominu.w.aqrl sp, sp, (sp)
    amomaxu.w.aqrl s6, sp, (s4)
    amomaxu.w.aqrl sp, a2, (t3)
    amomaxu.w.aqrl t6, a0, (a4)
    lr.d zero, (sp)
    lr.d zero, (sp)
    lr.d zero, (zero)
    sc.d sp, sp, (s0)
    sc.d zero, zero, (s6)
    sc.d sp, s0, (s0)
    amoswap.d zero, sp, (s6)
    amoswap.d zero, sp, (a5)
    amoswap.d sp, zero, (sp)
    amoadd.d sp, sp, (a0)
    amoadd.d zero, sp, (s1)
    amoadd.d sp, s1, (sp)
    amoxor.d sp, zero, (sp)
    amoxor.d s0, a7, (zero)
    amoxor.d sp, a1, (gp)
    amoand.d sp, s0, (sp)
    amoand.d sp, zero, (a3)
    amoand.d gp, zero, (zero)
    amoor.d sp, zero, (s5)
    amoor.d a0, sp, (sp)
    amoor.d a3, a6, (sp)
    amomin.d a2, zero, (a3)
    amomin.d a4, ra, (a1)
    amomin.d a3, a1, (zero)
    amomax.d sp, a5, (s4)
    amomax.d zero, s0, (zero)
    amomax.d sp, zero, (sp)
    amominu.d zero, zero, (zero)
    amominu.d sp, sp, (a5)
    amominu.d zero, s0, (zero)
    amomaxu.d a4, s3, (s0)
    amomaxu.d sp, zero, (zero)
    amomaxu.d sp, a1, (s0)
    lr.d.aq a4, (sp)
    lr.d.aq tp, (zero)
    lr.d.aq a0, (sp)
    sc.d.aq sp, a3, (a7)
    sc.d.aq a6, sp, (sp)
    sc.d.aq zero, sp, (zero)
    amoswap.d.aq zero, zero, (a4)
    amoswap.d.aq sp, a1, (t2)
    amoswap.d.aq sp, zero, (zero)
    amoadd.d.aq a4, s8, (sp)
    amoadd.d.aq sp, sp, (a1)
    amoadd.d.aq a3, a3, (zero)
    amoxor.d.aq sp, zero, (a4)
    amoxor.d.aq a6, sp, (sp)
    amoxor.d.aq zero, zero, (a1)
    amoand.d.aq zero, sp, (s8)
    amoand.d.aq sp, sp, (sp)
    amoand.d.aq zero, t0, (zero)
    amoor.d.aq s2, sp, (zero)
    amoor.d.aq sp, a4, (a2)
    amoor.d.aq a3, zero, (zero)
    amomin.d.aq zero, zero, (t5)
    amomin.d.aq zero, s0, (a2)
    amomin.d.aq zero, t4, (a4)
    amomax.d.aq t1, a3, (zero)
    amomax.d.aq a4, s0, (a3)
    amomax.d.aq sp, sp, (sp)
    amominu.d.aq s9, a2, (sp)
    amominu.d.aq a1, sp, (a5)
    amominu.d.aq a3, sp, (zero)
    amomaxu.d.aq sp, sp, (zero)
    amomaxu.d.aq a5, s0, (s11)
    amomaxu.d.aq zero, s0, (sp)
    lr.d.rl a0, (zero)
    lr.d.rl t1, (a4)
    lr.d.rl zero, (s0)
    sc.d.rl zero, sp, (sp)
    sc.d.rl a1, a4, (a4)
    sc.d.rl s2, a5, (sp)
    amoswap.d.rl s9, s1, (zero)
    amoswap.d.rl zero, zero, (a7)
    amoswap.d.rl zero, sp, (sp)
    amoadd.d.rl a1, s0, (zero)
    amoadd.d.rl sp, s7, (zero)
    amoadd.d.rl s1, s9, (sp)
    amoxor.d.rl zero, sp, (a3)
    amoxor.d.rl t0, a2, (a6)
    amoxor.d.rl s1, t6, (a5)
    amoand.d.rl sp, sp, (a1)
    amoand.d.rl a5, zero, (a1)
    amoand.d.rl a0, zero, (sp)
    amoor.d.rl s1, a4, (sp)
    amoor.d.rl s0, sp, (a5)
    amoor.d.rl zero, s10, (a0)
    amomin.d.rl a3, a1, (s5)
    amomin.d.rl zero, s5, (sp)
    amomin.d.rl sp, zero, (sp)
    amomax.d.rl a5, sp, (sp)
    amomax.d.rl a1, zero, (zero)
    amomax.d.rl zero, sp, (s11)
    amominu.d.rl s3, zero, (zero)
    amominu.d.rl a3, zero, (sp)
    amominu.d.rl sp, zero, (s1)
    amomaxu.d.rl a4, sp, (a3)
    amomaxu.d.rl zero, sp, (zero)
    amomaxu.d.rl s0, zero, (a6)
    lr.d.aqrl sp, (sp)
    lr.d.aqrl sp, (zero)
    lr.d.aqrl zero, (s7)
    sc.d.aqrl zero, zero, (zero)
    sc.d.aqrl sp, s1, (sp)
    sc.d.aqrl a5, s10, (sp)
    amoswap.d.aqrl a3, sp, (s0)
    amoswap.d.aqrl a2, sp, (a3)
    amoswap.d.aqrl zero, zero, (sp)
    amoadd.d.aqrl sp, sp, (zero)
    amoadd.d.aqrl sp, sp, (t5)
    amoadd.d.aqrl sp, s9, (a6)
    amoxor.d.aqrl sp, a2, (zero)
    amoxor.d.aqrl a2, zero, (zero)
    amoxor.d.aqrl sp, a0, (a2)
    amoand.d.aqrl a3, s10, (zero)
    amoand.d.aqrl a2, a1, (t2)
    amoand.d.aqrl a2, s8, (a1)
    amoor.d.aqrl sp, t0, (sp)
    amoor.d.aqrl zero, sp, (gp)
    amoor.d.aqrl sp, sp, (a3)
    amomin.d.aqrl sp, a1, (zero)
    amomin.d.aqrl sp, zero, (a4)
    amomin.d.aqrl sp, zero, (zero)
    amomax.d.aqrl sp, zero, (a2)
    amomax.d.aqrl zero, sp, (a2)
    amomax.d.aqrl sp, a3, (a3)
    amominu.d.aqrl sp, s0, (s6)
    amominu.d.aqrl sp, sp, (t5)
    amominu.d.aqrl zero, sp, (sp)
    amomaxu.d.aqrl s0, zero, (a4)
    amomaxu.d.aqrl s0, a3, (zero)
    amomaxu.d.aqrl sp, zero, (t6)
    sret
    sret
    sret
    mret
    mret
    mret
    wfi
    wfi
    wfi
    sfence.vma sp, s8
    sfence.vma zero, t4
    sfence.vma a5, zero
    hfence.vvma t5, t6
    hfence.vvma a5, s9
    hfence.vvma s1, zero
    hfence.gvma a4, zero
    hfence.gvma s0, zero
    hfence.gvma s1, sp
    hlv.b t1, (tp)
    hlv.b sp, (t4)
    hlv.b s0, (t4)
    hlv.bu a3, (t0)
    hlv.bu t0, (sp)
    hlv.bu sp, (sp)
    hlv.h a2, (tp)
    hlv.h zero, (s10)
    hlv.h ra, (s0)
    hlv.hu zero, (sp)
    hlv.hu s3, (s4)
    hlv.hu a5, (sp)
    hlvx.hu zero, (a3)
    hlvx.hu s6, (a5)
    hlvx.hu a0, (sp)
    hlv.w s7, (a0)
    hlv.w zero, (a1)
    hlv.w sp, (s1)
    hlv.wu sp, (sp)
    hlv.wu a6, (a2)
    hlv.wu zero, (s3)
    hlvx.wu tp, (s1)
    hlvx.wu sp, (t3)
    hlvx.wu zero, (zero)
    hlv.d sp, (s4)
    hlv.d s8, (sp)
    hlv.d s0, (s1)
    hsv.b a2, (zero)
    hsv.b zero, (s1)
    hsv.b sp, (a2)
    hsv.h a3, (sp)
    hsv.h a3, (a1)
    hsv.h s2, (a1)
    hsv.w a3, (t5)
    hsv.w zero, (sp)
    hsv.w zero, (t6)
    hsv.d t4, (zero)
    hsv.d a0, (s11)
    hsv.d t2, (zero)
    .option rvc
    lui sp, 0x0
    lui zero, 0xfffff
    lui s8, 0x0
    auipc a1, 0x0
    auipc a3, 0xfffff
    auipc zero, 0x0
1:  jal sp, 1b
    jal sp, 1b
    jal zero, 1b
    jalr a1, -2048(zero)
    jalr a3, 2047(sp)
    jalr a1, 0(a5)
    beq zero, sp, 1f
    beq zero, ra, 1f
    beq t5, zero, 1f
1:
    bne zero, zero, 1f
    bne a4, sp, 1f
    bne a3, s0, 1f
1:
    blt zero, a2, 1f
    blt a4, sp, 1f
    blt zero, zero, 1f
1:
    bge a1, a7, 1f
    bge s11, sp, 1f
    bge s0, s8, 1f
1:
    bltu sp, a2, 1f
    bltu sp, sp, 1f
    bltu zero, a3, 1f
1:
    bgeu a3, a3, 1f
    bgeu zero, a0, 1f
    bgeu zero, a0, 1f
1:
    lb a7, -2048(s9)
    lb sp, 2047(sp)
    lb a1, 0(s9)
    lh a1, -2048(sp)
    lh zero, 2047(zero)
    lh a7, 0(s1)
    lw a0, -2048(a6)
    lw ra, 2047(zero)
    lw sp, 0(zero)
    ld a6, -2048(sp)
    ld t0, 2047(sp)
    ld a0, 0(zero)
    lbu s0, -2048(tp)
    lbu a0, 2047(t4)
    lbu a4, 0(a2)
    lhu sp, -2048(s5)
    lhu s0, 2047(a5)
    lhu sp, 0(s0)
    lwu sp, -2048(sp)
    lwu gp, 2047(a3)
    lwu a0, 0(sp)
    sb zero, -2048(tp)
    sb zero, 2047(zero)
    sb zero, 0(t3)
    sh t1, -2048(s0)
    sh tp, 2047(zero)
    sh zero, 0(sp)
    sw s0, -2048(a4)
    sw zero, 2047(s5)
    sw a5, 0(zero)
    sd sp, -2048(a1)
    sd a2, 2047(sp)
    sd sp, 0(a3)
    addi s10, a4, -2048
    addi sp, sp, 2047
    addi sp, sp, 0
    slti zero, s0, -2048
    slti sp, sp, 2047
    slti a5, sp, 0
    sltiu sp, a5, -2048
    sltiu s7, sp, 2047
    sltiu sp, zero, 0
    xori zero, zero, -2048
    xori sp, s3, 2047
    xori zero, a1, 0
    ori s7, zero, -2048
    ori s0, sp, 2047
    ori s0, a4, 0
    andi a4, sp, -2048
    andi s0, a0, 2047
    andi t2, gp, 0
    slli a0, zero, 0
    slli sp, zero, 63
    slli t4, a3, 0
    srli a1, a0, 0
    srli sp, zero, 63
    srli t3, sp, 0
    srai sp, a1, 0
    srai sp, sp, 63
    srai a3, sp, 0
    add zero, zero, zero
    add a5, a0, s6
    add sp, sp, zero
    sub zero, zero, s3
    sub zero, sp, a4
    sub s1, zero, sp
    sll sp, s4, zero
    sll sp, sp, sp
    sll a5, s8, a2
    slt sp, a4, s11
    slt t1, a4, zero
    slt s1, s0, s0
    sltu t2, s4, t4
    sltu sp, a2, zero
    sltu zero, a4, a0
    xor s1, zero, zero
    xor zero, s0, zero
    xor a0, a4, sp
    srl sp, sp, sp
    srl sp, sp, t0
    srl s1, zero, s1
    sra sp, zero, zero
    sra s7, a2, sp
    sra zero, sp, s9
    or sp, sp, sp
    or zero, ra, zero
    or sp, a0, sp
    and a0, a5, a6
    and sp, zero, zero
    and t5, zero, sp
    addiw sp, a0, -2048
    addiw sp, zero, 2047
    addiw a0, s7, 0
    slliw sp, sp, 0
    slliw zero, zero, 31
    slliw a5, a3, 0
    srliw a2, tp, 0
    srliw tp, sp, 31
    srliw sp, gp, 0
    sraiw zero, s6, 0
    sraiw a1, sp, 31
    sraiw s8, tp, 0
    addw sp, ra, a4
    addw a3, sp, a0
    addw s1, sp, zero
    subw t4, a4, s0
    subw s6, zero, s5
    subw zero, s0, sp
    sllw t0, zero, zero
    sllw a0, sp, a4
    sllw sp, sp, sp
    srlw zero, a1, zero
    srlw zero, zero, zero
    srlw sp, sp, s5
    sraw zero, tp, s0
    sraw zero, a2, zero
    sraw zero, s0, a4
    fence iorw, iorw
    fence iorw, iorw
    fence iorw, iorw
    fence.tso
    fence.tso
    fence.tso
    ecall
    ecall
    ecall
    ebreak
    ebreak
    ebreak
    fence.i
    fence.i
    fence.i
    csrrw s0, 0x0, sp
    csrrw a2, 0xfff, t3
    csrrw zero, 0x0, s1
    csrrs t2, 0x0, zero
    csrrs sp, 0xfff, sp
    csrrs sp, 0x0, a3
    csrrc a7, 0x0, s11
    csrrc s2, 0xfff, a5
    csrrc sp, 0x0, zero
    csrrwi zero, 0x0, 0
    csrrwi t4, 0xfff, 31
    csrrwi sp, 0x0, 0
    csrrsi sp, 0x0, 0
    csrrsi sp, 0xfff, 31
    csrrsi s5, 0x0, 0
    csrrci a3, 0x0, 0
    csrrci sp, 0xfff, 31
    csrrci a4, 0x0, 0
    mul sp, s0, s0
    mul zero, sp, sp
    mul sp, zero, a1
    mulh sp, s5, a2
    mulh a4, a1, t5
    mulh sp, s1, sp
    mulhsu s10, sp, zero
    mulhsu a3, sp, zero
    mulhsu t4, a5, zero
    mulhu sp, sp, t4
    mulhu tp, a1, zero
    mulhu sp, zero, sp
    div zero, sp, sp
    div sp, s0, zero
    div a3, s0, sp
    divu a2, a5, s7
    divu sp, zero, a1
    divu a0, a0, a2
    rem s1, sp, zero
    rem sp, a5, gp
    rem sp, tp, zero
    remu a5, sp, s0
    remu s5, tp, sp
    remu a7, sp, sp
    mulw a4, zero, zero
    mulw sp, a1, s3
    mulw s1, zero, s6
    divw a4, zero, a0
    divw zero, a1, sp
    divw a7, zero, zero
    divuw sp, a0, zero
    divuw zero, s1, a0
    divuw zero, a2, a0
    remw a5, t3, zero
    remw zero, a2, sp
    remw t1, a2, a6
    remuw a1, sp, sp
    remuw sp, zero, a3
    remuw s1, sp, zero
    lr.w a1, (sp)
    lr.w zero, (zero)
    lr.w zero, (a2)
    sc.w a4, zero, (a5)
    sc.w s7, zero, (zero)
    sc.w zero, zero, (zero)
    amoswap.w sp, a4, (s0)
    amoswap.w sp, s3, (sp)
    amoswap.w a3, s9, (sp)
    amoadd.w zero, a4, (sp)
    amoadd.w zero, a7, (a2)
    amoadd.w zero, a3, (a4)
    amoxor.w a7, ra, (sp)
    amoxor.w t3, sp, (sp)
    amoxor.w s0, s0, (a4)
    amoand.w s1, zero, (sp)
    amoand.w zero, s3, (t1)
    amoand.w zero, zero, (zero)
    amoor.w sp, zero, (sp)
    amoor.w sp, a3, (a2)
    amoor.w sp, a0, (sp)
    amomin.w sp, zero, (sp)
    amomin.w zero, s0, (zero)
    amomin.w sp, zero, (a4)
    amomax.w s5, t0, (sp)
    amomax.w sp, a3, (a1)
    amomax.w zero, s1, (sp)
    amominu.w s2, zero, (a4)
    amominu.w s8, t3, (zero)
    amominu.w a6, zero, (zero)
    amomaxu.w s2, s7, (a5)
    amomaxu.w zero, zero, (a0)
    amomaxu.w a4, s2, (s7)
    lr.w.aq sp, (zero)
    lr.w.aq zero, (s1)
    lr.w.aq a1, (a0)
    sc.w.aq a3, zero, (sp)
    sc.w.aq a1, tp, (zero)
    sc.w.aq a4, zero, (sp)
    amoswap.w.aq zero, sp, (a4)
    amoswap.w.aq a4, ra, (zero)
    amoswap.w.aq zero, zero, (a6)
    amoadd.w.aq t6, zero, (zero)
    amoadd.w.aq zero, zero, (zero)
    amoadd.w.aq zero, sp, (sp)
    amoxor.w.aq a5, a5, (t5)
    amoxor.w.aq s0, s0, (sp)
    amoxor.w.aq a4, s4, (zero)
    amoand.w.aq zero, sp, (zero)
    amoand.w.aq s1, zero, (s4)
    amoand.w.aq a4, s3, (zero)
    amoor.w.aq a1, s3, (gp)
    amoor.w.aq sp, sp, (zero)
    amoor.w.aq a2, a3, (a5)
    amomin.w.aq a2, s3, (a5)
    amomin.w.aq t3, a4, (a0)
    amomin.w.aq zero, a0, (zero)
    amomax.w.aq t3, a3, (sp)
    amomax.w.aq a3, sp, (sp)
    amomax.w.aq zero, sp, (sp)
    amominu.w.aq s8, zero, (zero)
    amominu.w.aq a6, zero, (zero)
    amominu.w.aq zero, zero, (zero)
    amomaxu.w.aq sp, sp, (a0)
    amomaxu.w.aq zero, zero, (zero)
    amomaxu.w.aq zero, a2, (zero)
    lr.w.rl sp, (sp)
    lr.w.rl s1, (tp)
    lr.w.rl sp, (a0)
    sc.w.rl sp, zero, (zero)
    sc.w.rl s0, sp, (a1)
    sc.w.rl zero, s10, (a0)
    amoswap.w.rl a4, s3, (zero)
    amoswap.w.rl a4, sp, (sp)
    amoswap.w.rl a5, zero, (zero)
    amoadd.w.rl zero, sp, (a2)
    amoadd.w.rl zero, a4, (zero)
    amoadd.w.rl zero, sp, (zero)
    amoxor.w.rl s6, zero, (a5)
    amoxor.w.rl zero, a5, (s4)
    amoxor.w.rl a2, sp, (a0)
    amoand.w.rl sp, sp, (a1)
    amoand.w.rl sp, a3, (sp)
    amoand.w.rl zero, sp, (sp)
    amoor.w.rl a3, sp, (sp)
    amoor.w.rl a2, a3, (s7)
    amoor.w.rl sp, zero, (s3)
    amomin.w.rl sp, zero, (a0)
    amomin.w.rl s1, a5, (a1)
    amomin.w.rl zero, s0, (zero)
    amomax.w.rl sp, sp, (zero)
    amomax.w.rl s1, a4, (sp)
    amomax.w.rl zero, a4, (zero)
    amominu.w.rl a1, a5, (a3)
    amominu.w.rl sp, zero, (sp)
    amominu.w.rl zero, sp, (zero)
    amomaxu.w.rl s1, a4, (tp)
    amomaxu.w.rl zero, sp, (sp)
    amomaxu.w.rl a2, a1, (a5)
    lr.w.aqrl zero, (s10)
    lr.w.aqrl s11, (t1)
    lr.w.aqrl zero, (a0)
    sc.w.aqrl zero, a7, (zero)
    sc.w.aqrl s1, a3, (a3)
    sc.w.aqrl s4, a4, (zero)
    amoswap.w.aqrl zero, a1, (a5)
    amoswap.w.aqrl a3, s1, (t3)
    amoswap.w.aqrl s5, zero, (s0)
    amoadd.w.aqrl zero, a4, (a4)
    amoadd.w.aqrl sp, zero, (ra)
    amoadd.w.aqrl zero, sp, (sp)
    amoxor.w.aqrl sp, t4, (zero)
    amoxor.w.aqrl zero, s1, (a1)
    amoxor.w.aqrl a5, a4, (zero)
    amoand.w.aqrl s0, a4, (zero)
    amoand.w.aqrl sp, a5, (sp)
    amoand.w.aqrl sp, sp, (sp)
    amoor.w.aqrl a1, sp, (zero)
    amoor.w.aqrl sp, a1, (a5)
    amoor.w.aqrl a3, zero, (a4)
    amomin.w.aqrl zero, sp, (sp)
    amomin.w.aqrl sp, a1, (sp)
    amomin.w.aqrl a4, tp, (sp)
    amomax.w.aqrl a3, sp, (gp)
    amomax.w.aqrl sp, a4, (sp)
    amomax.w.aqrl sp, zero, (s6)
    amominu.w.aqrl sp, a7, (a4)
    amominu.w.aqrl a3, sp, (sp)
    amominu.w.aqrl s1, sp, (zero)
    amomaxu.w.aqrl t4, s7, (s4)
    amomaxu.w.aqrl a0, s3, (a4)
    amomaxu.w.aqrl a3, a5, (a4)
    lr.d zero, (a3)
    lr.d s9, (s5)
    lr.d t2, (sp)
    sc.d s10, zero, (a6)
    sc.d s1, sp, (zero)
    sc.d sp, sp, (zero)
    amoswap.d zero, a7, (s1)
    amoswap.d s11, zero, (a0)
    amoswap.d zero, zero, (s0)
    amoadd.d a4, zero, (s0)
    amoadd.d zero, zero, (a5)
    amoadd.d zero, sp, (sp)
    amoxor.d ra, t2, (sp)
    amoxor.d zero, zero, (zero)
    amoxor.d a3, sp, (a4)
    amoand.d a1, a4, (sp)
    amoand.d zero, sp, (zero)
    amoand.d zero, zero, (s4)
    amoor.d a0, a7, (sp)
    amoor.d s6, sp, (a0)
    amoor.d zero, s4, (a3)
    amomin.d sp, a6, (a6)
    amomin.d s8, s6, (s2)
    amomin.d s7, a5, (sp)
    amomax.d s1, zero, (sp)
    amomax.d sp, s10, (s0)
    amomax.d a3, sp, (s11)
    amominu.d a0, a5, (sp)
    amominu.d s4, a2, (zero)
    amominu.d s1, a1, (t1)
    amomaxu.d sp, zero, (sp)
    amomaxu.d a5, zero, (t6)
    amomaxu.d a3, zero, (a4)
    lr.d.aq a5, (t4)
    lr.d.aq sp, (a1)
    lr.d.aq zero, (a0)
    sc.d.aq sp, sp, (a5)
    sc.d.aq t4, s9, (s11)
    sc.d.aq sp, a3, (sp)
    amoswap.d.aq s0, s4, (s3)
    amoswap.d.aq zero, t3, (t3)
    amoswap.d.aq sp, a7, (sp)
    amoadd.d.aq ra, zero, (t2)
    amoadd.d.aq t2, s1, (s9)
    amoadd.d.aq zero, a0, (a1)
    amoxor.d.aq sp, sp, (zero)
    amoxor.d.aq a2, zero, (a5)
    amoxor.d.aq sp, zero, (s8)
    amoand.d.aq sp, t2, (s0)
    amoand.d.aq a0, a4, (a3)
    amoand.d.aq a5, zero, (a2)
    amoor.d.aq sp, s0, (s1)
    amoor.d.aq s0, t6, (zero)
    amoor.d.aq a3, sp, (sp)
    amomin.d.aq sp, sp, (s0)
    amomin.d.aq zero, a5, (t2)
    amomin.d.aq a3, a2, (sp)
    amomax.d.aq s1, t3, (sp)
    amomax.d.aq zero, a4, (zero)
    amomax.d.aq a4, sp, (a0)
    amominu.d.aq a0, a0, (zero)
    amominu.d.aq s6, a4, (ra)
    amominu.d.aq a3, sp, (a4)
    amomaxu.d.aq a2, zero, (zero)
    amomaxu.d.aq t5, zero, (zero)
    amomaxu.d.aq a6, sp, (a5)
    lr.d.rl s3, (t6)
    lr.d.rl zero, (zero)
    lr.d.rl zero, (s0)
    sc.d.rl sp, sp, (zero)
    sc.d.rl a0, a3, (zero)
    sc.d.rl s0, a5, (sp)
    amoswap.d.rl zero, sp, (a2)
    amoswap.d.rl sp, a1, (a3)
    amoswap.d.rl s10, sp, (zero)
    amoadd.d.rl sp, zero, (s0)
    amoadd.d.rl a5, sp, (t4)
    amoadd.d.rl a2, sp, (a2)
    amoxor.d.rl zero, s0, (sp)
    amoxor.d.rl s3, s4, (sp)
    amoxor.d.rl sp, a0, (a5)
    amoand.d.rl zero, a4, (sp)
    amoand.d.rl zero, t1, (a0)
    amoand.d.rl a1, gp, (sp)
    amoor.d.rl s0, zero, (sp)
    amoor.d.rl zero, t1, (a5)
    amoor.d.rl s5, zero, (a1)
    amomin.d.rl s0, zero, (sp)
    amomin.d.rl a3, s5, (zero)
    amomin.d.rl sp, a4, (sp)
    amomax.d.rl zero, s6, (zero)
    amomax.d.rl zero, zero, (sp)
    amomax.d.rl s0, sp, (t6)
    amominu.d.rl sp, s0, (a5)
    amominu.d.rl sp, sp, (a5)
    amominu.d.rl sp, sp, (zero)
    amomaxu.d.rl s7, t4, (a3)
    amomaxu.d.rl zero, s10, (s6)
    amomaxu.d.rl zero, sp, (s6)
    lr.d.aqrl sp, (a5)
    lr.d.aqrl sp, (s8)
    lr.d.aqrl zero, (ra)
    sc.d.aqrl s6, a0, (zero)
    sc.d.aqrl a0, s6, (tp)
    sc.d.aqrl sp, s1, (a3)
    amoswap.d.aqrl sp, sp, (zero)
    amoswap.d.aqrl sp, sp, (a2)
    amoswap.d.aqrl sp, zero, (zero)
    amoadd.d.aqrl sp, t1, (sp)
    amoadd.d.aqrl zero, a3, (sp)
    amoadd.d.aqrl zero, zero, (zero)
    amoxor.d.aqrl sp, zero, (zero)
    amoxor.d.aqrl sp, sp, (sp)
    amoxor.d.aqrl sp, zero, (sp)
    amoand.d.aqrl tp, a2, (gp)
    amoand.d.aqrl a2, sp, (s2)
    amoand.d.aqrl sp, s0, (zero)
    amoor.d.aqrl sp, a3, (zero)
    amoor.d.aqrl sp, s0, (sp)
    amoor.d.aqrl sp, a3, (sp)
    amomin.d.aqrl zero, zero, (gp)
    amomin.d.aqrl t4, zero, (s1)
    amomin.d.aqrl sp, a0, (zero)
    amomax.d.aqrl s11, s10, (zero)
    amomax.d.aqrl zero, zero, (s0)
    amomax.d.aqrl a3, sp, (sp)
    amominu.d.aqrl sp, zero, (sp)
    amominu.d.aqrl sp, s11, (zero)
    amominu.d.aqrl a3, a3, (a1)
    amomaxu.d.aqrl sp, zero, (s11)
    amomaxu.d.aqrl sp, t2, (sp)
    amomaxu.d.aqrl sp, a1, (sp)
    sret
    sret
    sret
    mret
    mret
    mret
    wfi
    wfi
    wfi
    sfence.vma zero, a0
    sfence.vma sp, a4
    sfence.vma zero, a7
    hfence.vvma sp, a7
    hfence.vvma sp, s1
    hfence.vvma zero, a2
    hfence.gvma a1, s0
    hfence.gvma t6, zero
    hfence.gvma sp, s8
    hlv.b zero, (gp)
    hlv.b s0, (s0)
    hlv.b zero, (zero)
    hlv.bu s0, (s1)
    hlv.bu t2, (t4)
    hlv.bu zero, (zero)
    hlv.h s2, (a3)
    hlv.h a6, (sp)
    hlv.h zero, (zero)
    hlv.hu a3, (a5)
    hlv.hu s0, (s1)
    hlv.hu s7, (zero)
    hlvx.hu zero, (zero)
    hlvx.hu sp, (s7)
    hlvx.hu zero, (a5)
    hlv.w a0, (zero)
    hlv.w zero, (zero)
    hlv.w zero, (sp)
    hlv.wu s0, (sp)
    hlv.wu a0, (sp)
    hlv.wu s1, (sp)
    hlvx.wu a2, (t3)
    hlvx.wu t2, (a2)
    hlvx.wu a4, (t0)
    hlv.d sp, (sp)
    hlv.d sp, (s1)
    hlv.d a5, (sp)
    hsv.b a0, (tp)
    hsv.b sp, (s1)
    hsv.b s6, (sp)
    hsv.h zero, (zero)
    hsv.h a1, (sp)
    hsv.h a1, (sp)
    hsv.w sp, (sp)
    hsv.w zero, (a0)
    hsv.w s0, (sp)
    hsv.d zero, (sp)
    hsv.d a5, (zero)
    hsv.d sp, (a7)
1:  nop

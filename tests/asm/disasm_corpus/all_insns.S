# Disassembler corpus: every RV64IMAC/Zicsr/Zifencei/privileged/H instruction,
# every compressed form, aliases, HINTs, extreme and negative immediates, and the
# lui/auipc/gp/tp/zero-based sequences objdump annotates with '# address'.
# Assembled by GNU as in tests/asm/test_disasm_objdump.py and compared with objdump -d.
# (generated once from pyvmm.isa's tables, then extended by hand)

    .text
    .globl _start
_start:
    .option norvc
    lui a0,0x0
    lui a0,0x12345
    lui ra,0xfffff
    lui s0,0x80000
    lui zero,0x0
    lui zero,0x1
    auipc a0,0x0
    auipc a0,0x12345
    auipc ra,0xfffff
    auipc s0,0x80000
    auipc zero,0x0
    auipc zero,0x1
    jal a0,.+4
    jal ra,.+1048574
    jal s0,.-1048576
    jal zero,.-4
    jalr a0,-2048(a1)
    jalr a0,0(a1)
    jalr ra,-1(sp)
    jalr s0,2047(a5)
    jalr zero,1(zero)
    jalr zero,837(zero)
    beq a1,a2,.+8
    beq a5,s1,.-4096
    beq sp,t6,.+4094
    beq zero,zero,.-16
    bne a1,a2,.+8
    bne a5,s1,.-4096
    bne sp,t6,.+4094
    bne zero,zero,.-16
    blt a1,a2,.+8
    blt a5,s1,.-4096
    blt sp,t6,.+4094
    blt zero,zero,.-16
    bge a1,a2,.+8
    bge a5,s1,.-4096
    bge sp,t6,.+4094
    bge zero,zero,.-16
    bltu a1,a2,.+8
    bltu a5,s1,.-4096
    bltu sp,t6,.+4094
    bltu zero,zero,.-16
    bgeu a1,a2,.+8
    bgeu a5,s1,.-4096
    bgeu sp,t6,.+4094
    bgeu zero,zero,.-16
    lb a0,-2048(a1)
    lb a0,0(a1)
    lb ra,-1(sp)
    lb s0,2047(a5)
    lb zero,1(zero)
    lb zero,837(zero)
    lh a0,-2048(a1)
    lh a0,0(a1)
    lh ra,-1(sp)
    lh s0,2047(a5)
    lh zero,1(zero)
    lh zero,837(zero)
    lw a0,-2048(a1)
    lw a0,0(a1)
    lw ra,-1(sp)
    lw s0,2047(a5)
    lw zero,1(zero)
    lw zero,837(zero)
    ld a0,-2048(a1)
    ld a0,0(a1)
    ld ra,-1(sp)
    ld s0,2047(a5)
    ld zero,1(zero)
    ld zero,837(zero)
    lbu a0,-2048(a1)
    lbu a0,0(a1)
    lbu ra,-1(sp)
    lbu s0,2047(a5)
    lbu zero,1(zero)
    lbu zero,837(zero)
    lhu a0,-2048(a1)
    lhu a0,0(a1)
    lhu ra,-1(sp)
    lhu s0,2047(a5)
    lhu zero,1(zero)
    lhu zero,837(zero)
    lwu a0,-2048(a1)
    lwu a0,0(a1)
    lwu ra,-1(sp)
    lwu s0,2047(a5)
    lwu zero,1(zero)
    lwu zero,837(zero)
    sb a2,0(a1)
    sb s1,-2048(a5)
    sb t6,2047(sp)
    sb zero,-8(zero)
    sh a2,0(a1)
    sh s1,-2048(a5)
    sh t6,2047(sp)
    sh zero,-8(zero)
    sw a2,0(a1)
    sw s1,-2048(a5)
    sw t6,2047(sp)
    sw zero,-8(zero)
    sd a2,0(a1)
    sd s1,-2048(a5)
    sd t6,2047(sp)
    sd zero,-8(zero)
    addi a0,a1,-2048
    addi a0,a1,0
    addi ra,sp,-1
    addi s0,a5,2047
    addi zero,zero,1
    addi zero,zero,837
    slti a0,a1,-2048
    slti a0,a1,0
    slti ra,sp,-1
    slti s0,a5,2047
    slti zero,zero,1
    slti zero,zero,837
    sltiu a0,a1,-2048
    sltiu a0,a1,0
    sltiu ra,sp,-1
    sltiu s0,a5,2047
    sltiu zero,zero,1
    sltiu zero,zero,837
    xori a0,a1,-2048
    xori a0,a1,0
    xori ra,sp,-1
    xori s0,a5,2047
    xori zero,zero,1
    xori zero,zero,837
    ori a0,a1,-2048
    ori a0,a1,0
    ori ra,sp,-1
    ori s0,a5,2047
    ori zero,zero,1
    ori zero,zero,837
    andi a0,a1,-2048
    andi a0,a1,0
    andi ra,sp,-1
    andi s0,a5,2047
    andi zero,zero,1
    andi zero,zero,837
    slli a0,a1,0
    slli ra,sp,31
    slli zero,zero,1
    srli a0,a1,0
    srli ra,sp,31
    srli zero,zero,1
    srai a0,a1,0
    srai ra,sp,31
    srai zero,zero,1
    add a0,a1,a2
    add ra,sp,t6
    add s0,a5,s1
    add zero,zero,zero
    sub a0,a1,a2
    sub ra,sp,t6
    sub s0,a5,s1
    sub zero,zero,zero
    sll a0,a1,a2
    sll ra,sp,t6
    sll s0,a5,s1
    sll zero,zero,zero
    slt a0,a1,a2
    slt ra,sp,t6
    slt s0,a5,s1
    slt zero,zero,zero
    sltu a0,a1,a2
    sltu ra,sp,t6
    sltu s0,a5,s1
    sltu zero,zero,zero
    xor a0,a1,a2
    xor ra,sp,t6
    xor s0,a5,s1
    xor zero,zero,zero
    srl a0,a1,a2
    srl ra,sp,t6
    srl s0,a5,s1
    srl zero,zero,zero
    sra a0,a1,a2
    sra ra,sp,t6
    sra s0,a5,s1
    sra zero,zero,zero
    or a0,a1,a2
    or ra,sp,t6
    or s0,a5,s1
    or zero,zero,zero
    and a0,a1,a2
    and ra,sp,t6
    and s0,a5,s1
    and zero,zero,zero
    addiw a0,a1,-2048
    addiw a0,a1,0
    addiw ra,sp,-1
    addiw s0,a5,2047
    addiw zero,zero,1
    addiw zero,zero,837
    slliw a0,a1,0
    slliw ra,sp,31
    slliw zero,zero,1
    srliw a0,a1,0
    srliw ra,sp,31
    srliw zero,zero,1
    sraiw a0,a1,0
    sraiw ra,sp,31
    sraiw zero,zero,1
    addw a0,a1,a2
    addw ra,sp,t6
    addw s0,a5,s1
    addw zero,zero,zero
    subw a0,a1,a2
    subw ra,sp,t6
    subw s0,a5,s1
    subw zero,zero,zero
    sllw a0,a1,a2
    sllw ra,sp,t6
    sllw s0,a5,s1
    sllw zero,zero,zero
    srlw a0,a1,a2
    srlw ra,sp,t6
    srlw s0,a5,s1
    srlw zero,zero,zero
    sraw a0,a1,a2
    sraw ra,sp,t6
    sraw s0,a5,s1
    sraw zero,zero,zero
    fence iorw,iorw
    fence rw,rw
    fence w,r
    fence.tso
    ecall
    ebreak
    fence.i
    csrrw a0,mstatus,a1
    csrrw ra,satp,sp
    csrrw zero,0x7c0,zero
    csrrs a0,mstatus,a1
    csrrs ra,satp,sp
    csrrs zero,0x7c0,zero
    csrrc a0,mstatus,a1
    csrrc ra,satp,sp
    csrrc zero,0x7c0,zero
    csrrwi a0,mstatus,0
    csrrwi ra,satp,5
    csrrwi zero,0x7c0,31
    csrrsi a0,mstatus,0
    csrrsi ra,satp,5
    csrrsi zero,0x7c0,31
    csrrci a0,mstatus,0
    csrrci ra,satp,5
    csrrci zero,0x7c0,31
    mul a0,a1,a2
    mul ra,sp,t6
    mul s0,a5,s1
    mul zero,zero,zero
    mulh a0,a1,a2
    mulh ra,sp,t6
    mulh s0,a5,s1
    mulh zero,zero,zero
    mulhsu a0,a1,a2
    mulhsu ra,sp,t6
    mulhsu s0,a5,s1
    mulhsu zero,zero,zero
    mulhu a0,a1,a2
    mulhu ra,sp,t6
    mulhu s0,a5,s1
    mulhu zero,zero,zero
    div a0,a1,a2
    div ra,sp,t6
    div s0,a5,s1
    div zero,zero,zero
    divu a0,a1,a2
    divu ra,sp,t6
    divu s0,a5,s1
    divu zero,zero,zero
    rem a0,a1,a2
    rem ra,sp,t6
    rem s0,a5,s1
    rem zero,zero,zero
    remu a0,a1,a2
    remu ra,sp,t6
    remu s0,a5,s1
    remu zero,zero,zero
    mulw a0,a1,a2
    mulw ra,sp,t6
    mulw s0,a5,s1
    mulw zero,zero,zero
    divw a0,a1,a2
    divw ra,sp,t6
    divw s0,a5,s1
    divw zero,zero,zero
    divuw a0,a1,a2
    divuw ra,sp,t6
    divuw s0,a5,s1
    divuw zero,zero,zero
    remw a0,a1,a2
    remw ra,sp,t6
    remw s0,a5,s1
    remw zero,zero,zero
    remuw a0,a1,a2
    remuw ra,sp,t6
    remuw s0,a5,s1
    remuw zero,zero,zero
    lr.w a0,(a1)
    lr.w ra,(sp)
    lr.w zero,(zero)
    sc.w a0,a2,(a1)
    sc.w ra,t6,(sp)
    sc.w zero,zero,(zero)
    amoswap.w a0,a2,(a1)
    amoswap.w ra,t6,(sp)
    amoswap.w zero,zero,(zero)
    amoadd.w a0,a2,(a1)
    amoadd.w ra,t6,(sp)
    amoadd.w zero,zero,(zero)
    amoxor.w a0,a2,(a1)
    amoxor.w ra,t6,(sp)
    amoxor.w zero,zero,(zero)
    amoand.w a0,a2,(a1)
    amoand.w ra,t6,(sp)
    amoand.w zero,zero,(zero)
    amoor.w a0,a2,(a1)
    amoor.w ra,t6,(sp)
    amoor.w zero,zero,(zero)
    amomin.w a0,a2,(a1)
    amomin.w ra,t6,(sp)
    amomin.w zero,zero,(zero)
    amomax.w a0,a2,(a1)
    amomax.w ra,t6,(sp)
    amomax.w zero,zero,(zero)
    amominu.w a0,a2,(a1)
    amominu.w ra,t6,(sp)
    amominu.w zero,zero,(zero)
    amomaxu.w a0,a2,(a1)
    amomaxu.w ra,t6,(sp)
    amomaxu.w zero,zero,(zero)
    lr.w.aq a0,(a1)
    lr.w.aq ra,(sp)
    lr.w.aq zero,(zero)
    sc.w.aq a0,a2,(a1)
    sc.w.aq ra,t6,(sp)
    sc.w.aq zero,zero,(zero)
    amoswap.w.aq a0,a2,(a1)
    amoswap.w.aq ra,t6,(sp)
    amoswap.w.aq zero,zero,(zero)
    amoadd.w.aq a0,a2,(a1)
    amoadd.w.aq ra,t6,(sp)
    amoadd.w.aq zero,zero,(zero)
    amoxor.w.aq a0,a2,(a1)
    amoxor.w.aq ra,t6,(sp)
    amoxor.w.aq zero,zero,(zero)
    amoand.w.aq a0,a2,(a1)
    amoand.w.aq ra,t6,(sp)
    amoand.w.aq zero,zero,(zero)
    amoor.w.aq a0,a2,(a1)
    amoor.w.aq ra,t6,(sp)
    amoor.w.aq zero,zero,(zero)
    amomin.w.aq a0,a2,(a1)
    amomin.w.aq ra,t6,(sp)
    amomin.w.aq zero,zero,(zero)
    amomax.w.aq a0,a2,(a1)
    amomax.w.aq ra,t6,(sp)
    amomax.w.aq zero,zero,(zero)
    amominu.w.aq a0,a2,(a1)
    amominu.w.aq ra,t6,(sp)
    amominu.w.aq zero,zero,(zero)
    amomaxu.w.aq a0,a2,(a1)
    amomaxu.w.aq ra,t6,(sp)
    amomaxu.w.aq zero,zero,(zero)
    lr.w.rl a0,(a1)
    lr.w.rl ra,(sp)
    lr.w.rl zero,(zero)
    sc.w.rl a0,a2,(a1)
    sc.w.rl ra,t6,(sp)
    sc.w.rl zero,zero,(zero)
    amoswap.w.rl a0,a2,(a1)
    amoswap.w.rl ra,t6,(sp)
    amoswap.w.rl zero,zero,(zero)
    amoadd.w.rl a0,a2,(a1)
    amoadd.w.rl ra,t6,(sp)
    amoadd.w.rl zero,zero,(zero)
    amoxor.w.rl a0,a2,(a1)
    amoxor.w.rl ra,t6,(sp)
    amoxor.w.rl zero,zero,(zero)
    amoand.w.rl a0,a2,(a1)
    amoand.w.rl ra,t6,(sp)
    amoand.w.rl zero,zero,(zero)
    amoor.w.rl a0,a2,(a1)
    amoor.w.rl ra,t6,(sp)
    amoor.w.rl zero,zero,(zero)
    amomin.w.rl a0,a2,(a1)
    amomin.w.rl ra,t6,(sp)
    amomin.w.rl zero,zero,(zero)
    amomax.w.rl a0,a2,(a1)
    amomax.w.rl ra,t6,(sp)
    amomax.w.rl zero,zero,(zero)
    amominu.w.rl a0,a2,(a1)
    amominu.w.rl ra,t6,(sp)
    amominu.w.rl zero,zero,(zero)
    amomaxu.w.rl a0,a2,(a1)
    amomaxu.w.rl ra,t6,(sp)
    amomaxu.w.rl zero,zero,(zero)
    lr.w.aqrl a0,(a1)
    lr.w.aqrl ra,(sp)
    lr.w.aqrl zero,(zero)
    sc.w.aqrl a0,a2,(a1)
    sc.w.aqrl ra,t6,(sp)
    sc.w.aqrl zero,zero,(zero)
    amoswap.w.aqrl a0,a2,(a1)
    amoswap.w.aqrl ra,t6,(sp)
    amoswap.w.aqrl zero,zero,(zero)
    amoadd.w.aqrl a0,a2,(a1)
    amoadd.w.aqrl ra,t6,(sp)
    amoadd.w.aqrl zero,zero,(zero)
    amoxor.w.aqrl a0,a2,(a1)
    amoxor.w.aqrl ra,t6,(sp)
    amoxor.w.aqrl zero,zero,(zero)
    amoand.w.aqrl a0,a2,(a1)
    amoand.w.aqrl ra,t6,(sp)
    amoand.w.aqrl zero,zero,(zero)
    amoor.w.aqrl a0,a2,(a1)
    amoor.w.aqrl ra,t6,(sp)
    amoor.w.aqrl zero,zero,(zero)
    amomin.w.aqrl a0,a2,(a1)
    amomin.w.aqrl ra,t6,(sp)
    amomin.w.aqrl zero,zero,(zero)
    amomax.w.aqrl a0,a2,(a1)
    amomax.w.aqrl ra,t6,(sp)
    amomax.w.aqrl zero,zero,(zero)
    amominu.w.aqrl a0,a2,(a1)
    amominu.w.aqrl ra,t6,(sp)
    amominu.w.aqrl zero,zero,(zero)
    amomaxu.w.aqrl a0,a2,(a1)
    amomaxu.w.aqrl ra,t6,(sp)
    amomaxu.w.aqrl zero,zero,(zero)
    lr.d a0,(a1)
    lr.d ra,(sp)
    lr.d zero,(zero)
    sc.d a0,a2,(a1)
    sc.d ra,t6,(sp)
    sc.d zero,zero,(zero)
    amoswap.d a0,a2,(a1)
    amoswap.d ra,t6,(sp)
    amoswap.d zero,zero,(zero)
    amoadd.d a0,a2,(a1)
    amoadd.d ra,t6,(sp)
    amoadd.d zero,zero,(zero)
    amoxor.d a0,a2,(a1)
    amoxor.d ra,t6,(sp)
    amoxor.d zero,zero,(zero)
    amoand.d a0,a2,(a1)
    amoand.d ra,t6,(sp)
    amoand.d zero,zero,(zero)
    amoor.d a0,a2,(a1)
    amoor.d ra,t6,(sp)
    amoor.d zero,zero,(zero)
    amomin.d a0,a2,(a1)
    amomin.d ra,t6,(sp)
    amomin.d zero,zero,(zero)
    amomax.d a0,a2,(a1)
    amomax.d ra,t6,(sp)
    amomax.d zero,zero,(zero)
    amominu.d a0,a2,(a1)
    amominu.d ra,t6,(sp)
    amominu.d zero,zero,(zero)
    amomaxu.d a0,a2,(a1)
    amomaxu.d ra,t6,(sp)
    amomaxu.d zero,zero,(zero)
    lr.d.aq a0,(a1)
    lr.d.aq ra,(sp)
    lr.d.aq zero,(zero)
    sc.d.aq a0,a2,(a1)
    sc.d.aq ra,t6,(sp)
    sc.d.aq zero,zero,(zero)
    amoswap.d.aq a0,a2,(a1)
    amoswap.d.aq ra,t6,(sp)
    amoswap.d.aq zero,zero,(zero)
    amoadd.d.aq a0,a2,(a1)
    amoadd.d.aq ra,t6,(sp)
    amoadd.d.aq zero,zero,(zero)
    amoxor.d.aq a0,a2,(a1)
    amoxor.d.aq ra,t6,(sp)
    amoxor.d.aq zero,zero,(zero)
    amoand.d.aq a0,a2,(a1)
    amoand.d.aq ra,t6,(sp)
    amoand.d.aq zero,zero,(zero)
    amoor.d.aq a0,a2,(a1)
    amoor.d.aq ra,t6,(sp)
    amoor.d.aq zero,zero,(zero)
    amomin.d.aq a0,a2,(a1)
    amomin.d.aq ra,t6,(sp)
    amomin.d.aq zero,zero,(zero)
    amomax.d.aq a0,a2,(a1)
    amomax.d.aq ra,t6,(sp)
    amomax.d.aq zero,zero,(zero)
    amominu.d.aq a0,a2,(a1)
    amominu.d.aq ra,t6,(sp)
    amominu.d.aq zero,zero,(zero)
    amomaxu.d.aq a0,a2,(a1)
    amomaxu.d.aq ra,t6,(sp)
    amomaxu.d.aq zero,zero,(zero)
    lr.d.rl a0,(a1)
    lr.d.rl ra,(sp)
    lr.d.rl zero,(zero)
    sc.d.rl a0,a2,(a1)
    sc.d.rl ra,t6,(sp)
    sc.d.rl zero,zero,(zero)
    amoswap.d.rl a0,a2,(a1)
    amoswap.d.rl ra,t6,(sp)
    amoswap.d.rl zero,zero,(zero)
    amoadd.d.rl a0,a2,(a1)
    amoadd.d.rl ra,t6,(sp)
    amoadd.d.rl zero,zero,(zero)
    amoxor.d.rl a0,a2,(a1)
    amoxor.d.rl ra,t6,(sp)
    amoxor.d.rl zero,zero,(zero)
    amoand.d.rl a0,a2,(a1)
    amoand.d.rl ra,t6,(sp)
    amoand.d.rl zero,zero,(zero)
    amoor.d.rl a0,a2,(a1)
    amoor.d.rl ra,t6,(sp)
    amoor.d.rl zero,zero,(zero)
    amomin.d.rl a0,a2,(a1)
    amomin.d.rl ra,t6,(sp)
    amomin.d.rl zero,zero,(zero)
    amomax.d.rl a0,a2,(a1)
    amomax.d.rl ra,t6,(sp)
    amomax.d.rl zero,zero,(zero)
    amominu.d.rl a0,a2,(a1)
    amominu.d.rl ra,t6,(sp)
    amominu.d.rl zero,zero,(zero)
    amomaxu.d.rl a0,a2,(a1)
    amomaxu.d.rl ra,t6,(sp)
    amomaxu.d.rl zero,zero,(zero)
    lr.d.aqrl a0,(a1)
    lr.d.aqrl ra,(sp)
    lr.d.aqrl zero,(zero)
    sc.d.aqrl a0,a2,(a1)
    sc.d.aqrl ra,t6,(sp)
    sc.d.aqrl zero,zero,(zero)
    amoswap.d.aqrl a0,a2,(a1)
    amoswap.d.aqrl ra,t6,(sp)
    amoswap.d.aqrl zero,zero,(zero)
    amoadd.d.aqrl a0,a2,(a1)
    amoadd.d.aqrl ra,t6,(sp)
    amoadd.d.aqrl zero,zero,(zero)
    amoxor.d.aqrl a0,a2,(a1)
    amoxor.d.aqrl ra,t6,(sp)
    amoxor.d.aqrl zero,zero,(zero)
    amoand.d.aqrl a0,a2,(a1)
    amoand.d.aqrl ra,t6,(sp)
    amoand.d.aqrl zero,zero,(zero)
    amoor.d.aqrl a0,a2,(a1)
    amoor.d.aqrl ra,t6,(sp)
    amoor.d.aqrl zero,zero,(zero)
    amomin.d.aqrl a0,a2,(a1)
    amomin.d.aqrl ra,t6,(sp)
    amomin.d.aqrl zero,zero,(zero)
    amomax.d.aqrl a0,a2,(a1)
    amomax.d.aqrl ra,t6,(sp)
    amomax.d.aqrl zero,zero,(zero)
    amominu.d.aqrl a0,a2,(a1)
    amominu.d.aqrl ra,t6,(sp)
    amominu.d.aqrl zero,zero,(zero)
    amomaxu.d.aqrl a0,a2,(a1)
    amomaxu.d.aqrl ra,t6,(sp)
    amomaxu.d.aqrl zero,zero,(zero)
    sret
    mret
    wfi
    sfence.vma a1,a2
    sfence.vma sp,t6
    sfence.vma zero,zero
    hfence.vvma a1,a2
    hfence.vvma sp,t6
    hfence.vvma zero,zero
    hfence.gvma a1,a2
    hfence.gvma sp,t6
    hfence.gvma zero,zero
    hlv.b a0,(a1)
    hlv.b ra,(sp)
    hlv.b zero,(zero)
    hlv.bu a0,(a1)
    hlv.bu ra,(sp)
    hlv.bu zero,(zero)
    hlv.h a0,(a1)
    hlv.h ra,(sp)
    hlv.h zero,(zero)
    hlv.hu a0,(a1)
    hlv.hu ra,(sp)
    hlv.hu zero,(zero)
    hlvx.hu a0,(a1)
    hlvx.hu ra,(sp)
    hlvx.hu zero,(zero)
    hlv.w a0,(a1)
    hlv.w ra,(sp)
    hlv.w zero,(zero)
    hlv.wu a0,(a1)
    hlv.wu ra,(sp)
    hlv.wu zero,(zero)
    hlvx.wu a0,(a1)
    hlvx.wu ra,(sp)
    hlvx.wu zero,(zero)
    hlv.d a0,(a1)
    hlv.d ra,(sp)
    hlv.d zero,(zero)
    hsv.b a2,(a1)
    hsv.b t6,(sp)
    hsv.b zero,(zero)
    hsv.h a2,(a1)
    hsv.h t6,(sp)
    hsv.h zero,(zero)
    hsv.w a2,(a1)
    hsv.w t6,(sp)
    hsv.w zero,(zero)
    hsv.d a2,(a1)
    hsv.d t6,(sp)
    hsv.d zero,(zero)

    .option rvc
    # compressed forms, written with their c.* names
    c.addi4spn s0,sp,1020
    c.addi4spn a0,sp,4
    c.addi4spn s1,sp,8
    c.lw s0,124(a5)
    c.lw a5,0(a0)
    c.lw a0,4(s1)
    c.lw s1,8(s0)
    c.ld s0,248(a5)
    c.ld a5,0(a0)
    c.ld a0,8(s1)
    c.ld s1,16(s0)
    c.sw s0,124(a5)
    c.sw a5,0(a0)
    c.sw a0,4(s1)
    c.sw s1,8(s0)
    c.sd s0,248(a5)
    c.sd a5,0(a0)
    c.sd a0,8(s1)
    c.sd s1,16(s0)
    c.nop
    c.nop
    c.nop
    c.nop
    c.addi a0,31
    c.addi ra,-32
    c.addi t6,1
    c.addi zero,-1
    c.addiw a0,31
    c.addiw ra,-32
    c.addiw t6,1
    c.li a0,31
    c.li ra,-32
    c.li t6,1
    c.li zero,-1
    c.addi16sp sp,496
    c.addi16sp sp,-512
    c.addi16sp sp,16
    c.addi16sp sp,-16
    c.lui a0,0xfffff
    c.lui ra,0x1
    c.lui t6,0x1f
    c.lui zero,0xfffe0
    c.srli s0,63
    c.srli a0,1
    c.srli s1,2
    c.srai s0,63
    c.srai a0,1
    c.srai s1,2
    c.andi s0,31
    c.andi a5,-32
    c.andi a0,1
    c.andi s1,-1
    c.sub s0,s0
    c.sub a5,a5
    c.sub a0,a0
    c.sub s1,s1
    c.xor s0,s0
    c.xor a5,a5
    c.xor a0,a0
    c.xor s1,s1
    c.or s0,s0
    c.or a5,a5
    c.or a0,a0
    c.or s1,s1
    c.and s0,s0
    c.and a5,a5
    c.and a0,a0
    c.and s1,s1
    c.subw s0,s0
    c.subw a5,a5
    c.subw a0,a0
    c.subw s1,s1
    c.addw s0,s0
    c.addw a5,a5
    c.addw a0,a0
    c.addw s1,s1
    c.j .+2046
    c.j .-2048
    c.j .+2
    c.j .-2
    c.beqz s0,.+254
    c.beqz a5,.-256
    c.beqz a0,.+2
    c.beqz s1,.-2
    c.bnez s0,.+254
    c.bnez a5,.-256
    c.bnez a0,.+2
    c.bnez s1,.-2
    c.slli a0,63
    c.slli t6,1
    c.slli zero,2
    c.lwsp a0,252(sp)
    c.lwsp ra,0(sp)
    c.lwsp t6,4(sp)
    c.ldsp a0,504(sp)
    c.ldsp ra,0(sp)
    c.ldsp t6,8(sp)
    c.jr a0
    c.jr ra
    c.jr t6
    c.mv a0,a0
    c.mv ra,ra
    c.mv t6,t6
    c.ebreak
    c.ebreak
    c.ebreak
    c.ebreak
    c.jalr a0
    c.jalr ra
    c.jalr t6
    c.add a0,a0
    c.add ra,ra
    c.add t6,t6
    c.swsp a0,252(sp)
    c.swsp ra,0(sp)
    c.swsp t6,4(sp)
    c.swsp zero,8(sp)
    c.sdsp a0,504(sp)
    c.sdsp ra,0(sp)
    c.sdsp t6,8(sp)
    c.sdsp zero,16(sp)

    # HINTs and shift-by-64 forms objdump names c.*
    c.slli64 a0
    c.srli64 s1
    c.srai64 a5
    c.nop 5
    c.addi zero, -32
    c.li zero, 7
    c.lui zero, 0x1f
    c.mv zero, a1
    c.add zero, t6
    c.slli zero, 3

    # pseudo-instructions as GNU as expands them (with rvc)
    nop
    li a0, 1
    li a0, -2048
    li a0, 0x12345678
    li t0, 0x7fffffff
    li t1, 0x123456789abcdef0
    mv a0, a1
    not a0, a1
    neg a0, a1
    negw a0, a1
    sext.w a0, a1
    seqz a0, a1
    snez a0, a1
    sltz a0, a1
    sgtz a0, a1
    beqz a0, 1f
    bnez a0, 1f
    blez a0, 1f
    bgez a0, 1f
    bltz a0, 1f
    bgtz a0, 1f
    bgt a0, a1, 1f
    ble a0, a1, 1f
    bgtu a0, a1, 1f
    bleu a0, a1, 1f
1:  j 1b
    jal 1b
    jr a0
    jalr a0
    ret
    call _start
    tail _start
    csrr a0, mstatus
    csrw mtvec, a0
    csrs mie, a1
    csrc mip, a2
    csrwi mscratch, 7
    csrsi sstatus, 2
    csrci sstatus, 2
    rdcycle a0
    rdtime a1
    rdinstret a2
    unimp
    fence
    fence rw, rw
    fence.tso

    # address comments: lui/auipc pairs, gp, tp, zero
    lui a0, 0x80000
    addi a0, a0, 16
    lui a1, 0x12345
    ld a2, -8(a1)
    lui a3, 0x1
    sd a4, 2047(a3)
    auipc t0, 0
    jalr ra, 12(t0)
    auipc t1, 0x1
    lw t2, -4(t1)
    lui a5, 0x7ffff
    addiw a5, a5, -1
    ld a0, 16(gp)
    sw a1, -32(gp)
    addi a2, gp, 100
    lw a0, 8(tp)
    ld a0, 1024(zero)
    sb a0, -1(zero)
    jalr zero, 0(zero)
    c.lui a4, 0x10
    c.addi a4, 4
    c.lui a5, 0xfffe0
    c.addiw a5, -1
    la a0, _start
    lla a1, 1b
    .option norvc
    lui s0, 0xfffff
    addi s0, s0, -1
    ret

    # Zba, Zbb, Zbc, Zbs
    .option norvc
    add.uw a0,a1,a2
    add.uw zero,t6,s11
    sh1add a0,a1,a2
    sh1add zero,t6,s11
    sh2add a0,a1,a2
    sh2add zero,t6,s11
    sh3add a0,a1,a2
    sh3add zero,t6,s11
    sh1add.uw a0,a1,a2
    sh1add.uw zero,t6,s11
    sh2add.uw a0,a1,a2
    sh2add.uw zero,t6,s11
    sh3add.uw a0,a1,a2
    sh3add.uw zero,t6,s11
    andn a0,a1,a2
    andn zero,t6,s11
    orn a0,a1,a2
    orn zero,t6,s11
    xnor a0,a1,a2
    xnor zero,t6,s11
    max a0,a1,a2
    max zero,t6,s11
    maxu a0,a1,a2
    maxu zero,t6,s11
    min a0,a1,a2
    min zero,t6,s11
    minu a0,a1,a2
    minu zero,t6,s11
    rol a0,a1,a2
    rol zero,t6,s11
    ror a0,a1,a2
    ror zero,t6,s11
    rolw a0,a1,a2
    rolw zero,t6,s11
    rorw a0,a1,a2
    rorw zero,t6,s11
    clmul a0,a1,a2
    clmul zero,t6,s11
    clmulr a0,a1,a2
    clmulr zero,t6,s11
    clmulh a0,a1,a2
    clmulh zero,t6,s11
    bclr a0,a1,a2
    bclr zero,t6,s11
    bext a0,a1,a2
    bext zero,t6,s11
    binv a0,a1,a2
    binv zero,t6,s11
    bset a0,a1,a2
    bset zero,t6,s11
    add.uw a0,a1,zero
    zext.w t0,t1
    add.uw zero,zero,zero
    slli.uw a0,a1,0
    slli.uw s2,s3,63
    slli.uw a5,a5,1
    rori a0,a1,0
    rori s2,s3,63
    rori a5,a5,1
    roriw a0,a1,0
    roriw s2,s3,31
    roriw a5,a5,1
    bclri a0,a1,0
    bclri s2,s3,63
    bclri a5,a5,1
    bexti a0,a1,0
    bexti s2,s3,63
    bexti a5,a5,1
    binvi a0,a1,0
    binvi s2,s3,63
    binvi a5,a5,1
    bseti a0,a1,0
    bseti s2,s3,63
    bseti a5,a5,1
    ror a0,a1,7
    rorw a0,a1,7
    bset a0,a1,33
    clz a0,a1
    clz zero,t6
    ctz a0,a1
    ctz zero,t6
    cpop a0,a1
    cpop zero,t6
    clzw a0,a1
    clzw zero,t6
    ctzw a0,a1
    ctzw zero,t6
    cpopw a0,a1
    cpopw zero,t6
    sext.b a0,a1
    sext.b zero,t6
    sext.h a0,a1
    sext.h zero,t6
    zext.h a0,a1
    zext.h zero,t6
    orc.b a0,a1
    orc.b zero,t6
    rev8 a0,a1
    rev8 zero,t6

    # Zicbom, Zicboz, Zicbop, Zihintpause
    cbo.clean (a0)
    cbo.clean 0(t6)
    cbo.clean (zero)
    cbo.flush (a0)
    cbo.flush 0(t6)
    cbo.flush (zero)
    cbo.inval (a0)
    cbo.inval 0(t6)
    cbo.inval (zero)
    cbo.zero (a0)
    cbo.zero 0(t6)
    cbo.zero (zero)
    prefetch.i 0(a0)
    prefetch.i (sp)
    prefetch.i -2048(t6)
    prefetch.i 2016(zero)
    prefetch.i 32(s1)
    prefetch.r 0(a0)
    prefetch.r (sp)
    prefetch.r -2048(t6)
    prefetch.r 2016(zero)
    prefetch.r 32(s1)
    prefetch.w 0(a0)
    prefetch.w (sp)
    prefetch.w -2048(t6)
    prefetch.w 2016(zero)
    prefetch.w 32(s1)
    ori zero,a0,33
    ori zero,a0,35
    ori zero,a0,2
    ori a1,a0,32
    pause
    fence rw,w

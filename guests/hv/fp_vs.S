# fp_vs.S -- an S-mode kernel that uses F and D the way a kernel does: FP is
# an illegal instruction while sstatus.FS is Off (the kernel's trap handler
# sees cause 2 and skips it), computes once FS is on, and watches FS go
# Dirty (with SD) after it wrote f registers, stay Clean while it only reads
# them, and go Dirty again. It prints what it sees and powers off through SBI.
# The same text on the board and in a VM under every technique:
#      pyvmm run --bios builtin guests/hv/fp_vs.S
#      pyvmm run --technique hw guests/hv/fp_vs.S          (--paging shadow too)
#      pyvmm run --technique trap-emulate guests/hv/fp_vs.S   (bt, pv alike)
    .attribute arch, "rv64imafdc_zicsr_zifencei"
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_SRST, 0x53525354
    .equ FS, 3 << 13

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    li      s1, 0                   # illegal-instruction traps taken
    la      a0, t_fs
    call    puts
    call    put_fs                  # FS as the kernel found it
    # FS Off: FP instructions and fcsr trap
    li      t0, FS
    csrc    sstatus, t0
    fadd.d  fa0, fa0, fa0
    frcsr   a0
    la      a0, t_off
    call    puts
    mv      a0, s1
    call    puthex
    # FS Initial: compute
    li      t0, 1 << 13
    csrs    sstatus, t0
    li      t0, 2
    fcvt.d.l fa1, t0
    fsqrt.d fa2, fa1                # sqrt(2): inexact
    li      t0, 3
    fcvt.d.l fa3, t0
    fdiv.d  fa4, fa1, fa3, rmm
    fmadd.d fa5, fa2, fa2, fa4
    fcvt.s.d fa6, fa5
    fmv.x.d a0, fa5
    la      t1, t_res
    mv      s2, a0
    mv      a0, t1
    call    puts
    mv      a0, s2
    call    puthex
    la      a0, t_flags
    call    puts
    frflags a0
    call    puthex
    la      a0, t_fs
    call    puts
    call    put_fs                  # Dirty, SD set
    # Clean: reading f registers leaves it so
    li      t0, FS
    csrc    sstatus, t0
    li      t0, 2 << 13
    csrs    sstatus, t0
    fmv.x.w a0, fa6
    fsd     fa5, 0(sp)
    la      a0, t_fs
    call    puts
    call    put_fs
    # writing one makes it Dirty again
    fsgnjn.d fa0, fa5, fa5
    la      a0, t_fs
    call    puts
    call    put_fs
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
1:  j       1b

put_fs:                             # FS and SD of sstatus
    addi    sp, sp, -16
    sd      ra, 8(sp)
    csrr    t2, sstatus
    srli    a0, t2, 13
    andi    a0, a0, 3
    srli    t2, t2, 63
    slli    t2, t2, 4
    or      a0, a0, t2              # 0x1N: SD with FS = N
    call    puthex
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

    .balign 4
trap:                               # illegal instruction: count and skip it
    csrr    t0, scause
    li      t1, 2
    bne     t0, t1, 1f
    addi    s1, s1, 1
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    sret
1:  la      a0, t_bad
    call    puts
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0
    li      a1, 1
    ecall
2:  j       2b

puts:                               # a0: NUL-terminated string, via legacy putchar
    mv      t1, a0
1:  lbu     a0, 0(t1)
    beqz    a0, 2f
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    addi    t1, t1, 1
    j       1b
2:  ret

puthex:                             # a0 in hex, then a newline
    mv      t3, a0
    li      t4, 60
1:  srl     a0, t3, t4
    andi    a0, a0, 15
    addi    a0, a0, 48
    li      t5, 57
    ble     a0, t5, 2f
    addi    a0, a0, 39
2:  li      a7, EID_LEGACY_PUTCHAR
    ecall
    addi    t4, t4, -4
    bgez    t4, 1b
    li      a0, 10
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    ret

    .section .rodata
t_fs:    .asciz "fs+sd "
t_off:   .asciz "illegal while off "
t_res:   .asciz "result "
t_flags: .asciz "fflags "
t_bad:   .asciz "unexpected trap\n"
    .bss
    .balign 16
    .space 1024
stack_top:

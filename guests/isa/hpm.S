# hpm.S -- the hardware performance-monitor CSRs as QEMU 7.2's virt hart has
# them (16 programmable counters, the default pmu-num).
#
# Shows, from M-mode: which mhpmcounterN hold what is written (3..18) and
# which trap (19..31), that every mhpmeventN and mcountinhibit keep their
# value, and that hpmcounterN reads mhpmcounterN; then from S- and U-mode the
# mcounteren/scounteren gating of the user views (illegal instruction where a
# bit is clear, and always for the counters the hart does not have). A
# counter whose event is not cycles or instructions does not move.
# Every probe prints "<name>=<value>" or "<name>!<mcause>" when it trapped.
# Run: pyvmm run guests/isa/hpm.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555

    # a probe: `begin`, instructions leaving a result in a0, `end NAME`;
    # prints NAME and a0, or NAME and mcause if an instruction trapped
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
    li      t0, -1                  # PMP: S and U may use all of memory
    srli    t0, t0, 10
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0

    # M-mode: counters, events, inhibit
    li      s0, 0x1234
    .irp n, 3, 4, 10, 17, 18, 19, 20, 31
    begin
    csrw mhpmcounter\n, s0
    csrr a0, mhpmcounter\n
    end     mhpmcounter\n
    .endr
    .irp n, 3, 18, 19, 31
    begin
    csrw mhpmevent\n, s0
    csrr a0, mhpmevent\n
    end     mhpmevent\n
    .endr
    begin
    li a0, -1
    csrw mcountinhibit, a0
    csrr a0, mcountinhibit
    end     mcountinhibit
    begin
    csrw mcountinhibit, zero
    csrr a0, mcountinhibit
    end     mcountinhibit0
    .irp n, 3, 18, 19
    begin
    csrr a0, hpmcounter\n
    end     hpmcounter\n
    .endr
    # an event that is neither cycles nor instructions: the counter holds
    li      t0, 0x10019             # a TLB-miss event
    csrw    mhpmevent4, t0
    csrw    mhpmcounter4, zero
    .rept 20
    nop
    .endr
    begin
    csrr a0, mhpmcounter4
    end     still
    csrw    mhpmevent4, zero

    # S-mode, then U-mode: the user views behind mcounteren/scounteren
    csrw    mcounteren, zero
    csrw    scounteren, zero
    li      t0, 0x800               # MPP = S
    csrw    mstatus, t0
    la      t0, in_s
    csrw    mepc, t0
    mret
in_s:
    begin
    csrr a0, hpmcounter3
    end     s_hpm3_off
    begin
    csrr a0, cycle
    end     s_cycle_off
    ecall                           # back to M to open mcounteren
    begin
    csrr a0, hpmcounter3
    end     s_hpm3_on
    begin
    csrr a0, hpmcounter18
    end     s_hpm18_on
    begin
    csrr a0, hpmcounter19
    end     s_hpm19_on
    begin
    csrr a0, hpmcounter31
    end     s_hpm31_on
    begin
    csrr a0, mhpmcounter3
    end     s_mhpm3
    li      t0, 0x8                 # scounteren: hpmcounter3 only
    csrw    scounteren, t0
    la      t0, in_u
    csrw    sepc, t0
    li      t0, 0x100               # SPP = U
    csrc    sstatus, t0
    sret
in_u:
    begin
    csrr a0, hpmcounter3
    end     u_hpm3
    begin
    csrr a0, hpmcounter4
    end     u_hpm4
    begin
    csrr a0, hpmcounter19
    end     u_hpm19
    begin
    csrr a0, scounteren
    end     u_scounteren

    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
1:  j       1b

# report(a0 = value, a1 = name): "name=value" or "name!mcause" (s11 != -1)
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

# Every trap comes here (nothing is delegated). An ecall from S opens
# mcounteren and returns; any other exception records mcause in s11 and
# skips the 4-byte instruction.
    .balign 4
trap_handler:
    csrr    s11, mcause
    li      t0, 9
    bne     s11, t0, 1f
    li      t0, -1
    csrw    mcounteren, t0
    li      s11, -1
1:  csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    mret

    .include "../include/uart.inc"

    .section .bss
    .balign 16
stack: .space 1024
stack_top:

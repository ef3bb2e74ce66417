# sstc_timer.S -- an S-mode periodic timer with the Sstc extension (stimecmp).
#
# Shows: an M-mode stub that enables Sstc (menvcfg.STCE), lets S read `time`
# (mcounteren.TM) and delegates the supervisor timer interrupt (mideleg.STIP);
# then an S-mode loop that arms stimecmp, sleeps in WFI and counts five timer
# interrupts taken through stvec, re-arming the timer in the handler, without
# any SBI call or M-mode involvement per tick. Output is deterministic: only
# the order of events is printed, not times.
# Expected output: five "tick" lines and a summary; exit status 0.
# Run: pyvmm run guests/sstc_timer.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ CSR_MENVCFG,   0x30a
    .equ CSR_STIMECMP,  0x14d
    .equ MIP_STIP,      0x20
    .equ SSTATUS_SIE,   0x2
    .equ TICK,          10000       # 1 ms of the 10 MHz timebase
    .equ TICKS,         5

    .section .text
    .globl _start
_start:
    li      t0, -1                  # PMP: let S-mode reach all memory
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
    li      t0, 1
    slli    t0, t0, 63              # menvcfg.STCE: stimecmp drives STIP
    csrs    CSR_MENVCFG, t0
    li      t0, 2                   # mcounteren.TM: S may read time
    csrs    mcounteren, t0
    li      t0, MIP_STIP
    csrw    mideleg, t0
    li      t0, 0x1800              # mret into S-mode
    csrc    mstatus, t0
    li      t0, 0x800
    csrs    mstatus, t0
    la      t0, supervisor
    csrw    mepc, t0
    mret

supervisor:
    la      sp, stack_top
    la      t0, s_trap
    csrw    stvec, t0
    la      a0, s_banner
    call    puts
    rdtime  t0
    li      t1, TICK
    add     t0, t0, t1
    csrw    CSR_STIMECMP, t0
    li      t0, MIP_STIP
    csrs    sie, t0
    csrsi   sstatus, SSTATUS_SIE
1:  wfi                             # sleep until the next tick
    la      t0, ticks
    ld      t0, 0(t0)
    li      t1, TICKS
    bltu    t0, t1, 1b
    csrci   sstatus, SSTATUS_SIE
    la      a0, s_done
    call    puts
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
2:  j       2b

    .balign 4
s_trap:
    addi    sp, sp, -48
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      t0, 16(sp)
    sd      t1, 24(sp)
    sd      t2, 32(sp)
    la      t0, ticks
    ld      t1, 0(t0)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    la      a0, s_tick
    call    puts
    la      t0, ticks
    ld      a0, 0(t0)
    addi    a0, a0, '0'
    call    putc
    la      a0, s_cause
    call    puts
    csrr    a0, scause
    call    puthex
    li      a0, '\n'
    call    putc
    # Re-arm one tick from now, or switch the timer off after the last one.
    la      t0, ticks
    ld      t0, 0(t0)
    li      t1, TICKS
    li      t2, -1
    bgeu    t0, t1, 3f
    rdtime  t2
    li      t1, TICK
    add     t2, t2, t1
3:  csrw    CSR_STIMECMP, t2
    ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      t0, 16(sp)
    ld      t1, 24(sp)
    ld      t2, 32(sp)
    addi    sp, sp, 48
    sret

    .include "include/uart.inc"   # putc, puts, puthex

    .section .rodata
s_banner:   .asciz "sstc_timer: S-mode ticks from stimecmp, no SBI\n"
s_tick:     .asciz "tick "
s_cause:    .asciz ": scause="
s_done:     .asciz "sstc_timer: 5 ticks, timer off\n"

    .section .data
    .balign 8
ticks:      .dword 0

    .section .bss
    .balign 16
stack:      .space 4096
stack_top:

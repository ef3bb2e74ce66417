# ticker.S -- an S-mode guest that sleeps and wakes, as an interactive or
# I/O-bound VM does: TICKS times it arms its timer PERIOD ahead (SBI
# set_timer), waits in WFI for it, and does a little work; then it prints
# one line and powers off. Alone it idles most of the time; beside a CPU hog
# its wake-ups measure the scheduler's latency (pyvmm host --stats).
    .equ EID_TIME, 0x54494D45
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_SRST, 0x53525354
    .equ SIE_STIE, 0x20
    .equ PERIOD, 17321              # 1.7 ms of the 10 MHz timebase: wake-ups land anywhere in a turn
    .equ TICKS, 100
    .equ WORK, 2000                 # loop iterations after each wake-up

    .section .text
    .globl _start
_start:
    li      t0, SIE_STIE            # the timer may wake WFI (sstatus.SIE stays 0: no trap)
    csrw    sie, t0
    li      s0, TICKS
1:  rdtime  a0
    li      t0, PERIOD
    add     a0, a0, t0
    li      a7, EID_TIME
    li      a6, 0                   # set_timer
    ecall
2:  wfi
    csrr    t0, sip
    andi    t0, t0, SIE_STIE
    beqz    t0, 2b                  # woken by something else: wait on
    li      t1, WORK
3:  addi    t1, t1, -1
    bnez    t1, 3b
    addi    s0, s0, -1
    bnez    s0, 1b
    li      a0, -1                  # disarm (clears the pending timer)
    li      a7, EID_TIME
    li      a6, 0
    ecall
    la      a0, done
    call    puts
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
4:  j       4b

puts:
    mv      t1, a0
1:  lbu     a0, 0(t1)
    beqz    a0, 2f
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    addi    t1, t1, 1
    j       1b
2:  ret

    .section .data
done:
    .asciz  "ticker: 100 wake-ups\n"

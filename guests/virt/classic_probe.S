# Can this S-mode kernel tell it is virtualized, and does its interrupt
# masking work? Linked at 0x80200000 (the SBI's kernel address), it asks
# three questions a classically virtualized kernel gets wrong when some
# sensitive instructions do not trap (pyvmm's `--cpu-profile classic`, x86's
# POPF/PUSHF/SMSW before VT-x):
#   1. sstatus: after `csrsi sstatus, SIE`, does reading sstatus show SIE?
#      (a de-privileged kernel's write is silently dropped, its read returns
#      the real register)
#   2. satp: with paging off, does satp read 0? (the real satp holds the
#      hypervisor's shadow root)
#   3. masking: a timer interrupt armed while sstatus.SIE = 0 must wait until
#      the kernel sets SIE, then be taken at once.
# Native, hw, trap-emulate (standard profile) and bt print "ok" three times;
# trap-emulate under the classic profile prints what it detected. Console and
# power through SBI (legacy putchar, SRST shutdown: exit status 0).
        .include "../firmware/sbi_defs.inc"

        .equ    SIE_STIE, 1 << 5
        .equ    SSTATUS_SIE, 1 << 1
        .equ    TIMER_DELAY, 1000               # timebase ticks (100 us at 10 MHz)
        # The pending interrupt is taken at once on the board; on QEMU a
        # timer thread raises it, which a busy host can delay by milliseconds.
        .equ    ARRIVAL_WINDOW, 500000          # timebase ticks (50 ms at 10 MHz)

        .text
        .globl _start
_start:
        la      sp, stack_top
        la      t0, trap_entry
        csrw    stvec, t0
        la      a0, msg_start
        call    puts

        # 1. Is a write of sstatus.SIE visible to a read?
        la      a0, msg_sstatus
        call    puts
        csrci   sstatus, SSTATUS_SIE
        csrr    t0, sstatus
        andi    t0, t0, SSTATUS_SIE
        csrsi   sstatus, SSTATUS_SIE
        csrr    t1, sstatus
        andi    t1, t1, SSTATUS_SIE
        csrci   sstatus, SSTATUS_SIE
        la      a0, msg_ok
        bnez    t0, 1f
        bnez    t1, 2f
1:      la      a0, msg_sstatus_lost
        li      s11, 1
2:      call    puts

        # 2. With paging off, satp reads 0.
        la      a0, msg_satp
        call    puts
        csrr    t0, satp
        la      a0, msg_ok
        beqz    t0, 1f
        la      a0, msg_satp_leak
        li      s11, 1
1:      call    puts

        # 3. A timer interrupt armed while masked waits for SIE.
        la      a0, msg_mask
        call    puts
        csrci   sstatus, SSTATUS_SIE
        li      t0, SIE_STIE
        csrs    sie, t0
        la      t0, masked
        li      t1, 1
        sd      t1, 0(t0)
        rdtime  s1
        li      t0, TIMER_DELAY
        add     s1, s1, t0                      # s1: the deadline
        mv      a0, s1
        SBI_CALL EID_TIME, 0
        li      t0, TIMER_DELAY                 # masked until a delay past the deadline
        add     t2, s1, t0
1:      rdtime  t1
        bltu    t1, t2, 1b
        la      t0, masked
        sd      zero, 0(t0)
        csrsi   sstatus, SSTATUS_SIE
        li      t0, ARRIVAL_WINDOW              # room for the interrupt to arrive
        add     t2, s1, t0
1:      la      t0, ticks
        ld      t1, 0(t0)
        bnez    t1, 2f
        rdtime  t1
        bltu    t1, t2, 1b
2:      csrci   sstatus, SSTATUS_SIE
        la      t0, ticks_masked
        ld      t1, 0(t0)
        la      a0, msg_taken_masked
        bnez    t1, 3f
        la      t0, ticks
        ld      t1, 0(t0)
        la      a0, msg_never_taken
        beqz    t1, 3f
        la      a0, msg_ok
        j       4f
3:      li      s11, 1
4:      call    puts

        la      a0, msg_virtualized
        bnez    s11, 1f
        la      a0, msg_native
1:      call    puts
        call    shutdown

# Only the supervisor timer interrupt is expected: count it, note whether it
# came while the kernel had interrupts masked, and disarm the timer.
        .balign 4
trap_entry:
        addi    sp, sp, -48
        sd      t0, 0(sp)
        sd      t1, 8(sp)
        sd      a0, 16(sp)
        sd      a6, 24(sp)
        sd      a7, 32(sp)
        csrr    t0, scause
        li      t1, (1 << 63) | 5
        bne     t0, t1, unexpected
        la      t0, ticks
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        la      t0, masked
        ld      t1, 0(t0)
        beqz    t1, 1f
        la      t0, ticks_masked
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
1:      li      a0, -1
        SBI_CALL EID_TIME, 0
        ld      t0, 0(sp)
        ld      t1, 8(sp)
        ld      a0, 16(sp)
        ld      a6, 24(sp)
        ld      a7, 32(sp)
        addi    sp, sp, 48
        sret
unexpected:
        la      a0, msg_unexpected
        call    puts
        call    shutdown

        .include "../firmware/sbi_lib.inc"

        .section .rodata
msg_start:        .asciz "classic-probe: can this kernel tell it is virtualized?\n"
msg_sstatus:      .asciz "  sstatus.SIE written then read back: "
msg_sstatus_lost: .asciz "write lost (virtualization detected)\n"
msg_satp:         .asciz "  satp with paging off reads 0: "
msg_satp_leak:    .asciz "reads the hypervisor's value (virtualization detected)\n"
msg_mask:         .asciz "  timer interrupt held while sstatus.SIE = 0, taken once set: "
msg_taken_masked: .asciz "taken while masked (interrupt masking broken)\n"
msg_never_taken:  .asciz "never taken (interrupt masking broken)\n"
msg_ok:           .asciz "ok\n"
msg_native:       .asciz "classic-probe: no virtualization visible\n"
msg_virtualized:  .asciz "classic-probe: virtualization visible\n"
msg_unexpected:   .asciz "classic-probe: unexpected trap\n"

        .data
        .balign 8
masked:       .dword 0
ticks:        .dword 0
ticks_masked: .dword 0

        .bss
        .balign 16
        .space 4096
stack_top:

# trap_demo.S -- M-mode exceptions and a timer interrupt, one of each kind.
#
# Shows: a direct-mode mtvec handler that saves state on a stack, decodes
# mcause, prints mcause/mepc/mtval in hex and resumes after the faulting
# instruction (2 or 4 bytes, read from the instruction itself); then a CLINT
# timer interrupt (mtimecmp) taken at a known point: the hart waits in WFI with
# mstatus.MIE=0 until mip.MTIP is pending, so enabling MIE takes the interrupt
# right after that csrs, at a deterministic mepc.
#
# Traps, in order: illegal instruction (tval = the instruction bits), ecall
# from M, ebreak, misaligned LR.W (load address misaligned), load access
# fault, store access fault, instruction access fault, machine timer
# interrupt. (Plain misaligned loads and stores are not used: the virt board,
# like QEMU, performs them. Misaligned AMOs are not used either: QEMU 7.2
# reports them as load-misaligned, cause 4, where the spec says 6 or 7.)
# Expected output: one "cause=... epc=... tval=..." line per trap, then a
# summary; exit status 0.
# Run: pyvmm run guests/trap_demo.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ CLINT_MTIMECMP, 0x2004000
    .equ CLINT_MTIME,   0x200bff8
    .equ NO_DEVICE,     0x08000000  # a hole in the virt memory map: access faults
    .equ MIP_MTIP,      0x80
    .equ MSTATUS_MIE,   0x8

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap_handler
    csrw    mtvec, t0
    la      a0, s_banner
    call    puts

illegal_insn:
    csrw    cycle, zero             # cycle is read-only: illegal instruction
ecall_insn:
    ecall
ebreak_insn:
    ebreak
    la      t0, scratch + 2
misaligned_lr:
    lr.w    a0, (t0)                # atomics must be naturally aligned
    li      t0, NO_DEVICE
load_fault:
    lw      a0, 0(t0)
store_fault:
    sw      a0, 4(t0)
fetch_fault:
    jalr    t0                      # the handler resumes at ra, just below
    la      a0, s_timer
    call    puts

    # Arm the timer 1000 ticks ahead and wait for it with interrupts masked,
    # so the interrupt is taken exactly after `csrsi mstatus`.
    li      t0, CLINT_MTIME
    ld      t1, 0(t0)
    addi    t1, t1, 1000
    li      t0, CLINT_MTIMECMP
    sd      t1, 0(t0)
    li      t0, MIP_MTIP
    csrs    mie, t0
1:  wfi
    csrr    t0, mip
    andi    t0, t0, MIP_MTIP
    beqz    t0, 1b
    csrsi   mstatus, MSTATUS_MIE
timer_taken_here:
    csrci   mstatus, MSTATUS_MIE

    la      a0, s_summary
    call    puts
    la      t0, trap_count
    ld      a0, 0(t0)
    call    puthex
    li      a0, '\n'
    call    putc
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
2:  j       2b

# The trap handler: print the trap, then resume.
    .balign 4
trap_handler:
    addi    sp, sp, -48
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      t0, 16(sp)
    sd      t1, 24(sp)
    sd      t2, 32(sp)
    la      t0, trap_count
    ld      t1, 0(t0)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    la      a0, s_cause
    call    puts
    csrr    a0, mcause
    call    puthex
    la      a0, s_epc
    call    puts
    csrr    a0, mepc
    call    puthex
    la      a0, s_tval
    call    puts
    csrr    a0, mtval
    call    puthex
    li      a0, '\n'
    call    putc

    csrr    t0, mcause
    bltz    t0, interrupt           # bit 63: an interrupt
    li      t1, 1                   # instruction access fault: return to the caller
    beq     t0, t1, resume_at_ra
    csrr    t0, mepc                # skip the instruction: 2 bytes if compressed
    lhu     t1, 0(t0)
    andi    t1, t1, 3
    li      t2, 3
    addi    t0, t0, 2
    bne     t1, t2, 1f
    addi    t0, t0, 2
1:  csrw    mepc, t0
    j       trap_return
resume_at_ra:
    ld      t0, 0(sp)               # the interrupted code's ra
    csrw    mepc, t0
    j       trap_return
interrupt:
    li      t0, CLINT_MTIMECMP      # acknowledge: push the deadline to never
    li      t1, -1
    sd      t1, 0(t0)
    li      t0, MIP_MTIP
    csrc    mie, t0
trap_return:
    ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      t0, 16(sp)
    ld      t1, 24(sp)
    ld      t2, 32(sp)
    addi    sp, sp, 48
    mret

    .include "include/uart.inc"   # putc, puts, puthex

    .section .rodata
s_banner:   .asciz "trap_demo: M-mode exceptions, then a timer interrupt\n"
s_cause:    .asciz "cause="
s_epc:      .asciz " epc="
s_tval:     .asciz " tval="
s_timer:    .asciz "arming the CLINT timer\n"
s_summary:  .asciz "traps taken: "

    .section .data
    .balign 8
trap_count: .dword 0
scratch:    .dword 0x1122334455667788, 0

    .section .bss
    .balign 16
stack:      .space 4096
stack_top:

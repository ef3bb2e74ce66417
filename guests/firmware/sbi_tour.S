# A tour of the SBI from an S-mode kernel's side, linked at 0x80200000. It
# prints only what every conforming SBI implementation must answer alike, so
# the output is the same under pyvmm's built-in SBI and under OpenSBI (on
# pyvmm or on QEMU): extension probes, an error for an unknown function, HSM
# status, remote fences, a supervisor software interrupt raised by send_ipi, a
# supervisor timer interrupt armed by set_timer, illegal instructions from S
# and from U that the firmware hands back to S-mode, legacy getchar with no input, and a line
# written with the Debug Console extension when the firmware has it (legacy
# putchar otherwise). It ends with SRST shutdown: exit status 0.
        .include "sbi_defs.inc"

        .equ    SIE_SSIE, 1 << 1
        .equ    SIE_STIE, 1 << 5
        .equ    SSTATUS_SIE, 1 << 1
        .equ    SSTATUS_SPP, 1 << 8
        .equ    TIMER_DELAY, 20000              # 2 ms of the 10 MHz timebase

        .text
        .globl _start
_start:
        la      sp, stack_top
        la      t0, trap_entry
        csrw    stvec, t0

        la      a0, msg_hello
        call    puts

        # Probes: 1 for the extensions the kernel relies on, 0 for an unknown one.
        la      s0, probe_table
1:      lwu     s1, 0(s0)
        beqz    s1, 2f
        addi    a0, s0, 4
        call    puts
        mv      a0, s1
        SBI_CALL EID_BASE, 3
        mv      a0, a1
        call    putdec
        addi    s0, s0, 16
        j       1b
2:      li      a0, '\n'
        call    putc

        # An unknown function of a known extension is NOT_SUPPORTED (-2).
        la      a0, msg_unknown_fid
        call    puts
        SBI_CALL EID_BASE, 99
        call    putdec
        li      a0, '\n'
        call    putc

        # HSM: this hart is STARTED (0); starting it again is ALREADY_AVAILABLE (-6).
        la      a0, msg_hsm
        call    puts
        li      a0, 0
        SBI_CALL EID_HSM, 2
        mv      s1, a0
        mv      a0, a1
        call    putdec
        li      a0, '/'
        call    putc
        mv      a0, s1
        call    putdec
        la      a0, msg_hsm_start
        call    puts
        li      a0, 0
        la      a1, _start
        li      a2, 0
        SBI_CALL EID_HSM, 0
        call    putdec
        li      a0, '\n'
        call    putc

        # RFENCE on this hart: both succeed (0).
        la      a0, msg_rfence
        call    puts
        li      a0, 1
        li      a1, 0
        SBI_CALL EID_RFENCE, 0
        call    putdec
        li      a0, ' '
        call    putc
        li      a0, 1
        li      a1, 0
        li      a2, 0
        li      a3, -1
        SBI_CALL EID_RFENCE, 1
        call    putdec
        li      a0, '\n'
        call    putc

        # Software interrupt: send_ipi to ourselves, taken as soon as SIE allows.
        li      t0, SIE_SSIE
        csrs    sie, t0
        csrsi   sstatus, SSTATUS_SIE
        li      a0, 1
        li      a1, 0
        SBI_CALL EID_IPI, 0
        mv      s1, a0
1:      la      t0, ipi_seen
        ld      t0, 0(t0)
        beqz    t0, 1b
        la      a0, msg_ipi
        call    puts
        mv      a0, s1
        call    putdec
        li      a0, '\n'
        call    putc

        # Timer interrupt: set_timer a little ahead, wait for it with wfi.
        li      t0, SIE_STIE
        csrs    sie, t0
        rdtime  a0
        li      t0, TIMER_DELAY
        add     a0, a0, t0
        SBI_CALL EID_TIME, 0
        mv      s1, a0
1:      la      t0, timer_seen
        ld      t0, 0(t0)
        bnez    t0, 2f
        wfi
        j       1b
2:      csrci   sstatus, SSTATUS_SIE
        la      a0, msg_timer
        call    puts
        mv      a0, s1
        call    putdec
        li      a0, '\n'
        call    putc

        # An M-mode CSR from S-mode is illegal: the firmware redirects it to our stvec.
illegal_insn:
        csrr    t0, mscratch
        la      a0, msg_illegal
        call    puts
        la      t0, last_scause
        ld      a0, 0(t0)
        call    putdec
        la      a0, msg_stval
        call    puts
        la      t0, last_stval
        ld      a0, 0(t0)
        call    puthex
        li      a0, '\n'
        call    putc

        # U-mode: an S-mode CSR is illegal there; the firmware redirects it to stvec with
        # SPP = 0. The U-mode ecall that follows is delegated to S and brings us back.
        la      t0, user_code
        csrw    sepc, t0
        li      t0, SSTATUS_SPP
        csrc    sstatus, t0
        sret
back_in_s:
        la      a0, msg_user_illegal
        call    puts
        la      t0, last_scause
        ld      a0, 0(t0)
        call    putdec
        la      a0, msg_stval
        call    puts
        la      t0, last_stval
        ld      a0, 0(t0)
        call    puthex
        la      a0, msg_spp
        call    puts
        la      t0, last_spp
        ld      a0, 0(t0)
        call    putdec
        la      a0, msg_user_ecall
        call    puts
        la      t0, user_ecall_cause
        ld      a0, 0(t0)
        call    putdec
        li      a0, '\n'
        call    putc

        # Legacy getchar with no input pending answers -1.
        la      a0, msg_getchar
        call    puts
        li      a7, 0x02
        ecall
        call    putdec
        li      a0, '\n'
        call    putc

        # Debug Console when present: write the line, then write_byte its newline.
        li      a0, EID_DBCN
        SBI_CALL EID_BASE, 3
        la      s0, msg_console
        beqz    a1, 3f
        la      a1, msg_console_end
        sub     a0, a1, s0
        mv      a1, s0
        li      a2, 0
        SBI_CALL EID_DBCN, 0
        li      a0, '\n'
        SBI_CALL EID_DBCN, 2
        j       4f
3:      mv      a0, s0
        call    puts
        li      a0, '\n'
        call    putc
4:
        la      a0, msg_bye
        call    puts
        call    shutdown

# The S-mode trap handler: interrupts set a flag and silence their source;
# exceptions record scause/stval and skip the faulting instruction.
        .align 2
trap_entry:
        addi    sp, sp, -64
        sd      t0, 0(sp)
        sd      t1, 8(sp)
        sd      a0, 16(sp)
        sd      a1, 24(sp)
        sd      a6, 32(sp)
        sd      a7, 40(sp)
        csrr    t0, scause
        bgez    t0, exception
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 1
        beq     t0, t1, soft_irq
        li      t1, 5
        beq     t0, t1, timer_irq
        j       trap_done                       # not expected: return and let it repeat
soft_irq:
        csrci   sip, SIE_SSIE
        la      t0, ipi_seen
        li      t1, 1
        sd      t1, 0(t0)
        j       trap_done
timer_irq:
        li      a0, -1                          # no next deadline: STIP drops
        SBI_CALL EID_TIME, 0
        li      t0, SIE_STIE
        csrc    sie, t0
        la      t0, timer_seen
        li      t1, 1
        sd      t1, 0(t0)
        j       trap_done
exception:
        li      t1, 8                           # ecall from U: the user part is over
        beq     t0, t1, user_ecall
        la      t1, last_scause
        sd      t0, 0(t1)
        csrr    t0, sstatus
        srli    t0, t0, 8
        andi    t0, t0, 1
        la      t1, last_spp
        sd      t0, 0(t1)
        csrr    t0, stval
        la      t1, last_stval
        sd      t0, 0(t1)
        csrr    t0, sepc
        addi    t0, t0, 4
        csrw    sepc, t0
        j       trap_done
user_ecall:
        la      t1, user_ecall_cause
        sd      t0, 0(t1)
        la      t0, back_in_s
        csrw    sepc, t0
        li      t0, SSTATUS_SPP                 # sret to S-mode
        csrs    sstatus, t0
trap_done:
        ld      t0, 0(sp)
        ld      t1, 8(sp)
        ld      a0, 16(sp)
        ld      a1, 24(sp)
        ld      a6, 32(sp)
        ld      a7, 40(sp)
        addi    sp, sp, 64
        sret

# Runs in U-mode: no stack, no calls.
user_code:
        csrr    t0, sscratch
        ecall
1:      j       1b

        .include "sbi_lib.inc"

        .section .rodata
# 16-byte entries {EID (4 bytes), label (NUL-terminated, at most 12 bytes)}, ended by EID 0
        .balign 16
probe_table:
        .word   EID_TIME
        .asciz  "probe TIME "
        .balign 16
        .word   EID_IPI
        .asciz  " IPI "
        .balign 16
        .word   EID_RFENCE
        .asciz  " RFNC "
        .balign 16
        .word   EID_HSM
        .asciz  " HSM "
        .balign 16
        .word   EID_SRST
        .asciz  " SRST "
        .balign 16
        .word   0x0A5A5A5A
        .asciz  " 0x0A5A5A5A "
        .balign 16
        .word   0
msg_hello:       .string "sbi_tour: S-mode at 0x80200000\n"
msg_unknown_fid: .string "base function 99: "
msg_hsm:         .string "hsm status/error: "
msg_hsm_start:   .string ", start self: "
msg_rfence:      .string "rfence fence_i, sfence_vma: "
msg_ipi:         .string "software interrupt taken after send_ipi: "
msg_timer:       .string "timer interrupt taken after set_timer: "
msg_illegal:     .string "illegal instruction redirected to S-mode: scause "
msg_stval:       .string ", stval "
msg_user_illegal: .string "user illegal instruction: scause "
msg_spp:         .string ", SPP "
msg_user_ecall:  .string "; user ecall: scause "
msg_getchar:     .string "legacy getchar without input: "
msg_console:     .ascii  "debug console line"
msg_console_end:
                 .byte   0
msg_bye:         .string "sbi_tour: done, shutting down\n"

        .data
        .align 3
ipi_seen:    .dword 0
timer_seen:  .dword 0
last_scause: .dword 0
last_stval:  .dword 0
last_spp:    .dword 0
user_ecall_cause: .dword 0

        .bss
        .align 4
stack:  .zero   4096
stack_top:

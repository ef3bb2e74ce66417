# traps.S -- a trap-heavy loop: `bench_iterations` ecalls from M-mode, each
# taken by an M-mode handler that counts it in a0 and returns past the ecall.
#
# The same image is the exit benchmark: with core.exit_on_exception bit 11 set,
# pyvmm leaves run() on each ecall instead and a Python handler does what the
# guest handler does (a0 += 1, pc += 4).
    .section .text
    .globl bench_start
bench_start:
    la      t0, trap_entry
    csrw    mtvec, t0
    la      t0, bench_iterations
    lwu     a1, 0(t0)
    li      a0, 0
    beqz    a1, 2f
1:  ecall
    bltu    a0, a1, 1b
2:  mv      s0, a0
    la      a0, s_label
    call    uart_puts
    mv      a0, s0
    call    uart_put_dec
    li      a0, '\n'
    call    uart_putc
    call    finisher_pass

    .balign 4
trap_entry:
    csrrw   t0, mscratch, t0
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    csrrw   t0, mscratch, t0
    addi    a0, a0, 1
    mret

    .section .rodata
s_label:
    .string "traps handled="

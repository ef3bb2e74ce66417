# Two harts under SBI: the boot hart (whichever the firmware chose, as
# OpenSBI may pick either) starts the other through HSM, which sleeps in WFI
# until the boot hart's IPI (sPI) wakes it; each prints what it saw, the
# second hart stops itself (HSM) and the boot hart shuts the machine down
# once it reads STOPPED. The same bytes natively (--bios builtin --smp 2) and in a VM
# (--technique hw --smp 2).
    .equ    EID_HSM, 0x48534D
    .equ    EID_IPI, 0x735049
    .equ    EID_SRST, 0x53525354
    .equ    SIE_SSIE, 1 << 1

    .section .text
    .globl _start
_start:
    la      sp, stack0
    xori    s1, a0, 1               # the other hart
    li      a0, 'b'
    call    putc
    li      a7, EID_HSM             # hart_start(other, secondary, 0x2a)
    li      a6, 0
    mv      a0, s1
    la      a1, secondary
    li      a2, 0x2a
    ecall
    addi    a0, a0, '0'             # '0': SBI_SUCCESS
    call    putc
    la      t0, ready               # wait until the other hart sleeps
1:  lw      t1, 0(t0)
    beqz    t1, 1b
    li      a7, EID_HSM             # starting it again: ALREADY_AVAILABLE (-6)
    li      a6, 0
    mv      a0, s1
    la      a1, secondary
    li      a2, 0
    ecall
    neg     a0, a0
    addi    a0, a0, '0'
    call    putc
    li      a7, EID_IPI             # send_ipi(mask 1, base other)
    li      a6, 0
    li      a0, 1
    mv      a1, s1
    ecall
    la      t0, woken
2:  lw      t1, 0(t0)
    beqz    t1, 2b
3:  li      a7, EID_HSM             # hart_get_status(other) until STOPPED (1)
    li      a6, 2
    mv      a0, s1
    ecall
    li      t2, 1
    bne     a1, t2, 3b
    li      a0, 's'
    call    putc
    li      a0, '\n'
    call    putc
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
4:  j       4b

secondary:
    la      sp, stack1
    mv      s0, a1                  # opaque: 0x2a
    li      a0, '1'
    call    putc
    li      t0, SIE_SSIE
    csrs    sie, t0
    la      t0, ready
    li      t1, 1
    sw      t1, 0(t0)
5:  wfi                             # sstatus.SIE is 0: wakes, takes no trap
    csrr    t0, sip
    andi    t0, t0, SIE_SSIE
    beqz    t0, 5b
    csrc    sip, SIE_SSIE
    li      a0, 'i'
    call    putc
    mv      a0, s0
    call    putc                    # '*' (0x2a)
    la      t0, woken
    li      t1, 1
    sw      t1, 0(t0)
    li      a7, EID_HSM             # hart_stop
    li      a6, 1
    ecall
6:  j       6b

putc:                               # legacy console_putchar
    li      a7, 1
    ecall
    ret

    .data
    .align 3
ready:  .word 0
woken:  .word 0
    .align 4
    .space 512
stack0:
    .space 512
stack1:

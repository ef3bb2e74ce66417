"""Small guests for the board's end-to-end tests (GNU `as` syntax, M-mode at RAM base)."""

PRELUDE = """
    .equ UART, 0x10000000
    .equ TEST, 0x100000
    .macro FINISH status
        li t0, TEST
        li t1, \\status
        sw t1, 0(t0)
    99: j 99b
    .endm
"""

# putc a0 / puts a0 / puthex a0 (16 digits), clobber t0-t3, a0-a2.
ROUTINES = """
putc:
    li t0, UART
1:  lbu t1, 5(t0)
    andi t1, t1, 0x20
    beqz t1, 1b
    sb a0, 0(t0)
    ret
puts:
    mv a2, ra
    mv t2, a0
2:  lbu a0, 0(t2)
    beqz a0, 3f
    call putc
    addi t2, t2, 1
    j 2b
3:  mv ra, a2
    ret
puthex:
    mv a2, ra
    mv t2, a0
    li t3, 60
4:  srl a0, t2, t3
    andi a0, a0, 15
    addi a0, a0, 48
    li t1, 58
    blt a0, t1, 5f
    addi a0, a0, 39
5:  call putc
    addi t3, t3, -4
    bgez t3, 4b
    li a0, 10
    call putc
    mv ra, a2
    ret
"""

HELLO = PRELUDE + """
    .globl _start
_start:
    la a0, msg
    call puts
    FINISH 0x5555
""" + ROUTINES + """
    .section .rodata
msg: .asciz "hello from the virt board\\n"
"""

FAIL_7 = PRELUDE + """
    .globl _start
_start:
    FINISH 0x73333
"""

SPIN = """
    .globl _start
_start:
    li a0, 0
1:  addi a0, a0, 1
    j 1b
"""

IDLE = """
    .globl _start
_start:
    csrw mie, zero
1:  wfi
    j 1b
"""

# Echo console input upper-cased until a newline, then pass.
ECHO = PRELUDE + """
    .globl _start
_start:
    li s0, UART
1:  lbu t1, 5(s0)
    andi t1, t1, 1
    beqz t1, 1b
    lbu a0, 0(s0)
    li t1, 'a'
    blt a0, t1, 2f
    li t1, 'z'
    bgt a0, t1, 2f
    addi a0, a0, -32
2:  mv s1, a0
    call putc
    li t1, 10
    bne s1, t1, 1b
    FINISH 0x5555
""" + ROUTINES

# A load from an address no device decodes takes a load access fault;
# the handler reports mcause and mtval, then fails with mcause as the code.
UNMAPPED = PRELUDE + """
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s0, 0x10009000            /* just past the last virtio-mmio slot */
    lw a0, 0(s0)
    FINISH 0x5555
    .align 2
handler:
    csrr a0, mcause
    call puthex
    csrr a0, mtval
    call puthex
    csrr s1, mcause
    slli s1, s1, 16
    li t1, 0x3333
    or s1, s1, t1
    li t0, TEST
    sw s1, 0(t0)
9:  j 9b
""" + ROUTINES

# An M-mode ecall taken by the guest's own handler (for --trace int).
ECALL = PRELUDE + """
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    ecall
    FINISH 0x5555
    .align 2
handler:
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
"""

# Reads the board's reset and WARL values and prints them, one per line:
# compared line by line with QEMU 7.2.
PROBE = PRELUDE + """
    .equ PLIC, 0x0c000000
    .equ VIRTIO, 0x10001000
    .globl _start
_start:
    li s0, VIRTIO
    lw a0, 0(s0)            /* MagicValue */
    call puthex
    lw a0, 4(s0)            /* Version */
    call puthex
    lw a0, 8(s0)            /* DeviceID */
    call puthex
    lw a0, 12(s0)           /* VendorID */
    call puthex
    li s0, UART
    lbu a0, 2(s0)           /* IIR */
    call puthex
    lbu a0, 3(s0)           /* LCR */
    call puthex
    lbu a0, 4(s0)           /* MCR */
    call puthex
    lbu a0, 5(s0)           /* LSR */
    call puthex
    lbu a0, 6(s0)           /* MSR */
    call puthex
    li t0, 0xc1             /* FIFO on, trigger 14 */
    sb t0, 2(s0)
    lbu a0, 2(s0)           /* IIR with FIFOs enabled */
    call puthex
    li t0, 0x83             /* DLAB: divisor latch (nothing printed meanwhile) */
    sb t0, 3(s0)
    li t0, 0x0c
    sb t0, 0(s0)
    li t0, 0x01
    sb t0, 1(s0)
    lbu s2, 0(s0)
    lbu s3, 1(s0)
    li t0, 0x03
    sb t0, 3(s0)
    lbu s4, 1(s0)           /* IER again */
    mv a0, s2
    call puthex
    mv a0, s3
    call puthex
    mv a0, s4
    call puthex
    li t0, 0x5a
    sb t0, 7(s0)            /* SCR */
    lbu a0, 7(s0)
    call puthex
    li t0, 0x13             /* loopback, DTR, RTS: a byte sent comes back */
    sb t0, 4(s0)
    li t0, 0x42
    sb t0, 0(s0)
    lbu s2, 5(s0)
    lbu s3, 0(s0)
    lbu s4, 5(s0)
    lbu s5, 6(s0)           /* MSR in loopback */
    lbu s6, 6(s0)           /* deltas cleared by the first read */
    li t0, 0x08
    sb t0, 4(s0)
    mv a0, s2
    call puthex
    mv a0, s3
    call puthex
    mv a0, s4
    call puthex
    mv a0, s5
    call puthex
    mv a0, s6
    call puthex
    li s0, PLIC
    li t0, -1
    sw t0, 40(s0)           /* priority of source 10: WARL */
    lw a0, 40(s0)
    call puthex
    li t0, -1
    li s1, PLIC + 0x2000
    sw t0, 0(s1)            /* context 0 enables, sources 0..31 */
    lw a0, 0(s1)
    call puthex
    li t0, -1
    sw t0, 8(s1)            /* sources 64..95 */
    lw a0, 8(s1)
    call puthex
    li s1, PLIC + 0x200000
    li t0, 5
    sw t0, 0(s1)            /* context 0 threshold */
    lw a0, 0(s1)
    call puthex
    li t0, -1
    sw t0, 0(s1)            /* out of range */
    lw a0, 0(s1)
    call puthex
    sw zero, 0(s1)
    FINISH 0x5555
""" + ROUTINES

# An S-mode kernel for --bios builtin (linked at RAM base + 2 MiB): checks
# a1 points at a device tree, prints through the legacy SBI putchar, shuts
# down through SRST.
SKERNEL = """
    .globl _start
_start:
    lwu t0, 0(a1)
    li t1, 0xedfe0dd0           /* FDT magic 0xd00dfeed, big-endian */
    la s0, bad
    bne t0, t1, 1f
    la s0, msg
1:  lbu a0, 0(s0)
    beqz a0, 2f
    li a7, 1                    /* legacy console_putchar */
    ecall
    addi s0, s0, 1
    j 1b
2:  li a7, 0x53525354           /* SRST system_reset(shutdown, no reason) */
    li a6, 0
    li a0, 0
    li a1, 0
    ecall
3:  j 3b
    .section .rodata
msg: .asciz "hello from S-mode\\n"
bad: .asciz "no device tree in a1\\n"
"""

RESET = PRELUDE + """
    .globl _start
_start:
    FINISH 0x7777
"""

UNMAPPED_STORE = UNMAPPED.replace("    lw a0, 0(s0)\n", "    sw a0, 0(s0)\n")
assert UNMAPPED_STORE != UNMAPPED

# Interrupt-driven echo: UART RX interrupt -> PLIC source 10 -> context 0
# (M-mode external interrupt); the hart sleeps in WFI between interrupts.
IRQ_ECHO = PRELUDE + """
    .equ PLIC, 0x0c000000
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li s0, UART
    li t0, 1
    sb t0, 1(s0)                /* IER: received data available */
    li s1, PLIC
    li t0, 1
    sw t0, 40(s1)               /* priority of source 10 */
    li t1, PLIC + 0x2000
    li t0, 1 << 10
    sw t0, 0(t1)                /* enable source 10 for context 0 */
    li t1, PLIC + 0x200000
    sw zero, 0(t1)              /* threshold 0 */
    li t0, 0x800
    csrs mie, t0                /* MEIE */
    csrsi mstatus, 8            /* MIE */
1:  wfi
    j 1b
    .align 2
trap:
    li t1, PLIC + 0x200004
    lw s2, 0(t1)                /* claim */
2:  lbu t0, 5(s0)
    andi t0, t0, 1
    beqz t0, 3f
    lbu a0, 0(s0)
    mv s3, a0
    call putc
    li t0, 10
    beq s3, t0, 4f
    j 2b
3:  li t1, PLIC + 0x200004
    sw s2, 0(t1)                /* complete */
    mret
4:  mv a0, s2
    call puthex
    FINISH 0x5555
""" + ROUTINES

# PLIC claim/complete with a level-triggered source: the UART in loopback
# holds its receive interrupt high while a byte waits unread. Results are
# stored, then printed once loopback is off.
PLIC_CLAIMS = PRELUDE + """
    .equ PLIC, 0x0c000000
    .equ PENDING, PLIC + 0x1000
    .equ ENABLE0, PLIC + 0x2000
    .equ CLAIM0, PLIC + 0x200004
    .macro SAVE reg
        sd \\reg, 0(s5)
        addi s5, s5, 8
    .endm
    .globl _start
_start:
    la s5, results
    li s0, UART
    li s1, PLIC
    li t0, 3
    sw t0, 40(s1)               /* priority of source 10 */
    li s2, ENABLE0
    li t0, 1 << 10
    sw t0, 0(s2)
    li s3, CLAIM0
    li s4, PENDING
    li t0, 0x10
    sb t0, 4(s0)                /* loopback */
    li t0, 1
    sb t0, 1(s0)                /* IER: RDI */
    li t0, 0x55
    sb t0, 0(s0)                /* the byte comes back: RX interrupt high */
    lw t0, 0(s4)
    SAVE t0                     /* pending */
    lw t0, 0(s3)
    SAVE t0                     /* claim */
    lw t0, 0(s4)
    SAVE t0                     /* pending after the claim */
    lw t0, 0(s3)
    SAVE t0                     /* second claim */
    li t0, 10
    sw t0, 0(s3)                /* complete, the line still high */
    lw t0, 0(s4)
    SAVE t0
    lbu t0, 2(s0)               /* IIR read: the UART updates its line */
    lw t0, 0(s4)
    SAVE t0
    lw t0, 0(s3)
    SAVE t0                     /* claim again */
    sw zero, 0(s2)              /* disable, then complete: ignored? */
    li t0, 10
    sw t0, 0(s3)
    li t0, 1 << 10
    sw t0, 0(s2)
    lbu t0, 2(s0)
    lw t0, 0(s3)
    SAVE t0                     /* claim after a completion while disabled */
    li t0, 10
    sw t0, 0(s3)
    lbu t0, 0(s0)               /* read the byte: line low */
    lw t0, 0(s4)
    SAVE t0
    lw t0, 0(s3)
    SAVE t0
    sb zero, 1(s0)
    li t0, 0x08
    sb t0, 4(s0)                /* loopback off */
    la s6, results
7:  beq s6, s5, 8f
    ld a0, 0(s6)
    call puthex
    addi s6, s6, 8
    j 7b
8:  FINISH 0x5555
""" + ROUTINES + """
    .bss
    .align 3
results: .space 128
"""

# Interrupt-driven transmit, as Linux's 8250 driver does it: each
# transmitter-empty interrupt sends one byte. Prints the first IIR seen and
# how many interrupts it took.
TX_IRQ = PRELUDE + """
    .equ PLIC, 0x0c000000
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li s0, UART
    li s1, PLIC
    li t0, 1
    sw t0, 40(s1)
    li t1, PLIC + 0x2000
    li t0, 1 << 10
    sw t0, 0(t1)
    la s2, msg
    li s4, 0                    /* interrupts taken */
    li s5, -1                   /* first IIR */
    li t0, 0x800
    csrs mie, t0
    csrsi mstatus, 8
    li t0, 2
    sb t0, 1(s0)                /* IER: THRI -> interrupt at once */
1:  wfi
    j 1b
    .align 2
trap:
    li t1, PLIC + 0x200004
    lw s3, 0(t1)
    addi s4, s4, 1
    lbu t0, 2(s0)
    bgez s5, 2f
    mv s5, t0
2:  lbu a0, 0(s2)
    beqz a0, 3f
    sb a0, 0(s0)
    addi s2, s2, 1
    li t1, PLIC + 0x200004
    sw s3, 0(t1)
    mret
3:  sb zero, 1(s0)
    li t1, PLIC + 0x200004
    sw s3, 0(t1)
    mv a0, s5
    call puthex
    mv a0, s4
    call puthex
    FINISH 0x5555
""" + ROUTINES + """
    .section .rodata
msg: .asciz "sent by transmitter-empty interrupts\\n"
"""

# The same echo in S-mode: M-mode delegates the supervisor external
# interrupt, the PLIC's context 1 routes the UART to SEIP.
S_IRQ_ECHO = PRELUDE + """
    .equ PLIC, 0x0c000000
    .globl _start
_start:
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, 0x200
    csrw mideleg, t0            /* supervisor external interrupt -> S */
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x800
    csrs mstatus, t0            /* MPP = S */
    la t0, s_entry
    csrw mepc, t0
    mret
s_entry:
    la t0, strap
    csrw stvec, t0
    li s0, UART
    li t0, 1
    sb t0, 1(s0)
    li s1, PLIC
    li t0, 2
    sw t0, 40(s1)
    li t1, PLIC + 0x2080        /* context 1 (S-mode) enables */
    li t0, 1 << 10
    sw t0, 0(t1)
    li t1, PLIC + 0x201000
    li t0, 1
    sw t0, 0(t1)                /* threshold 1 < priority 2 */
    li t0, 0x200
    csrs sie, t0
    csrsi sstatus, 2
1:  wfi
    j 1b
    .align 2
strap:
    csrr a0, scause
    call puthex
    li t1, PLIC + 0x201004
    lw s2, 0(t1)
2:  lbu t0, 5(s0)
    andi t0, t0, 1
    beqz t0, 3f
    lbu a0, 0(s0)
    mv s3, a0
    call putc
    li t0, 10
    beq s3, t0, 4f
    j 2b
3:  li t1, PLIC + 0x201004
    sw s2, 0(t1)
    sret
4:  FINISH 0x5555
""" + ROUTINES

# A minimal M-mode "firmware" that jumps to the payload at RAM base + 2 MiB.
JUMP_TO_PAYLOAD = """
    .globl _start
_start:
    li t0, 0x80200000
    jr t0
"""

"""Guests that spend an instruction budget without retiring anything (trap
storms), and one that runs for ever after a line: the budget and signal tests
of the board and of the hypervisor share them."""

# M-mode (--bios none): the handler loads from address 0, which is neither RAM
# nor a device: every access goes out to Python, faults, and traps to itself.
MMIO_STORM_M = """
    .section .text
    .globl _start
_start:
    la      t0, handler
    csrw    mtvec, t0
handler:
    ld      t1, 0(zero)
    j       handler
"""

# M-mode: the handler is an illegal instruction (traps taken inside the core).
ILLEGAL_STORM_M = """
    .section .text
    .globl _start
_start:
    la      t0, handler
    csrw    mtvec, t0
    ld      t1, 0(zero)
    .balign 4
handler:
    .word   0
"""

# S-mode kernels for --bios builtin (and the hypervisor techniques).
MMIO_STORM_S = MMIO_STORM_M.replace("mtvec", "stvec")
ILLEGAL_STORM_S = """
    .section .text
    .globl _start
_start:
    la      t0, handler
    csrw    stvec, t0
    .balign 4
handler:
    .word   0
"""

# Prints one line, then spins for ever (a long-running guest to stop with a signal).
SPIN_AFTER_LINE = """
    .section .text
    .globl _start
_start:
    li      t0, 0x10000000
    li      t1, 'R'
    sb      t1, 0(t0)
    li      t1, '\\n'
    sb      t1, 0(t0)
1:  addi    t2, t2, 1
    j       1b
"""

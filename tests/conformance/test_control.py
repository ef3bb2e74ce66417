"""Branches (taken and not taken), JAL and JALR (link value, bit 0 of the target cleared)."""

import pytest

from . import harness, spec
from .cases import expect_no_traps, expect_regs, ident, li

BRANCHES = {
    "beq": lambda a, b: a == b,
    "bne": lambda a, b: a != b,
    "blt": lambda a, b: spec.s64(a) < spec.s64(b),
    "bge": lambda a, b: spec.s64(a) >= spec.s64(b),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
}
BRANCH_PAIRS = [(0, 0), (1, 2), (2, 1), (spec.MASK64, 1), (1, spec.MASK64),
                (0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF), (5, 5), (spec.MASK64, spec.MASK64)]
CASES = [pytest.param(op, a, b, id=f"{op}-{ident(a)}-{ident(b)}")
         for op in BRANCHES for a, b in BRANCH_PAIRS]


@pytest.mark.parametrize("op,a,b", CASES)
def test_branch_forward(op, a, b):
    body = (li("a0", a) + li("a1", b)
            + f"    {op} a0, a1, 1f\n    li a2, 1\n    j 2f\n1:  li a2, 2\n2:\n")
    r = harness.run(body)
    expect_no_traps(r)
    expect_regs(r, a2=2 if BRANCHES[op](a, b) else 1)


@pytest.mark.parametrize("op", sorted(BRANCHES))
def test_branch_backward_loop(op):
    """A backward branch closing a counted loop: taken until the condition fails."""
    cond = {"beq": ("a3", "zero"), "bne": ("a0", "a1"), "blt": ("a0", "a1"),
            "bge": ("a1", "a0"), "bltu": ("a0", "a1"), "bgeu": ("a1", "a0")}[op]
    # Each loop counts a0 up to 10; beq loops while a3 = (a0 >= 10) is still 0.
    body = (li("a1", 10)
            + "1:  addi a0, a0, 1\n"
            + "    sltu a3, a0, a1\n    xori a3, a3, 1\n"
            + (f"    {op} {cond[0]}, {cond[1]}, 1b\n" if op not in ("bge", "bgeu")
               else f"    addi a5, a0, 1\n    {op} a1, a5, 1b\n"))
    r = harness.run(body)
    expect_regs(r, a0=10)


def test_jal_links_and_jumps():
    body = ("    li a2, 0\njal_at:\n    jal ra, 1f\n    li a2, 99\n1:  addi a2, a2, 1\n")
    r = harness.run(body)
    expect_regs(r, a2=1, ra=r.symbols["jal_at"] + 4)


def test_jal_backward_and_x0_link():
    body = ("    j 2f\n1:  li a2, 7\n    j 3f\n2:  jal zero, 1b\n3:\n")
    r = harness.run(body)
    expect_regs(r, a2=7, zero=0)


@pytest.mark.parametrize("offset", [0, 1, 4, 5, -4, -3])
def test_jalr_clears_bit0(offset):
    """target = (rs1 + imm) & ~1; the link is pc + 4."""
    # land_* are 4-byte instructions (.option norvc not needed: li with a big value is not compressed)
    body = (f"    la a0, target - ({offset})\n"
            f"jalr_at:\n    jalr ra, {offset}(a0)\n"
            "    li a2, 111\n    j 9f\n"
            "    .balign 4\n"
            "target:\n    li a2, 222\n9:\n")
    r = harness.run(body)
    expect_no_traps(r)
    expect_regs(r, a2=222, ra=r.symbols["jalr_at"] + 4)


def test_jalr_rd_equals_rs1():
    """The target uses the old rs1 even when rd = rs1."""
    body = ("    la a0, target\njalr_at:\n    jalr a0, 0(a0)\n    li a2, 1\n    j 9f\n"
            "target:\n    li a2, 2\n9:\n")
    r = harness.run(body)
    expect_regs(r, a2=2, a0=r.symbols["jalr_at"] + 4)

"""RV64I computational instructions: register, immediate and *W forms, LUI/AUIPC."""

import pytest

from . import harness, spec
from .cases import PAIRS, SHIFT_AMOUNTS, SHIFT_VALUES, expect_no_traps, expect_regs, ident, li

SHIFTS = {"sll", "srl", "sra", "sllw", "srlw", "sraw"}
R_CASES = []
for op, fn in spec.R_TYPE.items():
    if op in SHIFTS:
        pairs = [(v, s) for v in SHIFT_VALUES for s in SHIFT_AMOUNTS]
    else:
        pairs = PAIRS
    for a, b in pairs:
        R_CASES.append(pytest.param(op, a, b, id=f"{op}-{ident(a)}-{ident(b)}"))


@pytest.mark.parametrize("op,a,b", R_CASES)
def test_register_register(op, a, b):
    r = harness.run(li("a0", a) + li("a1", b) + f"    {op} a2, a0, a1\n")
    expect_no_traps(r)
    expect_regs(r, a2=spec.R_TYPE[op](a, b), a0=a, a1=b)


@pytest.mark.parametrize("op", sorted(spec.R_TYPE))
def test_register_register_aliasing(op):
    """rd = rs1 = rs2: the operands are read before rd is written."""
    a = 0x8765_4321_0FED_CBA9
    r = harness.run(li("a3", a) + f"    {op} a3, a3, a3\n")
    expect_regs(r, a3=spec.R_TYPE[op](a, a))


@pytest.mark.parametrize("op", sorted(spec.R_TYPE))
def test_write_to_x0_is_discarded(op):
    r = harness.run(li("a0", 5) + li("a1", 7) + f"    {op} zero, a0, a1\n    mv a2, zero\n")
    expect_regs(r, a2=0, zero=0)


IMMEDIATES = [0, 1, -1, 2047, -2048, 0x555, -0x556]
I_VALUES = [0, 1, spec.MASK64, 0x7FFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_8000_0000,
            0x1234_5678_9ABC_DEF0, 0x7FF]
I_CASES = [pytest.param(op, a, imm, id=f"{op}-{ident(a)}-{imm}")
           for op in spec.I_TYPE for a in I_VALUES for imm in IMMEDIATES]


@pytest.mark.parametrize("op,a,imm", I_CASES)
def test_register_immediate(op, a, imm):
    r = harness.run(li("a0", a) + f"    {op} a2, a0, {imm}\n")
    expect_no_traps(r)
    expect_regs(r, a2=spec.I_TYPE[op](a, imm), a0=a)


SHIFT_IMM_CASES = []
for op, (fn, top) in spec.SHIFT_IMM.items():
    for v in SHIFT_VALUES:
        for sh in sorted({0, 1, 31, top} | ({32, 63} if top == 63 else set())):
            SHIFT_IMM_CASES.append(pytest.param(op, v, sh, id=f"{op}-{ident(v)}-{sh}"))


@pytest.mark.parametrize("op,a,sh", SHIFT_IMM_CASES)
def test_shift_immediate(op, a, sh):
    r = harness.run(li("a0", a) + f"    {op} a2, a0, {sh}\n")
    expect_regs(r, a2=spec.SHIFT_IMM[op][0](a, sh))


@pytest.mark.parametrize("imm20", [0, 1, 0x7FFFF, 0x80000, 0xFFFFF, 0x12345])
def test_lui(imm20):
    r = harness.run(f"    lui     a0, {imm20:#x}\n")
    expect_regs(r, a0=spec.lui(imm20))


@pytest.mark.parametrize("imm20", [0, 1, 0x7FFFF, 0x80000, 0xFFFFF])
def test_auipc(imm20):
    r = harness.run(f"auipc_here:\n    auipc   a0, {imm20:#x}\n")
    expect_regs(r, a0=spec.u64(r.symbols["auipc_here"] + spec.s64(spec.lui(imm20))))


def test_x0_is_hardwired_zero():
    r = harness.run("    addi zero, zero, 5\n    lui zero, 0x12345\n    mv a0, zero\n")
    expect_regs(r, a0=0, zero=0)

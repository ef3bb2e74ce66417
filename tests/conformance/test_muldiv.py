"""M extension: multiply high halves, division by zero and signed overflow, *W forms."""

import pytest

from . import harness, spec
from .cases import PAIRS, expect_no_traps, expect_regs, ident, li

CASES = [pytest.param(op, a, b, id=f"{op}-{ident(a)}-{ident(b)}")
         for op in spec.M_TYPE for a, b in PAIRS]


@pytest.mark.parametrize("op,a,b", CASES)
def test_multiply_divide(op, a, b):
    r = harness.run(li("a0", a) + li("a1", b) + f"    {op} a2, a0, a1\n")
    expect_no_traps(r)
    expect_regs(r, a2=spec.M_TYPE[op](a, b), a0=a, a1=b)


@pytest.mark.parametrize("op", sorted(spec.M_TYPE))
def test_multiply_divide_aliasing(op):
    a = 0xF0E1_D2C3_B4A5_9687
    r = harness.run(li("a3", a) + f"    {op} a3, a3, a3\n")
    expect_regs(r, a3=spec.M_TYPE[op](a, a))


def test_spec_reference_values():
    """The reference model itself against the ISA manual's table of division special cases."""
    m1, mn = spec.MASK64, 1 << 63
    assert spec.div(5, 0) == m1 and spec.divu(5, 0) == m1
    assert spec.rem(5, 0) == 5 and spec.remu(5, 0) == 5
    assert spec.div(mn, m1) == mn and spec.rem(mn, m1) == 0
    assert spec.divw(0x8000_0000, m1) == 0xFFFF_FFFF_8000_0000 and spec.remw(0x8000_0000, m1) == 0
    assert spec.divuw(5, 0) == m1 and spec.remuw(0x8000_0000, 0) == 0xFFFF_FFFF_8000_0000
    assert spec.div(spec.u64(-7), 2) == spec.u64(-3) and spec.rem(spec.u64(-7), 2) == spec.u64(-1)
    assert spec.mulh(m1, m1) == 0 and spec.mulhu(m1, m1) == m1 - 1 and spec.mulhsu(m1, m1) == m1

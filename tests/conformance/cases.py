"""Shared operand sets and helpers for building conformance cases."""

from . import spec

# Edge values every two-operand ALU/M operation is tried on.
EDGES = [
    0, 1, spec.MASK64,                      # 0, 1, -1
    0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000,
    0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFF_8000_0000,
    0x1234_5678_9ABC_DEF0, 0xFEDC_BA98_7654_3210, 3, 0xFFFF_FFFF_FFFF_FFF9,   # -7
]

# Operand pairs: a cross-section of EDGES plus the special cases of division.
PAIRS = [
    (0, 0), (1, 1), (spec.MASK64, 1), (1, spec.MASK64),
    (0x7FFF_FFFF_FFFF_FFFF, 1), (0x8000_0000_0000_0000, spec.MASK64),
    (0x8000_0000_0000_0000, 1), (0x7FFF_FFFF, 1), (0x8000_0000, spec.MASK64),
    (0xFFFF_FFFF_8000_0000, spec.MASK64), (0xFFFF_FFFF, 0xFFFF_FFFF),
    (0x1234_5678_9ABC_DEF0, 0xFEDC_BA98_7654_3210),
    (0xFFFF_FFFF_FFFF_FFF9, 3), (7, 0xFFFF_FFFF_FFFF_FFFD), (0xFFFF_FFFF_FFFF_FFF9, 0xFFFF_FFFF_FFFF_FFFD),
    (42, 0), (0xFFFF_FFFF_FFFF_FFF9, 0), (0x8000_0000_0000_0000, 0),
    (0x1_0000_0007, 0x1_0000_0000),      # *W forms see 7 / 0
]

SHIFT_AMOUNTS = [0, 1, 31, 32, 33, 63, 64, 127 + 64]   # register forms use only the low bits
SHIFT_VALUES = [0x8000_0000_0000_0001, 0x1234_5678_8765_4321, 0x0000_0000_8000_0000, spec.MASK64]


def ident(value):
    """A short, stable test id fragment for a 64-bit value."""
    s = spec.s64(value)
    return str(s) if -1000 < s < 1000 else f"{value:#x}"


def li(reg, value):
    return f"    li      {reg}, {spec.s64(value)}\n"


def expect_regs(result, **expected):
    """Assert each named register holds the expected 64-bit value (shows hex on failure)."""
    for reg, value in expected.items():
        got = result[reg]
        assert got == spec.u64(value), f"{reg}: expected {spec.hex64(value)}, got {spec.hex64(got)}"


def expect_no_traps(result):
    assert not result.traps, f"unexpected traps: {result.traps}"


MODE_NUMBER = {"U": 0, "S": 1, "M": 3}


def enter(mode, label):
    """Assembly: from M-mode, continue at `label` in `mode` (U/S/M) through mret."""
    return (f"    li t0, 0x1800\n    csrc mstatus, t0\n    li t0, {MODE_NUMBER[mode] << 11}\n"
            f"    csrs mstatus, t0\n    la t0, {label}\n    csrw mepc, t0\n    mret\n")


CSR_FUNCT3 = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}


def csr_encoding(op, rd, csr, rs1_or_uimm):
    """The 32-bit encoding of a Zicsr instruction (rd/rs1 as register numbers)."""
    return (csr << 20) | (rs1_or_uimm << 15) | (CSR_FUNCT3[op] << 12) | (rd << 7) | 0x73


def traps_summary(result):
    return [(t.cause, t.epc, t.tval) for t in result.traps]

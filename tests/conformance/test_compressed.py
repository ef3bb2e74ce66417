"""C extension: every RV64C integer instruction gives the result of its 32-bit expansion.

Each case also checks that the instruction really is 2 bytes long, so the
compressed decoder (not the 32-bit one) is what is being tested.
"""

import pytest

from . import harness, spec
from .cases import expect_no_traps, expect_regs, li

A = 0x8765_4321_FEDC_BA98
B = 0x0123_4567_89AB_CDEF
NEG = spec.u64(-5)

# (id, setup, compressed instruction, expected registers: dict or callable(result) -> dict)
CASES = [
    ("c.addi-pos", li("a0", A), "c.addi a0, 31", {"a0": spec.addi(A, 31)}),
    ("c.addi-neg", li("a0", 5), "c.addi a0, -32", {"a0": spec.addi(5, -32)}),
    ("c.addiw-wrap", li("a0", 0x7FFF_FFFF), "c.addiw a0, 1", {"a0": spec.addiw(0x7FFF_FFFF, 1)}),
    ("c.addiw-0-sext", li("a0", 0x1_8000_0000), "c.addiw a0, 0", {"a0": spec.addiw(0x1_8000_0000, 0)}),
    ("c.li-neg", "", "c.li a0, -32", {"a0": spec.u64(-32)}),
    ("c.li-pos", "", "c.li a5, 31", {"a5": 31}),
    ("c.lui-pos", "", "c.lui a0, 0x1f", {"a0": spec.lui(0x1F)}),
    ("c.lui-neg", "", "c.lui a0, 0xfffe0", {"a0": spec.lui(0xFFFE0)}),
    ("c.srli-63", li("a0", A), "c.srli a0, 63", {"a0": spec.srli(A, 63)}),
    ("c.srli-1", li("a0", A), "c.srli a0, 1", {"a0": spec.srli(A, 1)}),
    ("c.srai-32", li("a0", A), "c.srai a0, 32", {"a0": spec.srai(A, 32)}),
    ("c.srai-63", li("a0", A), "c.srai a0, 63", {"a0": spec.srai(A, 63)}),
    ("c.andi-neg", li("a0", A), "c.andi a0, -16", {"a0": spec.andi(A, -16)}),
    ("c.andi-pos", li("a0", A), "c.andi a0, 27", {"a0": spec.andi(A, 27)}),
    ("c.slli-63", li("a0", 3), "c.slli a0, 63", {"a0": spec.slli(3, 63)}),
    ("c.slli-12", li("t3", A), "c.slli t3, 12", {"t3": spec.slli(A, 12)}),
    ("c.sub", li("a0", A) + li("a1", B), "c.sub a0, a1", {"a0": spec.sub(A, B)}),
    ("c.xor", li("a0", A) + li("a1", B), "c.xor a0, a1", {"a0": spec.xor(A, B)}),
    ("c.or", li("a0", A) + li("a1", B), "c.or a0, a1", {"a0": spec.or_(A, B)}),
    ("c.and", li("a0", A) + li("a1", B), "c.and a0, a1", {"a0": spec.and_(A, B)}),
    ("c.subw", li("a0", A) + li("a1", B), "c.subw a0, a1", {"a0": spec.subw(A, B)}),
    ("c.addw", li("a0", A) + li("a1", B), "c.addw a0, a1", {"a0": spec.addw(A, B)}),
    ("c.mv", li("a1", B), "c.mv t4, a1", {"t4": B, "a1": B}),
    ("c.add", li("t4", A) + li("a1", B), "c.add t4, a1", {"t4": spec.add(A, B)}),
    ("c.nop", li("a0", 9), "c.nop", {"a0": 9}),
    ("c.addi4spn", "", "c.addi4spn a0, sp, 1020",
     lambda r: {"a0": r.symbols["__stack_top"] + 1020}),
    ("c.addi16sp-neg", "", "c.addi16sp sp, -512",
     lambda r: {"sp": r.symbols["__stack_top"] - 512}),
    ("c.addi16sp-pos", "    addi sp, sp, -1024\n", "c.addi16sp sp, 496",
     lambda r: {"sp": r.symbols["__stack_top"] - 1024 + 496}),
]

LOAD_STORE = [
    # (id, setup, instruction, expected)
    ("c.lw", "    la a1, words\n", "c.lw a0, 4(a1)", {"a0": spec.sext(0x8000_0001, 32)}),
    ("c.lw-124", "    la a1, words\n", "c.lw a0, 124(a1)", {"a0": 0x7654_3210}),
    ("c.ld", "    la a1, words\n", "c.ld a0, 8(a1)", {"a0": 0xFEDC_BA98_0000_0002}),
    ("c.ld-248", "    la a1, words\n", "c.ld a0, 248(a1)", {"a0": 0x0123_4567_89AB_CDEF}),
    ("c.lwsp", "    la sp, words\n", "c.lwsp a0, 4(sp)", {"a0": spec.sext(0x8000_0001, 32)}),
    ("c.ldsp", "    la sp, words\n", "c.ldsp a0, 248(sp)", {"a0": 0x0123_4567_89AB_CDEF}),
]
WORDS = ("    .balign 8\nwords:\n    .word 0, 0x80000001, 2, 0xfedcba98\n    .space 124 - 16\n"
         "    .word 0x76543210\n    .space 248 - 128\n    .dword 0x0123456789abcdef\n")


def _check(r, expected):
    if callable(expected):
        expected = expected(r)
    expect_regs(r, **expected)


def _body(setup, insn):
    return setup + f"c_start:\n    {insn}\nc_end:\n"


def _assert_compressed(r):
    assert r.symbols["c_end"] - r.symbols["c_start"] == 2, "the assembler did not emit a 2-byte instruction"


@pytest.mark.parametrize("setup,insn,expected", [pytest.param(s, i, e, id=n) for n, s, i, e in CASES])
def test_compressed_alu(setup, insn, expected):
    r = harness.run(_body(setup, insn))
    expect_no_traps(r)
    _assert_compressed(r)
    _check(r, expected)


@pytest.mark.parametrize("setup,insn,expected", [pytest.param(s, i, e, id=n) for n, s, i, e in LOAD_STORE])
def test_compressed_load(setup, insn, expected):
    r = harness.run(_body(setup, insn) + "    la sp, __stack_top\n", WORDS)
    expect_no_traps(r)
    _assert_compressed(r)
    _check(r, expected)


@pytest.mark.parametrize("insn,base,offset,size", [
    ("c.sw a2, 4(a1)", "a1", 4, 4), ("c.sw a2, 124(a1)", "a1", 124, 4),
    ("c.sd a2, 8(a1)", "a1", 8, 8), ("c.sd a2, 248(a1)", "a1", 248, 8),
    ("c.swsp a2, 252(sp)", "sp", 252, 4), ("c.sdsp a2, 504(sp)", "sp", 504, 8),
])
def test_compressed_store(insn, base, offset, size):
    value = 0x1122_3344_5566_7788
    body = (f"    la {base}, __data\n" + li("a2", value) + f"c_start:\n    {insn}\nc_end:\n"
            f"    la t0, __data\n    ld a3, {offset & ~7}(t0)\n    la sp, __stack_top\n")
    r = harness.run(body)
    _assert_compressed(r)
    stored = value & ((1 << (8 * size)) - 1)
    expect_regs(r, a3=stored << (8 * (offset & 7)))


def test_c_j():
    r = harness.run("c_start:\n    c.j 1f\nc_end:\n    li a0, 1\n1:  li a1, 2\n")
    _assert_compressed(r)
    expect_regs(r, a0=0, a1=2)


@pytest.mark.parametrize("insn,value,taken", [
    ("c.beqz", 0, True), ("c.beqz", 1, False), ("c.bnez", 0, False), ("c.bnez", NEG, True)])
def test_c_branch(insn, value, taken):
    body = li("a0", value) + f"c_start:\n    {insn} a0, 1f\nc_end:\n    li a2, 1\n    j 2f\n1:  li a2, 2\n2:\n"
    r = harness.run(body)
    _assert_compressed(r)
    expect_regs(r, a2=2 if taken else 1)


def test_c_jr():
    r = harness.run("    la a0, 1f\nc_start:\n    c.jr a0\nc_end:\n    li a2, 1\n1:  addi a2, a2, 5\n")
    _assert_compressed(r)
    expect_regs(r, a2=5)


def test_c_jalr_links_pc_plus_2():
    body = "    la a0, 1f\nc_start:\n    c.jalr a0\nc_end:\n    li a2, 1\n1:  addi a2, a2, 5\n"
    r = harness.run(body)
    _assert_compressed(r)
    expect_regs(r, a2=5, ra=r.symbols["c_start"] + 2)


def test_c_ebreak():
    r = harness.run("c_start:\n    c.ebreak\nc_end:\n    li a0, 3\n")
    _assert_compressed(r)
    assert [(t.cause, t.epc) for t in r.traps] == [(3, r.symbols["c_start"])]
    expect_regs(r, a0=3)


@pytest.mark.parametrize("halfword", [
    pytest.param(0x0000, id="all-zero"), pytest.param(0x0008, id="c.addi4spn-imm0"),
    pytest.param(0x6501, id="c.lui-imm0"), pytest.param(0x6101, id="c.addi16sp-imm0"),
    pytest.param(0x8002, id="c.jr-x0")])
def test_reserved_compressed_encodings_are_illegal(halfword):
    """Reserved RVC encodings raise illegal instruction with mtval = the 16 instruction bits."""
    r = harness.run(f"c_start:\n    .hword {halfword:#x}\nc_end:\n    li a0, 3\n")
    assert [(t.cause, t.epc, t.tval) for t in r.traps] == [(2, r.symbols["c_start"], halfword)]
    expect_regs(r, a0=3)

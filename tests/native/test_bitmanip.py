"""Zba, Zbb, Zbc and Zbs in the core: every instruction against the spec model
(tests/differential/zb_spec.py) over edge values, from the fast run and one at
a time, and the encodings next to them that stay illegal."""

import random

import pytest

from pyvmm import isa
from differential import zb_spec
from .helpers import EBREAK_EXIT, RAM_BASE, core_mod, load, open_pmp, reg, run_to_ebreak

EDGES = [0, 1, 2, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 0xFFFF_FFFF, 0x8000_0000, 0xFFFF_FFFF_8000_0000,
         0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, 0x00FF_00FF_00FF_00FF, 0x8000_0000_0000_0001,
         63, 64, 31, 32, 0x1_0000_0000]
rng = random.Random(2027)
VALUES = EDGES + [rng.getrandbits(64) for _ in range(14)]


def run_words(words, regs, budget=10_000, one_at_a_time=False):
    """Execute 32-bit `words` then ebreak, with x-registers preset; the core."""
    core = core_mod.Core(ram_size=1 << 20, ram_base=RAM_BASE)
    code = b"".join(w.to_bytes(4, "little") for w in words) + (0x00100073).to_bytes(4, "little")
    core.write_mem(RAM_BASE, code)
    core.pc = RAM_BASE
    core.exit_on_exception = EBREAK_EXIT
    open_pmp(core)
    for r, v in regs.items():
        core.x[r] = v
    if one_at_a_time:
        for _ in range(len(words)):
            core.run(1)
    reason = core.run(budget)
    assert reason == core_mod.EXIT_TRAP and core.exit_cause == 3, (reason, core.exit_cause, hex(core.exit_pc))
    return core


def pairs():
    return [(a, b) for a in VALUES[:12] for b in VALUES]


@pytest.mark.parametrize("op", sorted(zb_spec.R_TYPE))
def test_register_forms_match_the_spec(op):
    # a0 = op(a1, a2), rd = rs1 and rd = rs2 too, for every pair
    words = [isa.encode(op, rd=10, rs1=11, rs2=12), isa.encode(op, rd=13, rs1=13, rs2=12),
             isa.encode(op, rd=14, rs1=11, rs2=14)]
    for a, b in pairs():
        want = zb_spec.R_TYPE[op](a, b)
        core = run_words(words, {11: a, 12: b, 13: a, 14: b})
        assert (int(core.x[10]), int(core.x[13]), int(core.x[14])) == (want, want, want), \
            "%s %#x, %#x" % (op, a, b)


@pytest.mark.parametrize("op", sorted(set(zb_spec.UNARY) - {"zext.w"}))
def test_unary_forms_match_the_spec(op):
    word = isa.encode(op, rd=10, rs1=11)
    for a in VALUES:
        core = run_words([word], {11: a})
        assert int(core.x[10]) == zb_spec.UNARY[op](a), "%s %#x" % (op, a)


def test_ctzw_counts_in_the_low_word_only():
    # the spec's 32 for a zero low word whatever the upper one holds
    core = run_words([isa.encode("ctzw", rd=10, rs1=11), isa.encode("clzw", rd=12, rs1=11)], {11: 1 << 63})
    assert (reg(core, "a0"), reg(core, "a2")) == (32, 32)


@pytest.mark.parametrize("op", sorted(zb_spec.IMMEDIATE))
def test_immediate_forms_match_the_spec(op):
    semantics, top = zb_spec.IMMEDIATE[op]
    amounts = sorted({0, 1, 7, 31, top // 2, top - 1, top})
    words = [isa.encode(op, rd=5 + i, rs1=11, shamt=s) for i, s in enumerate(amounts)]
    for a in VALUES:
        core = run_words(words, {11: a})
        got = [int(core.x[5 + i]) for i in range(len(amounts))]
        assert got == [semantics(a, s) for s in amounts], "%s %#x" % (op, a)


def test_x0_destination_and_source():
    core, _ = load("li a1, -1\n li a2, 5\n sh3add zero, a1, a2\n clz zero, zero\n mv a0, zero\n"
                   " sh1add.uw a3, zero, a2\n rol a4, a1, zero\n bset a5, zero, a2\n ebreak\n")
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a3"), reg(core, "a4"), reg(core, "a5")) == (0, 5, (1 << 64) - 1, 32)


def test_one_at_a_time_equals_the_fast_run():
    # the general path (single steps) and the threaded fast run give the same registers
    words = [isa.encode(op, rd=5 + i % 20, rs1=10 + i % 7, rs2=11 + i % 5)
             for i, op in enumerate(sorted(zb_spec.R_TYPE))]
    regs = {r: VALUES[r] for r in range(1, 31)}
    fast = run_words(words, regs)
    slow = run_words(words, regs, one_at_a_time=True)
    assert [int(v) for v in fast.x[:32]] == [int(v) for v in slow.x[:32]]


@pytest.mark.parametrize("word", [
    0x0800_4033,        # RV32's zext.h (pack with rs2 = 0) in OP: not on RV64
    0x6035_9513,        # clz's funct12 neighbour 0x603 in OP-IMM
    0x6045_951B,        # sext.b's encoding in OP-IMM-32
    0x6B85_951B,        # rev8's encoding in OP-IMM-32
    0x0805_953B,        # slli.uw's funct6 in OP-32 (register form does not exist)
    0x6005_A533,        # funct7 0x30 (rol, ror) with funct3 2 in OP
    0x0010_210F,        # cbo.clean with rd != 0
    0x0030_200F,        # cbo with funct12 3 (reserved)
])
def test_neighbouring_encodings_stay_illegal(word):
    core = core_mod.Core(ram_size=1 << 20, ram_base=RAM_BASE)
    core.write_mem(RAM_BASE, word.to_bytes(4, "little"))
    core.pc = RAM_BASE
    core.exit_on_exception = 1 << 2
    assert core.run(10) == core_mod.EXIT_TRAP
    assert (core.exit_cause, core.exit_tval) == (2, word)

"""The decoded-instruction cache stays coherent with memory: stores into code
(with or without fence.i), write_mem, and explicit flushes."""

from .helpers import core_mod, load, reg, run_to_ebreak

# `patch` is executed once as `li a0, 1`, then overwritten with `li a0, 2`
# (the word in t1) and executed again.
SMC = """
.option norvc
    la t0, patch
    lw t1, new_insn
    li s1, 0
again:
patch:
    addi a0, zero, 1
    addi s1, s1, 1
    sw t1, 0(t0)
    {sync}
    li t2, 2
    blt s1, t2, again
    ebreak
new_insn:
    addi a0, zero, 2
"""


def test_store_into_executed_code_takes_effect_without_fence_i():
    core, _ = load(SMC.format(sync=""))
    run_to_ebreak(core)
    assert reg(core, "a0") == 2


def test_store_into_executed_code_with_fence_i():
    core, _ = load(SMC.format(sync="fence.i"))
    flushes = core.stats()["decode_cache_flushes"]
    run_to_ebreak(core)
    assert reg(core, "a0") == 2
    # the store already dropped the stale instruction: fence.i has nothing to flush
    assert core.stats()["decode_cache_flushes"] == flushes


def test_store_into_the_following_instruction_in_the_same_page():
    # the store rewrites the instruction right after itself
    core, _ = load(".option norvc\n la t0, next\n lw t1, repl\n sw t1, 0(t0)\n"
                   "next: addi a0, zero, 1\n ebreak\nrepl: addi a0, zero, 3\n")
    run_to_ebreak(core)
    assert reg(core, "a0") == 3


def test_write_mem_replaces_decoded_code():
    core, prog = load(".option norvc\nloop: addi a0, zero, 1\n ebreak\n")
    run_to_ebreak(core)
    assert reg(core, "a0") == 1
    core.write_mem(prog["loop"], (0x00500513).to_bytes(4, "little"))     # addi a0, zero, 5
    core.pc = prog["loop"]
    run_to_ebreak(core)
    assert reg(core, "a0") == 5


def test_write_words_replaces_decoded_code_and_checks_every_word_first():
    import pytest
    core, prog = load(".option norvc\nloop: addi a0, zero, 1\n addi a1, zero, 1\n ebreak\n")
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a1")) == (1, 1)
    before = core.read_mem(prog["loop"], 8)
    with pytest.raises(OverflowError):
        core.write_words(prog["loop"], [0x00500513, 1 << 32])
    assert core.read_mem(prog["loop"], 8) == before          # nothing written
    with pytest.raises(ValueError, match="not inside RAM"):
        core.write_words(core.ram_base - 4, [0x13, 0x13])
    core.write_words(prog["loop"], (0x00500513, 0x00600593))  # addi a0, zero, 5; addi a1, zero, 6
    assert core.read_mem(prog["loop"], 8) == bytes.fromhex("13055000" "93056000")
    core.pc = prog["loop"]
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a1")) == (5, 6)


def test_direct_ram_writes_need_an_explicit_flush():
    core, prog = load(".option norvc\nloop: addi a0, zero, 1\n ebreak\n")
    run_to_ebreak(core)
    off = prog["loop"] - core.ram_base
    core.ram[off:off + 4] = list((0x00700513).to_bytes(4, "little"))     # addi a0, zero, 7
    flushes = core.stats()["decode_cache_flushes"]
    core.flush_decode_cache()
    assert core.stats()["decode_cache_flushes"] == flushes + 1
    core.pc = prog["loop"]
    run_to_ebreak(core)
    assert reg(core, "a0") == 7


def test_half_overwritten_32bit_instruction_is_redecoded():
    # a halfword store into the upper half of a 32-bit instruction
    core, _ = load(".option norvc\n la t0, target\n li t1, 0x0090\n"
                   "again: \ntarget: addi a0, zero, 1\n bnez s1, done\n li s1, 1\n sh t1, 2(t0)\n j again\n"
                   "done: ebreak\n")
    run_to_ebreak(core)
    assert reg(core, "a0") == 0x9    # imm field now 0x009


def test_instruction_straddling_a_page_boundary():
    # a 32-bit instruction whose halves sit in two pages
    core, prog = load(".option norvc\n j go\n.balign 4096\n .skip 4094\ngo: addi a0, zero, 11\n ebreak\n")
    assert prog["go"] & 0xFFF == 0xFFE
    run_to_ebreak(core)
    assert reg(core, "a0") == 11
    core.write_mem(prog["go"] + 2, (0x00D0).to_bytes(2, "little"))       # imm -> 13
    core.pc = core.ram_base
    run_to_ebreak(core)
    assert reg(core, "a0") == 13


def test_decode_fills_are_counted_once_per_instruction_in_a_loop():
    core, _ = load("li a1, 100\n1: addi a0, a0, 1\n addi a1, a1, -1\n bnez a1, 1b\n ebreak\n")
    run_to_ebreak(core)
    assert reg(core, "a0") == 100
    assert core.stats()["decode_cache_fills"] <= 6

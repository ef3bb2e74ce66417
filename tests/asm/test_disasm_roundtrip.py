"""Round trip through pyvmm's own assembler: disassemble(word) assembles back to word.

Every word pyvmm.isa decodes must disassemble to GNU syntax that pyvmm.asm
turns back into the same bits: 32-bit words under ``.option norvc``, 16-bit
parcels under ``.option rvc`` (where GNU as, and so pyvmm.asm, may prefer an
equivalent compressed form: c.addi sp,16 over c.addi16sp sp,16).
"""

import importlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyvmm import isa
from pyvmm.asm.disasm import disassemble

PC = 0x8000_0000
BRANCHES = ("j", "jal", "beqz", "bnez", "beq", "bne", "blt", "bge", "bltu", "bgeu",
            "blez", "bgez", "bltz", "bgtz")


def objdump_spelling_assembles(word):
    """False for the spellings objdump has that no assembler accepts, both
    printed as "unknown": a fence with an empty predecessor or successor set,
    and an F/D instruction with a reserved rounding mode (5 or 6)."""
    decoded = isa.decode(word)
    return not (decoded and (decoded[0].name == "fence" or decoded[1].get("rm") in (5, 6))
                and "unknown" in disassemble(word)[1])


def _assembler():
    asm = importlib.import_module("pyvmm.asm")
    if not hasattr(asm, "assemble"):
        pytest.skip("pyvmm.asm.assemble (the assembler) is not in the tree yet")
    return asm


def source_line(word, pc=PC):
    """GNU source for `word`: the disassembly, comment dropped, targets made pc-relative."""
    text = disassemble(word, pc)[1].split(" # ")[0]
    mnemonic, _, operands = text.partition("\t")
    if mnemonic in BRANCHES and "0x" in operands:
        head, _, target = operands.rpartition("0x")
        operands = "%s.%+d" % (head, int(target, 16) - pc)
    return ("%s %s" % (mnemonic, operands)).strip()


# every extension pyvmm.isa has (objdump's spellings of them must assemble)
MARCH = "rv64imafdc_zicbom_zicboz_zicbop_zihintpause_zba_zbb_zbc_zbs"


def assemble_one(asm, line, rvc):
    source = "    .option %s\n    %s\n" % ("rvc" if rvc else "norvc", line)
    prog = asm.assemble(source, section_starts={".text": PC}, march=MARCH)
    text = [s for s in prog.sections if s.name == ".text"][0]
    return text.data


def words_of(entry):
    """Strategy: words that are instances of one isa entry, operand bits random."""
    free = ~entry.mask & (0xFFFF if entry.length == 2 else 0xFFFFFFFF)
    return st.integers(0, free).map(lambda bits: entry.match | (bits & free))


WORDS32 = (st.sampled_from(isa.INSTRUCTIONS).flatmap(words_of)
           .filter(lambda w: isa.decode(w) is not None and objdump_spelling_assembles(w)))
PARCELS = (st.sampled_from(isa.COMPRESSED).flatmap(words_of)
           .filter(lambda h: isa.decode(h) is not None))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(WORDS32)
def test_32bit_words_round_trip(word):
    asm = _assembler()
    line = source_line(word)
    data = assemble_one(asm, line, rvc=False)
    assert data == word.to_bytes(4, "little"), line


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(PARCELS)
def test_compressed_parcels_round_trip(half):
    asm = _assembler()
    line = source_line(half)
    data = assemble_one(asm, line, rvc=True)
    assert len(data) == 2, line
    got = int.from_bytes(data, "little")
    assert got == half or isa.expand_compressed(got) == isa.expand_compressed(half), line


@pytest.mark.parametrize("entry", isa.INSTRUCTIONS + isa.COMPRESSED, ids=lambda e: e.name)
def test_every_entry_round_trips_with_extreme_operands(entry):
    """Each table entry at least once, with all operand bits set and all clear."""
    asm = _assembler()
    free = ~entry.mask & (0xFFFF if entry.length == 2 else 0xFFFFFFFF)
    tried = 0
    for bits in (free, 0, free & 0x5555_5555, free & 0xAAAA_AAAA, free & 0x0FFF_FFFF):
        word = entry.match | bits
        if isa.decode(word) is None or not objdump_spelling_assembles(word):
            continue
        tried += 1
        line = source_line(word)
        data = assemble_one(asm, line, rvc=entry.length == 2)
        got = int.from_bytes(data, "little")
        if entry.length == 2:
            assert len(data) == 2 and isa.expand_compressed(got) == isa.expand_compressed(word), line
        else:
            assert got == word, line
    assert tried, "no decodable operand pattern for %s" % entry.name


@pytest.mark.parametrize("line,word", [("c.slli64 a0", 0x0502), ("c.srli64 s1", 0x8081),
                                       ("c.srai64 a5", 0x8781), ("c.nop 1", 0x0005),
                                       ("c.nop -32", 0x1001), ("c.slli64 zero", 0x0002)])
def test_rvc_hint_spellings_round_trip(line, word):
    """objdump's spellings of the RV64C HINTs (shift by zero, c.addi x0) assemble
    back to the same parcel, as GNU as does."""
    asm = _assembler()
    assert disassemble(word)[1] == line.replace(" ", "\t")
    assert assemble_one(asm, line, rvc=True) == word.to_bytes(2, "little")

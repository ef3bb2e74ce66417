"""pyvmm asm against riscv64-unknown-elf-as -mno-relax + ld -Ttext=0x80000000.

The same source must give the same bytes at the same addresses in every
allocated section, the same entry and the same symbol values: for each file of
the corpus (tests/asm/corpus), for every guest in guests/ (globbed at test
time, so new guests are covered), and for random instruction streams.
"""

import random
from pathlib import Path

import pytest

from asm_oracle import CORPUS, REPO, compare_with_gnu, gnu_build
from pyvmm.asm import assemble, assemble_file
from pyvmm.isa import ABI_NAMES

CORPUS_FILES = sorted(CORPUS.glob("*.S"))
GUEST_FILES = sorted((REPO / "guests").glob("*.S")) + sorted((REPO / "guests").glob("*/*.S"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_matches_gnu(path, tmp_path):
    gnu = gnu_build(path, tmp_path)
    program = assemble_file(path)
    assert compare_with_gnu(program, gnu) == []


@pytest.mark.parametrize("path", GUEST_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_guest_matches_gnu(path, tmp_path):
    try:
        gnu = gnu_build(path, tmp_path)
    except RuntimeError as e:
        if "undefined reference" in str(e):
            pytest.skip("%s is not a standalone program (part of a linked build): %s"
                        % (path.name, str(e).splitlines()[-1]))
        if "GNU as failed" in str(e):
            pytest.skip("%s is not plain assembly for GNU as (built through the C preprocessor): %s"
                        % (path.name, str(e).splitlines()[-1]))
        raise
    program = assemble_file(path, include_dirs=(str(path.parent),))
    assert compare_with_gnu(program, gnu) == []


def test_corpus_and_guests_were_found():
    assert len(CORPUS_FILES) >= 6 and len(GUEST_FILES) >= 1


def _random_program(seed, count=1500):
    """Random instructions with compressible and incompressible operands and
    branches to local labels near and far, to exercise the RVC choice and
    branch relaxation (2/4/6/8-byte forms)."""
    rng = random.Random(seed)
    regs = list(ABI_NAMES) + ["s0", "s1", "a0", "a1", "a5", "sp", "zero"] * 3
    small = [0, 1, -1, 4, 8, 16, -16, 31, -32, 32, 124, 248, 252, 496, -512, 504, 1020, 2047, -2048]

    def imm():
        return rng.choice(small + [rng.randint(-2048, 2047)])

    lines = ["0:", "1:", "2:", "3:"]
    for _ in range(count):
        a, b, c = rng.choice(regs), rng.choice(regs), rng.choice(regs)
        if rng.random() < 0.4:
            b = a
        k = rng.randrange(14)
        if k == 0:
            lines.append("addi %s, %s, %d" % (a, b, imm()))
        elif k == 1:
            op = rng.choice(["add", "sub", "and", "or", "xor", "addw", "subw", "mul", "sll", "sltu"])
            lines.append("%s %s, %s, %s" % (op, a, b, rng.choice([c, a])))
        elif k == 2:
            op = rng.choice(["slli", "srli", "srai"])
            lines.append("%s %s, %s, %d" % (op, a, b, rng.choice([0, 1, 12, 31, 32, 63])))
        elif k == 3:
            op = rng.choice(["ld", "lw", "sd", "sw", "lbu", "sh"])
            lines.append("%s %s, %d(%s)" % (op, a, imm(), rng.choice([b, "sp"])))
        elif k == 4:
            value = rng.choice([rng.randint(-2**63, 2**63 - 1), rng.randint(-2**31, 2**31 - 1),
                                rng.randint(-40, 40) << rng.randrange(50), rng.randint(-4096, 4096)])
            lines.append("li %s, %d" % (a, value))
        elif k == 5:
            op = rng.choice(["mv", "not", "neg", "sext.w", "seqz", "snez"])
            lines.append("%s %s, %s" % (op, a, b))
        elif k == 6:
            lines.append("lui %s, %d" % (a, rng.choice([1, 31, 32, 0xFFFFF, 0xFFFE0, rng.randrange(1 << 20)])))
        elif k == 7:
            op = rng.choice(["andi", "addiw", "add", "and", "addw", "ori"])
            lines.append("%s %s, %s, %d" % (op, a, b, imm()))
        elif k == 8:
            lines.append(rng.choice(["nop", "ret", "ebreak", "jr %s" % a, "jalr %s" % a,
                                     "jalr %s, 0(%s)" % (a, b), "fence", "unimp"]))
        elif k == 9:
            lines.append("%d:" % rng.randrange(4))
        elif k == 10:
            op = rng.choice(["beq", "bne", "blt", "bgeu", "bgt"])
            lines.append("%s %s, %s, %d%s" % (op, a, rng.choice([b, "zero"]), rng.randrange(4), rng.choice("fb")))
        elif k == 11:
            op = rng.choice(["beqz", "bnez", "bltz"])
            lines.append("%s %s, %d%s" % (op, a, rng.randrange(4), rng.choice("fb")))
        elif k == 12:
            op = rng.choice(["j", "jal", "call", "tail"])
            lines.append("%s %d%s" % (op, rng.randrange(4), rng.choice("fb")))
        else:
            lines.append(rng.choice([".align 2", ".balign 8", ".p2align 4", ".2byte 0x1234", "lla %s, 1f" % a,
                                     ".option norvc", ".option rvc", ".option rvc", ".space 200",
                                     ".space 2000", "lw %s, 2f" % a, "sd %s, 3b, t0" % a]))
    lines += ["0:", "1:", "2:", "3:", "nop"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_match_gnu(seed, tmp_path):
    source = _random_program(seed)
    path = tmp_path / "random.S"
    path.write_text(source)
    gnu = gnu_build(path, tmp_path)
    assert compare_with_gnu(assemble(source), gnu) == []


@pytest.mark.parametrize("source,ld_args", [
    ("directives.S", ["-Ttext=0x80200000"]),
    ("directives.S", ["-Ttext=0x1000", "-Tdata=0x20000"]),
    ("sections.S", ["-Ttext=0x1000", "-Tbss=0x9000"]),
    ("sections.S", ["-Ttext=0x1000", "--section-start=.custom_rw=0x7000"]),
    ("sections.S", ["-Ttext=0x1000", "--section-start=.rodata=0x3000"]),
])
def test_section_starts_match_ld(source, ld_args, tmp_path):
    path = CORPUS / source
    gnu = gnu_build(path, tmp_path, ld_args=ld_args)
    starts = {}
    for arg in ld_args:
        name, value = arg[2:].split("=") if arg.startswith("-T") else arg[len("--section-start="):].split("=")
        starts["." + name if arg.startswith("-T") else name] = int(value, 0)
    program = assemble_file(path, section_starts=starts)
    assert compare_with_gnu(program, gnu) == []


@pytest.mark.parametrize("text_bytes,data_bytes", [(0xFF0, 0x20), (0xF00, 0x200), (0x10, 0xFF8), (0x800, 0x900)])
def test_data_segment_page_rule_matches_ld(text_bytes, data_bytes, tmp_path):
    """ld starts the data segment on a page boundary when that saves a page."""
    source = ".globl _start\n_start: j _start\n.space %d\n.data\n.space %d\n.bss\n.zero 8\n" % (
        text_bytes, data_bytes)
    path = tmp_path / "pages.S"
    path.write_text(source)
    gnu = gnu_build(path, tmp_path)
    assert compare_with_gnu(assemble(source), gnu) == []

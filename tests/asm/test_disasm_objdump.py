"""Differential tests: pyvmm's disassembler against riscv64-unknown-elf-objdump.

Images are built with GNU as/ld (not pyvmm's assembler). Each test compares the
full instruction text, the ``# address <symbol>`` comments included, with
objdump's for the same bytes at the same addresses and the same symbols.
"""

import importlib.util
import os
import random
import struct
import subprocess

import pytest

from pyvmm import isa
from pyvmm.asm.disasm import SymbolTable, disassemble, disassemble_bytes, insn_length
from pyvmm.asm.disasm_cli import load_elf

HERE = os.path.dirname(__file__)
CORPUS = os.path.join(HERE, "disasm_corpus")

_spec = importlib.util.spec_from_file_location("gnu_oracle", os.path.join(CORPUS, "gnu_oracle.py"))
gnu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gnu)

pytestmark = pytest.mark.skipif(bool(gnu.missing_tools()),
                                reason="GNU binutils for RISC-V not installed: %s"
                                % ", ".join(gnu.missing_tools()))


# objdump -M option sets and the matching Disassembler arguments
OPTION_SETS = {
    "default": ((), {}),
    "no-aliases": (("-M", "no-aliases"), {"aliases": False}),
    "numeric": (("-M", "numeric"), {"numeric": True}),
    "no-aliases,numeric": (("-M", "no-aliases,numeric"), {"aliases": False, "numeric": True}),
}


def compare_with_objdump(elf, options="default"):
    """Disassemble .text of `elf` with pyvmm and objdump; return the mismatches."""
    objdump_options, kwargs = OPTION_SETS[options]
    image = load_elf(elf)
    text = [s for s in image.sections if s.name == ".text"][0]
    gp = [s.value for s in image.symbols if s.name == "__global_pointer$"]
    symbols = SymbolTable(image.symbols, section=".text")
    # the file's ISA, unless $xrv mapping symbols switch it mid-section (the
    # CLI follows those; disassemble_bytes decodes one ISA throughout)
    march = None if any(isa_string for _, _, isa_string in text.mapping) else image.march
    ours = {a: t for a, _, t in disassemble_bytes(text.data, text.addr, symbols, gp[0] if gp else None,
                                                  march=march, priv_spec=image.priv_spec,
                                                  **kwargs)}
    theirs = gnu.objdump_insns(elf, "-z", *objdump_options)
    assert theirs, "objdump printed no instructions"
    return [(hex(a), t, ours.get(a)) for a, t in theirs if ours.get(a) != t]


def halves_elf(tmp_path, blob):
    return gnu.build_elf(gnu.halves_source(blob), str(tmp_path), strip_mapping_symbols=True)


# every form of the integer ISA; every F and D instruction with rounding modes,
# pseudo-instructions and the compressed loads/stores (the assembler's corpus file)
CORPUS_FILES = [os.path.join(CORPUS, "all_insns.S"), os.path.join(HERE, "corpus", "fp.S")]


@pytest.mark.parametrize("options", list(OPTION_SETS))
@pytest.mark.parametrize("path", CORPUS_FILES, ids=os.path.basename)
def test_corpus_of_every_instruction_form(tmp_path, options, path):
    with open(path) as f:
        elf = gnu.build_elf(f.read(), str(tmp_path))
    assert compare_with_objdump(elf, options) == []


@pytest.mark.parametrize("options", list(OPTION_SETS))
def test_every_compressed_parcel(tmp_path, options):
    blob = b"".join(struct.pack("<H", h) for h in range(0x10000) if h & 3 != 3)
    assert compare_with_objdump(halves_elf(tmp_path, blob), options) == []


MAJOR_OPCODES = [0x03, 0x0F, 0x13, 0x17, 0x1B, 0x23, 0x2F, 0x33, 0x37, 0x3B, 0x63, 0x67, 0x6F, 0x73]
OTHER_OPCODES = [0x07, 0x0B, 0x27, 0x2B, 0x43, 0x47, 0x4B, 0x4F, 0x53, 0x57, 0x5B, 0x6B, 0x77, 0x7B]


def random_words(rng, opcode, count):
    """Random words of one major opcode, biased towards the zero registers and
    small funct7 values where aliases and special cases live."""
    words = []
    for _ in range(count):
        w = rng.getrandbits(32) & ~0x7F | opcode
        r = rng.random()
        if r < 0.2:
            w &= ~(0x1F << 7)
        elif r < 0.35:
            w &= ~(0x1F << 15)
        elif r < 0.5:
            w &= ~(0x1F << 20)
        elif r < 0.6:
            w &= ~(0xFFF << 20)
        elif r < 0.75:
            w &= 0x03FF_FFFF
        elif r < 0.85:
            w = w & 0x01FF_FFFF | rng.choice((0x00, 0x01, 0x20, 0x40, 0x60, 0x08, 0x0C, 0x18, 0x1C, 0x10)) << 25
        words.append(w)
    return words


@pytest.mark.parametrize("options", ["default", "no-aliases", "numeric"])
def test_random_words_of_every_major_opcode(tmp_path, options):
    rng = random.Random(2026)
    words = []
    for op in MAJOR_OPCODES:
        words += random_words(rng, op, 1500)
    for op in OTHER_OPCODES:
        words += random_words(rng, op, 100)
    blob = b"".join(struct.pack("<I", w) for w in words)
    assert compare_with_objdump(halves_elf(tmp_path, blob), options) == []


def test_system_opcode_space_and_every_csr(tmp_path):
    words = [f12 << 20 | 0x73 for f12 in range(4096)]                      # ecall, xret, wfi, ...
    for f7 in range(128):                                                   # sfence/hfence/hlv/hsv
        for rs2 in (0, 1, 3, 10):
            for rs1, f3, rd in ((11, 4, 10), (11, 4, 0), (11, 0, 0), (0, 0, 0), (11, 0, 5)):
                words.append(f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | 0x73)
    for csr in range(4096):                                                 # names and aliases
        words.append(csr << 20 | 11 << 15 | 1 << 12 | 10 << 7 | 0x73)       # csrrw a0,csr,a1
        words.append(csr << 20 | 2 << 12 | 10 << 7 | 0x73)                  # csrrs a0,csr,zero
        words.append(csr << 20 | 2 << 12 | 0x73)                            # csrrs zero,csr,zero
        words.append(csr << 20 | 5 << 15 | 7 << 12 | 0x73)                  # csrrci zero,csr,5
    blob = b"".join(struct.pack("<I", w) for w in words)
    elf = halves_elf(tmp_path, blob)
    assert compare_with_objdump(elf) == []
    assert compare_with_objdump(elf, "no-aliases") == []


def test_fence_space(tmp_path):
    words = [ps << 20 | 0x0F for ps in range(256)]
    words += [fm << 28 | 0x33 << 20 | 0x0F for fm in range(16)]
    words += [0x0FF0000F | bit for bit in (1 << 7, 1 << 15, 1 << 12, 1 << 13)]
    words += [0x0000100F | bit for bit in (0, 1 << 7, 1 << 15, 1 << 20, 1 << 31)]
    words += [0x8330000F | bit for bit in (1 << 7, 1 << 15, 1 << 11, 1 << 19)]
    blob = b"".join(struct.pack("<I", w) for w in words)
    assert compare_with_objdump(halves_elf(tmp_path, blob)) == []


def test_special_immediates_of_every_op_imm(tmp_path):
    # the aliases hang on exact immediates: nop, li, mv, not, seqz, zext.b, sext.w
    words = []
    for opcode in (0x13, 0x1B):
        for funct3 in range(8):
            for imm in (0, 1, -1, 255, 2047, -2048, 0x400, 31, 63):
                for rd, rs1 in ((0, 0), (10, 0), (0, 11), (10, 11), (10, 10)):
                    words.append((imm & 0xFFF) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode)
    blob = b"".join(struct.pack("<I", w) for w in words)
    assert compare_with_objdump(halves_elf(tmp_path, blob)) == []


@pytest.mark.parametrize("spec", ["1.9.1", "1.10", "1.11", "1.12"])
def test_csr_names_of_every_privileged_spec(tmp_path, spec):
    source = ".text\n.globl _start\n_start:\n" + "".join(
        "csrrw a0, %d, a1\ncsrrs a2, %d, zero\n" % (n, n) for n in range(4096))
    src, obj = tmp_path / "p.S", tmp_path / "p.o"
    src.write_text(source)
    subprocess.run([gnu.AS, "-march=" + gnu.MARCH, "-mpriv-spec=" + spec, str(src), "-o", str(obj)],
                   check=True, capture_output=True)
    elf = tmp_path / "p.elf"
    subprocess.run([gnu.LD, "-Ttext=0x80000000", str(obj), "-o", str(elf)], check=True, capture_output=True)
    image = load_elf(str(elf))
    assert image.priv_spec == spec
    text = image.sections[0]
    ours = [t for _, _, t in disassemble_bytes(text.data, text.addr, SymbolTable(image.symbols),
                                               priv_spec=spec)]
    theirs = [t for _, t in gnu.objdump_insns(str(elf), "-z")]
    assert ours == theirs


def test_long_and_reserved_lengths(tmp_path):
    # 48-, 64-, 80-bit and >=192-bit prefixes, then a normal instruction
    blob = (bytes.fromhex("1f0001020304") + bytes.fromhex("3f00000000000000")
            + bytes.fromhex("7f000000022 01bc00500".replace(" ", "")) + bytes.fromhex("ffff")
            + bytes.fromhex("13050000"))
    assert compare_with_objdump(halves_elf(tmp_path, blob)) == []


def test_gnu_as_reassembles_every_compressed_text(tmp_path):
    """The text of every valid parcel is GNU syntax: GNU as turns it back into the
    same parcel (or, for c.addi16sp immediates that c.addi can hold, into the
    equivalent c.addi, which GNU as prefers)."""
    halves = [h for h in range(0x10000) if h & 3 != 3 and isa.decode(h)]
    lines = [".text", ".globl _start", "_start:", ".option rvc"]
    base = 0x8000_0000
    offset = 0
    for h in halves:
        text = disassemble(h, base + offset)[1].split(" # ")[0]
        lines.append(_relative_target(text, base + offset))
        offset += 2
    elf = gnu.build_elf("\n".join(lines) + "\n", str(tmp_path))
    _, data = gnu.text_section(elf)
    assert len(data) == 2 * len(halves)
    for i, h in enumerate(halves):
        got = struct.unpack_from("<H", data, 2 * i)[0]
        if got != h:
            assert isa.expand_compressed(got) == isa.expand_compressed(h), (hex(h), lines[4 + i])


def _relative_target(text, pc):
    """Rewrite an absolute branch target "0x80000010" as GNU's ".+16"."""
    mnemonic, _, operands = text.partition("\t")
    if mnemonic in ("j", "jal", "beqz", "bnez", "beq", "bne", "blt", "bge", "bltu", "bgeu",
                    "blez", "bgez", "bltz", "bgtz") and "0x" in operands:
        head, _, target = operands.rpartition("0x")
        return "%s\t%s.%+d" % (mnemonic, head, int(target, 16) - pc)
    return text.replace("\t", " ")


def test_insn_length_matches_objdump_on_prefixes():
    assert [insn_length(p) for p in (0x0000, 0x0003, 0x001F, 0x003F, 0x007F, 0x307F, 0x707F)] == \
        [2, 4, 6, 8, 10, 16, 2]

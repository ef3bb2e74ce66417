"""`pyvmm disasm`: objdump -d's layout for ELF files, flat binaries, bad input."""

import argparse
import importlib.util
import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from pyvmm.asm import disasm_cli
from pyvmm.asm.disasm import disassemble_bytes

HERE = os.path.dirname(__file__)
CORPUS = os.path.join(HERE, "disasm_corpus")
REPO = os.path.dirname(os.path.dirname(HERE))

_spec = importlib.util.spec_from_file_location("gnu_oracle", os.path.join(CORPUS, "gnu_oracle.py"))
gnu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gnu)

needs_binutils = pytest.mark.skipif(bool(gnu.missing_tools()),
                                    reason="GNU binutils for RISC-V not installed: %s"
                                    % ", ".join(gnu.missing_tools()))

# Two code sections, functions and local labels, data inside code ($d mapping
# symbols), an object symbol (dumped as bytes + ASCII), zero runs long and
# short, lui/auipc/gp address comments, a section without a symbol at its start.
LAYOUT_SOURCE = """
    .text
    nop
    nop
    .globl _start
_start:
    la a0, msg
    lui a1, 0x80000
    addi a1, a1, 16
    call func
    ld t0, 8(gp)
    j _start
    .word 0, 0, 0
    nop
    .type func, @function
func:
    li a0, 1
    ret
    .size func, . - func
local2:
    ld a0, 16(gp)
    .short 0
    .byte 1, 2
    .word 0x12345677
    csrr a0, mhartid
    .type table, @object
table:
    .ascii "pyvmm\001\002 disasm!"
    .word 0, 0, 0, 0x41424344
    .short 0x7e7f
    .size table, . - table
after_table:
    wfi
    .section .other, "ax"
    ret
    .word 0x00000007
    .short 0
    .section .rodata
msg: .string "hi"
    .data
val: .dword 1
"""


def run_cli(*argv):
    """(exit status, stdout, stderr) of `pyvmm disasm ARGV` run in-process."""
    parser = argparse.ArgumentParser(prog="pyvmm")
    disasm_cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["disasm", *argv])
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = args.func(args)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def layout_elf(tmp_path):
    return gnu.build_elf(LAYOUT_SOURCE, str(tmp_path), name="layout")


@needs_binutils
def test_elf_output_is_objdumps(layout_elf):
    status, out, err = run_cli(layout_elf)
    assert (status, err) == (0, "")
    assert out == gnu.objdump(layout_elf)


@needs_binutils
@pytest.mark.parametrize("options,objdump_options", [
    (["--section", ".other"], ["-j", ".other"]),
    (["--start", "0x80000004", "--stop", "0x80000010"],
     ["--start-address=0x80000004", "--stop-address=0x80000010"]),
    (["-z"], ["-z"]),
    (["-M", "no-aliases,numeric"], ["-M", "no-aliases,numeric"]),
    (["-M", "numeric"], ["-M", "numeric"]),
])
def test_elf_options_match_objdumps(layout_elf, options, objdump_options):
    status, out, _ = run_cli(layout_elf, *options)
    assert status == 0
    assert out == gnu.objdump(layout_elf, *objdump_options)


@needs_binutils
def test_corpus_elf_and_relocatable_object(tmp_path):
    with open(os.path.join(CORPUS, "all_insns.S")) as f:
        elf = gnu.build_elf(f.read(), str(tmp_path), name="corpus")
    status, out, _ = run_cli(elf)
    assert status == 0
    assert out == gnu.objdump(elf)
    obj = os.path.join(str(tmp_path), "corpus.o")      # sections at 0, section-relative symbols
    status, out, _ = run_cli(obj)
    assert status == 0
    assert out == gnu.objdump(obj)


@needs_binutils
def test_python_dash_m_pyvmm_disasm(layout_elf):
    from pyvmm import cli
    if "pyvmm.asm.cli" not in cli.COMMAND_MODULES or importlib.util.find_spec("pyvmm.asm.cli") is None:
        pytest.skip("pyvmm/asm/cli.py (which registers `disasm`) is not in the tree yet")
    result = subprocess.run([sys.executable, "-m", "pyvmm", "disasm", layout_elf],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout == gnu.objdump(layout_elf)


def test_flat_binary_at_base(tmp_path):
    code = bytes.fromhex("13050000" "8280" "b7050080" "c105" "0000000000000000" "0100")
    path = tmp_path / "image.bin"
    path.write_bytes(code)
    status, out, err = run_cli(str(path), "--base", "0x80200000")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[:6] == ["", "%s:     file format binary" % path, "", "",
                         "Disassembly of section .data:", ""]
    assert lines[6] == "0000000080200000 <.data>:"
    assert lines[7] == "    80200000:\t00000513          \tli\ta0,0"
    assert lines[8] == "    80200004:\t8082                \tret"
    assert lines[10] == "    8020000a:\t05c1                \tadd\ta1,a1,16 # 0xffffffff80000010"
    assert lines[11] == "\t..."
    assert lines[12] == "    80200014:\t0001                \tnop"
    texts = [t for _, _, t in disassemble_bytes(code, 0x80200000)]
    assert texts[:4] == ["li\ta0,0", "ret", "lui\ta1,0x80000", "add\ta1,a1,16 # 0xffffffff80000010"]


def test_source_file_goes_through_pyvmm_asm(tmp_path):
    asm = importlib.util.find_spec("pyvmm.asm") and importlib.import_module("pyvmm.asm")
    if not hasattr(asm, "assemble_file"):
        pytest.skip("pyvmm.asm.assemble_file (the assembler) is not in the tree yet")
    src = tmp_path / "prog.S"
    src.write_text(".globl _start\n_start:\n    li a0, 1\n    ret\n")
    status, out, err = run_cli(str(src))
    assert (status, err) == (0, "")
    assert "<_start>:" in out
    assert "\tli\ta0,1" in out and "\tret" in out


@pytest.mark.parametrize("make,message", [
    (lambda p: str(p / "missing.elf"), "No such file or directory"),
    (lambda p: str(p), "is a directory"),
    (lambda p: _write(p / "bad.elf", b"\x7fELF" + b"\xff" * 60), "bad ELF file"),
    (lambda p: _write(p / "trunc.elf", b"\x7fELF\x02\x01\x01" + b"\0" * 9), "bad ELF file"),
    (lambda p: _write(p / "empty.bin", b""), "empty file"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, make, message):
    status, out, err = run_cli(make(tmp_path))
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("pyvmm disasm: error: ")
    assert message in err


def test_foreign_elf_is_rejected(tmp_path):
    host_elf = sys.executable if open(sys.executable, "rb").read(4) == b"\x7fELF" else None
    if host_elf is None:
        pytest.skip("no host ELF executable to feed in")
    status, _, err = run_cli(host_elf)
    assert status == 2
    assert "not a RISC-V ELF file" in err and err.count("\n") == 1


@needs_binutils
def test_unknown_section_inverted_range_and_bad_option(layout_elf):
    status, _, err = run_cli(layout_elf, "--section", ".nope")
    assert status == 2 and "no executable section named .nope" in err
    status, _, err = run_cli(layout_elf, "--start", "0x80000010", "--stop", "0x80000000")
    assert status == 2 and "below --start" in err
    status, _, err = run_cli(layout_elf, "-M", "no-aliases,intel")
    assert status == 2 and "unrecognized disassembler option: intel" in err


def _write(path, data):
    path.write_bytes(data)
    return str(path)


@needs_binutils
@pytest.mark.parametrize("march", ["rv64i", "rv64imac_zicsr", "rv64i_zmmul_zifencei", "rv64gc"])
def test_elf_arch_attribute_limits_decoding_like_objdump(tmp_path, march):
    # the same bytes (M, A, C, Zicsr, Zifencei, H instructions as data words)
    # in images built for different ISAs: objdump decodes only the ELF's ISA
    words = [0x02B50533, 0x02B54533, 0x1005A52F, 0x30002573, 0x0000100F, 0x6005C573,
             0x00000013, 0x10500073]
    source = ".text\n.globl _start\n_start:\n" + "".join(".word 0x%08x\n" % w for w in words)
    source += ".short 0x4505\n.short 0x8082\n"
    src = tmp_path / "m.S"
    src.write_text(source)
    obj, elf = tmp_path / "m.o", tmp_path / "m.elf"
    subprocess.run([gnu.AS, "-march=" + march, str(src), "-o", str(obj)], check=True)
    subprocess.run([gnu.LD, "-Ttext=0x80000000", str(obj), "-o", str(elf)], check=True)
    subprocess.run([gnu.OBJCOPY, "--wildcard", "--strip-symbol=$d*", "--strip-symbol=$x*", str(elf)],
                   check=True)
    status, out, _ = run_cli(str(elf))
    assert status == 0
    assert out == gnu.objdump(str(elf))


@needs_binutils
@pytest.mark.parametrize("tail", [".short 0x0013", ".byte 0x13", ".short 0x001f, 0x0000",
                                  ".short 0x003f, 0, 0", ".short 0x007f, 0, 0, 0, 0x13",
                                  "t:\n    .short 0x003f, 0, 0"])
def test_instruction_cut_short_by_the_section_end(tmp_path, tail):
    source = ".text\n.globl _start\n_start:\n    nop\n    %s\n" % tail
    elf = gnu.build_elf(source, str(tmp_path), strip_mapping_symbols=True)
    for options in ((), ("-z",)):
        status, out, _ = run_cli(elf, *options)
        assert status == 0
        assert out == gnu.objdump(elf, *options)


@needs_binutils
def test_corrupted_elf_files_never_crash(tmp_path):
    """Random byte damage to a real ELF: either a disassembly (status 0) or one
    error line (status 2); never a traceback."""
    import random
    seed = open(gnu.build_elf(LAYOUT_SOURCE, str(tmp_path), name="seed"), "rb").read()
    rng = random.Random(7)
    statuses = set()
    for i in range(300):
        damaged = bytearray(seed)
        for _ in range(rng.choice((1, 2, 4, 16))):
            pos = rng.randrange(0x200) if rng.random() < 0.6 else rng.randrange(len(damaged))
            damaged[pos] = rng.randrange(256)
        if rng.random() < 0.2:
            damaged = damaged[:rng.randrange(len(damaged))]
        path = tmp_path / ("d%d.elf" % i)
        path.write_bytes(bytes(damaged))
        status, _, err = run_cli(str(path))
        statuses.add(status)
        assert status in (0, 2)
        if status == 2:
            assert err.count("\n") == 1 and err.startswith("pyvmm disasm: error: ")
    assert statuses == {0, 2}


def test_any_flat_binary_disassembles(tmp_path):
    import random
    rng = random.Random(11)
    for i in range(20):
        path = tmp_path / ("r%d.bin" % i)
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        status, out, err = run_cli(str(path))
        assert (status, err) == (0, "")
        assert "<.data>:" in out


@needs_binutils
def test_elf_written_by_pyvmm_asm_matches_objdump(tmp_path):
    """pyvmm's own ELF writer and disassembler against objdump, on the corpus."""
    asm = importlib.import_module("pyvmm.asm")
    if not hasattr(asm, "assemble"):
        pytest.skip("pyvmm.asm.assemble (the assembler) is not in the tree yet")
    with open(os.path.join(CORPUS, "all_insns.S")) as f:
        source = f.read()
    elf = tmp_path / "pyvmm.elf"
    elf.write_bytes(asm.assemble(source, "all_insns.S", march="rv64imach_zicsr_zifencei_zicbom_zicboz_zicbop_zihintpause_zba_zbb_zbc_zbs").to_elf())
    status, out, err = run_cli(str(elf))
    assert (status, err) == (0, "")
    assert out == gnu.objdump(str(elf))


def test_march_option(tmp_path):
    path = tmp_path / "h.bin"
    path.write_bytes(bytes.fromhex("73c50560" "0545"))        # hlv.b a0,(a1); c.li a0,1
    _, out, _ = run_cli(str(path))
    assert "\thlv.b\ta0,(a1)" in out and "\tli\ta0,1" in out     # flat: all of pyvmm's ISA
    _, out, _ = run_cli(str(path), "--march", "rv64gc")
    assert "\t.4byte\t0x6005c573" in out and "\tli\ta0,1" in out
    _, out, _ = run_cli(str(path), "--march", "rv64i")
    assert "\t.2byte\t0x4505" in out
    status, _, err = run_cli(str(path), "--march", "arm64")
    assert status == 2 and "not a RISC-V ISA string" in err


@needs_binutils
def test_data_word_cut_by_a_label(tmp_path):
    # strings of odd length in code: the last .word read of "abcde" would cross
    # the label msg2, which objdump reports as an out-of-bounds read
    source = """
    .text
    .globl _start
_start:
    nop
msg:
    .ascii "abcde"
msg2:
    .ascii "fgh"
    nop
    ret
"""
    elf = gnu.build_elf(source, str(tmp_path))
    for options in ((), ("-z",)):
        status, out, _ = run_cli(elf, *options)
        assert status == 0
        assert out == gnu.objdump(elf, *options)
    assert "is out of bounds" in out


def test_pyvmm_elf_names_its_isa_for_disasm(tmp_path):
    """The ELF pyvmm.asm writes carries Tag_RISCV_arch, so `pyvmm disasm` decodes
    H instructions in it (objdump's default rv64gc ISA would not)."""
    asm = importlib.import_module("pyvmm.asm")
    elf = tmp_path / "h.elf"
    elf.write_bytes(asm.assemble("_start:\n    hlv.b a0, (a1)\n    hsv.d a2, (a3)\n    c.nop 3\n").to_elf())
    status, out, err = run_cli(str(elf))
    assert (status, err) == (0, "")
    assert "\thlv.b\ta0,(a1)" in out and "\thsv.d\ta2,(a3)" in out and "\tc.nop\t3" in out
    image = disasm_cli.load_elf(str(elf))
    assert image.march == "rv64i2p1_m2p0_a2p1_c2p0_h1p0_zicsr2p0_zifencei2p0_zmmul1p0"

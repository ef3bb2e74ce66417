"""Bad input: every error reported as `file:line: message` naming the bad token,
all errors of a file in one run, `pyvmm asm` exits 2 without a traceback."""

import subprocess
import sys

import pytest

from asm_oracle import REPO
from pyvmm.asm import AsmError, assemble

CASES = [
    ("frob a0, a1", "unknown instruction `frob'"),
    ("addi a0, a0, 5000", "immediate 5000 out of range [-2048, 2047]"),
    ("addi a0, a9, 1", "`a9' is not a register"),
    ("slli a0, a0, 64", "shift amount 64 out of range [0, 63]"),
    ("slliw a0, a0, 32", "shift amount 32 out of range [0, 31]"),
    ("lw a0, 3000(sp)", "offset 3000 out of range [-2048, 2047]"),
    ("lui a0, 0x100000", "upper immediate 1048576 out of range [0, 1048575]"),
    ("csrr a0, notacsr", "unknown CSR `notacsr'"),
    ("csrwi mstatus, 32", "CSR immediate 32 out of range [0, 31]"),
    ("mul a0, a0", "expected 3 operands"),
    ("fence rx, w", "bad fence set `rx'"),
    ("c.addi a0, 40", "imm 40 out of range [-32, 31]"),
    ("c.lw a0, 0(sp)", "x2 not allowed here"),
    ("c.lwsp zero, 0(sp)", "violate"),
    ("c.nop 0", "illegal operands `c.nop 0': immediate must be nonzero"),
    ("c.nop 32", "imm 32 out of range [-32, 31]"),
    ("c.srli64 ra", "x1 not allowed here (x8..x15)"),
    ("c.slli64 a0, 1", "expected 1 operands"),
    (".bogus 1", "unknown directive `.bogus'"),
    (".align 99", "alignment 99 out of range [0, 16]"),
    ("li a0, undefined_sym", "li needs a constant; `undefined_sym'"),
    ("ld a0, %hi(x)(a1)", "%hi not allowed here"),
    ("beq a0, a1, nowhere", "undefined symbol `nowhere'"),
    ("j 1f", "undefined symbol `1f'"),
    ("j 1b", "undefined local label `1b'"),
    ("call missing_function", "undefined symbol `missing_function'"),
    (".word missing_data", "undefined symbol `missing_data'"),
    (".byte 1\nbeq a0, a1, .-1", "misaligned branch target"),
    ("beqz a0, far\n.space 8192\nfar: nop", None),
    ("jal far\n.space 1048576\nfar: nop", "branch target 0x80100004 out of range for jal"),
    ("c.j far\n.space 4096\nfar: nop", "out of range for c.j"),
    ("x: nop\nx: nop", "symbol `x' is already defined"),
    (".endif", ".endif without .if"),
    (".include \"nonexistent.inc\"", "can't open include file `nonexistent.inc'"),
    (".macro m x\n.endm\nm 1, 2", "too many arguments for macro `m' (takes 1)"),
    (".rept 2\nnop", "missing .endr"),
    (".option bogus", "unknown .option `bogus'"),
    ("addi a0, a0, (1", "missing `)'"),
    ("li a0, 1 +", "missing operand"),
    (".section .data\naddi a0, a0, 1\n.bss\n.word 1", "only zero-filled data can go into .bss"),
    ("lui a0, %hi(0x100000000)", "%hi value 0x100000000 out of range"),
    ("mul a0, a1, a2", "extension `m' required"),
    ("clz a0, a1", "extension `zbb' required"),
    ("sh1add a0, a1, a2", "extension `zba' required"),
    ("clmul a0, a1, a2", "extension `zbc' required"),
    ("bseti a0, a1, 3", "extension `zbs' required"),
    ("cbo.zero (a0)", "extension `zicboz' required"),
    ("cbo.clean (a0)", "extension `zicbom' required"),
    ("prefetch.w 0(a0)", "extension `zicbop' required"),
    ("pause", "extension `zihintpause' required"),
    (".attribute arch, \"rv64imac_zicbop\"\nprefetch.r 33(a0)", "improper prefetch offset (33)"),
    (".insn ci 1, 0, a0, 1", ".insn format `ci' is not supported"),
    (".insn r 0x33, 8, 0, a0, a1, a2", "func3 8 out of range [0, 7]"),
    (".insn 2, 0x13", "does not fit a 2-byte instruction"),
    ("li a0, LEN\nmsg: .ascii \"ab\"\n.equ LEN, . - msg", "li needs a constant; `LEN' is not known here"),
    ("li a0, 2f - 1f\n1: nop\n2:", "`local label 2' is not known here"),
    ("1: nop\n2: li a0, 2b - 1b", "`local label 2' is not known here"),
]


@pytest.mark.parametrize("source,message", CASES, ids=[c[0].split("\n")[0] for c in CASES])
def test_error_message_names_the_problem(source, message):
    march = "rv64iac" if "extension `m'" in (message or "") else "rv64imac"
    if message is None:
        assemble(source)               # a far beqz is relaxed, not an error
        return
    with pytest.raises(AsmError) as info:
        assemble(source, "bad.S", march=march)
    errors = info.value.errors
    assert len(errors) == 1, errors
    file, line, text = errors[0]
    assert file == "bad.S"
    assert message in text
    bad_line = source.split("\n")[line - 1]
    assert bad_line.strip(), (line, source)
    assert str(info.value) == "bad.S:%d: %s" % (line, text)


def test_all_errors_of_a_file_are_reported_in_line_order():
    source = "\n".join(["nop", "frob", "addi a0, a0, 9999", "beq a0, a1, nowhere", ".bogus",
                        "ld a0, 1(a9)", "j 1f"])
    with pytest.raises(AsmError) as info:
        assemble(source, "many.S")
    lines = [line for _, line, _ in info.value.errors]
    assert lines == [2, 3, 4, 5, 6, 7]


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pyvmm", "asm", *args], capture_output=True, text=True,
                          cwd=cwd, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_cli_reports_errors_and_exits_2(tmp_path):
    src = tmp_path / "bad.S"
    src.write_text("_start:\n    addi a0, a0, 5000\n    frob\n    j nowhere\n")
    result = run_cli(str(src), "-o", str(tmp_path / "out.elf"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "%s:2: illegal operands `addi a0, a0, 5000': immediate 5000 out of range [-2048, 2047]" % src,
        "%s:3: unknown instruction `frob'" % src,
        "%s:4: undefined symbol `nowhere'" % src,
    ]
    assert not (tmp_path / "out.elf").exists()


@pytest.mark.parametrize("args,message", [
    (["missing.S", "-o", "x.elf"], "cannot read missing.S"),
    (["ok.S", "-o", "x.elf", "-Ttext=banana"], "bad address `banana'"),
    (["ok.S", "-o", "x.elf", "--section-start=.data"], "bad --section-start"),
    (["ok.S", "-o", "x.elf", "--march", "rv32i"], "unsupported -march `rv32i'"),
    (["ok.S", "-o", "no/such/dir/x.elf"], "cannot write no/such/dir/x.elf"),
])
def test_cli_bad_usage_is_one_line_and_exit_2(args, message, tmp_path):
    (tmp_path / "ok.S").write_text("nop\n")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_writes_elf_and_flat_binary(tmp_path):
    (tmp_path / "ok.S").write_text(".globl _start\n_start: li a0, 1\n ret\n.data\n.word 7\n")
    assert run_cli("ok.S", "-o", "ok.elf", cwd=tmp_path).returncode == 0
    assert (tmp_path / "ok.elf").read_bytes()[:4] == b"\x7fELF"
    result = run_cli("ok.S", "-o", "ok.bin", "--format", "bin", "-Ttext=0x1000", "-Tdata=0x1010", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok.bin").read_bytes() == bytes.fromhex("0545828000000000000000000000000007000000")

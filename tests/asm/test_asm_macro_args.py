"""Macro arguments written as quoted strings lose their quotes, as in GNU as."""

import shutil
import subprocess

import pytest

from pyvmm.asm import assemble

SOURCE = """\
.macro SAY t
.asciz "\\t"
.endm
.macro TWO a, b
.ascii "\\a"
.word \\b
.endm
SAY "hello world"
SAY plain
TWO "x y", 7
TWO b=3, a="q,r"
"""

# What GNU as 2.40 emits for SOURCE.
EXPECTED = b"hello world\x00plain\x00x y\x07\x00\x00\x00q,r\x03\x00\x00\x00"


def test_quoted_macro_arguments_are_unquoted():
    text = assemble(SOURCE).sections[0].data
    assert text == EXPECTED


def test_same_bytes_as_gnu_as(tmp_path):
    gas = shutil.which("riscv64-unknown-elf-as")
    objcopy = shutil.which("riscv64-unknown-elf-objcopy")
    if not gas or not objcopy:
        pytest.skip("GNU binutils for riscv64 are not installed")
    (tmp_path / "m.S").write_text(SOURCE)
    subprocess.run([gas, "-o", str(tmp_path / "m.o"), str(tmp_path / "m.S")], check=True)
    subprocess.run([objcopy, "-O", "binary", "-j", ".text", str(tmp_path / "m.o"),
                    str(tmp_path / "m.bin")], check=True)
    assert (tmp_path / "m.bin").read_bytes() == assemble(SOURCE).sections[0].data

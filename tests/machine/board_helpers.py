"""Shared by the board's tests: ELF synthesis, GNU-built guests, CLI runs."""

import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from support import oracles

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def core_built():
    try:
        return importlib.util.find_spec("pyvmm._core") is not None
    except (ModuleNotFoundError, ValueError):
        return False


needs_core = pytest.mark.skipif(not core_built(),
                                reason="pyvmm._core is not built (python setup.py build_ext --inplace)")
needs_gnu = pytest.mark.skipif(oracles.first_missing(oracles.GNU_AS, oracles.GNU_LD) is not None,
                               reason="GNU binutils for RISC-V (riscv64-unknown-elf-as/ld) not installed")


def make_elf(segments, entry, *, machine=243, elf_class=2, data=1, e_type=2,
             symbols=None):
    """A minimal ELF64: PT_LOAD per (paddr, bytes, memsz) and optionally a
    .symtab of {name: value}."""
    phoff = 64
    body_offset = phoff + 56 * len(segments)
    body = bytearray()
    phdrs = bytearray()
    for paddr, content, memsz in segments:
        offset = body_offset + len(body)
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, offset, paddr, paddr, len(content), memsz, 0x1000)
        body += content
    shoff = shnum = 0
    sections = b""
    if symbols is not None:
        strtab = b"\0" + b"".join(name.encode() + b"\0" for name in symbols)
        syms = bytes(24)
        name_offset = 1
        for name, value in symbols.items():
            syms += struct.pack("<IBBHQQ", name_offset, 0x10, 0, 1, value, 0)   # global, section 1
            name_offset += len(name) + 1
        strtab_offset = body_offset + len(body)
        body += strtab
        symtab_offset = body_offset + len(body)
        body += syms
        shoff = body_offset + len(body)
        shnum = 3
        sections = (bytes(64)
                    + struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, strtab_offset, len(strtab), 0, 0, 1, 0)
                    + struct.pack("<IIQQQQIIQQ", 0, 2, 0, 0, symtab_offset, len(syms), 1, 1, 8, 24))
    ident = b"\x7fELF" + bytes((elf_class, data, 1)) + bytes(9)
    header = struct.pack("<16sHHIQQQIHHHHHH", ident, e_type, machine, 1, entry, phoff, shoff, 0,
                         64, 56, len(segments), 64, shnum, 0)
    return header + phdrs + bytes(body) + sections


def gnu_build(tmp_path, source, name="guest", text_addr=0x8000_0000):
    """Assemble and link `source` with GNU binutils; returns the ELF path."""
    return Path(oracles.build_text_with_gnu(source, tmp_path, name=name, text_addr=text_addr))


PYVMM = [sys.executable, "-m", "pyvmm"]


def run_cli(*args, stdin=b"", timeout=120):
    """`python -m pyvmm run ARGS` -> CompletedProcess (bytes output)."""
    return subprocess.run([*PYVMM, "run", *map(str, args)], cwd=REPO,
                          input=stdin, capture_output=True, timeout=timeout)


def error_line(proc):
    """The single stderr line of a failed run (asserting there is just one)."""
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1, proc.stderr.decode()
    assert "Traceback" not in lines[0]
    return lines[0]

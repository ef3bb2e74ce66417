"""The ELF pyvmm asm writes boots on QEMU's virt machine (QEMU's own ELF loader,
-bios none): guests/hello.S prints its greeting and powers off with status 0."""

import shutil

import pytest

from asm_oracle import REPO
from pyvmm.asm import assemble_file
from support import oracles

QEMU = shutil.which(oracles.QEMU)


def test_hello_elf_runs_on_qemu(tmp_path):
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 not installed (Debian: qemu-system-misc)")
    source = REPO / "guests" / "hello.S"
    if not source.exists():
        pytest.skip("guests/hello.S is not in the tree")
    elf = tmp_path / "hello.elf"
    elf.write_bytes(assemble_file(source).to_elf())
    status, output = oracles.run_qemu(elf, timeout=60)
    assert status == 0, output
    assert b"Hello from pyvmm!" in output

"""The ELF pyvmm asm writes boots on QEMU's virt machine (QEMU's own ELF loader,
-bios none): guests/hello.S prints its greeting and powers off with status 0."""

import shutil
import subprocess

import pytest

from asm_oracle import REPO
from pyvmm.asm import assemble_file

QEMU = shutil.which("qemu-system-riscv64")


def test_hello_elf_runs_on_qemu(tmp_path):
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 not installed (Debian: qemu-system-misc)")
    source = REPO / "guests" / "hello.S"
    if not source.exists():
        pytest.skip("guests/hello.S is not in the tree")
    elf = tmp_path / "hello.elf"
    elf.write_bytes(assemble_file(source).to_elf())
    result = subprocess.run([QEMU, "-machine", "virt", "-bios", "none", "-nographic", "-monitor", "none",
                             "-serial", "stdio", "-kernel", str(elf)],
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert b"Hello from pyvmm!" in result.stdout

"""guests/virt/classic_probe.S: a kernel that checks whether it can see virtualization.

Natively and under QEMU + OpenSBI it sees none; the techniques' tests (tests/hv)
run it under trap-emulate and bt with the classic CPU profile."""

import os
import shutil
import subprocess
import sys

import pytest

from support.oracles import QEMU

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(ROOT, "guests", "virt", "classic_probe.S")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
CLEAN = [
    "classic-probe: can this kernel tell it is virtualized?",
    "  sstatus.SIE written then read back: ok",
    "  satp with paging off reads 0: ok",
    "  timer interrupt held while sstatus.SIE = 0, taken once set: ok",
    "classic-probe: no virtualization visible",
]


def probe_lines(output):
    text = output.decode().replace("\r\n", "\n")
    start = text.index("classic-probe:")
    return text[start:].splitlines()


def test_native_sees_no_virtualization():
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--bios", "builtin", PROBE],
                          capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert probe_lines(proc.stdout) == CLEAN


def test_same_on_qemu_with_opensbi(tmp_path):
    if not shutil.which(QEMU):
        pytest.skip("%s is not installed" % QEMU)
    if not os.path.exists(OPENSBI):
        pytest.skip("OpenSBI fw_jump.bin is not installed (apt: opensbi)")
    elf = tmp_path / "probe.elf"
    subprocess.run([sys.executable, "-m", "pyvmm", "asm", PROBE, "-Ttext", "0x80200000", "-o", str(elf)],
                   check=True, cwd=ROOT)
    proc = subprocess.run([QEMU, "-machine", "virt", "-nographic", "-bios", OPENSBI, "-kernel", str(elf)],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert probe_lines(proc.stdout) == CLEAN

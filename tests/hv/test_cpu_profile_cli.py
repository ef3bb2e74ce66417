"""`pyvmm run --cpu-profile`: the classic profile betrays trap-and-emulate, and BT repairs it.

guests/virt/classic_probe.S asks whether an sstatus write is visible, whether
satp reads 0 with paging off, and whether a masked timer interrupt waits for
sstatus.SIE. Under trap-and-emulate the de-privileged kernel's sensitive but
(in the classic profile) unprivileged instructions neither trap nor work, so it
sees through the VMM and its interrupt masking breaks; BT rewrites them."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = os.path.join(ROOT, "guests", "virt", "classic_probe.S")
CLEAN = [
    "  sstatus.SIE written then read back: ok",
    "  satp with paging off reads 0: ok",
    "  timer interrupt held while sstatus.SIE = 0, taken once set: ok",
    "classic-probe: no virtualization visible",
]
DETECTED = [
    "  sstatus.SIE written then read back: write lost (virtualization detected)",
    "  satp with paging off reads 0: reads the hypervisor's value (virtualization detected)",
    "  timer interrupt held while sstatus.SIE = 0, taken once set: never taken (interrupt masking broken)",
    "classic-probe: virtualization visible",
]


def run_probe(*options):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--bios", "builtin", *options, PROBE],
                          capture_output=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().splitlines()[-4:]


@pytest.mark.parametrize("technique", ["native", "trap-emulate", "bt", "hw"])
def test_standard_profile_hides_virtualization(technique):
    assert run_probe("--technique", technique) == CLEAN


def test_classic_profile_betrays_trap_and_emulate():
    assert run_probe("--technique", "trap-emulate", "--cpu-profile", "classic") == DETECTED


@pytest.mark.parametrize("technique", ["native", "bt", "hw"])
def test_classic_profile_repaired_by_bt_and_harmless_elsewhere(technique):
    assert run_probe("--technique", technique, "--cpu-profile", "classic") == CLEAN


def test_bad_profile_is_usage_error():
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--cpu-profile", "x86", PROBE],
                          capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert b"invalid choice" in proc.stderr

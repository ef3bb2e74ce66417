"""A kernel that uses F and D (guests/hv/fp_vs.S) prints the same on the board
and in a VM under every technique that runs a plain kernel: FP is an illegal
instruction the kernel itself handles while its sstatus.FS is Off, computes
the same bits and flags once it is on, and FS/SD go Dirty after it wrote f
registers (what Linux's context switch relies on) and stay Clean while it
only reads them."""

import os
import subprocess
import sys

import pytest

from hv_support import ROOT, needs_h

GUEST = os.path.join(ROOT, "guests", "hv", "fp_vs.S")
EXPECTED = ("fs+sd 0000000000000000\n"            # FS Off as the kernel is entered
            "illegal while off 0000000000000002\n"  # fadd and frcsr both trapped
            "result 4005555555555556\n"            # sqrt(2)**2 + 2/3, fused
            "fflags 0000000000000001\n"            # NX
            "fs+sd 0000000000000013\n"             # Dirty, SD
            "fs+sd 0000000000000002\n"             # Clean: reads and stores leave it
            "fs+sd 0000000000000013\n")            # written again: Dirty


def pyvmm_run(*args):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *args, GUEST], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def test_on_the_board():
    assert pyvmm_run("--bios", "builtin")[:2] == (0, EXPECTED)


@needs_h
@pytest.mark.parametrize("args", [("--technique", "hw"), ("--technique", "hw", "--paging", "shadow"),
                                  ("--technique", "trap-emulate"), ("--technique", "bt")],
                         ids=["hw-nested", "hw-shadow", "trap-emulate", "bt"])
def test_in_a_vm(args):
    status, out, err = pyvmm_run(*args)
    assert (status, out) == (0, EXPECTED), err[-2000:]


@needs_h
@pytest.mark.parametrize("technique", ["hw", "trap-emulate", "bt"])
def test_f_registers_and_fcsr_follow_their_vcpu_across_switches(technique):
    from pyvmm.hv import Host
    host = Host(ram_size=96 << 20)
    paging = "nested" if technique == "hw" else "shadow"
    a, b = (host.create_vm(ram_size=16 << 20, paging=paging, technique=technique).vcpus[0]
            for _ in range(2))
    a.activate()
    a.set_f(3, 0x1111)
    a.set_fcsr(0x21)
    b.activate()                                  # a's state leaves the core, b's fresh one comes
    assert (host.core.get_f(3), host.core.fcsr) == (0, 0)
    b.set_f(3, 0x2222)
    b.set_fcsr(0x45)
    assert (a.get_f(3), a.get_fcsr()) == (0x1111, 0x21)      # a, saved
    a.activate()
    assert (host.core.get_f(3), host.core.fcsr) == (0x1111, 0x21)
    assert (b.get_f(3), b.get_fcsr()) == (0x2222, 0x45)

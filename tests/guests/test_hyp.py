"""guests/hyp/hyp.S: an HS-mode hypervisor in assembly and its VS/VU guest.

No pyvmm exit control is set, so every trap below is architectural: the run
proves the H extension works for HS-mode software. The expected text was
derived from the program (counts of the hypercalls its guest makes, the GPA
it leaves unmapped) and matches QEMU 7.2 with -cpu rv64,h=true; the
differential test re-checks that on every run where QEMU is installed."""

import os
import subprocess
import sys

import pytest

from support import oracles
from support.oracles import GNU_AS, GNU_LD, QEMU

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HYP = os.path.join(REPO, "guests", "hyp", "hyp.S")
MAX_INSNS = 5_000_000

EXPECTED = """\
hyp: HS-mode hypervisor, guest RAM at GPA 0x0000000080000000 -> HPA 0x0000000080001000
guest: hello from VS-mode
guest: my VMID is 0x0000000000000005
guest: Sv39 on
guest: wrote and read back the page past my RAM: 0x00000000600dcafe
guest: cycle (the hypervisor's exit count) = 0x0000000000000096
guest: csrr hstatus was an illegal instruction, register kept: 0x0000000000001234
guest: hypervisor incremented my word, old value 0x0000000000000029
guest: word now 0x000000000000002a
guest: hypervisor read my code: 0x0000000002a50513
user: hello from VU-mode
guest: user task exited with 0x000000000000002a
guest: system calls 0x000000000000001a
guest: software interrupts 0x0000000000000001
guest: timer interrupts 0x0000000000000001
guest: illegal instructions 0x0000000000000001
hyp: summary
hyp:   exits to HS              0x00000000000002c1
hyp:   hypercalls               0x00000000000002bd
hyp:   interrupts injected      0x0000000000000002
hyp:   guest-page faults        0x0000000000000001
hyp:   last guest-page fault    0x0000000000000017
hyp:   htval (GPA >> 2)         0x0000000020001802
hyp:   stval (guest VA)         0x0000000080006008
hyp:   hstatus.GVA              0x0000000000000001
hyp:   virtual instructions     0x0000000000000003
hyp:     wfi skipped            0x0000000000000001
hyp:     cycle emulated         0x0000000000000001
hyp:     reflected as illegal   0x0000000000000001
hyp:   HLV/HLVX/HSV accesses    0x0000000000000003
hyp:   lazily mapped page +8    0x00000000600dcafe
hyp: guest done, powering off
"""

HYPERCALLS = 0x2BD
SYSCALLS = 0x1A
ECALL_U, ECALL_VS, VIRTUAL_INSTRUCTION, STORE_GUEST_PAGE_FAULT = 8, 10, 22, 23


def summary_value(text, label):
    line = next(line for line in text.splitlines() if line.startswith("hyp:") and label in line)
    return int(line.split()[-1], 16)


def test_expected_text_is_self_consistent():
    """The counts in EXPECTED agree with each other and with the layout
    (guards the constant itself against a careless edit)."""
    exits = summary_value(EXPECTED, "exits to HS")
    assert exits == (summary_value(EXPECTED, "hypercalls") + summary_value(EXPECTED, "virtual instructions")
                     + summary_value(EXPECTED, "guest-page faults"))
    htval, stval = summary_value(EXPECTED, "htval"), summary_value(EXPECTED, "stval")
    assert htval << 2 == stval, "the guest's kernel mapping is VA = GPA, so htval << 2 is the VA"
    assert summary_value(EXPECTED, "last guest-page fault") == STORE_GUEST_PAGE_FAULT


def test_pyvmm_output_and_architectural_traps():
    from pyvmm.machine import Machine
    machine = Machine(bios="none")
    machine.load(HYP)
    result = machine.run(max_insns=MAX_INSNS)
    assert machine.uart_output.decode() == EXPECTED
    assert (result.how, result.status) == ("finisher-pass", 0)
    stats = machine.stats()
    # The core delivered every trap itself (no exit to Python but the UART and finisher).
    assert set(stats["exits"]) <= {"mmio"}, stats["exits"]
    traps = {int(cause): n for cause, n in stats["traps"].items()}
    assert traps.get(ECALL_VS) == HYPERCALLS
    assert traps.get(ECALL_U) == SYSCALLS
    assert traps.get(VIRTUAL_INSTRUCTION) == 3
    assert traps.get(STORE_GUEST_PAGE_FAULT) == 1
    assert sum(stats["interrupts"].values()) == 2
    # Its accesses went through both stages: VS-stage Sv39 over the Sv39x4 G-stage.
    assert stats["walks_2d"] > 0 and stats["gstage_walks"] > 0


def test_pyvmm_command_line():
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--max-insns", str(MAX_INSNS), HYP],
                          cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == EXPECTED


def test_same_output_on_qemu(tmp_path):
    missing = oracles.first_missing(GNU_AS, GNU_LD, QEMU)
    if missing:
        pytest.skip("%s is not installed: no QEMU reference for the hypervisor guest" % missing)
    elf = oracles.build_with_gnu(HYP, tmp_path)
    status, qemu_out = oracles.run_qemu(elf, cpu="rv64,h=true", icount=True, timeout=60)
    assert status == 0, qemu_out.decode(errors="replace")
    assert qemu_out.decode() == EXPECTED
    # pyvmm runs the GNU-built ELF the same way as its own assembly of the source.
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--max-insns", str(MAX_INSNS), str(elf)],
                          cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == qemu_out

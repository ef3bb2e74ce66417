"""--trace under --technique: each Exit record (exit) and the VM's device
errors (guest_errors); the instruction classes are refused there."""

import pytest

from board_helpers import error_line, needs_core, run_cli

pytestmark = needs_core

# An S-mode kernel: one SBI call (base, get_spec_version), a store to an
# address nothing decodes (the access fault is reflected; the handler
# passes through the finisher).
KERNEL = """
    .globl _start
_start:
    la t0, handler
    csrw stvec, t0
    li a7, 0x10
    li a6, 0
at_sbi:
    ecall
    li t0, 0x3000
at_bad:
    sw zero, 0(t0)
    j .
    .balign 4
handler:
    li t0, 0x100000
    li t1, 0x5555
at_finish:
    sw t1, 0(t0)
1:  j 1b
"""


def test_exit_records_and_guest_errors(tmp_path):
    from pyvmm.machine.loader import load_image
    guest = tmp_path / "k.S"
    guest.write_text(KERNEL)
    log = tmp_path / "trace.txt"
    proc = run_cli("--technique", "hw", guest, "--trace", "exit,guest_errors", "--trace-file", log)
    assert proc.returncode == 0, proc.stderr
    at = {name: f"{addr:#x}" for name, addr in
          load_image(str(guest), ram_base=0x8000_0000, ram_size=128 << 20,
                     default_addr=0x8020_0000).symbols.items()}
    lines = log.read_text().splitlines()
    assert lines[0].startswith(f"exit: vm1 vcpu0 sbi cause=0xa pc={at['at_sbi']} ext=0x10 fid=0x0 "
                               "args=(0x0,")
    assert lines[1:] == [
        f"exit: vm1 vcpu0 guest_page_fault cause=0x17 tval=0x3000 gpa=0x3000 insn=0x2a023 "
        f"pc={at['at_bad']} virt=0x1 priv=0x1 htinst=0x0",
        f"guest_errors: vm1 pc={at['at_bad']}: store at 0x3000: nothing there (access fault)",
        f"exit: vm1 vcpu0 mmio pc={at['at_finish']} addr=0x100000 size=0x4 is_write=1 data=0x5555",
    ]


@pytest.mark.parametrize("classes", ["exec", "exit,mmu"])
def test_instruction_classes_are_refused(tmp_path, classes):
    guest = tmp_path / "k.S"
    guest.write_text(KERNEL)
    proc = run_cli("--technique", "hw", guest, "--trace", classes)
    assert proc.returncode == 2
    assert "--trace is not supported with --technique hw for" in error_line(proc)


def test_filter_is_refused(tmp_path):
    guest = tmp_path / "k.S"
    guest.write_text(KERNEL)
    proc = run_cli("--technique", "hw", guest, "--trace", "exit", "--trace-filter", "0x0+4")
    assert proc.returncode == 2
    assert "--trace-filter is not supported with --technique hw" in error_line(proc)

"""HTIF guests end to end: on pyvmm (CLI and Machine) and, as the reference, on QEMU's spike machine."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import (GUESTS, RAM_BASE, gnu_build, machine_run, pyvmm_run,  # noqa: E402
                              qemu_run)

HTIF = os.path.join(GUESTS, "htif")
CONSOLE_TEXT = b"htif console: hello through device 1\nfromhost answered every byte\n"
SYSCALL_TEXT = b"pk-style write through the HTIF syscall proxy\n"

# guest -> (exit status, console output). QEMU 7.2 runs the first three the same way;
# it has no syscall proxy, no getchar that waits for input, and ignores unknown devices.
EXPECTED = {
    "pass": (0, b""),
    "fail": (5, b""),
    "console": (0, CONSOLE_TEXT),
    "syscall": (7, SYSCALL_TEXT),
    "echo": (0, b"echo: hi\n"),
    "unsupported": (126, b""),
}
ON_QEMU = ("pass", "fail", "console")


@pytest.fixture(scope="module")
def elves(tmp_path_factory):
    out = tmp_path_factory.mktemp("htif")
    return {name: gnu_build(os.path.join(HTIF, name + ".S"), out, RAM_BASE) for name in EXPECTED}


@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_cli_from_source(guest):
    """`pyvmm run guest.S`: pyvmm's own assembler, its symbol table carrying tohost, the CLI."""
    status, out, err = pyvmm_run("--htif", "auto", os.path.join(HTIF, guest + ".S"),
                                 stdin=b"hi\n", timeout=120)
    assert (status, out) == EXPECTED[guest], err
    if guest == "unsupported":
        assert err.strip() == ("pyvmm: htif: unsupported command 0x0200000000000041 "
                               "(device 2, command 0, payload 0x41)")
    else:
        assert "htif" not in err


@pytest.mark.parametrize("guest", sorted(EXPECTED))
def test_machine(elves, guest):
    result, out, machine = machine_run("none", elves[guest], max_insns=2_000_000, stdin=b"hi\n")
    assert (result.status, out) == EXPECTED[guest]
    assert result.how == ("htif-error" if guest == "unsupported" else "htif")
    commands = machine.htif.stats()["commands"]
    if guest == "console":
        assert commands == {"putchar": len(CONSOLE_TEXT), "exit": 1}
    elif guest == "syscall":
        assert commands == {"syscall.write": 1, "syscall.exit": 1}
    elif guest == "echo":
        assert commands["getchar"] == 3


def test_htif_off_ignores_tohost(elves):
    status, out, err = pyvmm_run("--htif", "off", "--max-insns", "10000", elves["pass"])
    assert status == 124 and out == b""


def test_echo_without_input_keeps_polling(elves):
    result, out, _ = machine_run("none", elves["echo"], max_insns=200_000, stdin=b"")
    assert (result.how, out) == ("budget", b"echo: ")


@pytest.mark.parametrize("guest", ON_QEMU)
def test_qemu_spike_agrees(elves, guest):
    """QEMU runs the ELF pyvmm runs in test_machine to the same status and output."""
    qemu_status, qemu_out = qemu_run(elves[guest], machine="spike")
    assert (qemu_status, qemu_out.replace(b"\r\n", b"\n")) == EXPECTED[guest]

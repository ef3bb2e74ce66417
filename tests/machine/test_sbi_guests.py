"""S-mode guests on pyvmm's built-in SBI (`--bios builtin`), with QEMU + OpenSBI as the reference."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import (FW_JUMP_BIN, GUESTS, KERNEL_ADDR, TOUR_OUTPUT, gnu_build,  # noqa: E402
                              machine_run, need_opensbi, pyvmm_run, qemu_run)

FIRMWARE = os.path.join(GUESTS, "firmware")

PAYLOAD_BUILTIN = (b"sbi_payload: S-mode on hart 0, SBI spec 2.0, implementation 0x7079766d, "
                   b"device tree ok\n")


@pytest.fixture(scope="module")
def elves(tmp_path_factory):
    out = tmp_path_factory.mktemp("sbi")
    return {name: gnu_build(os.path.join(FIRMWARE, name + ".S"), out, KERNEL_ADDR)
            for name in ("sbi_payload", "sbi_tour")}


def test_tour_on_builtin_sbi(elves):
    result, out, machine = machine_run("builtin", elves["sbi_tour"], max_insns=5_000_000)
    assert out == TOUR_OUTPUT
    assert (result.status, result.how) == (0, "sbi-shutdown")
    stats = machine.sbi.stats()
    by_function = stats["calls_by_function"]
    assert by_function["dbcn.console_write"] == 1 and by_function["dbcn.console_write_byte"] == 1
    assert by_function["legacy.console_putchar"] == len(TOUR_OUTPUT) - len(b"debug console line\n")
    assert by_function["srst.system_reset"] == 1
    assert by_function["ipi.send_ipi"] == 1 and by_function["time.set_timer"] == 2
    assert by_function["base.probe_extension"] == 7 and by_function["base.0x63"] == 1
    assert stats["redirected_traps"] == {2: 2}      # one from S, one from U


def test_payload_through_the_cli(elves):
    status, out, err = pyvmm_run("--bios", "builtin", "--kernel", elves["sbi_payload"])
    assert (status, out) == (0, PAYLOAD_BUILTIN), err


def test_tour_same_as_qemu_with_opensbi(elves):
    need_opensbi()
    status, out = qemu_run(elves["sbi_tour"], bios=FW_JUMP_BIN)
    out = out.replace(b"\r\n", b"\n")
    assert status == 0
    assert out[out.index(b"sbi_tour: S-mode"):] == TOUR_OUTPUT


def test_source_assembled_by_pyvmm():
    try:
        from pyvmm.asm import assemble_file  # noqa: F401
    except ImportError:
        pytest.skip("pyvmm's assembler (pyvmm.asm.assemble_file) is not available")
    status, out, err = pyvmm_run("--bios", "builtin", "--kernel",
                                 os.path.join(FIRMWARE, "sbi_tour.S"))
    assert (status, out) == (0, TOUR_OUTPUT), err


ECHO_INPUT = b"hello\nworld\nquit\n"
ECHO_OUTPUT = b"echo: hello\necho: world\nbye\n"


def test_console_input_through_dbcn(tmp_path):
    elf = gnu_build(os.path.join(FIRMWARE, "sbi_echo.S"), tmp_path, KERNEL_ADDR)
    result, out, machine = machine_run("builtin", elf, max_insns=5_000_000, stdin=ECHO_INPUT)
    assert (result.status, result.how, out) == (0, "sbi-shutdown", ECHO_OUTPUT)
    by_function = machine.sbi.stats()["calls_by_function"]
    assert by_function["dbcn.console_read"] == len(ECHO_INPUT)
    assert by_function["dbcn.console_write"] == 2


def test_console_input_through_the_cli():
    status, out, err = pyvmm_run("--bios", "builtin", "--kernel",
                                 os.path.join(FIRMWARE, "sbi_echo.S"), stdin=ECHO_INPUT)
    assert (status, out) == (0, ECHO_OUTPUT), err

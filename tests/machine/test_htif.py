"""HTIF by fabricated tohost stores on a fake core: exit codes, console, syscall proxy, errors."""

import io
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import RAM_BASE, FakeCore, FakeMachine  # noqa: E402

from pyvmm.machine import htif, layout  # noqa: E402

TOHOST = RAM_BASE + 0x1000
FROMHOST = RAM_BASE + 0x1040
MAGIC = RAM_BASE + 0x2000
BUF = RAM_BASE + 0x3000


class Rig:
    def __init__(self, console_input=b"", fromhost=FROMHOST):
        self.core = FakeCore()
        self.machine = FakeMachine(self.core, console_input)
        self.err = io.StringIO()
        self.htif = htif.Htif(self.machine, TOHOST, fromhost, stderr=self.err)

    def store(self, value):
        """The guest's `sd value, tohost`, then the watch exit."""
        self.core.set_u64(TOHOST, value)
        self.htif.on_tohost_write()

    def fromhost(self):
        return self.core.u64(FROMHOST)

    def clear_fromhost(self):
        self.core.set_u64(FROMHOST, 0)


@pytest.fixture
def rig():
    return Rig()


def test_pass(rig):
    rig.store(1)
    assert rig.machine.stops == [("htif", 0)]
    assert rig.core.u64(TOHOST) == 0


@pytest.mark.parametrize("testnum", [1, 2, 17, 255, 1000])
def test_fail_reports_the_test_number(rig, testnum):
    rig.store((testnum << 1) | 1)
    assert rig.machine.stops == [("htif", testnum)]


def test_riscv_tests_split_store(rig):
    """riscv-tests RV64 write_tohost: sw TESTNUM to the low word, then sw zero to the high word."""
    rig.core.write_mem(TOHOST, (7).to_bytes(4, "little"))
    rig.htif.on_tohost_write()
    rig.core.write_mem(TOHOST + 4, bytes(4))
    rig.htif.on_tohost_write()
    assert rig.machine.stops == [("htif", 3)]


def test_zero_store_is_not_a_command(rig):
    rig.store(0)
    assert rig.machine.stops == [] and rig.htif.stats()["commands"] == {}


def test_putchar_answers_and_waits_for_fromhost_to_clear(rig):
    rig.store(htif.encode(1, 1, ord("h")))
    assert bytes(rig.machine.output) == b"h"
    assert rig.fromhost() == (1 << 56) | (1 << 48) | 0x100 | ord("h")
    assert rig.core.u64(TOHOST) == 0
    rig.store(htif.encode(1, 1, ord("i")))
    assert bytes(rig.machine.output) == b"hi"
    assert rig.fromhost() == (1 << 56) | (1 << 48) | 0x168, "the second answer queues"
    rig.clear_fromhost()
    rig.htif.poll()
    assert rig.fromhost() == (1 << 56) | (1 << 48) | 0x169
    assert rig.htif.stats()["commands"] == {"putchar": 2}
    assert rig.htif.stats()["by_device"] == {"1/1": 2}


def test_getchar_answers_when_input_exists():
    rig = Rig(console_input=b"k")
    rig.store(htif.encode(1, 0, 0))
    assert rig.fromhost() == (1 << 56) | 0x100 | ord("k")
    rig.clear_fromhost()
    rig.store(htif.encode(1, 0, 0))
    assert rig.fromhost() == 0, "no input yet: the read stays pending"
    assert rig.htif.stats()["pending_reads"] == 1
    rig.machine.input += b"Z"
    rig.htif.poll()
    assert rig.fromhost() == (1 << 56) | 0x100 | ord("Z")


def test_syscall_write_to_console(rig):
    rig.core.write_mem(BUF, b"proxy write\n")
    for i, word in enumerate([64, 1, BUF, 12, 0, 0, 0, 0]):
        rig.core.set_u64(MAGIC + 8 * i, word)
    rig.store(MAGIC)
    assert bytes(rig.machine.output) == b"proxy write\n"
    assert rig.core.u64(MAGIC) == 12
    assert rig.fromhost() == 1
    assert rig.htif.stats()["commands"] == {"syscall.write": 1}


def test_syscall_write_to_stderr_and_bad_fd(rig):
    rig.core.write_mem(BUF, b"oops")
    for i, word in enumerate([64, 2, BUF, 4]):
        rig.core.set_u64(MAGIC + 8 * i, word)
    rig.store(MAGIC)
    assert rig.err.getvalue() == "oops" and rig.machine.output == b""
    rig.clear_fromhost()
    rig.core.set_u64(MAGIC, 64)           # the result replaced the syscall number
    rig.core.set_u64(MAGIC + 8, 5)
    rig.store(MAGIC)
    assert rig.core.u64(MAGIC) == (1 << 64) - 9      # -EBADF
    assert rig.fromhost() == 1


def test_syscall_exit(rig):
    rig.core.set_u64(MAGIC, 93)
    rig.core.set_u64(MAGIC + 8, 3)
    rig.store(MAGIC)
    assert rig.machine.stops == [("htif", 3)]


@pytest.mark.parametrize("value, words, message", [
    (htif.encode(2, 0, 0), None, "unsupported command 0x0200000000000000 (device 2, command 0"),
    (htif.encode(1, 2, 0x41), None, "device 1, command 2"),
    (htif.encode(0, 1, 0), None, "device 0, command 1"),
    (MAGIC, [57, 3], "unsupported syscall 57"),
    (0x2000, None, "syscall block at 0x2000 is outside RAM"),
    (MAGIC, [64, 1, RAM_BASE + 0xF_FFF0, 32], "write(1, 0x800ffff0, 32) reaches outside RAM"),
])
def test_unsupported_commands_stop_with_one_line(rig, value, words, message):
    for i, word in enumerate(words or []):
        rig.core.set_u64(MAGIC + 8 * i, word)
    rig.store(value)
    lines = rig.err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyvmm: htif: ") and message in lines[0]
    assert rig.machine.stops == [("htif-error", layout.EXIT_GUEST_ERROR)]
    assert layout.EXIT_GUEST_ERROR == 126
    device, command = value >> 56, (value >> 48) & 0xFF
    assert rig.htif.stats()["by_device"] == {"%d/%d" % (device, command): 1}
    assert rig.fromhost() == 0 and rig.machine.output == b"", "no answer after an error"


def test_without_fromhost_answers_are_dropped():
    rig = Rig(fromhost=None)
    rig.store(htif.encode(1, 1, ord("x")))
    rig.store(1)
    assert bytes(rig.machine.output) == b"x" and rig.machine.stops == [("htif", 0)]


def test_commands_after_the_stop_are_ignored(rig):
    rig.store(3)
    rig.store(htif.encode(1, 1, ord("x")))
    assert rig.machine.stops == [("htif", 1)] and rig.machine.output == b""

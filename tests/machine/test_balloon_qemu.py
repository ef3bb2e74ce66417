"""guests/devices/balloon.S on QEMU 7.2 and on pyvmm: the same bytes.

QEMU gets its targets from its monitor (`balloon 126`, `balloon 127`,
`balloon 128` on a UNIX socket), each sent once the guest has printed what
it did with the previous one; pyvmm gets the same targets from
--balloon-target at fixed instruction counts. The guest reads the target
only when it changes, so the two runs print the same lines. The S-mode
build (guests/devices/balloon_smode.S) runs under OpenSBI on QEMU and under
pyvmm's SBI, natively and in a VM.
"""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import devices_support as dev  # noqa: E402
from devices_support import first_difference  # noqa: E402
from firmware_support import need_tool  # noqa: E402
from support import oracles  # noqa: E402

STEPS = (  # (what the guest prints before the command, the monitor command)
    (b"ready: target 0\n", "balloon 126"),
    (b"inflated 512 pages, actual 512\n", "balloon 127"),
    (b"read back zero: 256\n", "balloon 128"),
)
PYVMM_TARGETS = [("balloon-target", "126@2000000"), ("balloon-target", "127@8000000"),
                 ("balloon-target", "128@14000000")]


class _Output:
    """A process's stdout collected by a thread, waited on by content."""

    def __init__(self, stream):
        self.data = b""
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for chunk in iter(lambda: stream.read1(4096), b""):
            with self.cond:
                self.data += chunk
                self.cond.notify_all()

    def wait_for(self, text, timeout):
        with self.cond:
            ok = self.cond.wait_for(lambda: text in self.data, timeout)
        assert ok, f"the guest did not print {text!r}; it printed {self.data!r}"


def _monitor(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_qemu_with_monitor(cmd, tmp_path):
    """QEMU (`cmd` without a monitor or display) with its monitor on a UNIX
    socket and the serial port on stdout, given the STEPS' commands as the
    guest reaches them: (exit status, stdout)."""
    need_tool(oracles.QEMU, "QEMU is the differential reference")
    path = str(tmp_path / "monitor.sock")
    cmd = [cmd[0], "-display", "none", "-monitor", f"unix:{path},server=on,wait=off",
           "-serial", "stdio", *cmd[1:]]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out = _Output(proc.stdout)
        monitor = _monitor(path)
        for printed, command in STEPS:
            out.wait_for(printed, dev.QEMU_TIMEOUT)
            monitor.sendall(command.encode() + b"\n")
        status = proc.wait(timeout=dev.QEMU_TIMEOUT)
        out.thread.join(5)
        monitor.close()
        return status, out.data
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _guest_part(stdout):
    """From the guest's first line on: OpenSBI's banner precedes it on an
    S-mode run, with "\r\n" line ends the guest never writes."""
    text = stdout.replace(b"\r\n", b"\n")
    return text[text.find(b"virtio-balloon: slot"):]


def test_balloon_guest_prints_the_same_on_qemu_and_pyvmm(tmp_path):
    elf = dev.build_guest("balloon", tmp_path)
    cmd = [arg for arg in dev.qemu_command(elf, [("device", "virtio-balloon-device")])
           if arg != "-nographic"]
    status, qemu_out = run_qemu_with_monitor(cmd, tmp_path)
    assert status == 0, qemu_out
    assert qemu_out.startswith(b"virtio-balloon: slot 7\n")
    assert qemu_out.endswith(b"virtio-balloon: done\n")
    code, out, err = dev.run_pyvmm(dev.guest_source("balloon"),
                                   [("device", "virtio-balloon-device"), *PYVMM_TARGETS,
                                    ("max-insns", "60000000")])
    assert code == 0, err
    assert out == qemu_out, first_difference(qemu_out, out)


@pytest.mark.parametrize("where", [("bios", "builtin"), ("technique", "hw"),
                                   ("technique", "trap-emulate")],
                         ids=["builtin-sbi", "vm-hw", "vm-trap-emulate"])
def test_smode_balloon_guest_under_opensbi_on_qemu_and_in_pyvmm(where, tmp_path):
    need_tool(oracles.GNU_AS, "GNU binutils build the reference ELF")
    # -n: no ELF header page before .text, so OpenSBI enters at _start.
    elf = oracles.build_with_gnu(dev.guest_source("balloon_smode"), tmp_path,
                                 ld_args=["-n", "-Ttext=0x80200000"])
    cmd = [oracles.QEMU, "-machine", "virt", "-m", "128M",
           "-global", "virtio-mmio.force-legacy=false", "-device", "virtio-balloon-device",
           "-kernel", str(elf)]
    status, qemu_out = run_qemu_with_monitor(cmd, tmp_path)
    assert status == 0, qemu_out
    qemu_out = _guest_part(qemu_out)
    assert qemu_out.endswith(b"virtio-balloon: done\n"), qemu_out
    option, value = where
    code, out, err = dev.run_pyvmm(dev.guest_source("balloon_smode"),
                                   [(option, value), ("device", "virtio-balloon-device"),
                                    *PYVMM_TARGETS, ("max-insns", "60000000")])
    assert code == 0, err
    assert out == qemu_out, first_difference(qemu_out, out)

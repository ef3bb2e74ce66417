"""guests/devices/balloon.S on QEMU 7.2 and on pyvmm: the same bytes.

QEMU gets its targets from its monitor (`balloon 126`, `balloon 127`,
`balloon 128` on a UNIX socket), each sent once the guest has printed what
it did with the previous one; pyvmm gets the same targets from
--balloon-target at fixed instruction counts. The guest reads the target
only when it changes, so the two runs print the same lines.
"""

import os
import socket
import subprocess
import sys
import threading
import time

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


def run_qemu_with_monitor(elf, tmp_path):
    need_tool(oracles.QEMU, "QEMU is the differential reference")
    path = str(tmp_path / "monitor.sock")
    cmd = dev.qemu_command(elf, [("device", "virtio-balloon-device")])
    cmd[cmd.index("-nographic") + 1:cmd.index("-nographic") + 1] = [
        "-monitor", f"unix:{path},server=on,wait=off", "-serial", "stdio"]
    cmd.remove("-nographic")
    cmd[1:1] = ["-display", "none"]
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


def test_balloon_guest_prints_the_same_on_qemu_and_pyvmm(tmp_path):
    elf = dev.build_guest("balloon", tmp_path)
    status, qemu_out = run_qemu_with_monitor(elf, tmp_path)
    assert status == 0, qemu_out
    assert qemu_out.startswith(b"virtio-balloon: slot 7\n")
    assert qemu_out.endswith(b"virtio-balloon: done\n")
    code, out, err = dev.run_pyvmm(dev.guest_source("balloon"),
                                   [("device", "virtio-balloon-device"), *PYVMM_TARGETS,
                                    ("max-insns", "60000000")])
    assert code == 0, err
    assert out == qemu_out, first_difference(qemu_out, out)

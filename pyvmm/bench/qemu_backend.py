"""Running benchmark images on qemu-system-riscv64 and timing the process."""

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

QEMU_BINARY = "qemu-system-riscv64"
QEMU_TIMEOUT = 300


class QemuError(Exception):
    """QEMU could not run an image to a clean end."""


def find_qemu(explicit=None):
    """The path of qemu-system-riscv64 (or `explicit`), or None."""
    return shutil.which(explicit or QEMU_BINARY)


def qemu_version(qemu):
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.strip() or None


def qemu_command(qemu, image):
    return [qemu, "-machine", "virt", "-bios", "none", "-nographic", "-smp", "1", "-m", "128M",
            "-kernel", str(image)]


@dataclass
class QemuRun:
    seconds: float           # wall time of the process
    cpu_seconds: float       # user + system time of the process, all its threads
    output: str


def run_image(qemu, image, timeout=QEMU_TIMEOUT):
    """Run an image to its finisher; wall and CPU time of the whole process.
    Output goes to files, not pipes, so reading it costs QEMU no time."""
    command = qemu_command(qemu, image)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        except OSError as exc:
            raise QemuError(f"cannot run {qemu}: {exc.strerror or exc}") from None
        try:
            status, usage = _wait(proc, timeout)
        except subprocess.TimeoutExpired:
            raise QemuError(f"{image}: QEMU did not finish within {timeout} s") from None
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output = out.read().decode("ascii", "replace").replace("\r\n", "\n")
        errors = err.read().decode("utf-8", "replace").strip().splitlines()
    if status != 0:
        raise QemuError(f"{image}: QEMU exited with status {status}"
                        + (f": {errors[-1]}" if errors else ""))
    return QemuRun(seconds=seconds, cpu_seconds=usage.ru_utime + usage.ru_stime, output=output)


def _wait(proc, timeout):
    """Wait for the child with a blocking os.wait4, which also gives its
    resource usage; a timer kills it if it runs past `timeout`."""
    expired = threading.Event()

    def kill():
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if expired.is_set():
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.returncode, usage

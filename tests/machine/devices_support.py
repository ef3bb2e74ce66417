"""Helpers for the virtio-mmio device guests in guests/devices/: disk images,
the outputs the guests must print (computed here from the inputs), and
runners for QEMU 7.2 and `pyvmm run` with the same device options.

QEMU's virtio-mmio transports default to the legacy (version 1) interface;
every QEMU run here passes `-global virtio-mmio.force-legacy=false`, so the
guests see version 2 as they do on pyvmm. Options after the image list are
spelled the same on both (`-drive`/`--drive`, `-device`/`--device`, ...):
`qemu_opts` and `pyvmm_opts` turn one list of (option, value) pairs into
each command line.
"""

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from support import oracles
from support.fnv import fnv1a32 as fnv1a

from firmware_support import REPO, RAM_BASE, gnu_build, need_tool  # tests/machine is on sys.path

DEVICE_GUESTS = os.path.join(REPO, "guests", "devices")

QEMU_TIMEOUT = 20
PYVMM_TIMEOUT = 60

SECTOR = 512
WRITE_SECTOR = 5
BLK_SERIAL = "pyvmm-disk-0"
# QEMU's virt board plugs the first -device into the last transport
# (0x10008000, PLIC source 8): its buses are listed in reverse.
FIRST_SLOT = 7

def disk_pattern(size):
    """A disk image whose bytes depend on their offset and sector."""
    return bytes(((i * 7) ^ (i >> 9)) & 0xFF for i in range(size))


def write_pattern():
    """The sector blk.inc writes to sector WRITE_SECTOR: byte j = 13 j + 7."""
    return bytes((13 * j + 7) & 0xFF for j in range(SECTOR))


def make_disk(path, size=64 * 1024):
    data = disk_pattern(size)
    with open(path, "wb") as f:
        f.write(data)
    return data


def expected_blk(disk, slot=FIRST_SLOT, serial=BLK_SERIAL, irq=False):
    """What blk_poll.S (irq=False) or blk_irq.S prints for a disk holding `disk`."""
    lines = ["virtio-blk: slot %d" % slot,
             "features: VERSION_1 1 FLUSH 1",
             "capacity: %d sectors" % (len(disk) // SECTOR)]
    lines += ["read sectors %d+4: status 0, len 2049" % first for first in (0, 4, 8, 12)]
    lines += ["fnv1a of sectors 0-15: 0x%08x" % fnv1a(disk[:16 * SECTOR]),
              "write sector 5: status 0, len 1",
              "flush: status 0, len 1",
              "read back sector 5: status 0, len 513",
              "fnv1a of sector 5: 0x%08x" % fnv1a(write_pattern()),
              "read past the end: status 1",
              "unknown request type: status 2",
              'id: "%s", status 0' % serial[:20]]
    if irq:
        # one interrupt per request: 4 reads, write, flush, read back,
        # past the end, unknown type, GET_ID
        lines.append("interrupts: 10 from PLIC source %d, status bits 1" % (slot + 1))
    lines.append("virtio-blk: done")
    return ("\n".join(lines) + "\n").encode()


def disk_after_blk(disk):
    """The image after a blk guest ran: the pattern in sector WRITE_SECTOR."""
    at = WRITE_SECTOR * SECTOR
    return disk[:at] + write_pattern() + disk[at + SECTOR:]


# ------------------------------------------------------------------ building


def build_guest(name, out_dir):
    """guests/devices/NAME.S built with GNU binutils at the RAM base; the ELF path."""
    return gnu_build(os.path.join(DEVICE_GUESTS, name + ".S"), str(out_dir), RAM_BASE)


def guest_source(name):
    return os.path.join(DEVICE_GUESTS, name + ".S")


# ------------------------------------------------------------------ running


def qemu_opts(opts):
    """[("drive", "file=..."), ...] -> ["-drive", "file=...", ...]"""
    return [arg for name, value in opts for arg in ("-" + name, value)]


def pyvmm_opts(opts):
    """[("drive", "file=..."), ...] -> ["--drive", "file=...", ...]"""
    return [arg for name, value in opts for arg in ("--" + name, value)]


def qemu_command(elf, opts):
    return [oracles.QEMU, "-machine", "virt", "-nographic", "-bios", "none", "-m", "128M",
            "-global", "virtio-mmio.force-legacy=false", *qemu_opts(opts), "-kernel", str(elf)]


def pyvmm_command(image, opts):
    return [sys.executable, "-m", "pyvmm", "run", *pyvmm_opts(opts), str(image)]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_qemu(elf, opts, timeout=QEMU_TIMEOUT):
    """QEMU with the device options: (exit status, stdout bytes, stderr text)."""
    need_tool(oracles.QEMU, "QEMU is the differential reference")
    proc = subprocess.run(qemu_command(elf, opts), capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def run_pyvmm(image, opts, timeout=PYVMM_TIMEOUT):
    """`python -m pyvmm run` with the device options: (exit status, stdout, stderr)."""
    proc = subprocess.run(pyvmm_command(image, opts), capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=REPO, env=_env())
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def first_difference(expected, got):
    """The first line where two outputs differ, for assertion messages."""
    want = expected.decode("utf-8", "replace").splitlines()
    have = got.decode("utf-8", "replace").splitlines()
    for number, (a, b) in enumerate(zip(want, have), 1):
        if a != b:
            return "line %d: expected %r, got %r" % (number, a, b)
    if len(want) != len(have):
        number = min(len(want), len(have)) + 1
        extra = want[number - 1] if len(want) > len(have) else have[number - 1]
        return "line %d: %s %r" % (number, "missing" if len(want) > len(have) else "extra", extra)
    return "outputs are equal"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    """Whether a socket in the LISTEN state is bound to 127.0.0.1:port (from
    /proc/net/tcp; connecting to probe would take the listener's one
    connection)."""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(want) and fields[3] == "0A":
                return True
    return False


def wait_listening(port, proc, timeout=10.0):
    """Wait until `proc` listens on `port`; fails if it exits first or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _listening(port):
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail("the listening side exited with %s before it listened:\n%s\n%s"
                        % (proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")))
        time.sleep(0.02)
    pytest.fail("nothing listens on 127.0.0.1:%d after %.0f s" % (port, timeout))


def run_pair(listen_cmd, connect_cmd, port, timeout, cwd=None):
    """Start listen_cmd, wait until it listens on `port`, start connect_cmd;
    [(exit status, stdout, stderr text)] of both, listener first. Both are
    killed if they outlast `timeout`."""
    kwargs = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  cwd=cwd, env=_env())
    listener = subprocess.Popen(listen_cmd, **kwargs)
    procs = [listener]
    try:
        wait_listening(port, listener)
        procs.append(subprocess.Popen(connect_cmd, **kwargs))
        deadline = time.monotonic() + timeout
        results = []
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                err += b"\n(killed after %d s)" % timeout
            results.append((proc.returncode, out, err.decode("utf-8", "replace")))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def pyvmm_help():
    """The text of `python -m pyvmm run --help`."""
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--help"], capture_output=True,
                          cwd=REPO, env=_env(), timeout=60)
    return proc.stdout.decode("utf-8", "replace")


def hex_bytes_line(output, prefix):
    """The bytes printed as hex on the line starting with `prefix`, or None."""
    for line in output.decode("utf-8", "replace").splitlines():
        if line.startswith(prefix):
            return bytes.fromhex(re.sub(r"\s+", "", line[len(prefix):]))
    return None


# ------------------------------------------------------------------ rng, console, net

RNG_BYTES = 32


def expected_rng(slot=FIRST_SLOT):
    """What rng.S prints (rng_dump.S prints a "bytes: " line before the last)."""
    return ("virtio-rng: slot %d\nfeatures: VERSION_1 1\ngot %d bytes\nall zero: 0\n"
            "virtio-rng: done\n" % (slot, RNG_BYTES)).encode()


def without_dump(output):
    """rng_dump.S's output without its "bytes: " line: what rng.S prints."""
    return b"".join(line for line in output.splitlines(keepends=True) if not line.startswith(b"bytes: "))


# On QEMU the UART and the virtconsole share stdout through one mux chardev;
# pyvmm sends virtio-console output to the UART's console writer.
CONSOLE_QEMU_OPTS = [("chardev", "stdio,mux=on,id=c0"), ("serial", "chardev:c0"), ("monitor", "none")]
CONSOLE_OPTS = [("device", "virtio-serial-device"), ("device", "virtconsole,chardev=c0")]


def expected_console(slot=FIRST_SLOT):
    return ("virtio-console: slot %d\n"
            "features: VERSION_1 1\n"
            "line 1 through the virtio-console transmitq\n"
            "transmitq used len 0\n"
            "line 2 in a chain of two descriptors\n"
            "transmitq used len 0\n"
            "virtio-console: done\n" % slot).encode()


PING_MAC = "52:54:00:12:34:01"      # odd last byte: pings, connects
PONG_MAC = "52:54:00:12:34:02"      # even: answers, listens
NET_ROUNDS = 4
BROADCAST = "ff:ff:ff:ff:ff:ff"


def net_opts(mac, listen=None, connect=None):
    """The options of one net.S instance: a socket netdev and virtio-net with `mac`."""
    where = "listen=%s" % listen if listen else "connect=%s" % connect
    return [("netdev", "socket,id=n0," + where),
            ("device", "virtio-net-device,netdev=n0,mac=" + mac)]


def expected_net(ping, slot=FIRST_SLOT):
    """What net.S prints as the pinger (ping=True) or as the ponger."""
    mac, peer = (PING_MAC, PONG_MAC) if ping else (PONG_MAC, PING_MAC)
    lines = ["virtio-net: slot %d" % slot, "features: VERSION_1 1 MAC 1", "mac " + mac,
             "role: " + ("ping" if ping else "pong")]
    for k in range(NET_ROUNDS):
        if ping:
            lines.append("rx pong %d from %s to %s len 72" % (k, peer, mac))
        else:
            lines.append("rx ping %d from %s to %s len 72" % (k, peer, BROADCAST))
    lines.append("virtio-net: done")
    return ("\n".join(lines) + "\n").encode()

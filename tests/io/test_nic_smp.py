"""One pyvmm-nic queue pair per hart: guests/smp/nic_mq.S on two harts, each
programming and driving its own ring pair against the echo netdev, from the
CLI natively (--bios builtin --smp 2), in a VM with two VCPUs, and on a host
with two harts: the same output every way and every run, and the controller's
per-ring counters show each pair carried exactly its own hart's frames."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GUEST = os.path.join(ROOT, "guests", "smp", "nic_mq.S")

pytestmark = pytest.mark.skipif(
    not any(n.startswith("_core") for n in os.listdir(os.path.join(ROOT, "pyvmm"))),
    reason="the compiled core pyvmm._core is not built")

NATIVE = ["--bios", "builtin", "--smp", "2"]
VM = ["--technique", "hw", "--smp", "2"]
VM_TWO_HOST_HARTS = VM + ["--host-harts", "2"]

# frame k of hart i is 42 + 16 + 8 * (k % 16) + 4 * i bytes; 24 frames each
FRAMES = 24
HART_BYTES = [sum(58 + 8 * (k % 16) + 4 * i for k in range(FRAMES)) for i in range(2)]
EXPECTED = [
    "nic_mq: 2 harts, one queue pair each",
    f"hart 0 pair 0: {FRAMES} frames, {HART_BYTES[0]} bytes, checksum 0x",
    f"hart 1 pair 1: {FRAMES} frames, {HART_BYTES[1]} bytes, checksum 0x",
    "nic_mq: done",
]


def checksum(hart):
    """The guest's fold over hart's replies: each is its frame with only the
    MAC addresses changed, so it is computed from the frame the guest built."""
    mac = bytes.fromhex("525400123456")     # pyvmm-nic's default MAC
    ports = [[1001, 1003, 1005, 1007], [1000, 1002, 1004, 1006]][hart]
    h = 0xcbf29ce484222325
    for k in range(FRAMES):
        payload = 16 + 8 * (k % 16) + 4 * hart
        frame = (mac + bytes.fromhex("525400000002") + b"\x08\x00"
                 + bytes([0x45, 0]) + (payload + 28).to_bytes(2, "big")
                 + bytes([0, 0, 0x40, 0, 0x40, 17, 0, 0, 10, 0, 2, 15, 10, 0, 2, 2])
                 + ports[k % 4].to_bytes(2, "big") + (7).to_bytes(2, "big")
                 + (payload + 8).to_bytes(2, "big") + b"\0\0"
                 + bytes((hart * 0x40 + k * 31 + j * 7) & 0xFF for j in range(payload)))
        for byte in frame:
            h = (h * 0x100000001b3 + byte) % 2**64
        h = (h * 0x100000001b3 + len(frame)) % 2**64
    return f"0x{h:016x}"


def run(mode, queues=2):
    out = subprocess.run(
        [sys.executable, "-m", "pyvmm", "run", *mode, "--netdev", "echo,id=n0",
         "--device", f"pyvmm-nic,netdev=n0,queues={queues}", GUEST, "--stats"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT})
    return out


def nic_counters(stderr):
    devices = json.loads(stderr)["devices"]
    (nic,) = [v for k, v in devices.items() if k.startswith("NicController")]
    return nic


@pytest.mark.parametrize("mode", [NATIVE, VM, VM_TWO_HOST_HARTS],
                         ids=["native", "vm", "vm-2-host-harts"])
def test_each_hart_drives_its_own_pair(mode):
    first, second = run(mode), run(mode)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 4
    for line, prefix in zip(lines, EXPECTED):
        assert line.startswith(prefix), line
    assert lines[1].endswith(checksum(0)) and lines[2].endswith(checksum(1))
    assert second.stdout == first.stdout
    nic = nic_counters(first.stderr)
    assert nic == nic_counters(second.stderr)
    for pair in range(2):
        for way in ("tx", "rx"):
            assert nic[f"nic_q{pair}_{way}_frames"] == FRAMES
            assert nic[f"nic_q{pair}_{way}_bytes"] == HART_BYTES[pair]
    assert nic["nic_rx_ring_off"] == nic["nic_ring_errors"] == nic["nic_doorbell_errors"] == 0


def test_native_and_vm_print_the_same():
    native, vm = run(NATIVE), run(VM)
    assert native.returncode == vm.returncode == 0
    assert native.stdout == vm.stdout


def test_one_ring_pair_is_not_enough():
    out = run(NATIVE, queues=1)
    assert out.returncode != 0
    assert out.stdout.splitlines()[-1] == \
        "nic_mq: FAIL hart 0: the controller has fewer than 2 ring pairs"

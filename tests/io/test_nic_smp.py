"""One queue pair per hart: guests/smp/nic_mq.S (pyvmm-nic) and
virtio_net_mq.S (virtio-net, mq=on) on two harts, each driving its own
queue pair against the echo netdev, from the CLI natively (--bios builtin
--smp 2), in a VM with two VCPUs, and on a host with two harts: the same
output every way and every run, and the device's per-queue counters show
each pair carried exactly its own hart's frames."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SMP = os.path.join(ROOT, "guests", "smp")

# guest, netdev, device, the device's name in --stats, its counter prefix
NIC = ("nic_mq", "echo,id=n0", "pyvmm-nic,netdev=n0,queues={queues}", "NicController", "nic_")
VIRTIO = ("virtio_net_mq", "echo,id=n0,queues={queues}", "virtio-net-device,netdev=n0,mq=on",
          "VirtioNet", "")

pytestmark = pytest.mark.skipif(
    not any(n.startswith("_core") for n in os.listdir(os.path.join(ROOT, "pyvmm"))),
    reason="the compiled core pyvmm._core is not built")

NATIVE = ["--bios", "builtin", "--smp", "2"]
VM = ["--technique", "hw", "--smp", "2"]
VM_TWO_HOST_HARTS = VM + ["--host-harts", "2"]

# frame k of hart i is 42 + 16 + 8 * (k % 16) + 4 * i bytes; 24 frames each
FRAMES = 24
HART_BYTES = [sum(58 + 8 * (k % 16) + 4 * i for k in range(FRAMES)) for i in range(2)]


def expected(name):
    return [f"{name}: 2 harts, one queue pair each",
            f"hart 0 pair 0: {FRAMES} frames, {HART_BYTES[0]} bytes, checksum {checksum(0)}",
            f"hart 1 pair 1: {FRAMES} frames, {HART_BYTES[1]} bytes, checksum {checksum(1)}",
            f"{name}: done"]


def checksum(hart):
    """The guest's fold over hart's replies: each is its frame with only the
    MAC addresses changed, so it is computed from the frame the guest built."""
    mac = bytes.fromhex("525400123456")     # both devices' default MAC
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


def run(guest, mode, queues=2):
    name, netdev, device = guest[:3]
    out = subprocess.run(
        [sys.executable, "-m", "pyvmm", "run", *mode,
         "--netdev", netdev.format(queues=queues), "--device", device.format(queues=queues),
         os.path.join(SMP, name + ".S"), "--stats"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT})
    return out


def device_counters(guest, stderr):
    devices = json.loads(stderr)["devices"]
    (counters,) = [v for k, v in devices.items() if k.startswith(guest[3])]
    return counters


@pytest.mark.parametrize("guest", [NIC, VIRTIO], ids=["pyvmm-nic", "virtio-net"])
@pytest.mark.parametrize("mode", [NATIVE, VM, VM_TWO_HOST_HARTS],
                         ids=["native", "vm", "vm-2-host-harts"])
def test_each_hart_drives_its_own_pair(guest, mode):
    first, second = run(guest, mode), run(guest, mode)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines() == expected(guest[0])
    assert second.stdout == first.stdout
    counters = device_counters(guest, first.stderr)
    assert counters == device_counters(guest, second.stderr)
    prefix = guest[4]
    for pair in range(2):
        for way in ("tx", "rx"):
            assert counters[f"{prefix}q{pair}_{way}_frames"] == FRAMES
            assert counters[f"{prefix}q{pair}_{way}_bytes"] == HART_BYTES[pair]
    assert counters[f"{prefix}rx_frames"] == 2 * FRAMES


def test_both_devices_carry_the_same_frames():
    """The replies each hart folds are the same frames whichever device
    carried them: only the lines naming the guest differ."""
    nic, virtio = run(NIC, NATIVE), run(VIRTIO, VM)
    assert nic.returncode == virtio.returncode == 0
    assert nic.stdout.splitlines()[1:3] == virtio.stdout.splitlines()[1:3]


@pytest.mark.parametrize("guest, message", [
    (NIC, "the controller has fewer than 2 ring pairs"),
    (VIRTIO, "device does not offer MAC, CTRL_VQ and MQ"),
], ids=["pyvmm-nic", "virtio-net"])
def test_one_queue_pair_is_not_enough(guest, message):
    out = run(guest, NATIVE, queues=1)
    assert out.returncode != 0
    assert out.stdout.splitlines()[-1] == f"{guest[0]}: FAIL hart 0: {message}"

"""guests/pci/nvme.S through the CLI: a bare-metal NVMe driver on pyvmm's
`--device nvme` and on QEMU 7.2's `-device nvme`, the same console bytes,
and the sectors it wrote in the drive file after a clean shutdown."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import GUESTS, RAM_BASE, gnu_build, need_tool, pyvmm_run  # noqa: E402
from support import oracles  # noqa: E402

GUEST = os.path.join(GUESTS, "pci", "nvme.S")
SECTOR = 512
SECTORS = 2048
SERIAL = "pyvmm0001"


def fnv1a32(data):
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def sector_bytes(n):
    head = b"pyvmm nvme disk, sector %d\n" % n
    return head + bytes((i * 7 + 3 * n + 1) & 0xFF for i in range(len(head), SECTOR))


IMAGE = b"".join(sector_bytes(n) for n in range(SECTORS))
PATTERN = bytes((i * 13 + 5) & 0xFF for i in range(4096))     # what the guest writes at LBA 4

EXPECTED = f"""\
nvme at 00:01.0 class 010802 rev 0x02 pin 0x01
bar0 flags 0x4 size 0x00004000
cap.mqes 0x07ff vs 0x00010400
enabled, csts 0x01
identify: vid 0x1b36 ssvid 0x1af4 mdts 0x07 sqes 0x66 cqes 0x44
  model 'QEMU NVMe Ctrl' serial '{SERIAL}'
namespace 1: nsze {SECTORS:#010x} lbads 0x09
set features: queues 0x003f003f
i/o queues created
wrote and read back 8 sectors at lba 4: fnv1a {fnv1a32(PATTERN):#010x}
sector 0: fnv1a {fnv1a32(IMAGE[:SECTOR]):#010x}
read past the end: status 0x080
opcode 0x7f: status 0x001
flushed
shutdown complete, csts 0x09
done
""".encode()
WRITTEN = IMAGE[:4 * SECTOR] + PATTERN + IMAGE[12 * SECTOR:]


def fresh_disk(directory, name):
    path = directory / name
    path.write_bytes(IMAGE)
    return path


def test_driver_runs_through_the_cli_and_its_writes_reach_the_file(tmp_path):
    disk = fresh_disk(tmp_path, "disk.img")
    status, out, err = pyvmm_run("--max-insns", "50M", "--drive", f"if=none,id=d0,file={disk},format=raw",
                                 "--device", f"nvme,drive=d0,serial={SERIAL}", GUEST, timeout=120)
    assert out == EXPECTED, err[-2000:]
    assert status == 0
    assert disk.read_bytes() == WRITTEN


def test_without_the_controller_the_guest_says_none():
    status, out, _ = pyvmm_run("--max-insns", "50M", GUEST, timeout=120)
    assert (status, out) == (0, b"nvme: none\ndone\n")


@pytest.mark.parametrize("device, message", [
    ("nvme,drive=d0", "serial= is required"),
    ("nvme,drive=d1,serial=x", "names no --drive"),
])
def test_bad_options_are_one_line_and_status_2(tmp_path, device, message):
    disk = fresh_disk(tmp_path, "disk.img")
    status, out, err = pyvmm_run("--drive", f"if=none,id=d0,file={disk}", "--device", device, GUEST,
                                 timeout=60)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_same_bytes_and_same_file_on_qemu(tmp_path):
    need_tool(oracles.QEMU, "QEMU 7.2's -device nvme is the differential reference")
    need_tool("riscv64-unknown-elf-as", "the guest is built with GNU binutils for QEMU")
    elf = gnu_build(GUEST, tmp_path, RAM_BASE)
    disk = fresh_disk(tmp_path, "qemu.img")
    proc = subprocess.run([oracles.QEMU, "-machine", "virt", "-nographic", "-bios", "none", "-m", "128M",
                           "-drive", f"if=none,id=d0,file={disk},format=raw",
                           "-device", f"nvme,drive=d0,serial={SERIAL}", "-kernel", elf],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.stdout == EXPECTED and proc.returncode == 0
    assert disk.read_bytes() == WRITTEN
    mine = fresh_disk(tmp_path, "pyvmm.img")
    status, out, _ = pyvmm_run("--max-insns", "50M", "--drive", f"if=none,id=d0,file={mine},format=raw",
                               "--device", f"nvme,drive=d0,serial={SERIAL}", GUEST, timeout=120)
    assert (status, out) == (proc.returncode, proc.stdout)
    assert mine.read_bytes() == disk.read_bytes()


@pytest.mark.parametrize("budget", ["20000", "60000"])
def test_savevm_mid_run_and_loadvm_finish_the_same(tmp_path, budget):
    """Stopped between commands (queues live, data in flight) and restored:
    the two halves of the output are the whole, and the file is the same."""
    disk = fresh_disk(tmp_path, "disk.img")
    snapshot = tmp_path / "nvme.vm"
    status, first, err = pyvmm_run("--max-insns", budget, "--savevm", str(snapshot),
                                   "--drive", f"if=none,id=d0,file={disk},format=raw",
                                   "--device", f"nvme,drive=d0,serial={SERIAL}", GUEST, timeout=120)
    assert status == 124, err[-2000:]
    status, second, err = pyvmm_run("--loadvm", str(snapshot), timeout=120)
    assert status == 0, err[-2000:]
    assert first + second == EXPECTED and first and second
    assert disk.read_bytes() == WRITTEN

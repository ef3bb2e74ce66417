"""guests/pci/pci_blk.S on QEMU 7.2 and on pyvmm: PCI enumeration and a virtio-pci block read.

The guest scans bus 0 of the virt board's ECAM host, sizes and assigns every
BAR, walks the virtio capabilities of the block device, reads sector 0 of the
disk through queue 0 and prints its FNV-1a 32 checksum, the capacity and the
ISR byte. QEMU is the reference: its output must be the text below (the
checksum and capacity computed here from the image), and pyvmm's must be the
same bytes with the same exit status.

pyvmm's `--device virtio-blk-pci` is QEMU's `disable-legacy=on,vectors=0`:
modern (1af4:1042) and without MSI-X. QEMU 7.2's plain `virtio-blk-pci` on
the root bus is transitional (1af4:1001) with an I/O BAR 0 for the legacy
interface and an MSI-X table in BAR 1; the guest drives that one too, which
checks its I/O and 32-bit BAR handling on the reference.
"""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import GUESTS, RAM_BASE, gnu_build, need_tool, pyvmm_run  # noqa: E402
from support import oracles  # noqa: E402
from support.fnv import fnv1a32  # noqa: E402

GUEST = os.path.join(GUESTS, "pci", "pci_blk.S")
SECTOR = 512
SECTORS = 2048 + 3                  # an odd capacity, so a wrong one shows

QEMU_DEVICES = {
    "virtio-blk": ["-drive", "file={disk},format=raw,if=none,id=d0",
                   "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,vectors=0"],
    "transitional": ["-drive", "file={disk},format=raw,if=none,id=d0",
                     "-device", "virtio-blk-pci,drive=d0"],
    "none": [],
}
PYVMM_DEVICES = {
    "virtio-blk": ["--drive", "file={disk},format=raw,if=none,id=d0",
                   "--device", "virtio-blk-pci,drive=d0"],
    "none": [],
}

# The guest needs well under a million instructions; the budget ends a guest
# polling a device that never answers (exit status 124) inside the time limit.
PYVMM_BUDGET = "20M"
PYVMM_TIMEOUT = 30

HEADER = b"pci: ECAM 0x30000000, bus 0\n"
HOST_BRIDGE = b"00:00.0 1b36:0008 class 060000 rev 00\n  command 0x0006\n"
VIRTIO_FUNCTION = b"""\
00:01.0 1af4:1042 class 010000 rev 01
  interrupt pin 1 (INTA) -> PLIC source 33
  bar4 mem64 pref size 0x00004000 at 0x0000000040000000
  command 0x0006
"""
# The transitional device: the legacy interface's I/O BAR from port 0x1000 of
# the PIO window, the MSI-X table's BAR 1 first in the MMIO window.
TRANSITIONAL_FUNCTION = b"""\
00:01.0 1af4:1001 class 010000 rev 00
  interrupt pin 1 (INTA) -> PLIC source 33
  bar0 io    size 0x00000080 port 0x1000 cpu 0x03001000
  bar1 mem32 size 0x00001000 at 0x40000000
  bar4 mem64 pref size 0x00004000 at 0x0000000040004000
  command 0x0007
"""
VIRTIO_READ = """\
virtio-blk at 00:01.0
  cap 1 common_cfg bar 4 offset 0x00000000 length 0x00001000
  cap 2 notify_cfg bar 4 offset 0x00003000 length 0x00001000 multiplier 4
  cap 3 isr_cfg bar 4 offset 0x00001000 length 0x00001000
  cap 4 device_cfg bar 4 offset 0x00002000 length 0x00001000
  cap 5 pci_cfg bar 0 offset 0x00000000 length 0x00000000
  VERSION_1 offered
  status 0x0b
  num_queues 1, queue 0 size 256, notify_off 0
  status 0x0f
  used idx 1 id 0 len 513, request status 0
  sector 0 fnv1a {checksum:#010x}
  capacity {capacity} sectors
  isr 0x01 then 0x00
"""


def sector_bytes(n):
    """Sector n: a text line naming it, then a pattern that depends on n."""
    head = b"pyvmm pci disk, sector %d\n" % n
    return head + bytes((i * 7 + 3 * n + 1) & 0xFF for i in range(len(head), SECTOR))


def expected_output(scenario, disk):
    if scenario == "none":
        return HEADER + HOST_BRIDGE + b"virtio-blk: none\ndone\n"
    with open(disk, "rb") as f:
        sector0 = f.read(SECTOR)
    function = TRANSITIONAL_FUNCTION if scenario == "transitional" else VIRTIO_FUNCTION
    read = VIRTIO_READ.format(checksum=fnv1a32(sector0), capacity=SECTORS).encode()
    return HEADER + HOST_BRIDGE + function + read + b"done\n"


def first_differing_line(expected, got):
    exp_lines, got_lines = expected.splitlines(), got.splitlines()
    for i, (e, g) in enumerate(zip(exp_lines, got_lines)):
        if e != g:
            return "line %d differs:\n  expected %r\n  got      %r" % (i + 1, e, g)
    if len(exp_lines) != len(got_lines):
        i = min(len(exp_lines), len(got_lines))
        extra = exp_lines[i] if len(exp_lines) > i else got_lines[i]
        which = "expected" if len(exp_lines) > i else "got"
        return "line %d only in %s: %r" % (i + 1, which, extra)
    return "the lines agree; the bytes differ (line endings?)"


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    path = tmp_path_factory.mktemp("pci-disk") / "disk.img"
    path.write_bytes(b"".join(sector_bytes(n) for n in range(SECTORS)))
    return str(path)


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    return gnu_build(GUEST, tmp_path_factory.mktemp("pci-guest"), RAM_BASE)


@pytest.fixture(scope="module")
def qemu(elf, disk):
    """scenario -> (exit status, UART bytes) of QEMU 7.2 -machine virt, run once each."""
    need_tool(oracles.QEMU, "QEMU is the differential reference")
    runs = {}

    def run(scenario):
        if scenario not in runs:
            devices = [arg.format(disk=disk) for arg in QEMU_DEVICES[scenario]]
            proc = subprocess.run([oracles.QEMU, "-machine", "virt", "-nographic", "-bios", "none",
                                   "-m", "128M", *devices, "-kernel", elf],
                                  capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
            runs[scenario] = (proc.returncode, proc.stdout)
        return runs[scenario]
    return run


@pytest.fixture(scope="module")
def pyvmm(disk):
    """scenario -> (exit status, UART bytes, stderr) of `python -m pyvmm run ... pci_blk.S`."""
    runs = {}

    def run(scenario):
        if scenario not in runs:
            devices = [arg.format(disk=disk) for arg in PYVMM_DEVICES[scenario]]
            try:
                runs[scenario] = pyvmm_run("--max-insns", PYVMM_BUDGET, *devices, GUEST,
                                           timeout=PYVMM_TIMEOUT)
            except subprocess.TimeoutExpired as e:
                runs[scenario] = (None, e.stdout or b"", "pyvmm ran past %d s" % PYVMM_TIMEOUT)
        return runs[scenario]
    return run


@pytest.mark.parametrize("scenario", sorted(QEMU_DEVICES))
def test_qemu_prints_the_expected_text(qemu, disk, scenario):
    """The guest is right: on the reference it enumerates, assigns, reads and passes."""
    status, out = qemu(scenario)
    expected = expected_output(scenario, disk)
    assert out == expected, first_differing_line(expected, out)
    assert status == 0


@pytest.mark.parametrize("scenario", sorted(PYVMM_DEVICES))
def test_pyvmm_matches_qemu(qemu, pyvmm, scenario):
    """The same console bytes and exit status on pyvmm as on QEMU 7.2."""
    qemu_status, qemu_out = qemu(scenario)
    status, out, err = pyvmm(scenario)
    assert out == qemu_out, first_differing_line(qemu_out, out) + "\n" + err[-2000:]
    assert status == qemu_status, err[-2000:]


@pytest.mark.parametrize("scenario", sorted(PYVMM_DEVICES))
def test_pyvmm_prints_the_expected_text(disk, pyvmm, scenario):
    """Without QEMU, pyvmm against the text QEMU 7.2 prints (test_qemu_prints_the_expected_text)."""
    status, out, err = pyvmm(scenario)
    expected = expected_output(scenario, disk)
    assert out == expected, first_differing_line(expected, out) + "\n" + err[-2000:]
    assert status == 0, err[-2000:]


def test_sector_checksum_is_the_guests_fnv1a():
    """The reference checksum: FNV-1a 32 test vectors, and sector 0 differs from sector 1."""
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968
    assert fnv1a32(sector_bytes(0)) != fnv1a32(sector_bytes(1))
    assert len(sector_bytes(0)) == len(sector_bytes(SECTORS - 1)) == SECTOR

"""guests/pci/nvme.S through the CLI: a bare-metal NVMe driver on pyvmm's
`--device nvme` and on QEMU 7.2's `-device nvme`, the same console bytes,
and the sectors it wrote in the drive file after a clean shutdown."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import GUESTS, RAM_BASE, gnu_build, need_tool, pyvmm_run  # noqa: E402
from nvme_image import EXPECTED, IMAGE, SERIAL, WRITTEN  # noqa: E402
from support import oracles  # noqa: E402

GUEST = os.path.join(GUESTS, "pci", "nvme.S")


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


def test_smode_build_in_a_vm_prints_the_same(tmp_path):
    """nvme_smode.S in a VM (technique hw): the controller emulated by the
    VM's device set, the same lines and the same file."""
    disk = fresh_disk(tmp_path, "disk.img")
    status, out, err = pyvmm_run("--technique", "hw", "--max-insns", "50M",
                                 "--drive", f"if=none,id=d0,file={disk},format=raw",
                                 "--device", f"nvme,drive=d0,serial={SERIAL}",
                                 os.path.join(GUESTS, "pci", "nvme_smode.S"), timeout=120)
    assert out == EXPECTED and status == 0, err[-2000:]
    assert disk.read_bytes() == WRITTEN

"""--initrd, --append, --dtb and --dumpdtb, the goldfish RTC, and the
one-line errors of the device options, driven through `pyvmm run` as a user
would; QEMU 7.2 is the reference for where the initrd goes."""

import os
import shutil
import subprocess
import sys

import pytest

from pyvmm.machine import fdt
from pyvmm.machine.rtc import DETERMINISTIC_EPOCH_NS, NS_PER_TICK, GoldfishRTC

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = os.path.join(REPO, "guests", "kernel", "kernel.elf")
QEMU = shutil.which("qemu-system-riscv64")


def run_cli(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], capture_output=True,
                          timeout=timeout, cwd=REPO, env=env)


def chosen(blob):
    root, _ = fdt.parse_dtb(blob)
    return root.find("/chosen")


@pytest.fixture
def initrd(tmp_path):
    path = tmp_path / "initrd.img"
    path.write_bytes(bytes(range(256)) * 300)
    return path


@pytest.mark.parametrize("ram", ["128M", "512M"])
def test_initrd_goes_where_qemu_puts_it(tmp_path, initrd, ram):
    dtb = tmp_path / "pyvmm.dtb"
    proc = run_cli("--bios", "builtin", "--ram", ram, "--initrd", str(initrd), "--append",
                   "console=ttyS0", "--dumpdtb", str(dtb), KERNEL)
    assert proc.returncode == 0, proc.stderr
    node = chosen(dtb.read_bytes())
    start = node.u32("linux,initrd-start")
    # min(RAM / 2, 128 MiB) above the kernel's entry at RAM base + 2 MiB
    offset = min(int(ram[:-1]) << 19, 128 << 20)
    assert start == 0x8020_0000 + offset
    assert node.u32("linux,initrd-end") == start + initrd.stat().st_size
    assert node.string("bootargs") == "console=ttyS0"
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 is the reference for the rest")
    qemu_dtb = tmp_path / "qemu.dtb"
    subprocess.run([QEMU, "-machine", "virt,dumpdtb=%s" % qemu_dtb, "-m", ram, "-nographic",
                    "-kernel", KERNEL, "-initrd", str(initrd), "-append", "console=ttyS0"],
                   capture_output=True, timeout=60, check=True)
    theirs = chosen(qemu_dtb.read_bytes())
    for prop in ("linux,initrd-start", "linux,initrd-end", "bootargs"):
        assert node.props[prop] == theirs.props[prop], prop


def test_initrd_bytes_are_in_guest_ram(initrd):
    from pyvmm.machine.machine import Machine
    with Machine(bios="builtin", initrd=str(initrd)) as machine:
        machine.load(KERNEL)
        machine.boot()
        start, end = machine.initrd_range
        assert machine.core.read_mem(start, end - start) == initrd.read_bytes()


def test_initrd_too_big_for_ram_is_one_line(tmp_path):
    big = tmp_path / "big.img"
    big.write_bytes(bytes(40 << 20))
    proc = run_cli("--bios", "builtin", "--ram", "64M", "--initrd", str(big), KERNEL)
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and b"does not fit in RAM" in proc.stderr


def test_dtb_file_replaces_the_generated_tree_and_gets_chosen(tmp_path, initrd):
    custom = fdt.Node("", {"#address-cells": fdt.cells(2), "#size-cells": fdt.cells(2),
                           "model": fdt.string("custom board")})
    custom.add(fdt.Node("chosen"))
    source = tmp_path / "custom.dtb"
    source.write_bytes(fdt.serialize(custom))
    out = tmp_path / "out.dtb"
    proc = run_cli("--bios", "builtin", "--dtb", str(source), "--initrd", str(initrd),
                   "--append", "root=/dev/vda", "--dumpdtb", str(out), KERNEL)
    assert proc.returncode == 0, proc.stderr
    root, _ = fdt.parse_dtb(out.read_bytes())
    assert root.string("model") == "custom board"
    assert root.find("/chosen").string("bootargs") == "root=/dev/vda"
    assert root.find("/chosen").u32("linux,initrd-end") > root.find("/chosen").u32("linux,initrd-start")


def test_bad_dtb_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.dtb"
    bad.write_bytes(b"not a device tree")
    proc = run_cli("--bios", "builtin", "--dtb", str(bad), KERNEL)
    assert proc.returncode == 2 and b"not a device tree blob" in proc.stderr


def test_dumpdtb_describes_the_devices_and_a_fixed_rng_seed(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(64 << 10))
    blobs = []
    for run in range(2):
        out = tmp_path / ("out%d.dtb" % run)
        proc = run_cli("--drive", "file=%s,format=raw" % disk, "--dumpdtb", str(out))
        assert proc.returncode == 0, proc.stderr
        blobs.append(out.read_bytes())
    assert blobs[0] == blobs[1]                   # deterministic, rng-seed included
    root, _ = fdt.parse_dtb(blobs[0])
    paths = dict(root.walk())
    assert "/soc/rtc@101000" in paths and "/soc/pci@30000000" in paths
    assert len(root.find("/chosen").props["rng-seed"]) == 32


@pytest.mark.parametrize("args,message", [
    (["--drive", "file=/nonexistent/disk.img"], "No such file"),
    (["--drive", "file=IMG,id=a", "--drive", "file=IMG,id=a"], "given twice"),
    (["--drive", "file=IMG,cache=none"], "unknown property 'cache'"),
    (["--drive", "file=IMG,format=qcow2"], "only raw images"),
    (["--drive", "file=ODD"], "not a multiple of 512"),
    (["--device", "virtio-blk-device,drive=nothing"], "names no --drive"),
    (["--device", "virtio-gpu-device"], "unknown device"),
    (["--device", "virtio-rng-device"] * 9, "slots are in use"),
    (["--netdev", "socket,id=n,listen=192.0.2.1:5555", "--device", "virtio-net-device,netdev=n"],
     "only loopback"),
])
def test_bad_device_options_are_one_line_and_status_2(tmp_path, args, message):
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(4096))
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    args = [a.replace("IMG", str(image)).replace("ODD", str(odd)) for a in args]
    proc = run_cli(*args, os.path.join(REPO, "guests", "hello.S"))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and message in err, err


def test_rtc_counts_machine_time_from_a_fixed_epoch():
    ticks = [0]
    rtc = GoldfishRTC(lambda: ticks[0])
    assert rtc.read(0x00, 4) == DETERMINISTIC_EPOCH_NS & 0xFFFF_FFFF
    assert rtc.read(0x04, 4) == DETERMINISTIC_EPOCH_NS >> 32      # latched by the low read
    ticks[0] = 1_000
    low = rtc.read(0x00, 4)
    assert (rtc.read(0x04, 4) << 32 | low) == DETERMINISTIC_EPOCH_NS + 1_000 * NS_PER_TICK


def test_rtc_alarm_raises_its_line_until_cleared():
    ticks = [0]
    levels = []
    rtc = GoldfishRTC(lambda: ticks[0], levels.append)
    due = DETERMINISTIC_EPOCH_NS + 500 * NS_PER_TICK
    rtc.write(0x10, 4, 1)                         # IRQ_ENABLED
    rtc.write(0x0C, 4, due >> 32)                 # ALARM_HIGH
    rtc.write(0x08, 4, due & 0xFFFF_FFFF)         # ALARM_LOW arms it
    assert rtc.read(0x18, 4) == 1 and not any(levels)
    ticks[0] = 499
    rtc.poll()
    assert not any(levels)
    ticks[0] = 500
    rtc.poll()
    assert levels[-1] is True and rtc.read(0x18, 4) == 0
    rtc.write(0x1C, 4, 1)                         # CLEAR_INTERRUPT
    assert levels[-1] is False


def test_rtc_time_can_be_set_by_the_guest():
    rtc = GoldfishRTC(lambda: 0)
    target = 2_000_000_000 * 1_000_000_000
    rtc.write(0x04, 4, target >> 32)
    rtc.write(0x00, 4, target & 0xFFFF_FFFF)
    low = rtc.read(0x00, 4)
    assert (rtc.read(0x04, 4) << 32 | low) == target


def test_rtc_refuses_narrow_accesses():
    from pyvmm.machine.bus import BusFault
    rtc = GoldfishRTC(lambda: 0)
    with pytest.raises(BusFault):
        rtc.read(0x00, 2)


def test_fixed_rng_seed_is_the_hash_it_says_it_is():
    import hashlib
    assert fdt.rng_seed() == hashlib.sha256(b"pyvmm virt rng-seed").digest()
    assert len(fdt.rng_seed(realtime=True)) == 32 and fdt.rng_seed(True) != fdt.rng_seed(True)

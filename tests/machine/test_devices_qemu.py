"""The virtio-mmio device guests (guests/devices/) on QEMU 7.2 and on pyvmm.

Each guest is checked twice: on QEMU against the output computed here from
its inputs (which validates the guest), then on `pyvmm run` with the same
device options against QEMU's output, byte for byte, and for the disk guests
against QEMU's disk image afterwards.
"""

import glob
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import devices_support as dev  # noqa: E402
from devices_support import first_difference  # noqa: E402

GUESTS = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(dev.DEVICE_GUESTS, "*.S")))


@pytest.fixture(scope="module")
def elves(tmp_path_factory):
    """guest name -> ELF built by GNU binutils (built on first use)."""
    out = tmp_path_factory.mktemp("device-guests")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = dev.build_guest(name, out)
        return cache[name]
    return get


def _explain(status, out, err):
    return "exit status %s\n--- stdout\n%s\n--- stderr\n%s" % (
        status, out.decode("utf-8", "replace"), err[-3000:])


# ------------------------------------------------------------------ assembly


def test_there_are_device_guests():
    assert {"blk_poll", "blk_irq", "rng", "rng_dump", "console", "net"} <= set(GUESTS)


@pytest.mark.parametrize("name", GUESTS)
def test_pyvmm_asm_lays_out_the_guest_like_gnu(name, elves):
    """`pyvmm run guest.S` assembles with pyvmm.asm: the same bytes at the same
    addresses as GNU as + ld, so the QEMU and pyvmm runs execute one program."""
    from elftools.elf.elffile import ELFFile
    from pyvmm.asm import assemble_file

    program = assemble_file(dev.guest_source(name))
    with open(elves(name), "rb") as f:
        elf = ELFFile(f)
        gnu = {s.name: (s["sh_addr"], s.data()) for s in elf.iter_sections()
               if s.name in (".text", ".rodata", ".data")}
    ours = {s.name: (s.addr, bytes(s.data)) for s in program.sections if s.name in gnu}
    assert ours.keys() == gnu.keys()
    for section, (addr, data) in gnu.items():
        assert ours[section][0] == addr, section
        assert ours[section][1] == data, section


# ------------------------------------------------------------------ virtio-blk


def _blk_opts(image, serial=dev.BLK_SERIAL):
    return [("drive", "file=%s,format=raw,if=none,id=d0" % image),
            ("device", "virtio-blk-device,drive=d0,serial=%s" % serial)]


BLK_GUESTS = [pytest.param("blk_poll", False, id="poll"), pytest.param("blk_irq", True, id="irq")]


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024], ids=["64K", "1M"])
@pytest.mark.parametrize("name,irq", BLK_GUESTS)
def test_blk_on_qemu(name, irq, size, elves, tmp_path):
    image = tmp_path / "disk.img"
    disk = dev.make_disk(image, size)
    status, out, err = dev.run_qemu(elves(name), _blk_opts(image))
    expected = dev.expected_blk(disk, irq=irq)
    assert out == expected, first_difference(expected, out) + "\n" + _explain(status, out, err)
    assert status == 0, _explain(status, out, err)
    assert image.read_bytes() == dev.disk_after_blk(disk)


@pytest.mark.parametrize("name,irq", BLK_GUESTS)
def test_blk_on_pyvmm_matches_qemu(name, irq, elves, tmp_path):
    qemu_image = tmp_path / "qemu.img"
    disk = dev.make_disk(qemu_image)
    pyvmm_image = tmp_path / "pyvmm.img"
    shutil.copyfile(qemu_image, pyvmm_image)
    want_status, want, err = dev.run_qemu(elves(name), _blk_opts(qemu_image))
    assert want == dev.expected_blk(disk, irq=irq), _explain(want_status, want, err)

    status, out, err = dev.run_pyvmm(dev.guest_source(name), _blk_opts(pyvmm_image))
    assert out == want, first_difference(want, out) + "\n" + _explain(status, out, err)
    assert status == want_status, _explain(status, out, err)
    assert pyvmm_image.read_bytes() == qemu_image.read_bytes()

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


# ------------------------------------------------------------------ virtio-rng

RNG_OPTS = [("device", "virtio-rng-device")]


@pytest.mark.parametrize("name", ["rng", "rng_dump"])
def test_rng_on_qemu(name, elves):
    status, out, err = dev.run_qemu(elves(name), RNG_OPTS)
    assert dev.without_dump(out) == dev.expected_rng(), _explain(status, out, err)
    assert status == 0, _explain(status, out, err)
    if name == "rng_dump":
        assert len(dev.hex_bytes_line(out, "bytes: ")) == dev.RNG_BYTES, out


def test_rng_on_pyvmm_matches_qemu(elves):
    want_status, want, err = dev.run_qemu(elves("rng"), RNG_OPTS)
    assert want == dev.expected_rng(), _explain(want_status, want, err)
    status, out, err = dev.run_pyvmm(dev.guest_source("rng"), RNG_OPTS)
    assert out == want, first_difference(want, out) + "\n" + _explain(status, out, err)
    assert status == want_status, _explain(status, out, err)


def test_rng_bytes_on_pyvmm_are_the_same_every_run():
    """pyvmm's entropy is reproducible: two runs of rng_dump print the same 32
    bytes (QEMU's are random, so only pyvmm is checked)."""
    runs = [dev.run_pyvmm(dev.guest_source("rng_dump"), RNG_OPTS) for _ in range(2)]
    for status, out, err in runs:
        assert dev.without_dump(out) == dev.expected_rng(), _explain(status, out, err)
        assert status == 0, _explain(status, out, err)
    first, second = (dev.hex_bytes_line(out, "bytes: ") for _, out, _ in runs)
    assert len(first) == dev.RNG_BYTES
    assert first == second


# ------------------------------------------------------------------ virtio-console


def test_console_on_qemu(elves):
    status, out, err = dev.run_qemu(elves("console"), dev.CONSOLE_QEMU_OPTS + dev.CONSOLE_OPTS)
    assert out == dev.expected_console(), first_difference(dev.expected_console(), out) + "\n" + \
        _explain(status, out, err)
    assert status == 0, _explain(status, out, err)


@pytest.mark.parametrize("opts", [dev.CONSOLE_OPTS, [("device", "virtio-console-device")]],
                         ids=["virtconsole", "short-form"])
def test_console_on_pyvmm_matches_qemu(opts, elves):
    """The virtconsole's bytes and the UART's on one stream, in program order;
    pyvmm's virtio-console-device is the short form of the two QEMU devices."""
    want_status, want, err = dev.run_qemu(elves("console"), dev.CONSOLE_QEMU_OPTS + dev.CONSOLE_OPTS)
    assert want == dev.expected_console(), _explain(want_status, want, err)
    status, out, err = dev.run_pyvmm(dev.guest_source("console"), opts)
    assert out == want, first_difference(want, out) + "\n" + _explain(status, out, err)
    assert status == want_status, _explain(status, out, err)


# ------------------------------------------------------------------ virtio-net

NET_TIMEOUT = 20


def _net_pair(elves, pinger, ponger):
    """net.S twice over a socket netdev: the ponger listens, the pinger
    connects; each side is "qemu" or "pyvmm". [(status, out, err)] of the
    pinger, then the ponger."""
    port = dev.free_port()
    address = "127.0.0.1:%d" % port

    def command(side, opts):
        if side == "qemu":
            dev.need_tool("qemu-system-riscv64", "QEMU is the differential reference")
            return dev.qemu_command(elves("net"), opts)
        return dev.pyvmm_command(dev.guest_source("net"), opts)
    listen = command(ponger, dev.net_opts(dev.PONG_MAC, listen=address))
    connect = command(pinger, dev.net_opts(dev.PING_MAC, connect=address))
    pong, ping = dev.run_pair(listen, connect, port, NET_TIMEOUT, cwd=dev.REPO)
    return ping, pong


def _check_net(ping, pong, want_ping, want_pong):
    for (status, out, err), want in ((ping, want_ping), (pong, want_pong)):
        assert out == want, first_difference(want, out) + "\n" + _explain(status, out, err)
        assert status == 0, _explain(status, out, err)


def test_net_on_qemu(elves):
    ping, pong = _net_pair(elves, "qemu", "qemu")
    _check_net(ping, pong, dev.expected_net(True), dev.expected_net(False))


def test_net_on_pyvmm_matches_qemu(elves):
    want_ping, want_pong = _net_pair(elves, "qemu", "qemu")
    _check_net(want_ping, want_pong, dev.expected_net(True), dev.expected_net(False))
    ping, pong = _net_pair(elves, "pyvmm", "pyvmm")
    _check_net(ping, pong, want_ping[1], want_pong[1])


@pytest.mark.parametrize("pinger,ponger", [("pyvmm", "qemu"), ("qemu", "pyvmm")])
def test_net_pyvmm_talks_to_qemu(pinger, ponger, elves):
    """pyvmm's socket netdev frames like QEMU's: one instance on each."""
    ping, pong = _net_pair(elves, pinger, ponger)
    _check_net(ping, pong, dev.expected_net(True), dev.expected_net(False))


@pytest.mark.parametrize("side", ["qemu", "pyvmm"])
def test_blk_irq_on_an_explicit_bus(side, elves, tmp_path):
    """bus=virtio-mmio-bus.2 puts the disk in slot 2, behind PLIC source 3,
    with an rng plugged first into the highest free slot."""
    image = tmp_path / "disk.img"
    disk = dev.make_disk(image)
    opts = [("device", "virtio-rng-device")] + _blk_opts(image)
    opts[-1] = ("device", opts[-1][1] + ",bus=virtio-mmio-bus.2")
    if side == "qemu":
        status, out, err = dev.run_qemu(elves("blk_irq"), opts)
    else:
        status, out, err = dev.run_pyvmm(dev.guest_source("blk_irq"), opts)
    expected = dev.expected_blk(disk, slot=2, irq=True)
    assert out == expected, first_difference(expected, out) + "\n" + _explain(status, out, err)
    assert status == 0, _explain(status, out, err)
    assert image.read_bytes() == dev.disk_after_blk(disk)


NO_DEVICE = b"FAIL: no such virtio device\n"


@pytest.mark.parametrize("side", ["qemu", "pyvmm"])
@pytest.mark.parametrize("name", ["blk_poll", "rng", "console", "net"])
def test_guest_without_its_device_fails(name, side, elves):
    """Eight empty slots (or only another kind of device): the scan finds
    nothing and the guest fails with status 1, on both."""
    opts = [] if name != "rng" else [("device", "virtio-serial-device")]
    if side == "qemu":
        status, out, err = dev.run_qemu(elves(name), opts)
    else:
        status, out, err = dev.run_pyvmm(dev.guest_source(name), opts)
    assert out == NO_DEVICE, _explain(status, out, err)
    assert status == 1, _explain(status, out, err)

"""QEMU-spelled --drive/--device/--netdev parsing, placement on virtio-mmio
slots as QEMU 7.2's virt board places them, and one-line option errors."""

import pytest

from pyvmm.io.options import (DriveSpec, NetdevSpec, OptionError, build_devices, parse_device,
                              parse_drive, parse_netdev, plan_devices)
from pyvmm.io.virtio.blk import VirtioBlk
from pyvmm.io.virtio.console import VirtioConsole
from pyvmm.io.virtio.rng import VirtioRng


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(4096))
    return str(path)


def test_parse_drive():
    spec = parse_drive("file=a,,b.img,format=raw,readonly=on,snapshot=off,if=none,id=d0,serial=S1")
    assert spec == DriveSpec(file="a,b.img", readonly=True, snapshot=False, interface="none",
                             id="d0", serial="S1")


def test_parse_device_and_netdev():
    spec = parse_device("virtio-blk-device,drive=d0,bus=virtio-mmio-bus.3")
    assert (spec.driver, spec.properties, spec.transport) == (
        "virtio-blk-device", {"drive": "d0", "bus": "virtio-mmio-bus.3"}, "mmio")
    assert parse_device("virtio-rng-pci").transport == "pci"
    assert parse_netdev("socket,id=n0,listen=127.0.0.1:5555") == NetdevSpec("socket", "n0", listen="127.0.0.1:5555")
    assert parse_netdev("hub,id=h") == NetdevSpec("hub", "h")


@pytest.mark.parametrize("drive,message", [
    ("file=x,format=qcow2", "format='qcow2'"),
    ("file=x,cache=none", "unknown property 'cache'"),
    ("file=x,if=scsi", "if='scsi'"),
    ("format=raw", "file= is required"),
    ("file=x,readonly=maybe", "readonly='maybe'"),
    ("file=x,id=a,", "empty item"),
    ("file=x,readonly", "'readonly' needs a value"),
])
def test_drive_errors(drive, message):
    with pytest.raises(OptionError, match=message):
        parse_drive(drive)


@pytest.mark.parametrize("device,message", [
    ("virtio-gpu-device", "unknown device 'virtio-gpu-device'"),
    ("virtio-rng-device,speed=3", "unknown property 'speed'"),
    ("virtio-blk-device", "drive= is required"),
    ("virtio-net-pci", "netdev= is required"),
    ("virtio-rng-device,bus=virtio-mmio-bus.8", "bus='virtio-mmio-bus.8'"),
    ("virtio-rng-pci,bus=virtio-mmio-bus.0", "unknown property 'bus'"),
    ("drive=x", "device name comes first"),
])
def test_device_errors(device, message):
    with pytest.raises(OptionError, match=message):
        parse_device(device)


@pytest.mark.parametrize("netdev,message", [
    ("tap,id=t", "unknown netdev type 'tap'"),
    ("socket,id=s", "exactly one of listen= and connect="),
    ("socket,id=s,listen=127.0.0.1:1,connect=127.0.0.1:2", "exactly one"),
    ("hub", "id= is required"),
])
def test_netdev_errors(netdev, message):
    with pytest.raises(OptionError, match=message):
        parse_netdev(netdev)


def slots(plan):
    return [(kind, slot) for kind, _, _, _, slot in plan]


def test_placement_follows_qemu_virt(image):
    # QEMU 7.2: the first device without bus= lands in the highest slot; bus=N picks slot N;
    # --drive if=virtio devices come after the --device ones.
    plan = plan_devices([f"file={image}"],
                        ["virtio-rng-device", "virtio-rng-device,bus=virtio-mmio-bus.2",
                         "virtio-rng-device"], [])
    assert slots(plan) == [("rng", 7), ("rng", 2), ("rng", 6), ("blk", 5)]


def test_drive_id_rules(image):
    with pytest.raises(OptionError, match="drive id 'd' is given twice"):
        plan_devices([f"file={image},id=d,if=none", f"file={image},id=d,if=none"], [], [])
    with pytest.raises(OptionError, match="already in use"):
        plan_devices([f"file={image},id=d,if=none"],
                     ["virtio-blk-device,drive=d", "virtio-blk-pci,drive=d"], [])
    with pytest.raises(OptionError, match="already in use"):
        plan_devices([f"file={image},id=d"], ["virtio-blk-device,drive=d"], [])
    with pytest.raises(OptionError, match="no --device uses drive 'd'"):
        plan_devices([f"file={image},id=d,if=none"], [], [])
    with pytest.raises(OptionError, match="names no --drive"):
        plan_devices([], ["virtio-blk-device,drive=nope"], [])


def test_slot_errors():
    with pytest.raises(OptionError, match="already holds a device"):
        plan_devices([], ["virtio-rng-device,bus=virtio-mmio-bus.1"] * 2, [])
    with pytest.raises(OptionError, match="all 8 virtio-mmio slots are in use"):
        plan_devices([], ["virtio-rng-device"] * 9, [])
    assert len(plan_devices([], ["virtio-rng-pci"] * 9, [])) == 9


def test_netdev_rules():
    with pytest.raises(OptionError, match="names no --netdev"):
        plan_devices([], ["virtio-net-device,netdev=n"], [])
    with pytest.raises(OptionError, match="already in use"):
        plan_devices([], ["virtio-net-device,netdev=n", "virtio-net-pci,netdev=n"], ["hub,id=n"])
    with pytest.raises(OptionError, match="id given twice"):
        plan_devices([], [], ["hub,id=n", "hub,id=n"])


def test_console_rules():
    with pytest.raises(OptionError, match="needs a virtio-serial-device"):
        plan_devices([], ["virtconsole"], [])
    with pytest.raises(OptionError, match="one port"):
        plan_devices([], ["virtio-serial-device", "virtconsole", "virtconsole"], [])
    with pytest.raises(OptionError, match="one port"):
        plan_devices([], ["virtio-console-device", "virtconsole"], [])
    with pytest.raises(OptionError, match="one console device"):
        plan_devices([], ["virtio-console-device", "virtio-serial-device"], [])


def test_build_devices(image):
    built = build_devices([f"file={image},serial=abc"],
                          ["virtio-serial-device", "virtconsole,chardev=con0", "virtio-rng-device"], [],
                          console_out=lambda data: None)
    kinds = [(type(device), transport, slot) for device, transport, slot in built]
    assert kinds == [(VirtioConsole, "mmio", 7), (VirtioRng, "mmio", 6), (VirtioBlk, "mmio", 5)]
    assert built[2][0].serial == b"abc"
    for device, _, _ in built:
        device.close()


def test_build_devices_reports_bad_file(tmp_path):
    with pytest.raises(OptionError, match="missing.img"):
        build_devices([f"file={tmp_path / 'missing.img'}"], [], [])

"""The SiFive test finisher, empty virtio slots and the bus's decoding."""

import pytest

from pyvmm.machine.bus import Bus, BusFault
from pyvmm.machine.finisher import SiFiveTest
from pyvmm.io.virtio.mmio import VirtioMmio

VIRT_MAGIC = 0x7472_6976        # "virt"
VIRT_VENDOR = 0x554D_4551       # "QEMU"


def finisher():
    stops = []
    return SiFiveTest(lambda how, code: stops.append((how, code))), stops


@pytest.mark.parametrize("value,expected", [
    (0x5555, ("finisher-pass", 0)),
    (0x3333 | (7 << 16), ("finisher-fail", 7)),
    (0x3333 | (0xFFFF << 16), ("finisher-fail", 0xFFFF)),
    (0x7777, ("finisher-reset", 0)),
])
def test_finisher_codes(value, expected):
    dev, stops = finisher()
    dev.write(0, 4, value)
    assert stops == [expected]


def test_finisher_ignores_other_values_and_offsets_and_reads_zero():
    dev, stops = finisher()
    dev.write(0, 4, 0x1234)
    dev.write(4, 4, 0x5555)
    assert stops == []
    assert dev.read(0, 4) == 0
    dev.write(0, 2, 0x5555)          # a 16-bit store works too
    assert stops == [("finisher-pass", 0)]


@pytest.mark.parametrize("size", [1, 8])
def test_finisher_access_sizes(size):
    dev, _ = finisher()
    with pytest.raises(BusFault):
        dev.write(0, size, 0x5555)


def test_empty_virtio_slot():
    slot = VirtioMmio(None)
    assert slot.read(0x0, 4) == VIRT_MAGIC
    assert slot.read(0x4, 4) == 2        # modern transport, as with force-legacy=false
    assert slot.read(0x8, 4) == 0        # DeviceID 0: nothing plugged in
    assert slot.read(0xC, 4) == VIRT_VENDOR
    slot.write(0x70, 4, 0xF)
    assert slot.read(0x70, 4) == 0


class Recorder:
    def __init__(self):
        self.log = []

    def read(self, offset, size):
        self.log.append(("r", offset, size))
        return 0x1122_3344_5566_7788

    def write(self, offset, size, value):
        self.log.append(("w", offset, size, value))


def test_bus_dispatch_offsets_and_masks():
    bus = Bus()
    dev = Recorder()
    bus.attach(0x1000, 0x100, dev, "dev")
    assert bus.read(0x1010, 2) == 0x7788
    bus.write(0x10FC, 4, 0x1_0000_0001)
    assert dev.log == [("r", 0x10, 2), ("w", 0xFC, 4, 1)]
    assert bus.find(0x10FF).name == "dev" and bus.find(0x1100) is None


def test_bus_faults_unmapped_and_straddling():
    bus = Bus()
    bus.attach(0x1000, 0x100, Recorder(), "dev")
    with pytest.raises(BusFault):
        bus.read(0xFFF, 1)
    with pytest.raises(BusFault):
        bus.read(0x10FE, 4)
    with pytest.raises(ValueError):
        bus.attach(0x10F0, 0x100, Recorder(), "overlap")

"""The host bridge as firmware and drivers see it: enumeration of bus 0 and
BAR assignment like Linux and U-Boot, decoding through the I/O and memory
windows, the command register gating decode, overlapping BARs, device
numbering, and the placement of the 64-bit window."""

import pytest

from pyvmm.io.pci import memmap
from pyvmm.io.pci.config import BAR_0, COMMAND, COMMAND_IO, COMMAND_MASTER, COMMAND_MEMORY, HEADER_TYPE
from pyvmm.io.pci.host import PciHost
from pci_firmware import BusFault, Firmware, NullPlic, SampleFunction, ecam, make_host


def test_enumeration_and_bar_assignment():
    a, b = SampleFunction(), SampleFunction(pin=2, device=0x9999)
    host, bus, _ = make_host(a, b)
    firmware = Firmware(bus, host.high_mmio_base)
    assert firmware.enumerate() == [(0, 0, 0x1B36, 0x0008), (1, 0, 0x1234, 0x5678), (2, 0, 0x1234, 0x9999)]
    assert firmware.assigned[(1, 0, 0)] == (0x4000_0000, 0x1000, "mem32")
    assert firmware.assigned[(1, 0, 1)] == (0x1000, 0x100, "io")
    assert firmware.assigned[(1, 0, 2)] == (0x4_0000_0000, 0x1_0000, "mem64")
    assert firmware.assigned[(2, 0, 0)] == (0x4000_1000, 0x1000, "mem32")
    assert firmware.assigned[(2, 0, 2)] == (0x4_0001_0000, 0x1_0000, "mem64")
    assert a.bus_master and b.bus_master

    bus.write(firmware.cpu_address(1, 0, 0) + 0x10, 4, 0x1122_3344)
    assert a.mmio.data[0x10:0x14] == bytes.fromhex("44332211")
    bus.write(firmware.cpu_address(2, 0, 0) + 0xFFC, 4, 0xCAFE)
    assert b.mmio.read(0xFFC, 4) == 0xCAFE and a.mmio.read(0xFFC, 4) == 0
    bus.write(firmware.cpu_address(1, 0, 1) + 0x80, 1, 0x5A)
    assert a.pio.data[0x80] == 0x5A
    assert bus.read(memmap.PIO_BASE + 0x1080, 1) == 0x5A
    bus.write(firmware.cpu_address(2, 0, 2) + 0xFFF8, 8, 0x0102_0304_0506_0708)
    assert b.mmio64.read(0xFFF8, 8) == 0x0102_0304_0506_0708
    assert host.stats()["pci_bar_accesses"] == 5


def test_unclaimed_window_addresses_fault():
    function = SampleFunction()
    host, bus, _ = make_host(function)
    Firmware(bus, host.high_mmio_base).enumerate()
    for address in (0x4000_1000, 0x7FFF_FFFC, memmap.PIO_BASE, memmap.PIO_BASE + 0x1100,
                    host.high_mmio_base + 0x1_0000):
        with pytest.raises(BusFault):
            bus.read(address, 4)
        with pytest.raises(BusFault):
            bus.write(address, 4, 0)


def test_command_register_gates_decode():
    function = SampleFunction()
    host, bus, _ = make_host(function)
    firmware = Firmware(bus, host.high_mmio_base)
    firmware.enumerate()
    mem, io = firmware.cpu_address(1, 0, 0), firmware.cpu_address(1, 0, 1)
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_IO)
    with pytest.raises(BusFault):
        bus.read(mem, 4)
    assert bus.read(io, 4) == 0
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY)
    assert bus.read(mem, 4) == 0
    with pytest.raises(BusFault):
        bus.read(io, 4)


def test_bar_moves_with_its_register():
    function = SampleFunction()
    _, bus, _ = make_host(function)
    bus.write(ecam(1, offset=BAR_0), 4, 0x5000_0000)
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY)
    bus.write(0x5000_0000, 4, 7)
    bus.write(ecam(1, offset=BAR_0), 4, 0x6000_0000)             # reprogrammed while decoding
    with pytest.raises(BusFault):
        bus.read(0x5000_0000, 4)
    assert bus.read(0x6000_0000, 4) == 7


def test_bar_at_zero_and_outside_the_windows():
    function = SampleFunction()
    host, bus, _ = make_host(function)
    bus.write(ecam(1, offset=BAR_0 + 4), 4, 0)                   # I/O port 0: allowed on virt
    bus.write(ecam(1, offset=BAR_0), 4, 0x1000_0000)             # decodes, but no window reaches it
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY | COMMAND_IO)
    bus.write(memmap.PIO_BASE, 2, 0xBEEF)
    assert function.pio.read(0, 2) == 0xBEEF
    assert host.decode(0x1000_0000, io=False) is function.bars[0]
    with pytest.raises(BusFault):
        bus.read(0x1000_0000, 4)


def test_64bit_bar_in_the_32bit_window_and_unmappable_values():
    function = SampleFunction()
    _, bus, _ = make_host(function)
    bus.write(ecam(1, offset=BAR_0 + 8), 4, 0x7000_0000)
    bus.write(ecam(1, offset=BAR_0 + 12), 4, 0)
    bus.write(ecam(1, offset=BAR_0), 4, 0xFFFF_F000)             # last byte at 4 GiB - 1: refused
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY)
    bus.write(0x7000_FFFC, 4, 0x55)
    assert function.mmio64.read(0xFFFC, 4) == 0x55
    assert function.bars[0].address is None
    bus.write(ecam(1, offset=BAR_0 + 8), 4, 0xFFFF_0000)
    bus.write(ecam(1, offset=BAR_0 + 12), 4, 0xFFFF_FFFF)        # would end at 2**64 - 1
    assert function.bars[2].address is None


def test_overlapping_bars_newest_mapping_wins():
    a, b = SampleFunction(), SampleFunction()
    _, bus, _ = make_host(a, b)
    bus.write(ecam(1, offset=BAR_0), 4, 0x4000_0000)
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY)
    bus.write(ecam(2, offset=BAR_0), 4, 0x4000_0000)
    bus.write(ecam(2, offset=COMMAND), 2, COMMAND_MEMORY)
    bus.write(0x4000_0000, 4, 2)
    assert b.mmio.read(0, 4) == 2 and a.mmio.read(0, 4) == 0
    bus.write(ecam(1, offset=COMMAND), 2, 0)                     # remapping a moves it on top
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY)
    bus.write(0x4000_0000, 4, 1)
    assert a.mmio.read(0, 4) == 1 and b.mmio.read(0, 4) == 2
    bus.write(ecam(1, offset=COMMAND), 2, 0)                     # and unmapping uncovers the other
    assert bus.read(0x4000_0000, 4) == 2
    # A BAR overlapping the function's own other BAR: the same rule.
    bus.write(ecam(2, offset=BAR_0 + 8), 4, 0x4000_0000)
    bus.write(ecam(2, offset=BAR_0 + 12), 4, 0)
    bus.write(ecam(2, offset=COMMAND), 2, 0)
    bus.write(ecam(2, offset=COMMAND), 2, COMMAND_MEMORY)
    bus.write(0x4000_0000, 4, 3)                                 # BARs map in index order: BAR 2 is newer
    assert b.mmio64.read(0, 4) == 3 and b.mmio.read(0, 4) == 2
    bus.write(0x4000_F000, 4, 4)                                 # only the 64 KiB BAR reaches here
    assert b.mmio64.read(0xF000, 4) == 4


def test_device_numbers_follow_plug_order():
    host = PciHost(NullPlic(), 128 << 20)
    assert host.add_function(SampleFunction()) == 1
    assert host.add_function(SampleFunction(), device=5) == 5
    assert host.add_function(SampleFunction()) == 2
    with pytest.raises(ValueError):
        host.add_function(SampleFunction(), device=5)
    with pytest.raises(ValueError):
        host.add_function(SampleFunction(), device=32)
    function = SampleFunction()
    host.add_function(function)
    with pytest.raises(ValueError):
        host.add_function(function)


def test_multi_function_slot_is_enumerated():
    host = PciHost(NullPlic(), 128 << 20)
    first, second = SampleFunction(), SampleFunction(device=0x2)
    host.add_function(first, device=3)
    host.add_function(second, device=3, function_number=4)
    from pyvmm.machine.bus import Bus
    bus = Bus()
    host.attach(bus)
    assert bus.read(ecam(3, offset=HEADER_TYPE), 1) == 0x80
    firmware = Firmware(bus, host.high_mmio_base)
    assert (3, 4, 0x1234, 0x2) in firmware.enumerate()


@pytest.mark.parametrize("ram_size, base", [(128 << 20, 0x4_0000_0000), (14 << 30, 0x4_0000_0000),
                                            (15 << 30, 0x8_0000_0000)])
def test_high_window_follows_ram(ram_size, base):
    assert memmap.high_mmio_base(0x8000_0000, ram_size) == base
    host = PciHost(NullPlic(), ram_size)
    from pyvmm.machine.bus import Bus
    bus = Bus()
    host.attach(bus)
    region = bus.find(base)
    assert region.name == "pci-mmio-high" and region.size == 16 << 30


def test_state_round_trip():
    a = SampleFunction()
    host, bus, plic = make_host(a)
    firmware = Firmware(bus, host.high_mmio_base)
    firmware.enumerate()
    a.set_irq(True)
    saved = host.state()
    b = SampleFunction()
    host2, bus2, plic2 = make_host(b)
    host2.restore(saved)
    assert bus2.read(ecam(1, offset=BAR_0), 4) == 0x4000_0000
    bus2.write(0x4000_0000, 4, 9)
    assert b.mmio.read(0, 4) == 9
    assert plic2.levels[33] is True
    assert b.command & COMMAND_MASTER

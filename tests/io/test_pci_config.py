"""Type-0 configuration space through the ECAM window: read-only identity,
the command and status registers, BAR sizing, the capability list, the
interrupt line and pin, and the accesses QEMU's ECAM refuses."""

import pytest

from pyvmm.io.pci.config import (BAR_0, CAPABILITY_LIST, COMMAND, COMMAND_INTX_DISABLE, COMMAND_IO,
                                 COMMAND_MASTER, COMMAND_MEMORY, COMMAND_SERR, HEADER_TYPE,
                                 INTERRUPT_LINE, INTERRUPT_PIN, STATUS, STATUS_CAP_LIST,
                                 STATUS_INTERRUPT, STATUS_REC_MASTER_ABORT, PciFunction)
from pci_firmware import BusFault, RegisterFile, SampleFunction, ecam, make_host


@pytest.fixture
def board():
    function = SampleFunction()
    host, bus, plic = make_host(function)
    return function, host, bus


def test_host_bridge_is_qemu_gpex_root():
    _, bus, _ = make_host()
    assert bus.read(ecam(0), 4) == 0x0008_1B36
    assert bus.read(ecam(0, offset=0x08), 4) == 0x0600_0000      # class 06.00.00, revision 0
    assert bus.read(ecam(0, offset=0x2C), 4) == 0x1100_1AF4      # QEMU's default subsystem ids
    assert bus.read(ecam(0, offset=HEADER_TYPE), 1) == 0
    assert bus.read(ecam(0, offset=INTERRUPT_PIN), 1) == 0


def test_identity_is_read_only(board):
    function, host, bus = board
    assert bus.read(ecam(1), 4) == 0x5678_1234
    for offset in (0x00, 0x08, 0x2C, HEADER_TYPE, INTERRUPT_PIN, CAPABILITY_LIST):
        before = bus.read(ecam(1, offset=offset), 1)
        bus.write(ecam(1, offset=offset), 1, before ^ 0xFF)
        assert bus.read(ecam(1, offset=offset), 1) == before
    bus.write(ecam(1), 4, 0)
    assert bus.read(ecam(1), 4) == 0x5678_1234
    assert bus.read(ecam(1, offset=0x08), 4) == 0xFF00_0003


def test_absent_functions_read_all_ones(board):
    _, _, bus = board
    assert bus.read(ecam(2), 2) == 0xFFFF
    assert bus.read(ecam(1, function=1), 4) == 0xFFFF_FFFF
    assert bus.read(ecam(0, bus=1), 4) == 0xFFFF_FFFF
    assert bus.read(ecam(31, function=7, offset=0xFFC, bus=255), 4) == 0xFFFF_FFFF
    assert bus.read(ecam(2), 1) == 0xFF
    bus.write(ecam(2, offset=COMMAND), 2, 0xFFFF)                # dropped, no error
    assert bus.read(ecam(2, offset=COMMAND), 2) == 0xFFFF


def test_extended_space_of_a_conventional_function(board):
    _, _, bus = board
    assert bus.read(ecam(1, offset=0x100), 4) == 0xFFFF_FFFF
    bus.write(ecam(1, offset=0x100), 4, 0)
    assert bus.read(ecam(1, offset=0xFFC), 4) == 0xFFFF_FFFF


def test_access_sizes_and_alignment(board):
    _, _, bus = board
    assert bus.read(ecam(1, offset=2), 2) == 0x5678
    assert bus.read(ecam(1, offset=3), 1) == 0x56
    assert bus.read(ecam(1), 8) == 0x0010_0000_5678_1234          # two dwords, low first
    for offset, size in ((1, 2), (2, 4), (4, 8), (0x3D, 2)):
        with pytest.raises(BusFault):
            bus.read(ecam(1, offset=offset), size)
        with pytest.raises(BusFault):
            bus.write(ecam(1, offset=offset), size, 0)


def test_command_register_mask(board):
    function, _, bus = board
    bus.write(ecam(1, offset=COMMAND), 2, 0xFFFF)
    assert bus.read(ecam(1, offset=COMMAND), 2) == (COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER
                                                     | COMMAND_SERR | COMMAND_INTX_DISABLE)
    assert function.bus_master and function.memory_enabled and function.io_enabled
    bus.write(ecam(1, offset=COMMAND), 2, 0)
    assert not function.bus_master


def test_status_register(board):
    function, _, bus = board
    assert bus.read(ecam(1, offset=STATUS), 2) == STATUS_CAP_LIST
    bus.write(ecam(1, offset=STATUS), 2, 0xFFFF)                 # nothing to clear, nothing set
    assert bus.read(ecam(1, offset=STATUS), 2) == STATUS_CAP_LIST
    function.config[STATUS + 1] |= STATUS_REC_MASTER_ABORT >> 8
    bus.write(ecam(1, offset=STATUS), 2, STATUS_CAP_LIST)        # writing 0 to an error bit keeps it
    assert bus.read(ecam(1, offset=STATUS), 2) & STATUS_REC_MASTER_ABORT
    bus.write(ecam(1, offset=STATUS), 2, STATUS_REC_MASTER_ABORT)  # and 1 clears it
    assert bus.read(ecam(1, offset=STATUS), 2) == STATUS_CAP_LIST
    function.set_irq(True)
    assert bus.read(ecam(1, offset=STATUS), 2) == STATUS_CAP_LIST | STATUS_INTERRUPT
    bus.write(ecam(1, offset=STATUS), 2, STATUS_INTERRUPT)       # read-only, follows the pin
    assert bus.read(ecam(1, offset=STATUS), 2) & STATUS_INTERRUPT


def _size(bus, offset):
    bus.write(ecam(1, offset=offset), 4, 0xFFFF_FFFF)
    return bus.read(ecam(1, offset=offset), 4)


def test_bar_sizing(board):
    _, _, bus = board
    assert bus.read(ecam(1, offset=BAR_0), 4) == 0x0                   # 32-bit memory
    assert bus.read(ecam(1, offset=BAR_0 + 4), 4) == 0x1               # I/O
    assert bus.read(ecam(1, offset=BAR_0 + 8), 4) == 0xC               # 64-bit prefetchable
    assert _size(bus, BAR_0) == 0xFFFF_F000
    assert _size(bus, BAR_0 + 4) == 0xFFFF_FF01
    assert _size(bus, BAR_0 + 8) == 0xFFFF_000C
    assert _size(bus, BAR_0 + 12) == 0xFFFF_FFFF                       # upper half of the 64-bit BAR
    assert _size(bus, BAR_0 + 16) == 0                                 # no BAR 4, 5
    assert _size(bus, BAR_0 + 20) == 0
    assert _size(bus, 0x30) == 0                                       # no expansion ROM
    bus.write(ecam(1, offset=BAR_0), 4, 0x4000_1234)
    assert bus.read(ecam(1, offset=BAR_0), 4) == 0x4000_1000


def test_capability_list(board):
    function, _, bus = board
    head = bus.read(ecam(1, offset=CAPABILITY_LIST), 1)
    assert head == function.cap == 0x40
    assert bus.read(ecam(1, offset=head), 4) == 0xAA08_0009            # id 9, end of list, len 8, body
    bus.write(ecam(1, offset=head), 4, 0)                              # capabilities are read-only
    assert bus.read(ecam(1, offset=head), 4) == 0xAA08_0009
    bus.write(ecam(1, offset=0x80), 4, 0xDEAD_BEEF)                    # the rest of the space is storage
    assert bus.read(ecam(1, offset=0x80), 4) == 0xDEAD_BEEF


def test_capabilities_link_newest_first():
    function = PciFunction(0x1234, 0x1, 0)
    first = function.add_capability(0x09, 16)
    second = function.add_capability(0x09, 20)
    third = function.add_capability(0x05, 6)
    assert (first, second, third) == (0x40, 0x50, 0x64)
    assert function.capabilities() == [(0x64, 0x05), (0x50, 0x09), (0x40, 0x09)]


def test_interrupt_line_and_pin(board):
    _, _, bus = board
    assert bus.read(ecam(1, offset=INTERRUPT_LINE), 2) == 0x0100
    bus.write(ecam(1, offset=INTERRUPT_LINE), 2, 0x0421)
    assert bus.read(ecam(1, offset=INTERRUPT_LINE), 2) == 0x0121


def test_bar_declarations_are_checked():
    function = PciFunction(0x1234, 0x1, 0)
    with pytest.raises(ValueError):
        function.add_bar(0, 0x1800, RegisterFile(0x1800))
    with pytest.raises(ValueError):
        function.add_bar(5, 0x1000, RegisterFile(0x1000), is64=True)
    function.add_bar(4, 0x1000, RegisterFile(0x1000), is64=True)
    with pytest.raises(ValueError):
        function.add_bar(5, 0x10, RegisterFile(0x10))


def test_reset_clears_what_firmware_programmed(board):
    function, _, bus = board
    bus.write(ecam(1, offset=BAR_0), 4, 0x4000_0000)
    bus.write(ecam(1, offset=INTERRUPT_LINE), 1, 33)
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_MEMORY | COMMAND_MASTER)
    assert function.mapped_bars()
    function.reset()
    assert bus.read(ecam(1, offset=COMMAND), 2) == 0
    assert bus.read(ecam(1, offset=BAR_0), 4) == 0
    assert bus.read(ecam(1, offset=INTERRUPT_LINE), 1) == 0
    assert function.mapped_bars() == []
    assert bus.read(ecam(1), 4) == 0x5678_1234

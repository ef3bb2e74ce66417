"""Test-side PCI firmware: a test function with one BAR of each kind, and
enumeration of bus 0 through the ECAM window as Linux and U-Boot do it
(probe, size each BAR by writing all ones, assign naturally aligned
addresses from the bridge's windows, enable decoding and bus mastering)."""

from pyvmm.io.pci import memmap
from pyvmm.io.pci.config import (BAR_0, BAR_MEM_PREFETCH, BAR_MEM_TYPE_64, BAR_SPACE_IO, COMMAND,
                                 COMMAND_IO, COMMAND_MASTER, COMMAND_MEMORY, HEADER_TYPE,
                                 INTERRUPT_LINE, INTERRUPT_PIN, PciFunction)
from pyvmm.io.pci.host import PciHost
from pyvmm.machine.bus import Bus, BusFault

RAM_SIZE = 128 << 20


class RegisterFile:
    """A BAR's contents: little-endian storage, every size allowed, and a
    log of accesses."""

    def __init__(self, size):
        self.data = bytearray(size)
        self.log = []

    def read(self, offset, size):
        self.log.append(("r", offset, size))
        return int.from_bytes(self.data[offset:offset + size], "little")

    def write(self, offset, size, value):
        self.log.append(("w", offset, size, value))
        self.data[offset:offset + size] = value.to_bytes(size, "little")


class SampleFunction(PciFunction):
    """BAR 0: 4 KiB 32-bit memory; BAR 1: 256 bytes of I/O; BAR 2: 64 KiB
    64-bit prefetchable memory; a vendor capability; INTA."""

    def __init__(self, pin=1, vendor=0x1234, device=0x5678):
        super().__init__(vendor, device, 0xFF0000, revision=3, interrupt_pin=pin, name="test")
        self.mmio = RegisterFile(0x1000)
        self.pio = RegisterFile(0x100)
        self.mmio64 = RegisterFile(0x1_0000)
        self.add_bar(0, 0x1000, self.mmio)
        self.add_bar(1, 0x100, self.pio, io=True)
        self.add_bar(2, 0x1_0000, self.mmio64, is64=True, prefetchable=True)
        self.cap = self.add_capability(0x09, 8, bytes([8, 0xAA, 0xBB, 0xCC]))


class NullPlic:
    """Records every source level the host drives."""

    def __init__(self):
        self.levels = {}
        self.changes = []

    def set_level(self, source, level):
        self.levels[source] = bool(level)
        self.changes.append((source, bool(level)))


def make_host(*functions, ram_size=RAM_SIZE):
    plic = NullPlic()
    host = PciHost(plic, ram_size)
    for function in functions:
        host.add_function(function)
    bus = Bus()
    host.attach(bus)
    return host, bus, plic


def ecam(device, function=0, offset=0, bus=0):
    return memmap.ECAM_BASE + (bus << 20 | device << 15 | function << 12 | offset)


class Firmware:
    """Enumerates and programs bus 0 through a system Bus."""

    def __init__(self, bus, high_mmio_base):
        self.bus = bus
        self.next_mem = memmap.MMIO_BASE
        self.next_mem64 = high_mmio_base
        self.next_io = 0x1000           # Linux and U-Boot leave the legacy ISA ports alone
        self.found = []                 # (device, function, vendor, device id)
        self.assigned = {}              # (device, function, bar) -> (address, size, kind)

    def cfg_read(self, device, function, offset, size=4):
        return self.bus.read(ecam(device, function, offset), size)

    def cfg_write(self, device, function, offset, value, size=4):
        self.bus.write(ecam(device, function, offset), size, value)

    def enumerate(self):
        for device in range(32):
            if self.cfg_read(device, 0, 0, 2) == 0xFFFF:
                continue
            functions = range(8) if self.cfg_read(device, 0, HEADER_TYPE, 1) & 0x80 else range(1)
            for function in functions:
                ids = self.cfg_read(device, function, 0)
                if ids & 0xFFFF == 0xFFFF:
                    continue
                self.found.append((device, function, ids & 0xFFFF, ids >> 16))
                self.program(device, function)
        return self.found

    def _align(self, cursor, size):
        return (cursor + size - 1) // size * size

    def program(self, device, function):
        self.cfg_write(device, function, COMMAND, 0, 2)      # decode off while sizing
        index = 0
        command = 0
        while index < 6:
            offset = BAR_0 + 4 * index
            original = self.cfg_read(device, function, offset)
            self.cfg_write(device, function, offset, 0xFFFF_FFFF)
            probe = self.cfg_read(device, function, offset)
            self.cfg_write(device, function, offset, original)
            if probe == 0:
                index += 1
                continue
            if probe & BAR_SPACE_IO:
                size = (~(probe & 0xFFFF_FFFC) + 1) & 0xFFFF
                address = self._align(self.next_io, size)
                self.next_io = address + size
                self.cfg_write(device, function, offset, address)
                self.assigned[(device, function, index)] = (address, size, "io")
                command |= COMMAND_IO
                index += 1
                continue
            if probe & BAR_MEM_TYPE_64:
                high_original = self.cfg_read(device, function, offset + 4)
                self.cfg_write(device, function, offset + 4, 0xFFFF_FFFF)
                high = self.cfg_read(device, function, offset + 4)
                self.cfg_write(device, function, offset + 4, high_original)
                mask = (high << 32) | (probe & ~0xF)
                size = (~mask + 1) & ((1 << 64) - 1)
                if probe & BAR_MEM_PREFETCH:
                    address = self._align(self.next_mem64, size)
                    self.next_mem64 = address + size
                else:
                    address = self._align(self.next_mem, size)
                    self.next_mem = address + size
                self.cfg_write(device, function, offset, address & 0xFFFF_FFFF)
                self.cfg_write(device, function, offset + 4, address >> 32)
                self.assigned[(device, function, index)] = (address, size, "mem64")
                index += 2
            else:
                size = (~(probe & ~0xF) + 1) & 0xFFFF_FFFF
                address = self._align(self.next_mem, size)
                self.next_mem = address + size
                self.cfg_write(device, function, offset, address)
                self.assigned[(device, function, index)] = (address, size, "mem32")
                index += 1
            command |= COMMAND_MEMORY
        pin = self.cfg_read(device, function, INTERRUPT_PIN, 1)
        if pin:
            self.cfg_write(device, function, INTERRUPT_LINE, 32 + (pin - 1 + device) % 4, 1)
        self.cfg_write(device, function, COMMAND, command | COMMAND_MASTER, 2)

    def cpu_address(self, device, function, index):
        """The system-bus address a CPU uses for a BAR's first byte."""
        address, _, kind = self.assigned[(device, function, index)]
        return memmap.PIO_BASE + address if kind == "io" else address


__all__ = ["BusFault", "Firmware", "NullPlic", "RegisterFile", "SampleFunction", "ecam", "make_host"]

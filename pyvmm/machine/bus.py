"""Physical-address dispatch of MMIO accesses to the board's Python devices.

The core leaves its loop (EXIT_MMIO) for any physical address that is neither
RAM nor a native device; the bus finds the device that decodes it, or reports
a decode error, which the core turns into a precise access fault as a real
bus error would be.
"""

import bisect


class BusFault(Exception):
    """An access nothing answers (unmapped, wrong size, crossing a device)."""


class Region:
    __slots__ = ("base", "size", "end", "device", "name", "accesses")

    def __init__(self, base, size, device, name):
        self.base = base
        self.size = size
        self.end = base + size
        self.device = device
        self.name = name
        self.accesses = 0

    def __repr__(self):
        return f"Region({self.name!r}, {self.base:#x}..{self.end:#x})"


class Bus:
    """Devices by address range; each device has read(offset, size) -> int
    and write(offset, size, value), and raises BusFault to refuse an access."""

    def __init__(self):
        self.regions = []
        self._bases = []
        self.unmapped_accesses = 0
        self._last = None

    def attach(self, base, size, device, name):
        if size <= 0:
            raise ValueError(f"{name}: empty region")
        index = bisect.bisect_right(self._bases, base)
        before = self.regions[index - 1] if index else None
        after = self.regions[index] if index < len(self.regions) else None
        if (before and before.end > base) or (after and base + size > after.base):
            raise ValueError(f"{name}: {base:#x}+{size:#x} overlaps another device")
        region = Region(base, size, device, name)
        self.regions.insert(index, region)
        self._bases.insert(index, base)
        return region

    def find(self, addr):
        last = self._last
        if last is not None and last.base <= addr < last.end:
            return last     # a driver's accesses come in runs to one device
        index = bisect.bisect_right(self._bases, addr) - 1
        if index >= 0:
            region = self.regions[index]
            if addr < region.end:
                self._last = region
                return region
        return None

    def _decode(self, addr, size):
        region = self.find(addr)
        if region is None:
            self.unmapped_accesses += 1
            raise BusFault(f"no device at {addr:#x}")
        region.accesses += 1
        if addr + size > region.end:
            raise BusFault(f"{size}-byte access at {addr:#x} crosses the end of {region.name}")
        return region

    def access_counts(self):
        """{device name: accesses} for devices accessed, plus "unmapped"."""
        counts = {r.name: r.accesses for r in self.regions if r.accesses}
        if self.unmapped_accesses:
            counts["unmapped"] = self.unmapped_accesses
        return dict(sorted(counts.items()))

    def read(self, addr, size):
        region = self._decode(addr, size)
        return region.device.read(addr - region.base, size) & ((1 << (8 * size)) - 1)

    def write(self, addr, size, value):
        region = self._decode(addr, size)
        region.device.write(addr - region.base, size, value & ((1 << (8 * size)) - 1))

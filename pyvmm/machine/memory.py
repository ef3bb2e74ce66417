"""Guest memory as devices see it: the one door every DMA goes through.

A device (virtio back-end, PCI function, firmware helper) never holds a core
or a host pointer: it gets a GuestMemory and reads and writes guest-physical
addresses through it. Every access is bounds-checked against guest RAM
(DmaError otherwise, which a device turns into an error status, never a host
exception), reaches RAM through zero-copy memoryviews, and is followed by
what a write behind the harts' backs needs: decoded instructions dropped on
every hart and the page marked in the core's dirty log (live migration;
both by `on_write`, the board's `core.invalidate_code`), and (under a
hypervisor) the shadow pager told. `views` are for reading: a device that
wrote through one would bypass all of that.

The same class serves the bare board (guest RAM contiguous in one buffer) and
a VM (guest pages scattered over host frames: `page_offsets[i]` is the buffer
offset of guest page i).
"""

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


class DmaError(Exception):
    """A device access to guest-physical memory outside guest RAM."""


class GuestMemory:
    """`buffer`: any writable buffer holding RAM (the core's RAM, a NumPy
    array); `ram_base`/`ram_size`:
    the guest-physical RAM range; `page_offsets`: None when guest RAM is
    buffer[0:ram_size] in order, else the buffer offset of each guest page;
    `on_write(gpa, n)`: called after every write (code and shadow coherence);
    `before_write(gpa, n)`: called before every write (a VM breaks the sharing
    of copy-on-write frames there, which may change `page_offsets` in place)."""

    def __init__(self, buffer, ram_base, ram_size, page_offsets=None, on_write=None,
                 before_write=None):
        self.buffer = memoryview(buffer).cast("B")
        # The core's RAM (a HostBuffer) can hand pages back to the host.
        self._discard_range = getattr(buffer, "discard_range", None)
        self.ram_base = ram_base
        self.ram_size = ram_size
        self.page_offsets = page_offsets
        self._on_write = on_write
        self._before_write = before_write
        self.bytes_read = 0
        self.bytes_written = 0
        self.bytes_discarded = 0

    def contains(self, gpa, n=1):
        """Is [gpa, gpa + n) inside guest RAM?"""
        return n >= 0 and self.ram_base <= gpa and gpa + n <= self.ram_base + self.ram_size

    def _check(self, gpa, n):
        if not self.contains(gpa, n):
            raise DmaError(f"DMA to {gpa:#x}+{n:#x} is outside guest RAM "
                           f"[{self.ram_base:#x}, {self.ram_base + self.ram_size:#x})")

    def views(self, gpa, n):
        """Zero-copy byte memoryviews covering [gpa, gpa + n), one per contiguous run
        of host memory (one for the board, one per page at most for a VM). For
        reading: a write goes through write() or fill(), which tell the VM
        first (its copy-on-write frames must not be written in place)."""
        self._check(gpa, n)
        offset = gpa - self.ram_base
        if self.page_offsets is None:
            return [self.buffer[offset:offset + n]]
        runs = []
        while n > 0:
            page, within = divmod(offset, PAGE_SIZE)
            length = min(n, PAGE_SIZE - within)
            start = self.page_offsets[page] + within
            if runs and runs[-1][1] == start:
                runs[-1][1] = start + length
            else:
                runs.append([start, start + length])
            offset += length
            n -= length
        return [self.buffer[a:b] for a, b in runs]

    def read(self, gpa, n):
        """n bytes of guest RAM at gpa."""
        if n == 0:
            self._check(gpa, 0)
            return b""
        views = self.views(gpa, n)
        self.bytes_read += n
        if len(views) == 1:
            return views[0].tobytes()
        return b"".join(v.tobytes() for v in views)

    def write(self, gpa, data):
        """Store bytes (or any byte buffer, a uint8 array) into guest RAM at gpa."""
        source = memoryview(data).cast("B")
        n = len(source)
        if self._before_write is not None and n:
            self._check(gpa, n)
            self._before_write(gpa, n)
        views = self.views(gpa, n)
        done = 0
        for view in views:
            view[:] = source[done:done + len(view)]
            done += len(view)
        self.bytes_written += n
        if self._on_write is not None and n:
            self._on_write(gpa, n)

    def fill(self, gpa, n, byte=0):
        if self._before_write is not None and n:
            self._check(gpa, n)
            self._before_write(gpa, n)
        for view in self.views(gpa, n):
            view[:] = bytes((byte,)) * len(view)
        self.bytes_written += n
        if self._on_write is not None and n:
            self._on_write(gpa, n)

    def discard(self, gpa, n):
        """Give the host memory behind [gpa, gpa + n) back to the host: it
        reads as zeros afterwards, like a page QEMU's balloon discards.
        Whole host pages of the core's RAM are dropped (madvise
        MADV_DONTNEED); any other buffer is zeroed."""
        self._check(gpa, n)
        if n == 0:
            return
        if self._before_write is not None:
            self._before_write(gpa, n)      # a frame shared copy-on-write stays as it is
        offset = gpa - self.ram_base
        for start, length in self._host_runs(offset, n):
            if self._discard_range is not None:
                self._discard_range(start, length)
            else:
                self.buffer[start:start + length] = bytes(length)
        self.bytes_discarded += n
        if self._on_write is not None:
            self._on_write(gpa, n)

    def _host_runs(self, offset, n):
        """(buffer offset, length) of each piece of host memory behind RAM
        offset [offset, offset + n)."""
        if self.page_offsets is None:
            return [(offset, n)]
        runs = []
        while n > 0:
            page, within = divmod(offset, PAGE_SIZE)
            length = min(n, PAGE_SIZE - within)
            runs.append((self.page_offsets[page] + within, length))
            offset += length
            n -= length
        return runs

    def read_u16(self, gpa):
        return int.from_bytes(self.read(gpa, 2), "little")

    def read_u32(self, gpa):
        return int.from_bytes(self.read(gpa, 4), "little")

    def read_u64(self, gpa):
        return int.from_bytes(self.read(gpa, 8), "little")

    def write_u16(self, gpa, value):
        self.write(gpa, (value & 0xFFFF).to_bytes(2, "little"))

    def write_u32(self, gpa, value):
        self.write(gpa, (value & 0xFFFF_FFFF).to_bytes(4, "little"))

    def write_u64(self, gpa, value):
        self.write(gpa, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def stats(self):
        return {"dma_bytes_read": self.bytes_read, "dma_bytes_written": self.bytes_written}

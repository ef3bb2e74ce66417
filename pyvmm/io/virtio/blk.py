"""virtio-blk (virtio 1.2 section 5.2) over a raw image file.

Each request is a chain: a 16-byte driver-readable header {type u32,
ioprio u32, sector u64}, the data (driver-readable for a write, device-
writable for a read) and a final device-writable status byte. Served:
IN (read), OUT (write), FLUSH (fsync) and GET_ID (the 20-byte serial). A
sector range past the end of the disk, a length that is not whole sectors or
a write to a read-only disk completes with VIRTIO_BLK_S_IOERR; any other
type with VIRTIO_BLK_S_UNSUPP; a chain too short to hold the header and the
status byte needs a device reset.

Writes reach the file with os.pwritev straight from guest RAM, so what the
guest wrote and flushed is in the file. With snapshot=on they go to an
anonymous temporary overlay instead (copy-on-write by sector) that vanishes
on close, and the image is never modified.
"""

import os
import tempfile

from pyvmm.io.options import OptionError
from pyvmm.io.virtio.device import ID_BLOCK, VirtioDevice
from pyvmm.io.virtio.queue import VirtqueueError

SECTOR = 512

VIRTIO_BLK_F_SEG_MAX = 1 << 2
VIRTIO_BLK_F_RO = 1 << 5
VIRTIO_BLK_F_BLK_SIZE = 1 << 6
VIRTIO_BLK_F_FLUSH = 1 << 9

VIRTIO_BLK_T_IN = 0
VIRTIO_BLK_T_OUT = 1
VIRTIO_BLK_T_FLUSH = 4
VIRTIO_BLK_T_GET_ID = 8
# A legacy driver may set this ordering bit in the type; QEMU ignores it.
VIRTIO_BLK_T_BARRIER = 0x8000_0000

VIRTIO_BLK_S_OK = 0
VIRTIO_BLK_S_IOERR = 1
VIRTIO_BLK_S_UNSUPP = 2

ID_BYTES = 20
HEADER = 16
QUEUE_SIZE = 256


def _take(views, n):
    """Split a list of uint8 views into (the first n bytes, the rest)."""
    head, rest = [], []
    for view in views:
        if n >= len(view):
            head.append(view)
            n -= len(view)
        elif n > 0:
            head.append(view[:n])
            rest.append(view[n:])
            n = 0
        else:
            rest.append(view)
    return head, rest


# The kernel takes at most IOV_MAX (1024 on Linux) buffers per call; a VM's
# guest RAM splits a transfer into one view per page.
IOV_BATCH = 1024


def _preadv_all(fd, views, offset):
    while views:
        got = os.preadv(fd, views[:IOV_BATCH], offset)
        if got <= 0:
            raise OSError(f"short read at byte {offset}")
        offset += got
        _, views = _take(views, got)


def _pwritev_all(fd, views, offset):
    while views:
        put = os.pwritev(fd, views[:IOV_BATCH], offset)
        if put <= 0:
            raise OSError(f"short write at byte {offset}")
        offset += put
        _, views = _take(views, put)


class BlockBackend:
    """A raw image: reads and writes whole sectors, optionally through a
    copy-on-write overlay."""

    def __init__(self, path, readonly=False, snapshot=False):
        self.path = path
        self.readonly = readonly
        self.snapshot = snapshot
        try:
            self.fd = os.open(path, os.O_RDONLY if readonly or snapshot else os.O_RDWR)
        except OSError as error:
            raise OptionError(f"drive file {path}: {error.strerror}") from None
        size = os.fstat(self.fd).st_size
        if size % SECTOR:
            os.close(self.fd)
            raise OptionError(f"drive file {path}: size {size} is not a multiple of {SECTOR} bytes")
        self.size = size
        self.sectors = size // SECTOR
        self.overlay = None
        self.dirty = None
        if snapshot:
            self.overlay = tempfile.TemporaryFile(prefix="pyvmm-snapshot-")
            self.dirty = bytearray(self.sectors)

    def state(self):
        """What a snapshot needs of the drive: its size, and for snapshot=on
        the overlay's written sectors as runs [first sector, bytes]. A
        writable drive's data is its file, which is not copied."""
        runs = []
        if self.dirty is not None:
            sector = 0
            while sector < self.sectors:
                if not self.dirty[sector]:
                    sector += 1
                    continue
                end = sector
                while end < self.sectors and self.dirty[end]:
                    end += 1
                data = bytearray((end - sector) * SECTOR)
                _preadv_all(self.overlay.fileno(), [memoryview(data)], sector * SECTOR)
                runs.append([sector, bytes(data)])
                sector = end
        return {"size": self.size, "snapshot": self.snapshot, "overlay": runs}

    def restore(self, state):
        if state["size"] != self.size:
            raise ValueError(f"drive file {self.path} has {self.size} bytes, the snapshot "
                             f"was taken with {state['size']}")
        if bool(state["snapshot"]) != bool(self.snapshot):
            raise ValueError(f"drive file {self.path}: snapshot=on must match the saved machine")
        runs = state["overlay"]
        for first, data in runs:
            if first < 0 or len(data) % SECTOR or first + len(data) // SECTOR > self.sectors:
                raise ValueError(f"drive {self.path}: overlay run at sector {first} is outside the disk")
        if self.dirty is None:
            return
        self.dirty[:] = bytes(self.sectors)
        for first, data in runs:
            _pwritev_all(self.overlay.fileno(), [memoryview(data)], first * SECTOR)
            self.dirty[first:first + len(data) // SECTOR] = b"\1" * (len(data) // SECTOR)

    def read_into(self, views, offset):
        _preadv_all(self.fd, list(views), offset)
        if self.dirty is None:
            return
        first, count = offset // SECTOR, sum(len(v) for v in views) // SECTOR
        sector = first
        while sector < first + count:
            if not self.dirty[sector]:
                sector += 1
                continue
            end = sector
            while end < first + count and self.dirty[end]:
                end += 1
            _, rest = _take(list(views), (sector - first) * SECTOR)
            run, _ = _take(rest, (end - sector) * SECTOR)
            _preadv_all(self.overlay.fileno(), run, sector * SECTOR)
            sector = end

    def write_from(self, views, offset):
        if self.overlay is not None:
            _pwritev_all(self.overlay.fileno(), list(views), offset)
            n = sum(len(v) for v in views)
            self.dirty[offset // SECTOR:(offset + n) // SECTOR] = b"\1" * (n // SECTOR)
        else:
            _pwritev_all(self.fd, list(views), offset)

    def flush(self):
        if self.overlay is None and not self.readonly:
            os.fsync(self.fd)

    def close(self):
        if self.fd is None:
            return
        self.flush()
        os.close(self.fd)
        self.fd = None
        if self.overlay is not None:
            self.overlay.close()


class VirtioBlk(VirtioDevice):
    device_id = ID_BLOCK
    name = "virtio-blk"
    num_queues = 1
    queue_num_max = QUEUE_SIZE
    features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH

    def __init__(self, path, readonly=False, snapshot=False, serial=""):
        self.backend = BlockBackend(path, readonly, snapshot)
        if readonly:
            self.features = type(self).features | VIRTIO_BLK_F_RO
        super().__init__()
        self.serial = serial.encode()[:ID_BYTES]
        self.bytes_read = 0
        self.bytes_written = 0

    def config_bytes(self):
        # capacity, size_max (not offered), seg_max (queue size - 2, as QEMU),
        # geometry (not offered), blk_size.
        return (self.backend.sectors.to_bytes(8, "little") + bytes(4)
                + (QUEUE_SIZE - 2).to_bytes(4, "little") + bytes(4)
                + SECTOR.to_bytes(4, "little") + bytes(12))

    def process_queue(self, index):
        served = False
        while True:
            chain = self.pop(index)
            if chain is None:
                break
            if chain.readable_len < HEADER or chain.writable_len < 1:
                raise VirtqueueError("virtio-blk request without header or status byte")
            status = self._serve(chain)
            status_at = chain.writable_len - 1
            chain.write(status_at, bytes([status]))
            self.push(index, chain)
            if status != VIRTIO_BLK_S_OK:
                self.counters["errors"] += 1
            served = True
        if served:
            self.signal(index)

    def _serve(self, chain):
        header = chain.read(0, HEADER)
        kind = int.from_bytes(header[0:4], "little") & ~VIRTIO_BLK_T_BARRIER
        sector = int.from_bytes(header[8:16], "little")
        if kind == VIRTIO_BLK_T_IN:
            return self._read(chain, sector, chain.writable_len - 1)
        if kind == VIRTIO_BLK_T_OUT:
            return self._write(chain, sector, chain.readable_len - HEADER)
        if kind == VIRTIO_BLK_T_FLUSH:
            try:
                self.backend.flush()
            except OSError:
                return VIRTIO_BLK_S_IOERR
            return VIRTIO_BLK_S_OK
        if kind == VIRTIO_BLK_T_GET_ID:
            ident = (self.serial + b"\0")[:ID_BYTES]
            chain.write(0, ident[:chain.writable_len - 1])
            return VIRTIO_BLK_S_OK
        return VIRTIO_BLK_S_UNSUPP

    def _range_ok(self, sector, n):
        return n % SECTOR == 0 and sector <= self.backend.sectors \
            and n // SECTOR <= self.backend.sectors - sector

    def _read(self, chain, sector, n):
        if not self._range_ok(sector, n):
            return VIRTIO_BLK_S_IOERR
        done = 0
        try:
            for gpa, length in chain.writable_spans(0, n):
                data = bytearray(length)
                self.backend.read_into([memoryview(data)], sector * SECTOR + done)
                # Through GuestMemory.write so decoded code and shadow tables see it.
                self.memory.write(gpa, data)
                done += length
        except OSError:
            return VIRTIO_BLK_S_IOERR
        chain.mark_written(n)
        self.bytes_read += n
        self.counters["bytes"] += n
        return VIRTIO_BLK_S_OK

    def _write(self, chain, sector, n):
        if self.backend.readonly:
            return VIRTIO_BLK_S_IOERR
        if not self._range_ok(sector, n):
            return VIRTIO_BLK_S_IOERR
        try:
            self.backend.write_from(chain.read_views(HEADER, n), sector * SECTOR)
        except OSError:
            return VIRTIO_BLK_S_IOERR
        self.bytes_written += n
        self.counters["bytes"] += n
        return VIRTIO_BLK_S_OK

    def close(self):
        self.backend.close()

    def stats(self):
        stats = super().stats()
        stats.update(bytes_read=self.bytes_read, bytes_written=self.bytes_written)
        return stats

    def device_state(self):
        return {"bytes_read": self.bytes_read, "bytes_written": self.bytes_written,
                "drive": self.backend.state()}

    def restore_device(self, state):
        if "drive" in state:
            self.backend.restore(state["drive"])
        self.bytes_read = state["bytes_read"]
        self.bytes_written = state["bytes_written"]

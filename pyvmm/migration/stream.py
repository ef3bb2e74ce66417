"""The migration stream: what the source writes and the destination reads.

All integers little-endian.

    header   8 bytes magic b"PYVMMIGR", u32 stream version
    record   4-byte tag, u32 payload length, payload        (repeated)

Records, in this order:

    CONF  tagged JSON: kind, RAM base and size, page size, the options that
          shape the machine (what `pyvmm.machine.snapshot` stores in META)
    ROND  u32 round number (1, 2, ...): the pages that follow belong to it
    PAGE  u32 count n, n x u32 page indexes, then one zlib stream of the n
          pages of 4 KiB in that order                       (any number)
    STOP  tagged JSON: the source's account of the pre-copy (rounds, pages
          per round, stop rule, downtime in guest instructions): the guest
          is paused; the PAGE records after it are the stop-and-copy part
    STAT  tagged JSON: every hart's, device's and the board's state
    END\\0 32 bytes: SHA-256 of every byte of the stream before this record

A source whose guest stops on its own before the migration completes sends
CNCL (a one-line reason) instead of going on. The destination answers a
complete, verified stream it has built a machine from with the 8 bytes
b"RESUMED\\n"; until then the source's guest is the one that runs.
"""

import hashlib
import struct
import zlib

from pyvmm.machine import snapfile
from pyvmm.machine.snapfile import PAGE_SIZE, SnapshotError

MAGIC = b"PYVMMIGR"
STREAM_VERSION = 1
RESUMED = b"RESUMED\n"
MAX_RECORD = 1 << 30        # a PAGE record of 256 Ki pages compresses far below this
ZLIB_LEVEL = 1              # pages are sent while the guest runs: speed over size
ZLIB_STORED = 0             # stop-and-copy: the guest is paused, compressing would lengthen the pause

_HEADER = struct.Struct("<8sI")
_RECORD = struct.Struct("<4sI")
_U32 = struct.Struct("<I")

CONF, ROND, PAGE, STOP, STAT, END, CNCL = b"CONF", b"ROND", b"PAGE", b"STOP", b"STAT", b"END\0", b"CNCL"


class MigrationError(Exception):
    """A migration that cannot go on: a stream that is truncated, corrupt, of
    another version or for a machine this side cannot build, or a broken
    connection; str() is one line."""


# -- writing -----------------------------------------------------------------


class StreamWriter:
    """Frames records onto `send` (a callable taking bytes) and keeps the
    digest the END record carries; counts the bytes written."""

    def __init__(self, send):
        self._send = send
        self._digest = hashlib.sha256()
        self.bytes = 0
        self._put(_HEADER.pack(MAGIC, STREAM_VERSION))

    def _put(self, data):
        self._digest.update(data)
        self.bytes += len(data)
        self._send(data)

    def record(self, tag, payload):
        self._put(_RECORD.pack(tag, len(payload)) + payload)

    def json(self, tag, value):
        self.record(tag, snapfile.dumps(value))

    def round(self, number):
        self.record(ROND, _U32.pack(number))

    def pages(self, pages, level=ZLIB_LEVEL):
        """pages: [(index, 4 KiB buffer)], indexes strictly increasing;
        `level`: zlib's (ZLIB_STORED: the same format, stored blocks)."""
        self.record(PAGE, _U32.pack(len(pages)) + snapfile.pack_pages(pages, level))

    def end(self):
        digest = self._digest.digest()
        self._put(_RECORD.pack(END, len(digest)) + digest)


# -- reading -----------------------------------------------------------------


class StreamReader:
    """Reads records from `recv_exactly(n)` (returns n bytes, or fewer at the
    end of the stream) and checks the framing and the digest."""

    def __init__(self, recv_exactly):
        self._recv = recv_exactly
        self._digest = hashlib.sha256()
        self.bytes = 0
        header = self._take(_HEADER.size, "the header")
        magic, version = _HEADER.unpack(header)
        if magic != MAGIC:
            raise MigrationError("not a pyvmm migration stream (bad magic)")
        if version != STREAM_VERSION:
            raise MigrationError(f"migration stream version {version}, this pyvmm reads version "
                                 f"{STREAM_VERSION}")

    def _take(self, n, what):
        data = self._recv(n)
        if len(data) != n:
            raise MigrationError(f"truncated migration stream (ended in {what} after "
                                 f"{self.bytes + len(data)} bytes)")
        self._digest.update(data)
        self.bytes += n
        return data

    def record(self):
        """-> (tag, payload). END's digest is checked here."""
        before = self._digest.copy()
        tag, length = _RECORD.unpack(self._take(_RECORD.size, "a record header"))
        if tag not in (CONF, ROND, PAGE, STOP, STAT, END, CNCL):
            raise MigrationError(f"corrupt migration stream (unknown record {tag!r})")
        if length > MAX_RECORD:
            raise MigrationError(f"corrupt migration stream (a {tag.decode().strip(chr(0))} "
                                 f"record of {length} bytes)")
        payload = self._take(length, f"a {tag.decode().strip(chr(0))} record")
        if tag == END and payload != before.digest():
            raise MigrationError("corrupt migration stream (checksum mismatch)")
        return tag, payload


def load_json(payload, what):
    try:
        return snapfile.loads(payload, what)
    except SnapshotError as error:
        raise MigrationError(f"corrupt migration stream ({error})") from None


def parse_round(payload):
    if len(payload) != _U32.size:
        raise MigrationError("corrupt migration stream (a ROND record of the wrong size)")
    return _U32.unpack(payload)[0]


def parse_pages(payload, npages):
    """-> [(index, bytes)] of a PAGE record, every index below npages."""
    if len(payload) < _U32.size:
        raise MigrationError("corrupt migration stream (a PAGE record without its count)")
    count = _U32.unpack_from(payload)[0]
    offset = _U32.size + 4 * count
    if count > npages or offset > len(payload):
        raise MigrationError(f"corrupt migration stream (a PAGE record of {count} pages)")
    indexes = struct.unpack_from(f"<{count}I", payload, _U32.size)
    bad = snapfile.first_bad_page_index(indexes, npages)
    if bad is not None:
        raise MigrationError(f"corrupt migration stream (page {bad} out of order or outside RAM)")
    try:
        data = snapfile.inflate_pages(payload[offset:], count)
    except zlib.error as error:
        raise MigrationError(f"corrupt migration stream (pages do not decompress: {error})") from None
    if data is None:
        raise MigrationError("corrupt migration stream (a PAGE record's data does not match "
                             "its page count)")
    return [(index, data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]) for i, index in enumerate(indexes)]

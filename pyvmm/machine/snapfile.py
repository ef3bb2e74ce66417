"""The snapshot file: a versioned container of state and RAM pages.

Layout (all integers little-endian; docs/snapshots.md has the full story):

    header   8 bytes magic b"PYVMSNAP", u32 format version, u32 section count
    section  4-byte tag, u64 payload length, payload         (repeated)
    trailer  b"SHA2", 32-byte SHA-256 of every byte before the trailer

Sections:

    META  the machine's (or VM's) options and identity, tagged JSON (below)
    STAT  every hart's, device's and policy's state, tagged JSON
    RAM\\0 u64 RAM base, u64 RAM size, u32 page count n, n x u32 page
          indexes (strictly increasing), then one zlib stream holding the n
          pages of 4 KiB in that order. A full snapshot holds every page
          that is not all zeros; an incremental one the pages that differ
          from its base snapshot.

Tagged JSON keeps the Python types states are made of: a bytes value is
{"__bytes__": base64}, a tuple {"__tuple__": [...]}, a dict whose keys are
not all plain strings (or start with "__") {"__dict__": [[key, value],
...]}; everything else is JSON as is, written with sorted keys so the same
state gives the same bytes.

Reading checks the magic, the version, the checksum and every length before
anything is handed on: a truncated, corrupt or foreign file raises
SnapshotError with one line saying why.
"""

import base64
import hashlib
import json
import struct
import zlib

MAGIC = b"PYVMSNAP"
FORMAT_VERSION = 1
PAGE_SIZE = 4096
ZLIB_LEVEL = 6

_HEADER = struct.Struct("<8sII")
_SECTION = struct.Struct("<4sQ")
_RAM_HEADER = struct.Struct("<QQI")
_TRAILER_TAG = b"SHA2"
_TRAILER_SIZE = 4 + 32
_MAX_SECTIONS = 64


class SnapshotError(Exception):
    """A snapshot file that cannot be used (not a snapshot, another format
    version, corrupt, truncated, or made for another machine); str() is one
    line."""


# -- tagged JSON -------------------------------------------------------------


def _encode(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        pairs = [[_encode(k), _encode(v)] for k, v in value.items()]
        pairs.sort(key=lambda kv: json.dumps(kv[0], sort_keys=True))
        return {"__dict__": pairs}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a snapshot cannot hold a {type(value).__name__}")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "__bytes__":
                return base64.b64decode(inner, validate=True)
            if key == "__tuple__":
                return tuple(_decode(v) for v in inner)
            if key == "__dict__":
                return {_hashable(_decode(k)): _decode(v) for k, v in inner}
        return {k: _decode(v) for k, v in value.items()}
    return value


def _hashable(key):
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key


def dumps(value):
    """State as tagged JSON bytes (deterministic)."""
    return json.dumps(_encode(value), sort_keys=True, separators=(",", ":")).encode()


def loads(data, what):
    try:
        return _decode(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as error:
        raise SnapshotError(f"the {what} section is not valid state ({error})") from None


# -- RAM pages ---------------------------------------------------------------


def pack_ram(ram_base, ram_size, pages):
    """`pages`: list of (index, 4 KiB bytes-like), indexes increasing."""
    return _RAM_HEADER.pack(ram_base, ram_size, len(pages)) + pack_pages(pages)


def pack_pages(pages, level=ZLIB_LEVEL):
    """`pages`: list of (index, 4 KiB bytes-like), indexes increasing -> their
    u32 indexes, then one zlib stream (at `level`) of their bytes in order."""
    parts = [struct.pack(f"<{len(pages)}I", *(index for index, _ in pages))]
    compressor = zlib.compressobj(level)
    parts.extend(compressor.compress(data) for _, data in pages)
    parts.append(compressor.flush())
    return b"".join(parts)


def unpack_ram(payload):
    """-> (ram_base, ram_size, [(index, page bytes)]), every length checked."""
    if len(payload) < _RAM_HEADER.size:
        raise SnapshotError("the RAM section is truncated")
    ram_base, ram_size, count = _RAM_HEADER.unpack_from(payload)
    if ram_size % PAGE_SIZE or ram_base % PAGE_SIZE:
        raise SnapshotError(f"the RAM section describes unaligned RAM ({ram_base:#x}+{ram_size:#x})")
    npages = ram_size // PAGE_SIZE
    if count > npages:
        raise SnapshotError(f"the RAM section holds {count} pages of a RAM of {npages}")
    offset = _RAM_HEADER.size
    if len(payload) < offset + 4 * count:
        raise SnapshotError("the RAM section is truncated")
    indexes = struct.unpack_from(f"<{count}I", payload, offset)
    offset += 4 * count
    bad = first_bad_page_index(indexes, npages)
    if bad is not None:
        raise SnapshotError(f"the RAM section names page {bad} out of order or outside RAM")
    try:
        data = inflate_pages(payload[offset:], count)
    except zlib.error as error:
        raise SnapshotError(f"the RAM section's pages do not decompress ({error})") from None
    if data is None:
        raise SnapshotError("the RAM section's pages do not match its page count")
    view = memoryview(data)
    return ram_base, ram_size, [(index, view[i * PAGE_SIZE:(i + 1) * PAGE_SIZE])
                                for i, index in enumerate(indexes)]


def first_bad_page_index(indexes, npages):
    """The first page index not above the one before it or not below
    `npages`, or None: pages are listed once each, in order, inside RAM."""
    previous = -1
    for index in indexes:
        if index <= previous or index >= npages:
            return index
        previous = index
    return None


def inflate_pages(compressed, count):
    """The `count` pages zlib-compressed in `compressed`, or None when it does
    not inflate to exactly that many bytes with nothing after the stream;
    zlib.error when it is not zlib data."""
    decompressor = zlib.decompressobj()
    want = count * PAGE_SIZE
    data = decompressor.decompress(compressed, want)
    if len(data) != want or not decompressor.eof or decompressor.unconsumed_tail \
            or decompressor.unused_data:
        return None
    return data


# -- the container -----------------------------------------------------------


def write(path, sections):
    """Write `sections` ([(tag, payload bytes)]) with header and checksum;
    the file appears whole (written beside it, then renamed over it)."""
    import os
    parts = [_HEADER.pack(MAGIC, FORMAT_VERSION, len(sections))]
    for tag, payload in sections:
        parts.append(_SECTION.pack(tag, len(payload)))
        parts.append(payload)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    parts.append(_TRAILER_TAG + digest.digest())
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as f:
        for part in parts:
            f.write(part)
    os.replace(temporary, path)
    return digest.hexdigest()


def read(path):
    """-> ({tag: payload}, hex digest). Raises SnapshotError for anything
    that is not a whole, intact snapshot of this format version."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise SnapshotError(f"{path}: {error.strerror or error}") from None
    if len(data) < _HEADER.size or data[:len(MAGIC)] != MAGIC:
        raise SnapshotError(f"{path}: not a pyvmm snapshot (bad magic)")
    _, version, count = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise SnapshotError(f"{path}: snapshot format version {version}, this pyvmm reads "
                            f"version {FORMAT_VERSION}")
    if len(data) < _HEADER.size + _TRAILER_SIZE:
        raise SnapshotError(f"{path}: truncated snapshot")
    body, trailer = data[:-_TRAILER_SIZE], data[-_TRAILER_SIZE:]
    if trailer[:4] != _TRAILER_TAG:
        raise SnapshotError(f"{path}: truncated snapshot (no checksum trailer)")
    digest = hashlib.sha256(body).digest()
    if digest != trailer[4:]:
        raise SnapshotError(f"{path}: corrupt snapshot (checksum mismatch)")
    if count > _MAX_SECTIONS:
        raise SnapshotError(f"{path}: corrupt snapshot ({count} sections)")
    sections = {}
    offset = _HEADER.size
    for _ in range(count):
        if offset + _SECTION.size > len(body):
            raise SnapshotError(f"{path}: corrupt snapshot (section header past the end)")
        tag, length = _SECTION.unpack_from(body, offset)
        offset += _SECTION.size
        if length > len(body) - offset:
            raise SnapshotError(f"{path}: corrupt snapshot (section {tag!r} past the end)")
        if tag in sections:
            raise SnapshotError(f"{path}: corrupt snapshot (two {tag!r} sections)")
        sections[tag] = body[offset:offset + length]
        offset += length
    if offset != len(body):
        raise SnapshotError(f"{path}: corrupt snapshot (bytes after the last section)")
    for tag in (b"META", b"STAT", b"RAM\0"):
        if tag not in sections:
            raise SnapshotError(f"{path}: corrupt snapshot (no {tag.decode().strip(chr(0))} section)")
    return sections, digest.hex()


def page_digests(pages):
    """{index: SHA-256 of the page} for comparing against a later state."""
    return {index: hashlib.sha256(data).digest() for index, data in pages}

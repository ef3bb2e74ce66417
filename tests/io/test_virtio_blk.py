"""virtio-blk against a temporary raw image: read, write, flush, GET_ID,
read-only and snapshot drives, error statuses and bad files."""

import os

import pytest

from pyvmm.io.options import OptionError
from pyvmm.io.virtio import mmio
from pyvmm.io.virtio.blk import (VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR,
                                 VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH,
                                 VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk)
from pyvmm.io.virtio.device import DEVICE_NEEDS_RESET
from virtio_driver import DATA_AREA, Driver

SECTORS = 64
HEADER_AT = DATA_AREA
BUFFER_AT = DATA_AREA + 0x1000
STATUS_AT = DATA_AREA + 0x100


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(range(256)) * (SECTORS * 2))
    return path


def request(driver, kind, sector=0, out=b"", in_len=0, indirect=False):
    """Post one request; returns (status, used length, data read)."""
    memory = driver.memory
    memory.write(HEADER_AT, kind.to_bytes(4, "little") + bytes(4) + sector.to_bytes(8, "little"))
    memory.fill(STATUS_AT, 1, 0xFF)
    buffers = [(HEADER_AT, 16, False)]
    if out:
        memory.write(BUFFER_AT, out)
        buffers.append((BUFFER_AT, len(out), False))
    if in_len:
        buffers.append((BUFFER_AT, in_len, True))
    buffers.append((STATUS_AT, 1, True))
    ring = driver.rings[0]
    head = ring.add_chain(buffers, indirect_at=DATA_AREA + 0x800 if indirect else None)
    driver.kick(0)
    [(used_head, written)] = ring.take_used()
    assert used_head == head
    return memory.read(STATUS_AT, 1)[0], written, memory.read(BUFFER_AT, in_len)


def start(path, **options):
    device = VirtioBlk(str(path), **options)
    return Driver(device).start()


def test_config_and_features(image):
    driver = start(image)
    t = driver.transport
    assert t.read(0x100, 4) | (t.read(0x104, 4) << 32) == SECTORS
    assert t.read(0x100 + 20, 4) == 512                 # blk_size
    assert t.read(0x100 + 12, 4) == 254                 # seg_max
    assert driver.device_features() & VIRTIO_BLK_F_FLUSH
    assert not driver.device_features() & VIRTIO_BLK_F_RO


@pytest.mark.parametrize("indirect", [False, True])
def test_read(image, indirect):
    driver = start(image)
    status, written, data = request(driver, VIRTIO_BLK_T_IN, sector=2, in_len=1024, indirect=indirect)
    assert status == VIRTIO_BLK_S_OK
    assert written == 1025
    assert data == image.read_bytes()[1024:2048]
    assert driver.memory.guards_intact()


def test_write_reaches_file_and_flush(image):
    driver = start(image)
    payload = b"\x5A" * 512 + b"\xC3" * 512
    status, written, _ = request(driver, VIRTIO_BLK_T_OUT, sector=10, out=payload)
    assert (status, written) == (VIRTIO_BLK_S_OK, 1)
    assert request(driver, VIRTIO_BLK_T_FLUSH)[0] == VIRTIO_BLK_S_OK
    assert image.read_bytes()[5120:6144] == payload
    driver.device.close()


def test_get_id(image):
    driver = start(image, serial="pyvmm-disk-0")
    status, written, data = request(driver, VIRTIO_BLK_T_GET_ID, in_len=20)
    assert status == VIRTIO_BLK_S_OK
    assert data[:13] == b"pyvmm-disk-0\0"
    long = start(image, serial="x" * 30)
    assert request(long, VIRTIO_BLK_T_GET_ID, in_len=20)[2] == b"x" * 20


@pytest.mark.parametrize("sector,length", [(SECTORS, 512), (SECTORS - 1, 1024), (2**64 - 1, 512), (0, 100)])
def test_bad_ranges_are_ioerr(image, sector, length):
    driver = start(image)
    assert request(driver, VIRTIO_BLK_T_IN, sector=sector, in_len=length)[0] == VIRTIO_BLK_S_IOERR
    assert request(driver, VIRTIO_BLK_T_OUT, sector=sector, out=b"\1" * length)[0] == VIRTIO_BLK_S_IOERR
    assert driver.device.stats()["errors"] == 2


def test_unknown_type_is_unsupp(image):
    assert request(start(image), 11, in_len=0)[0] == VIRTIO_BLK_S_UNSUPP


def test_readonly(image):
    before = image.read_bytes()
    driver = start(image, readonly=True)
    assert driver.device_features() & VIRTIO_BLK_F_RO
    assert request(driver, VIRTIO_BLK_T_OUT, sector=0, out=b"\xFF" * 512)[0] == VIRTIO_BLK_S_IOERR
    assert request(driver, VIRTIO_BLK_T_IN, sector=0, in_len=512)[0] == VIRTIO_BLK_S_OK
    driver.device.close()
    assert image.read_bytes() == before


def test_snapshot_overlays_writes_and_leaves_file(image):
    before = image.read_bytes()
    driver = start(image, snapshot=True)
    assert request(driver, VIRTIO_BLK_T_OUT, sector=3, out=b"\x11" * 1024)[0] == VIRTIO_BLK_S_OK
    status, _, data = request(driver, VIRTIO_BLK_T_IN, sector=2, in_len=2048)
    assert status == VIRTIO_BLK_S_OK
    assert data == before[1024:1536] + b"\x11" * 1024 + before[2560:3072]
    assert request(driver, VIRTIO_BLK_T_FLUSH)[0] == VIRTIO_BLK_S_OK
    driver.device.close()
    assert image.read_bytes() == before


def test_missing_header_needs_reset(image):
    driver = start(image)
    driver.rings[0].add_chain([(HEADER_AT, 8, False), (STATUS_AT, 1, True)])
    driver.kick(0)
    assert driver.r(mmio.STATUS) & DEVICE_NEEDS_RESET


def test_bad_files(tmp_path):
    with pytest.raises(OptionError, match="nothere.img"):
        VirtioBlk(str(tmp_path / "nothere.img"))
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    with pytest.raises(OptionError, match="odd.img.*multiple of 512"):
        VirtioBlk(str(odd))


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file; permission errors cannot be provoked")
    locked = tmp_path / "locked.img"
    locked.write_bytes(bytes(512))
    locked.chmod(0)
    with pytest.raises(OptionError, match="locked.img"):
        VirtioBlk(str(locked))


def test_write_with_more_pieces_than_iov_max(image):
    """A VM's guest RAM is scattered page by page; a transfer in more than
    IOV_MAX pieces still reaches the file whole."""
    from pyvmm.io.virtio.blk import BlockBackend

    backend = BlockBackend(str(image))
    data = bytes(range(256)) * 2 * 6
    pieces = [memoryview(data)[i:i + 2] for i in range(0, len(data), 2)]
    assert len(pieces) > 1024
    backend.write_from(pieces, 512)
    out = bytearray(len(data))
    backend.read_into([memoryview(out)[i:i + 2] for i in range(0, len(out), 2)], 512)
    backend.close()
    assert bytes(out) == data
    assert image.read_bytes()[512:512 + len(data)] == data

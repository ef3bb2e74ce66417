"""The migration stream, Xen's rate and stop rules, and pre-copy in one
process: a machine migrated through a byte buffer continues as the
uninterrupted one; device DMA is in the dirty log; a stream is refused
before anything is built."""

import hashlib
import io
import os

import pytest

from pyvmm.machine.machine import Machine
from pyvmm.migration import precopy, stream
from pyvmm.migration.board import BoardGuest, build_board, check_config
from pyvmm.migration.destination import receive
from pyvmm.migration.stream import MigrationError

from migration_support import GUESTS

DIRTY = os.path.join(GUESTS, "lifecycle", "dirty.S")


def test_rate_follows_the_dirtying_rate_plus_fifty_between_the_bounds():
    ips = 100_000_000
    # 512 pages (16.8 Mbit) in 0.1 modeled seconds: 167 Mbit/s dirtied
    assert precopy.next_rate(512, ips // 10, ips) == 167 + 50
    assert precopy.next_rate(0, ips, ips) == 100           # never below the minimum
    assert precopy.next_rate(100_000, ips // 100, ips) == 500
    assert precopy.link_insns(32768, 100, ips) == 32768     # a page at 100 Mbit/s


@pytest.mark.parametrize("number,dirtied,sent,rule", [
    (1, 49, 10, "few-dirty"), (1, 50, 10, None), (29, 500, 10, "iterations"),
    (28, 500, 10, None), (5, 500, 3 * 2048, "sent-3x-ram"), (5, 500, 3 * 2048 - 1, None)])
def test_stop_rules(number, dirtied, sent, rule):
    assert precopy.stop_rule(number, dirtied, sent, 2048) == rule


def _reader(data):
    source = io.BytesIO(data)
    return stream.StreamReader(source.read)


def test_stream_round_trip_and_digest():
    out = bytearray()
    writer = stream.StreamWriter(out.extend)
    writer.json(stream.CONF, {"kind": "machine", "n": (1, 2)})
    writer.round(1)
    writer.pages([(3, b"\1" * 4096), (7, bytes(4096))])
    writer.end()
    reader = _reader(bytes(out))
    assert reader.record() == (stream.CONF, stream.snapfile.dumps({"kind": "machine", "n": (1, 2)}))
    assert stream.parse_round(reader.record()[1]) == 1
    pages = stream.parse_pages(reader.record()[1], 8)
    assert [(i, bytes(p)) for i, p in pages] == [(3, b"\1" * 4096), (7, bytes(4096))]
    assert reader.record()[0] == stream.END
    assert reader.bytes == writer.bytes == len(out)
    with pytest.raises(MigrationError, match="outside RAM"):
        stream.parse_pages(_page_payload(), 7)


def _page_payload():
    out = bytearray()
    writer = stream.StreamWriter(out.extend)
    writer.pages([(7, bytes(4096))])
    return bytes(out[12 + 8:])


def test_a_flipped_bit_anywhere_is_caught():
    out = bytearray()
    writer = stream.StreamWriter(out.extend)
    writer.json(stream.CONF, {"a": 1})
    writer.end()
    for at in range(len(out)):
        data = bytearray(out)
        data[at] ^= 1
        with pytest.raises(MigrationError):
            reader = _reader(bytes(data))
            while reader.record()[0] != stream.END:
                continue        # every record is checked as it is read


def test_config_checks():
    conf = {"kind": "machine", "ram_base": 0x8000_0000, "ram_size": 8 << 20, "page_size": 4096,
            "options": {"ram_size": 8 << 20, "smp": 2, "bios": "none"}}
    check_config(conf, {"ram_size": 8 << 20, "smp": 2})
    with pytest.raises(MigrationError, match="2 harts, this destination expects 1 harts"):
        check_config(conf, {"smp": 1})
    with pytest.raises(MigrationError, match="configuration mismatch: the stream carries a 'vm'"):
        check_config(dict(conf, kind="vm"), {})
    with pytest.raises(MigrationError, match="pages of 65536 bytes"):
        check_config(dict(conf, page_size=65536), {})


def test_device_dma_and_balloon_discards_are_in_the_dirty_log():
    with Machine(ram_size=1 << 20) as machine:
        machine.core.dirty_log_start()
        machine.memory.write(0x8000_5000 - 2, b"dma!")           # a device's write, two pages
        machine.memory.fill(0x8000_9000, 10)
        assert list(machine.core.dirty_log_fetch()) == [4, 5, 9]
        machine.memory.write(0x8000_c000, b"\xff" * 4096)
        machine.core.dirty_log_fetch()
        machine.memory.discard(0x8000_c000, 4096)                 # a page the balloon gave back
        assert list(machine.core.dirty_log_fetch()) == [12]
        assert machine.core.read_mem(0x8000_c000, 4096) == bytes(4096)


def test_precopy_through_a_buffer_continues_the_guest_exactly():
    reference = io.BytesIO()
    with Machine(ram_size=8 << 20, console=reference) as machine:
        machine.load(DIRTY)
        machine.run()
        want_instret = machine.stats()["instret"]
        want_ram = hashlib.sha256(memoryview(machine.core.ram_buffer)).hexdigest()

    before = io.BytesIO()
    wire = bytearray()
    with Machine(ram_size=8 << 20, console=before) as machine:
        machine.load(DIRTY)
        machine.run(3_000_000)
        sender = precopy.PreCopy(BoardGuest(machine), stream.StreamWriter(wire.extend))
        report = sender.run()
        ram_at_pause = bytes(memoryview(machine.core.ram_buffer))
    assert report["stop_rule"] == "sent-3x-ram"
    assert report["bytes"] == len(wire)

    # a cut anywhere before the END record: refused, nothing to build
    for cut in (len(wire) // 3, len(wire) - 1):
        with pytest.raises(MigrationError, match="truncated"):
            receive(_reader(bytes(wire[:cut])), lambda conf: None)

    incoming = receive(_reader(bytes(wire)), lambda conf: check_config(conf, {}))
    assert incoming.pages_per_round == report["pages_per_round"]
    after = io.BytesIO()
    with build_board(incoming.conf, incoming.state, incoming.pages, console=after) as machine:
        assert bytes(memoryview(machine.core.ram_buffer)) == ram_at_pause
        machine.run()
        assert machine.stats()["instret"] == want_instret
        assert hashlib.sha256(memoryview(machine.core.ram_buffer)).hexdigest() == want_ram
    assert before.getvalue() + after.getvalue() == reference.getvalue()

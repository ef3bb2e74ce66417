"""Receiving a migration: the whole stream is read and verified (framing,
record order, every page record, the configuration, the END digest) before
a machine is built from it. Pages are staged, not applied: a stream that
breaks off, is corrupt or is of another version leaves nothing behind."""

import time

from pyvmm.migration import stream
from pyvmm.migration.stream import MigrationError


class Incoming:
    """A complete, verified stream: conf, state, pages ({index: bytes}), the
    source's report and what this side saw (rounds, bytes, host times)."""

    def __init__(self):
        self.conf = None
        self.state = None
        self.pages = {}
        self.source_report = None
        self.pages_per_round = []
        self.stop_copy_pages = 0
        self.bytes = 0
        self.stop_received = None     # perf_counter when the guest paused at the source


def receive(reader, check_config):
    """Read a whole stream from `reader` (stream.StreamReader);
    `check_config(conf)` refuses a machine this side will not build."""
    incoming = Incoming()
    tag, payload = reader.record()
    if tag == stream.CNCL:
        raise MigrationError(f"the source cancelled the migration: {payload.decode(errors='replace')}")
    if tag != stream.CONF:
        raise MigrationError(f"corrupt migration stream ({tag!r} before the configuration)")
    incoming.conf = stream.load_json(payload, "CONF")
    check_config(incoming.conf)
    npages = incoming.conf["ram_size"] // stream.PAGE_SIZE
    phase = "precopy"           # -> "stopped" at STOP -> "state" at STAT
    while True:
        tag, payload = reader.record()
        if tag == stream.CNCL:
            raise MigrationError("the source cancelled the migration: "
                                 f"{payload.decode(errors='replace')}")
        if tag == stream.ROND and phase == "precopy":
            number = stream.parse_round(payload)
            if number != len(incoming.pages_per_round) + 1:
                raise MigrationError(f"corrupt migration stream (round {number} out of order)")
            incoming.pages_per_round.append(0)
        elif tag == stream.PAGE and phase in ("precopy", "stopped") and incoming.pages_per_round:
            pages = stream.parse_pages(payload, npages)
            incoming.pages.update(pages)
            if phase == "precopy":
                incoming.pages_per_round[-1] += len(pages)
            else:
                incoming.stop_copy_pages += len(pages)
        elif tag == stream.STOP and phase == "precopy" and incoming.pages_per_round:
            incoming.stop_received = time.perf_counter()
            incoming.source_report = stream.load_json(payload, "STOP")
            if not isinstance(incoming.source_report, dict):
                raise MigrationError("corrupt migration stream (the STOP record is not a mapping)")
            phase = "stopped"
        elif tag == stream.STAT and phase == "stopped":
            incoming.state = stream.load_json(payload, "STAT")
            if not isinstance(incoming.state, dict):
                raise MigrationError("corrupt migration stream (the state is not a mapping)")
            phase = "state"
        elif tag == stream.END and phase == "state":
            incoming.bytes = reader.bytes
            return incoming
        else:
            raise MigrationError(f"corrupt migration stream ({tag.decode(errors='replace').strip(chr(0))} "
                                 f"record where it cannot be)")

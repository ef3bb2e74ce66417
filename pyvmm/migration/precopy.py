"""Pre-copy, Xen's way (Clark et al. 2005; xc_domain_save's defaults).

Round 1 sends every page that is not all zeros while the guest runs; each
following round sends the pages the dirty log caught during the previous
one. Iterating stops after a round that dirtied fewer than 50 pages, after
29 rounds, or once three times the guest's RAM has been sent; then the
guest pauses and the pages still dirty go with its state (stop-and-copy).

The link is modeled in guest time, so a migration is the same on every run:
the guest runs in slices of SLICE_INSNS instructions and after each slice
the source may send what the round's rate allows in that slice (a 4 KiB
page costs 32768 bits; one modeled second is `insns_per_second` guest
instructions, the board's 10 MHz timebase at 10 instructions a tick). Round
1 goes at 100 Mbit/s; each later round at the previous round's dirtying
rate plus 50 Mbit/s, kept between 100 and 500 Mbit/s; the stop-and-copy
part at 500 Mbit/s. Host milliseconds are measured beside the model.

The guest is anything with the small interface `MigratingGuest` below;
`pyvmm.migration.board.BoardGuest` gives it for the bare board.
"""

import time
from typing import Protocol, Sequence

from pyvmm.migration import stream

SLICE_INSNS = 16384             # guest instructions between two chances to send
PAGE_BITS = 4096 * 8
RATE_START_MBIT = 100           # Xen: the first round's rate
RATE_MIN_MBIT = 100
RATE_MAX_MBIT = 500             # Xen: never above it; also the stop-and-copy rate
RATE_MARGIN_MBIT = 50           # Xen: a round goes this much faster than the guest dirtied
MAX_ITERATIONS = 29             # Xen's DEF_MAX_ITERS
MAX_FACTOR = 3                  # Xen's DEF_MAX_FACTOR: at most 3x the guest's pages
FEW_DIRTY = 50                  # fewer dirtied pages than this: stop iterating
PAGES_PER_RECORD = 1024

STOP_FEW_DIRTY = "few-dirty"
STOP_ITERATIONS = "iterations"
STOP_SENT_FACTOR = "sent-3x-ram"


class MigratingGuest(Protocol):
    """What pre-copy needs of a guest (a board, or later a VM)."""

    num_pages: int              # RAM pages of 4 KiB
    insns_per_second: int       # guest instructions in one modeled second

    def config(self) -> dict:
        """The CONF record: kind, ram_base, ram_size, page_size, options."""

    def nonzero_pages(self) -> Sequence[int]:
        """Indexes of the pages that are not all zeros, increasing."""

    def page(self, index: int) -> memoryview:
        """The 4 KiB of page `index` as they are now."""

    def dirty_log_start(self) -> None: ...

    def dirty_log_fetch(self) -> Sequence[int]:
        """Pages written since the start or the last fetch, increasing; clears."""

    def dirty_log_stop(self) -> None: ...

    def run(self, insns: int):
        """Run `insns` more guest instructions: None while the guest goes
        on, else its run result (it stopped on its own)."""

    def guest_insns(self) -> int:
        """The guest's clock: instructions retired so far."""

    def final_state(self):
        """Everything but RAM, as tagged-JSON data; the guest is paused."""


def next_rate(dirtied, guest_insns, insns_per_second):
    """Mbit/s of the next round: this round's dirtying rate plus the margin,
    between the minimum and the maximum (integers: the same on every host)."""
    if guest_insns <= 0:
        return RATE_MAX_MBIT
    dirty_mbit = dirtied * PAGE_BITS * insns_per_second // (guest_insns * 1_000_000)
    return max(RATE_MIN_MBIT, min(RATE_MAX_MBIT, dirty_mbit + RATE_MARGIN_MBIT))


def stop_rule(round_number, dirtied, pages_sent, num_pages):
    """Why iterating stops after this round, or None to go on."""
    if dirtied < FEW_DIRTY:
        return STOP_FEW_DIRTY
    if round_number >= MAX_ITERATIONS:
        return STOP_ITERATIONS
    if pages_sent >= MAX_FACTOR * num_pages:
        return STOP_SENT_FACTOR
    return None


def link_insns(bits, rate_mbit, insns_per_second):
    """Guest instructions the modeled link needs for `bits` at `rate_mbit`."""
    return -(-bits * insns_per_second // (rate_mbit * 1_000_000))


class GuestStopped(Exception):
    """The guest stopped on its own during pre-copy; .result is its RunResult."""

    def __init__(self, result):
        super().__init__(f"the guest stopped ({result.how}) during the migration")
        self.result = result


class PreCopy:
    """The sending side: `guest` (a MigratingGuest) onto `writer`
    (a stream.StreamWriter); `progress(line)` hears one line per round."""

    def __init__(self, guest, writer, progress=None, slice_insns=SLICE_INSNS):
        self.guest = guest
        self.writer = writer
        self.progress = progress or (lambda line: None)
        self.slice_insns = slice_insns
        self.rounds = []
        self.pages_sent = 0
        self.stop_rule = None
        self.report = None

    def _send(self, pages, level=stream.ZLIB_LEVEL):
        for start in range(0, len(pages), PAGES_PER_RECORD):
            chunk = pages[start:start + PAGES_PER_RECORD]
            self.writer.pages([(index, self.guest.page(index)) for index in chunk], level)

    def _round(self, pages, rate_mbit):
        """Send `pages` at the modeled rate while the guest runs; returns the
        guest instructions the round took."""
        guest, ips = self.guest, self.guest.insns_per_second
        page_cost = PAGE_BITS * ips                 # in bit-instructions
        per_slice = rate_mbit * 1_000_000 * self.slice_insns
        credit = 0
        sent = 0
        started = guest.guest_insns()
        while sent < len(pages):
            result = guest.run(self.slice_insns)
            if result is not None:
                raise GuestStopped(result)
            credit += per_slice
            take = min(credit // page_cost, len(pages) - sent)
            credit -= take * page_cost
            if take:
                self._send(pages[sent:sent + take])
                sent += take
        return guest.guest_insns() - started

    def run(self):
        """Migrate: pre-copy rounds, then stop-and-copy. Returns the report;
        the guest is left paused (the destination runs it from here)."""
        guest, writer = self.guest, self.writer
        ips = guest.insns_per_second
        host_started = time.perf_counter()
        insns_started = guest.guest_insns()
        writer.json(stream.CONF, guest.config())
        guest.dirty_log_start()
        pages = list(guest.nonzero_pages())
        rate = RATE_START_MBIT
        number = 1
        while True:
            writer.round(number)
            took = self._round(pages, rate)
            dirty = list(guest.dirty_log_fetch())
            self.pages_sent += len(pages)
            self.rounds.append({"round": number, "pages": len(pages), "rate_mbit": rate,
                                "guest_insns": took, "dirtied": len(dirty)})
            self.progress(f"migration round {number}: {len(pages)} pages at {rate} Mbit/s "
                          f"(modeled) in {took:,} guest instructions, {len(dirty)} dirtied")
            self.stop_rule = stop_rule(number, len(dirty), self.pages_sent, guest.num_pages)
            if self.stop_rule is not None:
                break
            rate = next_rate(len(dirty), took, ips)
            pages = dirty
            number += 1
        # stop-and-copy: the guest runs no more here
        paused_host = time.perf_counter()
        # The state is taken while the log still runs: taking it may finish
        # an instruction the guest was inside (a VM's binary translation),
        # and what that writes goes with the stop-and-copy pages.
        state = stream.snapfile.dumps(guest.final_state())
        late = guest.dirty_log_fetch()
        if len(late):
            dirty = sorted(set(dirty).union(late))
        guest.dirty_log_stop()
        state_bytes = len(state)
        downtime_insns = link_insns(len(dirty) * PAGE_BITS + 8 * state_bytes, RATE_MAX_MBIT, ips)
        self.report = {
            "rounds": len(self.rounds),
            "pages_per_round": [r["pages"] for r in self.rounds],
            "dirtied_per_round": [r["dirtied"] for r in self.rounds],
            "rate_mbit_per_round": [r["rate_mbit"] for r in self.rounds],
            "guest_insns_per_round": [r["guest_insns"] for r in self.rounds],
            "stop_rule": self.stop_rule,
            "precopy_pages": self.pages_sent,
            "stop_copy_pages": len(dirty),
            "state_bytes": state_bytes,
            "paused_at_insn": guest.guest_insns(),
            "precopy_guest_insns": guest.guest_insns() - insns_started,
            "downtime_guest_insns": downtime_insns,
            "total_guest_insns": guest.guest_insns() - insns_started + downtime_insns,
            "insns_per_second": ips,
        }
        writer.json(stream.STOP, self.report)
        self._send(dirty, stream.ZLIB_STORED)
        writer.record(stream.STAT, state)
        writer.end()
        self.report["bytes"] = writer.bytes
        self.report["precopy_host_ms"] = round((paused_host - host_started) * 1000, 3)
        self._paused_host = paused_host
        self._host_started = host_started
        return self.report

    def resumed(self):
        """The destination answered RESUMED: complete the report's host times."""
        now = time.perf_counter()
        self.report["downtime_host_ms"] = round((now - self._paused_host) * 1000, 3)
        self.report["total_host_ms"] = round((now - self._host_started) * 1000, 3)
        return self.report

"""The bare board as a migrating guest, and its rebuilding at the destination.

`BoardGuest` gives `pyvmm.migration.precopy` what it needs of a Machine: its
configuration, its RAM pages, the core's dirty log (shared by every hart;
device DMA and firmware writes mark it through the core), slices of guest
time and the final state (`pyvmm.machine.snapshot.machine_state`, what a
snapshot's STAT holds). `build_board` makes a Machine from a verified
stream the way `Machine.restore` makes one from a snapshot file.
"""

from pyvmm.machine import snapshot
from pyvmm.machine.layout import RAM_BASE, TIMEBASE_FREQ
from pyvmm.machine.snapfile import PAGE_SIZE, SnapshotError
from pyvmm.migration.stream import MigrationError

MAX_SMP = 8
MAX_RAM = 64 << 30


class BoardGuest:
    """A booted Machine seen by the pre-copy sender."""

    kind = snapshot.KIND_MACHINE

    def __init__(self, machine):
        self.machine = machine
        self.core = machine.core
        self.num_pages = machine.ram_size // PAGE_SIZE
        self._ram = memoryview(machine.core.ram_buffer).cast("B")
        import numpy    # noqa: F401  (nonzero_pages scans with it: loaded before the clock runs)
        # one modeled second of guest time: mtime's 10 MHz at insns_per_tick instructions a tick
        self.insns_per_second = TIMEBASE_FREQ * machine.core.insns_per_tick

    def config(self):
        return {"kind": self.kind, "ram_base": self.machine.ram_base,
                "ram_size": self.machine.ram_size, "page_size": PAGE_SIZE,
                "options": snapshot.machine_options(self.machine)}

    def nonzero_pages(self):
        return [index for index, _ in snapshot.nonzero_pages(self._ram)]

    def page(self, index):
        return self._ram[index * PAGE_SIZE:(index + 1) * PAGE_SIZE]

    def dirty_log_start(self):
        self.core.dirty_log_start()

    def dirty_log_fetch(self):
        return self.core.dirty_log_fetch()

    def dirty_log_stop(self):
        if self.core.dirty_logging:
            self.core.dirty_log_stop()

    def guest_insns(self):
        return self.machine.harts.now

    def run(self, insns):
        """Run `insns` more; None while the guest goes on, else its RunResult."""
        result = self.machine.run(insns)
        return None if result.how == "budget" else result

    def final_state(self):
        return snapshot.machine_state(self.machine)[1]


def check_config(conf, expected):
    """Refuse a configuration this side cannot build or that differs from
    what the destination's own options (`expected`: {"ram_size", "smp",
    "bios"}, each optional) say."""
    if not isinstance(conf, dict) or not isinstance(conf.get("options"), dict):
        raise MigrationError("corrupt migration stream (no machine configuration)")
    if conf.get("kind") != snapshot.KIND_MACHINE:
        raise MigrationError(f"configuration mismatch: the stream carries a {conf.get('kind')!r}, "
                             "this destination builds a bare board (machine)")
    options = conf["options"]
    ram_size, smp = conf.get("ram_size"), options.get("smp")
    if conf.get("page_size") != PAGE_SIZE:
        raise MigrationError(f"configuration mismatch: pages of {conf.get('page_size')} bytes, "
                             f"this pyvmm's are {PAGE_SIZE}")
    if conf.get("ram_base") != RAM_BASE:
        raise MigrationError(f"configuration mismatch: RAM at {conf.get('ram_base')}, "
                             f"this board's is at {RAM_BASE:#x}")
    if not isinstance(ram_size, int) or ram_size <= 0 or ram_size % PAGE_SIZE or ram_size > MAX_RAM:
        raise MigrationError(f"configuration mismatch: RAM of {ram_size} bytes")
    if options.get("ram_size") != ram_size:
        raise MigrationError("corrupt migration stream (two RAM sizes in the configuration)")
    if not isinstance(smp, int) or not 1 <= smp <= MAX_SMP:
        raise MigrationError(f"configuration mismatch: {smp} harts (this board has 1..{MAX_SMP})")
    for name, what in (("ram_size", "RAM of {} bytes"), ("smp", "{} harts"), ("bios", "--bios {}")):
        want = expected.get(name)
        have = ram_size if name == "ram_size" else options.get(name)
        if want is not None and want != have:
            raise MigrationError(f"configuration mismatch: the stream's machine has "
                                 f"{what.format(have)}, this destination expects "
                                 f"{what.format(want)}")


def build_board(conf, state, pages, **host):
    """A new Machine from a verified stream: configuration, final state and
    RAM pages ({index: bytes}; every other page is zero)."""
    meta = {"kind": conf["kind"], "options": conf["options"]}
    try:
        return snapshot.machine_from_image(meta, state, conf["ram_base"], conf["ram_size"], pages,
                                           "the stream", **host)
    except SnapshotError as error:
        raise MigrationError(str(error)) from None

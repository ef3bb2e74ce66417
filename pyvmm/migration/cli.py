"""`pyvmm run IMAGE --migrate tcp:HOST:PORT --migrate-at N` (the source) and
`pyvmm run --incoming tcp:HOST:PORT` (the destination): the command line
around `precopy` and `destination`.

The source runs the guest for N instructions, then migrates it. When the
destination answers that it runs the guest, the source says so on stderr
and exits 0. When the connection breaks or the destination disappears
first, the source says so in one line and runs the guest on to its normal
end: nothing is lost, its output and state are those of a run that never
migrated (the dirty log and the page sends do not touch the guest).
"""

import contextlib
import hashlib
import sys
import time

from pyvmm.migration import precopy, stream, transport
from pyvmm.migration.board import BoardGuest, build_board, check_config
from pyvmm.migration.destination import receive
from pyvmm.migration.stream import MigrationError

ACK_TIMEOUT = 120.0         # seconds the source waits for RESUMED after the END record


def _say(line):
    print(f"pyvmm run: {line}", file=sys.stderr, flush=True)


def migrate(guest, address, slice_insns=precopy.SLICE_INSNS):
    """Migrate `guest` (a BoardGuest or a VMGuest) to `address` ('tcp:HOST:PORT'). Returns
    the report when the destination runs the guest; raises MigrationError
    (the guest here is intact and may run on) when it does not, and
    precopy.GuestStopped when the guest stopped on its own first."""
    host, port = transport.parse_address(address, "--migrate")
    sock = transport.connect(host, port)
    try:
        writer = stream.StreamWriter(sock.sendall)
        sender = precopy.PreCopy(guest, writer, progress=_say, slice_insns=slice_insns)
        try:
            sender.run()
        except precopy.GuestStopped as stopped:
            # If the destination is gone too, the guest's own end is what matters.
            with contextlib.suppress(OSError):
                writer.record(stream.CNCL, str(stopped).encode())
            raise
        except OSError as error:
            raise MigrationError(f"the connection to {address} broke ({error.strerror or error})") from None
        finally:
            guest.dirty_log_stop()
        sock.settimeout(ACK_TIMEOUT)
        try:
            answer = transport.receiver(sock)(len(stream.RESUMED))
        except OSError as error:
            raise MigrationError(f"no answer from {address} ({error.strerror or error})") from None
        if answer != stream.RESUMED:
            raise MigrationError(f"the destination {address} did not take the guest over")
        return sender.resumed()
    finally:
        sock.close()


def run_source(machine, args, parse_count, usage_error):
    """--migrate for the bare board: run to --migrate-at, migrate, and exit 0
    once migrated; otherwise run the guest to its end here. Returns the exit
    status."""
    return _run_source(machine.run, lambda: BoardGuest(machine), machine.stats,
                       lambda: hashlib.sha256(memoryview(machine.core.ram_buffer)).hexdigest(),
                       args, parse_count, usage_error)


def run_vm_source(vm, args, parse_count, usage_error):
    """--migrate for a VM (`pyvmm run --technique T`): as for the board, the
    VM alone on its host. Returns the exit status."""
    from pyvmm.migration.vm import VMGuest, ram_sha256
    return _run_source(vm.run, lambda: VMGuest(vm), vm.stats, lambda: ram_sha256(vm),
                       args, parse_count, usage_error)


def _run_source(run, make_guest, stats_of, ram_sha256, args, parse_count, usage_error):
    from pyvmm.machine.run_control import run_stopped, stats_destination, write_stats
    if args.migrate_at is None:
        raise usage_error("--migrate needs --migrate-at N (instructions to run before migrating)")
    migrate_at = parse_count(args.migrate_at, "instruction count")
    if migrate_at < 0:
        raise usage_error("--migrate-at must not be negative")
    try:
        transport.parse_address(args.migrate, "--migrate")
    except ValueError as error:
        raise usage_error(str(error)) from None
    outcome = {}

    def body():
        result = run(migrate_at)
        if result.how != "budget":
            _say(f"the guest stopped ({result.how}) before --migrate-at; it was not migrated")
            return result
        guest = make_guest()
        try:
            outcome["report"] = migrate(guest, args.migrate)
            return None
        except precopy.GuestStopped as stopped:
            _say(f"{stopped}; it was not migrated")
            return stopped.result
        except MigrationError as error:
            _say(f"migration failed: {error}; the guest runs on here")
            outcome["failed"] = str(error)
        return run()

    result, stopped = run_stopped(body)
    destination = stats_destination(args)
    report = outcome.get("report")
    if report is not None:
        _say(f"the VM migrated to {args.migrate}: {report['rounds']} rounds, "
             f"{sum(report['pages_per_round']) + report['stop_copy_pages']} pages, "
             f"{report['bytes']:,} bytes, downtime {report['downtime_guest_insns']:,} guest "
             f"instructions ({report['downtime_host_ms']} ms on this host)")
    if destination is not None:
        stats = stats_of()
        if report is None:
            report = {"failed": outcome.get("failed"), "final_ram_sha256": ram_sha256()}
        stats["migration"] = report
        write_stats(stats, destination, stopped)
    if stopped is not None:
        return stopped[1]
    if "report" in outcome:
        return 0
    return result.status if 0 <= result.status <= 255 else 1


def check_incoming(conf, expected):
    """Refuse a stream's configuration this destination will not build: a
    bare board (pyvmm.migration.board) or a VM (pyvmm.migration.vm).
    `expected` holds what the destination's own options say ("ram_size",
    "smp", "bios", "technique", "paging", each optional)."""
    from pyvmm.migration.vm import KIND_VM, check_vm_config
    wants_vm = expected.get("technique") is not None or expected.get("paging") is not None
    if wants_vm or (isinstance(conf, dict) and conf.get("kind") == KIND_VM):
        check_vm_config(conf, expected)
    else:
        check_config(conf, {name: expected[name] for name in ("ram_size", "smp", "bios")
                            if name in expected})


class _IncomingBoard:
    """What the destination does with a migrated bare board."""

    def __init__(self, incoming, console, stdin):
        self.guest = build_board(incoming.conf, incoming.state, incoming.pages,
                                 console=console, stdin=stdin)

    def run(self, max_insns):
        return self.guest.run(max_insns)

    def ram_sha256(self):
        return hashlib.sha256(memoryview(self.guest.core.ram_buffer)).hexdigest()

    def stats(self):
        return self.guest.stats()

    def close(self):
        self.guest.close()


class _IncomingVM:
    """What the destination does with a migrated VM: a new Host with it alone."""

    def __init__(self, incoming, console, stdin):
        from pyvmm.migration.vm import build_migrated_vm
        self.guest = build_migrated_vm(incoming.conf, incoming.state, incoming.pages,
                                       console=console, stdin=stdin)

    def run(self, max_insns):
        return self.guest.run(max_insns)

    def ram_sha256(self):
        from pyvmm.migration.vm import ram_sha256
        return ram_sha256(self.guest)

    def stats(self):
        return self.guest.stats()

    def close(self):
        self.guest.close()
        if self.guest.error is not None:
            _say(f"{self.guest.name}: {self.guest.error}")


def run_incoming(args, console, stdin, max_insns, expected):
    """--incoming: wait for one migration, verify it whole, build the machine
    or the VM, answer RESUMED and run it. Returns the exit status; a refused
    stream is MigrationError (the caller's one line and status 2)."""
    from pyvmm.machine.run_control import run_stopped, stats_destination, write_stats
    from pyvmm.migration.vm import KIND_VM
    # what building the machine or VM needs, loaded now rather than while the guest is paused
    import pyvmm.hv.snapshot    # noqa: F401
    import pyvmm.io.options     # noqa: F401
    import pyvmm.machine.machine  # noqa: F401
    host, port = transport.parse_address(args.incoming, "--incoming")
    server = transport.listen(host, port)
    try:
        _say(f"waiting for a migration on tcp:{host}:{server.getsockname()[1]}")
        sock, _ = server.accept()
    finally:
        server.close()
    accepted = time.perf_counter()
    try:
        try:
            reader = stream.StreamReader(transport.receiver(sock))
            incoming = receive(reader, lambda conf: check_incoming(conf, expected))
        except OSError as error:
            raise MigrationError(f"the connection broke ({error.strerror or error})") from None
        kind = _IncomingVM if incoming.conf["kind"] == KIND_VM else _IncomingBoard
        target = kind(incoming, console, stdin)
        try:
            sock.sendall(stream.RESUMED)
        except OSError:
            pass        # the source left after its last byte: the guest is ours alone now
    finally:
        sock.close()
    resumed = time.perf_counter()
    report = dict(incoming.source_report)
    report.update({
        "received_bytes": incoming.bytes,
        "received_pages_per_round": incoming.pages_per_round,
        "received_stop_copy_pages": incoming.stop_copy_pages,
        "downtime_host_ms": round((resumed - incoming.stop_received) * 1000, 3),
        "total_host_ms": round((resumed - accepted) * 1000, 3),
    })
    _say(f"migration received: {report['rounds']} rounds, {incoming.bytes:,} bytes; "
         "the guest runs here")
    try:
        result, stopped = run_stopped(lambda: target.run(max_insns))
        destination = stats_destination(args)
        if destination is not None:
            stats = target.stats()
            report["final_ram_sha256"] = target.ram_sha256()
            stats["migration"] = report
            write_stats(stats, destination, stopped)
    finally:
        target.close()
    if stopped is not None:
        return stopped[1]
    return result.status if 0 <= result.status <= 255 else 1

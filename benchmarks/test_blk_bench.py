"""virtio-blk throughput: guests/devices/blk_bench.S on the board and in VMs.

    pytest benchmarks/test_blk_bench.py --benchmark-json blk.json
    python benchmarks/test_blk_bench.py [--disk-mib 8] [--rounds 3]   # a table

The guest (an S-mode kernel) reads a whole raw disk of pseudo-random bytes
through virtio-blk on virtio-mmio, one request of REQ_SIZE bytes in flight at
a time, polling the used ring, and prints the request count and a checksum
of everything it read. One benchmark per (configuration, request size,
variant):

    native        the kernel on the board under the built-in SBI (--bios builtin)
    hw-nested     in a VM, technique hw, G-stage tables (--technique hw)
    hw-shadow     in a VM, technique hw, shadow tables (--paging shadow)
    trap-emulate  in a VM, technique trap-emulate (shadow tables)

and the variants

    checksum      the guest folds every byte it reads into its checksum
                  (about 3.3 guest instructions per 8 bytes): the data consumed
    io            built with CHECKSUM=0, the guest never touches the data:
                  the I/O path alone (requests, exits, the device's copies)

Each round times only the run (the Machine or the Host and VM are built,
the guest assembled and loaded in the untimed setup; one warm-up round).
Every round checks the guest's line against the checksum and request count
computed here from the disk, the device's own count of requests and bytes,
and that the rounds of a case retire the same instructions and exits.

extra_info holds MB/s (disk bytes / median round, 10^6 bytes per second;
mb_per_s_best: / the fastest round),
the requests, MMIO exits per request and all exits per request (the guest's
register accesses, including the fixed cost of finding and setting up the
device, and its console output through SBI), the virtio notifications per
request and guest instructions per request. Natively an "exit" is a return
of the core's run loop to Python (`machine_exits` of `pyvmm run --stats`);
in a VM it is the VM's exit (`exits`).

PYVMM_BLK_BENCH_MIB sets the disk size in MiB (default 8),
PYVMM_BENCH_ROUNDS (default 3) the rounds. On a busy machine CPU time is
steadier than wall time: `--benchmark-timer time.thread_time` with pytest,
`--clock cpu` with the script. Configurations this tree cannot
run (no H extension in the core, no shadow paging) skip with the reason.
"""

import argparse
import os
import random
import statistics
import struct
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST = os.path.join(ROOT, "guests", "devices", "blk_bench.S")

ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
DISK_MIB = float(os.environ.get("PYVMM_BLK_BENCH_MIB", "8"))
RAM_SIZE = 128 << 20                # `pyvmm run`'s default
HOST_OVERHEAD = 32 << 20            # host RAM beyond the VM's, as `pyvmm run --technique`
DISK_SEED = 0x626c6b                # the disk's bytes are random.Random(DISK_SEED)
SECTOR = 512

# name -> (technique, paging); technique None: the board itself
CONFIGS = {
    "native": (None, None),
    "hw-nested": ("hw", "nested"),
    "hw-shadow": ("hw", "shadow"),
    "trap-emulate": ("trap-emulate", "shadow"),
}
REQUEST_SIZES = (4096, 65536)

CSUM_INIT = 0xcbf29ce484222325
CSUM_MUL = 0x100000001b3
MASK64 = (1 << 64) - 1


def checksum(data):
    """blk_bench.S's checksum: h = h * CSUM_MUL + w over the little-endian
    64-bit words w of the data, mod 2^64."""
    h = CSUM_INIT
    for (word,) in struct.iter_unpack("<Q", data):
        h = (h * CSUM_MUL + word) & MASK64
    return h


def expected_line(disk_bytes, request_size, data, verify=True):
    """The guest's line; verify=False: the CHECKSUM=0 build's."""
    requests = -(-disk_bytes // request_size)
    value = f"{checksum(data):#018x}" if verify else "off"
    return (f"blk_bench: {requests} requests of {request_size} bytes, {disk_bytes} bytes, "
            f"checksum {value}\n").encode()


def make_disk(directory, disk_bytes):
    """A raw image of `disk_bytes` pseudo-random bytes; returns (path, data)."""
    if disk_bytes <= 0 or disk_bytes % SECTOR:
        raise ValueError(f"the disk must be a positive number of {SECTOR}-byte sectors")
    data = random.Random(DISK_SEED).randbytes(disk_bytes)
    path = os.path.join(directory, f"blk-bench-{disk_bytes}.img")
    with open(path, "wb") as f:
        f.write(data)
    return path, data


def make_guest(directory, request_size, verify=True):
    """blk_bench.S with REQ_SIZE = request_size and CHECKSUM = verify (a
    wrapper that defines them and includes it)."""
    path = os.path.join(directory, f"blk_bench_{request_size}_{int(verify)}.S")
    with open(path, "w") as f:
        f.write(f"    .equ REQ_SIZE, {request_size}\n    .equ CHECKSUM, {int(verify)}\n"
                f"    .include \"{GUEST}\"\n")
    return path


def unavailable_reason(config):
    """None when this tree can run `config`; otherwise why not."""
    try:
        from pyvmm._core import Core
    except ImportError as exc:
        return f"the compiled core is not built ({exc})"
    technique, paging = CONFIGS[config]
    if technique is None:
        return None
    from pyvmm.hv import HvError, available_techniques, technique_entry
    if technique not in available_techniques():
        return f"technique {technique!r} is not registered in pyvmm.hv"
    try:
        technique_entry(technique)
    except (HvError, ImportError) as exc:
        return f"technique {technique!r} does not load ({exc})"
    if paging == "shadow":
        try:
            import pyvmm.hv.shadow  # noqa: F401
        except ImportError as exc:
            return f"shadow paging does not load ({exc})"
    if technique == "hw" and not hasattr(Core, "virt"):
        return "this build of the core has no H extension"
    return None


class Run:
    """One guest run, built (untimed) by __init__ and timed by run()."""

    def __init__(self, config, guest, disk):
        from pyvmm.machine.devices import DeviceConfig
        technique, paging = CONFIGS[config]
        devices = DeviceConfig(drives=[f"file={disk},format=raw,readonly=on"])
        self.config = config
        if technique is None:
            from pyvmm.machine import Machine
            self.target = Machine(ram_size=RAM_SIZE, bios="builtin", kernel=guest, devices=devices)
        else:
            from pyvmm.hv import Host
            host = Host(ram_size=RAM_SIZE + HOST_OVERHEAD)
            self.target = host.create_vm(ram_size=RAM_SIZE, paging=paging, technique=technique,
                                         devices=devices)
            self.target.load(guest)
        self.target.boot()          # the device tree and the hart's entry state
        self.native = technique is None
        self.seconds = None

    def run(self, clock=time.perf_counter):
        started = clock()
        self.result = self.target.run()
        self.seconds = clock() - started

    def figures(self):
        """The counters of the finished run: output, status, and per-request
        figures. Closes the drive."""
        self.target.close()
        stats = self.target.stats()
        output = self.target.uart_output if self.native else self.target.console_output
        exits = stats["machine_exits"] if self.native else stats["exits"]
        handled = sum(n for kind, n in exits.items() if kind != "budget")
        (device,) = [d for name, d in stats["devices"].items() if name.startswith("VirtioBlk")]
        requests = device["requests"]
        return {
            "output": output, "status": self.result.status, "how": self.result.how,
            "error": None if self.native else self.target.error,
            "device_requests": requests, "device_bytes_read": device["bytes_read"],
            "notifications": device["notifications"],
            "instret": stats["instret"], "mmio_exits": exits.get("mmio", 0), "exits": handled,
            "exits_by_kind": exits,
            "mmio_exits_per_request": round(exits.get("mmio", 0) / requests, 3) if requests else None,
            "exits_per_request": round(handled / requests, 3) if requests else None,
            "notifications_per_request": round(device["notifications"] / requests, 3) if requests else None,
            "insns_per_request": round(stats["instret"] / requests, 1) if requests else None,
        }


def check(figures, disk_bytes, request_size, data, verify=True):
    """Correctness of one run, independent of its timing."""
    assert figures["error"] is None, figures["error"]
    assert (figures["status"], figures["how"]) == (0, "sbi-shutdown"), figures["output"]
    assert figures["output"] == expected_line(disk_bytes, request_size, data, verify)
    assert figures["device_requests"] == -(-disk_bytes // request_size)
    assert figures["device_bytes_read"] == disk_bytes


def mb_per_s(disk_bytes, seconds):
    return round(disk_bytes / seconds / 1e6, 3)


# ------------------------------------------------------------------ pytest

DISK_BYTES = int(DISK_MIB * (1 << 20)) // SECTOR * SECTOR
VARIANTS = {"checksum": True, "io": False}
CASES = [(config, size, variant) for size in REQUEST_SIZES for config in CONFIGS
         for variant in VARIANTS]


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    directory = tmp_path_factory.mktemp("blk-bench")
    path, data = make_disk(str(directory), DISK_BYTES)
    return str(directory), path, data


@pytest.mark.parametrize("config, request_size, variant", CASES,
                         ids=[f"{config}-{size // 1024}k-{variant}" for config, size, variant in CASES])
def test_blk_throughput(benchmark, disk, config, request_size, variant):
    reason = unavailable_reason(config)
    if reason is not None:
        pytest.skip(f"{config}: {reason}")
    directory, path, data = disk
    verify = VARIANTS[variant]
    guest = make_guest(directory, request_size, verify)
    runs = []

    def setup():
        runs.append(Run(config, guest, path))
        return (runs[-1],), {}

    benchmark.group = f"virtio-blk {request_size // 1024} KiB requests, {variant}"
    benchmark.pedantic(Run.run, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    all_figures = [run.figures() for run in runs]
    for figures in all_figures:
        check(figures, DISK_BYTES, request_size, data, verify)
    counts = {(f["instret"], f["exits"], f["mmio_exits"]) for f in all_figures}
    assert len(counts) == 1, f"runs of one configuration differ: {counts}"
    figures = all_figures[0]
    if benchmark.stats is not None:
        median, fastest = benchmark.stats.stats.median, benchmark.stats.stats.min
    else:                           # --benchmark-disable: the rounds' own clocks
        seconds = [run.seconds for run in runs]
        median, fastest = statistics.median(seconds), min(seconds)
    benchmark.extra_info.update({
        "config": config, "request_size": request_size, "variant": variant,
        "disk_bytes": DISK_BYTES,
        "mb_per_s": mb_per_s(DISK_BYTES, median),
        "mb_per_s_best": mb_per_s(DISK_BYTES, fastest),
        "requests": figures["device_requests"],
        **{key: figures[key] for key in ("mmio_exits_per_request", "exits_per_request",
                                         "notifications_per_request", "insns_per_request",
                                         "instret", "mmio_exits", "exits")},
    })


def test_short_last_request(tmp_path):
    """A disk that is not a whole number of requests ends with a shorter one."""
    if unavailable_reason("native") is not None:
        pytest.skip(unavailable_reason("native"))
    disk_bytes = 3 * 65536 + 7 * SECTOR
    path, data = make_disk(str(tmp_path), disk_bytes)
    run = Run("native", make_guest(str(tmp_path), 65536), path)
    run.run()
    figures = run.figures()
    check(figures, disk_bytes, 65536, data)
    assert figures["device_requests"] == 4


# ------------------------------------------------------------------ script

CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def measure(config, guest, path, rounds, check_run, clock=time.perf_counter, best=False):
    """One warm-up and `rounds` timed runs, each checked; (the median round's
    seconds, or the fastest's with best, and the figures of the last run)."""
    seconds = []
    for i in range(rounds + 1):
        run = Run(config, guest, path)
        run.run(clock)
        figures = run.figures()
        check_run(figures)
        if i:
            seconds.append(run.seconds)
    return (min(seconds) if best else statistics.median(seconds)), figures


def table(disk_mib, rounds, configs, sizes, clock="wall", best=False, out=sys.stdout):
    """Runs every (configuration, size, variant) `rounds` times after a
    warm-up, checks each run and prints one row per (configuration, size):
    the median round's MB/s of the io and the checksum variants, the exits
    per request and the guest instructions per request of each variant."""
    disk_bytes = int(disk_mib * (1 << 20)) // SECTOR * SECTOR
    with tempfile.TemporaryDirectory(prefix="blk-bench-") as directory:
        path, data = make_disk(directory, disk_bytes)
        print(f"virtio-blk reads of a {disk_bytes}-byte disk, one request in flight, polled; "
              f"{'fastest' if best else 'median'} of {rounds} rounds, {clock} clock", file=out)
        print(f"{'':<14}{'request':>8}{'requests':>9}{'MB/s':>8}{'MB/s':>10}{'mmio':>7}{'all':>7}"
              f"{'insns/req':>11}{'insns/req':>11}", file=out)
        print(f"{'config':<14}{'bytes':>8}{'':>9}{'io':>8}{'checksum':>10}{'exits/req':>14}"
              f"{'io':>11}{'checksum':>11}", file=out)
        for size in sizes:
            for config in configs:
                reason = unavailable_reason(config)
                if reason is not None:
                    print(f"{config:<14}{size:>8}  skipped: {reason}", file=out)
                    continue
                row = {}
                for variant, verify in VARIANTS.items():
                    guest = make_guest(directory, size, verify)
                    row[variant] = measure(config, guest, path, rounds,
                                           lambda f: check(f, disk_bytes, size, data, verify),
                                           CLOCKS[clock], best)
                io_seconds, io = row["io"]
                csum_seconds, csum = row["checksum"]
                print(f"{config:<14}{size:>8}{io['device_requests']:>9}"
                      f"{mb_per_s(disk_bytes, io_seconds):>8.1f}{mb_per_s(disk_bytes, csum_seconds):>10.1f}"
                      f"{io['mmio_exits_per_request']:>7.3f}{io['exits_per_request']:>7.3f}"
                      f"{io['insns_per_request']:>11.1f}{csum['insns_per_request']:>11.1f}",
                      file=out, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="virtio-blk throughput of blk_bench.S, "
                                     "natively and in VMs (a table of MB/s and exits per request)")
    parser.add_argument("--disk-mib", type=float, default=DISK_MIB, help="disk size in MiB (default 8)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per row (default 3)")
    parser.add_argument("--config", action="append", choices=list(CONFIGS),
                        help="only this configuration (repeatable; default all)")
    parser.add_argument("--request-size", action="append", type=int,
                        help="request size in bytes, a multiple of 512 (repeatable; default 4096 and 65536)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall (time.perf_counter, the default) or cpu (this thread's CPU "
                        "time: steadier on a machine busy with other work)")
    parser.add_argument("--best", action="store_true",
                        help="MB/s of the fastest round instead of the median one (the least "
                        "disturbed by other work on the machine)")
    args = parser.parse_args(argv)
    sizes = args.request_size or list(REQUEST_SIZES)
    for size in sizes:
        if size <= 0 or size % SECTOR or size > 1 << 20:
            parser.error(f"--request-size {size}: a multiple of 512 up to 1 MiB")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    table(args.disk_mib, args.rounds, args.config or list(CONFIGS), sizes, args.clock, args.best)
    return 0


if __name__ == "__main__":
    sys.exit(main())

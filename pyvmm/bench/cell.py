"""One run of the guest kernel under one technique, through the public APIs
(pyvmm.machine.Machine for native, pyvmm.hv.Host/VM for the rest), reduced
to the counters the cost model and the report need.

A run is described by a plain dict (a RunSpec) so it can be shipped to a
worker process or a Dask worker and its result merged back:
    {"column": "hw-nested", "workload": "syscall", "iterations": 272,
     "kernel": "/path/kernel.elf", "params": {"walk_cache": True}}
and its result is a plain dict too (see run_spec).
"""

import re
import signal
import threading
import time

from pyvmm.bench import kernel_workloads, techniques
from pyvmm.machine.loader import ImageError

VM_RAM = 64 << 20
HOST_OVERHEAD = 32 << 20          # as pyvmm run --technique: G-stage/shadow tables
BENCH_LINE = re.compile(r"bench (\S+): iterations (\d+) checksum (0x[0-9a-f]+)")
MACHINE_PARAMS = ("walk_cache", "tlb_entries")
# Exit kinds that begin as a trap on the hart (the core counts those in its
# traps too); the rest (mmio, wfi, budget) do not.
TRAP_EXITS = ("sbi", "trap", "guest_page_fault", "virtual_instruction")


class CellError(Exception):
    """The run did not end as a correct run of the kernel ends (one line)."""


DEFAULT_TIMEOUT = 120.0           # host seconds one run may take before it is given up


def spec(column, workload, iterations, kernel=None, params=None, timeout=DEFAULT_TIMEOUT):
    return {"column": column, "workload": workload, "iterations": int(iterations),
            "kernel": str(kernel or kernel_workloads.default_kernel()),
            "params": dict(params or {}), "timeout": timeout}


class _Timeout(Exception):
    """A run went past --run-timeout."""


class _HostTimeLimit:
    """Give a run up after `seconds` of host time, so one technique stuck in
    a loop of exits cannot hold the whole report. SIGALRM interrupts Python
    between core.run slices; only on the main thread (a Dask worker thread
    runs without the limit, bounded by the instruction budget alone)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.armed = bool(seconds) and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def _expire(self, signum, frame):
        raise _Timeout()

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def apply_machine_params(core, params):
    """Set the core's tunables a sweep varies; refuse what this core lacks."""
    for key, value in params.items():
        if key not in MACHINE_PARAMS:
            continue
        if not hasattr(core, key):
            raise CellError(f"this build of the core has no {key} to set")
        setattr(core, key, value)


def _total(counter):
    return sum(counter.values()) if isinstance(counter, dict) else int(counter or 0)


def _core_counters(core_stats):
    keys = ("tlb_hits", "tlb_misses", "page_walks", "walk_mem_refs", "walks_2d",
            "walk_2d_mem_refs", "gstage_walks", "walk_cache_hits", "tlb_flushes")
    out = {k: int(core_stats[k]) for k in keys if k in core_stats}
    out["traps"] = _total(core_stats.get("traps", {}))
    out["interrupts"] = _total(core_stats.get("interrupts", {}))
    return out


def _run_native(run, workload, kernel, limit):
    from pyvmm.machine import Machine
    machine = Machine(ram_size=VM_RAM, bios="builtin", console=None,
                      bootargs=kernel_workloads.bootargs(workload, run["iterations"]))
    machine.load(kernel)
    machine.boot()
    apply_machine_params(machine.core, run["params"])
    result = machine.run(max_insns=limit)
    stats = machine.stats()
    counters = _core_counters(machine.core.stats())
    return {
        "status": result.status, "how": result.how,
        "output": machine.uart_output.decode("ascii", "replace"),
        "instret": int(stats["instret"]),
        "host_seconds": float(machine.host_seconds),
        # Native has no hypervisor: the board's SBI ecalls are M-mode traps
        # (counted in traps), not VM exits.
        "exits": {},
        "callouts": 0, "hypercalls": 0,
        "device_accesses": sum(stats.get("mmio", {}).values()),
        "core": counters,
        "technique_stats": {},
    }


def _run_vm(run, col, workload, kernel, limit):
    from pyvmm.hv import Host
    host = Host(ram_size=VM_RAM + HOST_OVERHEAD)
    apply_machine_params(host.core, run["params"])
    vm = host.create_vm(ram_size=VM_RAM, paging=col.paging, technique=col.technique,
                        bootargs=kernel_workloads.bootargs(workload, run["iterations"]))
    vm.load(str(techniques.kernel_for(col, kernel)))
    started = time.perf_counter()
    result = vm.run(limit)
    seconds = time.perf_counter() - started
    stats = vm.stats()
    exits = {kind: int(n) for kind, n in stats.get("exits", {}).items() if kind != "budget"}
    core = _core_counters(host.core.stats())
    # A trap that leaves the core for the hypervisor is an exit, priced as one;
    # only the traps the guest took itself inside the loop are priced as traps.
    core["traps_all"], core["interrupts_all"] = core["traps"], core["interrupts"]
    core["traps"] = max(0, core["traps"] - sum(exits.get(k, 0) for k in TRAP_EXITS))
    core["interrupts"] = max(0, core["interrupts"] - exits.get("interrupt", 0))
    technique_stats = {k: v for k, v in stats.items()
                       if k not in ("exits", "core", "mmio", "sbi", "vm", "vmid", "technique",
                                    "paging", "how", "status")}
    return {
        "status": result.status if result else None,
        "how": result.how if result else None,
        "output": vm.console_output.decode("ascii", "replace"),
        "instret": int(stats["instret"]),
        "host_seconds": seconds,
        "exits": exits,
        # Software techniques report these when they have them (bt: callouts
        # from translated code, pv: hypercalls); absent means none happen.
        "callouts": technique_count(stats, "callouts"),
        "callouts_by_kind": technique_breakdown(stats, "callouts"),
        "hypercalls": technique_count(stats, "hypercalls"),
        "core": core,
        "technique_stats": _plain(technique_stats),
        "vm_error": vm.error,
    }


def technique_count(stats, name):
    """A technique's own count of `name` events: stats[name + "_total"] or
    stats[name] (a number, or a dict by kind to sum), at the top level or in
    the technique's own section (vm.stats()["pv"]["hypercalls_total"])."""
    places = [stats] + [v for v in stats.values() if isinstance(v, dict)]
    for place in places:
        for key in (name + "_total", name):
            value = place.get(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                return int(value)
            if isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
                return int(sum(value.values()))
    return 0


def technique_breakdown(stats, name):
    """The technique's `name` events by kind ({kind: n}), when it keeps them."""
    for place in [stats] + [v for v in stats.values() if isinstance(v, dict)]:
        value = place.get(name)
        if isinstance(value, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                           for v in value.values()):
            return {str(k): int(v) for k, v in value.items()}
    return {}


def _plain(value):
    """JSON-safe copy (technique stats may hold tuples or other keys)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def run_spec(run):
    """Run one RunSpec; returns {"spec": run, "ok": bool, "error": str|None,
    counters...}. A guest that does not end as a correct run ends (or runs
    past the timeout) is a failed run the report shows in its cell; a
    technique that raises is not: it raises TechniqueCrashed naming the run,
    with the traceback."""
    col = techniques.column(run["column"])
    workload = kernel_workloads.BY_NAME[run["workload"]]
    limit = workload.instruction_limit(run["iterations"])
    out = {"spec": run, "ok": False, "error": None}
    timeout = run.get("timeout", DEFAULT_TIMEOUT)
    try:
        with _HostTimeLimit(timeout):
            if col.is_native:
                out.update(_run_native(run, workload, run["kernel"], limit))
            else:
                out.update(_run_vm(run, col, workload, run["kernel"], limit))
    except _Timeout:
        out["error"] = (f"no result within {timeout:g} s of host time (instruction budget "
                        f"{limit:,}); --run-timeout sets the limit")
        return out
    except (CellError, ImageError) as exc:      # the guest, not the technique
        out["error"] = str(exc)
        return out
    except Exception as exc:
        raise techniques.crashed(f"{run['workload']} under {run['column']} "
                                 f"({run['iterations']} iterations)", exc) from exc
    out["error"] = _check(out, workload.name, run["iterations"])
    out["ok"] = out["error"] is None
    return out


def _check(out, mode, iterations):
    if out.get("vm_error"):
        return f"the hypervisor stopped the VM: {out['vm_error']}"
    if out["how"] != "sbi-shutdown" or out["status"] != 0:
        return f"run ended {out['how']} (status {out['status']})"
    match = BENCH_LINE.search(out["output"])
    if match is None:
        return "the kernel printed no 'bench' line"
    if match.group(1) != mode or int(match.group(2)) != iterations:
        return f"the kernel ran {match.group(1)} x {match.group(2)}, not {mode} x {iterations}"
    out["checksum"] = match.group(3)
    return None

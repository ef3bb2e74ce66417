"""The core suite: every workload on pyvmm and, when it is installed, on
qemu-system-riscv64 in the same invocation, plus the exit benchmark.

pyvmm's speed is instret / host seconds of the run loop (start-up is outside
the clock). QEMU's is timed as a process at two sizes and start-up removed by
the difference (pyvmm.bench.measure); its instruction counts are pyvmm's
instret for the same sized images, which requires the two to agree on what
the guest printed.
"""

import os
import platform
import sys
import tempfile

from pyvmm.bench import measure, pyvmm_backend, qemu_backend
from pyvmm.bench.images import sized_image
from pyvmm.bench.workloads import (CORE_WORKLOADS, EXIT_IMAGE, EXIT_ITERATIONS, GOAL_EXITS_PER_SECOND,
                                   GOAL_PAGING_FRACTION, GOAL_QEMU_RATIO, GOAL_QEMU_RATIO_AIM)


class BenchError(Exception):
    """A workload did not run correctly; the message is one line."""


def _silent(message):
    pass


CLOCKS = ("wall", "cpu")


def run_core_suite(image_dir, runs=3, scale=1.0, qemu=None, workloads=CORE_WORKLOADS,
                   exit_iterations=EXIT_ITERATIONS, clock="wall", progress=_silent):
    """Run the suite; returns the result as plain data (what --format json prints).
    `qemu` is the path of qemu-system-riscv64, or None to measure pyvmm alone.
    `exit_iterations` 0 leaves the exit benchmark out.
    `clock` is what rates are computed from: "wall" time, or "cpu" time (the
    pyvmm thread's, the QEMU process's), steadier on a machine shared with
    other work. Both are recorded."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {CLOCKS}")
    if runs < 1:
        raise ValueError("runs must be at least 1")
    if scale <= 0:
        raise ValueError("scale must be positive")
    workloads = [w.scaled(scale) for w in workloads]
    exit_iterations = max(1, round(exit_iterations * scale)) if exit_iterations else 0
    result = {
        "suite": "core",
        "runs": runs,
        "scale": scale,
        "clock": clock,
        "host": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "qemu": qemu_backend.qemu_version(qemu) if qemu else None,
            # other work on the host skews wall times: say how busy it was
            "load_average": {"start": _load_average(), "end": None},
        },
        "workloads": [],
        "exits": None,
        "goals": [],
    }
    with tempfile.TemporaryDirectory(prefix="pyvmm-bench-") as scratch:
        # Round-robin: run i of every workload before run i + 1 of any, so a
        # change in the machine's load reaches every row (and both sides of
        # each ratio) alike.
        states = [_WorkloadRuns(image_dir, scratch, w, runs, qemu, progress) for w in workloads]
        for i in range(runs):
            for state in states:
                state.run_once(i)
        result["workloads"] = [state.result(clock) for state in states]
        for entry in result["workloads"]:
            base = next((w for w in result["workloads"] if w["name"] == entry["bare"]), None)
            if entry["bare"] is not None and base is not None:
                entry["pyvmm"]["fraction_of_bare"] = measure.ratio(entry["pyvmm"]["mips"],
                                                                   base["pyvmm"]["mips"])
                if entry["qemu"] is not None and base["qemu"] is not None:
                    entry["qemu"]["fraction_of_bare"] = measure.ratio(entry["qemu"]["mips"],
                                                                      base["qemu"]["mips"])
        if exit_iterations:
            result["exits"] = _run_exits(image_dir, scratch, exit_iterations, runs, clock,
                                         progress)
    result["host"]["load_average"]["end"] = _load_average()
    result["goals"] = _goals(result)
    return result


def _load_average():
    """The host's one-minute load average, or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _seconds(samples, clock):
    return [s.seconds if clock == "wall" else s.cpu_seconds for s in samples]


def _times(samples):
    return {"wall_seconds": [round(s.seconds, 6) for s in samples],
            "cpu_seconds": [round(s.cpu_seconds, 6) for s in samples]}


class _WorkloadRuns:
    """One workload's images, its untimed short-run count and its timed runs."""

    def __init__(self, image_dir, scratch, workload, runs, qemu, progress):
        self.workload, self.runs, self.qemu, self.progress = workload, runs, qemu, progress
        self.small_image = sized_image(image_dir, workload.image, workload.small, scratch,
                                       workload.patches)
        self.large_image = sized_image(image_dir, workload.image, workload.large, scratch,
                                       workload.patches)
        self.small = None
        if qemu:
            progress(f"{workload.name}: pyvmm count of the short run ({workload.small} iterations)")
            self.small = _pyvmm_run(self.small_image, workload.small, workload.htif)
        self.large_runs, self.qemu_small_runs, self.qemu_large_runs = [], [], []

    def run_once(self, i):
        w, runs, progress = self.workload, self.runs, self.progress
        progress(f"{w.name}: pyvmm run {i + 1}/{runs} ({w.large} iterations)")
        run = _pyvmm_run(self.large_image, w.large, w.htif)
        first = self.large_runs[0] if self.large_runs else run
        if (run.instret, run.output) != (first.instret, first.output):
            raise BenchError(f"{w.name}: pyvmm is not deterministic: run 1 retired "
                             f"{first.instret} instructions and printed {first.output!r}, "
                             f"run {i + 1} {run.instret} and {run.output!r}")
        self.large_runs.append(run)
        if self.qemu:
            progress(f"{w.name}: QEMU run {i + 1}/{runs} ({w.small} and {w.large} iterations)")
            self.qemu_small_runs.append(_qemu_run(self.qemu, w.name, self.small_image, self.small))
            self.qemu_large_runs.append(_qemu_run(self.qemu, w.name, self.large_image, first))

    def result(self, clock):
        w = self.workload
        seconds = _seconds(self.large_runs, clock)
        instret = self.large_runs[0].instret
        entry = {
            "name": w.name,
            "description": w.description,
            "image": w.image,
            "patches": dict(w.patches),
            "iterations": {"small": w.small, "large": w.large},
            "instret": {"small": self.small.instret if self.small else None, "large": instret},
            "bare": w.bare,
            "event": w.event,
            "htif": w.htif,
            "pyvmm": {**_times(self.large_runs),
                      "mips": measure.mips(instret, measure.median_seconds(seconds)),
                      "output": self.large_runs[0].output.strip(),
                      "stats": _core_counters(self.large_runs[0])},
            "qemu": None,
        }
        if w.event:
            entry["pyvmm"]["events_per_second"] = w.large / measure.median_seconds(seconds)
        if self.qemu:
            entry["qemu"] = _qemu_result(w.name, w, self.small.instret, self.qemu_small_runs,
                                         instret, self.qemu_large_runs, clock)
        return entry


def _pyvmm_run(image, iterations, htif=None):
    try:
        return pyvmm_backend.run_image(image, pyvmm_backend.instruction_limit(iterations), htif)
    except pyvmm_backend.BenchRunError as exc:
        raise BenchError(str(exc)) from None


def _core_counters(run):
    keep = ("instret", "traps", "tlb_hits", "tlb_misses", "page_walks", "walk_mem_refs",
            "decode_cache_fills", "decode_cache_flushes")
    return {k: run.stats[k] for k in keep if k in run.stats}


def _qemu_run(qemu, name, image, reference):
    """One timed QEMU run of `image`, which must print what pyvmm printed."""
    try:
        run = qemu_backend.run_image(qemu, image)
    except qemu_backend.QemuError as exc:
        raise BenchError(str(exc)) from None
    if run.output != reference.output:
        raise BenchError(f"{name}: QEMU printed {run.output!r} but pyvmm printed "
                         f"{reference.output!r} for the same image: they did not run "
                         "the same instructions")
    return run


def _qemu_result(name, workload, small_insns, small_runs, large_insns, large_runs, clock):
    small_seconds = _seconds(small_runs, clock)
    large_seconds = _seconds(large_runs, clock)
    try:
        qemu_mips = measure.mips_without_startup(small_insns, small_seconds,
                                                 large_insns, large_seconds)
        startup = measure.startup_seconds(small_insns, small_seconds, large_insns, large_seconds)
    except measure.MeasurementError as exc:
        raise BenchError(f"{name}: QEMU: {exc}") from None
    entry = {"small": _times(small_runs), "large": _times(large_runs),
             "startup_seconds": startup, "mips": qemu_mips}
    if workload.event:
        entry["events_per_second"] = (workload.large - workload.small) / (
            measure.median_seconds(large_seconds) - measure.median_seconds(small_seconds))
    return entry


def _run_exits(image_dir, scratch, iterations, runs, clock, progress):
    image = sized_image(image_dir, EXIT_IMAGE, iterations, scratch)
    samples = []
    for i in range(runs):
        progress(f"exits: pyvmm run {i + 1}/{runs} ({iterations} ecalls to a Python handler)")
        try:
            samples.append(pyvmm_backend.run_exit_loop(image, iterations))
        except pyvmm_backend.BenchRunError as exc:
            raise BenchError(str(exc)) from None
    seconds = _seconds(samples, clock)
    return {"image": EXIT_IMAGE, "iterations": iterations,
            "handler": "read a0, write a0 + 1, pc = exit_pc + 4",
            **_times(samples),
            "exits_per_second": iterations / measure.median_seconds(seconds)}


def _goals(result):
    by_name = {w["name"]: w for w in result["workloads"]}
    goals = []
    compute = by_name.get("compute")
    if compute is not None and compute["qemu"] is not None:
        value = measure.ratio(compute["pyvmm"]["mips"], compute["qemu"]["mips"])
        goals.append({"goal": f"compute: pyvmm MIPS >= {GOAL_QEMU_RATIO:g} x QEMU's "
                              f"(aim {GOAL_QEMU_RATIO_AIM:g})",
                      "value": value, "unit": "ratio", "met": value >= GOAL_QEMU_RATIO})
    paged = by_name.get("compute-sv39")
    if paged is not None and "fraction_of_bare" in paged["pyvmm"]:
        value = paged["pyvmm"]["fraction_of_bare"]
        goals.append({"goal": f"Sv39 paging: >= {GOAL_PAGING_FRACTION:.0%} of bare MIPS",
                      "value": value, "unit": "fraction", "met": value >= GOAL_PAGING_FRACTION})
    if result["exits"] is not None:
        value = result["exits"]["exits_per_second"]
        goals.append({"goal": f"exits to a Python handler: >= {GOAL_EXITS_PER_SECOND:,} per second",
                      "value": value, "unit": "per_second", "met": value >= GOAL_EXITS_PER_SECOND})
    return goals


def stderr_progress(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)

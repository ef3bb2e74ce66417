"""The technique comparison: every workload under every technique column (and
every combination of sweep parameters), each cell two runs of the guest
kernel whose difference is the cost of N iterations.

Running and pricing are separate: `run_matrix` runs the guests and keeps the
raw counters of both runs of each cell; `price` turns them into per-iteration
events, modeled cycles under a cost model and overheads against native. A
sweep over cost-model parameters therefore re-prices the same runs; a sweep
over machine parameters (walk cache, TLB size) runs again.
"""

import itertools
import platform
from statistics import median, quantiles

from pyvmm.bench import cell, costmodel, kernel_workloads, techniques

COUNTERS = ("instructions", "traps", "exits", "walks", "walk_refs", "walks_2d", "walk_2d_refs",
            "tlb_misses", "callouts", "hypercalls", "device_accesses", "host_seconds")


def _params_key(params):
    return ",".join(f"{k}={_show(v)}" for k, v in sorted(params.items())) or "-"


def _show(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def plan(workloads, columns, iterations=None, kernel=None, machine_grid=({},),
         timeout=cell.DEFAULT_TIMEOUT, runs=1):
    """The cells to fill: one per (machine params, workload, column), each
    with its run specs (None for a column that is not available): `runs`
    pairs of (baseline, baseline + N), the host timings of which give the
    spread of the per-iteration host time (the counters must not differ)."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs}")
    available = techniques.availability(
        columns, kernel if kernel is not None else kernel_workloads.default_kernel())
    cells = []
    for params in machine_grid:
        for workload in workloads:
            small, large = workload.sizes(iterations)
            for col in columns:
                reason = available[col.name]
                specs = None
                if reason is None:
                    specs = [cell.spec(col.name, workload.name, n, kernel, params, timeout)
                             for _ in range(runs) for n in (small, large)]
                cells.append({"workload": workload.name, "suite": workload.suite,
                              "column": col.name, "params": dict(params),
                              "sizes": [small, large], "iterations": large - small,
                              "available": reason is None, "reason": reason, "run_specs": specs})
    return cells


def run_matrix(cells, executor, progress=None):
    """Run every run spec of `cells` on `executor`; fills cell["runs"].
    Round-robin: the first pair of every cell before the second of any, so
    a change in the host's load reaches every cell's samples alike."""
    pairs = max((len(c["run_specs"]) // 2 for c in cells if c["available"]), default=0)
    jobs = [(ci, 2 * p + s) for p in range(pairs) for ci, c in enumerate(cells)
            if c["available"] and 2 * p < len(c["run_specs"]) for s in (0, 1)]
    specs = [cells[ci]["run_specs"][ri] for ci, ri in jobs]
    for c in cells:
        c["runs"] = [None] * len(c["run_specs"]) if c["available"] else None
    if progress is not None:
        progress.start(len(specs))
    for index, result in executor.map(cell.run_spec, specs):
        ci, ri = jobs[index]
        cells[ci]["runs"][ri] = result
        if progress is not None:
            s = result["spec"]
            progress.advance(f"{s['workload']} {s['column']} x{s['iterations']}"
                             + ("" if result["ok"] else " FAILED"))
    if progress is not None:
        progress.finish()
    _check_fidelity(cells)
    return cells


def _check_fidelity(cells):
    """A technique must make the guest compute what it computes natively."""
    native = {(c["workload"], _params_key(c["params"])): c for c in cells
              if c["column"] == "native" and c["available"]}
    for c in cells:
        c["error"] = None
        if not c["available"]:
            continue
        failed = [r for r in c["runs"] if not r["ok"]]
        if failed:
            r = failed[0]
            c["error"] = f"{r['spec']['iterations']} iterations: {r['error']}"
            continue
        c["error"] = _nondeterminism(c["runs"])
        if c["error"]:
            continue
        ref = native.get((c["workload"], _params_key(c["params"])))
        if ref is None or c is ref or ref.get("error") or not all(r["ok"] for r in ref["runs"]):
            continue
        for mine, theirs in zip(c["runs"], ref["runs"]):
            if mine.get("checksum") != theirs.get("checksum"):
                c["error"] = (f"checksum {mine.get('checksum')} differs from native's "
                              f"{theirs.get('checksum')} at {mine['spec']['iterations']} iterations")
                break


def _nondeterminism(runs):
    """None when every repeat of each size retired and printed the same; else why not."""
    for size in (0, 1):
        first = runs[size]
        for other in runs[size + 2::2]:
            if (other["instret"], other.get("checksum")) != (first["instret"],
                                                            first.get("checksum")):
                return (f"{first['spec']['iterations']} iterations: not deterministic: "
                        f"{first['instret']} instructions (checksum {first.get('checksum')}) "
                        f"in one run, {other['instret']} ({other.get('checksum')}) in another")
    return None


def host_time(runs, n):
    """The per-iteration host time of a cell from its pairs of runs
    [small, large, small, large, ...]: each pair's difference over N, and
    their median, quartiles and range clamped at zero (a difference below
    zero is noise: the iterations cost less than the run-to-run wobble of
    the rest). The noise floor is the range of the baseline run's host time
    over the pairs, divided by N: what boot and shutdown alone vary by, per
    iteration; None with one pair. `below_noise` says the median is under it
    (or the raw median is not above zero)."""
    smalls = [r["host_seconds"] for r in runs[0::2]]
    larges = [r["host_seconds"] for r in runs[1::2]]
    samples = [(b - a) / n for a, b in zip(smalls, larges)]
    raw = median(samples)
    if len(samples) >= 2:
        q1, _, q3 = quantiles(samples, n=4, method="inclusive")
    else:
        q1 = q3 = samples[0]
    floor = (max(smalls) - min(smalls)) / n if len(smalls) >= 2 else None
    clamp = max(0.0, raw)
    return {"median": clamp, "raw_median": raw, "q1": max(0.0, q1), "q3": max(0.0, q3),
            "min": max(0.0, min(samples)), "max": max(0.0, max(samples)),
            "runs": len(samples), "samples": samples, "noise_floor": floor,
            "below_noise": raw <= 0 or (floor is not None and raw < floor)}


def _counters(run):
    core = run["core"]
    return {
        "instructions": run["instret"],
        "traps": core.get("traps", 0),
        "exits": sum(run["exits"].values()),
        "walks": core.get("page_walks", 0),
        "walk_refs": core.get("walk_mem_refs", 0),
        "walks_2d": core.get("walks_2d", 0),
        "walk_2d_refs": core.get("walk_2d_mem_refs", 0),
        "tlb_misses": core.get("tlb_misses", 0),
        "callouts": run.get("callouts", 0),
        "hypercalls": run.get("hypercalls", 0),
        "device_accesses": run.get("device_accesses", 0),
        "host_seconds": run["host_seconds"],
    }


def price(cells, model):
    """Derived figures of every filled cell under `model` (a CostModel):
    per-iteration counters, exits by reason, modeled cycles, host seconds,
    overhead against native's per-iteration cycles."""
    priced = []
    for c in cells:
        out = {k: c[k] for k in ("workload", "suite", "column", "params", "sizes", "iterations",
                                 "available", "reason")}
        out["error"] = c.get("error")
        if c["available"] and c.get("runs") and not out["error"]:
            small, large = c["runs"][0], c["runs"][1]
            n = c["iterations"]
            a, b = _counters(small), _counters(large)
            per = {k: (b[k] - a[k]) / n for k in COUNTERS}
            spread = host_time(c["runs"], n)
            per["host_seconds"] = spread["median"]
            per["host_seconds_spread"] = spread
            kinds = sorted(set(small["exits"]) | set(large["exits"]))
            per["exits_by_reason"] = {k: (large["exits"].get(k, 0) - small["exits"].get(k, 0)) / n
                                      for k in kinds}
            by_kind = (small.get("callouts_by_kind") or {}, large.get("callouts_by_kind") or {})
            per["callouts_by_kind"] = {k: (by_kind[1].get(k, 0) - by_kind[0].get(k, 0)) / n
                                       for k in sorted(set(by_kind[0]) | set(by_kind[1]))}
            per["modeled_cycles"] = (model.cycles(costmodel.events(large))
                                     - model.cycles(costmodel.events(small))) / n
            out["per_iteration"] = per
            out["run"] = {"instructions": large["instret"],
                          "exits_by_reason": dict(large["exits"]),
                          "modeled_cycles": model.cycles(costmodel.events(large)),
                          "host_seconds": median(r["host_seconds"] for r in c["runs"][1::2]),
                          "baseline_modeled_cycles": model.cycles(costmodel.events(small)),
                          "checksum": large.get("checksum"),
                          "technique_stats": large.get("technique_stats", {})}
        priced.append(out)
    native = {(p["workload"], _params_key(p["params"])): p for p in priced
              if p["column"] == "native" and "per_iteration" in p}
    for p in priced:
        ref = native.get((p["workload"], _params_key(p["params"])))
        if "per_iteration" in p and ref is not None:
            base = ref["per_iteration"]["modeled_cycles"]
            p["overhead_vs_native"] = (p["per_iteration"]["modeled_cycles"] / base
                                       if base > 0 else None)
            p["run_overhead_vs_native"] = p["run"]["modeled_cycles"] / ref["run"]["modeled_cycles"]
    return priced


def machine_grid(sweep):
    """The product of the machine parameters of a sweep ({name: [values]})."""
    names = [k for k in sweep if k in cell.MACHINE_PARAMS]
    return [dict(zip(names, values)) for values in itertools.product(*(sweep[k] for k in names))]


def model_grid(sweep, base):
    """(label params, CostModel) for every combination of cost-model values."""
    names = [k for k in sweep if k in costmodel.PARAMETERS]
    grid = []
    for values in itertools.product(*(sweep[k] for k in names)):
        params = dict(zip(names, values))
        grid.append((params, base.with_overrides(params)))
    return grid


def host_info():
    import os
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count()}


def kernel_workload_list(suite, names=None):
    chosen = kernel_workloads.workloads_of(suite)
    if names:
        chosen = tuple(w for w in kernel_workloads.WORKLOADS if w.name in names)
    return chosen

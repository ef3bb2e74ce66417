"""`pyvmm bench --suite nano|macro|all`: the technique comparison as one call.

    result = run_comparison(suite="nano", columns=("native", "hw-nested"))

returns plain data (what --format json prints): the cost model, which
technique columns were available (and why not), every cell priced, the
2D-walk microbenchmark, the findings check, and the sweep when asked.
"""

from pyvmm.bench import (cell, costmodel, executors, findings, kernel_workloads, matrix,
                         techniques, walk2d)

SWEEP_KEYS = cell.MACHINE_PARAMS + costmodel.PARAMETERS


class SweepError(Exception):
    """A bad --sweep specification (one line)."""


def parse_sweep(items):
    """['walk_cache=on,off', 'exit=500,3000'] -> {name: [values]} (in order)."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not values:
            raise SweepError(f"--sweep {item!r}: expected NAME=V1,V2,...")
        if key not in SWEEP_KEYS:
            raise SweepError(f"--sweep {key}: unknown parameter (known: {', '.join(SWEEP_KEYS)})")
        if key in grid:
            raise SweepError(f"--sweep {key} given twice")
        grid[key] = [_sweep_value(key, v.strip()) for v in values.split(",")]
    return grid


def _sweep_value(key, text):
    if key == "walk_cache":
        lowered = text.lower()
        if lowered in ("on", "true", "1"):
            return True
        if lowered in ("off", "false", "0"):
            return False
        raise SweepError(f"--sweep walk_cache: {text!r} is not on or off")
    if key == "tlb_entries":
        if not text.isdigit() or int(text) < 1:
            raise SweepError(f"--sweep tlb_entries: {text!r} is not a positive integer")
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"--sweep {key}: {text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise SweepError(f"--sweep {key}: {text!r} must be a finite number >= 0")
    return value


def check_machine_params(grid):
    """Refuse, before running anything, a machine parameter this core lacks."""
    try:
        from pyvmm._core import Core
    except ImportError:
        return
    for key in grid:
        if key in cell.MACHINE_PARAMS and not hasattr(Core, key):
            raise SweepError(f"--sweep {key}: this build of the core has no {key} "
                             "(see docs/architecture.md)")


def run_comparison(suite="nano", columns=techniques.COLUMN_NAMES, iterations=None,
                   workloads=None, kernel=None, executor=None, model=costmodel.DEFAULT,
                   sweep=None, include_walk2d=True, progress=None, timeout=cell.DEFAULT_TIMEOUT,
                   runs=1):
    executor = executor or executors.LocalExecutor(1)
    cols = [techniques.column(name) for name in columns]
    chosen = matrix.kernel_workload_list(suite, workloads)
    sweep = sweep or {}
    grid = matrix.machine_grid(sweep)
    cells = matrix.plan(chosen, cols, iterations=iterations, kernel=kernel, machine_grid=grid,
                        timeout=timeout, runs=runs)
    matrix.run_matrix(cells, executor, progress)
    base_params = grid[0]
    for c in cells:
        c["base"] = c["params"] == base_params
    priced = matrix.price(cells, model)
    walks = walk2d.run() if include_walk2d else None
    result = {
        "suite": suite,
        "runs": runs,
        "columns": [c.name for c in cols],
        "availability": _availability(cells, cols),
        "registered_techniques": list(techniques.registered_techniques()),
        "iterations": iterations,
        "kernel": str(kernel or kernel_workloads.default_kernel()),
        "cost_model": model.as_dict(),
        "executor": executor.description,
        "host": matrix.host_info(),
        "base_params": base_params,
        "cells": priced,
        "walk2d": walks,
        "findings": findings.check(priced, walks, include_walks=include_walk2d),
        "sweep": None,
    }
    if sweep:
        result["sweep"] = _sweep_rows(cells, sweep, model)
    return result


def _availability(cells, cols):
    """Per column: None when it ran, else why not (from the plan, or from a run
    that found the core lacking what the technique needs)."""
    out = {}
    for col in cols:
        mine = [c for c in cells if c["column"] == col.name]
        down = [c for c in mine if not c["available"]]
        out[col.name] = down[0]["reason"] if mine and len(down) == len(mine) else None
    return out


def _sweep_rows(cells, sweep, base_model):
    rows = []
    for model_params, model in matrix.model_grid(sweep, base_model):
        label = ",".join(f"{k}={v:g}" for k, v in model_params.items()) or "default"
        for p in matrix.price(cells, model):
            machine_label = ",".join(f"{k}={matrix._show(v)}" for k, v in p["params"].items())
            ok = "per_iteration" in p
            rows.append({"workload": p["workload"], "column": p["column"],
                         "machine": machine_label or "default", "model": label,
                         "params": {**p["params"], **model_params},
                         "cycles": p["per_iteration"]["modeled_cycles"] if ok else None,
                         "overhead": p.get("overhead_vs_native"),
                         "host_us": p["per_iteration"]["host_seconds"] * 1e6 if ok else None,
                         "host_us_range": ([p["per_iteration"]["host_seconds_spread"][k] * 1e6
                                            for k in ("min", "max")] if ok else None),
                         "status": "ok" if ok else ("n/a" if not p["available"] else "failed")})
    return {"grid": {k: [matrix._show(v) for v in vs] for k, vs in sweep.items()}, "rows": rows}

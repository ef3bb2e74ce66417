"""pytest-benchmark over the technique matrix of `pyvmm bench --suite all`.

    pytest benchmarks/test_virt_bench.py --benchmark-json virt.json
    pytest-benchmark compare virt-before.json virt.json

One benchmark per (workload, technique column): the host time of one run of
the guest kernel at the workload's measured size (N0 + N iterations), the
whole run including the VM's construction. extra_info holds what the
command reports for that run: guest instructions, exits, modeled cycles
under the default cost model, and the run loop's own host seconds.
Columns whose technique this tree lacks are skipped with the reason.
PYVMM_BENCH_ITERATIONS sets N (default: each workload's own);
PYVMM_BENCH_ROUNDS (default 3) the rounds.
"""

import os

import pytest

from pyvmm.bench import cell, costmodel, kernel_workloads, techniques

pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")

ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
ITERATIONS = os.environ.get("PYVMM_BENCH_ITERATIONS")
CASES = [(w, c) for w in kernel_workloads.WORKLOADS for c in techniques.COLUMNS]


@pytest.mark.parametrize("workload, column", CASES,
                         ids=[f"{w.name}-{c.name}" for w, c in CASES])
def test_technique_run(benchmark, workload, column):
    reason = techniques.unavailable_reason(column, kernel_workloads.default_kernel())
    if reason is not None:
        pytest.skip(f"{column.name}: technique not available ({reason})")
    _, size = workload.sizes(int(ITERATIONS) if ITERATIONS else None)
    spec = cell.spec(column.name, workload.name, size)
    benchmark.group = workload.name
    result = benchmark.pedantic(cell.run_spec, args=(spec,), rounds=ROUNDS, iterations=1)
    assert result["ok"], result["error"]
    benchmark.extra_info.update({
        "iterations": size,
        "instret": result["instret"],
        "exits": result["exits"],
        "modeled_cycles": costmodel.DEFAULT.cycles(costmodel.events(result)),
        "run_loop_seconds": result["host_seconds"],
        "checksum": result.get("checksum"),
    })

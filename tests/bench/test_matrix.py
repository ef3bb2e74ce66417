"""The matrix arithmetic on fabricated runs: per-iteration differences,
exits by reason, modeled cycles, overhead, fidelity against native."""

import pytest

from pyvmm.bench import matrix
from pyvmm.bench.costmodel import CostModel


def run(instret, exits=None, traps=0, refs=0, seconds=0.0, checksum="0x1", callouts=0):
    return {"ok": True, "error": None, "spec": {"iterations": 0}, "instret": instret,
            "exits": exits or {}, "callouts": callouts, "hypercalls": 0, "device_accesses": 0,
            "host_seconds": seconds, "checksum": checksum,
            "core": {"traps": traps, "interrupts": 0, "walk_mem_refs": refs, "page_walks": refs // 3}}


def cell(column, small, large, n=10):
    return {"workload": "syscall", "suite": "nano", "column": column, "params": {},
            "sizes": [16, 16 + n], "iterations": n, "available": True, "reason": None,
            "runs": [small, large], "base": True}


MODEL = CostModel(instruction=1, trap=100, exit=1000, walk_ref=10, callout=300, hypercall=0,
                  device_access=0)


def test_per_iteration_is_the_difference_over_n():
    cells = [cell("native", run(1000, traps=5, seconds=1.0), run(2450, traps=15, seconds=1.5)),
             cell("hw-shadow", run(1000, {"sbi": 3}, traps=5),
                  run(2440, {"sbi": 3, "virtual_instruction": 10}, traps=15, refs=30))]
    matrix._check_fidelity(cells)
    native, shadow = matrix.price(cells, MODEL)
    assert native["per_iteration"]["instructions"] == 145.0
    assert native["per_iteration"]["traps"] == 1.0
    assert native["per_iteration"]["host_seconds"] == pytest.approx(0.05)
    assert native["per_iteration"]["modeled_cycles"] == 145.0 + 100.0
    assert shadow["per_iteration"]["exits_by_reason"] == {"sbi": 0.0, "virtual_instruction": 1.0}
    assert shadow["per_iteration"]["modeled_cycles"] == 144.0 + 100.0 + 1000.0 + 3 * 10
    assert shadow["overhead_vs_native"] == pytest.approx(1274.0 / 245.0)
    # the whole run's cycles are kept beside the per-iteration figure
    assert shadow["run"]["modeled_cycles"] == 2440 + 1500 + 13000 + 300


def test_callout_exits_are_priced_as_callouts():
    cells = [cell("bt", run(100, {"trap": 2}, callouts=0), run(200, {"trap": 12}, callouts=10))]
    matrix._check_fidelity(cells)
    (bt,) = matrix.price(cells, MODEL)
    assert bt["per_iteration"]["modeled_cycles"] == 10.0 + 300.0


def test_checksum_differing_from_native_is_an_error():
    cells = [cell("native", run(1000, checksum="0x18018"), run(2000, checksum="0x30030")),
             cell("trap-emulate", run(1000, checksum="0x10010"), run(2000, checksum="0x30030"))]
    matrix._check_fidelity(cells)
    assert cells[0]["error"] is None
    assert cells[1]["error"] == "checksum 0x10010 differs from native's 0x18018 at 0 iterations"
    priced = matrix.price(cells, MODEL)
    assert "per_iteration" not in priced[1]


def test_a_technique_that_raises_is_an_error_naming_the_run(monkeypatch):
    from pyvmm.bench import cell as cell_module
    from pyvmm.bench.techniques import TechniqueCrashed

    def broken(*args):
        raise AttributeError("'pyvmm._core.Core' object has no attribute 'clear_guest_mmio'")

    monkeypatch.setattr(cell_module, "_run_vm", broken)
    spec = cell_module.spec("pv", "syscall", 32, kernel="kernel.elf", timeout=0)
    with pytest.raises(TechniqueCrashed) as info:
        cell_module.run_spec(spec)
    assert str(info.value) == ("syscall under pv (32 iterations) raised AttributeError: "
                               "'pyvmm._core.Core' object has no attribute 'clear_guest_mmio'")
    assert "Traceback" in info.value.trace and "in broken" in info.value.trace
    # it crosses a process boundary whole
    import pickle
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.message, again.trace) == (info.value.message, info.value.trace)


def test_grids():
    sweep = {"walk_cache": [True, False], "exit": [500.0, 3000.0]}
    assert matrix.machine_grid(sweep) == [{"walk_cache": True}, {"walk_cache": False}]
    models = matrix.model_grid(sweep, MODEL)
    assert [(p, m.exit) for p, m in models] == [({"exit": 500.0}, 500.0), ({"exit": 3000.0}, 3000.0)]
    assert matrix.machine_grid({"exit": [1.0]}) == [{}]


def test_host_time_is_the_median_of_paired_differences_clamped_at_zero():
    n = 10
    runs = [run(1000, seconds=s) for s in (1.00, 1.50, 1.10, 1.40, 1.05, 2.05)]
    spread = matrix.host_time(runs, n)
    assert spread["samples"] == pytest.approx([0.05, 0.03, 0.1])
    assert spread["median"] == pytest.approx(0.05)
    assert (spread["min"], spread["max"]) == (pytest.approx(0.03), pytest.approx(0.1))
    assert spread["noise_floor"] == pytest.approx(0.01)      # the baseline's range over N
    assert spread["below_noise"] is False
    # a larger run that took less time than its baseline: zero, flagged, never negative
    noisy = [run(1000, seconds=s) for s in (1.0, 0.9, 1.0, 0.95, 1.2, 1.1)]
    spread = matrix.host_time(noisy, n)
    assert spread["raw_median"] < 0
    assert spread["median"] == spread["min"] == spread["max"] == 0.0
    assert spread["below_noise"] is True


def test_repeats_that_differ_are_an_error():
    cells = [cell("native", run(1000), run(2000))]
    cells[0]["runs"] += [run(1000), run(2001)]
    matrix._check_fidelity(cells)
    assert "not deterministic: 2000 instructions" in cells[0]["error"]
    cells = [cell("native", run(1000, seconds=1.0), run(2000, seconds=2.0))]
    cells[0]["runs"] += [run(1000, seconds=1.0), run(2000, seconds=1.5)]
    matrix._check_fidelity(cells)
    (priced,) = matrix.price(cells, MODEL)
    assert priced["per_iteration"]["host_seconds"] == pytest.approx(0.075)
    assert priced["run"]["host_seconds"] == pytest.approx(1.75)

"""pytest-benchmark over the models of `pyvmm bench --suite io`.

    pytest benchmarks/test_io_bench.py --benchmark-json io.json

One benchmark per model that runs a guest (the type-2 hosted rows price
another model's run and are not timed apart): the host time of one run of
the storage workload (guests/bench/io_workload.inc with the model's driver)
over PYVMM_IO_BLOCKS blocks (default 64: 256 requests of 4 KiB), the board
or the VM built and the disk written in each round's timed run.
extra_info holds the run's checksum, requests, guest instructions, exits
by kind, device accesses and IOMMU translations, and MB/s of guest data in
host time. PYVMM_BENCH_ROUNDS (default 3) sets the rounds.
"""

import os
import tempfile

import pytest

from pyvmm.bench import io_suite

pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")

ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
BLOCKS = int(os.environ.get("PYVMM_IO_BLOCKS", "64"))
MODELS = [m for m in io_suite.MODELS if m.setup is not None]


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_io_model(benchmark, model):
    with tempfile.TemporaryDirectory(prefix="pyvmm-io-bench-") as scratch:
        benchmark.group = f"io suite, {4 * BLOCKS} requests of 4 KiB"
        run = benchmark.pedantic(io_suite.run_once, args=(model, BLOCKS, scratch),
                                 rounds=ROUNDS, iterations=1)
    assert run["requests"] == 4 * BLOCKS
    benchmark.extra_info.update({
        "checksum": run["checksum"], "requests": run["requests"], "instret": run["instret"],
        "exits": run["exits"], "device_accesses": run["device_accesses"],
        "iommu_translations": run["iommu_translations"],
        "mb_per_s_host": round(run["requests"] * io_suite.BLOCK / run["host_seconds"] / 1e6, 3),
    })

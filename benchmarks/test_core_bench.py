"""pytest-benchmark versions of `pyvmm bench --suite core`.

    pytest benchmarks/ --benchmark-json out.json

Each benchmark times what the suite times: pyvmm's run loop (the Machine is
built and the image loaded in the untimed setup), or one QEMU process. MIPS,
instruction counts and the QEMU rate with start-up removed go into
extra_info. PYVMM_BENCH_SCALE (default 1) multiplies the sizes, as `--scale`
does; PYVMM_BENCH_ROUNDS (default 3) sets the rounds.
"""

import os
import shutil

import pytest

from pyvmm.bench import measure, pyvmm_backend, qemu_backend
from pyvmm.bench.images import default_image_dir, sized_image
from pyvmm.bench.workloads import CORE_WORKLOADS, EXIT_IMAGE, EXIT_ITERATIONS

pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")

SCALE = float(os.environ.get("PYVMM_BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
WORKLOADS = {w.name: w.scaled(SCALE) for w in CORE_WORKLOADS}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-images")


def image_of(workload, scratch, iterations=None):
    return sized_image(default_image_dir(), workload.image, iterations or workload.large, scratch,
                       workload.patches)


def median_seconds(benchmark):
    return benchmark.stats.stats.median


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_pyvmm(benchmark, scratch, name):
    workload = WORKLOADS[name]
    image = image_of(workload, scratch)
    limit = pyvmm_backend.instruction_limit(workload.large)
    runs = []

    def setup():
        return (pyvmm_backend.load_machine(image, workload.htif),), {}

    def run(machine):
        runs.append(pyvmm_backend.run_loaded(machine, limit))

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    assert len({(r.instret, r.output) for r in runs}) == 1, "pyvmm runs differ"
    instret = runs[0].instret
    benchmark.extra_info.update(
        workload=name, iterations=workload.large, instret=instret, output=runs[0].output.strip(),
        mips=measure.mips(instret, median_seconds(benchmark)))
    if workload.event:
        benchmark.extra_info[f"{workload.event}_per_second"] = \
            workload.large / median_seconds(benchmark)


def test_pyvmm_exits(benchmark, scratch):
    iterations = max(1, round(EXIT_ITERATIONS * SCALE))
    image = sized_image(default_image_dir(), EXIT_IMAGE, iterations, scratch)

    def setup():
        return (pyvmm_backend.load_exit_machine(image),), {}

    def run(machine):
        pyvmm_backend.run_exit_loaded(machine, iterations)

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(exits=iterations,
                                exits_per_second=iterations / median_seconds(benchmark))


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_qemu(benchmark, scratch, name):
    qemu = shutil.which(qemu_backend.QEMU_BINARY)
    if qemu is None:
        pytest.skip("qemu-system-riscv64 is not installed")
    workload = WORKLOADS[name]
    small_image, large_image = image_of(workload, scratch, workload.small), image_of(workload, scratch)
    small_insns = pyvmm_backend.run_image(small_image).instret
    large = pyvmm_backend.run_image(large_image)
    small_seconds = [qemu_backend.run_image(qemu, small_image).seconds for _ in range(ROUNDS)]

    def run():
        result = qemu_backend.run_image(qemu, large_image)
        assert result.output == large.output, "QEMU and pyvmm printed different results"

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    # The benchmark times the large run's process; the short run's times,
    # taken outside it, remove QEMU's start-up.
    benchmark.extra_info.update(workload=name, instret_small=small_insns,
                                instret_large=large.instret, small_seconds=small_seconds)
    try:
        benchmark.extra_info["mips_without_startup"] = measure.mips_without_startup(
            small_insns, small_seconds, large.instret, list(benchmark.stats.stats.data))
    except measure.MeasurementError as exc:
        benchmark.extra_info["mips_without_startup"] = None
        benchmark.extra_info["note"] = str(exc)

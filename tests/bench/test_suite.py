"""The core suite end to end at tiny sizes: structure, correctness checks and
the QEMU arithmetic on fabricated QEMU timings. No timing is asserted."""

import pytest

from pyvmm.bench import elfpatch, pyvmm_backend, qemu_backend
from pyvmm.bench.images import ITERATIONS_SYMBOL, default_image_dir, sized_image
from pyvmm.bench.suite import BenchError, run_core_suite
from pyvmm.bench.workloads import CORE_WORKLOADS, Workload

TINY = (
    Workload("compute", "compute.elf", 1, 2, "compute"),
    Workload("compute-sv39", "compute-sv39.elf", 1, 2, "paged", bare="compute"),
    Workload("traps", "traps.elf", 10, 30, "traps", event="traps"),
)


def tiny_suite(**options):
    options.setdefault("workloads", TINY)
    options.setdefault("exit_iterations", 40)
    return run_core_suite(default_image_dir(), **options)


def test_pyvmm_only_suite(core_available):
    messages = []
    result = tiny_suite(runs=2, qemu=None, progress=messages.append)
    assert result["suite"] == "core" and result["runs"] == 2 and result["host"]["qemu"] is None
    assert set(result["host"]["load_average"]) == {"start", "end"}
    compute, paged, traps = result["workloads"]
    assert compute["pyvmm"]["output"].startswith("compute iterations=2 checksum=0x")
    # the paged variant runs the same workload: the same checksum
    assert paged["pyvmm"]["output"] == compute["pyvmm"]["output"]
    assert paged["instret"]["large"] > compute["instret"]["large"] > 1_000_000
    assert traps["pyvmm"]["output"] == "traps handled=30"
    assert traps["pyvmm"]["stats"]["traps"] == {11: 30}
    for w in result["workloads"]:
        assert w["qemu"] is None and w["instret"]["small"] is None
        assert len(w["pyvmm"]["wall_seconds"]) == 2 and len(w["pyvmm"]["cpu_seconds"]) == 2
        assert w["pyvmm"]["mips"] > 0
    assert paged["pyvmm"]["fraction_of_bare"] == pytest.approx(
        paged["pyvmm"]["mips"] / compute["pyvmm"]["mips"])
    assert traps["pyvmm"]["events_per_second"] > 0
    assert result["exits"]["iterations"] == 40 and result["exits"]["exits_per_second"] > 0
    assert [g["unit"] for g in result["goals"]] == ["fraction", "per_second"]
    # round-robin: every workload's first run before any second run
    assert messages[:4] == ["compute: pyvmm run 1/2 (2 iterations)",
                            "compute-sv39: pyvmm run 1/2 (2 iterations)",
                            "traps: pyvmm run 1/2 (30 iterations)",
                            "compute: pyvmm run 2/2 (2 iterations)"]
    assert messages[-1] == "exits: pyvmm run 2/2 (40 ecalls to a Python handler)"


def test_clock_selects_the_samples(core_available):
    result = tiny_suite(runs=1, qemu=None, clock="cpu", workloads=TINY[:1], exit_iterations=0)
    compute = result["workloads"][0]
    assert result["clock"] == "cpu" and result["exits"] is None
    assert compute["pyvmm"]["mips"] == pytest.approx(
        compute["instret"]["large"] / compute["pyvmm"]["cpu_seconds"][0] / 1e6, rel=1e-3)


def fake_qemu(monkeypatch, output=None, startup=0.05, seconds_per_iteration=0.01):
    """Replace QEMU by a clock: start-up plus a fixed time per iteration,
    printing what pyvmm prints for the same image (or `output`)."""
    printed = {}

    def run_image(qemu, image, timeout=None):
        iterations = elfpatch.read_u32(image.read_bytes(), ITERATIONS_SYMBOL)
        if image not in printed:
            printed[image] = pyvmm_backend.run_image(image).output
        seconds = startup + iterations * seconds_per_iteration
        return qemu_backend.QemuRun(seconds=seconds, cpu_seconds=seconds / 2,
                                    output=printed[image] if output is None else output)

    monkeypatch.setattr(qemu_backend, "run_image", run_image)
    monkeypatch.setattr(qemu_backend, "qemu_version", lambda qemu: "fake QEMU")


def test_qemu_rate_from_the_difference_of_two_sizes(core_available, monkeypatch):
    fake_qemu(monkeypatch)
    result = tiny_suite(runs=3, qemu="fake", exit_iterations=0)
    assert result["host"]["qemu"] == "fake QEMU"
    compute, paged, traps = result["workloads"]
    for w in result["workloads"]:
        small, large = w["iterations"]["small"], w["iterations"]["large"]
        insns = w["instret"]["large"] - w["instret"]["small"]
        assert w["qemu"]["mips"] == pytest.approx(insns / ((large - small) * 0.01) / 1e6)
        assert w["qemu"]["startup_seconds"] == pytest.approx(
            0.05 + large * 0.01 - w["instret"]["large"] / (w["qemu"]["mips"] * 1e6))
        assert w["qemu"]["large"]["wall_seconds"] == [pytest.approx(0.05 + large * 0.01)] * 3
    assert traps["qemu"]["events_per_second"] == pytest.approx(100.0)
    assert paged["qemu"]["fraction_of_bare"] == pytest.approx(
        paged["qemu"]["mips"] / compute["qemu"]["mips"])
    ratio = next(g for g in result["goals"] if g["unit"] == "ratio")
    assert ratio["value"] == pytest.approx(compute["pyvmm"]["mips"] / compute["qemu"]["mips"])


def test_qemu_cpu_clock(core_available, monkeypatch):
    fake_qemu(monkeypatch)
    result = tiny_suite(runs=1, qemu="fake", clock="cpu", workloads=TINY[:1], exit_iterations=0)
    w = result["workloads"][0]
    insns = w["instret"]["large"] - w["instret"]["small"]
    assert w["qemu"]["mips"] == pytest.approx(insns / (0.01 / 2) / 1e6)


def test_disagreeing_output_is_an_error(core_available, monkeypatch):
    fake_qemu(monkeypatch, output="compute iterations=1 checksum=0x0\n")
    with pytest.raises(BenchError, match="did not run the same instructions"):
        tiny_suite(runs=1, qemu="fake", workloads=TINY[:1], exit_iterations=0)


def test_noisy_qemu_timings_are_an_error(core_available, monkeypatch):
    fake_qemu(monkeypatch, seconds_per_iteration=0.0)
    with pytest.raises(BenchError, match="compute: QEMU: .*too noisy"):
        tiny_suite(runs=1, qemu="fake", workloads=TINY[:1], exit_iterations=0)


def test_guest_that_never_finishes_is_an_error(core_available, tmp_path):
    data = bytearray((default_image_dir() / "compute.elf").read_bytes())
    entry_offset = elfpatch.file_offset(bytes(data), 0x8000_0000, 4)
    data[entry_offset:entry_offset + 4] = (0x0000006F).to_bytes(4, "little")   # j . at _start
    (tmp_path / "compute.elf").write_bytes(bytes(data))
    image = sized_image(tmp_path, "compute.elf", 1, tmp_path)
    with pytest.raises(pyvmm_backend.BenchRunError, match="ended budget"):
        pyvmm_backend.run_image(image, max_insns=10_000)


def test_htif_row_beside_plain_compute(core_available, monkeypatch):
    """compute-htif on pyvmm with the Machine's htif on, and on (fake) QEMU: the same output
    as compute, its MIPS as a fraction of compute's on both sides."""
    fake_qemu(monkeypatch)
    htif = next(w for w in CORE_WORKLOADS if w.name == "compute-htif")
    assert (htif.image, htif.bare, htif.htif) == ("compute-htif.elf", "compute", "on")
    watched = []
    real_load = pyvmm_backend.load_machine

    def load_machine(path, htif=None):
        machine = real_load(path, htif)
        watched.append((path.name, machine.htif is not None))
        return machine

    monkeypatch.setattr(pyvmm_backend, "load_machine", load_machine)
    workloads = (TINY[0], Workload("compute-htif", "compute-htif.elf", 1, 2, "htif",
                                   bare="compute", htif="on"))
    result = tiny_suite(runs=1, qemu="fake", workloads=workloads, exit_iterations=0)
    compute, htif_row = result["workloads"]
    assert (compute["htif"], htif_row["htif"]) == (None, "on")
    assert htif_row["pyvmm"]["output"] == compute["pyvmm"]["output"]
    assert htif_row["instret"] == compute["instret"]
    assert htif_row["pyvmm"]["fraction_of_bare"] == pytest.approx(
        htif_row["pyvmm"]["mips"] / compute["pyvmm"]["mips"])
    assert htif_row["qemu"]["fraction_of_bare"] == pytest.approx(
        htif_row["qemu"]["mips"] / compute["qemu"]["mips"])
    assert ("compute-htif-2.elf", True) in watched and ("compute-2.elf", False) in watched


def test_scaled_workloads_keep_two_distinct_sizes():
    for w in CORE_WORKLOADS:
        tiny = w.scaled(1e-9)
        assert (tiny.small, tiny.large) == (1, 2)
        assert tiny.name == w.name and tiny.bare == w.bare and tiny.event == w.event
    assert CORE_WORKLOADS[0].scaled(0.5).large == 208


def test_bad_arguments():
    with pytest.raises(ValueError, match="runs"):
        run_core_suite(default_image_dir(), runs=0)
    with pytest.raises(ValueError, match="scale"):
        run_core_suite(default_image_dir(), scale=0)
    with pytest.raises(ValueError, match="clock"):
        run_core_suite(default_image_dir(), clock="sundial")

"""Whole OS boots per technique, as `pyvmm bench --suite boot` runs them:
one fresh process per round (pyvmm.bench.boot_run), timed from its start to
its exit.

    pytest benchmarks/test_boot_bench.py --benchmark-json boot.json
    PYVMM_BENCH_LINUX=1 pytest benchmarks/test_boot_bench.py -k linux

The project kernel (guests/kernel) boots under every technique column;
Debian's Linux 6.12 to its /init and power-off only with PYVMM_BENCH_LINUX=1
(a boot takes seconds natively, minutes under bt), from the images in
PYVMM_BENCH_LINUX_DIR (Image, initrd.gz, disk-ext4.img) or built from
Debian's packages. `extra_info` of each entry holds the start-up, the host
seconds from the first instruction to /init's first line and to the end,
instructions retired and exits by reason of the last round, and whether the
boot printed what native printed. A column that cannot run here skips with
the reason; a boot that fails or differs from native fails the entry.
"""

import os
import tempfile

import pytest

from pyvmm.bench import boot_suite, techniques
from pyvmm.bench.kernel_workloads import default_kernel

ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
LINUX = os.environ.get("PYVMM_BENCH_LINUX") == "1"

pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="pyvmm-boot-bench-") as directory:
        yield directory


@pytest.fixture(scope="module")
def linux_files(scratch):
    if not LINUX:
        pytest.skip("Linux boots take minutes: set PYVMM_BENCH_LINUX=1 to run them")
    files, reason = boot_suite.linux_images_from(os.environ.get("PYVMM_BENCH_LINUX_DIR"),
                                                 os.path.join(scratch, "linux"))
    if files is None:
        pytest.skip(reason)
    return files


def _boot(os_name, col, files, scratch):
    spec = boot_suite.specs_for(os_name, col, str(default_kernel()), files)
    result = boot_suite.boot_once(spec, scratch, boot_suite.DEFAULT_TIMEOUT)
    error = boot_suite.run_error(os_name, result)
    assert error is None, f"{os_name} under {col.name}: {error}"
    return result


_NATIVE = {}


def _native(os_name, files, scratch):
    """Native's boot of `os_name`, the reference (booted once)."""
    if os_name not in _NATIVE:
        _NATIVE[os_name] = _boot(os_name, techniques.column("native"), files, scratch)
    return _NATIVE[os_name]


def _bench(benchmark, os_name, name, files, scratch):
    col = techniques.column(name)
    reason = techniques.unavailable_reason(col, default_kernel())
    if reason is None and os_name == "linux" and col.technique == "pv":
        reason = boot_suite.LINUX_NO_PV
    if reason is not None:
        pytest.skip(f"{name}: {reason}")
    native = _native(os_name, files, scratch)
    results = []
    benchmark.pedantic(lambda: results.append(_boot(os_name, col, files, scratch)),
                       rounds=ROUNDS if os_name == "kernel" else 1, iterations=1)
    last = results[-1]
    wanted = boot_suite.compared_text(os_name, native)
    if os_name == "linux":
        wanted = boot_suite.expected_section(wanted, native["isa"], last["isa"])
    same = boot_suite.compared_text(os_name, last) == wanted
    benchmark.extra_info.update({
        "os": os_name, "technique": name, "instructions": last["instret"],
        "exits": last["exits"], "same_as_native": same,
        **{f"{key}_s": value for key, value in last["seconds"]["wall"].items()},
    })
    assert same, f"{os_name} under {name} printed other output than native"
    assert all(r["instret"] == last["instret"] and r["exits"] == last["exits"] for r in results)


@pytest.mark.parametrize("name", techniques.COLUMN_NAMES)
def test_kernel_boot(benchmark, scratch, name):
    _bench(benchmark, "kernel", name, None, scratch)


@pytest.mark.parametrize("name", techniques.COLUMN_NAMES)
def test_linux_boot(benchmark, scratch, linux_files, name):
    _bench(benchmark, "linux", name, linux_files, scratch)

"""Start-up time of the `pyvmm` command, as a user meets it: one process per round.

    pytest benchmarks/test_startup_bench.py --benchmark-json startup.json

Each benchmark times a whole `python -m pyvmm ...` subprocess (interpreter
start, imports, argument parsing, board construction, the run, exit) for a
tiny guest, so what it measures is almost all start-up. `extra_info` holds
the same command's CPU time (user + system of the child, steadier than wall
time on a busy machine) and, for reference, the interpreter alone and the
interpreter importing the compiled core (which brings numpy): the floor
pyvmm's own start-up sits on.

Where the time goes, module by module:

    python -X importtime -m pyvmm run guests/hello.S 2> imports.txt
"""

import os
import resource
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(REPO, "guests", "hello.S")
ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "10"))

pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv, expect):
    proc = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    assert proc.returncode == expect, proc.stderr.decode(errors="replace")


def _cpu_seconds(argv, expect, rounds):
    """Median CPU seconds of `rounds` runs of argv."""
    spent = []
    for _ in range(rounds):
        before = _children_cpu()
        _run(argv, expect)
        spent.append(_children_cpu() - before)
    spent.sort()
    return spent[len(spent) // 2]


PYTHON = [sys.executable]
PYVMM = [sys.executable, "-m", "pyvmm"]

CASES = {
    "run-hello-S": (PYVMM + ["run", HELLO], 0),
    "run-help": (PYVMM + ["run", "--help"], 0),
    "version": (PYVMM + ["--version"], 0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_startup(benchmark, name):
    argv, expect = CASES[name]
    benchmark.pedantic(_run, args=(argv, expect), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    benchmark.extra_info["argv"] = " ".join(argv[1:])
    benchmark.extra_info["cpu_seconds_median"] = round(_cpu_seconds(argv, expect, ROUNDS), 4)
    benchmark.extra_info["python_alone_cpu_seconds"] = round(
        _cpu_seconds(PYTHON + ["-c", "pass"], 0, ROUNDS), 4)
    benchmark.extra_info["python_import_core_cpu_seconds"] = round(
        _cpu_seconds(PYTHON + ["-c", "import pyvmm._core"], 0, ROUNDS), 4)

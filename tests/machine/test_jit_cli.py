"""`pyvmm run --no-jit`: the interpreter alone gives the same output, instret
and counters as the default run with the translator, and --stats says which
ran and what the translator did."""

import json
import os
import platform
import subprocess

import pytest

from board_helpers import PYVMM, REPO, error_line, needs_core, run_cli

pytestmark = [needs_core]

COMPUTE = "guests/compute.S"
SAME = ("instret", "traps", "interrupts", "tlb_hits", "tlb_misses", "page_walks", "exits", "how", "status",
        "mmio")


def test_no_jit_runs_the_same_guest_the_same_way():
    with_jit = run_cli(COMPUTE, "--stats")
    without = run_cli(COMPUTE, "--stats", "--no-jit")
    assert with_jit.returncode == without.returncode == 0, (with_jit.stderr, without.stderr)
    assert with_jit.stdout == without.stdout and b"checksum" in with_jit.stdout
    on, off = json.loads(with_jit.stderr), json.loads(without.stderr)
    assert {k: on[k] for k in SAME} == {k: off[k] for k in SAME}
    assert off["jit"]["jit"] is False and off["jit"]["jit_blocks"] == 0
    if platform.machine() in ("x86_64", "AMD64"):
        assert on["jit"]["jit"] is True and on["jit"]["jit_error"] is None
        assert on["jit"]["jit_blocks"] > 10 and on["jit"]["jit_code_bytes"] > 1000
    else:
        assert on["jit"]["jit"] is False and "x86-64" in on["jit"]["jit_error"]


@pytest.mark.parametrize("name, value", [("PYVMM_JIT", "maybe"), ("PYVMM_JIT_THRESHOLD", "0")])
def test_a_bad_jit_setting_is_one_clear_line(name, value):
    proc = subprocess.run([*PYVMM, "run", COMPUTE], cwd=REPO, capture_output=True, timeout=120,
                          env={**os.environ, name: value})
    assert proc.returncode == 2
    assert f"{name} must be".encode() in proc.stderr
    assert error_line(proc).startswith("pyvmm run: error:")

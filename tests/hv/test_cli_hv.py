"""`pyvmm run --technique/--paging`: usage errors and the run through the CLI."""

import json
import subprocess
import sys

import pytest
from hv_support import KERNEL, ROOT, SBI_LOOP, needs_h, needs_shadow

from pyvmm.cli import main


def run_cli(*argv):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *argv], cwd=ROOT,
                          capture_output=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("argv, message", [
    (["--technique", "magic", KERNEL], b"--technique magic: unknown"),
    (["--technique", "hw", "--paging", "flat", KERNEL], b"expected nested or shadow"),
    (["--paging", "shadow", KERNEL], b"--paging applies to --technique"),
    (["--technique", "hw", "--bios", "/nonexistent/fw.bin", KERNEL], b"runs its own SBI"),
    (["--technique", "hw", "--trace", "in_asm", KERNEL], b"--trace is not supported"),
])
def test_usage_errors_exit_2_with_one_line(argv, message):
    status, out, err = run_cli(*argv)
    assert status == 2
    assert message in err and err.count(b"\n") == 1 and b"Traceback" not in err


def test_unknown_technique_through_main(capsys):
    assert main(["run", "--technique", "nope", KERNEL]) == 2
    assert "unknown" in capsys.readouterr().err


@needs_h
def test_missing_kernel_is_one_line():
    status, out, err = run_cli("--technique", "hw", "/nonexistent/kernel.elf")
    assert status == 2 and err.count(b"\n") == 1 and b"no such file" in err


@needs_h
@pytest.mark.parametrize("paging", ["nested", pytest.param("shadow", marks=needs_shadow)])
def test_cli_output_and_status_match_builtin(paging, tmp_path):
    native = run_cli("--bios", "builtin", KERNEL)
    stats_file = tmp_path / "stats.json"
    status, out, err = run_cli("--technique", "hw", "--paging", paging, "--stats-file", str(stats_file),
                               KERNEL)
    assert (status, out) == (native[0], native[1])
    stats = json.loads(stats_file.read_text())
    assert stats["paging"] == paging and stats["status"] == 0 and stats["exits"]["sbi"] > 0
    assert stats["insns_per_exit"] > 0


@needs_h
def test_kernel_given_with_dash_dash_kernel():
    status, out, err = run_cli("--technique", "hw", "--kernel", SBI_LOOP)
    assert (status, out) == (0, b"sbi_loop: 100000 calls answered\n")


@needs_h
def test_cli_budget_status_124():
    status, out, err = run_cli("--technique", "hw", "--max-insns", "5000", SBI_LOOP)
    assert status == 124

"""`pyvmm host` and `pyvmm run --host-harts/--scheduler`: several VMs from
the command line, their consoles apart, the report with --stats, bad
options in one line with exit status 2."""

import json
import os
import subprocess
import sys

import pytest

from hv_support import needs_h
from sched_support import ROOT, SMP_TOUR, SPIN, TICKER, TICKER_OUTPUT
from support.smp_tour import tour_output

pytestmark = needs_h


def pyvmm(*argv, timeout=180):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pyvmm", *argv], cwd=ROOT, env=env,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def prefixed(name, output):
    return b"".join(b"[" + name.encode() + b"] " + line + b"\n" for line in output.splitlines())


def lines_of(stdout, name):
    tag = b"[" + name.encode() + b"] "
    return b"".join(line + b"\n" for line in stdout.splitlines() if line.startswith(tag))


def test_two_vms_and_a_partition_with_their_consoles_apart():
    proc = pyvmm("host", "--harts", "3", "--scheduler", "credit", "--stats",
                 "--vm", f"{TICKER},name=ticker,weight=512",
                 "--vm", f"{SMP_TOUR},vcpus=3,memory=32",
                 "--vm", f"{SMP_TOUR},name=part,partition=1-2")
    assert proc.returncode == 0, proc.stderr
    assert lines_of(proc.stdout, "ticker") == prefixed("ticker", TICKER_OUTPUT)
    assert lines_of(proc.stdout, "vm2") == prefixed("vm2", tour_output(3))
    assert lines_of(proc.stdout, "part") == prefixed("part", tour_output(2))
    report = json.loads(proc.stderr)
    host = report["host"]
    assert host["harts"] == 3 and host["policy"]["policy"] == "credit"
    assert host["vms"]["ticker"]["weight"] == 512
    assert host["vms"]["part"]["harts"] == [1, 2] and host["vms"]["part"]["scheduler"] == "partition"
    latency = host["vms"]["ticker"]["latency"]
    assert latency["count"] == 100 and latency["p99_us"] is not None
    assert report["vms"]["vm2"]["vcpus"] == 3 and report["vms"]["vm2"]["sched"]["scheduler"] == "credit"


def test_serial_dir_and_budget_status(tmp_path):
    proc = pyvmm("host", "--harts", "2", "--scheduler", "credit", "--max-insns", "20M",
                 "--serial-dir", str(tmp_path),
                 "--vm", f"{SPIN},vcpus=2,cap=50", "--vm", f"{TICKER},name=t")
    assert proc.returncode == 124, proc.stderr          # the hog ran until the budget
    assert proc.stdout == b""
    assert (tmp_path / "vm1.log").read_bytes() == b"spin: counting\n"
    assert (tmp_path / "t.log").read_bytes() == TICKER_OUTPUT


def test_same_output_and_counters_on_every_run():
    argv = ("host", "--harts", "2", "--scheduler", "credit", "--max-insns", "30M", "--stats",
            "--vm", f"{SPIN},weight=128", "--vm", f"{SMP_TOUR},vcpus=4")
    first, second = pyvmm(*argv), pyvmm(*argv)
    assert first.returncode == second.returncode == 124
    assert first.stdout == second.stdout
    strip = ("host_seconds", "run_seconds", "exits_per_second", "mips")
    reports = []
    for proc in (first, second):
        report = json.loads(proc.stderr)
        for stats in report["vms"].values():
            for key in strip:
                stats.pop(key, None)
        reports.append(report)
    assert reports[0] == reports[1]


@pytest.mark.parametrize("argv,message", [
    (["--harts", "9", "--vm", SPIN], "a host has 1..8 harts, not 9"),
    (["--vm", f"{SPIN},colour=red"], "unknown key 'colour'"),
    (["--vm", f"{SPIN},vcpus=two"], "vcpus='two' is not a number"),
    (["--vm", f"{SPIN},vcpus=9"], "a VM has 1..8 VCPUs, not 9"),
    (["--scheduler", "credit", "--vm", f"{SPIN},weight=0"], "weight must be 1..65535"),
    (["--scheduler", "credit", "--vm", f"{SPIN},cap=101"], "cap must be 0..100"),
    (["--vm", f"{SPIN},cap=10"], "vm1: weight= and cap= need a weighted scheduler"),
    (["--vm", f"{SPIN},memory=lots"], "bad size 'lots'"),
    (["--harts", "2", "--vm", f"{SPIN},partition=0"], "hart 0 stays the host's"),
    (["--harts", "2", "--vm", f"{SPIN},partition=1", "--vm", f"{SPIN},partition=1"],
     "partition hart 1 is already dedicated to vm1"),
    (["--harts", "2", "--vm", f"{SPIN},partition=1,cap=5"], "weight= and cap= do not apply"),
    (["--vm", SPIN, "--vm", f"{SPIN},name=vm1"], "two VMs are named vm1"),
    (["--scheduler", "lottery", "--vm", SPIN], "unknown scheduler 'lottery'"),
    (["--vm", "no-such-image.elf"], "no-such-image.elf"),
    ([], "give at least one --vm"),
    (["--harts", "two", "--vm", SPIN], "argument --harts: invalid int value"),
])
def test_bad_options_one_line_exit_2(argv, message):
    proc = pyvmm("host", *argv, "--max-insns", "1000")
    assert proc.returncode == 2
    assert proc.stderr.count(b"\n") == 1 and message.encode() in proc.stderr, proc.stderr
    assert proc.stderr.startswith(b"pyvmm host: error: ")


@pytest.mark.parametrize("harts,scheduler", [("2", "credit"), ("3", "round-robin")])
def test_run_smp_vm_on_fewer_host_harts(harts, scheduler):
    proc = pyvmm("run", "--technique", "hw", "--smp", "4", "--host-harts", harts,
                 "--scheduler", scheduler, "--stats", SMP_TOUR)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == tour_output(4)
    stats = json.loads(proc.stderr)
    assert stats["sched"]["scheduler"] == scheduler and len(stats["sched"]["vcpus"]) == 4


@pytest.mark.parametrize("argv,message", [
    (["--host-harts", "2", SMP_TOUR], "--host-harts applies to --technique hw"),
    (["--technique", "hw", "--host-harts", "0", SMP_TOUR], "a host has 1..8 harts, not 0"),
    (["--technique", "hw", "--scheduler", "fair", SMP_TOUR], "unknown scheduler 'fair'"),
])
def test_run_bad_host_options(argv, message):
    proc = pyvmm("run", *argv)
    assert proc.returncode == 2 and message.encode() in proc.stderr, proc.stderr
    assert proc.stderr.count(b"\n") == 1

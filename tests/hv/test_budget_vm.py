"""--max-insns is a hard limit in a VM too: a guest whose trap handler
faults into itself ends with status 124 under --technique hw, nested and
shadow, and a signal stops a VM's run with its --stats written."""

import faulthandler
import json
import signal
import subprocess
import sys

import pytest

from hv_support import ROOT, needs_h, needs_shadow
from support.signals import as_in_the_foreground
from support.storm_guests import ILLEGAL_STORM_S as ILLEGAL_STORM
from support.storm_guests import MMIO_STORM_S as MMIO_STORM
from support.storm_guests import SPIN_AFTER_LINE

pytestmark = needs_h

SAFETY_TIMEOUT = 120        # seconds: only so that a regression fails instead of hanging

PAGINGS = [pytest.param("nested"), pytest.param("shadow", marks=needs_shadow)]


def pyvmm_run(*argv):
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *map(str, argv)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=SAFETY_TIMEOUT)


@pytest.mark.parametrize("paging", PAGINGS)
@pytest.mark.parametrize("source", [MMIO_STORM, ILLEGAL_STORM], ids=["mmio", "illegal"])
def test_a_faulting_handler_uses_the_vms_budget_up(tmp_path, paging, source):
    kernel = tmp_path / "storm.S"
    kernel.write_text(source)
    stats_file = tmp_path / "stats.json"
    proc = pyvmm_run("--technique", "hw", "--paging", paging, "--max-insns", "200000",
                     "--stats-file", stats_file, kernel)
    assert proc.returncode == 124, proc.stderr
    stats = json.loads(stats_file.read_text())
    assert stats["how"] == "budget" and stats["status"] == 124
    assert stats["instret"] < 10


def test_the_scheduler_charges_a_slice_spent_on_traps(tmp_path):
    """RoundRobin.run_slice: a budget exit with nothing retired used its whole slice."""
    from pyvmm.hv import Host
    from pyvmm.hv.scheduler import RoundRobin
    kernel = tmp_path / "storm.S"
    kernel.write_text(ILLEGAL_STORM)
    host = Host(ram_size=96 << 20)
    vm = host.create_vm(ram_size=64 << 20, paging="nested", technique="hw", console=None)
    # a regression (a run that never ends) kills the test process with a
    # traceback instead of hanging the suite
    faulthandler.dump_traceback_later(SAFETY_TIMEOUT, exit=True)
    try:
        vm.load(kernel)
        scheduler = RoundRobin(host, vms=[vm], slice_insns=1000)
        results = scheduler.run(max_insns=10_000)
        assert results[vm].how == "budget"
        assert vm.vcpus[0].instret < 10
        assert scheduler.slices <= 11
    finally:
        faulthandler.cancel_dump_traceback_later()
        vm.close()


@pytest.mark.parametrize("signum, status, how", [(signal.SIGTERM, 143, "sigterm"),
                                                 (signal.SIGINT, 130, "sigint")],
                         ids=["sigterm", "sigint"])
def test_a_signal_stops_the_vm_and_the_stats_are_written(tmp_path, signum, status, how):
    kernel = tmp_path / "spin.S"
    kernel.write_text(SPIN_AFTER_LINE)
    stats_file = tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, "-m", "pyvmm", "run", "--technique", "hw",
                             "--stats-file", str(stats_file), str(kernel)], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=as_in_the_foreground)
    try:
        assert proc.stdout.readline() == b"R\n"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=SAFETY_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    assert err == b""
    stats = json.loads(stats_file.read_text())
    assert stats["how"] == how and stats["status"] == status
    assert stats["technique"] == "hw"

"""--max-insns is a hard limit however the guest spends it, and every way a
run stops (budget, Ctrl-C, SIGTERM) still writes --stats.

The guests here trap for ever without retiring an instruction: their trap
handler itself faults. Each run goes through the CLI with a subprocess
timeout only as a safety net; the status checked is the documented 124.
"""

import contextlib
import faulthandler
import json
import os
import signal
import subprocess
import sys

import pytest

from board_helpers import REPO, needs_core, run_cli
from support.signals import as_in_the_foreground
from support.storm_guests import (ILLEGAL_STORM_M, ILLEGAL_STORM_S, MMIO_STORM_M, MMIO_STORM_S,
                                  SPIN_AFTER_LINE)

pytestmark = needs_core

SAFETY_TIMEOUT = 120        # seconds: only so that a regression fails instead of hanging


@contextlib.contextmanager
def safety_net():
    """In-process runs: a regression (a run that never ends) kills the test
    process with a traceback after SAFETY_TIMEOUT instead of hanging the suite."""
    faulthandler.dump_traceback_later(SAFETY_TIMEOUT, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def guest(tmp_path, name, text):
    path = tmp_path / f"{name}.S"
    path.write_text(text)
    return path


def storm_stats(tmp_path, source, *options, max_insns=20_000):
    stats_file = tmp_path / "stats.json"
    proc = run_cli(*options, "--max-insns", max_insns, "--stats-file", stats_file,
                   guest(tmp_path, "storm", source), timeout=SAFETY_TIMEOUT)
    assert proc.returncode == 124, proc.stderr
    stats = json.loads(stats_file.read_text())
    assert stats["how"] == "budget" and stats["status"] == 124
    return stats


@pytest.mark.parametrize("options", [[], ["--smp", "2"]], ids=["one-hart", "two-harts"])
def test_a_handler_faulting_on_mmio_in_m_mode_uses_the_budget_up(tmp_path, options):
    stats = storm_stats(tmp_path, MMIO_STORM_M, *options)
    # Each round trip through Python retires nothing and costs one unit.
    assert stats["instret"] < 20
    assert stats["stalled_exits"] >= 20_000 - 10
    assert stats["stalled_exits"] < stats["mmio_faults"] <= stats["stalled_exits"] + 2


def test_an_illegal_handler_in_m_mode_uses_the_budget_up(tmp_path):
    stats = storm_stats(tmp_path, ILLEGAL_STORM_M)
    assert stats["instret"] < 10
    assert sum(stats["traps"].values()) >= 20_000 - 10


@pytest.mark.parametrize("source", [MMIO_STORM_S, ILLEGAL_STORM_S], ids=["mmio", "illegal"])
def test_a_faulting_s_mode_handler_under_the_builtin_sbi_uses_the_budget_up(tmp_path, source):
    stats = storm_stats(tmp_path, source, "--bios", "builtin")
    assert stats["instret"] < 10
    assert stats["stalled_exits"] >= 20_000 - 10


def test_a_guest_that_only_retires_stops_after_exactly_the_budget(tmp_path):
    stats_file = tmp_path / "stats.json"
    proc = run_cli("--max-insns", "54321", "--stats-file", stats_file,
                   guest(tmp_path, "spin", SPIN_AFTER_LINE), timeout=SAFETY_TIMEOUT)
    assert proc.returncode == 124, proc.stderr
    stats = json.loads(stats_file.read_text())
    assert stats["instret"] == 54321 and stats["stalled_exits"] == 0


def test_the_machine_api_counts_stalled_exits_against_max_insns(tmp_path):
    from pyvmm.machine import Machine
    with Machine(console=None) as m, safety_net():
        m.load(guest(tmp_path, "storm", MMIO_STORM_M))
        result = m.run(max_insns=500)
        assert result.how == "budget"
        # (the last unit or so may be a trap taken inside the core, on a budget exit)
        assert 498 <= m.core.instret + m.stalled_exits <= 500
        # and it runs on for another budget when asked to, as any budget stop does
        assert m.run(max_insns=300).how == "budget"
        assert 796 <= m.core.instret + m.stalled_exits <= 800


# -- --stats and --stats-file ---------------------------------------------------------------

def test_plain_stats_writes_to_stderr_at_any_position(tmp_path):
    image = guest(tmp_path, "spin", SPIN_AFTER_LINE)
    for argv in (["--stats", image, "--max-insns", "1000"],
                 [image, "--stats", "--max-insns", "1000"],
                 [image, "--max-insns", "1000", "--stats"]):
        proc = run_cli(*argv, timeout=SAFETY_TIMEOUT)
        assert proc.returncode == 124, proc.stderr
        assert proc.stdout == b"R\n"
        assert json.loads(proc.stderr)["instret"] == 1000


def test_stats_file_writes_the_file_and_leaves_stderr_alone(tmp_path):
    stats_file = tmp_path / "out.json"
    proc = run_cli(guest(tmp_path, "spin", SPIN_AFTER_LINE), "--stats-file", stats_file,
                   "--max-insns", "1000", timeout=SAFETY_TIMEOUT)
    assert proc.returncode == 124 and proc.stderr == b""
    assert json.loads(stats_file.read_text())["how"] == "budget"


def test_stats_no_longer_takes_the_image_as_its_file(tmp_path):
    # `--stats IMAGE` used to write the counters over IMAGE's name and run nothing
    image = guest(tmp_path, "spin", SPIN_AFTER_LINE)
    before = image.read_text()
    proc = run_cli("--max-insns", "1000", "--stats", image, timeout=SAFETY_TIMEOUT)
    assert proc.returncode == 124 and proc.stdout == b"R\n"
    assert image.read_text() == before


# -- signals -----------------------------------------------------------------------------

def start_spinner(tmp_path, *options, stderr=subprocess.PIPE):
    proc = subprocess.Popen([sys.executable, "-m", "pyvmm", "run", *options,
                             str(guest(tmp_path, "spin", SPIN_AFTER_LINE))],
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr, preexec_fn=as_in_the_foreground)
    assert proc.stdout.readline() == b"R\n"     # the guest is running
    return proc


@pytest.mark.parametrize("options", [[], ["--bios", "builtin"], ["--smp", "2"]],
                         ids=["bios-none", "bios-builtin", "smp"])
@pytest.mark.parametrize("signum, status, how", [(signal.SIGTERM, 143, "sigterm"),
                                                 (signal.SIGINT, 130, "sigint")],
                         ids=["sigterm", "sigint"])
def test_a_signal_stops_the_run_and_the_stats_are_written(tmp_path, options, signum, status, how):
    stats_file = tmp_path / "stats.json"
    proc = start_spinner(tmp_path, "--stats-file", stats_file, *options)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=SAFETY_TIMEOUT)
    assert proc.returncode == status, err
    assert b"Traceback" not in err
    stats = json.loads(stats_file.read_text())
    assert stats["how"] == how and stats["status"] == status
    assert stats["instret"] >= 5


def test_sigterm_writes_plain_stats_to_stderr(tmp_path):
    proc = start_spinner(tmp_path, "--stats")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=SAFETY_TIMEOUT)
    assert proc.returncode == 143
    assert json.loads(err)["how"] == "sigterm"


# -- the progress line ---------------------------------------------------------------------

def test_no_progress_line_when_stderr_is_a_pipe(tmp_path):
    # Long enough for the line to appear on a terminal (run_control.PROGRESS_AFTER).
    from pyvmm.machine.run_control import PROGRESS_AFTER, PROGRESS_EVERY
    proc = start_spinner(tmp_path)
    try:
        proc.wait(timeout=PROGRESS_AFTER + 3 * PROGRESS_EVERY)
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=SAFETY_TIMEOUT)
    assert proc.returncode == 143
    assert err == b""


def test_progress_line_on_a_terminal(tmp_path):
    import pty
    import select

    leader, follower = pty.openpty()
    try:
        proc = start_spinner(tmp_path, stderr=follower)
    finally:
        os.close(follower)
    seen = b""
    try:
        while b"MIPS" not in seen:
            ready, _, _ = select.select([leader], [], [], SAFETY_TIMEOUT)
            assert ready, f"no progress line; the terminal got {seen!r}"
            seen += os.read(leader, 4096)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=SAFETY_TIMEOUT)
        # the line is cleared when the run ends
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:     # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143
    text = seen.decode()
    assert "pyvmm: " in text and " instructions, " in text and " MIPS, " in text
    assert text.endswith("\r\x1b[K")

"""Processes: fork, pipes, wait4, execve (guests/user/fork.c), and the Python API."""

import os

from conftest import pyvmm_user

from pyvmm.user import run_program


def test_fork_pipe_wait_execve(root):
    proc = pyvmm_user("--root", root, "--cwd", "/bin", "/bin/fork")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines() == [
        "message from the child"] * 3 + [
        "parent read 69 bytes, then EOF",
        "wait4 = child: 1, exit status 42",
        "wait4 again = -10",
        "hello",
        "exec'd child exit status 5",
    ]


def test_execve_of_a_missing_program_fails_in_the_child(root):
    proc = pyvmm_user("--root", root, "--cwd", "/bin", "/bin/fork", "nothere")
    lines = proc.stdout.decode().splitlines()
    assert "execve failed: -2" in lines
    assert lines[-1] == "exec'd child exit status 99"


def test_run_program_api(root, tmp_path):
    out = tmp_path / "out.txt"
    stats = {}
    with open(out, "wb") as f:
        status = run_program(["/bin/cat", "/etc/motd"], root=str(root), stdout=f.fileno(), stats=stats)
    assert status == 0
    assert out.read_bytes() == b"inside the root\n"
    assert stats["syscalls"]["openat"] == 1
    assert stats["processes"] == 1


def test_run_program_api_reports_signals(root, tmp_path):
    r, w = os.pipe()
    with open(tmp_path / "out", "wb") as f:
        status = run_program(["/bin/fault", "null"], root=str(root), stdout=f.fileno(), stderr=w)
    os.close(w)
    message = os.read(r, 4096)
    os.close(r)
    assert status == 139
    assert b"SIGSEGV" in message

"""`pyvmm run --monitor`: a monitor on a TCP port, the console's Ctrl-a escapes, bad specs."""

import os
import socket
import subprocess
import sys

import pytest

pytest.importorskip("pyvmm._core")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPIN = """
    .globl _start
_start:
    li t0, 0
loop:
    addi t0, t0, 1
    j loop
"""


@pytest.fixture
def spin(tmp_path):
    path = tmp_path / "spin.S"
    path.write_text(SPIN)
    return str(path)


def _pyvmm(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "pyvmm", "run", *args], cwd=REPO, **kwargs)


def _until_prompt(stream):
    data = b""
    while not data.endswith(b"(pyvmm) "):
        byte = stream.read(1)
        if not byte:
            raise AssertionError(f"the monitor closed the connection after {data!r}")
        data += byte
    return data.decode()


def test_monitor_over_tcp(spin):
    # The guest spins for ever: only `quit` ends the run (the budget is a safety net).
    proc = _pyvmm(spin, "--monitor", "tcp:127.0.0.1:0", "--max-insns", "20G",
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        assert line.startswith("pyvmm: monitor listening on tcp:127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            stream = conn.makefile("rb")
            assert _until_prompt(stream) == \
                "pyvmm monitor - type 'help' for more information\r\n(pyvmm) "
            conn.sendall(b"stop\n")
            assert _until_prompt(stream) == "(pyvmm) "
            conn.sendall(b"info status\ninfo cpus\n")
            assert _until_prompt(stream) == "VM status: paused\r\n(pyvmm) "
            cpus = _until_prompt(stream)
            assert cpus.startswith("* CPU #0: pc=0x00000000800000") and "priv=M (running)" in cpus
            # stopped: the guest stands still between two looks
            conn.sendall(b"info registers\n")
            first = _until_prompt(stream)
            conn.sendall(b"info registers\n")
            assert _until_prompt(stream) == first
            conn.sendall(b"cont\nbogus\n")
            assert _until_prompt(stream) == "(pyvmm) "
            assert _until_prompt(stream) == "unknown command: 'bogus'\r\n(pyvmm) "
            conn.sendall(b"quit\n")
            assert stream.read() == b""
        assert proc.wait(timeout=60) == 0
        assert proc.stdout.read() == b""
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _keys(tmp_path, keys):
    """Keys as a file on stdin: all there before the guest starts, so the
    monitor's answers do not depend on when a pipe delivers them."""
    path = tmp_path / "keys"
    path.write_bytes(keys)
    return open(path, "rb")


def test_ctrl_a_escapes_on_stdin(spin, tmp_path):
    keys = b"\x01cinfo cpus\nx /2i 0x80000000\n\x01c\x01x"
    with _keys(tmp_path, keys) as stdin:
        proc = _pyvmm(spin, "--monitor", "stdio", "--max-insns", "50M",
                      stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == b""
    text = out.decode()
    assert text.startswith("pyvmm monitor - type 'help' for more information\n(pyvmm) * CPU #0: "
                           "pc=0x0000000080000000 priv=M (running)\n(pyvmm) 0x0000000080000000:  ")
    assert text.endswith("(pyvmm) pyvmm: Terminated\n")


def test_ctrl_a_x_quits_with_a_tcp_monitor_too(spin):
    proc = _pyvmm(spin, "--monitor", "tcp:127.0.0.1:0", "--max-insns", "50M",
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(b"\x01c\x01x", timeout=120)
    assert proc.returncode == 0
    assert out == b"pyvmm: Terminated\n"


@pytest.mark.parametrize("spec", ["tcp:127.0.0.1", "telnet:1.2.3.4:5", "tcp:127.0.0.1:4444,wait=on"])
def test_a_bad_monitor_spec_is_one_line(spin, spec):
    proc = _pyvmm(spin, "--monitor", spec, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyvmm run: error: --monitor ")


def test_a_busy_port_is_one_line(spin):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = _pyvmm(spin, "--monitor", f"tcp:127.0.0.1:{port}", stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode().startswith(f"pyvmm run: error: --monitor tcp:127.0.0.1:{port}: cannot listen")
    assert err.count(b"\n") == 1


def test_the_monitor_under_a_technique(tmp_path):
    with _keys(tmp_path, b"\x01cinfo cpus\ninfo mtree\n\x01x") as stdin:
        proc = _pyvmm("--technique", "hw", "guests/kernel/kernel.elf", "--monitor", "stdio",
                      stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=120)
    if b"no H extension" in err:
        pytest.skip("the core has no H extension")
    assert proc.returncode == 0, err
    text = out.decode()
    assert "(pyvmm) * CPU #0: pc=0x0000000080200000 priv=S (running)\n" in text
    assert "address-space: vm1 guest-physical\n" in text
    assert text.endswith("pyvmm: Terminated\n")

"""Two real pyvmm processes on 127.0.0.1: a destination waiting on an
ephemeral port and a source migrating to it, plus the uninterrupted run
they are compared with."""

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = os.path.join(ROOT, "guests")
TIMEOUT = 300
_WAITING = re.compile(rb"waiting for a migration on tcp:127\.0\.0\.1:(\d+)")


def env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def pyvmm_run(*args):
    return [sys.executable, "-m", "pyvmm", "run", *map(str, args)]


class Destination:
    """`pyvmm run --incoming tcp:127.0.0.1:0 ...` in the background; .port
    once it listens; .finish() -> (status, stdout, stderr)."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(pyvmm_run("--incoming", "tcp:127.0.0.1:0", *args), cwd=ROOT,
                                     env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = self.proc.stderr.readline()
        match = _WAITING.search(first)
        if match is None:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the destination did not listen: {first + err!r}")
        self.port = int(match.group(1))
        self.address = f"tcp:127.0.0.1:{self.port}"
        self._out = []
        self._err = []
        self._readers = [threading.Thread(target=lambda: self._out.append(self.proc.stdout.read())),
                         threading.Thread(target=lambda: self._err.append(self.proc.stderr.read()))]
        for reader in self._readers:
            reader.start()

    def finish(self):
        status = self.proc.wait(timeout=TIMEOUT)
        for reader in self._readers:
            reader.join()
        return status, b"".join(self._out), b"".join(self._err)

    def kill(self):
        self.proc.kill()
        return self.finish()


def run(*args, stats=None):
    """A pyvmm run to its end -> (CompletedProcess, stats dict or None)."""
    command = pyvmm_run(*args) + (["--stats-file", stats] if stats else [])
    proc = subprocess.run(command, cwd=ROOT, env=env(), capture_output=True, timeout=TIMEOUT)
    report = None
    if stats and os.path.exists(stats):
        with open(stats) as f:
            report = json.load(f)
    return proc, report


def reference(image, *options):
    """The uninterrupted run through the API: (output, instret, RAM SHA-256)."""
    import io

    from pyvmm.machine.cli import parse_size
    from pyvmm.machine.machine import Machine
    kwargs = {}
    opts = list(options)
    while opts:
        name, value = opts.pop(0), opts.pop(0)
        if name == "--ram":
            kwargs["ram_size"] = parse_size(value)
        elif name == "--smp":
            kwargs["smp"] = int(value)
        elif name == "--bios":
            kwargs["bios"] = value
        elif name == "--bootargs":
            kwargs["bootargs"] = value
        else:
            raise ValueError(name)
    console = io.BytesIO()
    with Machine(console=console, **kwargs) as machine:
        machine.load(image)
        result = machine.run()
        digest = hashlib.sha256(memoryview(machine.core.ram_buffer)).hexdigest()
        return console.getvalue(), machine.stats()["instret"], result.status, digest


class Recorder:
    """A fake destination: accepts one connection and keeps every byte up to
    the END record (or the first `close_after` bytes), then hangs up without
    answering RESUMED."""

    def __init__(self, close_after=None):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.address = f"tcp:127.0.0.1:{self.server.getsockname()[1]}"
        self.close_after = close_after
        self.data = bytearray()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self):
        from pyvmm.migration import stream
        conn, _ = self.server.accept()
        self.server.close()
        with conn:
            def recv_exactly(n):
                want = n if self.close_after is None else min(n, self.close_after - len(self.data))
                parts = b""
                while len(parts) < want:
                    chunk = conn.recv(want - len(parts))
                    if not chunk:
                        break
                    parts += chunk
                self.data.extend(parts)
                return parts
            try:
                reader = stream.StreamReader(recv_exactly)
                while reader.record()[0] != stream.END:
                    continue        # read to the end or the cut
            except stream.MigrationError:
                pass        # close_after cut the stream short: that is the point

    def join(self):
        self.thread.join(TIMEOUT)
        return bytes(self.data)


def replay(data, *destination_args):
    """Send `data` to a fresh destination process -> (status, stdout, stderr)."""
    destination = Destination(*destination_args)
    with socket.create_connection(("127.0.0.1", destination.port)) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass        # the destination may refuse the stream before it is all sent
    return destination.finish()


def error_lines(stderr):
    """stderr without the destination's 'waiting' line."""
    return [line for line in stderr.decode().splitlines() if "waiting for a migration" not in line]


def migrate(tmp_path, image, at, *options):
    """Source and destination -> (source proc, source stats, destination
    (status, stdout, stderr), destination stats)."""
    destination = Destination("--stats-file", tmp_path / "dst.json")
    source, source_stats = run(image, *options, "--migrate", destination.address,
                               "--migrate-at", at, stats=str(tmp_path / "src.json"))
    status, out, err = destination.finish()
    with open(tmp_path / "dst.json") as f:
        destination_stats = json.load(f)
    return source, source_stats, (status, out, err), destination_stats


def check_continues(expected, source, destination, destination_stats):
    """`expected`: the uninterrupted run's (output, instret, status, RAM
    SHA-256); the migrated run, split between source and destination, gave it."""
    out, instret, status, digest = expected
    assert source.returncode == 0, source.stderr
    assert b"the VM migrated to tcp:127.0.0.1:" in source.stderr
    assert destination[0] == status == 0, destination[2]
    # the source printed up to the pause, the destination from there on
    assert source.stdout + destination[1] == out
    assert destination[1], "the destination ran part of the guest"
    assert destination_stats["instret"] == instret
    assert destination_stats["migration"]["final_ram_sha256"] == digest


def check_destination_killed_mid_stream(tmp_path, image, options, expected):
    """Kill the destination once round 2 is under way: the source reports one
    failed migration and runs `image` on to the end `expected` (the
    uninterrupted run's output, instret, status, RAM SHA-256) describes."""
    destination = Destination()
    source = subprocess.Popen(pyvmm_run(image, *options, "--migrate", destination.address,
                                        "--migrate-at", "5M", "--stats-file", tmp_path / "src.json"),
                              cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    while b"migration round 2:" not in seen:
        line = source.stderr.readline()
        assert line, f"the source ended before round 2: {seen!r}"
        seen += line
    destination.kill()
    out, err = source.communicate(timeout=TIMEOUT)
    err = seen + err
    output, instret, status, digest = expected
    assert source.returncode == status == 0
    assert out == output
    failures = [line for line in err.decode().splitlines() if "migration failed" in line]
    assert len(failures) == 1 and "runs on here" in failures[0]
    assert b"migrated to" not in err
    with open(tmp_path / "src.json") as f:
        stats = json.load(f)
    assert stats["instret"] == instret
    assert stats["migration"]["final_ram_sha256"] == digest

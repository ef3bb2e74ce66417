"""Fixtures for the `pyvmm user` tests: the test programs of guests/user
built with riscv64-unknown-elf-gcc into a temporary root, and a helper that
runs `pyvmm user` as a user would (a subprocess of the CLI)."""

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = os.path.join(REPO, "guests", "user")
CC = "riscv64-unknown-elf-gcc"
CFLAGS = ["-nostdlib", "-static", "-march=rv64imac_zicsr", "-mabi=lp64", "-O2", "-fno-builtin",
          "-ffreestanding", "-Wall"]
PROGRAMS = ("hello", "args", "cat", "ls", "mem", "fault", "unknown", "files", "fork")
# The environment a run gets under both pyvmm (its default) and qemu-riscv64 (env -i).
GUEST_PATH = "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def build_program(name, out_dir):
    """Compile guests/user/NAME.c with the raw-syscall runtime into out_dir/NAME."""
    out = os.path.join(out_dir, name)
    cmd = [CC, *CFLAGS, "-o", out, os.path.join(GUESTS, "start.S"), os.path.join(GUESTS, name + ".c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def programs(tmp_path_factory):
    """A directory holding every test program, built once per session."""
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} is not installed (apt-get install gcc-riscv64-unknown-elf)")
    out = str(tmp_path_factory.mktemp("user-programs"))
    for name in PROGRAMS:
        build_program(name, out)
    return out


@pytest.fixture
def root(programs, tmp_path):
    """A fresh root directory with the programs in /bin and a few files."""
    r = tmp_path / "root"
    (r / "bin").mkdir(parents=True)
    for name in PROGRAMS:
        shutil.copy2(os.path.join(programs, name), r / "bin" / name)
    (r / "etc").mkdir()
    (r / "etc" / "motd").write_text("inside the root\n")
    (r / "data").mkdir()
    (r / "data" / "b.txt").write_text("bee\n")
    (r / "data" / "a.txt").write_text("ay\n")
    os.symlink("a.txt", r / "data" / "link")
    return r


def pyvmm_user(*args, cwd=None, stdin=None):
    """Run `python -m pyvmm user ARGS...`; returns the CompletedProcess (bytes)."""
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "pyvmm", "user", *map(str, args)], cwd=cwd,
                          capture_output=True, stdin=subprocess.DEVNULL if stdin is None else stdin, env=env)

"""The same static programs under `pyvmm user` and Debian's qemu-riscv64:
the same stdout and the same exit status.

Both run from the root directory with the same environment (pyvmm's
default, `env -i` for qemu), so relative paths name the same files. Lines
that differ by design are compared apart: AT_RANDOM (a seed of each),
AT_HWCAP (qemu's CPU has F and D) and the order of auxv entries.
"""

import os
import shutil
import subprocess

import pytest

from conftest import GUEST_PATH, pyvmm_user

QEMU = shutil.which("qemu-riscv64")
needs_qemu = pytest.mark.skipif(QEMU is None, reason="qemu-riscv64 is not installed (apt-get install qemu-user)")


def qemu(root, *argv):
    return subprocess.run(["env", "-i", GUEST_PATH, QEMU, *map(str, argv)], cwd=root, capture_output=True,
                          stdin=subprocess.DEVNULL)


def both(root, *argv):
    ours = pyvmm_user("--root", root, *argv)
    theirs = qemu(root, *argv)
    return ours, theirs


@needs_qemu
@pytest.mark.parametrize("argv", [
    ("bin/hello",), ("bin/hello", "3"),
    ("bin/cat", "etc/motd", "data/a.txt", "data/link", "nothere"),
    ("bin/ls", "data"),
    ("bin/mem",),
    ("bin/unknown",),
])
def test_same_output_and_status(root, argv):
    ours, theirs = both(root, *argv)
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode


@needs_qemu
def test_fork_pipe_wait_like_qemu(root):
    # qemu-user hands execve to the host, which runs a RISC-V program only
    # through binfmt_misc: the exec step is compared with a missing program
    ours = pyvmm_user("--root", root, "--cwd", "/bin", "/bin/fork", "nothere")
    theirs = subprocess.run(["env", "-i", GUEST_PATH, QEMU, "fork", "nothere"], cwd=root / "bin",
                            capture_output=True)
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode == 0


@needs_qemu
def test_argv_envp_and_auxv_like_qemu(root):
    ours, theirs = both(root, "bin/args", "one", "two words")

    def comparable(out):
        return sorted(line for line in out.decode().splitlines()
                      if not line.startswith(("AT_RANDOM=", "AT_HWCAP=")))

    assert comparable(ours.stdout) == comparable(theirs.stdout)
    assert ours.returncode == theirs.returncode == 0


@needs_qemu
@pytest.mark.parametrize("what, status", [("null", 139), ("ill", 132)])
def test_fatal_signals_like_qemu(root, what, status):
    ours, theirs = both(root, "bin/fault", what)
    assert ours.stdout == theirs.stdout == b"before\n"
    # qemu-user re-raises the signal on itself, so its status is -signal
    assert ours.returncode == status
    assert theirs.returncode in (status, -(status - 128))


@needs_qemu
def test_writes_in_a_writable_root_like_qemu(root, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(root, other, symlinks=True)
    (root / "existing.txt").write_text("keep\n")
    (other / "existing.txt").write_text("keep\n")
    ours = pyvmm_user("--root", root, "--writable", "bin/files")
    theirs = qemu(other, "bin/files")
    assert ours.stdout == theirs.stdout
    assert sorted(os.listdir(root)) == sorted(os.listdir(other))

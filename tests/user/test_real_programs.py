"""Real C-library programs: a static glibc program printing floating-point
results, and Debian's busybox-static running a script of applets, each
compared byte for byte with qemu-riscv64.

The busybox script keeps to applets ash runs in its own process or in a
forked child without execve: qemu-user hands an execve to the host, which
cannot run a RISC-V busybox and falls back to the host's own programs along
PATH, so it is no oracle for exec'd commands.

Both are hard-float (RV64GC): until the core has the F and D extensions
they die of SIGILL at their first floating-point instruction, so they are
expected failures while misa lacks F or D, and must pass once it has them.
"""

import fcntl
import os
import shutil
import subprocess

import pytest

from conftest import GUEST_PATH, pyvmm_user

from pyvmm._core import Core

MISA = Core(ram_size=4096).read_csr(0x301)
HAS_FD = bool(MISA & (1 << 5)) and bool(MISA & (1 << 3))
needs_fd = pytest.mark.xfail(not HAS_FD, strict=True,
                             reason="hard-float programs need the F and D extensions, which the core lacks")
QEMU = shutil.which("qemu-riscv64")
CROSS_CC = "riscv64-linux-gnu-gcc"

GLIBC_HELLO = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
    double x = 2.0, acc = 0;
    for (int i = 1; i <= 10; i++) acc += 1.0 / (i * i);
    printf("hello from glibc, argc=%d\n", argc);
    printf("1/3 = %.17g\n", 1.0 / 3.0);
    printf("sum 1/i^2 = %.15f\n", acc);
    printf("x/7 = %e, float %.9g\n", x / 7, 0.1f * 3);
    char *p = malloc(1 << 20);
    memset(p, 'z', 1 << 20);
    printf("malloc %s %c\n", p ? "ok" : "failed", p[12345]);
    return 3;
}
"""

BUSYBOX_SCRIPT = r"""
echo "start $((6*7))"
ls
ls -a data
cat data/poem.txt
sha256sum data/poem.txt
cat data/poem.txt | wc -l
wc -c data/poem.txt
seq 1 10 | sort -rn | head -3
seq 5 | awk '{ s += $1 * 1.5 } END { printf "%.3f %g\n", s, s / 7 }'
awk 'BEGIN { x = 3.14159; print x * 2, x / 3, int(x * 100) / 100, 1e10 / 7 }'
printf '%s=%d %x %5.2f\n' answer 42 255 2.71828
dd if=data/poem.txt bs=4 count=3 2>/dev/null | od -c | head -2
echo c b a | tr ' ' '\n' | sort | tr '\n' ','; echo
x=$(echo nested | tr a-z A-Z); echo "sub: $x"
for i in 1 2 3; do echo "loop $i"; done
test -f data/poem.txt && echo exists
[ -d nothere ] || echo "no dir"
false; echo "false gives $?"
sh -c 'exit 7'; echo "child sh exit $?"
grep -c e data/poem.txt
echo done
"""


def _qemu(cwd, *argv):
    if QEMU is None:
        pytest.skip("qemu-riscv64 is not installed (apt-get install qemu-user)")
    return subprocess.run(["env", "-i", GUEST_PATH, QEMU, *argv], cwd=cwd, capture_output=True,
                          stdin=subprocess.DEVNULL)


@needs_fd
def test_static_glibc_hello_with_floating_point(tmp_path):
    if shutil.which(CROSS_CC) is None:
        pytest.skip(f"{CROSS_CC} is not installed (apt-get install gcc-riscv64-linux-gnu "
                    "libc6-dev-riscv64-cross)")
    src = tmp_path / "hello.c"
    src.write_text(GLIBC_HELLO)
    build = subprocess.run([CROSS_CC, "-static", "-O2", "-o", str(tmp_path / "hello"), str(src)],
                           capture_output=True, text=True)
    if build.returncode:
        pytest.skip(f"{CROSS_CC} -static failed: {build.stderr.strip().splitlines()[-1]}")
    ours = pyvmm_user("--root", tmp_path, "/hello", "a")
    assert ours.stdout.startswith(b"hello from glibc, argc=2\n"), ours.stderr
    assert b"1/3 = 0.33333333333333331\n" in ours.stdout
    assert ours.returncode == 3
    theirs = _qemu(tmp_path, "./hello", "a")
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode


def _busybox():
    """Debian trixie's riscv64 busybox-static, fetched once into the package cache."""
    from support.debian import BUSYBOX_PACKAGE, DebianArchive, Unavailable
    archive = DebianArchive()
    try:
        os.makedirs(archive.root, exist_ok=True)
        with open(os.path.join(archive.root, "fetch.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tree = os.path.join(archive.trees_dir, BUSYBOX_PACKAGE)
            if not os.path.isdir(tree):
                archive.update()
                tree = archive.unpack(archive.download(BUSYBOX_PACKAGE), BUSYBOX_PACKAGE)
    except (Unavailable, OSError) as err:
        pytest.skip(f"busybox-static for riscv64 cannot be had: {err}")
    for candidate in ("bin/busybox", "usr/bin/busybox"):
        path = os.path.join(tree, candidate)
        if os.path.isfile(path):
            return path
    pytest.skip(f"{BUSYBOX_PACKAGE} holds no busybox binary")


@pytest.mark.slow
@needs_fd
def test_busybox_script_like_qemu(tmp_path):
    busybox = _busybox()
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    (root / "data").mkdir()
    (root / "data" / "poem.txt").write_text("roses are red\nviolets are blue\nsome lines\n")
    ours = pyvmm_user("--root", root, "bin/busybox", "sh", "-c", BUSYBOX_SCRIPT)
    theirs = _qemu(root, "bin/busybox", "sh", "-c", BUSYBOX_SCRIPT)
    assert theirs.returncode == 0 and theirs.stdout.endswith(b"done\n"), theirs.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr
    assert ours.returncode == theirs.returncode

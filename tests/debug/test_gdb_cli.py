"""`pyvmm run --gdb / -s / -S` with gdb-multiarch as the client, on the board
and for a guest kernel under every technique; bad addresses are usage errors."""

import re
import shutil
import socket
import subprocess
import sys

import pytest

pytest.importorskip("pyvmm._core", reason="pyvmm._core is not built")

GDB = shutil.which("gdb-multiarch")
GCC = shutil.which("riscv64-unknown-elf-gcc")

LOOP = """
.globl _start
_start:
    la t1, counter
    li a0, 0
loop:
    addi a0, a0, 1
    sd a0, 0(t1)
    li t2, 5
    blt a0, t2, loop
done:
{finish}
1:  j 1b
.data
.balign 8
counter: .dword 0
"""
BOARD_FINISH = """
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
"""
# SBI legacy putchar "ok\\n", then SRST shutdown
SBI_FINISH = "".join(f"    li a0, {ord(c)}\n    li a7, 1\n    ecall\n" for c in "ok\n") + """
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    li a1, 0
    ecall
"""


def build(tmp_path, finish, base):
    if GCC is None:
        pytest.skip("riscv64-unknown-elf-gcc is not installed")
    src, elf = tmp_path / "g.S", tmp_path / "g.elf"
    src.write_text(LOOP.format(finish=finish))
    subprocess.run([GCC, "-march=rv64imac_zicsr", "-mabi=lp64", "-nostdlib", "-g",
                    f"-Ttext={base:#x}", "-o", str(elf), str(src)], check=True)
    return elf


def session(elf, extra, csr):
    proc = subprocess.Popen([sys.executable, "-m", "pyvmm", "run", str(elf), "--gdb", "tcp::0", "-S"]
                            + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = int(re.search(r"gdb stub on 127\.0\.0\.1:(\d+)", line).group(1))
        cmds = ["file " + str(elf), f"target remote 127.0.0.1:{port}", "break done", "continue",
                "p $a0", "stepi", f"info registers {csr}", "p $priv", "x/2x &counter", "delete",
                "watch *(long*)&counter", "set var $a0=0", "set var $pc=loop", "continue", "p $a0",
                "delete", "detach"]
        gdb = subprocess.run([GDB, "-batch", "-nx"] + [a for c in cmds for a in ("-ex", c)],
                             capture_output=True, text=True, timeout=60)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return gdb.stdout, out, proc.returncode


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_board_guest_under_gdb(tmp_path):
    elf = build(tmp_path, BOARD_FINISH, 0x8000_0000)
    text, out, status = session(elf, [], "mstatus")
    assert "Breakpoint 1, done ()" in text and "$1 = 5" in text
    assert re.search(r"mstatus\s+0xa00000000", text)
    assert "$2 = 3" in text                         # priv: M
    assert "0x00000005\t0x00000000" in text
    assert "Old value = 5\nNew value = 1" in text and "$3 = 1" in text
    assert status == 0


TECHNIQUES = {
    "hw-nested": ["--technique", "hw"],
    "hw-shadow": ["--technique", "hw", "--paging", "shadow"],
    "trap-emulate": ["--technique", "trap-emulate"],
    "bt": ["--technique", "bt"],         # breakpoints land on the translations of `done`
    "pv": ["--technique", "pv"],
}


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_guest_kernel_under_every_technique(tmp_path, technique):
    elf = build(tmp_path, SBI_FINISH, 0x8020_0000)
    text, out, status = session(elf, TECHNIQUES[technique], "sstatus")
    assert "Breakpoint 1, done ()" in text and "$1 = 5" in text
    # stepi moves one guest instruction, whatever its translation is made of
    assert re.search(r"^13\t    li a7, 1$", text, re.M)
    if technique == "pv":                           # its kernel keeps sstatus in the info page
        assert 'Could not fetch register "sstatus"' in text
    else:
        assert re.search(r"sstatus\s+0x200000000", text)
    assert "$2 = 1" in text                         # the guest's supervisor mode
    assert "0x00000005\t0x00000000" in text         # x/2x through the guest's translation
    assert "Old value = 5\nNew value = 1" in text and "$3 = 1" in text
    assert out == "ok\n" and status == 0            # the guest ran on to its own end


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], capture_output=True,
                          text=True, timeout=60)


def test_bad_gdb_options_are_usage_errors(tmp_path):
    image = tmp_path / "x.S"
    image.write_text(".globl _start\n_start: j _start\n")
    r = run_cli(str(image), "-S")
    assert r.returncode == 2 and r.stderr.strip().endswith("-S waits for a debugger: give --gdb tcp:HOST:PORT or -s")
    r = run_cli(str(image), "--gdb", "udp:1:2")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "expected tcp:HOST:PORT" in r.stderr
    r = run_cli(str(image), "--gdb", "tcp::1", "--max-insns", "10")
    assert r.returncode == 2 and "--gdb cannot be used with --max-insns" in r.stderr
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        r = run_cli(str(image), "--gdb", f"tcp:127.0.0.1:{busy.getsockname()[1]}")
    finally:
        busy.close()
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot listen" in r.stderr

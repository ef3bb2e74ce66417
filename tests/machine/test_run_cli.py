"""`pyvmm run` end to end: guests on the real core, through the CLI and the Python API."""

import json
import re
import shutil
import subprocess

import pytest

from board_helpers import error_line, gnu_build, needs_core, needs_gnu, run_cli
import board_guests as guests

pytestmark = [needs_core, needs_gnu]

KERNEL_BASE = 0x8020_0000


@pytest.fixture
def build(tmp_path):
    def make(name, text_addr=0x8000_0000):
        return gnu_build(tmp_path, getattr(guests, name), name.lower(), text_addr)
    return make


def test_hello_through_the_python_api(build):
    from pyvmm.machine import Machine
    m = Machine(console=None)
    m.load(build("HELLO"))
    result = m.run(max_insns=1_000_000)
    assert tuple(result) == (0, "finisher-pass", 0)
    assert m.uart_output == b"hello from the virt board\n"
    stats = m.stats()
    assert stats["how"] == "finisher-pass" and stats["instret"] > 100
    assert stats["mmio"]["test"] == 1 and stats["mmio"]["uart0"] > 26


def test_hello_through_the_cli(build):
    proc = run_cli(build("HELLO"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"hello from the virt board\n"
    assert proc.stderr == b""


def test_finisher_fail_code_is_the_exit_status(build):
    proc = run_cli(build("FAIL_7"))
    assert proc.returncode == 7 and proc.stdout == b""


def test_finisher_reset_stops_with_status_zero(build):
    from pyvmm.machine import Machine
    m = Machine(console=None)
    m.load(build("RESET"))
    assert tuple(m.run(max_insns=10_000)) == (0, "finisher-reset", 0)


def test_budget_exit_124_and_exact_instret(build, tmp_path):
    stats_file = tmp_path / "stats.json"
    proc = run_cli(build("SPIN"), "--max-insns", "123457", "--stats-file", stats_file)
    assert proc.returncode == 124
    stats = json.loads(stats_file.read_text())
    assert stats["instret"] == 123457
    assert stats["how"] == "budget" and stats["status"] == 124
    proc = run_cli(build("SPIN"), "--max-insns", "3M", "--stats-file", stats_file)
    assert proc.returncode == 124
    assert json.loads(stats_file.read_text())["instret"] == 3_000_000


def test_idle_hart_exits_125(build):
    proc = run_cli(build("IDLE"), "--max-insns", "1000000")
    assert proc.returncode == 125, proc.stderr


def test_console_input_reaches_the_uart(build):
    proc = run_cli(build("ECHO"), "--max-insns", "10000000", stdin=b"Hello, board\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"HELLO, BOARD\n"


def test_uart_interrupts_wake_the_hart(build):
    proc = run_cli(build("IRQ_ECHO"), "--max-insns", "10000000", stdin=b"irq echo\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"irq echo\n000000000000000a\n"     # the claimed source: 10


def test_s_mode_external_interrupt_per_received_byte(build):
    # (QEMU is no oracle here: its chardev hands over one byte or several
    # per interrupt depending on host timing.)
    proc = run_cli(build("S_IRQ_ECHO"), "--max-insns", "1M", stdin=b"sup\n")
    assert proc.returncode == 0
    assert proc.stdout == b"".join(b"8000000000000009\n" + bytes((c,)) for c in b"sup\n")


def test_input_from_a_regular_file_is_deterministic(build, tmp_path):
    """A file on stdin is read as the guest needs it, not when the host
    gets to it: counters repeat exactly."""
    from board_helpers import PYVMM, REPO
    text = tmp_path / "input.txt"
    text.write_bytes(b"from a file, byte by byte\n")
    runs = []
    for i in range(2):
        stats_file = tmp_path / f"stats{i}.json"
        with open(text, "rb") as stdin:
            proc = subprocess.run([*PYVMM, "run", str(build("S_IRQ_ECHO")),
                                   "--stats-file", str(stats_file)], cwd=REPO, stdin=stdin,
                                  capture_output=True, timeout=60)
        stats = json.loads(stats_file.read_text())
        runs.append((proc.returncode, proc.stdout, stats["instret"], stats["exits"]))
    assert runs[0] == runs[1]
    assert runs[0][0] == 0
    assert runs[0][1].count(b"8000000000000009") == len(b"from a file, byte by byte\n")


def test_interrupt_driven_guest_idles_when_input_ends(build):
    proc = run_cli(build("IRQ_ECHO"), "--max-insns", "10000000", stdin=b"no newline")
    assert proc.returncode == 125 and proc.stdout == b"no newline"


@pytest.mark.parametrize("name,cause", [("UNMAPPED", 5), ("UNMAPPED_STORE", 7)])
def test_unmapped_access_is_a_precise_access_fault(build, name, cause):
    proc = run_cli(build(name), "--max-insns", "100000")
    assert proc.stdout == b"%016x\n0000000010009000\n" % cause
    assert proc.returncode == cause


def test_stats_json_on_stderr(build):
    proc = run_cli(build("HELLO"), "--stats")
    assert proc.returncode == 0
    stats = json.loads(proc.stderr)
    for key in ("instret", "host_seconds", "mips", "traps", "interrupts", "tlb_hits",
                "tlb_misses", "page_walks", "walk_mem_refs", "exits", "how", "mmio"):
        assert key in stats, key
    assert stats["how"] == "finisher-pass"
    assert stats["exits"]["mmio"] >= 27


def test_trace_in_asm_int_exec(build, tmp_path):
    from pyvmm.machine.layout import RAM_BASE
    elf = build("ECALL")
    log = tmp_path / "trace.txt"
    proc = run_cli(elf, "--trace", "in_asm,int,exec", "--trace-file", log, "--stats")
    assert proc.returncode == 0, proc.stderr
    lines = log.read_text().splitlines()
    objdump = shutil.which("riscv64-unknown-elf-objdump")
    first_asm = next(line for line in lines if not line.startswith(("exec", "int")))
    assert re.fullmatch(r"0x80000000:  [0-9a-f]{4,8} +\S.*", first_asm), first_asm
    if objdump:
        dump = subprocess.run([objdump, "-d", str(elf)], capture_output=True, text=True).stdout
        word = first_asm.split()[1]
        assert re.search(rf"80000000:\s+{word}\s", dump)
    assert lines[0] == first_asm
    assert lines[1] == f"exec: {RAM_BASE:#x} M"
    ints = [line for line in lines if line.startswith("int:")]
    assert len(ints) == 1
    assert "cause=0xb" in ints[0] and "environment call from M-mode" in ints[0]
    stats = json.loads(proc.stderr)
    execs = [line for line in lines if line.startswith("exec:")]
    # Every instruction that retired, plus the ecall, which traps instead.
    assert len(execs) == stats["instret"] + 1
    # in_asm prints each address once.
    asm_pcs = [line.split(":")[0] for line in lines if line.startswith("0x")]
    assert len(asm_pcs) == len(set(asm_pcs))


def test_runs_are_deterministic(build, tmp_path):
    elf = build("UNMAPPED")
    outputs = []
    for i in range(2):
        stats_file = tmp_path / f"s{i}.json"
        proc = run_cli(elf, "--stats-file", stats_file)
        stats = json.loads(stats_file.read_text())
        del stats["host_seconds"], stats["mips"]
        outputs.append((proc.returncode, proc.stdout, stats))
    assert outputs[0] == outputs[1]


def test_serial_to_a_file(build, tmp_path):
    out = tmp_path / "serial.txt"
    proc = run_cli(build("HELLO"), "--serial", out)
    assert proc.returncode == 0 and proc.stdout == b""
    assert out.read_bytes() == b"hello from the virt board\n"


def test_builtin_sbi_boots_an_s_mode_kernel(build):
    proc = run_cli("--bios", "builtin", build("SKERNEL", KERNEL_BASE), "--max-insns", "1000000")
    assert proc.stdout == b"hello from S-mode\n", proc.stderr
    assert proc.returncode == 0


def test_builtin_sbi_with_kernel_option(build):
    proc = run_cli("--bios", "builtin", "--kernel", build("SKERNEL", KERNEL_BASE), "--stats")
    assert proc.stdout == b"hello from S-mode\n" and proc.returncode == 0
    stats = json.loads(proc.stderr)
    assert stats["how"] == "sbi-shutdown"
    assert stats["sbi"]["calls"] == {"legacy": len(b"hello from S-mode\n"), "srst": 1}
    assert stats["exits"]["trap"] == len(b"hello from S-mode\n") + 1


def test_own_m_mode_firmware_with_a_kernel_payload(build):
    proc = run_cli(build("JUMP_TO_PAYLOAD"), "--kernel", build("HELLO", KERNEL_BASE))
    assert proc.returncode == 0 and proc.stdout == b"hello from the virt board\n"


def test_flat_image_with_load_addr(build, tmp_path):
    elf = build("HELLO")
    flat = tmp_path / "hello.bin"
    subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(flat)], check=True)
    proc = run_cli(flat)
    assert proc.returncode == 0 and proc.stdout == b"hello from the virt board\n"
    # Linked for 0x80000000, loaded elsewhere: `la` is pc-relative, so it still runs.
    proc = run_cli(flat, "--load-addr", "0x80100000")
    assert proc.returncode == 0 and proc.stdout == b"hello from the virt board\n"


QEMU = shutil.which("qemu-system-riscv64")


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed")
@pytest.mark.parametrize("name,stdin", [("PROBE", b""), ("HELLO", b""), ("UNMAPPED", b""),
                                        ("UNMAPPED_STORE", b""), ("ECHO", b"Echo me\n"),
                                        ("IRQ_ECHO", b"by interrupt\n"), ("PLIC_CLAIMS", b""),
                                        ("TX_IRQ", b"")])
def test_same_output_and_status_as_qemu(build, name, stdin):
    elf = build(name)
    # pyvmm's virtio-mmio slots are modern (version 2) unless --virtio-legacy;
    # QEMU's are legacy unless told otherwise.
    qemu = subprocess.run([QEMU, "-machine", "virt", "-bios", "none", "-nographic",
                           "-monitor", "none", "-global", "virtio-mmio.force-legacy=false",
                           "-kernel", str(elf)],
                          capture_output=True, timeout=60, input=stdin)
    proc = run_cli(elf, "--max-insns", "10000000", stdin=stdin)
    assert proc.stdout == qemu.stdout
    assert proc.returncode == qemu.returncode


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed")
def test_virtio_legacy_slots_match_qemus_default(build):
    elf = build("PROBE")
    qemu = subprocess.run([QEMU, "-machine", "virt", "-bios", "none", "-nographic",
                           "-monitor", "none", "-kernel", str(elf)],
                          capture_output=True, timeout=60)
    proc = run_cli(elf, "--virtio-legacy", "--max-insns", "10000000")
    assert proc.stdout == qemu.stdout and proc.returncode == qemu.returncode


# -- usage errors: exit 2, one line ----------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--ram", "12Q", "x.elf"], "bad size"),
    (["--ram", "1001K", "x.elf"], "multiple of 4 KiB"),
    (["--trace", "in_asm,bogus", "x.elf"], "unknown trace class 'bogus'"),
    (["--trace-file", "t.txt", "x.elf"], "--trace-file needs --trace"),
    ([], "IMAGE to run is required"),
    (["--max-insns", "lots", "x.elf"], "bad instruction count"),
    (["--max-insns", "-5", "x.elf"], "must not be negative"),
    (["--bios", "builtin", "--kernel", "a.elf", "b.elf"], "not both"),
    (["--kernel", "a.elf"], "an IMAGE is required"),
    (["--bios", "/nonexistent/fw.bin", "x.elf"], "no such file"),
], ids=["ram-suffix", "ram-align", "trace-class", "trace-file", "no-image", "insns", "negative",
        "kernel-twice", "kernel-only", "missing-bios"])
def test_usage_errors(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    line = error_line(proc)
    assert line.startswith("pyvmm run: error: ") and message in line, line


def test_terminal_input_is_unbuffered_and_restored(build):
    import os
    import pty
    import termios
    from board_helpers import PYVMM, REPO
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    try:
        proc = subprocess.Popen([*PYVMM, "run", str(build("ECHO"))], cwd=REPO,
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.write(master, b"tty\n")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out == b"TTY\n"
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)

"""guests/kernel/kernel.elf through `python -m pyvmm run`: every mode, its
output against an independent model (kernel_model.py), the trap counters
against the work each mode does, mode selection by bootargs and by patching
the ELF, pyvmm with real OpenSBI, and QEMU + OpenSBI as the reference."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from pyvmm.bench import elfpatch

from . import kernel_model as model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL_DIR = os.path.join(REPO, "guests", "kernel")
KERNEL = os.path.join(KERNEL_DIR, "kernel.elf")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
QEMU = "qemu-system-riscv64"
N = 20                      # iterations for the quick runs
MAX_INSNS = "200M"          # a hung kernel ends the run with status 124

EXC_BREAKPOINT, EXC_ECALL_U, EXC_LOAD_PAGE_FAULT, EXC_STORE_PAGE_FAULT = 3, 8, 13, 15
IRQ_S_TIMER = 5


def run_pyvmm(*args, kernel=KERNEL, bios="builtin", stats=None):
    cmd = [sys.executable, "-m", "pyvmm", "run", "--bios", bios, "--max-insns", MAX_INSNS]
    if stats:
        cmd += ["--stats-file", str(stats)]
    cmd += list(args) + ["--kernel", kernel] if bios != "builtin" else list(args) + [kernel]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=300)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def kernel_lines(output):
    """The kernel's own output: from its first line on (OpenSBI prints a
    banner first), with OpenSBI's CR before each LF removed."""
    output = output.replace("\r\n", "\n")
    start = output.find("kernel: ")
    assert start >= 0, output
    return output[start:]


def banner(mode, n):
    return "kernel: mode %s, iterations %d" % (mode, n)


def expected_bench(mode, n):
    lines = [banner(mode, n)]
    if mode == "console":
        lines += ["console %d" % i for i in range(n)]
    return "\n".join(lines + model.bench_summary(mode, n)) + "\n"


def traps(stats):
    return {int(k): v for k, v in stats.get("traps", {}).items()}


# ------------------------------------------------------------ pyvmm, builtin SBI

def test_demo_output_and_counters(tmp_path):
    stats_file = tmp_path / "stats.json"
    status, out, err = run_pyvmm(stats=stats_file)
    assert status == 0, err
    assert out == model.demo_output()
    stats = json.loads(stats_file.read_text())
    by_cause = traps(stats)
    assert by_cause[EXC_ECALL_U] == 54 + 1                   # the summary's syscalls, one unknown
    assert by_cause[EXC_BREAKPOINT] == 4
    assert by_cause.get(EXC_LOAD_PAGE_FAULT, 0) + by_cause.get(EXC_STORE_PAGE_FAULT, 0) == 23 + 1
    assert stats["interrupts"].get(str(IRQ_S_TIMER), 0) >= 6   # the sleeper alone needs 6 ticks


@pytest.mark.parametrize("mode", model.NANO_MODES + model.MACRO_MODES)
def test_mode_output(mode, tmp_path):
    stats_file = tmp_path / "stats.json"
    status, out, err = run_pyvmm("--bootargs", "mode=%s iterations=%d" % (mode, N),
                                 stats=stats_file)
    assert status == 0, err
    assert out == expected_bench(mode, N)
    stats = json.loads(stats_file.read_text())
    by_cause = traps(stats)
    user_traps = {c: by_cause.get(c, 0) for c in (EXC_BREAKPOINT, EXC_ECALL_U,
                                                 EXC_LOAD_PAGE_FAULT, EXC_STORE_PAGE_FAULT)}
    if mode in model.KERNEL_LOOPS:
        assert not any(user_traps.values()), user_traps     # the loop never leaves S-mode
    if mode == "mmio":
        assert stats["exits"]["mmio"] == N + 1               # the scratch write, then N reads
    else:
        assert "mmio" not in stats["exits"]                  # no device access outside mmio
    if mode == "syscall":
        assert user_traps[EXC_ECALL_U] == N + 1
    if mode == "pgfault":
        assert user_traps[EXC_LOAD_PAGE_FAULT] == N
    if mode == "trap":
        assert user_traps[EXC_BREAKPOINT] == N
    if mode == "forkwait":
        assert user_traps[EXC_STORE_PAGE_FAULT] == N        # one heap page per child


def test_iterations_scale_the_work(tmp_path):
    counts = []
    for n in (10, 30):
        stats_file = tmp_path / ("s%d.json" % n)
        status, out, _ = run_pyvmm("--bootargs", "mode=syscall iterations=%d" % n, stats=stats_file)
        assert status == 0 and out == expected_bench("syscall", n)
        counts.append(json.loads(stats_file.read_text())["instret"])
    # 20 more null system calls: a few instructions each, a bounded round trip
    per_call = (counts[1] - counts[0]) / 20
    assert 10 < per_call < 2000, per_call


def test_runs_repeat_exactly(tmp_path):
    """Deterministic time: two runs retire the same instructions and take the
    same traps, which is what makes benchmark counts comparable."""
    runs = []
    for k in range(2):
        stats_file = tmp_path / ("run%d.json" % k)
        status, out, _ = run_pyvmm("--bootargs", "mode=forkwait iterations=8", stats=stats_file)
        assert status == 0
        stats = json.loads(stats_file.read_text())
        runs.append((out, stats["instret"], stats["traps"], stats["interrupts"]))
    assert runs[0] == runs[1]


def test_mode_by_patched_elf(tmp_path):
    data = open(KERNEL, "rb").read()
    mode = model.KERNEL_MODES.index("ptemod")
    data = elfpatch.patch_u32(elfpatch.patch_u32(data, "kernel_mode", mode), "kernel_iterations", 7)
    patched = tmp_path / "ptemod.elf"
    patched.write_bytes(data)
    status, out, err = run_pyvmm(kernel=str(patched))
    assert status == 0, err
    assert out == expected_bench("ptemod", 7)
    # bootargs win over the patched values
    status, out, _ = run_pyvmm("--bootargs", "mode=trap iterations=5", kernel=str(patched))
    assert status == 0 and out == expected_bench("trap", 5)


def test_default_iterations_when_zero():
    status, out, _ = run_pyvmm("--bootargs", "mode=callret")
    assert status == 0
    assert out == expected_bench("callret", 1000)


@pytest.mark.parametrize("bootargs, message", [
    ("mode=bogus", "kernel panic: unknown mode 'bogus' in bootargs"),
    ("mode=trap iterations=12x", "kernel panic: bad iterations in bootargs"),
    ("iterations=99999999999", "kernel panic: bad iterations in bootargs"),
])
def test_bad_bootargs_fail_with_one_line(bootargs, message):
    status, out, _ = run_pyvmm("--bootargs", bootargs)
    assert status == 1                       # SRST shutdown, reason "system failure"
    assert out.splitlines()[-1].startswith(message)


def test_bad_patched_mode(tmp_path):
    patched = tmp_path / "bad.elf"
    patched.write_bytes(elfpatch.patch_u32(open(KERNEL, "rb").read(), "kernel_mode", 99))
    status, out, _ = run_pyvmm(kernel=str(patched))
    assert status == 1
    assert out == "kernel panic: kernel_mode 99 is not a mode (0..11)\n"


@pytest.mark.parametrize("ram", ["16M", "1G"])
def test_ram_sizes(ram):
    """16 MiB: the device tree sits inside the kernel's window and caps the
    page pool; 1 GiB: the pool is the whole window."""
    status, out, err = run_pyvmm("--ram", ram)
    assert status == 0, err
    assert out == model.demo_output()


def test_other_bootargs_words_are_ignored():
    status, out, _ = run_pyvmm("--bootargs", "console=ttyS0  mode=mmio quiet iterations=3")
    assert status == 0 and out == expected_bench("mmio", 3)


# ------------------------------------------------------ pyvmm with OpenSBI

needs_opensbi = pytest.mark.skipif(not os.path.exists(OPENSBI),
                                   reason="Debian's OpenSBI (%s) is not installed" % OPENSBI)


@needs_opensbi
@pytest.mark.parametrize("mode", model.KERNEL_MODES)
def test_under_opensbi_on_pyvmm(mode):
    args = () if mode == "demo" else ("--bootargs", "mode=%s iterations=%d" % (mode, N))
    status, out, err = run_pyvmm(*args, bios=OPENSBI)
    assert status == 0, err
    expected = model.demo_output() if mode == "demo" else expected_bench(mode, N)
    assert kernel_lines(out) == expected


# ------------------------------------------------------ QEMU + OpenSBI

def run_qemu(bootargs="", kernel=KERNEL):
    if not shutil.which(QEMU):
        pytest.skip("%s is not installed" % QEMU)
    if not os.path.exists(OPENSBI):
        pytest.skip("Debian's OpenSBI (%s) is not installed" % OPENSBI)
    cmd = [QEMU, "-machine", "virt", "-bios", OPENSBI, "-kernel", kernel, "-nographic",
           "-no-reboot", "-monitor", "none", "-serial", "stdio"]
    if bootargs:
        cmd += ["-append", bootargs]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout.decode(errors="replace")


@pytest.mark.parametrize("mode", model.KERNEL_MODES)
def test_same_output_as_qemu(mode):
    bootargs = "" if mode == "demo" else "mode=%s iterations=%d" % (mode, N)
    qemu_status, qemu_out = run_qemu(bootargs)
    status, out, err = run_pyvmm("--bootargs", bootargs) if bootargs else run_pyvmm()
    assert status == qemu_status == 0, err
    assert out == kernel_lines(qemu_out)


# --------------------------------------------------- rebuilding the ELF

def test_rebuilt_kernel_prints_the_same(tmp_path):
    gcc = "riscv64-unknown-elf-gcc"
    if not shutil.which(gcc) or not shutil.which("make"):
        pytest.skip("%s or make is not installed" % gcc)
    build = subprocess.run(["make", "-C", KERNEL_DIR, "OUT=%s" % tmp_path, "OBJ=%s" % (tmp_path / "obj")],
                           capture_output=True, timeout=300)
    assert build.returncode == 0, build.stderr.decode()
    rebuilt = str(tmp_path / "kernel.elf")
    for args in ((), ("--bootargs", "mode=forkwait iterations=5")):
        assert run_pyvmm(*args, kernel=rebuilt)[:2] == run_pyvmm(*args)[:2]


# --------------------------------------------- what the kernel asks of the CPU

ALLOWED_CSRS = {"sstatus", "stvec", "sepc", "scause", "stval", "satp", "sie", "sip", "sscratch"}
ALLOWED_SYSTEM = {"sret", "sfence.vma", "wfi", "ecall", "rdtime"}


def kernel_instructions():
    from elftools.elf.elffile import ELFFile

    from pyvmm.asm.disasm import disassemble_bytes
    with open(KERNEL, "rb") as f:
        text = ELFFile(f).get_section_by_name(".text")
        return [(addr, txt.split("\t")) for addr, _, txt in
                disassemble_bytes(text.data(), text["sh_addr"])]


def test_only_supervisor_state_and_sbi():
    """The kernel touches only the S-mode CSRs and instructions the techniques
    must virtualize (guests/kernel/README.md lists them): no M-mode CSR, no
    mret, no H instruction; console, timer and shutdown go through ecall."""
    csrs, system = set(), set()
    for _, parts in kernel_instructions():
        mnemonic = parts[0]
        if mnemonic.startswith("csr"):
            operands = parts[1].split(",")
            # csrr rd,csr / csrw csr,rs / csrs csr,rs / csrrw rd,csr,rs ...
            csrs.add(operands[1] if mnemonic in ("csrr", "csrrw", "csrrs", "csrrc", "csrrwi",
                                                 "csrrsi", "csrrci") else operands[0])
        elif mnemonic in ("mret", "sret", "wfi", "sfence.vma", "ecall", "rdtime", "ebreak",
                          "dret", "uret") or mnemonic.startswith(("hfence", "hlv", "hsv", "sinval")):
            system.add(mnemonic)
    assert csrs <= ALLOWED_CSRS, csrs - ALLOWED_CSRS
    assert system <= ALLOWED_SYSTEM, system - ALLOWED_SYSTEM
    assert {"satp", "stvec", "sie", "sscratch", "sepc", "scause"} <= csrs
    assert {"sret", "sfence.vma", "wfi", "ecall"} <= system


def test_output_does_not_depend_on_time():
    """With mtime from the host clock the timer fires at other instructions, and
    the demo must print exactly the same."""
    status, out, err = run_pyvmm("--realtime")
    assert status == 0, err
    assert out == model.demo_output()

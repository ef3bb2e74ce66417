"""guests/kernel/kernel-pv.elf under `--technique pv`: the same output as
kernel.elf on the board, through the CLI and the API; the PV ELF has no
privileged instruction; the rebuilt ELF is the committed one."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from hv_support import ROOT, native_run, needs_h

KERNEL = os.path.join(ROOT, "guests", "kernel", "kernel.elf")
KERNEL_PV = os.path.join(ROOT, "guests", "kernel", "kernel-pv.elf")
KERNEL_DIR = os.path.join(ROOT, "guests", "kernel")

# Small N: every mode is compared line for line with the native run.
BENCH_MODES = [("syscall", 50), ("mmio", 50), ("csrwr", 50), ("callret", 50), ("pgfault", 40),
               ("trap", 50), ("ptemod", 50), ("ctxsw", 50), ("compute", 1), ("forkwait", 5),
               ("console", 5)]


def pyvmm(*args):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], cwd=ROOT,
                          capture_output=True, timeout=300)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_demo_prints_what_the_native_kernel_prints():
    native = pyvmm("--bios", "builtin", KERNEL)
    pv = pyvmm("--technique", "pv", KERNEL_PV)
    assert pv == native
    assert native[0] == 0 and "init: child 7 (intruder) exited with status 141" in native[1]


@pytest.mark.parametrize("mode, n", BENCH_MODES, ids=[m for m, _ in BENCH_MODES])
def test_bench_mode_matches_native(mode, n):
    bootargs = f"mode={mode} iterations={n}"
    native = native_run(KERNEL, bootargs=bootargs)
    from pyvmm.hv import Host
    host = Host(ram_size=160 << 20)
    vm = host.create_vm(ram_size=128 << 20, technique="pv", bootargs=bootargs)
    vm.load(KERNEL_PV)
    result = vm.run()
    assert (result.status, result.how, vm.console_output) == native
    assert f"bench {mode}: iterations {n} checksum" in native[2].decode()
    assert vm.policy.direct_pt_writes == 0


def test_stats_count_hypercalls_batches_and_upcalls(tmp_path):
    stats_file = tmp_path / "stats.json"
    status, out, err = pyvmm("--technique", "pv", "--stats-file", str(stats_file), KERNEL_PV)
    assert status == 0, err
    stats = json.loads(stats_file.read_text())
    assert stats["technique"] == "pv" and stats["paging"] == "shadow"
    counters = stats["pv"]
    calls = counters["hypercalls"]
    # one iret per return to user mode, one upcall per entry into the kernel
    assert calls["iret"] == sum(counters["upcalls"].values())
    assert counters["upcalls"]["breakpoint"] == 4
    assert counters["upcalls"]["page_fault"] == 24          # 23 demand faults and the intruder
    assert counters["upcalls"]["timer"] >= 3                # sleeper cannot finish without them
    assert calls["console_write"] == 17 and calls["block"] >= 1
    # fork copies through batches of more than one entry
    batches = {int(size): n for size, n in counters["mmu_update_batches"].items()}
    assert max(batches) > 1
    assert sum(size * n for size, n in batches.items()) == counters["pte_updates"]
    assert calls["mmu_update"] == sum(batches.values())
    assert counters["direct_pt_writes"] == 0 and counters["refused_ptes"] == 0
    assert stats["shadow"]["wp_traps"] == 0                  # no store to a table was emulated


def test_the_pv_kernel_on_the_board_says_it_needs_the_hypervisor():
    status, out, err = pyvmm("--bios", "builtin", KERNEL_PV)
    assert status == 1
    assert out == "kernel panic: not running on the pyvmm PV hypervisor (no SBI extension 0xa505600)\n"


def test_the_native_kernel_under_pv_stops_with_one_line():
    status, out, err = pyvmm("--technique", "pv", KERNEL)
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "before register_callbacks" in err and "Traceback" not in err


def test_max_insns_ends_a_pv_run_with_124():
    status, out, err = pyvmm("--technique", "pv", "--max-insns", "20000", KERNEL_PV)
    assert status == 124


def test_two_pv_vms_share_a_host():
    from pyvmm.hv import Host
    host = Host(ram_size=96 << 20)
    vms = [host.create_vm(ram_size=32 << 20, technique="pv", bootargs=args)
           for args in ("mode=demo", "mode=forkwait iterations=3")]
    for vm in vms:
        vm.load(KERNEL_PV)
    results = host.run()
    for vm in vms:
        assert (results[vm].status, results[vm].how, vm.console_output) == \
            native_run(KERNEL, bootargs=vm.bootargs, ram_size=32 << 20)


@needs_h
def test_a_pv_vm_beside_an_hw_vm_on_one_hart():
    """The PV VCPU runs at V=0 and the hw VCPU at V=1 on the same core: each
    swap must leave the other's state alone."""
    from pyvmm.hv import Host
    host = Host(ram_size=96 << 20)
    hw = host.create_vm(ram_size=32 << 20, technique="hw", paging="nested")
    hw.load(KERNEL)
    para = host.create_vm(ram_size=32 << 20, technique="pv")
    para.load(KERNEL_PV)
    results = host.run(slice_insns=50_000)
    expected = native_run(KERNEL, ram_size=32 << 20)
    for vm in (hw, para):
        assert (results[vm].status, results[vm].how, vm.console_output) == expected


def test_the_pv_elf_has_no_privileged_instruction():
    objdump = "riscv64-unknown-elf-objdump"
    if not shutil.which(objdump):
        pytest.skip(f"{objdump} is not installed")
    text = subprocess.run([objdump, "-d", KERNEL_PV], capture_output=True, text=True,
                          check=True).stdout
    # instruction lines: "addr:<TAB>encoding<TAB>mnemonic<TAB>operands"
    mnemonics = {line.split("\t")[2].strip() for line in text.splitlines() if line.count("\t") >= 2}
    privileged = {m for m in mnemonics if m.startswith(("csr", "sret", "mret", "wfi", "sfence"))}
    assert privileged == set()
    assert "ecall" in mnemonics and "rdtime" in mnemonics     # rdtime: readable from U


def test_rebuilt_pv_kernel_is_the_committed_one(tmp_path):
    """The build is reproducible, so the committed ELF must be what the
    sources give (`make -C guests/kernel` rebuilds both kernels)."""
    gcc = "riscv64-unknown-elf-gcc"
    if not shutil.which(gcc) or not shutil.which("make"):
        pytest.skip(f"{gcc} or make is not installed")
    subprocess.run(["make", "-s", "-C", KERNEL_DIR, f"OUT={tmp_path}", f"OBJ={tmp_path / 'obj'}"],
                   check=True, capture_output=True, timeout=300)
    with open(KERNEL_PV, "rb") as f:
        assert (tmp_path / "kernel-pv.elf").read_bytes() == f.read()

"""guests/kernel under trap-and-emulate: byte-identical output and exit status
to the board with --bios builtin, in every mode, through the API and the CLI."""

import json
import subprocess
import sys

import pytest
from hv_support import KERNEL, ROOT, native_run

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host, technique_entry  # noqa: E402
from pyvmm.hv.trap_emulate import TrapEmulatePolicy, TrapEmulateVCPU  # noqa: E402

MODES = ["demo", "syscall", "mmio", "csrwr", "callret", "pgfault", "trap", "ptemod", "ctxsw",
         "compute", "forkwait", "console"]
SMALL_N = {"compute": 1, "forkwait": 5, "console": 5}
RAM = 128 << 20


def bootargs(mode):
    return f"mode={mode} iterations={SMALL_N.get(mode, 30)}"


def te_run(bootargs="", max_insns=None, ram_size=RAM):
    host = Host(ram_size=ram_size + (32 << 20))
    vm = host.create_vm(ram_size=ram_size, technique="trap-emulate", paging="shadow",
                        bootargs=bootargs)
    vm.load(KERNEL)
    result = vm.run(max_insns)
    return result, vm


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_matches_the_board(mode):
    status, how, output = native_run(KERNEL, bootargs(mode), ram_size=RAM)
    result, vm = te_run(bootargs(mode))
    assert vm.error is None
    assert vm.console_output == output
    assert (result.status, result.how) == (status, how) == (0, "sbi-shutdown")
    assert f"bench {mode}".encode() in output or mode == "demo"


def test_a_kernel_panic_matches_the_board():
    status, how, output = native_run(KERNEL, "mode=nonsense", ram_size=RAM)
    result, vm = te_run("mode=nonsense")
    assert (vm.console_output, result.status) == (output, status) == (output, 1)
    assert b"kernel panic" in output


def test_demo_figures():
    result, vm = te_run()
    stats = vm.stats()
    te = stats["trap_emulate"]
    assert result.status == 0 and stats["technique"] == "trap-emulate"
    assert stats["paging"] == "shadow"
    # Every privileged operation the kernel uses was emulated at least once.
    for mnemonic in ("csrrw", "csrrs", "sret", "sfence.vma", "wfi", "ecall"):
        assert te["emulated"][mnemonic] > 0, mnemonic
    # 54 system calls and 4 ebreaks from user code, the intruder's fault and
    # timer interrupts all reached the guest kernel.
    assert te["reflected"]["8"] >= 54 and te["reflected"]["3"] == 4
    assert te["reflected"]["13"] == 1 and te["reflected"]["interrupt 5"] > 0
    assert te["exits"]["page_fault_hidden"] > 0 and stats["shadow"]["wp_traps"] > 0
    assert te["exits"]["timer"] == te["reflected"]["interrupt 5"]
    assert 0.5 < te["exits_per_1000_insns"] < 10
    assert te["guest_instructions"] == stats["instret"] + sum(te["emulated"].values())


def test_budget_runs_out_with_status_124():
    result, vm = te_run(max_insns=20_000)
    assert result.status == 124 and result.how == "budget"


def test_two_vms_share_the_hart():
    host = Host(ram_size=2 * (32 << 20) + (16 << 20))
    vms = [host.create_vm(ram_size=32 << 20, technique="trap-emulate", paging="shadow",
                          bootargs=args) for args in ("", "mode=syscall iterations=200")]
    for vm in vms:
        vm.load(KERNEL)
    host.run(slice_insns=20_000)
    for vm, args in zip(vms, ("", "mode=syscall iterations=200")):
        status, how, output = native_run(KERNEL, args, ram_size=32 << 20)
        assert vm.console_output == output and vm.result.status == status == 0
    assert host.vcpu_switches > 2


# -- the CLI -------------------------------------------------------------------------------------

def run_cli(*argv):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *argv], cwd=ROOT,
                          capture_output=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_the_registry_provides_it():
    assert technique_entry("trap-emulate") == (TrapEmulateVCPU, TrapEmulatePolicy)


@pytest.mark.parametrize("args", ["", "mode=pgfault iterations=20"])
def test_cli_output_and_status_match_builtin(args, tmp_path):
    native = run_cli("--bios", "builtin", "--bootargs", args, KERNEL)
    stats_file = tmp_path / "stats.json"
    status, out, err = run_cli("--technique", "trap-emulate", "--bootargs", args,
                               "--stats-file", str(stats_file), KERNEL)
    assert (status, out) == native[:2], err
    stats = json.loads(stats_file.read_text())
    assert stats["technique"] == "trap-emulate" and stats["trap_emulate"]["exits_handled"] > 0


def test_cli_nested_paging_is_a_usage_error():
    status, out, err = run_cli("--technique", "trap-emulate", "--paging", "nested", KERNEL)
    assert status == 2 and err.count(b"\n") == 1 and b"shadow paging only" in err


def test_cli_budget_status_124():
    status, out, err = run_cli("--technique", "trap-emulate", "--max-insns", "5000", KERNEL)
    assert status == 124


# -- the classic CPU profile: where trap-and-emulate loses fidelity ---------------------------------

PROBE = f"{ROOT}/guests/virt/classic_probe.S"
PROBE_CLEAN = [
    "classic-probe: can this kernel tell it is virtualized?",
    "  sstatus.SIE written then read back: ok",
    "  satp with paging off reads 0: ok",
    "  timer interrupt held while sstatus.SIE = 0, taken once set: ok",
    "classic-probe: no virtualization visible",
]


def probe_run(profile=None):
    host = Host(ram_size=48 << 20)
    if profile is not None:
        if not hasattr(host.core, "cpu_profile"):
            pytest.skip("this build of pyvmm._core has no cpu_profile (the classic profile)")
        host.core.cpu_profile = profile
    vm = host.create_vm(ram_size=16 << 20, technique="trap-emulate", paging="shadow")
    vm.load(PROBE)
    result = vm.run(20_000_000)
    return result, vm


def test_probe_sees_nothing_under_the_standard_profile():
    result, vm = probe_run()
    assert result.status == 0
    assert vm.console_output.decode().splitlines() == PROBE_CLEAN
    assert vm.stats()["trap_emulate"]["reflected"]["interrupt 5"] == 1


def test_probe_detects_trap_emulate_under_the_classic_profile():
    # sstatus/satp reads from U-mode no longer trap: they return the real
    # registers (the hypervisor's); the kernel's sstatus.SIE writes are
    # dropped without a trap, so its timer interrupt never comes.
    result, vm = probe_run(profile=1)
    assert result.status == 0
    assert vm.console_output.decode().splitlines() == [
        "classic-probe: can this kernel tell it is virtualized?",
        "  sstatus.SIE written then read back: write lost (virtualization detected)",
        "  satp with paging off reads 0: reads the hypervisor's value (virtualization detected)",
        "  timer interrupt held while sstatus.SIE = 0, taken once set: "
        "never taken (interrupt masking broken)",
        "classic-probe: virtualization visible",
    ]
    assert "interrupt 5" not in vm.stats()["trap_emulate"]["reflected"]


def test_beside_an_hw_vm_on_one_hart():
    host = Host(ram_size=2 * (32 << 20) + (16 << 20))
    if not hasattr(host.core, "virt"):
        pytest.skip("this build of pyvmm._core has no H extension (core.virt)")
    hw = host.create_vm(ram_size=32 << 20, technique="hw", paging="nested")
    te = host.create_vm(ram_size=32 << 20, technique="trap-emulate", paging="shadow")
    for vm in (hw, te):
        vm.load(KERNEL)
    host.run(slice_insns=50_000)
    status, how, output = native_run(KERNEL, "", ram_size=32 << 20)
    for vm in (hw, te):
        assert (vm.console_output, vm.result.status) == (output, status), vm.technique
    assert host.vcpu_switches > 10

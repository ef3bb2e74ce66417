"""VMs with several VCPUs on one host hart: SBI HSM brings the secondaries
up, IPIs wake them from WFI, each VCPU has its own PLIC context, and the
guest prints the same bytes natively, in a VM, and on QEMU with OpenSBI."""

import os
import shutil
import subprocess
import sys

import pytest

from pyvmm.hv import Host, HvError
from pyvmm.machine import fdt
from pyvmm.machine.sbi import HSM_STARTED, HSM_STOPPED
from support import oracles

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST = os.path.join(REPO, "guests", "hv", "smp_ipi.S")
EXPECTED = b"b016i*s\n"


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], capture_output=True,
                          timeout=120, cwd=REPO, env=env)


def test_secondary_vcpu_started_by_hsm_and_woken_by_ipi():
    host = Host(ram_size=64 << 20)
    vm = host.create_vm(ram_size=16 << 20, vcpus=2)
    vm.load(GUEST)
    assert vm.hart_states == {0: HSM_STARTED, 1: HSM_STOPPED}
    result = vm.run(max_insns=5_000_000)
    assert (result.how, result.status) == ("sbi-shutdown", 0)
    assert vm.console_output == EXPECTED
    assert vm.hart_states[1] == HSM_STOPPED
    assert vm.vcpus[1].instret > 0 and vm.stats()["vcpus"] == 2
    assert vm.sbi_calls["hsm.0"] == 2 and vm.sbi_calls["ipi.0"] == 1


@pytest.mark.parametrize("args", [["--bios", "builtin"], ["--technique", "hw"]])
def test_same_bytes_natively_and_in_a_vm(args):
    proc = run_cli(*args, "--smp", "2", GUEST)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == EXPECTED


def test_same_bytes_on_qemu_with_opensbi(tmp_path):
    if shutil.which(oracles.QEMU) is None or shutil.which(oracles.GNU_AS) is None:
        pytest.skip("qemu-system-riscv64 and GNU binutils are the reference")
    # -n: no ELF header page before .text, so OpenSBI enters at _start (QEMU
    # hands it the lowest loaded address).
    elf = oracles.build_with_gnu(GUEST, tmp_path, ld_args=["-n", "-Ttext=0x80200000"])
    proc = subprocess.run([oracles.QEMU, "-machine", "virt", "-smp", "2", "-m", "128M",
                           "-nographic", "-kernel", elf], capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    # OpenSBI's banner comes first; the guest's bytes end the output (OpenSBI's
    # console turns "\n" into "\r\n", pyvmm's SBI and its VMs pass bytes as they are).
    assert proc.stdout.replace(b"\r\n", b"\n").endswith(EXPECTED), proc.stdout[-200:]


def test_device_tree_describes_every_vcpu_and_its_plic_contexts():
    host = Host(ram_size=64 << 20)
    vm = host.create_vm(ram_size=16 << 20, vcpus=3)
    vm.load(GUEST)
    root, _ = fdt.parse_dtb(vm.build_dtb())
    cpus = [node for node in root.find("/cpus").children if node.name.startswith("cpu@")]
    assert sorted(node.name for node in cpus) == ["cpu@0", "cpu@1", "cpu@2"]
    plic = [node for path, node in root.walk() if path.startswith("/soc/plic@")][0]
    assert len(plic.cells("interrupts-extended")) == 2 * 2 * 3     # (phandle, irq) x 2 per hart


def test_plic_context_of_each_vcpu_drives_its_own_external_interrupt():
    host = Host(ram_size=64 << 20)
    vm = host.create_vm(ram_size=16 << 20, vcpus=2)
    plic = vm.plic
    plic.write(10 * 4, 4, 1)                        # priority of source 10 (the UART)
    plic.write(0x2000 + 3 * 0x80, 4, 1 << 10)       # enabled in context 3: VCPU 1's S-mode
    vm.uart.write(1, 1, 0x02)                       # IER: transmitter empty -> line high
    assert vm.external_irq == (False, True)
    assert vm.vcpus[1].get_csr("hvip") & (1 << 10)
    assert not vm.vcpus[0].get_csr("hvip") & (1 << 10)


def test_vcpu_count_is_checked():
    host = Host(ram_size=64 << 20)
    with pytest.raises(HvError, match="1..8 VCPUs"):
        host.create_vm(ram_size=16 << 20, vcpus=9)
    with pytest.raises(HvError, match="need the hw technique"):
        host.create_vm(ram_size=16 << 20, technique="trap-emulate", vcpus=2)
    with pytest.raises(HvError, match="need nested paging"):
        host.create_vm(ram_size=16 << 20, paging="shadow", vcpus=2)


def test_a_wfi_with_a_timer_leaves_the_loop_when_siblings_exist():
    """A VCPU's WFI must not skip the shared clock to its own timer while a
    sibling could run: the core is told to exit instead."""
    host = Host(ram_size=64 << 20)
    vm = host.create_vm(ram_size=16 << 20, vcpus=2)
    vm.load(GUEST)
    vm.vcpus[0].activate()
    assert host.core.wfi_exit
    solo = host.create_vm(ram_size=16 << 20)
    solo.load(GUEST)
    solo.vcpus[0].activate()
    assert not host.core.wfi_exit


def test_smp_under_another_technique_is_a_usage_error():
    proc = run_cli("--technique", "trap-emulate", "--smp", "2", GUEST)
    assert proc.returncode == 2
    assert b"several VCPUs need the hw technique" in proc.stderr


def test_a_vm_stopped_for_budget_runs_on_when_run_again():
    host = Host(ram_size=64 << 20)
    vm = host.create_vm(ram_size=16 << 20, vcpus=2)
    vm.load(GUEST)
    steps = 0
    while True:
        result = vm.run(max_insns=2_000)
        steps += 1
        if result.how != "budget":
            break
        assert steps < 10_000
    assert (result.how, result.status) == ("sbi-shutdown", 0) and steps > 1
    assert vm.console_output == EXPECTED

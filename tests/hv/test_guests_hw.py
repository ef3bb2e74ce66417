"""Guests in VMs on the core's H extension: the kernel's output and status
are the board's (--bios builtin), two VMs cannot see each other."""

import pytest

from pyvmm.isa import causes
from hv_support import (KERNEL, PROBE, SBI_LOOP, native_run, needs_h, needs_shadow, vm_run)

pytestmark = needs_h

KERNEL_MODES = ["", "mode=syscall iterations=200", "mode=mmio iterations=200",
                "mode=csrwr iterations=200", "mode=pgfault iterations=50", "mode=trap iterations=200",
                "mode=ptemod iterations=200", "mode=ctxsw iterations=200", "mode=forkwait iterations=5",
                "mode=console iterations=5", "mode=callret iterations=200",
                "mode=compute iterations=1", "mode=bogus"]


@pytest.mark.parametrize("bootargs", KERNEL_MODES)
def test_kernel_nested_matches_native(bootargs):
    status, how, output = native_run(KERNEL, bootargs)
    vm_status, vm_how, vm_output, vm = vm_run(KERNEL, "nested", bootargs)
    assert vm_output == output
    assert (vm_status, vm_how) == (status, how)
    stats = vm.stats()
    assert stats["exits"].get("sbi", 0) > 0 and vm.error is None


@needs_shadow
@pytest.mark.parametrize("bootargs", KERNEL_MODES)
def test_kernel_shadow_matches_native(bootargs):
    status, how, output = native_run(KERNEL, bootargs)
    vm_status, vm_how, vm_output, vm = vm_run(KERNEL, "shadow", bootargs)
    assert vm_output == output
    assert (vm_status, vm_how) == (status, how)
    shadow = vm.stats()["shadow"]
    assert shadow["hidden_faults"] > 0 and vm.error is None
    assert vm.stats()["exits"].get("trap", 0) >= shadow["hidden_faults"]


def test_kernel_nested_uses_two_dimensional_walks():
    _, _, _, vm = vm_run(KERNEL, "nested")
    core = vm.stats()["core"]
    assert core.get("walks_2d", 0) > 0
    assert core.get("walk_2d_mem_refs", 0) >= core["walks_2d"]


def test_sbi_loop_exits_once_per_call():
    status, how, output, vm = vm_run(SBI_LOOP, "nested", ram_size=8 << 20)
    assert (status, how) == (0, "sbi-shutdown")
    assert output == b"sbi_loop: 100000 calls answered\n"
    assert vm.sbi_calls["base.0"] == 100000
    assert vm.exit_counts["sbi"] == 100000 + len(output) + 1


def test_budget_stops_with_124():
    status, how, _, vm = vm_run(KERNEL, "nested", max_insns=20000)
    assert (status, how) == (124, "budget")
    assert 20000 - 2 <= vm.vcpus[0].instret <= 20000


def test_kernel_without_sstc_gets_its_timer_through_hvip():
    from pyvmm.hv import Host
    from pyvmm.machine.fdt import parse_dtb
    status, how, output = native_run(KERNEL)
    host = Host(ram_size=160 << 20)
    vm = host.create_vm(ram_size=128 << 20, sstc=False)
    vm.load(KERNEL)
    result = vm.run()
    assert vm.console_output == output and (result.status, result.how) == (status, how)
    assert vm.vcpus[0].get_csr("henvcfg") >> 63 == 0
    isa = parse_dtb(vm.read(vm.dtb_gpa, 8192))[0].find("/cpus/cpu@0").string("riscv,isa")
    assert "sstc" not in isa
    assert vm.sbi_calls["time.0"] == 14 and vm.exit_counts["wfi"] >= 1


@pytest.mark.parametrize("paging", ["nested", pytest.param("shadow", marks=needs_shadow)])
def test_two_vms_cannot_touch_each_other(paging):
    from pyvmm.hv import Host
    host = Host(ram_size=64 << 20)
    victim = host.create_vm(ram_size=8 << 20)
    prober = host.create_vm(ram_size=8 << 20, paging=paging)
    victim.load(SBI_LOOP)
    prober.load(PROBE)
    pattern = bytes(range(256)) * 16
    victim.write(victim.ram_base + 0x10_0000, pattern)
    before = bytes(host.core.read_mem(host.ram_base, host.ram_size))
    results = host.run()
    assert results[prober].how == "sbi-shutdown" and results[victim].how == "sbi-shutdown"
    assert prober.console_output == b"probe: done\n"
    faults = int.from_bytes(prober.read(prober.symbols["probe_faults"], 8), "little")
    leaks = int.from_bytes(prober.read(prober.symbols["probe_leaks"], 8), "little")
    assert (faults, leaks) == (2 * 3968, 0)
    assert int.from_bytes(prober.read(prober.symbols["probe_last_cause"], 8), "little") == 5
    assert victim.read(victim.ram_base + 0x10_0000, len(pattern)) == pattern
    # The prober's stores wrote nothing anywhere outside its own RAM.
    after = bytes(host.core.read_mem(host.ram_base, host.ram_size))
    own = {hpa - host.ram_base for hpa in prober.memory.values()}
    victim_pages = {hpa - host.ram_base for hpa in victim.memory.values()}
    for offset in range(0, host.ram_size, 4096):
        if offset in own or offset in victim_pages:
            continue
        if before[offset:offset + 4096] != after[offset:offset + 4096]:
            # Only page tables may change: G-stage ones never (A/D preset), the
            # prober's shadow tables as the pager fills them.
            hpa = host.ram_base + offset
            if prober.pager is not None and shadow_frame(prober, hpa) \
                    and hpa not in victim.gstage.table_frames:
                continue
            pytest.fail(f"host page {host.ram_base + offset:#x} changed")
    assert prober.reflected_faults == {5: 3968, 7: 3968}


def shadow_frame(vm, hpa):
    """Is hpa a frame the VM's shadow pager allocated (not guest memory)?"""
    return vm.host.frames.is_allocated(hpa) and hpa not in set(vm.memory.values())


CUSTOM_GUEST = """
    .section .text
    .globl _start
_start:
    li      a7, 0x0A000000          # the VM's own SBI extension
    li      a6, 0
    li      a0, 40
    li      a1, 2
    ecall                           # a1 = 42
    li      t0, 0x04000000          # the VM's own device (on virt's platform bus)
    sd      a1, 0(t0)
    sd      a1, 0(t0)
    ld      t1, 0(t0)               # 84
    li      t2, 84
    sub     a1, t1, t2
    snez    a1, a1                  # SRST reason: none if all went well
    li      a7, 0x53525354
    li      a6, 0
    li      a0, 0
    ecall
1:  j       1b
"""


@pytest.mark.parametrize("paging", ["nested", pytest.param("shadow", marks=needs_shadow)])
def test_custom_hypercall_and_device_with_a_real_guest(paging, tmp_path):
    from pyvmm.hv import Host

    class Accumulator:
        total = 0

        def read(self, offset, size):
            return self.total

        def write(self, offset, size, value):
            self.total += value

    source = tmp_path / "custom.S"
    source.write_text(CUSTOM_GUEST)
    host = Host(ram_size=32 << 20)
    vm = host.create_vm(ram_size=8 << 20, paging=paging)
    vm.hypercalls[(0x0A000000, 0)] = lambda vcpu, args: (0, args[0] + args[1])
    device = Accumulator()
    vm.attach(0x0400_0000, 0x1000, device, "accumulator")
    vm.load(str(source))
    result = vm.run()
    assert (result.how, result.status) == ("sbi-shutdown", 0)
    assert device.total == 84 and vm.exit_counts["mmio"] == 3
    assert vm.sbi_calls["0xa000000.0"] == 1


@pytest.mark.parametrize("pagings", [("nested", "nested"),
                                     pytest.param(("nested", "shadow"), marks=needs_shadow)])
def test_two_kernels_time_sliced_on_one_hart(pagings):
    """Two VMs share the hart in 20,000-instruction slices, each swap saving
    one VCPU and loading the other: both print what the board prints."""
    from pyvmm.hv import Host
    from pyvmm.hv.scheduler import RoundRobin
    _, _, syscall_output = native_run(KERNEL, "mode=syscall iterations=2000")
    _, _, demo_output = native_run(KERNEL)
    host = Host(ram_size=96 << 20)
    demo = host.create_vm(ram_size=32 << 20, paging=pagings[0])
    bench = host.create_vm(ram_size=32 << 20, paging=pagings[1],
                           bootargs="mode=syscall iterations=2000")
    demo.load(KERNEL)
    bench.load(KERNEL)
    scheduler = RoundRobin(host, slice_insns=20_000)
    results = scheduler.run()
    assert demo.console_output == demo_output and bench.console_output == syscall_output
    assert all(r.status == 0 for r in results.values())
    assert host.vcpu_switches > 20 and scheduler.slices > 20


def test_a_fault_loop_still_ends_at_the_budget(tmp_path):
    """stvec = 0 and a jump to nothing: every fetch faults, each fault is
    reflected by the hypervisor and retires nothing; the budget still ends it."""
    source = tmp_path / "loop.S"
    source.write_text("    .section .text\n    .globl _start\n_start:\n"
                      "    csrw stvec, zero\n    li t0, 0x90000000\n    jr t0\n")
    status, how, _, vm = vm_run(str(source), "nested", ram_size=8 << 20, max_insns=50_000)
    assert (status, how) == (124, "budget")
    assert vm.reflected_faults[causes.EXC_INST_ACCESS] > 40_000


H_CSR_GUEST = """
    .option norvc
    .section .text
    .globl _start
_start:
    la      t0, trap
    csrw    stvec, t0
    li      s1, 0
    csrr    t1, hstatus             # no H for the guest: illegal instruction, as without H
    li      t2, 2
    bne     s1, t2, fail
    csrr    t3, stval
    li      t4, 0x60002373          # the instruction's bits (csrr t1, hstatus)
    bne     t3, t4, fail
    li      a1, 0
    j       done
fail:
    li      a1, 1
done:
    li      a7, 0x53525354
    li      a6, 0
    li      a0, 0
    ecall
1:  j       1b
    .align 2
trap:
    csrr    s1, scause
    csrr    t5, sepc
    addi    t5, t5, 4
    csrw    sepc, t5
    sret
"""


@pytest.mark.parametrize("paging", ["nested", pytest.param("shadow", marks=needs_shadow)])
def test_guest_touching_h_csrs_gets_illegal_instruction(paging, tmp_path):
    source = tmp_path / "hcsr.S"
    source.write_text(H_CSR_GUEST)
    status, how, _, vm = vm_run(str(source), paging, ram_size=8 << 20)
    assert (status, how) == (0, "sbi-shutdown")
    assert vm.exit_counts["virtual_instruction"] == 1
    assert vm.reflected_faults[causes.EXC_ILLEGAL_INST] == 1


UART_IRQ_GUEST = """
    .section .text
    .globl _start
_start:
    li      t0, 0x0C000028          # PLIC priority of source 10 (the UART)
    li      t1, 1
    sw      t1, 0(t0)
    li      t0, 0x0C002080          # enables of context 1 (S-mode)
    li      t1, 1 << 10
    sw      t1, 0(t0)
    li      t0, 0x0C201000          # threshold of context 1
    sw      zero, 0(t0)
    li      t0, 0x10000001          # UART IER: received data available
    li      t1, 1
    sb      t1, 0(t0)
    li      t0, 1 << 9              # sie.SEIE (sstatus.SIE stays 0: wfi wakes, no trap)
    csrs    sie, t0
1:  wfi
    li      t0, 0x0C201004          # claim
    lw      s1, 0(t0)
    beqz    s1, 1b
    li      t1, 0x10000000
    lbu     s2, 0(t1)               # the byte
    sw      s1, 0(t0)               # complete
    mv      a0, s2
    li      a7, 1                   # legacy putchar: echo it
    ecall
    li      a7, 0x53525354
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
2:  j       2b
"""


def test_uart_input_reaches_the_guest_as_a_vs_external_interrupt(tmp_path):
    from pyvmm.hv import Host
    source = tmp_path / "uart.S"
    source.write_text(UART_IRQ_GUEST)
    host = Host(ram_size=32 << 20)
    vm = host.create_vm(ram_size=8 << 20, stdin=b"Q")
    vm.load(str(source))
    result = vm.run(max_insns=1_000_000)
    assert (result.how, result.status) == ("sbi-shutdown", 0)
    assert vm.console_output == b"Q"
    assert vm.devices.access_counts()["plic"] >= 5      # claimed through the PLIC
    assert not vm.vcpus[0].get_csr("hvip") & (1 << causes.IRQ_VS_EXT)   # line low once read


UART_POLL_ECHO_GUEST = """
    .section .text
    .globl _start
_start:
    li      s0, 0x10000000
    li      s1, 16                  # bytes to echo
1:  lbu     t0, 5(s0)               # LSR: data ready?
    andi    t0, t0, 1
    beqz    t0, 1b
    lbu     a0, 0(s0)
    sb      a0, 0(s0)               # echo on the UART
    addi    s1, s1, -1
    bnez    s1, 1b
    li      a7, 0x53525354
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
2:  j       2b
"""


def test_console_input_reaches_a_vm_a_byte_time_apart(tmp_path):
    """Typed bytes reach a VM's UART as fast as the board's (one per
    RX_BYTE_INSNS instructions), not one per scheduler slice."""
    from pyvmm.hv import Host
    from pyvmm.machine.machine import RX_BYTE_INSNS
    source = tmp_path / "echo.S"
    source.write_text(UART_POLL_ECHO_GUEST)
    host = Host(ram_size=32 << 20)
    vm = host.create_vm(ram_size=8 << 20, stdin=b"sixteen bytes in")
    vm.load(str(source))
    result = vm.run(max_insns=50_000_000)
    assert (result.how, result.status) == ("sbi-shutdown", 0)
    assert vm.console_output == b"sixteen bytes in"
    assert vm.stats()["instret"] < 17 * 2 * RX_BYTE_INSNS

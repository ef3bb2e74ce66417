"""VCPU state swap, exit decoding and the round-robin scheduler (fake core, scripted exits)."""

from fake_core import EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP, EXIT_WFI

from pyvmm.hv.scheduler import RoundRobin
from pyvmm.isa import causes
from pyvmm.isa.csrs import CSRS

BASE = 0x8000_0000


def test_swap_saves_and_restores_each_vcpu(fake_host):
    core = fake_host.core
    a = fake_host.create_vm(ram_size=1 << 20).vcpus[0]
    b = fake_host.create_vm(ram_size=1 << 20).vcpus[0]
    a.activate()
    core.set_x(5, 0xAAAA)
    core.pc = BASE + 0x10
    core.write_csr(CSRS["vsscratch"], 0xA5)
    assert core.guest_mmio == a.vm.mmio_ranges()
    hgatp_a = core.read_csr(CSRS["hgatp"])
    b.activate()
    assert core.get_x(5) == 0 and core.read_csr(CSRS["hgatp"]) != hgatp_a
    assert core.read_csr(CSRS["vsscratch"]) == 0
    assert (core.read_csr(CSRS["hgatp"]) >> 44) & 0x3FFF == b.vm.vmid
    core.set_x(5, 0xBBBB)
    a.activate()
    assert core.get_x(5) == 0xAAAA and core.pc == BASE + 0x10
    assert core.read_csr(CSRS["vsscratch"]) == 0xA5 and core.read_csr(CSRS["hgatp"]) == hgatp_a
    assert b.get_x(5) == 0xBBBB and b.x[5] == 0xBBBB      # b's copy, while a is loaded
    switches = fake_host.vcpu_switches
    a.activate()
    assert fake_host.vcpu_switches == switches              # already loaded: no swap


def test_default_delegation(fake_vm):
    vcpu = fake_vm.vcpus[0]
    hedeleg = vcpu.get_csr("hedeleg")
    for cause in (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 15):
        assert hedeleg >> cause & 1, cause
    for cause in (9, 10, 11, 20, 21, 22, 23):
        assert not hedeleg >> cause & 1, cause
    assert vcpu.get_csr("hideleg") == 0x444
    assert not vcpu.get_csr("hstatus") & (1 << 20)          # VTVM only under shadow


def test_decode_exit_kinds(fake_vm):
    vcpu = fake_vm.vcpus[0]
    core = fake_vm.host.core
    core.x[10:18] = [1, 2, 3, 4, 5, 6, 7, 0x10]
    core.script = [
        (EXIT_BUDGET, {}, 100),
        (EXIT_TRAP, {"exit_cause": causes.EXC_ECALL_VS, "exit_pc": BASE, "exit_tval": 0,
                     "exit_insn": 0x73}, 5),
        (EXIT_MMIO, {"exit_addr": 0x1000_0000, "exit_size": 1, "exit_is_write": 1,
                     "exit_data": 0x41, "exit_pc": BASE + 8}, 1),
        (EXIT_TRAP, {"exit_cause": 21, "exit_pc": BASE, "exit_tval": 0x5000, "exit_gpa": 0x9000_0000,
                     "exit_insn": 0x3, "exit_htinst": 0}, 1),
        (EXIT_TRAP, {"exit_cause": 22, "exit_pc": BASE, "exit_tval": 0x10500073,
                     "exit_insn": 0x10500073}, 1),
        (EXIT_TRAP, {"exit_cause": (1 << 63) | 5, "exit_pc": BASE, "exit_tval": 0, "exit_insn": 0}, 1),
        (EXIT_WFI, {"exit_pc": BASE + 4}, 1),
    ]
    kinds = [vcpu.run(1000) for _ in range(7)]
    assert [e.kind for e in kinds] == ["budget", "sbi", "mmio", "guest_page_fault",
                                       "virtual_instruction", "interrupt", "wfi"]
    sbi = kinds[1]
    assert (sbi.ext, sbi.fid, sbi.args) == (0x10, 7, (1, 2, 3, 4, 5, 6))
    assert kinds[2].addr == 0x1000_0000 and kinds[2].is_write and kinds[2].data == 0x41
    assert kinds[3].gpa == 0x9000_0000 and kinds[3].tval == 0x5000
    assert kinds[4].insn == 0x10500073
    assert kinds[5].cause == 5
    assert vcpu.instret == 110


def test_round_robin_alternates_and_stops_on_budget(fake_host, tmp_path):
    core = fake_host.core
    image = tmp_path / "nop.bin"
    image.write_bytes(b"\x13\x00\x00\x00")
    vms = [fake_host.create_vm(ram_size=4 << 20) for _ in range(2)]
    for vm in vms:
        vm.load(str(image), load_addr=BASE)
    order = []
    real_run = core.run

    def run(budget):
        order.append(fake_host.current_vcpu.vm.name)
        return real_run(budget)

    core.run = run
    core.script = [(EXIT_BUDGET, {}, 1000)] * 6
    results = RoundRobin(fake_host, slice_insns=1000).run(max_insns=6000)
    assert order == ["vm1", "vm2"] * 3
    assert all(r.how == "budget" and r.status == 124 for r in results.values())
    assert all(vm.vcpus[0].instret == 3000 for vm in vms)
    for vm in vms:      # booted: a0 = hart id, a1 = the device tree, which is in guest RAM
        vcpu = vm.vcpus[0]
        assert vcpu.get_x(11) == vm.dtb_gpa and vm.read(vm.dtb_gpa, 4) == b"\xd0\x0d\xfe\xed"
        assert vm.read(BASE, 4) == b"\x13\x00\x00\x00"


def test_a_vcpu_blocked_in_wfi_lets_the_others_run_first(fake_host, tmp_path):
    core = fake_host.core
    image = tmp_path / "nop.bin"
    image.write_bytes(b"\x13\x00\x00\x00")
    sleeper, worker = (fake_host.create_vm(ram_size=4 << 20) for _ in range(2))
    for vm in (sleeper, worker):
        vm.load(str(image), load_addr=BASE)
        vm.boot()                            # (boot disarms the timer, as firmware does)
    sleeper.vcpus[0].set_csr("hie", 1 << causes.IRQ_VS_TIMER)
    sleeper.vcpus[0].set_csr("vstimecmp", 500)
    order = []
    real_run = core.run

    def run(budget):
        order.append((fake_host.current_vcpu.vm.name, core.mtime))
        if fake_host.current_vcpu.vm is sleeper:
            core.script = [(EXIT_WFI, {"exit_pc": BASE}, 1)]
        else:
            core.mtime += 100                # the worker's instructions move time
            core.script = [(EXIT_BUDGET, {}, 1000)]
        return real_run(budget)

    core.run = run
    RoundRobin(fake_host, slice_insns=1000).run(max_insns=9000)
    names = [name for name, _ in order]
    # The sleeper blocks after its WFI and runs again only once time reaches 500.
    assert names[:2] == ["vm1", "vm2"]
    wakes = [mtime for name, mtime in order[1:] if name == "vm1"]
    assert wakes and all(mtime >= 500 for mtime in wakes)
    assert names.count("vm2") >= 5 and sleeper.vcpus[0].time_skipped == 0

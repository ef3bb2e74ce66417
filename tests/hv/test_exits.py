"""Exit handlers called with fabricated Exit records (fake core, no guest)."""

import pytest

from pyvmm.hv import Exit
from pyvmm.hv import exits
from pyvmm.isa import causes
from pyvmm.machine import sbi

BASE = 0x8000_0000
MASK64 = (1 << 64) - 1


def sbi_exit(ext, fid=0, *args, pc=BASE + 0x100):
    args = tuple(args) + (0,) * (6 - len(args))
    return Exit("sbi", cause=causes.EXC_ECALL_VS, pc=pc, ext=ext, fid=fid, args=args)


def test_exit_record_checks_its_fields():
    e = Exit("mmio", addr=0x1000_0000, size=1, is_write=True, data=0x41)
    assert e.addr == 0x1000_0000 and e.gpa is None
    assert "mmio" in repr(e) and "0x10000000" in repr(e)
    with pytest.raises(ValueError):
        Exit("coffee")
    with pytest.raises(TypeError):
        Exit("budget", colour="red")


def test_sbi_base_calls_answer_in_a0_a1_and_retire_the_ecall(fake_vm):
    vcpu = fake_vm.vcpus[0]
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_BASE, 0))
    assert vcpu.get_x(10) == 0 and vcpu.get_x(11) == (2 << 24)
    assert vcpu.pc == BASE + 0x104
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_BASE, 1))
    assert vcpu.get_x(11) == sbi.IMPL_ID
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_BASE, 3, sbi.EID_DBCN))
    assert vcpu.get_x(11) == 1
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_BASE, 3, 0x12345678))
    assert vcpu.get_x(11) == 0
    assert fake_vm.sbi_calls["base.3"] == 2


def test_unknown_sbi_call_is_not_supported(fake_vm):
    vcpu = fake_vm.vcpus[0]
    vcpu.set_x(11, 77)
    fake_vm.handle(vcpu, sbi_exit(0x0BADCAFE, 9))
    assert vcpu.get_x(10) == (-2) & MASK64


def test_legacy_putchar_answers_in_a0_only(fake_vm):
    vcpu = fake_vm.vcpus[0]
    vcpu.set_x(11, 0x55)
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_LEGACY_CONSOLE_PUTCHAR, 0x33, ord("Z")))
    assert fake_vm.console_output == b"Z"
    assert vcpu.get_x(10) == 0 and vcpu.get_x(11) == 0x55


def test_custom_hypercall_in_a_few_lines(fake_vm):
    seen = []

    def add(vcpu, args):
        seen.append(args[:2])
        return 0, args[0] + args[1]

    fake_vm.hypercalls[(0x0A000000, 1)] = add
    vcpu = fake_vm.vcpus[0]
    fake_vm.handle(vcpu, sbi_exit(0x0A000000, 1, 40, 2))
    assert seen == [(40, 2)] and vcpu.get_x(11) == 42 and vcpu.get_x(10) == 0


def test_dbcn_write_reads_guest_physical_memory(fake_vm):
    gpa = BASE + 0x3_0000 - 2                    # crosses a host chunk boundary
    fake_vm.write(gpa, b"hello")
    vcpu = fake_vm.vcpus[0]
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_DBCN, 0, 5, gpa, 0))
    assert fake_vm.console_output == b"hello" and vcpu.get_x(11) == 5
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_DBCN, 0, 5, BASE + (4 << 20) - 1, 0))
    assert vcpu.get_x(10) == (sbi.SBI_ERR_INVALID_PARAM & MASK64)


def test_srst_stops_the_vm_with_the_board_statuses(fake_host):
    for args, how, status in (((0, 0), "sbi-shutdown", 0), ((0, 1), "sbi-shutdown", 1),
                              ((1, 0), "sbi-reboot", 0)):
        vm = fake_host.create_vm(ram_size=1 << 20)
        vcpu = vm.vcpus[0]
        vm.handle(vcpu, sbi_exit(sbi.EID_SRST, 0, *args))
        assert vm.stopped and vm.result.how == how and vm.result.status == status
        assert vcpu.run(100).kind == "shutdown"
    vm = fake_host.create_vm(ram_size=1 << 20)
    vm.handle(vm.vcpus[0], sbi_exit(sbi.EID_SRST, 0, 7, 0))
    assert not vm.stopped and vm.vcpus[0].get_x(10) == sbi.SBI_ERR_INVALID_PARAM & MASK64


def test_hsm_stop_is_idle_status_125(fake_vm):
    fake_vm.handle(fake_vm.vcpus[0], sbi_exit(sbi.EID_HSM, 1))
    assert fake_vm.result.status == 125 and fake_vm.result.how == "idle"


def test_timer_goes_to_vstimecmp_and_ipi_to_hvip(fake_vm):
    vcpu = fake_vm.vcpus[0]
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_TIME, 0, 12345))
    assert vcpu.get_csr("vstimecmp") == 12345
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_IPI, 0, 1, 0))
    assert vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_SOFT)
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_LEGACY_CLEAR_IPI))
    assert not vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_SOFT)
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_IPI, 0, 1, 5))      # hart 5 does not exist
    assert vcpu.get_x(10) == sbi.SBI_ERR_INVALID_PARAM & MASK64


def test_timer_without_sstc_uses_hvip(fake_vm):
    vcpu = fake_vm.vcpus[0]
    vcpu.set_csr("henvcfg", 0)
    core = fake_vm.host.core
    core.mtime = 100
    fake_vm.handle(vcpu, sbi_exit(sbi.EID_TIME, 0, 150))
    assert vcpu.soft_timer == 150 and not vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_TIMER)
    vcpu.set_csr("hie", 1 << causes.IRQ_VS_TIMER)
    exits.handle_wfi(vcpu, Exit("wfi", pc=BASE))
    assert vcpu.blocked_until == 150 and core.mtime == 100 and not fake_vm.stopped
    core.script = [(1, {}, 10)]
    vcpu.run(10)                                   # nobody else to run: time skips to the deadline
    assert core.mtime == 150 and vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_TIMER)
    assert vcpu.blocked_until is None and vcpu.time_skipped == 1


def test_mmio_store_and_load_go_to_the_vms_devices(fake_vm):
    vcpu = fake_vm.vcpus[0]
    fake_vm.handle(vcpu, Exit("mmio", addr=0x1000_0000, size=1, is_write=True, data=ord("q"), pc=BASE))
    assert fake_vm.console_output == b"q"
    fake_vm.handle(vcpu, Exit("mmio", addr=0x1000_0005, size=1, is_write=False, pc=BASE))
    assert fake_vm.host.core.completed[-1] == ("mmio", 0x60)        # LSR: THRE | TEMT
    fake_vm.handle(vcpu, Exit("mmio", addr=0x0010_0000, size=1, is_write=False, pc=BASE))
    assert fake_vm.host.core.completed[-1] == ("fault",)            # the finisher refuses bytes
    fake_vm.handle(vcpu, Exit("mmio", addr=0x0010_0000, size=4, is_write=True, data=0x5555, pc=BASE))
    assert fake_vm.result.how == "finisher-pass"


def test_custom_mmio_device_in_a_few_lines(fake_vm):
    class Counter:
        value = 0

        def read(self, offset, size):
            return self.value

        def write(self, offset, size, value):
            self.value += value

    fake_vm.attach(0x0400_0000, 0x1000, Counter(), "counter")
    assert fake_vm.is_mmio(0x4000_0008)
    assert (0x0400_0000, 0x1000) in fake_vm.host.core.guest_mmio    # the core exits on it
    assert (0x0400_0000, 0x1000) in fake_vm.vcpus[0].guest_mmio
    vcpu = fake_vm.vcpus[0]
    fake_vm.handle(vcpu, Exit("mmio", addr=0x0400_0000, size=8, is_write=True, data=5))
    fake_vm.handle(vcpu, Exit("mmio", addr=0x0400_0000, size=8, is_write=False))
    assert fake_vm.host.core.completed[-1] == ("mmio", 5)


def test_guest_page_fault_outside_memory_reflects_an_access_fault(fake_vm):
    vcpu = fake_vm.vcpus[0]
    vcpu.set_csr("vstvec", BASE + 0x800)
    core = fake_vm.host.core
    core.pc = BASE + 0x40
    for gpf, access in ((20, 1), (21, 5), (23, 7)):
        fake_vm.handle(vcpu, Exit("guest_page_fault", cause=gpf, tval=0x1234, gpa=0x0400_0000,
                                  pc=BASE + 0x40))
        assert core.injected[-1] == (access, 0x1234)
    assert core.pc == BASE + 0x800 and vcpu.get_csr("vscause") == 7
    assert fake_vm.reflected_faults == {1: 1, 5: 1, 7: 1}


def test_guest_page_fault_can_stop_the_vm(fake_vm):
    fake_vm.policy.on_bad_access = "stop"
    fake_vm.handle(fake_vm.vcpus[0], Exit("guest_page_fault", cause=21, tval=0, gpa=0x0400_0000,
                                          pc=BASE))
    assert fake_vm.result.how == "error" and fake_vm.result.status == 1
    assert "0x4000000 " in fake_vm.error


def test_virtual_instruction_becomes_illegal_instruction_under_nested(fake_vm):
    core = fake_vm.host.core
    csrr_hstatus = 0x600022F3                    # csrr t0, hstatus
    fake_vm.handle(fake_vm.vcpus[0], Exit("virtual_instruction", cause=22, pc=BASE,
                                          insn=csrr_hstatus, tval=csrr_hstatus, priv=1))
    assert core.injected == [(2, csrr_hstatus)]


def test_wfi_with_timer_skips_time_and_without_is_idle(fake_vm):
    vcpu = fake_vm.vcpus[0]
    core = fake_vm.host.core
    vcpu.set_csr("hie", 1 << causes.IRQ_VS_TIMER)
    vcpu.set_csr("htimedelta", (-1000) & MASK64)     # guest time = mtime - 1000
    vcpu.set_csr("vstimecmp", 5000)
    fake_vm.handle(vcpu, Exit("wfi", pc=BASE))
    assert vcpu.blocked_until == 6000 and not fake_vm.stopped
    core.script = [(1, {}, 10)]
    vcpu.run(10)
    assert core.mtime == 6000
    vcpu.set_csr("vstimecmp", MASK64)
    fake_vm.handle(vcpu, Exit("wfi", pc=BASE))
    assert fake_vm.result.how == "idle" and fake_vm.result.status == 125


def test_undelegated_trap_is_reflected(fake_vm):
    core = fake_vm.host.core
    fake_vm.handle(fake_vm.vcpus[0], Exit("trap", cause=causes.EXC_LOAD_PAGE_FAULT, tval=0xdead,
                                          pc=BASE))
    assert core.injected == [(13, 0xdead)]
    fake_vm.handle(fake_vm.vcpus[0], Exit("trap", cause=causes.EXC_ECALL_M, tval=0, pc=BASE))
    assert fake_vm.result.how == "error"


def test_csr_op_semantics():
    assert exits.csr_op(1, 0xF0, 0x0F, 3) == 0x0F        # csrrw
    assert exits.csr_op(2, 0xF0, 0x0F, 3) == 0xFF        # csrrs
    assert exits.csr_op(3, 0xFF, 0x0F, 3) == 0xF0        # csrrc
    assert exits.csr_op(2, 0xF0, 0, 0) is None           # csrr: no write
    assert exits.csr_op(5, 0xF0, 0, 0) == 0              # csrrwi x, 0: writes zero
    assert exits.decode_system(0x12000073)[0] == "sfence.vma"
    assert exits.decode_system(0x180022F3)[:2] == ("csr", 5)   # csrr t0, satp
    assert exits.decode_system(0x00000013)[0] is None


def test_exit_counts_count_from_zero_and_read_as_a_dict(fake_vm):
    vcpu = fake_vm.vcpus[0]
    counts = fake_vm.exit_counts
    assert counts["mmio"] == 0 and "mmio" not in counts       # reading stores nothing
    fake_vm.handle(vcpu, Exit("budget", pc=BASE))
    fake_vm.handle(vcpu, Exit("budget", pc=BASE))
    fake_vm.handle(vcpu, Exit("shutdown", pc=BASE))
    assert counts == {"budget": 2, "shutdown": 1}
    assert fake_vm.stats()["exits"] == {"budget": 2, "shutdown": 1}
    tally = exits.Tally()
    tally["x"] += 3
    assert tally == {"x": 3} and tally["y"] == 0 and len(tally) == 1

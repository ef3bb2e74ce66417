"""The hw policy under paging="shadow": VTVM emulation of satp and sfence.vma,
page faults through the shadow pager (fake core, fabricated exits)."""

import pytest
from hv_support import needs_shadow

from pyvmm.hv import Exit
from pyvmm.isa import causes

pytestmark = needs_shadow

BASE = 0x8000_0000
SV39 = 8 << 60


@pytest.fixture
def shadow_vm(fake_host):
    vm = fake_host.create_vm(ram_size=4 << 20, paging="shadow")
    vm.vcpus[0].activate()
    return vm


def csr_insn(funct3, rd, rs1, csr):
    return (csr << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x73


def test_shadow_configuration(shadow_vm):
    vcpu = shadow_vm.vcpus[0]
    assert vcpu.get_csr("hstatus") & (1 << 20)              # VTVM
    assert vcpu.get_csr("hgatp") == 0
    hedeleg = vcpu.get_csr("hedeleg")
    assert not hedeleg & ((1 << 12) | (1 << 13) | (1 << 15))
    assert vcpu.get_csr("vsatp") == shadow_vm.pager.root_satp(1)
    assert vcpu.get_csr("vsatp") >> 60 == 8                 # the shadow of Bare is Sv39
    assert shadow_vm.gstage is None and shadow_vm.host.core.guest_mmio == []


def test_satp_write_and_read_are_emulated(shadow_vm):
    vcpu = shadow_vm.vcpus[0]
    table = BASE + 0x10_0000
    guest_satp = SV39 | (5 << 44) | (table >> 12)
    vcpu.set_x(6, guest_satp)
    insn = csr_insn(1, 7, 6, 0x180)                         # csrrw t2, satp, t1
    shadow_vm.handle(vcpu, Exit("virtual_instruction", cause=22, pc=BASE, insn=insn, tval=insn, priv=1))
    assert vcpu.pc == BASE + 4 and vcpu.get_x(7) == 0
    assert vcpu.guest_satp == guest_satp and shadow_vm.pager.guest_satp == guest_satp
    assert vcpu.get_csr("vsatp") == shadow_vm.pager.root_satp(1)
    insn = csr_insn(2, 5, 0, 0x180)                         # csrr t0, satp
    shadow_vm.handle(vcpu, Exit("virtual_instruction", cause=22, pc=BASE + 4, insn=insn, priv=1))
    assert vcpu.get_x(5) == guest_satp and vcpu.pc == BASE + 8
    vcpu.set_x(6, 5 << 60)                                  # an unsupported mode: write ignored
    insn = csr_insn(1, 0, 6, 0x180)
    shadow_vm.handle(vcpu, Exit("virtual_instruction", cause=22, pc=BASE + 8, insn=insn, priv=1))
    assert vcpu.guest_satp == guest_satp
    assert shadow_vm.policy.emulated == {"satp_reads": 1, "satp_writes": 2, "sfence_vma": 0}


def test_sfence_is_emulated_and_vu_gets_illegal_instruction(shadow_vm):
    vcpu = shadow_vm.vcpus[0]
    flushes = shadow_vm.pager.counters["flushes"]
    shadow_vm.handle(vcpu, Exit("virtual_instruction", cause=22, pc=BASE, insn=0x12000073, priv=1))
    assert shadow_vm.pager.counters["flushes"] == flushes + 1 and vcpu.pc == BASE + 4
    core = shadow_vm.host.core
    shadow_vm.handle(vcpu, Exit("virtual_instruction", cause=22, pc=BASE, insn=0x12000073, priv=0))
    assert core.injected == [(causes.EXC_ILLEGAL_INST, 0x12000073)]


def test_page_faults_go_to_the_pager(shadow_vm):
    vcpu = shadow_vm.vcpus[0]
    core = shadow_vm.host.core
    shadow_vm.handle(vcpu, Exit("trap", cause=13, tval=BASE + 0x1234, pc=BASE, priv=1, insn=0x3))
    assert shadow_vm.pager.counters["hidden_faults"] == 1 and core.injected == []
    shadow_vm.handle(vcpu, Exit("trap", cause=13, tval=BASE + (4 << 20), pc=BASE, priv=1, insn=0x3))
    assert core.injected == [(causes.EXC_LOAD_ACCESS, BASE + (4 << 20))]
    shadow_vm.handle(vcpu, Exit("trap", cause=13, tval=0x1000_0000, pc=BASE, priv=1, insn=0x3))
    assert shadow_vm.pager.counters["mmio_fills"] == 1

"""Trap-and-emulate driven by fabricated exits: no guest runs. Each test builds
the Exit a de-privileged guest kernel would cause and checks the virtual
supervisor state, the registers, the pc and the real hart afterwards."""

import pytest

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Exit, Host, HvError  # noqa: E402
from pyvmm.hv.vcpu_state import (PRIV_S, PRIV_U, SIP_SEIP, SIP_SSIP, SIP_STIP,  # noqa: E402
                                 SSTATUS_SIE, SSTATUS_SPIE, SSTATUS_SPP, SSTATUS_SUM)
from pyvmm.isa.csrs import CSRS  # noqa: E402
from pyvmm.machine import sbi  # noqa: E402

MASK64 = (1 << 64) - 1
ENTRY = 0x8020_0000
PC = 0x8020_1000
STVEC = 0x8020_4000
A0, A1, A6, A7, T0 = 10, 11, 16, 17, 5
INTERRUPT = 1 << 63
SRET, WFI = 0x10200073, 0x10500073


def csr_insn(funct3, rd, csr, rs1):
    return (csr << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x73


CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI = 1, 2, 3, 5, 6, 7


def sfence_vma(rs1=0, rs2=0):
    return 0x12000073 | (rs2 << 20) | (rs1 << 15)


@pytest.fixture
def vcpu():
    host = Host(ram_size=8 << 20)
    vm = host.create_vm(ram_size=4 << 20, technique="trap-emulate", paging="shadow")
    vcpu = vm.vcpus[0]
    vcpu.activate()
    vcpu.reset(ENTRY)
    vcpu.pc = PC
    vcpu.state.stvec = STVEC
    return vcpu


def illegal(vcpu, insn, pc=PC):
    exit = Exit("trap", cause=2, tval=insn, insn=insn, pc=pc, priv=vcpu.state.priv)
    vcpu.vm.handle(vcpu, exit)


def policy(vcpu):
    return vcpu.vm.policy


def real_satp(vcpu):
    return vcpu.core.read_csr(CSRS["satp"])


def assert_reflected(vcpu, cause, tval, epc, from_priv):
    state = vcpu.state
    assert (state.scause, state.stval, state.sepc) == (cause, tval, epc)
    assert state.priv == PRIV_S and vcpu.pc == STVEC
    assert bool(state.sstatus & SSTATUS_SPP) == (from_priv == PRIV_S)
    assert not state.sstatus & SSTATUS_SIE
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_S)


# -- the hart the guest runs on ------------------------------------------------------------------

def test_nested_paging_is_refused():
    host = Host(ram_size=8 << 20)
    with pytest.raises(HvError, match="shadow paging only"):
        host.create_vm(ram_size=4 << 20, technique="trap-emulate", paging="nested")


def test_guest_kernel_runs_in_real_user_mode_with_every_trap_exiting(vcpu):
    core = vcpu.core
    assert core.priv == 0 and vcpu.state.priv == PRIV_S
    # (With H, mideleg's VS and guest-external bits are read-only one; no VS here.)
    assert core.read_csr(CSRS["medeleg"]) == 0 and core.read_csr(CSRS["mideleg"]) & 0xAAA == 0
    assert core.exit_on_exception == (1 << 24) - 1
    assert core.read_csr(CSRS["mie"]) == 1 << 7
    assert core.read_csr(CSRS["scounteren"]) == 0        # counter reads trap too
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_S) != 0
    assert vcpu.vm.paging == "shadow" and vcpu.vm.pager.user_split


# -- CSR instructions ------------------------------------------------------------------------------

def test_csrrs_sstatus_at_virtual_s_returns_the_virtual_value_and_advances(vcpu):
    vcpu.state.sstatus = SSTATUS_SPIE | SSTATUS_SUM
    real_before = vcpu.core.read_csr(CSRS["sstatus"])
    illegal(vcpu, csr_insn(CSRRS, A0, 0x100, 0))
    assert vcpu.get_x(A0) == SSTATUS_SPIE | SSTATUS_SUM | (2 << 32)     # UXL = 64-bit
    assert vcpu.pc == PC + 4
    assert vcpu.core.read_csr(CSRS["sstatus"]) == real_before
    assert policy(vcpu).csr_accesses["csrrs sstatus"] == 1
    assert policy(vcpu).emulated["csrrs"] == 1 and vcpu.emulated_insns == 1


def test_csrrw_sstatus_applies_the_write_mask(vcpu):
    vcpu.set_x(T0, MASK64)
    illegal(vcpu, csr_insn(CSRRW, A0, 0x100, T0))
    assert vcpu.get_x(A0) == 2 << 32
    # FS is writable (all ones: Dirty), and SD follows it
    assert vcpu.state.sstatus == (1 << 1) | (1 << 5) | (1 << 8) | (3 << 13) | (1 << 18) | (1 << 19) | (1 << 63)
    assert vcpu.vm.pager.guest_sum and vcpu.vm.pager.guest_mxr     # the shadow learns SUM/MXR


@pytest.mark.parametrize("funct3, start, operand, expect", [
    (CSRRW, 0x222, 0x20, 0x20), (CSRRS, 0x2, 0x20, 0x22), (CSRRC, 0x222, 0x20, 0x202),
    (CSRRWI, 0x222, 0x1F, 0x1F), (CSRRSI, 0x2, 0x10, 0x12), (CSRRCI, 0x22, 0x2, 0x20),
])
def test_all_six_csr_forms_on_sscratch(vcpu, funct3, start, operand, expect):
    vcpu.state.sscratch = start
    if funct3 & 4:
        insn = csr_insn(funct3, A0, 0x140, operand)
    else:
        vcpu.set_x(T0, operand)
        insn = csr_insn(funct3, A0, 0x140, T0)
    illegal(vcpu, insn)
    assert vcpu.state.sscratch == expect and vcpu.get_x(A0) == start


def test_sie_sip_stvec_sepc_masks(vcpu):
    vcpu.set_x(T0, MASK64)
    for csr in (0x104, 0x144, 0x141):
        illegal(vcpu, csr_insn(CSRRW, 0, csr, T0))
    assert vcpu.state.sie == SIP_SSIP | SIP_STIP | SIP_SEIP
    assert vcpu.state.sip == SIP_SSIP                  # STIP/SEIP are not the guest's to write
    assert vcpu.state.sepc == MASK64 - 1
    vcpu.set_x(T0, 0x8020_0002)                        # stvec MODE 2 is reserved: write ignored
    illegal(vcpu, csr_insn(CSRRW, 0, 0x105, T0))
    assert vcpu.state.stvec == STVEC


def test_rdtime_and_rdinstret_give_the_guest_clock(vcpu):
    vcpu.core.mtime = 12345
    illegal(vcpu, csr_insn(CSRRS, A0, 0xC01, 0))
    assert vcpu.get_x(A0) == 12345
    vcpu.instret = 1000
    illegal(vcpu, csr_insn(CSRRS, A1, 0xC02, 0), pc=PC + 4)
    assert vcpu.get_x(A1) == 1000 + 1                  # one emulated instruction before it


def test_write_to_read_only_time_is_reflected_as_illegal(vcpu):
    insn = csr_insn(CSRRW, A0, 0xC01, T0)
    illegal(vcpu, insn)
    assert_reflected(vcpu, 2, insn, PC, PRIV_S)
    assert policy(vcpu).reflected["2"] == 1


def test_machine_csr_at_virtual_s_is_illegal(vcpu):
    insn = csr_insn(CSRRS, A0, 0x300, 0)                # mstatus
    illegal(vcpu, insn)
    assert_reflected(vcpu, 2, insn, PC, PRIV_S)


def test_supervisor_csr_from_virtual_user_is_reflected(vcpu):
    policy(vcpu).set_guest_satp(vcpu, sv39(vcpu))
    vcpu.set_priv(PRIV_U)
    assert real_satp(vcpu) != vcpu.vm.pager.root_satp(PRIV_S)
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_U)
    insn = csr_insn(CSRRS, A0, 0x100, 0)
    illegal(vcpu, insn)
    assert_reflected(vcpu, 2, insn, PC, PRIV_U)
    assert vcpu.get_x(A0) == 0


def test_counters_from_virtual_user_follow_scounteren(vcpu):
    vcpu.set_priv(PRIV_U)
    vcpu.state.scounteren = 1 << 1                     # time only
    vcpu.core.mtime = 777
    illegal(vcpu, csr_insn(CSRRS, A0, 0xC01, 0))
    assert vcpu.get_x(A0) == 777 and vcpu.state.priv == PRIV_U and vcpu.pc == PC + 4
    insn = csr_insn(CSRRS, A0, 0xC00, 0)               # cycle: not granted
    illegal(vcpu, insn, pc=PC + 4)
    assert_reflected(vcpu, 2, insn, PC + 4, PRIV_U)


def test_satp_write_switches_the_shadow_and_bad_modes_are_ignored(vcpu):
    root = vcpu.vm.ram_base + (1 << 20)
    sv39 = (8 << 60) | (5 << 44) | (root >> 12)
    before = real_satp(vcpu)
    vcpu.set_x(T0, sv39)
    illegal(vcpu, csr_insn(CSRRW, A0, 0x180, T0))
    assert vcpu.get_x(A0) == 0 and vcpu.state.satp == sv39
    assert vcpu.vm.pager.guest_satp == sv39
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_S) != before
    vcpu.set_x(T0, 10 << 60)                           # Sv57: unsupported, satp keeps its value
    illegal(vcpu, csr_insn(CSRRW, 0, 0x180, T0), pc=PC + 4)
    assert vcpu.state.satp == sv39 and vcpu.pc == PC + 8


# -- sret, sfence.vma, wfi ---------------------------------------------------------------------------

def sv39(vcpu):
    return (8 << 60) | ((vcpu.vm.ram_base + (1 << 20)) >> 12)


def test_sret_to_virtual_user_switches_the_shadow_root(vcpu):
    # Under Sv39 the guest's user and kernel see different pages: two shadow
    # trees (under Bare there is one, as the guest itself has one space).
    policy(vcpu).set_guest_satp(vcpu, sv39(vcpu))
    state = vcpu.state
    state.sepc = 0x4000_0000
    state.sstatus = SSTATUS_SPIE                       # SPP = U
    s_root = real_satp(vcpu)
    illegal(vcpu, SRET)
    assert vcpu.pc == 0x4000_0000 and state.priv == PRIV_U
    assert state.sstatus & SSTATUS_SIE and state.sstatus & SSTATUS_SPIE
    assert not state.sstatus & SSTATUS_SPP
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_U) != s_root
    assert vcpu.core.priv == 0


def test_sret_to_virtual_s_keeps_the_kernel_root(vcpu):
    vcpu.state.sepc = 0x8020_3000
    vcpu.state.sstatus = SSTATUS_SPP
    root = real_satp(vcpu)
    illegal(vcpu, SRET)
    assert vcpu.state.priv == PRIV_S and vcpu.pc == 0x8020_3000 and real_satp(vcpu) == root
    assert not vcpu.state.sstatus & SSTATUS_SIE        # SPIE was 0


def test_sret_and_sfence_from_virtual_user_are_illegal(vcpu):
    for insn in (SRET, sfence_vma(), WFI):
        vcpu.set_priv(PRIV_U)
        vcpu.pc = PC
        illegal(vcpu, insn)
        assert_reflected(vcpu, 2, insn, PC, PRIV_U)


def test_sfence_vma_flushes_the_shadow(vcpu):
    pager = vcpu.vm.pager
    flushes = pager.counters["flushes"]
    vcpu.set_x(T0, 0x4000_0000)
    illegal(vcpu, sfence_vma(rs1=T0))
    assert pager.counters["flushes"] == flushes + 1 and vcpu.pc == PC + 4
    assert policy(vcpu).emulated["sfence.vma"] == 1


def test_wfi_with_an_enabled_pending_interrupt_returns_at_once(vcpu):
    vcpu.state.sie = SIP_SSIP
    vcpu.set_software_interrupt(True)
    illegal(vcpu, WFI)
    assert vcpu.pc == PC + 4 and vcpu.blocked_until is None and not vcpu.vm.stopped


def test_wfi_blocks_until_the_timer_then_time_skips(vcpu):
    vcpu.state.sie = SIP_STIP
    vcpu.set_timer(vcpu.core.mtime + 5000)
    deadline = vcpu.state.stimecmp
    illegal(vcpu, WFI)
    assert vcpu.pc == PC + 4 and vcpu.blocked_until == deadline
    vcpu._wake()
    assert vcpu.core.mtime >= deadline and vcpu.state.sip & SIP_STIP


def test_wfi_with_nothing_to_wake_it_idles_the_vm(vcpu):
    illegal(vcpu, WFI)
    assert vcpu.vm.stopped and vcpu.vm.result.status == 125


# -- interrupts ----------------------------------------------------------------------------------------

def test_timer_interrupt_with_virtual_sie_clear_stays_pending(vcpu):
    state = vcpu.state
    state.sie = SIP_STIP
    vcpu.set_timer(vcpu.core.mtime + 10)
    assert vcpu.core.mtimecmp == state.stimecmp        # the real timer carries the guest's
    vcpu.core.mtime = state.stimecmp
    vcpu.vm.handle(vcpu, Exit("interrupt", cause=7, pc=PC, priv=PRIV_S))
    assert state.sip & SIP_STIP and vcpu.core.mtimecmp == MASK64
    policy(vcpu).deliver_interrupt(vcpu)
    assert vcpu.pc == PC and state.scause == 0          # SIE = 0 at S: held
    vcpu.set_x(T0, SSTATUS_SIE)
    illegal(vcpu, csr_insn(CSRRS, 0, 0x100, T0))       # the kernel enables interrupts
    policy(vcpu).deliver_interrupt(vcpu)
    assert state.scause == INTERRUPT | 5 and state.sepc == PC + 4 and vcpu.pc == STVEC
    assert state.sstatus & SSTATUS_SPIE and state.sstatus & SSTATUS_SPP
    assert not state.sstatus & SSTATUS_SIE


def test_interrupt_from_virtual_user_is_taken_whatever_sie_says(vcpu):
    state = vcpu.state
    state.sie = SIP_STIP
    state.stvec = STVEC | 1                            # vectored
    vcpu.set_priv(PRIV_U)
    vcpu.set_timer(0)                                  # in the past: pending at once
    assert state.sip & SIP_STIP
    policy(vcpu).deliver_interrupt(vcpu)
    assert vcpu.pc == STVEC + 4 * 5 and state.priv == PRIV_S
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_S)
    assert policy(vcpu).reflected["interrupt 5"] == 1


def test_interrupt_masked_in_sie_is_not_taken(vcpu):
    vcpu.set_priv(PRIV_U)
    vcpu.set_timer(0)
    policy(vcpu).deliver_interrupt(vcpu)
    assert vcpu.state.priv == PRIV_U and vcpu.pc == PC


def test_set_timer_in_the_future_clears_stip(vcpu):
    vcpu.set_timer(0)
    assert vcpu.state.sip & SIP_STIP
    vcpu.set_timer(vcpu.core.mtime + 100)
    assert not vcpu.state.sip & SIP_STIP


# -- SBI and reflected exceptions ---------------------------------------------------------------------

def sbi_exit(vcpu, ext, fid, *args):
    args = tuple(args) + (0,) * (6 - len(args))
    for i, value in enumerate(args):
        vcpu.set_x(A0 + i, value)
    vcpu.set_x(A6, fid)
    vcpu.set_x(A7, ext)
    return Exit("sbi", cause=8, pc=PC, ext=ext, fid=fid, args=args, priv=PRIV_S)


def test_sbi_set_timer_programs_the_real_timer(vcpu):
    deadline = vcpu.core.mtime + 1000
    vcpu.vm.handle(vcpu, sbi_exit(vcpu, sbi.EID_TIME, 0, deadline))
    assert vcpu.core.mtimecmp == deadline and vcpu.get_x(A0) == 0 and vcpu.pc == PC + 4
    assert policy(vcpu).emulated["ecall"] == 1


def test_sbi_console_and_shutdown(vcpu):
    vcpu.vm.handle(vcpu, sbi_exit(vcpu, sbi.EID_DBCN, 2, ord("k")))
    assert vcpu.vm.console_output == b"k"
    vcpu.vm.handle(vcpu, sbi_exit(vcpu, sbi.EID_SRST, 0, 0, 0))
    assert vcpu.vm.stopped and vcpu.vm.result.how == "sbi-shutdown"


def test_ecall_from_virtual_user_is_the_guests_system_call(vcpu):
    vcpu.set_priv(PRIV_U)
    vcpu.vm.handle(vcpu, Exit("trap", cause=8, pc=PC, tval=0, insn=0x73, priv=PRIV_U))
    assert_reflected(vcpu, 8, 0, PC, PRIV_U)
    assert vcpu.core.priv == 0


@pytest.mark.parametrize("virtual_priv, kind", [(PRIV_S, "sbi"), (PRIV_U, "trap")])
def test_a_real_ecall_is_sbi_only_at_virtual_s(vcpu, virtual_priv, kind):
    # Run one real ecall on the core: the exit decodes by virtual privilege.
    vcpu.set_priv(virtual_priv)
    vcpu.vm.write(ENTRY, (0x73).to_bytes(4, "little"))
    vcpu.pc = ENTRY
    vcpu.set_x(A7, sbi.EID_TIME)
    exit = vcpu.run(100)
    if exit.kind == "trap" and exit.cause == 12:        # the shadow fills on first fetch
        vcpu.vm.handle(vcpu, exit)
        exit = vcpu.run(100)
    assert exit.kind == kind and exit.pc == ENTRY and exit.cause == 8
    if kind == "sbi":
        assert exit.ext == sbi.EID_TIME


def test_breakpoint_is_reflected_with_its_tval(vcpu):
    vcpu.set_priv(PRIV_U)
    vcpu.vm.handle(vcpu, Exit("trap", cause=3, pc=PC, tval=PC, insn=0x9002, priv=PRIV_U))
    assert_reflected(vcpu, 3, PC, PC, PRIV_U)


def test_true_guest_page_fault_is_reflected(vcpu):
    # Paging off (Bare) at virtual U: a load above what RAM and the devices
    # decode is the guest's access fault.
    vcpu.set_priv(PRIV_U)
    vcpu.vm.handle(vcpu, Exit("trap", cause=13, pc=PC, tval=0x2000_0000, insn=0x3,
                              priv=PRIV_U))
    assert_reflected(vcpu, 5, 0x2000_0000, PC, PRIV_U)
    assert policy(vcpu).exits["page_fault_guest"] == 1


def test_hidden_page_fault_fills_the_shadow_and_retries(vcpu):
    vcpu.vm.handle(vcpu, Exit("trap", cause=13, pc=PC, tval=ENTRY + 8, insn=0x3, priv=PRIV_S))
    assert vcpu.pc == PC and vcpu.state.scause == 0
    assert policy(vcpu).exits["page_fault_hidden"] == 1


def test_stats_count_exits_emulations_and_reflections(vcpu):
    illegal(vcpu, csr_insn(CSRRS, A0, 0x100, 0))
    vcpu.instret = 999
    stats = vcpu.vm.stats()["trap_emulate"]
    assert stats["exits"] == {"privileged": 1}
    assert stats["guest_instructions"] == 1000
    assert stats["exits_per_1000_insns"] == 1.0
    assert stats["emulated"] == {"csrrs": 1}


def test_hsm_non_retentive_suspend_restarts_the_kernel_at_virtual_s(vcpu):
    vcpu.set_priv(PRIV_U)
    vcpu.state.sstatus = SSTATUS_SIE
    policy(vcpu).set_guest_satp(vcpu, sv39(vcpu))
    resume = ENTRY + 0x40
    vcpu.vm.handle(vcpu, sbi_exit(vcpu, sbi.EID_HSM, 3, sbi.HSM_SUSPEND_NON_RETENTIVE, resume, 77))
    state = vcpu.state
    assert vcpu.pc == resume and state.priv == PRIV_S and state.satp == 0
    assert not state.sstatus & SSTATUS_SIE
    assert (vcpu.get_x(A0), vcpu.get_x(A1)) == (0, 77)
    assert real_satp(vcpu) == vcpu.vm.pager.root_satp(PRIV_S)


def test_legacy_remote_fence_reads_its_hart_mask_through_guest_translation(vcpu):
    mask_gpa = vcpu.vm.ram_base + 0x1000
    vcpu.vm.write(mask_gpa, (1).to_bytes(8, "little"))
    flushes = vcpu.vm.pager.counters["flushes"]
    vcpu.vm.handle(vcpu, sbi_exit(vcpu, sbi.EID_LEGACY_REMOTE_SFENCE_VMA, 0, mask_gpa))
    assert vcpu.get_x(A0) == 0 and vcpu.vm.pager.counters["flushes"] == flushes + 1
    vcpu.vm.handle(vcpu, sbi_exit(vcpu, sbi.EID_LEGACY_REMOTE_SFENCE_VMA, 0, 0x10))
    assert vcpu.get_x(A0) == sbi.SBI_ERR_INVALID_ADDRESS & MASK64

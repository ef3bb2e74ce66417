"""pyvmm.hv.vcpu_state: the virtual supervisor alone (no core, no VM)."""

import pytest

from pyvmm.hv.vcpu_state import (PRIV_S, PRIV_U, SIP_SEIP, SIP_SSIP, SIP_STIP, SSTATUS_SIE,
                                 SSTATUS_SPIE, SSTATUS_SPP, IllegalAccess, SupervisorState)


def test_reset_is_what_firmware_hands_a_kernel():
    state = SupervisorState()
    assert state.priv == PRIV_S and state.sstatus == 0 and state.satp == 0
    assert state.stimecmp == (1 << 64) - 1


def test_trap_from_user_then_sret_round_trip():
    state = SupervisorState()
    state.stvec = 0x8000_1000
    state.priv = PRIV_U
    state.sstatus = SSTATUS_SIE                    # ignored in U, but saved in SPIE
    assert state.enter_trap(8, 0, 0x4000_0010) == 0x8000_1000
    assert state.priv == PRIV_S and state.sepc == 0x4000_0010 and state.scause == 8
    assert state.sstatus & SSTATUS_SPIE and not state.sstatus & (SSTATUS_SIE | SSTATUS_SPP)
    state.sepc += 4
    assert state.sret() == 0x4000_0014
    assert state.priv == PRIV_U and state.sstatus & SSTATUS_SIE and state.sstatus & SSTATUS_SPIE


def test_vectored_mode_applies_to_interrupts_only():
    state = SupervisorState()
    state.stvec = 0x8000_1001
    assert state.enter_trap(5, 0, 0, interrupt=True) == 0x8000_1000 + 20
    assert state.scause == (1 << 63) | 5
    assert state.enter_trap(2, 0x73, 0) == 0x8000_1000


def test_interrupt_priority_external_software_timer():
    state = SupervisorState()
    state.priv = PRIV_U
    state.sie = SIP_SSIP | SIP_STIP | SIP_SEIP
    state.sip = SIP_SSIP | SIP_STIP | SIP_SEIP
    assert state.pending_interrupt() == 9
    state.sip = SIP_SSIP | SIP_STIP
    assert state.pending_interrupt() == 1
    state.sip = SIP_STIP
    assert state.pending_interrupt() == 5
    state.priv = PRIV_S
    assert state.pending_interrupt() is None and state.can_wake()
    state.sstatus = SSTATUS_SIE
    assert state.pending_interrupt() == 5


@pytest.mark.parametrize("csr, write, priv", [
    (0x300, False, PRIV_S),      # mstatus
    (0x600, False, PRIV_S),      # hstatus: the guest has no H
    (0x001, False, PRIV_S),      # fflags: no F
    (0x100, False, PRIV_U),      # sstatus from U
    (0xC01, True, PRIV_S),       # time is read-only
    (0xC00, False, PRIV_U),      # cycle with scounteren = 0
])
def test_accesses_the_hart_refuses(csr, write, priv):
    state = SupervisorState()
    state.priv = priv
    with pytest.raises(IllegalAccess):
        state.check_access(csr, write)


def test_stimecmp_needs_sstc():
    with pytest.raises(IllegalAccess):
        SupervisorState(stce=False).check_access(0x14D, False)
    state = SupervisorState(stce=True)
    state.check_access(0x14D, True)
    assert state.write(0x14D, 1234) == {"timer", "interrupts"} and state.read(0x14D) == 1234


def test_write_effects_name_what_the_caller_must_do():
    state = SupervisorState()
    assert state.write(0x100, 1 << 18) == {"status"}
    assert state.write(0x100, (1 << 18) | SSTATUS_SIE) == {"interrupts"}
    assert state.write(0x180, 8 << 60) == {"satp"}
    assert state.write(0x180, 10 << 60) == set() and state.satp == 8 << 60
    assert state.write(0x140, 5) == set()


def test_counters_come_from_the_callback():
    state = SupervisorState(counters=lambda csr: {0xC00: 7, 0xC01: 8, 0xC02: 9}.get(csr, 0))
    assert [state.read(c) for c in (0xC00, 0xC01, 0xC02, 0xC03)] == [7, 8, 9, 0]

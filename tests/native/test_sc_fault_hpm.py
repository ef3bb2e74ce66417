"""A store-conditional that would fault raises its fault even without a
reservation (Spike's order), so a hypervisor sees the guest-page fault with
htval/htinst as for a store; and the HPM counters: QEMU 7.2's event map
(cycles and instructions count, one counter per event), mcountinhibit, and the
user views' mcounteren/hcounteren/scounteren gating at V=1."""

import pytest

from .h_helpers import Guest, reg
from .test_h_mmu import GUEST_PA, GUEST_VA, two_stage
from .test_mmu import DATA, R, U, A, m_trap, run_to_ebreak, user_program
from .test_csr_pmp import run_m

STORE_MISALIGNED, STORE_PF, STORE_GPF, ILLEGAL, VIRTUAL = 6, 15, 23, 2, 22


@pytest.mark.parametrize("insn", ["sc.d a0, a2, (a1)", "sc.w a0, a2, (a1)", "sd a2, 0(a1)"])
def test_sc_without_reservation_takes_the_guest_page_fault_like_a_store(insn):
    g = two_stage(insn + "\n", map_data=False, medeleg=1 << STORE_GPF)
    g.run()
    assert g.stopped_at() == "hs_handler"
    assert (g.csr("scause"), g.csr("stval")) == (STORE_GPF, GUEST_VA)
    assert (g.csr("htval"), g.csr("htinst")) == (GUEST_PA >> 2, 0)


def test_sc_without_reservation_page_faults_and_misaligned_first():
    core, prog, pt = user_program("li t0, 0x2000\n li a0, 7\n sc.d a0, a1, (t0)\n")
    pt.map(0x2000, DATA, U | R | A)                        # read-only: the SC's store would fault
    run_to_ebreak(core)
    assert m_trap(core)[0] == STORE_PF and m_trap(core)[2] == 0x2000
    core, prog, pt = user_program("li t0, 0x2004\n sc.d a0, a1, (t0)\n")
    run_to_ebreak(core)
    assert m_trap(core)[0] == STORE_MISALIGNED


def test_sc_without_reservation_that_could_store_just_fails():
    core, _ = run_m("la t0, buf\n li t1, 5\n sd t1, 0(t0)\n li t1, 9\n sc.d a0, t1, (t0)\n ld a1, 0(t0)\n"
                    " lr.d a2, (t0)\n sc.d a3, t1, (t0)\n ld a4, 0(t0)\n j 1f\n.balign 8\nbuf: .dword 0\n1:\n")
    assert (reg(core, "a0"), reg(core, "a1"), reg(core, "a3"), reg(core, "a4")) == (1, 5, 0, 9)


def test_hpm_counter_counts_instructions_when_programmed():
    core, _ = run_m("li t0, 2\n csrw mhpmevent3, t0\n csrw mhpmcounter3, zero\n nop\n nop\n nop\n"
                    " csrr a0, mhpmcounter3\n li t0, 1\n csrw mhpmevent5, t0\n li t1, 100\n"
                    " csrw mhpmcounter5, t1\n nop\n csrr a1, mhpmcounter5\n")
    assert reg(core, "a0") == 3          # the three nops
    assert reg(core, "a1") == 101        # cycles count retired instructions here, as mcycle


def test_an_event_goes_to_the_first_counter_programmed_with_it():
    core, _ = run_m("li t0, 2\n csrw mhpmevent3, t0\n csrw mhpmevent4, t0\n csrw mhpmcounter4, zero\n"
                    " nop\n csrr a0, mhpmcounter4\n csrw mhpmevent3, zero\n csrw mhpmevent4, zero\n"
                    " csrw mhpmevent4, t0\n csrw mhpmcounter4, zero\n nop\n nop\n csrr a1, mhpmcounter4\n")
    assert (reg(core, "a0"), reg(core, "a1")) == (0, 2)


def test_mcountinhibit_holds_an_hpm_counter():
    core, _ = run_m("li t0, 2\n csrw mhpmevent3, t0\n csrw mhpmcounter3, zero\n nop\n li t1, 8\n"
                    " csrs mcountinhibit, t1\n nop\n nop\n csrr a0, mhpmcounter3\n csrc mcountinhibit, t1\n"
                    " nop\n csrr a1, mhpmcounter3\n")
    held = reg(core, "a0")
    assert held == 2                      # nop, li; the csrs that set the bit is not counted
    assert reg(core, "a1") == held + 1


@pytest.mark.parametrize("priv,mcen,hcen,scen,outcome", [
    (1, 0, 1, 1, ILLEGAL),                # mcounteren first: illegal even at V=1
    (1, 8, 0, 0, VIRTUAL),                # VS: hcounteren
    (1, 8, 8, 0, None),                   # VS: scounteren does not apply
    (0, 8, 8, 0, VIRTUAL),                # VU: scounteren too
    (0, 8, 8, 8, None),
])
def test_hpmcounter_gating_at_v1(priv, mcen, hcen, scen, outcome):
    g = Guest("csrr a0, hpmcounter3\n", virt=1, priv=priv)
    g.set("mcounteren", mcen)
    g.set("hcounteren", hcen)
    g.core.write_csr(0x106, scen)                          # scounteren
    g.core.write_csr(0xB03, 0x77)                          # mhpmcounter3
    g.run()
    if outcome is None:
        assert g.stopped_at() == "guest" and reg(g.core, "a0") == 0x77
    else:
        assert g.stopped_at() == "m_handler" and g.csr("mcause") == outcome


def test_counters_past_the_sixteenth_are_illegal_even_in_m():
    for csr in ("mhpmcounter19", "hpmcounter19", "mhpmcounter31", "hpmcounter31"):
        core, _ = run_m("li a0, 5\n csrr a0, %s\n" % csr)
        assert (core.read_csr(0x342), reg(core, "a0")) == (ILLEGAL, 5), csr

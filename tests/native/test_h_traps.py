"""H extension traps: routing M -> HS -> VS by medeleg/hideleg and
hedeleg/hideleg, the state each entry saves, xRET between the modes,
virtual-instruction cases, VS interrupts and their priorities, the VS timer,
WFI, and inject_vs_exception."""

import pytest

from .h_helpers import (GVA, MPV, SPV, SPVP, VTSR, VTW, Guest, core_mod, reg)

ECALL_U, ECALL_S, ECALL_VS = 8, 9, 10


def guest(body, virt=1, priv=1, **csrs):
    g = Guest(body, virt=virt, priv=priv)
    for name, value in csrs.items():
        g.set(name, value)
    g.run()
    return g


def test_ecall_from_vs_goes_to_m_without_delegation():
    g = guest("ecall")
    assert g.stopped_at() == "m_handler"
    assert g.csr("mcause") == ECALL_VS
    assert g.csr("mepc") == g["guest"]
    m = g.csr("mstatus")
    assert m & MPV and (m >> 11) & 3 == 1
    assert (g.core.virt, g.core.priv) == (0, 3)


def test_ecall_from_vs_delegated_to_hs_saves_spv_spvp():
    g = guest("ecall", medeleg=1 << ECALL_VS)
    assert g.stopped_at() == "hs_handler"
    assert g.csr("scause") == ECALL_VS and g.csr("sepc") == g["guest"]
    hs = g.csr("hstatus")
    assert hs & SPV and hs & SPVP and not hs & GVA
    assert g.csr("sstatus") & (1 << 8)          # SPP = S (VS)
    assert (g.core.virt, g.core.priv) == (0, 1)


def test_ecall_from_vu_delegated_to_vs():
    g = guest("ecall", virt=1, priv=0, medeleg=1 << ECALL_U, hedeleg=1 << ECALL_U, vsstatus=2)
    assert g.stopped_at() == "vs_handler"
    assert g.csr("vscause") == ECALL_U and g.csr("vsepc") == g["guest"]
    vs = g.csr("vsstatus")
    assert not vs & (1 << 8) and vs & (1 << 5) and not vs & 2     # SPP=U, SPIE=old SIE, SIE=0
    assert g.csr("scause") == 0                                   # HS untouched
    assert (g.core.virt, g.core.priv) == (1, 1)


def test_ecall_from_vu_to_hs_records_spvp_user():
    g = guest("ecall", virt=1, priv=0, medeleg=1 << ECALL_U)
    assert g.stopped_at() == "hs_handler"
    assert g.csr("hstatus") & (SPV | SPVP) == SPV


def test_trap_from_hs_clears_spv_and_keeps_spvp():
    g = guest("ecall", virt=0, priv=1, medeleg=1 << ECALL_S, hstatus=SPV | SPVP)
    # from HS the trap stays in HS only if delegated... ecall-from-S is delegable
    assert g.stopped_at() == "hs_handler"
    assert g.csr("hstatus") & (SPV | SPVP) == SPVP


def test_hedeleg_is_ignored_at_v0():
    g = guest("ecall", virt=0, priv=0, medeleg=1 << ECALL_U, hedeleg=1 << ECALL_U)
    assert g.stopped_at() == "hs_handler"


def test_sret_in_vs_uses_vsstatus_and_vsepc():
    g = guest("la t0, 1f\n csrw sepc, t0\n li t0, 0x120\n csrs sstatus, t0\n sret\n"
              "1: csrr a0, sstatus\n ebreak", virt=1, priv=1, vsstatus=0)
    assert g.stopped_at() == "guest"
    assert (g.core.virt, g.core.priv) == (1, 1)
    assert reg(g.core, "a0") & 2                 # SIE = SPIE
    assert g.csr("sstatus") & 2 == 0             # HS sstatus untouched


@pytest.mark.parametrize("body, virt, priv, csrs, cause", [
    ("sret", 1, 0, {}, 22),
    ("sret", 1, 1, {"hstatus": VTSR}, 22),
    ("sret", 1, 1, {"mstatus": 1 << 22}, None),      # TSR binds HS only
    ("sret", 0, 1, {"mstatus": 1 << 22}, 2),
    ("sret", 0, 0, {}, 2),
    ("wfi", 1, 1, {"hstatus": VTW}, 22),
    ("wfi", 1, 0, {}, 22),
    ("wfi", 1, 0, {"mstatus": 1 << 21}, 2),
    ("wfi", 1, 1, {"mstatus": 1 << 21}, 2),
    ("sfence.vma", 1, 1, {"hstatus": 1 << 20}, 22),
    ("sfence.vma", 1, 0, {}, 22),
    ("sfence.vma", 1, 1, {"mstatus": 1 << 20}, None),
    ("hfence.vvma", 1, 1, {}, 22),
    ("hfence.gvma", 1, 1, {}, 22),
    ("hfence.gvma", 0, 0, {}, 2),
    ("hfence.gvma", 0, 1, {"mstatus": 1 << 20}, 2),
    ("hfence.vvma", 0, 1, {"mstatus": 1 << 20}, None),
    ("hlv.w a0, (sp)", 1, 1, {}, 22),
    ("hsv.w a0, (sp)", 1, 0, {}, 22),
])
def test_virtual_and_illegal_instruction_cases(body, virt, priv, csrs, cause):
    g = Guest(body + "\n", virt=virt, priv=priv)
    g.core.exit_on_exception |= (1 << 2) | (1 << 22)
    for name, value in csrs.items():
        g.set(name, value)
    if body == "sret":
        g.set("vsepc", g["guest"] + 4)
        g.set("sepc", g["guest"] + 4)
        g.set("vsstatus", 1 << 8)
    g.run()
    if cause is None:
        assert g.reason == core_mod.EXIT_TRAP and g.core.exit_cause == 3
    else:
        assert g.reason == core_mod.EXIT_TRAP and g.core.exit_cause == cause
        assert g.core.exit_insn == int.from_bytes(g.core.read_mem(g["guest"], 4), "little")
        assert (g.core.exit_virt, g.core.exit_priv) == (virt, priv)


def test_virtual_instruction_is_delivered_to_hs_with_the_instruction_in_stval():
    g = guest("csrr a0, hstatus", medeleg=1 << 22)
    assert g.stopped_at() == "hs_handler"
    assert g.csr("scause") == 22
    assert g.csr("stval") == int.from_bytes(g.core.read_mem(g["guest"], 4), "little")


def test_mret_with_mpv_enters_the_guest():
    g = Guest("la t0, 1f\n csrw mepc, t0\n li t0, 0x800\n csrs mstatus, t0\n"
              " li t0, 1\n slli t0, t0, 39\n csrs mstatus, t0\n mret\n"
              "1: csrr a0, sscratch\n ebreak", virt=0, priv=3)
    g.set("vsscratch", 0x5A)
    g.run()
    assert (g.core.exit_virt, g.core.exit_priv) == (1, 1)
    assert reg(g.core, "a0") == 0x5A
    assert g.csr("mstatus") & MPV == 0


# ------------------------------------------------------------ interrupts

def test_hvip_vssip_reaches_vs_as_supervisor_software_interrupt():
    g = guest("nop\n nop", hideleg=0x444, hie=0x444, hvip=0x4, vsstatus=2)
    assert g.stopped_at() == "vs_handler"
    assert g.csr("vscause") == (1 << 63) | 1
    assert g.csr("vsepc") == g["guest"]


def test_vectored_vstvec_uses_the_shifted_code():
    entries = "".join(f"    j hit{i}\n" for i in range(12))
    hits = "".join(f"hit{i}: li a0, {i}\n    ebreak\n" for i in range(12))
    g = Guest("    j start\n.option push\n.option norvc\n.align 6\nvec:\n" + entries
              + ".option pop\n" + hits + "start: nop\n nop\n", virt=1, priv=1)
    g.set("vstvec", g["vec"] | 1)
    g.set("hideleg", 0x444)
    g.set("hie", 0x444)
    g.set("vsstatus", 2)
    g.set("hvip", 0x400)          # VSEIP -> SEI (9) in the guest
    g.core.pc = g["start"]
    g.start_mode()
    g.core.run(1000)
    assert g.csr("vscause") == (1 << 63) | 9
    assert reg(g.core, "a0") == 9


def test_vs_interrupts_wait_for_vsstatus_sie_in_vs_but_not_in_vu():
    g = guest("nop", hideleg=0x4, hie=0x4, hvip=0x4, vsstatus=0)
    assert g.stopped_at() == "guest"
    g = guest("nop", virt=1, priv=0, hideleg=0x4, hie=0x4, hvip=0x4, vsstatus=0)
    assert g.stopped_at() == "vs_handler"


def test_vs_interrupt_without_hideleg_goes_to_hs():
    g = guest("nop", hie=0x4, hvip=0x4)
    assert g.stopped_at() == "hs_handler"
    assert g.csr("scause") == (1 << 63) | 2
    assert g.csr("hstatus") & SPV


def test_vs_interrupt_delegated_to_vs_is_not_taken_at_v0():
    g = guest("nop", virt=0, priv=0, hideleg=0x4, hie=0x4, hvip=0x4, vsstatus=2)
    assert g.stopped_at() == "guest"


def test_hs_interrupts_preempt_the_guest_whatever_sstatus_sie():
    g = guest("nop", mideleg=0x2, mie=0x2, mip=0x2, sstatus=0)
    assert g.stopped_at() == "hs_handler"
    assert g.csr("scause") == (1 << 63) | 1


def test_priority_sei_before_vsei():
    g = guest("nop", mideleg=0x222, mie=0x200 | 0x400, mip=0x200, hvip=0x400, sstatus=2)
    assert g.csr("scause") == (1 << 63) | 9


def test_vs_timer_fires_at_vstimecmp_minus_htimedelta():
    g = Guest("1: j 1b", virt=1, priv=1)
    g.set("menvcfg", 1 << 63)
    g.set("henvcfg", 1 << 63)
    g.set("htimedelta", 5000)
    g.set("vstimecmp", 5000 + 300)        # guest time 5300 = host time 300 = 3000 insns
    g.set("hideleg", 0x40)
    g.set("hie", 0x40)
    g.set("vsstatus", 2)
    g.run(100_000)
    assert g.stopped_at() == "vs_handler"
    assert g.csr("vscause") == (1 << 63) | 5
    assert 2990 <= g.core.instret <= 3010


def test_wfi_in_vs_skips_time_to_the_vs_timer():
    g = Guest("wfi\n nop", virt=1, priv=1)
    g.set("menvcfg", 1 << 63)
    g.set("henvcfg", 1 << 63)
    g.set("htimedelta", 1 << 40)
    g.set("vstimecmp", (1 << 40) + 1_000_000)
    g.set("hideleg", 0x40)
    g.set("hie", 0x40)
    g.set("vsstatus", 2)
    g.run(1000)
    assert g.stopped_at() == "vs_handler"
    assert g.core.mtime >= 1_000_000 and g.core.instret < 10


def test_wfi_in_vs_with_nothing_armed_exits_wfi():
    g = Guest("wfi\n nop", virt=1, priv=1)
    assert g.run(1000) is g.core and g.reason == core_mod.EXIT_WFI


# ------------------------------------------------------------ injection

def test_inject_vs_exception_from_hs():
    g = Guest("nop", virt=0, priv=1)
    g.set("hstatus", SPVP)
    g.set("vsstatus", 2)
    g.start_mode()
    g.core.pc = 0x8000_1234
    g.core.inject_vs_exception(13, 0xDEAD)
    assert (g.core.virt, g.core.priv) == (1, 1)
    assert g.core.pc == g["vs_handler"]
    assert (g.csr("vscause"), g.csr("vsepc"), g.csr("vstval")) == (13, 0x8000_1234, 0xDEAD)
    vs = g.csr("vsstatus")
    assert vs & (1 << 8) and vs & (1 << 5) and not vs & 2
    g.core.priv = 3
    with pytest.raises(RuntimeError):
        g.core.inject_vs_exception(2, 0)
    with pytest.raises(ValueError):
        g.core.inject_vs_exception(64, 0)


def test_virt_setter_rejects_m_mode():
    core = core_mod.Core(ram_size=1 << 20)
    with pytest.raises(ValueError):
        core.virt = 1
    core.priv = 1
    core.virt = 1
    core.priv = 3
    assert core.virt == 0

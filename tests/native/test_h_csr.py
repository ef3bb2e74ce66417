"""H extension CSRs: WARL masks, read-only bits, the V=1 aliases of the S
CSRs, virtual-instruction vs illegal-instruction access rules, counters,
time with htimedelta, and the classic CPU profile."""

import pytest

from .h_helpers import (CSR, HU, MPV, SPV, SPVP, VTVM, Guest, core_mod, reg)

ALL = (1 << 64) - 1


def fresh():
    return core_mod.Core(ram_size=1 << 20)


def test_misa_has_h_and_v_starts_zero():
    core = fresh()
    assert core.read_csr(CSR["misa"]) >> 7 & 1
    assert core.virt == 0


@pytest.mark.parametrize("name, written, expected", [
    # SPV SPVP GVA HU VTVM VTW VTSR writable, VSXL reads 2, the rest zero
    ("hstatus", ALL, (2 << 32) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (7 << 20)),
    ("hstatus", 0, 2 << 32),
    # not ecalls from HS/VS/M nor guest-page faults / virtual instruction
    ("hedeleg", ALL, 0xB1FF),
    ("hideleg", ALL, 0x444),
    ("hvip", ALL, 0x444),
    ("hcounteren", ALL, 0xFFFF_FFFF),
    ("htimedelta", ALL, ALL),
    ("htval", 0x1234, 0x1234),
    ("htinst", 0x3000, 0x3000),
    ("mtval2", 0x55, 0x55),
    ("mtinst", 0x66, 0x66),
    ("vsscratch", ALL, ALL),
    ("vsepc", 0x8000_0003, 0x8000_0002),
    ("vstvec", 0x8000_0001, 0x8000_0001),
    ("hgeie", ALL, 0),
])
def test_warl_masks(name, written, expected):
    core = fresh()
    core.write_csr(CSR[name], written)
    assert core.read_csr(CSR[name]) == expected


def test_mideleg_has_vs_and_sgei_read_only_one():
    core = fresh()
    assert core.read_csr(CSR["mideleg"]) == 0x1444
    core.write_csr(CSR["mideleg"], 0)
    assert core.read_csr(CSR["mideleg"]) == 0x1444
    core.write_csr(CSR["mideleg"], ALL)
    assert core.read_csr(CSR["mideleg"]) == 0x1666


def test_vsstatus_has_the_sstatus_layout():
    core = fresh()
    core.write_csr(CSR["vsstatus"], ALL)
    v = core.read_csr(CSR["vsstatus"])
    assert v & 0xC0122 == 0xC0122               # SIE SPIE SPP SUM MXR
    assert v >> 32 & 3 == 2                     # UXL = 64
    assert v & (1 << 3 | 1 << 7 | 3 << 11) == 0  # no M fields


def test_mstatus_gains_mpv_and_gva():
    core = fresh()
    core.write_csr(CSR["mstatus"], MPV | (1 << 38))
    assert core.read_csr(CSR["mstatus"]) & (MPV | (1 << 38)) == MPV | (1 << 38)
    assert core.read_csr(CSR["sstatus"]) & (MPV | (1 << 38)) == 0


def test_hgatp_modes_vmid_and_root_alignment():
    core = fresh()
    core.write_csr(CSR["hgatp"], (8 << 60) | (ALL >> 20 << 44 & ((1 << 60) - 1)) | 0xFFFFF)
    v = core.read_csr(CSR["hgatp"])
    assert v >> 60 == 8
    assert v >> 44 & 0xFFFF == 0x3FFF            # VMIDLEN = 14
    assert v & 0xFFFFF == 0xFFFFC                # PPN[1:0] read zero (16 KiB root)
    core.write_csr(CSR["hgatp"], 11 << 60)        # no such mode: WARL keeps the old value
    assert core.read_csr(CSR["hgatp"]) == v
    core.write_csr(CSR["hgatp"], 10 << 60 | 8)    # Sv57x4
    assert core.read_csr(CSR["hgatp"]) == 10 << 60 | 8
    core.write_csr(CSR["hgatp"], 9 << 60 | 4)
    assert core.read_csr(CSR["hgatp"]) == 9 << 60 | 4
    core.write_csr(CSR["hgatp"], 0)
    assert core.read_csr(CSR["hgatp"]) == 0


def test_vsatp_keeps_its_value_for_unsupported_modes():
    core = fresh()
    core.write_csr(CSR["vsatp"], 8 << 60 | 5)
    core.write_csr(CSR["vsatp"], 1 << 60 | 7)
    assert core.read_csr(CSR["vsatp"]) == 8 << 60 | 5


def test_hie_hip_hvip_and_mip_views():
    core = fresh()
    core.write_csr(CSR["hie"], ALL)
    assert core.read_csr(CSR["hie"]) == 0x1444
    assert core.read_csr(CSR["mie"]) & 0x1444 == 0x1444
    core.write_csr(CSR["hvip"], 0x444)
    assert core.read_csr(CSR["hip"]) == 0x444
    assert core.read_csr(CSR["mip"]) & 0x444 == 0x444
    # hip: only VSSIP is writable, and it is hvip.VSSIP
    core.write_csr(CSR["hip"], 0)
    assert core.read_csr(CSR["hvip"]) == 0x440
    core.write_csr(CSR["mip"], 4)
    assert core.read_csr(CSR["hvip"]) == 0x444
    # sip/sie never show VS bits
    assert core.read_csr(CSR["sip"]) & 0x444 == 0
    assert core.read_csr(CSR["sie"]) & 0x444 == 0


def test_vsip_vsie_are_shifted_views_through_hideleg():
    core = fresh()
    core.write_csr(CSR["hvip"], 0x444)
    core.write_csr(CSR["hie"], 0x444)
    assert core.read_csr(CSR["vsip"]) == 0 and core.read_csr(CSR["vsie"]) == 0
    core.write_csr(CSR["hideleg"], 0x404)        # VSSI and VSEI to the guest
    assert core.read_csr(CSR["vsip"]) == 0x202
    assert core.read_csr(CSR["vsie"]) == 0x202
    core.write_csr(CSR["vsip"], 0)               # the guest clears its SSIP = hvip.VSSIP
    assert core.read_csr(CSR["hvip"]) == 0x440
    core.write_csr(CSR["vsie"], 0)
    assert core.read_csr(CSR["hie"]) == 0x040


def test_henvcfg_stce_reads_zero_without_menvcfg_stce():
    core = fresh()
    core.write_csr(CSR["henvcfg"], 1 << 63)
    assert core.read_csr(CSR["henvcfg"]) == 0
    core.write_csr(CSR["menvcfg"], 1 << 63)
    assert core.read_csr(CSR["henvcfg"]) == 1 << 63


def test_s_csr_numbers_reach_the_vs_copies_at_v1():
    g = Guest("csrr a0, sscratch\n csrw sscratch, a1\n csrr a2, sepc\n csrw sepc, a3\n"
              " csrr a4, satp\n csrr a5, stval\n")
    g.set("sscratch", 0x11)
    g.set("vsscratch", 0x22)
    g.set("sepc", 0x100)
    g.set("vsepc", 0x200)
    g.set("vsatp", 0)
    g.set("satp", 0)
    g.set("vstval", 0x77)
    g.core.x[11] = 0x33
    g.core.x[13] = 0x300
    g.run()
    assert g.stopped_at() == "guest"
    assert (reg(g.core, "a0"), reg(g.core, "a2"), reg(g.core, "a5")) == (0x22, 0x200, 0x77)
    assert g.csr("vsscratch") == 0x33 and g.csr("sscratch") == 0x11
    assert g.csr("vsepc") == 0x300 and g.csr("sepc") == 0x100


def _access(body, virt, priv, **setup):
    g = Guest(body, virt=virt, priv=priv)
    g.core.exit_on_exception |= (1 << 2) | (1 << 22)
    for name, value in setup.items():
        g.set(name, value)
    g.run()
    return g


@pytest.mark.parametrize("insn", ["csrr a0, hstatus", "csrr a0, vsstatus", "csrw hgatp, zero",
                                  "csrr a0, htimedelta", "csrr a0, hgeip"])
@pytest.mark.parametrize("virt, priv, cause", [(1, 1, 22), (1, 0, 22), (0, 0, 2)])
def test_h_and_vs_csrs_from_guest_or_user(insn, virt, priv, cause):
    g = _access(insn, virt, priv)
    if insn == "csrw hgatp, zero" or virt or priv == 0:
        assert g.reason == core_mod.EXIT_TRAP and g.core.exit_cause == cause
        assert (g.core.exit_virt, g.core.exit_priv) == (virt, priv)


def test_h_csrs_from_hs_are_fine():
    g = _access("csrr a0, hstatus\n csrw hvip, zero\n csrr a1, vsstatus", 0, 1)
    assert g.stopped_at() == "guest"


def test_write_to_read_only_hgeip_from_vs_is_illegal():
    g = _access("csrw hgeip, zero", 1, 1)
    assert g.core.exit_cause == 2


@pytest.mark.parametrize("csr", ["sstatus", "sscratch", "sie"])
def test_s_csrs_from_vu_are_virtual_instructions(csr):
    g = _access(f"csrr a0, {csr}", 1, 0)
    assert g.core.exit_cause == 22


def test_satp_from_vs_with_vtvm_is_virtual_and_mstatus_tvm_does_not_apply():
    g = _access("csrr a0, satp", 1, 1, hstatus=VTVM)
    assert g.core.exit_cause == 22
    g = _access("csrr a0, satp", 1, 1, mstatus=1 << 20)
    assert g.stopped_at() == "guest"


def test_hgatp_from_hs_with_tvm_is_illegal():
    g = _access("csrr a0, hgatp", 0, 1, mstatus=1 << 20)
    assert g.core.exit_cause == 2


@pytest.mark.parametrize("mcounteren, hcounteren, scounteren, virt, priv, cause", [
    (0, 7, 7, 1, 1, 2),       # M denies: illegal everywhere
    (7, 0, 7, 1, 1, 22),      # hcounteren denies the guest: virtual
    (7, 7, 0, 1, 1, None),    # scounteren binds only VU
    (7, 7, 0, 1, 0, 22),
    (7, 7, 7, 1, 0, None),
    (7, 0, 7, 0, 1, None),    # hcounteren means nothing at V=0
    (7, 7, 0, 0, 0, 2),
])
def test_counter_access(mcounteren, hcounteren, scounteren, virt, priv, cause):
    g = Guest("rdcycle a0\n rdtime a1\n", virt=virt, priv=priv)
    g.core.exit_on_exception |= (1 << 2) | (1 << 22)
    g.set("mcounteren", mcounteren)
    g.set("hcounteren", hcounteren)
    g.core.write_csr(0x106, scounteren)
    g.run()
    if cause is None:
        assert g.stopped_at() == "guest"
    else:
        assert g.core.exit_cause == cause


def test_time_at_v1_adds_htimedelta():
    g = Guest("rdtime a0\n", virt=1, priv=1)
    g.set("mcounteren", 7)
    g.set("hcounteren", 7)
    g.set("htimedelta", 1_000_000)
    g.run()
    assert 1_000_000 <= reg(g.core, "a0") < 1_000_100
    h = Guest("rdtime a0\n", virt=0, priv=1)
    h.set("mcounteren", 7)
    h.set("htimedelta", 1_000_000)
    h.run()
    assert reg(h.core, "a0") < 100


@pytest.mark.parametrize("menv, henv, hcounteren, cause", [
    (1, 1, 2, None), (0, 1, 2, 2), (1, 0, 2, 22), (1, 1, 0, 22)])
def test_stimecmp_at_v1_is_vstimecmp_under_both_sstc_enables(menv, henv, hcounteren, cause):
    g = Guest("li t0, 12345\n csrw stimecmp, t0\n csrr a0, stimecmp\n", virt=1, priv=1)
    g.core.exit_on_exception |= (1 << 2) | (1 << 22)
    g.set("mcounteren", 2)
    g.set("menvcfg", menv << 63)
    g.set("henvcfg", henv << 63)
    g.set("hcounteren", hcounteren)
    g.run()
    if cause is None:
        assert g.stopped_at() == "guest"
        assert g.csr("vstimecmp") == 12345 == reg(g.core, "a0")
        assert g.csr("stimecmp") == (1 << 64) - 1
    else:
        assert g.core.exit_cause == cause


@pytest.mark.parametrize("profile, expect_trap", [(0, True), (1, False)])
def test_classic_profile_lets_u_read_sstatus_and_satp(profile, expect_trap):
    g = Guest("csrr a0, sstatus\n csrr a1, satp\n li t0, 2\n csrs sstatus, t0\n csrr a2, sstatus\n",
              virt=0, priv=0)
    g.core.exit_on_exception |= 1 << 2
    g.core.cpu_profile = profile
    g.set("sstatus", 1 << 18)
    g.run()
    if expect_trap:
        assert g.core.exit_cause == 2
    else:
        assert g.stopped_at() == "guest"
        assert reg(g.core, "a0") & (1 << 18) and reg(g.core, "a0") == reg(g.core, "a2")
        assert g.csr("sstatus") & 2 == 0          # the write vanished
        assert reg(g.core, "a1") == g.csr("satp") == 0
    with pytest.raises(ValueError):
        g.core.cpu_profile = 2


def test_classic_profile_still_traps_satp_writes_from_u():
    g = Guest("csrw satp, zero\n", virt=0, priv=0)
    g.core.exit_on_exception |= 1 << 2
    g.core.cpu_profile = 1
    g.run()
    assert g.core.exit_cause == 2


def test_hs_sret_to_vs_uses_spv_and_clears_it():
    g = Guest("la t0, vs_code\n csrw sepc, t0\n sret\n"
              "vs_code:\n csrr a0, sscratch\n ebreak\n", virt=0, priv=1)
    g.set("hstatus", SPV | SPVP)
    g.set("sstatus", 1 << 8)          # SPP = S
    g.set("vsscratch", 0x99)
    g.run()
    assert g.core.virt == 1 and g.core.priv == 1
    assert reg(g.core, "a0") == 0x99
    assert g.csr("hstatus") & SPV == 0


def test_hlv_from_u_needs_hu():
    g = Guest("hlv.d a0, (a1)\n", virt=0, priv=0)
    g.core.exit_on_exception |= 1 << 2
    g.core.x[11] = g["guest"]
    g.run()
    assert g.core.exit_cause == 2
    g = Guest("hlv.d a0, (a1)\n", virt=0, priv=0)
    g.set("hstatus", HU)
    g.core.x[11] = g["guest"]
    g.run()
    assert g.stopped_at() == "guest"
    assert reg(g.core, "a0") == int.from_bytes(g.core.read_mem(g["guest"], 8), "little")

"""H extension CSRs: presence, fields and WARL masks (privileged spec, "Hypervisor
Extension", sections on hstatus, hedeleg/hideleg, hvip/hip/hie, hgatp, the VS CSRs),
the redirection of S-CSR numbers to the VS copies at V=1, and the counters seen
from VS (htimedelta, hcounteren).

The expected masks follow the spec and docs/architecture.md (GEILEN = 0, VMIDLEN
= 14, hgatp modes Bare/Sv39x4/Sv48x4, RV64 only, little-endian only).
"""

import pytest

from . import h_support as h
from .cases import expect_regs

IRQ = 1 << 63
MISA_H = 1 << 7
VS_INTERRUPTS = (1 << 2) | (1 << 6) | (1 << 10)          # VSSIP, VSTIP, VSEIP
VSXL_64 = 2 << 32
UXL_64 = 2 << 32
FP_VECTOR_BITS = (3 << 13) | (3 << 15) | (3 << 9) | (1 << 63)   # FS, XS, VS, SD: depend on F/V


def test_misa_has_h():
    r = h.run("    csrr a0, misa\n")
    assert r["a0"] & MISA_H


@pytest.mark.parametrize("csr", ["hstatus", "hedeleg", "hideleg", "hie", "htimedelta", "hcounteren",
                                 "hgeie", "henvcfg", "htval", "hip", "hvip", "htinst", "hgatp", "hgeip",
                                 "vsstatus", "vsie", "vstvec", "vsscratch", "vsepc", "vscause", "vstval",
                                 "vsip", "vsatp", "mtinst", "mtval2"])
def test_h_csrs_exist_in_m_mode(csr):
    r = h.run(f"    csrr a0, {csr}\n    li a1, 1\n")
    assert r.traps == [], f"reading {csr} in M-mode trapped: {r.summary()}"
    expect_regs(r, a1=1)


@pytest.mark.qemu_differs("QEMU 7.2 stores every hstatus bit as written (VSXL, VSBE, VGEIN included)")
def test_hstatus_warl():
    """Writable: GVA, SPV, SPVP, HU, VTVM, VTW, VTSR; VSXL reads 2 (RV64 only);
    VSBE 0 (little-endian only); VGEIN 0 (GEILEN = 0)."""
    r = h.run("    li t0, -1\n    csrw hstatus, t0\n    csrr a0, hstatus\n"
              "    csrw hstatus, zero\n    csrr a1, hstatus\n")
    writable = (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 20) | (1 << 21) | (1 << 22)
    expect_regs(r, a0=writable | VSXL_64)
    assert r["a1"] == VSXL_64, f"hstatus after writing 0: {r['a1']:#x}"


def test_hstatus_writable_fields():
    """The fields a hypervisor relies on hold what is written (QEMU agrees)."""
    fields = (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 20) | (1 << 21) | (1 << 22)
    r = h.run(f"    li t0, {fields}\n    csrs hstatus, t0\n    csrr a0, hstatus\n"
              f"    csrc hstatus, t0\n    csrr a1, hstatus\n")
    assert r["a0"] & fields == fields
    assert r["a1"] & fields == 0
    assert r["a0"] >> 32 & 3 == 2, "VSXL: VS runs RV64"


def test_hedeleg_mask():
    """Writable: 0-8, 12, 13, 15; read-only 0: ecalls from HS/VS/M (9-11), guest-page
    faults and virtual instruction (20-23), reserved bits."""
    r = h.run("    li t0, -1\n    csrw hedeleg, t0\n    csrr a0, hedeleg\n    csrw hedeleg, zero\n")
    expect_regs(r, a0=0x1FF | (1 << 12) | (1 << 13) | (1 << 15))


def test_hideleg_mask():
    r = h.run("    li t0, -1\n    csrw hideleg, t0\n    csrr a0, hideleg\n    csrw hideleg, zero\n")
    expect_regs(r, a0=VS_INTERRUPTS)


def test_mideleg_vs_bits_are_read_only_one():
    r = h.run("    csrw mideleg, zero\n    csrr a0, mideleg\n")
    assert r["a0"] & VS_INTERRUPTS == VS_INTERRUPTS


def test_hvip_mask():
    r = h.run("    li t0, -1\n    csrw hvip, t0\n    csrr a0, hvip\n    csrr a1, hip\n    csrw hvip, zero\n"
              "    csrr a2, hip\n")
    expect_regs(r, a0=VS_INTERRUPTS)
    assert r["a1"] & VS_INTERRUPTS == VS_INTERRUPTS, "hip shows what hvip injects"
    assert r["a2"] & VS_INTERRUPTS == 0


def test_hip_only_vssip_is_writable_and_aliases_hvip():
    r = h.run("    csrw hvip, zero\n    li t0, -1\n    csrw hip, t0\n    csrr a0, hip\n    csrr a1, hvip\n"
              "    li t0, 4\n    csrc hip, t0\n    csrr a2, hvip\n")
    assert r["a0"] & VS_INTERRUPTS == 1 << 2
    assert r["a1"] == 1 << 2
    assert r["a2"] == 0


def test_hie_mask():
    """VSEIE, VSTIE, VSSIE writable (SGEIE, bit 12, has no source with GEILEN = 0: either way)."""
    r = h.run("    li t0, -1\n    csrw hie, t0\n    csrr a0, hie\n    csrr a1, mie\n    csrw hie, zero\n"
              "    csrw mie, zero\n")
    assert r["a0"] & ~(1 << 12) == VS_INTERRUPTS, f"hie = {r['a0']:#x}"
    assert r["a1"] & VS_INTERRUPTS == VS_INTERRUPTS, "hie bits are the mie bits"


def test_geilen_zero():
    r = h.run("    li t0, -1\n    csrw hgeie, t0\n    csrr a0, hgeie\n    csrr a1, hgeip\n")
    expect_regs(r, a0=0, a1=0)


@pytest.mark.qemu_differs("QEMU 7.2 keeps hgatp bits 59:58 and PPN[1:0] as written")
@pytest.mark.parametrize("mode", [h.SV39X4, h.SV48X4])
def test_hgatp_vmid_and_root_alignment(mode):
    """VMID is 14 bits (57:44), bits 59:58 are 0, PPN[1:0] read 0 (16 KiB root)."""
    r = h.run(f"    li t0, ({mode} << 60) | (0xFFFF << 44) | 0x80007\n    csrw hgatp, t0\n"
              "    csrr a0, hgatp\n    csrw hgatp, zero\n    hfence.gvma\n")
    value = r["a0"]
    assert value >> 60 == mode
    assert value >> 44 & 0xFFFF == 0x3FFF, f"VMID field {value >> 44 & 0xFFFF:#x}"
    assert value & 0xFFF_FFFF_FFFF == 0x80004


@pytest.mark.parametrize("mode", [h.SV39X4, h.SV48X4])
def test_hgatp_holds_mode_vmid_and_ppn(mode):
    r = h.run(f"    li t0, ({mode} << 60) | (0x1555 << 44) | 0x80004\n    csrw hgatp, t0\n"
              "    csrr a0, hgatp\n    csrw hgatp, zero\n    hfence.gvma\n")
    expect_regs(r, a0=(mode << 60) | (0x1555 << 44) | 0x80004)


def test_hgatp_bare():
    r = h.run("    li t0, 0x80004\n    csrw hgatp, t0\n    csrw hgatp, zero\n    csrr a0, hgatp\n")
    expect_regs(r, a0=0)


@pytest.mark.qemu_differs("QEMU 7.2 keeps an unsupported hgatp.MODE as written")
@pytest.mark.parametrize("bad_mode", [1, 11, 15])
def test_hgatp_unsupported_mode_reads_back_legal(bad_mode):
    """Unlike satp, a write with an unsupported MODE is not ignored: MODE is WARL."""
    r = h.run(f"    li t0, ({bad_mode} << 60) | 0x80004\n    csrw hgatp, t0\n    csrr a0, hgatp\n"
              "    csrw hgatp, zero\n")
    assert r["a0"] >> 60 in (0, 8, 9, 10)


def test_satp_write_at_v1_with_unsupported_mode_is_ignored():
    """At V=1 a satp write with an unsupported MODE has no effect on vsatp."""
    body = ("    csrw vsatp, zero\n"
            + h.enter("VS", "vs") + "vs:\n    li t0, (5 << 60) | 0x1\n    csrw satp, t0\n    csrr a1, satp\n"
            + h.to_m() + "    csrr a0, vsatp\n")
    r = h.run(body)
    assert r.traps == []
    expect_regs(r, a0=0, a1=0)


@pytest.mark.qemu_differs("QEMU 7.2 keeps an unsupported vsatp.MODE written at V=0")
def test_vsatp_unsupported_mode_write_at_v0():
    """At V=0 the write is ignored as for satp, or MODE is WARL: never an unsupported MODE."""
    r = h.run("    li t0, (8 << 60) | (5 << 44) | 0x80123\n    csrw vsatp, t0\n"
              "    li t0, (5 << 60) | 0x1\n    csrw vsatp, t0\n    csrr a0, vsatp\n    csrw vsatp, zero\n")
    assert r["a0"] >> 60 in (0, 8, 9, 10)


@pytest.mark.qemu_differs("QEMU 7.2 stores every vsstatus bit as written")
def test_vsstatus_warl():
    """SIE, SPIE, SPP, SUM, MXR writable; UXL reads 2; vsstatus is not mstatus."""
    r = h.run("    li t0, -1\n    csrw vsstatus, t0\n    csrr a0, vsstatus\n    csrr a1, mstatus\n"
              "    csrw vsstatus, zero\n    csrr a2, vsstatus\n")
    writable = (1 << 1) | (1 << 5) | (1 << 8) | (1 << 18) | (1 << 19)
    assert r["a0"] & ~FP_VECTOR_BITS == writable | UXL_64, f"vsstatus = {r['a0']:#x}"
    assert r["a1"] & ((1 << 18) | (1 << 19)) == 0, "writing vsstatus left mstatus alone"
    assert r["a2"] & ~FP_VECTOR_BITS == UXL_64


def test_vsstatus_writable_fields():
    fields = (1 << 1) | (1 << 5) | (1 << 8) | (1 << 18) | (1 << 19)
    r = h.run(f"    li t0, {fields}\n    csrs vsstatus, t0\n    csrr a0, vsstatus\n    csrc vsstatus, t0\n"
              "    csrr a1, vsstatus\n")
    assert r["a0"] & fields == fields and r["a1"] & fields == 0
    assert r["a1"] >> 32 & 3 == 2, "UXL: VU runs RV64"


def test_vstvec_vsscratch_vsepc_hold_values():
    r = h.run("    csrr s1, vstvec\n    csrr s2, vsscratch\n"
              "    li t0, 0x80001001\n    csrw vstvec, t0\n    csrr a0, vstvec\n"
              "    li t0, 0x123456789\n    csrw vsscratch, t0\n    csrr a1, vsscratch\n"
              "    li t0, 0x80002006\n    csrw vsepc, t0\n    csrr a2, vsepc\n"
              "    csrw vstvec, s1\n    csrw vsscratch, s2\n")
    expect_regs(r, a0=0x8000_1001, a1=0x1_2345_6789, a2=0x8000_2006)


# ------------------------------------------------------------------ redirection at V=1
def test_s_csrs_reach_the_vs_copies_at_v1():
    """At V=1, sepc/scause/stval/sstatus name vsepc/vscause/vstval/vsstatus; the HS
    copies keep their values."""
    body = ("    li t0, 0x1110\n    csrw sepc, t0\n    li t0, 0x2222\n    csrw vsepc, t0\n"
            "    li t0, 7\n    csrw scause, t0\n    li t0, 3\n    csrw vscause, t0\n"
            "    li t0, 0x3333\n    csrw stval, t0\n    li t0, 0x4444\n    csrw vstval, t0\n"
            "    li t0, 1 << 18\n    csrc vsstatus, t0\n    csrc sstatus, t0\n"
            + h.enter("VS", "vs") +
            "vs:\n    csrr a0, sepc\n    csrr a1, scause\n    csrr a2, stval\n"
            "    li t0, 0x5554\n    csrw sepc, t0\n    li t0, 0x6666\n    csrw stval, t0\n"
            "    li t0, 1 << 18\n    csrs sstatus, t0\n    csrr a3, sstatus\n"
            + h.to_m() +
            "    csrr a4, vsepc\n    csrr a5, sepc\n    csrr a6, vstval\n    csrr s2, stval\n"
            "    csrr s3, vsstatus\n    csrr s4, sstatus\n    csrr s5, scause\n")
    r = h.run(body)
    assert r.traps == []
    expect_regs(r, a0=0x2222, a1=3, a2=0x4444, a4=0x5554, a5=0x1110, a6=0x6666, s2=0x3333, s5=7)
    assert r["a3"] >> 18 & 1 and r["s3"] >> 18 & 1, "sstatus.SUM at V=1 is vsstatus.SUM"
    assert r["s4"] >> 18 & 1 == 0, "HS sstatus.SUM untouched"


@pytest.mark.parametrize("mideleg", [
    pytest.param(0, marks=pytest.mark.qemu_differs("QEMU 7.2 masks sie/sip read at V=1 with mideleg's S bits")),
    0x222])
def test_sie_sip_at_v1_are_vsie_vsip_shifted(mideleg):
    """With hideleg delegating them, vsie/vsip show the VS interrupts at the S positions
    (1, 5, 9) and alias hie/hip bits 2, 6, 10; mideleg's S bits play no part."""
    body = (f"    li t0, {mideleg}\n    csrw mideleg, t0\n"
            f"    li t0, {VS_INTERRUPTS}\n    csrw hideleg, t0\n    csrw hie, zero\n"
            "    li t0, 4\n    csrw hvip, t0\n"
            + h.enter("VS", "vs") +
            "vs:\n    li t0, -1\n    csrw sie, t0\n    csrr a0, sie\n    csrr a1, sip\n"
            "    li t0, 2\n    csrc sip, t0\n    csrr a2, sip\n    csrw sie, zero\n" + h.to_m() +
            "    csrr a3, hvip\n    csrw hideleg, zero\n    csrw mideleg, zero\n")
    r = h.run(body)
    expect_regs(r, a0=(1 << 1) | (1 << 5) | (1 << 9), a1=1 << 1, a2=0, a3=0)


def test_vsie_reads_zero_without_hideleg():
    body = ("    csrw hideleg, zero\n    li t0, -1\n    csrw hie, t0\n"
            + h.enter("VS", "vs") +
            "vs:\n    li t0, -1\n    csrw sie, t0\n    csrr a0, sie\n" + h.to_m() + "    csrr a1, hie\n"
            "    csrw hie, zero\n")
    r = h.run(body)
    expect_regs(r, a0=0)
    assert r["a1"] & ~(1 << 12) == VS_INTERRUPTS


# ------------------------------------------------------------------ counters at V=1
def test_htimedelta_offsets_time_in_vs():
    delta = 1 << 40
    body = (f"    li t0, 2\n    csrs mcounteren, t0\n    csrs hcounteren, t0\n    li t0, {delta}\n"
            "    csrw htimedelta, t0\n"
            + h.enter("VS", "vs") + "vs:\n    rdtime a0\n" + h.to_m() + "    rdtime a1\n    csrw htimedelta, zero\n")
    r = h.run(body)
    assert r.traps == []
    assert delta <= r["a0"] and r["a0"] - delta <= r["a1"] < r["a0"] - delta + 100_000


@pytest.mark.parametrize("mcounteren,hcounteren,cause", [(1, 1, None), (1, 0, 22), (0, 1, 2), (0, 0, 2)])
def test_cycle_from_vs_gated_by_mcounteren_and_hcounteren(mcounteren, hcounteren, cause):
    """mcounteren.CY = 0: illegal instruction; else hcounteren.CY = 0: virtual instruction."""
    body = (f"    li t0, {mcounteren}\n    csrw mcounteren, t0\n    li t0, {hcounteren}\n"
            "    csrw hcounteren, t0\n" + h.enter("VS", "read_at")
            + "read_at:\n    csrr a0, cycle\n" + h.leave())
    r = h.run(body)
    expected = [] if cause is None else [(cause, "read_at", 0xC000_2573, "M", "VS")]
    assert r.summary() == expected

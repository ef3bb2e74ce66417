"""HLV, HLVX and HSV: loads and stores as VS or VU from M, HS or U (privileged spec,
"Hypervisor Virtual-Machine Load and Store Instructions"): widths and sign
extension, hstatus.SPVP choosing VS or VU permission, vsstatus.SUM/MXR, HLVX
needing execute permission, faults reported with GVA = 1, hstatus.HU.

The guest's Sv39 tables live in the harness pool (the G-stage maps RAM onto
itself, so GPA = host address): VA 0x4000_0000 -> pool page 8, whose flags each test picks. The
instructions run in HS-mode (the usual user: a hypervisor), their faults
delegated to HS; test_hlv_from_m_mode covers M.
"""

import pytest

from . import h_support as h
from .h_support import A, D, R, U, V, W, X, gpte
from .cases import expect_regs

POOL = "__page_pool"
VA = 0x4000_0000
PATTERN = 0x8081_8283_8485_8687
LOAD_PAGE_FAULT, STORE_PAGE_FAULT = 13, 15


def page(i):
    return f"{POOL} + {i * 4096}"


def guest_tables(flags, spvp=0, vsstatus_bits=0, hs_paging=True):
    """VS-stage Sv39 with VA -> pool page 8 (`flags`), the pattern at its start."""
    hs_satp = (gpte(page(4), 2, 0x8000_0000, V | R | W | X | A | D)
               + f"    la t0, {page(4)}\n    srli t0, t0, 12\n    li t1, 8 << 60\n    or t0, t0, t1\n"
               "    csrw satp, t0\n    sfence.vma\n") if hs_paging else ""
    return (gpte(POOL, 1, page(1), V) + gpte(page(1), 0, page(2), V) + gpte(page(2), 0, page(8), flags)
            + f"    la t0, {page(8)}\n    li t1, {PATTERN - (1 << 64)}\n    sd t1, 0(t0)\n"
            + f"    la t0, {POOL}\n    srli t0, t0, 12\n    li t1, 8 << 60\n    or t0, t0, t1\n    csrw vsatp, t0\n"
            + h.gstage_identity_ram() + h.gstage_on() + "    hfence.vvma\n"
            # HS runs with its own Sv39 identity map: HLV does not use it, but QEMU 7.2
            # reports VS-stage faults of HLV as access faults while HS satp is Bare.
            + hs_satp
            + f"    li t0, {h.HSTATUS_SPVP}\n    csrc hstatus, t0\n    li t0, {spvp * h.HSTATUS_SPVP}\n"
            "    csrs hstatus, t0\n"
            + "    li t0, (1 << 18) | (1 << 19)\n    csrc vsstatus, t0\n"
            + f"    li t0, {vsstatus_bits}\n    csrs vsstatus, t0\n    li a1, {VA}\n")


USER_RW = V | R | W | U | A | D
FAULTS_TO_HS = (1 << LOAD_PAGE_FAULT) | (1 << STORE_PAGE_FAULT) | (1 << 21) | (1 << 23)


def in_hs(setup, code):
    return (setup + f"    li t0, {FAULTS_TO_HS}\n    csrw medeleg, t0\n" + h.enter("HS", "hs_code")
            + "hs_code:\n" + code + h.leave())


@pytest.mark.parametrize("insn,expected", [
    ("hlv.b", 0xFFFF_FFFF_FFFF_FF87), ("hlv.bu", 0x87), ("hlv.h", 0xFFFF_FFFF_FFFF_8687), ("hlv.hu", 0x8687),
    ("hlv.w", 0xFFFF_FFFF_8485_8687), ("hlv.wu", 0x8485_8687), ("hlv.d", PATTERN)])
def test_hlv_widths_and_sign_extension(insn, expected):
    r = h.run(in_hs(guest_tables(USER_RW), f"    {insn} a0, (a1)\n"))
    assert r.traps == []
    expect_regs(r, a0=expected)


@pytest.mark.parametrize("insn,stored", [("hsv.b", 0x8081_8283_8485_86AA), ("hsv.h", 0x8081_8283_8485_BBAA),
                                         ("hsv.w", 0x8081_8283_DDCC_BBAA), ("hsv.d", 0x1122_3344_DDCC_BBAA)])
def test_hsv_widths(insn, stored):
    r = h.run(in_hs(guest_tables(USER_RW), f"    li a0, 0x11223344DDCCBBAA\n    {insn} a0, (a1)\n"
                    f"    la t0, {page(8)}\n    ld a2, 0(t0)\n"))
    assert r.traps == []
    expect_regs(r, a2=stored)


@pytest.mark.parametrize("flags,spvp,vsstatus_bits,faults", [
    (USER_RW, 0, 0, False),                                  # VU reads a U page
    (V | R | W | A | D, 0, 0, True),                         # VU cannot read an S page
    (V | R | W | A | D, 1, 0, False),                        # VS reads an S page
    pytest.param(USER_RW, 1, 0, True, marks=pytest.mark.qemu_differs("QEMU 7.2 lets HLV as VS read user pages without vsstatus.SUM")),     # VS reads a U page only with SUM
    (USER_RW, 1, 1 << 18, False),
    (V | X | U | A, 0, 0, True),                             # execute-only: HLV needs R ...
    pytest.param(V | X | U | A, 0, 1 << 19, False, marks=pytest.mark.qemu_differs("QEMU 7.2 applies HS sstatus.MXR, not vsstatus.MXR, to HLV's VS-stage")),   # ... or vsstatus.MXR
], ids=["vu-user", "vu-supervisor", "vs-supervisor", "vs-user-nosum", "vs-user-sum", "xonly", "xonly-mxr"])
def test_hlv_permissions_follow_spvp_and_vsstatus(flags, spvp, vsstatus_bits, faults):
    r = h.run(in_hs(guest_tables(flags, spvp, vsstatus_bits), "insn_at:\n    hlv.d a0, (a1)\n    li s1, 1\n"))
    if faults:
        (t,) = r.traps
        assert (t.cause, t.epc, t.tval, t.mode) == (LOAD_PAGE_FAULT, r.symbols["insn_at"], VA, 1)
        assert t.gva == 1, "stval holds a guest virtual address"
        assert t.virt == 0, "the trap came from HS-mode: SPV = 0"
    else:
        assert r.traps == []
        expect_regs(r, a0=PATTERN)
    expect_regs(r, s1=1)


@pytest.mark.qemu_differs("QEMU 7.2 lets HLV as VS read user pages without vsstatus.SUM")
def test_hs_sum_does_not_apply_to_hlv():
    r = h.run(in_hs(guest_tables(USER_RW, spvp=1) + "    li t0, 1 << 18\n    csrs sstatus, t0\n",
                    "    hlv.d a0, (a1)\n"))
    assert [t.cause for t in r.traps] == [LOAD_PAGE_FAULT]


_QEMU_HLVX = pytest.mark.qemu_differs("QEMU 7.2 checks read, not execute, permission for HLVX")


@_QEMU_HLVX
@pytest.mark.parametrize("insn,expected", [("hlvx.wu", 0x8485_8687), ("hlvx.hu", 0x8687)])
def test_hlvx_reads_execute_only_pages(insn, expected):
    r = h.run(in_hs(guest_tables(V | X | U | A), f"    {insn} a0, (a1)\n"))
    assert r.traps == []
    expect_regs(r, a0=expected)


@_QEMU_HLVX
def test_hlvx_needs_execute_permission():
    r = h.run(in_hs(guest_tables(USER_RW), "insn_at:\n    hlvx.wu a0, (a1)\n"))
    assert [(t.cause, t.tval) for t in r.traps] == [(LOAD_PAGE_FAULT, VA)]


@_QEMU_HLVX
def test_hlvx_ignores_mxr_for_a_readable_non_executable_page():
    r = h.run(in_hs(guest_tables(USER_RW, vsstatus_bits=1 << 19), "    hlvx.wu a0, (a1)\n"))
    assert [t.cause for t in r.traps] == [LOAD_PAGE_FAULT]


def test_hsv_to_a_read_only_page_is_a_store_page_fault():
    r = h.run(in_hs(guest_tables(V | R | U | A | D), "insn_at:\n    hsv.d a1, (a1)\n"))
    assert [(t.cause, t.epc, t.tval, t.gva) for t in r.traps] == [(STORE_PAGE_FAULT, r.symbols["insn_at"], VA, 1)]


@pytest.mark.qemu_differs("QEMU 7.2 does not translate HLV/HSV executed in M-mode")
def test_hlv_from_m_mode():
    """M-mode may use HLV too: translated as VS/VU, a fault taken in M has GVA = 1, MPV = 0."""
    r = h.run(guest_tables(USER_RW) + "    hlv.d a0, (a1)\n" + guest_tables(V | R | W | A | D)
              + "insn_at:\n    hlv.d a2, (a1)\n")
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.mode, t.gva, t.virt) == (LOAD_PAGE_FAULT, r.symbols["insn_at"], VA, 3, 1, 0)
    expect_regs(r, a0=PATTERN)


def test_hlv_through_the_gstage():
    """G-stage on: HLV's GPA goes through hgatp too; a hole there is a guest-page fault
    (cause 21, htval = GPA >> 2) even though the access came from HS (V=0)."""
    gpa_hole = 0x4000_1000
    body = in_hs(h.gstage_identity_ram() + gpte("__h_groot", 1, h.gpool(0), V) + gpte(h.gpool(0), 0, h.gpool(1), V)
            + gpte(h.gpool(1), 0, h.gpool(2), h.GSTAGE_RWX) + h.gstage_on()
            + f"    la t0, {h.gpool(2)}\n    li t1, 0x6789\n    sd t1, 0(t0)\n"
            + "    csrw vsatp, zero\n",
                 "    li a1, 0x40000000\n    hlv.d a0, (a1)\n"
                 f"    li a1, {gpa_hole + 8}\ninsn_at:\n    hlv.d a2, (a1)\n")
    r = h.run(body)
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.tval2, t.mode) == (21, r.symbols["insn_at"], gpa_hole + 8, (gpa_hole + 8) >> 2, 1)
    assert t.gva == 1 and t.virt == 0
    expect_regs(r, a0=0x6789)


@pytest.mark.parametrize("hu,cause", [(1, None), (0, 2)])
def test_hlv_from_u_needs_hu(hu, cause):
    setup = guest_tables(USER_RW, hs_paging=False) + f"    li t0, {h.HSTATUS_HU}\n    csrc hstatus, t0\n    li t0, {hu * h.HSTATUS_HU}\n" \
        "    csrs hstatus, t0\n"
    r = h.run(setup + h.enter("U", "go") + "go:\ninsn_at:\n    hlv.d a0, (a1)\n" + h.leave())
    if cause is None:
        assert r.traps == []
        expect_regs(r, a0=PATTERN)
    else:
        assert [(t.cause, t.epc) for t in r.traps] == [(cause, r.symbols["insn_at"])]


@pytest.mark.parametrize("level", ["4k", "2m"])
def test_hlv_sv48_over_sv48x4(level):
    """Both stages four levels deep: VS-stage Sv48 (tables in the pool) over G-stage Sv48x4
    mapping RAM onto itself; a 4 KiB leaf, or a 2 MiB leaf over the start of RAM (the VA's
    offset in it is that of pool page 8)."""
    tables = gpte(POOL, 0, page(3), V) + gpte(page(3), 1, page(1), V)
    if level == "4k":
        tables += gpte(page(1), 0, page(2), V) + gpte(page(2), 5, page(8), USER_RW)
        point = f"    li a1, {VA + 5 * 4096}\n"
    else:
        tables += gpte(page(1), 3, 0x8000_0000, USER_RW)
        point = f"    la a1, {page(8)}\n    li t0, {0x8000_0000 - (VA + 3 * (2 << 20))}\n    sub a1, a1, t0\n"
    setup = (tables + gpte("__h_groot", 0, h.gpool(4), V) + gpte(h.gpool(4), 2, 0x8000_0000, h.GSTAGE_RWX)
             + h.gstage_on(h.SV48X4)
             + f"    la t0, {page(8)}\n    li t1, 0x4848\n    sd t1, 0(t0)\n"
             + f"    la t0, {POOL}\n    srli t0, t0, 12\n    li t1, 9 << 60\n    or t0, t0, t1\n    csrw vsatp, t0\n"
             "    hfence.vvma\n")
    r = h.run(in_hs(setup, point + "    hlv.d a0, (a1)\n"))
    assert r.traps == []
    expect_regs(r, a0=0x4848)

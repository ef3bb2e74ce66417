"""G-stage translation (hgatp Sv39x4/Sv48x4) and guest-page faults (privileged spec,
"Hypervisor Extension": guest physical address translation, guest-page faults,
htval/mtval2, htinst/mtinst, HFENCE.GVMA/HFENCE.VVMA).

Layout: G-stage Sv39x4 rooted at __h_groot maps the RAM gigapage (GPA 0x8000_0000)
onto itself, so the harness keeps running at V=1, and GPA 0x4000_0000.. through
two tables (gpool 0, 1) onto pool pages: GPA 0x4000_0000 -> gpool 2, GPA
0x4000_1000 unmapped, GPA 0x4000_2000 -> gpool 3 (flags per test). vsatp is Bare
unless a test says otherwise, so guest virtual = guest physical.
"""

import pytest

from . import h_support as h
from .h_support import A, D, GSTAGE_RWX, R, U, V, W, X, gpool, gpte
from .cases import expect_regs

TEST_GPA = 0x4000_0000
HOLE_GPA = 0x4000_1000
OTHER_GPA = 0x4000_2000
LOAD_GPF, STORE_GPF, FETCH_GPF = 21, 23, 20
GPF_TO_HS = (1 << 20) | (1 << 21) | (1 << 23)
RET = 0x0000_8067


def gstage(page_flags=GSTAGE_RWX, other=None, mode=h.SV39X4, vmid=0):
    """The layout above; `other` = flags of the GPA 0x4000_2000 page (None: unmapped)."""
    code = (h.gstage_identity_ram() + gpte("__h_groot", 1, gpool(0), V) + gpte(gpool(0), 0, gpool(1), V)
            + gpte(gpool(1), 0, gpool(2), page_flags))
    if other is not None:
        code += gpte(gpool(1), 2, gpool(3), other)
    return code + h.gstage_on(mode, vmid)


def store(addr_expr, value, offset=0):
    load = f"    li t0, {addr_expr}\n" if isinstance(addr_expr, int) else f"    la t0, {addr_expr}\n"
    return load + f"    li t1, {value}\n    sd t1, {offset}(t0)\n"


def in_vs(setup, vs_code, medeleg=0):
    return (setup + f"    li t0, {medeleg}\n    csrw medeleg, t0\n" + h.enter("VS", "vs_code")
            + "vs_code:\n" + vs_code + h.leave())


# ------------------------------------------------------------------ mapping
def test_gpa_maps_to_a_different_host_page():
    setup = gstage() + store(gpool(2), 0x1234)
    vs = f"    li a1, {TEST_GPA}\n    ld a0, 0(a1)\n    li t0, 0x77\n    sd t0, 8(a1)\n"
    r = h.run(in_vs(setup, vs) + "", data="")
    assert r.traps == []
    expect_regs(r, a0=0x1234)
    r2 = h.run(setup + h.enter("VS", "go") + "go:\n" + vs + h.to_m() + f"    la t0, {gpool(2)}\n    ld a2, 8(t0)\n")
    expect_regs(r2, a0=0x1234, a2=0x77)


@pytest.mark.qemu_differs("QEMU 7.2 faults on GPAs that only the upper half of an x4 root maps")
def test_root_is_16k_all_2048_entries_used():
    """GPA bit 40 set selects the upper 8 KiB of the Sv39x4 root (index 1024 + 2)."""
    gpa = (1 << 40) | 0x8000_0000
    setup = gstage() + gpte("__h_groot", 1024 + 2, 0x8000_0000, GSTAGE_RWX) + store("__data", 0xABCD)
    vs = f"    la a1, __data\n    li t0, {gpa - 0x8000_0000}\n    add a1, a1, t0\n    ld a0, 0(a1)\n"
    r = h.run(in_vs(setup + "    hfence.gvma\n", vs))
    assert r.traps == []
    expect_regs(r, a0=0xABCD)


@pytest.mark.qemu_differs("QEMU 7.2 faults on GPAs that only the upper half of an x4 root maps")
def test_sv48x4():
    """Sv48x4: root (16 KiB) -> L2 -> gigapage; GPA bit 49 lands in root entry 1024."""
    setup = (gpte("__h_groot", 0, gpool(4), V) + gpte(gpool(4), 2, 0x8000_0000, GSTAGE_RWX)
             + gpte("__h_groot", 1024, gpool(5), V) + gpte(gpool(5), 2, 0x8000_0000, GSTAGE_RWX)
             + h.gstage_on(h.SV48X4) + store("__data", 0x4848))
    vs = (f"    la a1, __data\n    ld a0, 0(a1)\n    li t0, {1 << 49}\n    add a1, a1, t0\n    ld a2, 0(a1)\n")
    r = h.run(in_vs(setup, vs))
    assert r.traps == []
    expect_regs(r, a0=0x4848, a2=0x4848)


# ------------------------------------------------------------------ guest-page faults
@pytest.mark.parametrize("insn,cause", [("ld a0, 16(a1)", LOAD_GPF), ("sd a0, 16(a1)", STORE_GPF),
                                        ("lbu a0, 16(a1)", LOAD_GPF),
                                        pytest.param("amoadd.d a0, a0, (a2)", STORE_GPF, marks=pytest.mark.qemu_differs(
                                            "QEMU 7.2 reports an AMO guest-page fault as cause 21")),
                                        ("lr.d a0, (a2)", LOAD_GPF)])
def test_guest_page_fault_to_hs(insn, cause):
    """htval = GPA >> 2, stval = the guest virtual address, hstatus.GVA = 1, SPV = 1."""
    vs = (f"    li a1, {HOLE_GPA}\n    addi a2, a1, 16\n    .option push\n    .option norvc\n"
          f"insn_at:\n    {insn}\n    .option pop\n    li s1, 1\n")
    r = h.run(in_vs(gstage(), vs, medeleg=GPF_TO_HS))
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.mode) == (cause, r.symbols["insn_at"], HOLE_GPA + 16, 1)
    assert t.tval2 == (HOLE_GPA + 16) >> 2
    assert t.gva == 1 and t.virt == 1
    expect_regs(r, s1=1)


def test_guest_page_fault_to_m_sets_mtval2_and_gva():
    vs = f"    li a1, {HOLE_GPA}\ninsn_at:\n    ld a0, 8(a1)\n    li s1, 1\n"
    r = h.run(in_vs(gstage(), vs))
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.mode) == (LOAD_GPF, r.symbols["insn_at"], HOLE_GPA + 8, 3)
    assert t.tval2 == (HOLE_GPA + 8) >> 2
    assert t.status >> 38 & 1 == 1 and t.status >> 39 & 1 == 1, "mstatus.GVA and MPV"


def test_instruction_guest_page_fault():
    vs = (f"    li t0, {HOLE_GPA + 0x40}\n    .option push\n    .option norvc\njump_at:\n    jalr t0\n"
          "    .option pop\n    li s1, 1\n")
    r = h.run(in_vs(gstage(), vs, medeleg=GPF_TO_HS))
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.mode) == (FETCH_GPF, r.symbols["jump_at"], HOLE_GPA + 0x40, 1)
    assert t.tval2 == (HOLE_GPA + 0x40) >> 2 and t.gva == 1
    expect_regs(r, s1=1)


def test_guest_page_faults_cannot_be_delegated_to_vs():
    setup = gstage() + "    li t0, -1\n    csrw hedeleg, t0\n"
    r = h.run(in_vs(setup, f"    li a1, {HOLE_GPA}\n    ld a0, 0(a1)\n", medeleg=GPF_TO_HS))
    assert [(t.cause, t.mode) for t in r.traps] == [(LOAD_GPF, 1)]


@pytest.mark.parametrize("flags,insn,cause", [
    (V | R | W | X | A | D, "ld a0, 0(a1)", LOAD_GPF),          # U = 0: every G-stage access is U-level
    (V | R | X | U | A | D, "sd a0, 0(a1)", STORE_GPF),         # not writable
    (V | X | U | A, "ld a0, 0(a1)", LOAD_GPF),                  # execute-only
    (V | W | U | A | D, "ld a0, 0(a1)", LOAD_GPF),              # W without R: reserved
])
def test_gstage_permission_faults(flags, insn, cause):
    r = h.run(in_vs(gstage(page_flags=flags), f"    li a1, {TEST_GPA}\ninsn_at:\n    {insn}\n",
                    medeleg=GPF_TO_HS))
    assert [(t.cause, t.tval, t.tval2) for t in r.traps] == [(cause, TEST_GPA, TEST_GPA >> 2)]


@pytest.mark.qemu_differs("QEMU 7.2 applies vsstatus.MXR, not HS sstatus.MXR, to the G-stage")
def test_hs_mxr_makes_gstage_execute_only_readable():
    """sstatus.MXR of HS applies to both stages."""
    setup = gstage(page_flags=V | X | U | A) + store(gpool(2), 0x5151)
    r = h.run(in_vs(setup + "    li t0, 1 << 19\n    csrs sstatus, t0\n",
                    f"    li a1, {TEST_GPA}\n    ld a0, 0(a1)\n", medeleg=GPF_TO_HS))
    assert r.traps == []
    expect_regs(r, a0=0x5151)


@pytest.mark.qemu_differs("QEMU 7.2 lets vsstatus.MXR reach the G-stage")
def test_vs_mxr_does_not_reach_the_gstage():
    setup = gstage(page_flags=V | X | U | A) + "    li t0, 1 << 19\n    csrs vsstatus, t0\n    csrc sstatus, t0\n"
    r = h.run(in_vs(setup, f"    li a1, {TEST_GPA}\n    ld a0, 0(a1)\n", medeleg=GPF_TO_HS))
    assert [(t.cause, t.tval2) for t in r.traps] == [(LOAD_GPF, TEST_GPA >> 2)]


def test_gpa_beyond_sv39x4_faults():
    """Sv39x4 translates 41-bit GPAs: bit 41 set is a guest-page fault, whatever the tables."""
    gpa = (1 << 41) | TEST_GPA
    r = h.run(in_vs(gstage(), f"    li a1, {gpa}\ninsn_at:\n    ld a0, 0(a1)\n", medeleg=GPF_TO_HS))
    assert [(t.cause, t.tval, t.tval2) for t in r.traps] == [(LOAD_GPF, gpa, gpa >> 2)]


@pytest.mark.parametrize("insn,transformed", [
    ("ld a0, 8(a1)", 0x0000_3503),         # imm and rs1 cleared (offset 0)
    ("sw a2, 12(a1)", 0x00C0_2023),        # rs2, funct3, opcode kept
])
def test_htinst_for_an_explicit_access_is_zero_or_transformed(insn, transformed):
    vs = f"    li a1, {HOLE_GPA}\n    .option push\n    .option norvc\n    {insn}\n    .option pop\n"
    r = h.run(in_vs(gstage(), vs, medeleg=GPF_TO_HS))
    (t,) = r.traps
    assert t.tinst in (0, transformed), f"htinst {t.tinst:#x}"


# ------------------------------------------------------------------ implicit accesses (VS-stage walk)
def vs_walk_setup(root_gpa, gstage_code):
    """vsatp Sv39 rooted at `root_gpa`; HLV/HSV access as VS (hstatus.SPVP = 1)."""
    return (gstage_code + f"    li t0, (8 << 60) | ({root_gpa} >> 12)\n    csrw vsatp, t0\n"
            f"    li t0, {h.HSTATUS_SPVP}\n    csrs hstatus, t0\n")


@pytest.mark.qemu_differs("QEMU 7.2 writes 0 to mtinst/htinst for implicit VS-stage accesses")
def test_implicit_pte_read_fault_htinst_pseudoinstruction():
    """A VS page-table read that the G-stage cannot translate: reported as the original
    access (load), tval = the guest VA, mtval2 = the PTE's GPA >> 2, mtinst = 0x3000."""
    setup = vs_walk_setup(HOLE_GPA, gstage())
    r = h.run(setup + "    li a1, 0x1008\ninsn_at:\n    hlv.d a0, (a1)\n    csrw vsatp, zero\n")
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.mode) == (LOAD_GPF, r.symbols["insn_at"], 0x1008, 3)
    assert t.tval2 == HOLE_GPA >> 2, "vpn[2] of VA 0x1008 is 0: the first PTE of the root"
    assert t.tinst == 0x3000
    assert t.status >> 38 & 1 == 1, "GVA: mtval holds a guest virtual address"


@pytest.mark.parametrize("insn,cause", [
    ("hlv.d a0, (a1)", LOAD_GPF),
    pytest.param("hsv.d a0, (a1)", STORE_GPF, marks=pytest.mark.qemu_differs(
        "QEMU 7.2 reports a store's implicit PTE-read fault as a load guest-page fault")),
])
def test_implicit_pte_read_fault_cause_and_htval(insn, cause):
    """Reported as the original access type; htval = the PTE's GPA >> 2."""
    r = h.run(vs_walk_setup(HOLE_GPA, gstage()) + f"    li a1, 0x1008\n    {insn}\n    csrw vsatp, zero\n")
    (t,) = r.traps
    assert (t.cause, t.tval, t.tval2) == (cause, 0x1008, HOLE_GPA >> 2)
    assert t.tinst in (0, 0x3000)


@pytest.mark.qemu_differs("QEMU 7.2 updates VS PTE A/D bits without G-stage write permission")
def test_implicit_ad_update_fault_htinst_is_the_write_pseudoinstruction():
    """The VS leaf has A = 0 and its page-table page is read-only in the G-stage: the
    hardware A update is a write the G-stage refuses (mtinst 0x3020)."""
    root, leaf_table = TEST_GPA, OTHER_GPA
    setup = (gstage(page_flags=V | R | U | A | D, other=V | R | U | A | D)
             + gpte(gpool(2), 0, leaf_table, V)                       # VS root[0] -> VS L1 at GPA OTHER
             + gpte(gpool(3), 0, 0x8000_0000, V | R | W | X | D)      # VS L1[0]: 1 GiB leaf, A = 0
             + vs_walk_setup(root, ""))
    r = h.run(setup + "    li a1, 0x1000\n    hlv.d a0, (a1)\n    csrw vsatp, zero\n")
    (t,) = r.traps
    assert (t.cause, t.tval, t.tval2) == (LOAD_GPF, 0x1000, OTHER_GPA >> 2)
    assert t.tinst == 0x3020


# ------------------------------------------------------------------ fences and tags
def test_hfence_gvma_makes_a_changed_gstage_pte_visible():
    setup = gstage() + store(gpool(2), 0xAAAA) + store(gpool(3), 0xBBBB)
    vs1 = f"    li a1, {TEST_GPA}\n    ld a0, 0(a1)\n"
    change = gpte(gpool(1), 0, gpool(3), GSTAGE_RWX) + f"    li t0, {TEST_GPA >> 2}\n    hfence.gvma t0, zero\n"
    body = (setup + h.enter("VS", "first") + "first:\n" + vs1 + h.to_m() + change
            + h.enter("VS", "second") + "second:\n    li a1, 0x40000000\n    ld a2, 0(a1)\n")
    r = h.run(body)
    assert r.traps == []
    expect_regs(r, a0=0xAAAA, a2=0xBBBB)


def test_vmids_do_not_share_translations():
    """Two VMIDs map the same GPA to different pages: switching hgatp without a fence
    must not return the other VMID's translation (TLB entries are tagged)."""
    setup = (gstage(vmid=1) + store(gpool(2), 0x1111) + store(gpool(3), 0x2222)
             + gpte("__h_groot2", 2, 0x8000_0000, GSTAGE_RWX) + gpte("__h_groot2", 1, gpool(6), V)
             + gpte(gpool(6), 0, gpool(7), V) + gpte(gpool(7), 0, gpool(3), GSTAGE_RWX))
    switch = ("    la t0, __h_groot2\n    srli t0, t0, 12\n    li t1, (8 << 60) | (2 << 44)\n"
              "    or t0, t0, t1\n    csrw hgatp, t0\n")
    back = ("    la t0, __h_groot\n    srli t0, t0, 12\n    li t1, (8 << 60) | (1 << 44)\n"
            "    or t0, t0, t1\n    csrw hgatp, t0\n")
    read = "    li a1, 0x40000000\n    ld {reg}, 0(a1)\n"
    body = (setup + h.enter("VS", "a") + "a:\n" + read.format(reg="a0") + h.to_m() + switch
            + h.enter("VS", "b") + "b:\n" + read.format(reg="a2") + h.to_m() + back
            + h.enter("VS", "c") + "c:\n" + read.format(reg="a3") + h.to_m())
    r = h.run(body)
    assert r.traps == []
    expect_regs(r, a0=0x1111, a2=0x2222, a3=0x1111)


def test_hfence_vvma_makes_a_changed_vs_pte_visible():
    """VS-stage on (vsatp Sv39, tables in the harness pool, G-stage Bare): HS changes the
    guest's PTE and fences with HFENCE.VVMA."""
    pool = "__page_pool"
    setup = (gpte(pool, 2, 0x8000_0000, V | R | W | X | A | D)
             + gpte(pool, 1, f"{pool} + 4096", V) + gpte(f"{pool} + 4096", 0, f"{pool} + 8192", V)
             + gpte(f"{pool} + 8192", 0, f"{pool} + {8 * 4096}", V | R | W | A | D)
             + store(f"{pool} + {8 * 4096}", 0x0101) + store(f"{pool} + {9 * 4096}", 0x0202)
             + f"    la t0, {pool}\n    srli t0, t0, 12\n    li t1, 8 << 60\n    or t0, t0, t1\n"
             "    csrw vsatp, t0\n    csrw hgatp, zero\n    hfence.gvma\n    hfence.vvma\n")
    change = gpte(f"{pool} + 8192", 0, f"{pool} + {9 * 4096}", V | R | W | A | D) + "    hfence.vvma\n"
    body = (setup + h.enter("VS", "a") + "a:\n    li a1, 0x40000000\n    ld a0, 0(a1)\n" + h.to_m() + change
            + h.enter("VS", "b") + "b:\n    li a1, 0x40000000\n    ld a2, 0(a1)\n" + h.to_m()
            + "    csrw vsatp, zero\n")
    r = h.run(body)
    assert r.traps == []
    expect_regs(r, a0=0x0101, a2=0x0202)


def test_mprv_with_mpv_translates_m_mode_accesses_in_two_stages():
    """mstatus.MPRV = 1, MPV = 1, MPP = S: M-mode loads and stores go through vsatp and
    hgatp as VS accesses."""
    setup = gstage() + store(gpool(2), 0x3131) + "    csrw vsatp, zero\n"
    body = (setup + f"    li t0, 0x1800 | {h.MSTATUS_MPV}\n    csrc mstatus, t0\n"
            f"    li t0, (1 << 17) | 0x800 | {h.MSTATUS_MPV}\n    csrs mstatus, t0\n"
            f"    li a1, {TEST_GPA}\n    ld a0, 0(a1)\n    li t0, 0x77\n    sd t0, 8(a1)\n"
            "    li t0, (1 << 17)\n    csrc mstatus, t0\n"
            f"    la t0, {gpool(2)}\n    ld a2, 8(t0)\n")
    r = h.run(body)
    assert r.traps == []
    expect_regs(r, a0=0x3131, a2=0x77)


_QEMU_IMPLICIT_AS_LOAD = pytest.mark.qemu_differs(
    "QEMU 7.2 reports a guest-page fault on a VS page-table read as a load fault, whatever the access")


def _vs_paging_with_l1_in_the_hole():
    """vsatp Sv39 in the harness pool (GPA = host address): root[2] a kernel gigapage over
    RAM, root[1] (VA 0x4000_0000..) -> an L1 table at GPA HOLE_GPA, which the G-stage
    does not map."""
    pool = "__page_pool"
    return (gstage() + gpte(pool, 2, 0x8000_0000, V | R | W | X | A | D) + gpte(pool, 1, HOLE_GPA, V)
            + f"    la t0, {pool}\n    srli t0, t0, 12\n    li t1, 8 << 60\n    or t0, t0, t1\n"
            "    csrw vsatp, t0\n    hfence.vvma\n")


@pytest.mark.parametrize("code,cause", [
    ("    li a1, 0x40000000\ninsn_at:\n    ld a0, 0(a1)\n", LOAD_GPF),
    pytest.param("    li a1, 0x40000000\ninsn_at:\n    sd a0, 0(a1)\n", STORE_GPF, marks=_QEMU_IMPLICIT_AS_LOAD),
    pytest.param("    li t0, 0x40000000\n    .option push\n    .option norvc\ninsn_at:\n    jalr t0\n"
                 "    .option pop\n", FETCH_GPF, marks=_QEMU_IMPLICIT_AS_LOAD),
], ids=["load", "store", "fetch"])
def test_vs_walk_fault_inside_the_guest(code, cause):
    """The guest's own access at V=1: its VS-stage walk reads a PTE the G-stage cannot
    translate. Reported as the original access type, htval = that PTE's GPA >> 2,
    stval = the guest virtual address."""
    r = h.run(in_vs(_vs_paging_with_l1_in_the_hole(), code + "    li s1, 1\n", medeleg=GPF_TO_HS)
              + "    csrw vsatp, zero\n")
    (t,) = r.traps
    assert (t.cause, t.epc, t.tval, t.mode) == (cause, r.symbols["insn_at"], 0x4000_0000, 1)
    assert t.tval2 == HOLE_GPA >> 2 and t.gva == 1
    assert t.tinst in (0, 0x3000)
    expect_regs(r, s1=1)


@pytest.mark.qemu_differs("QEMU 7.2 writes 0 to mtinst/htinst for implicit VS-stage accesses")
def test_vs_walk_fault_inside_the_guest_htinst():
    code = "    li a1, 0x40000000\n    ld a0, 0(a1)\n"
    r = h.run(in_vs(_vs_paging_with_l1_in_the_hole(), code, medeleg=GPF_TO_HS))
    assert [(t.cause, t.tinst) for t in r.traps] == [(LOAD_GPF, 0x3000)]

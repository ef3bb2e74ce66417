"""Sv39 and Sv48 translation: 4 KiB, 2 MiB and 1 GiB pages, A/D updates, permission
faults (R/W/X, U from S with and without SUM, S pages from U, MXR), MPRV, misaligned
superpages, non-canonical addresses, invalid and reserved PTEs, sfence.vma.

Every case builds its tables in the harness's page pool with M-mode stores: RAM is
identity-mapped by a 1 GiB kernel page so the harness's handlers keep working, and
the pages under test live at VA 0x4000_0000 (Sv39: root[1] -> L1 -> L0), backed by
pool pages 8 and up, which M-mode fills before turning translation on.
"""

import pytest

from . import harness
from .cases import enter, expect_regs, traps_summary

V, R, W, X, U, G, A, D = 1, 2, 4, 8, 16, 32, 64, 128
POOL = "__page_pool"
TEST_VA = 0x4000_0000
SV39, SV48 = 8, 9

# Instructions placed in data pages and fetched through the mapping under test.
ADDI_A5_7 = 0x0070_0793          # addi a5, zero, 7
RET = 0x0000_8067                # jalr zero, 0(ra)
LD_A0_0_A1 = 0x0005_B503         # ld a0, 0(a1)
LI_A7_M1 = 0xFFF0_0893           # addi a7, zero, -1
ECALL = 0x0000_0073


def page(i):
    return f"{POOL} + {i * 4096}"


def set_pte(table, entry, target, flags):
    """Store a PTE: table = pool page index, target = physical address (int or asm expression)."""
    load = f"    li t1, {target}\n" if isinstance(target, int) else f"    la t1, {target}\n"
    return (f"    la t0, {page(table)}\n" + load
            + f"    srli t1, t1, 12\n    slli t1, t1, 10\n    li t2, {flags}\n    or t1, t1, t2\n"
            f"    sd t1, {entry * 8}(t0)\n")


def set_raw_pte(table, entry, value):
    return f"    la t0, {page(table)}\n    li t1, {value}\n    sd t1, {entry * 8}(t0)\n"


def fill(pool_index, offset, value, width="d"):
    return f"    la t0, {page(pool_index)} + {offset}\n    li t1, {value}\n    s{width} t1, 0(t0)\n"


def kernel_map(mode=SV39):
    """Identity-map RAM with a 1 GiB kernel page and chain the tables down to L0 for TEST_VA."""
    if mode == SV39:
        return (set_pte(0, 2, 0x8000_0000, V | R | W | X | A | D)
                + set_pte(0, 1, page(1), V) + set_pte(1, 0, page(2), V))
    # Sv48: L3 (pool 0) -> L2 (pool 3) -> L1 (pool 1) -> L0 (pool 2)
    return (set_pte(0, 0, page(3), V) + set_pte(3, 2, 0x8000_0000, V | R | W | X | A | D)
            + set_pte(3, 1, page(1), V) + set_pte(1, 0, page(2), V))


def satp_on(mode=SV39):
    return (f"    la t0, {POOL}\n    srli t0, t0, 12\n    li t1, {mode} << 60\n    or t0, t0, t1\n"
            "    csrw satp, t0\n    sfence.vma\n")


def in_s(setup, s_code, mode=SV39):
    """M-mode setup, translation on, then `s_code` in S-mode."""
    return setup + satp_on(mode) + "    fence.i\n" + enter("S", "s_code") + "s_code:\n" + s_code


# ------------------------------------------------------------------ mappings of each size
@pytest.mark.parametrize("mode", [SV39, SV48], ids=["sv39", "sv48"])
def test_4k_page_load_and_store(mode):
    setup = kernel_map(mode) + set_pte(2, 0, page(8), V | R | W | A | D) + fill(8, 0, 0x1111)
    s_code = (f"    li a1, {TEST_VA}\n    ld a0, 0(a1)\n    li t0, 0x2222\n    sd t0, 8(a1)\n"
              f"    la t0, {page(8)}\n    ld a2, 8(t0)\n")
    r = harness.run(in_s(setup, s_code, mode))
    assert r.traps == []
    expect_regs(r, a0=0x1111, a2=0x2222)


@pytest.mark.parametrize("mode", [SV39, SV48], ids=["sv39", "sv48"])
def test_2m_megapage(mode):
    """L1 leaf: VA 0x4020_0000 + o -> PA 0x8000_0000 + o."""
    setup = kernel_map(mode) + set_pte(1, 1, 0x8000_0000, V | R | W | A | D) + fill(8, 16, 0x3333)
    s_code = (f"    la a1, {page(8)}\n    li t0, 0x80000000\n    sub a1, a1, t0\n"
              f"    li t0, {TEST_VA + 0x20_0000}\n    add a1, a1, t0\n    ld a0, 16(a1)\n")
    r = harness.run(in_s(setup, s_code, mode))
    assert r.traps == []
    expect_regs(r, a0=0x3333)


@pytest.mark.parametrize("mode", [SV39, SV48], ids=["sv39", "sv48"])
def test_1g_gigapage(mode):
    """A level-2 leaf (the root in Sv39, the second level in Sv48) maps VA 0xC000_0000."""
    table = 0 if mode == SV39 else 3
    setup = kernel_map(mode) + set_pte(table, 3, 0x8000_0000, V | R | A) + fill(8, 24, 0x4444)
    s_code = (f"    la a1, {page(8)}\n    li t0, 0x80000000\n    sub a1, a1, t0\n"
              "    li t0, 0xC0000000\n    add a1, a1, t0\n    ld a0, 24(a1)\n")
    r = harness.run(in_s(setup, s_code, mode))
    assert r.traps == []
    expect_regs(r, a0=0x4444)


def test_sv48_needs_the_fourth_level():
    """VA 0x80_0000_0000 (bit 39 set) is canonical in Sv48: it walks L3[1]."""
    setup = (kernel_map(SV48) + set_pte(0, 1, page(4), V) + set_pte(4, 0, page(5), V)
             + set_pte(5, 0, page(6), V) + set_pte(6, 0, page(8), V | R | A) + fill(8, 0, 0x4848))
    r = harness.run(in_s(setup, "    li a1, 0x8000000000\n    ld a0, 0(a1)\n", SV48))
    assert r.traps == []
    expect_regs(r, a0=0x4848)


@pytest.mark.parametrize("level_table,entry,target,va", [
    (1, 1, 0x8000_1000, TEST_VA + 0x20_0000),      # 2 MiB leaf, PPN[0] != 0
    (0, 3, 0x8020_0000, 0xC000_0000),              # 1 GiB leaf, PPN[1] != 0
], ids=["2m", "1g"])
def test_misaligned_superpage_faults(level_table, entry, target, va):
    setup = kernel_map() + set_pte(level_table, entry, target, V | R | W | A | D)
    r = harness.run(in_s(setup, f"    li a1, {va}\ninsn_at:\n    ld a0, 0(a1)\n"))
    assert traps_summary(r) == [(13, r.symbols["insn_at"], va)]


# ------------------------------------------------------------------ permissions
ACCESS = {
    "load": ("    li a1, {va}\ninsn_at:\n    ld a0, 8(a1)\n", 13),
    "store": ("    li a1, {va}\n    li t0, 5\ninsn_at:\n    sd t0, 8(a1)\n", 15),
    "amo": ("    li a1, {va}\n    li t0, 5\ninsn_at:\n    amoadd.d a0, t0, (a1)\n", 15),
    "fetch": ("    li a1, {va}\ninsn_at:\n    jalr a1\n", 12),
}
PERMISSION_CASES = [
    # flags, access, faults
    (V | R | A | D, "load", False), (V | R | A | D, "store", True), (V | R | A | D, "amo", True),
    (V | R | A | D, "fetch", True),
    (V | R | W | A | D, "store", False), (V | R | W | A | D, "amo", False), (V | R | W | A | D, "fetch", True),
    (V | X | A, "fetch", False), (V | X | A, "load", True),
    (V | R | X | A, "fetch", False),
    (V | W | A | D, "load", True),                 # W without R is reserved
    (V | W | X | A | D, "fetch", True),
    (R | W | X | A | D, "load", True), (R | W | X | A | D, "store", True), (R | W | X | A | D, "fetch", True),
    (V | R | W | X | U | A | D, "load", True),    # a U page from S without SUM
    (V | R | W | X | U | A | D, "fetch", True),   # S never executes U pages
]


def _flag_id(flags):
    return "".join(c for c, b in zip("VRWXUGAD", (V, R, W, X, U, G, A, D)) if flags & b) or "0"


@pytest.mark.parametrize("flags,access,faults", [
    pytest.param(f, a, x, id=f"{_flag_id(f)}-{a}") for f, a, x in PERMISSION_CASES])
def test_permissions_from_s(flags, access, faults):
    text, cause = ACCESS[access]
    setup = (kernel_map() + set_pte(2, 0, page(8), flags)
             + fill(8, 0, ADDI_A5_7, "w") + fill(8, 4, RET, "w") + fill(8, 8, 0x77))
    r = harness.run(in_s(setup, text.format(va=TEST_VA)))
    if faults:
        epc = TEST_VA if access == "fetch" else r.symbols["insn_at"]
        assert traps_summary(r) == [(cause, epc, TEST_VA + (8 if access in ("load", "store") else 0))]
    else:
        assert r.traps == []
        if access == "fetch":
            expect_regs(r, a5=7)
        if access == "load":
            expect_regs(r, a0=0x77)


def test_sum_lets_s_read_user_pages():
    setup = kernel_map() + set_pte(2, 0, page(8), V | R | W | U | A | D) + fill(8, 8, 0x99)
    s_code = f"    li t0, 1 << 18\n    csrs sstatus, t0\n    li a1, {TEST_VA}\n    ld a0, 8(a1)\n    sd a0, 16(a1)\n"
    r = harness.run(in_s(setup, s_code))
    assert r.traps == []
    expect_regs(r, a0=0x99)


def test_mxr_makes_execute_only_pages_readable():
    setup = kernel_map() + set_pte(2, 0, page(8), V | X | A) + fill(8, 8, 0x55)
    s_code = (f"    li a1, {TEST_VA}\n    li t0, 1 << 19\n    csrs sstatus, t0\n    ld a0, 8(a1)\n"
              "    csrc sstatus, t0\ninsn_at:\n    ld a2, 8(a1)\n")
    r = harness.run(in_s(setup, s_code))
    assert traps_summary(r) == [(13, r.symbols["insn_at"], TEST_VA + 8)]
    expect_regs(r, a0=0x55, a2=0)


def _user_program(target_va):
    """U code at VA TEST_VA + 0x1000 (pool 9): ld a0, 0(a1) with a1 = target; exit."""
    return (fill(9, 0, LD_A0_0_A1, "w") + fill(9, 4, LI_A7_M1, "w") + fill(9, 8, ECALL, "w")
            + set_pte(2, 1, page(9), V | R | X | U | A)
            + f"    li a1, {target_va}\n")


@pytest.mark.parametrize("target_flags,faults", [
    (V | R | W | A | D, True),              # a supervisor page from U
    (V | R | W | U | A | D, False),
], ids=["s-page", "u-page"])
def test_user_access(target_flags, faults):
    setup = (kernel_map() + set_pte(2, 0, page(8), target_flags) + fill(8, 0, 0xABC)
             + _user_program(TEST_VA))
    body = setup + satp_on() + "    fence.i\n" + enter("U", "user_entry").replace(
        "    la t0, user_entry\n", f"    li t0, {TEST_VA + 0x1000}\n")
    r = harness.run(body + "user_entry:\n")
    if faults:
        assert [(t.cause, t.epc, t.tval, t.previous_priv) for t in r.traps] == [(13, TEST_VA + 0x1000, TEST_VA, 0)]
        expect_regs(r, a0=0)
    else:
        assert r.traps == []
        expect_regs(r, a0=0xABC)


# ------------------------------------------------------------------ A and D bits
@pytest.mark.parametrize("access,expect_a,expect_d", [("load", 1, 0), ("store", 1, 1)])
def test_accessed_and_dirty_bits_are_set_by_the_walk(access, expect_a, expect_d):
    setup = kernel_map() + set_pte(2, 0, page(8), V | R | W)
    op = "ld a0, 0(a1)" if access == "load" else "sd a1, 0(a1)"
    s_code = f"    li a1, {TEST_VA}\n    {op}\n    la t0, {page(2)}\n    ld a2, 0(t0)\n"
    r = harness.run(in_s(setup, s_code))
    assert r.traps == [], "hardware A/D update expected (Svadu behaviour, as QEMU)"
    assert (r["a2"] >> 6 & 1, r["a2"] >> 7 & 1) == (expect_a, expect_d)


# ------------------------------------------------------------------ walk errors
@pytest.mark.parametrize("va", [0x40_0000_0000, 0xFFFF_FFBF_FFFF_F000, 0x8000_0000_0000_0000])
def test_non_canonical_sv39_address_faults(va):
    r = harness.run(in_s(kernel_map(), f"    li a1, {va}\ninsn_at:\n    ld a0, 0(a1)\n"))
    assert traps_summary(r) == [(13, r.symbols["insn_at"], va)]


def test_pointer_at_the_last_level_faults():
    setup = kernel_map() + set_pte(2, 0, page(8), V)        # R=W=X=0 in a level-0 PTE
    r = harness.run(in_s(setup, f"    li a1, {TEST_VA}\ninsn_at:\n    ld a0, 0(a1)\n"))
    assert traps_summary(r) == [(13, r.symbols["insn_at"], TEST_VA)]


def test_reserved_pte_bits_fault():
    """Bits 63:54 (without Svpbmt/Svnapot) must be zero in a leaf."""
    setup = kernel_map() + set_pte(2, 0, page(8), V | R | A) + f"    la t0, {page(2)}\n    ld t1, 0(t0)\n" \
        "    li t2, 1 << 60\n    or t1, t1, t2\n    sd t1, 0(t0)\n"
    r = harness.run(in_s(setup, f"    li a1, {TEST_VA}\ninsn_at:\n    ld a0, 0(a1)\n"))
    assert traps_summary(r) == [(13, r.symbols["insn_at"], TEST_VA)]


# ------------------------------------------------------------------ MPRV and sfence.vma
@pytest.mark.parametrize("mpp,faults", [(1, False), (0, True)], ids=["mpp-s", "mpp-u"])
def test_mprv_translates_m_mode_loads(mpp, faults):
    setup = kernel_map() + set_pte(2, 0, page(8), V | R | W | A | D) + fill(8, 0, 0x6666) + satp_on()
    body = (setup + f"    li t0, 0x1800\n    csrc mstatus, t0\n    li t0, {mpp << 11}\n    csrs mstatus, t0\n"
            f"    li t0, 1 << 17\n    li a1, {TEST_VA}\n    csrs mstatus, t0\ninsn_at:\n    ld a0, 0(a1)\n"
            "    csrc mstatus, t0\n    csrw satp, zero\n")
    r = harness.run(body)
    if faults:
        assert [(t.cause, t.epc, t.tval, t.mode) for t in r.traps] == [(13, r.symbols["insn_at"], TEST_VA, 3)]
    else:
        assert r.traps == []
        expect_regs(r, a0=0x6666)


def test_mprv_does_not_affect_fetch():
    setup = kernel_map() + satp_on()
    body = setup + "    li t0, 0x1800\n    csrc mstatus, t0\n    li t0, 1 << 17\n    csrs mstatus, t0\n" \
        "    li a0, 1\n    csrc mstatus, t0\n    csrw satp, zero\n"
    r = harness.run(body)
    assert r.traps == []
    expect_regs(r, a0=1)


@pytest.mark.parametrize("fence", ["sfence.vma", "sfence.vma a1", "sfence.vma a1, zero", "sfence.vma zero, zero"])
def test_sfence_vma_makes_a_remap_visible(fence):
    setup = (kernel_map() + set_pte(2, 0, page(8), V | R | W | A | D) + fill(8, 0, 0x1000)
             + fill(10, 0, 0x2000))
    s_code = (f"    li a1, {TEST_VA}\n    ld a0, 0(a1)\n"
              + set_pte(2, 0, page(10), V | R | W | A | D) + f"    {fence}\n    ld a2, 0(a1)\n")
    r = harness.run(in_s(setup, s_code))
    assert r.traps == []
    expect_regs(r, a0=0x1000, a2=0x2000)


def test_unmapping_then_sfence_faults():
    setup = kernel_map() + set_pte(2, 0, page(8), V | R | W | A | D)
    s_code = (f"    li a1, {TEST_VA}\n    ld a0, 0(a1)\n    la t0, {page(2)}\n    sd zero, 0(t0)\n"
              "    sfence.vma a1\ninsn_at:\n    ld a2, 0(a1)\n")
    r = harness.run(in_s(setup, s_code))
    assert traps_summary(r) == [(13, r.symbols["insn_at"], TEST_VA)]


def test_page_fault_delegated_to_s():
    setup = kernel_map() + f"    li t0, {1 << 13}\n    csrw medeleg, t0\n"
    r = harness.run(in_s(setup, f"    li a1, {TEST_VA}\ninsn_at:\n    ld a0, 0(a1)\n"))
    assert [(t.cause, t.epc, t.tval, t.mode) for t in r.traps] == [(13, r.symbols["insn_at"], TEST_VA, 1)]

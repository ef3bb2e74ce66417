"""Corners where emulators go wrong: interrupt priority and masking by privilege,
accesses and fetches straddling a page boundary, ASID-tagged translations,
A/D updates through superpages and AMOs, more reserved RVC encodings."""

import pytest

from . import harness
from .cases import enter, expect_regs, traps_summary
from .test_paging import (A, D, R, RET, TEST_VA, V, W, X, ADDI_A5_7, fill, in_s, kernel_map, page,
                          set_pte)
from .test_traps import ARM_TIMER, CLINT_MSIP, DISARM_TIMER, IRQ, MIP_MSIP, MIP_MTIP, MIP_SSIP, MSTATUS_MIE, MSTATUS_SIE


def test_interrupt_priority_msi_before_mti():
    """Both pending when MIE turns on: MSI (3) is taken before MTI (7)."""
    body = (ARM_TIMER + f"    li t0, {MIP_MTIP | MIP_MSIP}\n    csrs mie, t0\n"
            f"    li t0, {CLINT_MSIP}\n    li t1, 1\n    sw t1, 0(t0)\n"
            f"1:  csrr t0, mip\n    andi t0, t0, {MIP_MTIP}\n    beqz t0, 1b\n"
            f"    csrsi mstatus, {MSTATUS_MIE}\ntaken_here:\n    csrci mstatus, {MSTATUS_MIE}\n"
            f"    li t0, {CLINT_MSIP}\n    sw zero, 0(t0)\n" + DISARM_TIMER)
    r = harness.run(body)
    assert [t.cause for t in r.traps] == [IRQ | 3, IRQ | 7]
    assert all(t.epc == r.symbols["taken_here"] for t in r.traps)


def test_delegated_interrupt_is_masked_in_m_mode():
    """A pending, enabled SSI delegated to S never interrupts M; it is taken on entry to S."""
    body = (f"    li t0, {MIP_SSIP}\n    csrw mideleg, t0\n    csrs mie, t0\n    csrs mip, t0\n"
            f"    csrsi mstatus, {MSTATUS_MIE | MSTATUS_SIE}\n    li a0, 1\n    li a1, 2\n"
            f"    csrci mstatus, {MSTATUS_MIE}\n"
            + enter("S", "in_s") + f"in_s:\ntaken_here:\n    csrci sip, {MIP_SSIP}\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert [(t.cause, t.epc, t.mode) for t in r.traps] == [(IRQ | 1, r.symbols["taken_here"], 1)]
    expect_regs(r, a0=1, a1=2)


def test_s_interrupt_not_delegated_goes_to_m_even_from_s():
    """SSI pending and enabled in mie, not delegated: an M-level interrupt, taken as soon as
    the hart is in S (M interrupts are always enabled below M)."""
    body = (f"    li t0, {MIP_SSIP}\n    csrs mie, t0\n    csrs mip, t0\n" + enter("S", "in_s")
            + "in_s:\ntaken_here:\n    li a7, -1\n    ecall\n")
    r = harness.run(body + f"    csrci mip, {MIP_SSIP}\n")
    assert [(t.cause, t.epc, t.mode, t.previous_priv) for t in r.traps] == [
        (IRQ | 1, r.symbols["taken_here"], 3, 1)]


def test_s_mode_interrupt_needs_sie_in_s_mode():
    """In S-mode a delegated interrupt waits for sstatus.SIE."""
    body = (f"    li t0, {MIP_SSIP}\n    csrw mideleg, t0\n" + enter("S", "in_s")
            + f"in_s:\n    csrsi sie, {MIP_SSIP}\n    csrsi sip, {MIP_SSIP}\n    li a0, 1\n    li a1, 2\n"
            f"    csrsi sstatus, {MSTATUS_SIE}\ntaken_here:\n    csrci sstatus, {MSTATUS_SIE}\n"
            f"    csrci sip, {MIP_SSIP}\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert [(t.cause, t.epc) for t in r.traps] == [(IRQ | 1, r.symbols["taken_here"])]


# ------------------------------------------------------------------ page-crossing accesses
def _two_pages(second_flags):
    return (kernel_map() + set_pte(2, 0, page(8), V | R | W | X | A | D) + set_pte(2, 1, page(9), second_flags)
            + fill(8, 4088, 0x1122_3344_5566_7788) + fill(9, 0, 0x99AA_BBCC_DDEE_FF00))


def test_load_straddling_two_mapped_pages():
    r = harness.run(in_s(_two_pages(V | R | A), f"    li a1, {TEST_VA + 4092}\n    ld a0, 0(a1)\n"))
    assert r.traps == []
    expect_regs(r, a0=0xDDEE_FF00_1122_3344)


def test_load_straddling_into_an_unmapped_page_faults():
    r = harness.run(in_s(_two_pages(0), f"    li a1, {TEST_VA + 4092}\ninsn_at:\n    ld a0, 0(a1)\n"))
    (t,) = r.traps
    assert (t.cause, t.epc) == (13, r.symbols["insn_at"])
    assert t.tval in (TEST_VA + 4092, TEST_VA + 4096), "tval: the access or the faulting portion"


def test_store_straddling_into_a_read_only_page_faults_and_writes_nothing():
    s_code = (f"    li a1, {TEST_VA + 4092}\n    li t0, -1\ninsn_at:\n    sd t0, 0(a1)\n"
              f"    la t0, {page(8)} + 4088\n    ld a2, 0(t0)\n")
    r = harness.run(in_s(_two_pages(V | R | A), s_code))
    (t,) = r.traps
    assert (t.cause, t.epc) == (15, r.symbols["insn_at"])
    expect_regs(r, a2=0x1122_3344_5566_7788)


@pytest.mark.parametrize("second_mapped", [True, False], ids=["mapped", "unmapped"])
def test_fetch_of_an_instruction_straddling_two_pages(second_mapped):
    """A 32-bit instruction in the last 2 bytes of a page: its upper half comes from the next page.
    Unmapped: instruction page fault, epc = the instruction, tval = the start of the next page."""
    lo, hi = ADDI_A5_7 & 0xFFFF, ADDI_A5_7 >> 16
    setup = (kernel_map() + set_pte(2, 0, page(8), V | R | X | A)
             + set_pte(2, 1, page(9), (V | R | X | A) if second_mapped else 0)
             + fill(8, 4094, lo, "h") + fill(9, 0, hi, "h") + fill(9, 2, RET, "w"))
    r = harness.run(in_s(setup, f"    li a1, {TEST_VA + 4094}\n    jalr a1\n"))
    if second_mapped:
        assert r.traps == []
        expect_regs(r, a5=7)
    else:
        (t,) = r.traps
        assert (t.cause, t.epc, t.tval) == (12, TEST_VA + 4094, TEST_VA + 4096)
        expect_regs(r, a5=0)


# ------------------------------------------------------------------ ASIDs and A/D
def test_asid_switch_sees_the_other_address_space():
    """Two roots map TEST_VA to different pages under ASIDs 1 and 2; switching satp
    (no sfence) must not reuse ASID 1's translation."""
    second_root = (set_pte(4, 2, 0x8000_0000, V | R | W | X | A | D) + set_pte(4, 1, page(5), V)
                   + set_pte(5, 0, page(6), V) + set_pte(6, 0, page(10), V | R | A))
    setup = (kernel_map() + set_pte(2, 0, page(8), V | R | A) + second_root
             + fill(8, 0, 0xAAAA) + fill(10, 0, 0xBBBB))
    s_code = (f"    li a1, {TEST_VA}\n    ld a0, 0(a1)\n"
              f"    la t0, {page(4)}\n    srli t0, t0, 12\n    li t1, (8 << 60) | (2 << 44)\n    or t0, t0, t1\n"
              "    csrw satp, t0\n    ld a2, 0(a1)\n")
    setup_asid1 = setup + f"    la t0, {page(0)}\n    srli t0, t0, 12\n    li t1, (8 << 60) | (1 << 44)\n" \
        "    or t0, t0, t1\n    csrw satp, t0\n    sfence.vma\n"
    body = setup_asid1 + enter("S", "s_code") + "s_code:\n" + s_code
    r = harness.run(body)
    assert r.traps == []
    expect_regs(r, a0=0xAAAA, a2=0xBBBB)


def test_dirty_bit_set_by_an_amo_and_through_a_megapage():
    setup = kernel_map() + set_pte(1, 1, 0x8000_0000, V | R | W)
    s_code = (f"    la a1, {page(8)}\n    li t0, 0x80000000\n    sub a1, a1, t0\n"
              f"    li t0, {TEST_VA + 0x20_0000}\n    add a1, a1, t0\n    li t0, 1\n    amoadd.d a0, t0, (a1)\n"
              f"    la t0, {page(1)}\n    ld a2, 8(t0)\n")
    r = harness.run(in_s(setup, s_code))
    assert r.traps == []
    assert r["a2"] & (A | D) == A | D


@pytest.mark.parametrize("halfword", [
    pytest.param(0x2001, id="c.addiw-rd0"),        # 001 imm 00000 imm 01, rd = 0: reserved
    pytest.param(0x4002, id="c.lwsp-rd0"),
    pytest.param(0x6002, id="c.ldsp-rd0"),
    pytest.param(0x9C41 | (2 << 5), id="c.reserved-ca"),   # 100 1 11 rs1' 10 rs2' 01: reserved in RV64
])
def test_more_reserved_compressed_encodings(halfword):
    r = harness.run(f"c_start:\n    .hword {halfword:#x}\n    li a0, 3\n")
    assert traps_summary(r) == [(2, r.symbols["c_start"], halfword)]
    expect_regs(r, a0=3)

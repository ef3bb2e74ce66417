"""The hart on the virt board: CLINT register widths, WFI woken by each timer, fetches
from device space, code patched through a second mapping, and PMP basics."""

import pytest

from . import harness
from .cases import enter, expect_regs, traps_summary
from .test_paging import A, D, R, RET, TEST_VA, V, W, X, ADDI_A5_7, fill, in_s, kernel_map, page, set_pte
from .test_traps import CLINT_MSIP, CLINT_MTIME, CLINT_MTIMECMP, MIP_MTIP, MIP_STIP

def test_clint_mtimecmp_in_32_bit_halves():
    body = (f"    li t0, {CLINT_MTIMECMP}\n    li t1, 0x89abcdef\n    sw t1, 0(t0)\n"
            "    li t1, 0x01234567\n    sw t1, 4(t0)\n    ld a0, 0(t0)\n    lwu a1, 4(t0)\n"
            "    li t1, -1\n    sd t1, 0(t0)\n")
    r = harness.run(body)
    assert r.traps == []
    expect_regs(r, a0=0x0123_4567_89AB_CDEF, a1=0x0123_4567)


def test_clint_mtime_advances_and_reads_in_halves():
    body = (f"    li t0, {CLINT_MTIME}\n    ld a0, 0(t0)\n    li t1, 3000\n1:  addi t1, t1, -1\n    bnez t1, 1b\n"
            "    lwu a1, 0(t0)\n    lwu a2, 4(t0)\n    slli a2, a2, 32\n    or a1, a1, a2\n")
    r = harness.run(body)
    assert r.traps == [] and r["a1"] > r["a0"]


def test_clint_msip_reads_back():
    body = (f"    li t0, {CLINT_MSIP}\n    li t1, 1\n    sw t1, 0(t0)\n    lw a0, 0(t0)\n    csrr a1, mip\n"
            "    sw zero, 0(t0)\n    lw a2, 0(t0)\n    csrr a3, mip\n")
    r = harness.run(body)
    expect_regs(r, a0=1, a2=0)
    assert r["a1"] & 8 and not r["a3"] & 8


def test_wfi_in_m_mode_wakes_for_mtimecmp():
    body = (f"    li t0, {CLINT_MTIME}\n    ld t1, 0(t0)\n    li t2, 100000\n    add t1, t1, t2\n"
            f"    li t0, {CLINT_MTIMECMP}\n    sd t1, 0(t0)\n    li t0, {MIP_MTIP}\n    csrs mie, t0\n"
            "    wfi\n    csrr a0, mip\n    csrw mie, zero\n"
            f"    li t0, {CLINT_MTIMECMP}\n    li t1, -1\n    sd t1, 0(t0)\n")
    r = harness.run(body)
    assert r.traps == [] and r["a0"] & MIP_MTIP


def test_wfi_in_s_mode_wakes_for_stimecmp():
    """Only the Sstc timer is armed: WFI must wait for it, not declare the hart idle forever."""
    body = ("    li t0, 1 << 63\n    csrs 0x30a, t0\n    li t0, 2\n    csrs mcounteren, t0\n"
            f"    li t0, {MIP_STIP}\n    csrw mideleg, t0\n" + enter("S", "in_s")
            + f"in_s:\n    li t0, {MIP_STIP}\n    csrs sie, t0\n    rdtime t1\n    li t2, 100000\n"
            "    add t1, t1, t2\n    csrw 0x14d, t1\n    wfi\n    csrr a0, sip\n    rdtime a1\n    sub a1, a1, t1\n"
            "    li t0, -1\n    csrw 0x14d, t0\n    csrw sie, zero\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert r.traps == []
    assert r["a0"] & MIP_STIP, "woke without the timer pending"
    assert r["a1"] < 1 << 63, "time must have reached stimecmp"


@pytest.mark.parametrize("address", [
    pytest.param(0x0200_0000, id="clint"), pytest.param(0x0C00_0000, id="plic"),
    pytest.param(0x1000_0000, id="uart", marks=pytest.mark.qemu_differs("it executes from the UART's registers")),
    pytest.param(0x0010_0000, id="finisher", marks=pytest.mark.qemu_differs("it executes from the finisher")),
])
def test_fetch_from_device_space_is_an_access_fault(address):
    """Device registers are not executable: instruction access fault, tval = the address."""
    r = harness.run(f"    li a0, {address}\n    jalr a0\n    li a1, 1\n")
    assert traps_summary(r) == [(1, address, address)]
    expect_regs(r, a1=1)


def test_code_patched_through_a_writable_alias():
    """The page is executed at TEST_VA (R-X) and written at TEST_VA + 0x1000 (RW-):
    after fence.i the new instruction runs (the decode cache must follow the physical page)."""
    setup = (kernel_map() + set_pte(2, 0, page(8), V | R | X | A) + set_pte(2, 1, page(8), V | R | W | A | D)
             + fill(8, 0, ADDI_A5_7, "w") + fill(8, 4, RET, "w"))
    s_code = (f"    li a1, {TEST_VA}\n    jalr a1\n    mv s2, a5\n"
              f"    li a2, {TEST_VA + 0x1000}\n    li t0, {(ADDI_A5_7 & 0xFFFFF) | 35 << 20}\n"
              "    sw t0, 0(a2)\n    fence.i\n    jalr a1\n    mv s3, a5\n")
    r = harness.run(in_s(setup, s_code))
    assert r.traps == []
    expect_regs(r, s2=7, s3=35)


# ------------------------------------------------------------------ PMP
def _pmp(entries):
    """entries: [(pmpaddr value, cfg byte)] for pmp0.. ; written from M-mode."""
    code, cfg = "", 0
    for i, (addr, c) in enumerate(entries):
        code += f"    li t0, {addr}\n    csrw pmpaddr{i}, t0\n"
        cfg |= c << (8 * i)
    return code + f"    li t0, {cfg}\n    csrw pmpcfg0, t0\n"


PMP_R, PMP_W, PMP_X, PMP_TOR, PMP_NAPOT, PMP_L = 1, 2, 4, 8, 0x18, 0x80


def test_pmp_denies_s_mode_outside_the_allowed_region():
    """Entry 0: TOR up to __data (RWX); entry 1: __data page NAPOT read-only; nothing else."""
    setup = ("    la t0, __data\n    srli t0, t0, 2\n    csrw pmpaddr0, t0\n"
             "    la t0, __data\n    srli t0, t0, 2\n    ori t0, t0, (4096 >> 3) - 1\n    csrw pmpaddr1, t0\n"
             f"    li t0, {(PMP_R | PMP_W | PMP_X | PMP_TOR) | (PMP_R | PMP_NAPOT) << 8}\n    csrw pmpcfg0, t0\n")
    body = (setup + enter("S", "in_s")
            + "in_s:\n    la a1, __data\n    ld a0, 0(a1)\nstore_at:\n    sd a0, 0(a1)\n"
            "    la a2, __page_pool\nload_at:\n    ld a3, 0(a2)\n    li a7, -1\n    ecall\n")
    # the harness's handlers run in M-mode, which no entry locks: they keep working
    r = harness.run(body)
    assert traps_summary(r) == [(7, r.symbols["store_at"], r.symbols["__data"]),
                                (5, r.symbols["load_at"], r.symbols["__page_pool"])]


def test_locked_pmp_entry_applies_to_m_mode():
    setup = ("    la t0, __data\n    srli t0, t0, 2\n    ori t0, t0, (4096 >> 3) - 1\n    csrw pmpaddr0, t0\n"
             "    li t0, -1\n    csrw pmpaddr1, t0\n"
             f"    li t0, {(PMP_R | PMP_NAPOT | PMP_L) | (PMP_R | PMP_W | PMP_X | PMP_NAPOT) << 8}\n"
             "    csrw pmpcfg0, t0\n")
    body = setup + "    la a1, __data\n    ld a0, 0(a1)\nstore_at:\n    sd a0, 0(a1)\n    csrr a2, pmpcfg0\n" \
        "    li t0, 0x1f\n    csrw pmpcfg0, t0\n    csrr a3, pmpcfg0\n"
    r = harness.run(body)
    assert traps_summary(r) == [(7, r.symbols["store_at"], r.symbols["__data"])]
    assert r["a3"] & 0xFF == r["a2"] & 0xFF, "a locked entry ignores writes to its configuration"

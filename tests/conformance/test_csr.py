"""Zicsr: read/modify/write semantics, the rd=x0 and rs1=x0 rules, read-only and
privileged CSRs, WARL fields and the counters."""

import pytest

from . import harness, spec
from .cases import csr_encoding, enter, expect_no_traps, expect_regs, li, traps_summary

SSCRATCH = 0x140
OLD = 0xA5A5_0000_FFFF_5A5A
NEW = 0x0F0F_1234_F0F0_0001


@pytest.mark.parametrize("op,operand,expected", [
    ("csrrw", NEW, NEW),
    ("csrrs", NEW, OLD | NEW),
    ("csrrc", NEW, OLD & ~NEW & spec.MASK64),
])
def test_csr_register_forms(op, operand, expected):
    body = li("a0", OLD) + "    csrw sscratch, a0\n" + li("a1", operand) + \
        f"    {op} a2, sscratch, a1\n    csrr a3, sscratch\n"
    r = harness.run(body)
    expect_no_traps(r)
    expect_regs(r, a2=OLD, a3=expected, a1=operand)


@pytest.mark.parametrize("op,uimm,expected", [
    ("csrrwi", 0, 0), ("csrrwi", 31, 31), ("csrrwi", 17, 17),
    ("csrrsi", 31, OLD | 31), ("csrrsi", 0, OLD),
    ("csrrci", 31, OLD & ~31), ("csrrci", 0, OLD),
])
def test_csr_immediate_forms(op, uimm, expected):
    body = li("a0", OLD) + "    csrw sscratch, a0\n" + f"    {op} a2, sscratch, {uimm}\n    csrr a3, sscratch\n"
    r = harness.run(body)
    expect_no_traps(r)
    expect_regs(r, a2=OLD, a3=expected)


def test_csr_same_register_source_and_destination():
    body = li("a0", OLD) + "    csrw sscratch, a0\n" + li("a1", NEW) + "    csrrw a1, sscratch, a1\n    csrr a3, sscratch\n"
    r = harness.run(body)
    expect_regs(r, a1=OLD, a3=NEW)


def test_csrrw_rd_x0_still_writes():
    r = harness.run(li("a1", NEW) + "    csrrw zero, sscratch, a1\n    csrr a3, sscratch\n")
    expect_regs(r, a3=NEW, zero=0)


# Read-only CSRs: reading is fine; an instruction that would write (even an unchanged
# value, even zero) raises illegal instruction with mtval = the instruction.
@pytest.mark.parametrize("text,op,rd,csr,src,traps", [
    ("csrrs a0, mhartid, zero", "csrrs", 10, 0xF14, 0, False),
    ("csrrc a0, mhartid, zero", "csrrc", 10, 0xF14, 0, False),
    ("csrrsi a0, mvendorid, 0", "csrrsi", 10, 0xF11, 0, False),
    ("csrrci a0, cycle, 0", "csrrci", 10, 0xC00, 0, False),
    pytest.param("csrrs a0, mhartid, a1", "csrrs", 10, 0xF14, 11, True,    # a1 = 0: still a write
                 marks=pytest.mark.qemu_differs("csrrs/csrrc with rs1 != x0 holding 0 do not trap")),
    pytest.param("csrrc a0, mimpid, a1", "csrrc", 10, 0xF13, 11, True,
                 marks=pytest.mark.qemu_differs("csrrs/csrrc with rs1 != x0 holding 0 do not trap")),
    ("csrrsi a0, mhartid, 1", "csrrsi", 10, 0xF14, 1, True),
    ("csrrw zero, mhartid, a1", "csrrw", 0, 0xF14, 11, True),
    ("csrrwi a0, cycle, 0", "csrrwi", 10, 0xC00, 0, True),
    ("csrrw a0, instret, zero", "csrrw", 10, 0xC02, 0, True),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_read_only_csr_write_rules(text, op, rd, csr, src, traps):
    r = harness.run(f"    li a0, 77\ninsn_at:\n    {text}\n")
    if traps:
        word = csr_encoding(op, rd, csr, src)
        assert traps_summary(r) == [(2, r.symbols["insn_at"], word)]
        expect_regs(r, a0=77)        # rd is not written by a trapping instruction
    else:
        expect_no_traps(r)


def test_unimplemented_csr_is_illegal():
    r = harness.run("insn_at:\n    csrr a0, 0x0ff\n")
    assert traps_summary(r) == [(2, r.symbols["insn_at"], csr_encoding("csrrs", 10, 0x0FF, 0))]


def test_machine_identity_csrs():
    r = harness.run("    csrr a0, misa\n    csrr a1, mhartid\n    csrr a2, mvendorid\n")
    expect_no_traps(r)
    misa = r["a0"]
    assert misa >> 62 == 2, "misa.MXL must say XLEN = 64"
    for letter in "IMACSU":
        assert misa >> (ord(letter) - ord("A")) & 1, f"misa lacks {letter}"
    expect_regs(r, a1=0)


@pytest.mark.parametrize("mode,csr", [("S", "mstatus"), ("S", "mscratch"), ("S", "medeleg"),
                                      ("U", "sstatus"), ("U", "sscratch"), ("U", "satp")])
def test_csr_privilege(mode, csr):
    body = enter(mode, "lower") + f"lower:\ninsn_at:\n    csrr a0, {csr}\n    li a1, 1\n"
    r = harness.run(body)
    assert [(t.cause, t.epc, t.previous_priv) for t in r.traps] == [(2, r.symbols["insn_at"], {"U": 0, "S": 1}[mode])]
    expect_regs(r, a1=1)


def test_sstatus_is_a_view_of_mstatus():
    body = ("    csrr a3, sstatus\n    li t0, -1\n    csrw sstatus, t0\n    csrr a0, mstatus\n    csrr a1, sstatus\n"
            "    li t0, 0x2 | 0x40000 | 0x80000\n    csrc sstatus, t0\n    csrr a2, mstatus\n")
    r = harness.run(body)
    expect_no_traps(r)
    mstatus, sstatus = r["a0"], r["a1"]
    for bit, name in ((1, "SIE"), (5, "SPIE"), (8, "SPP"), (18, "SUM"), (19, "MXR")):
        assert mstatus >> bit & 1, f"sstatus write did not set mstatus.{name}"
        assert sstatus >> bit & 1
    assert not mstatus >> 3 & 1 and not sstatus >> 3 & 1, "sstatus must not reach MIE"
    assert not sstatus >> 11 & 3, "MPP is not visible in sstatus"
    assert r["a3"] >> 32 & 3 == 2, "sstatus.UXL must say 64"
    assert not r["a2"] & (0x2 | 0x40000 | 0x80000)


def test_sie_is_masked_by_mideleg():
    body = ("    li t0, 0x222\n    csrw mideleg, t0\n    csrw mie, zero\n    li t0, -1\n    csrw sie, t0\n"
            "    csrr a0, mie\n    csrr a1, sie\n    csrw mie, zero\n    csrw mideleg, zero\n")
    r = harness.run(body)
    expect_no_traps(r)
    assert r["a0"] & 0xAAA == 0x222, f"mie = {r['a0']:#x}"
    assert r["a1"] & 0xAAA == 0x222


@pytest.mark.qemu_differs("medeleg[11] is writable")
def test_medeleg_ecall_from_m_is_read_only_zero():
    r = harness.run("    li t0, -1\n    csrw medeleg, t0\n    csrr a0, medeleg\n    csrw medeleg, zero\n")
    assert not r["a0"] >> 11 & 1
    assert r["a0"] >> 8 & 1, "ecall from U must be delegatable"


@pytest.mark.qemu_differs("mepc/sepc read back bit 0 as written")
def test_mepc_bit0_is_cleared():
    r = harness.run("    li t0, 0x80001235\n    csrw mepc, t0\n    csrr a0, mepc\n"
                    "    csrw sepc, t0\n    csrr a1, sepc\n")
    expect_regs(r, a0=0x8000_1234, a1=0x8000_1234)


def test_satp_write_with_unsupported_mode_has_no_effect():
    r = harness.run("    li t0, (5 << 60) | 123\n    csrw satp, t0\n    csrr a0, satp\n"
                    "    li t0, (8 << 60) | (7 << 44) | 0x80123\n    csrw satp, t0\n    csrr a1, satp\n"
                    "    csrw satp, zero\n")
    expect_regs(r, a0=0)
    assert r["a1"] >> 60 == 8 and r["a1"] & 0xFFF_FFFF_FFFF == 0x80123


def test_instret_counts_retired_instructions():
    r = harness.run("    csrr a0, instret\n" + "    addi a2, a2, 1\n" * 10 + "    csrr a1, instret\n")
    expect_regs(r, a2=10)
    assert r["a1"] - r["a0"] == 11


def test_minstret_and_mcycle_are_writable():
    r = harness.run("    li t0, 1000\n    csrw minstret, t0\n    csrr a0, minstret\n"
                    "    csrw mcycle, t0\n    csrr a1, mcycle\n")
    assert 1000 <= r["a0"] < 1010
    assert 1000 <= r["a1"] < 1_000_000


def test_time_follows_the_clint():
    body = ("    rdtime a0\n    li t0, 0x200bff8\n    ld a1, 0(t0)\n"
            "    li t1, 2000\n1:  addi t1, t1, -1\n    bnez t1, 1b\n    rdtime a2\n")
    r = harness.run(body)
    expect_no_traps(r)
    assert r["a0"] <= r["a1"] < r["a2"], (r["a0"], r["a1"], r["a2"])


@pytest.mark.parametrize("counter", ["cycle", "time", "instret"])
def test_counters_from_u_need_mcounteren_and_scounteren(counter):
    body = ("    csrw mcounteren, zero\n    csrw scounteren, zero\n" + enter("U", "u1")
            + f"u1:\nfirst:\n    csrr a0, {counter}\n"
            "    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert [(t.cause, t.epc) for t in r.traps] == [(2, r.symbols["first"])]
    body = ("    li t0, 7\n    csrw mcounteren, t0\n    csrw scounteren, t0\n" + enter("U", "u1")
            + f"u1:\n    csrr a0, {counter}\n    li a7, -1\n    ecall\n")
    expect_no_traps(harness.run(body))


@pytest.mark.parametrize("mcounteren,scounteren,s_ok,u_ok", [
    (7, 0, True, False), (0, 7, False, False), (1, 1, True, True)])
def test_cycle_counter_gating_by_mode(mcounteren, scounteren, s_ok, u_ok):
    """S needs mcounteren.CY; U needs both mcounteren.CY and scounteren.CY."""
    body = (f"    li t0, {mcounteren}\n    csrw mcounteren, t0\n    li t0, {scounteren}\n    csrw scounteren, t0\n"
            + enter("S", "in_s") + "in_s:\ns_read:\n    csrr a0, cycle\n"
            "    la t0, in_u\n    csrw sepc, t0\n    li t0, 1 << 8\n    csrc sstatus, t0\n    sret\n"
            "in_u:\nu_read:\n    csrr a1, cycle\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    expected = ([] if s_ok else [(2, r.symbols["s_read"])]) + ([] if u_ok else [(2, r.symbols["u_read"])])
    assert [(t.cause, t.epc) for t in r.traps] == expected


@pytest.mark.qemu_differs("mstatus.MPP keeps the reserved value 2")
def test_mpp_is_warl():
    """MPP = 2 is not a privilege mode (H-mode does not exist): it reads back legal."""
    r = harness.run("    li t0, 0x1800\n    csrc mstatus, t0\n    li t0, 0x1000\n    csrs mstatus, t0\n"
                    "    csrr a0, mstatus\n")
    assert r["a0"] >> 11 & 3 != 2


@pytest.mark.parametrize("mode,insn", [("U", "sfence.vma"), ("U", "csrr a0, stimecmp"), ("S", "csrr a0, mip")])
def test_privileged_instructions_from_lower_modes(mode, insn):
    body = enter(mode, "go") + f"go:\ninsn_at:\n    {insn.replace('stimecmp', '0x14d')}\n    li a7, -1\n    ecall\n"
    r = harness.run(body)
    assert [(t.cause, t.epc) for t in r.traps] == [(2, r.symbols["insn_at"])]

"""CSR access rules and WARL behaviour; PMP rules as QEMU 7.2 enforces them."""

import pytest

from .helpers import core_mod, load, open_pmp, reg, run_to_ebreak, RAM_BASE

MTVEC, MEPC, MCAUSE, MTVAL, MSTATUS, MISA = 0x305, 0x341, 0x342, 0x343, 0x300, 0x301
PMPCFG0, PMPADDR0 = 0x3A0, 0x3B0

TRAP = """
    la t0, handler
    csrw mtvec, t0
{body}
    ebreak
.balign 4
handler:
    csrr s2, mcause
    csrr s3, mepc
    csrr s4, mtval
    ebreak
"""


def run_m(body):
    core, prog = load(TRAP.format(body=body))
    run_to_ebreak(core)
    return core, prog


def enter(mode, label):
    mpp = {"U": 0, "S": 1}[mode]
    return (f"    li t0, {3 << 11}\n    csrc mstatus, t0\n    li t0, {mpp << 11}\n    csrs mstatus, t0\n"
            f"    la t0, {label}\n    csrw mepc, t0\n    mret\n")


def test_misa_reports_rv64imafdchsu_and_ignores_writes():
    core, _ = run_m("csrr a0, misa\n csrw misa, zero\n csrr a1, misa\n")
    expected = (2 << 62) | sum(1 << (ord(c) - ord("A")) for c in "IMAFDCHSU")
    assert reg(core, "a0") == expected == reg(core, "a1")


def test_mstatus_warl_fields():
    core, _ = run_m("li t0, -1\n csrw mstatus, t0\n csrr a0, mstatus\n")
    status = reg(core, "a0")
    assert status >> 32 & 0xF == 0xA                  # UXL = SXL = 64-bit, read-only
    assert status >> 13 & 3 == 3 and status >> 63 == 1   # FS writable (Dirty), SD follows it
    assert status & (1 << 17 | 1 << 18 | 1 << 19 | 1 << 20 | 1 << 21 | 1 << 22) == 0x3F << 17


def test_unknown_and_unprivileged_csrs_are_illegal():
    core, prog = run_m("at: csrr a0, 0x7c0\n")
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (2, prog["at"], 0x7C002573)
    core, prog = load(TRAP.format(body=enter("S", "sup") + "sup:\nat: csrr a0, mstatus\n"))
    open_pmp(core)
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3")) == (2, prog["at"])


def test_writing_a_read_only_csr_is_illegal_but_reading_is_not():
    core, prog = run_m("csrr a0, mhartid\n csrs mhartid, zero\nat: csrw mhartid, zero\n")
    assert (reg(core, "s2"), reg(core, "s3")) == (2, prog["at"])


@pytest.mark.parametrize("mcounteren,scounteren,mode,legal", [
    (0, 0, "S", False), (1, 0, "S", True), (1, 0, "U", False), (1, 1, "U", True), (0, 1, "U", False)])
def test_cycle_needs_counteren(mcounteren, scounteren, mode, legal):
    body = (f"li t0, {mcounteren}\n csrw mcounteren, t0\n li t0, {scounteren}\n csrw scounteren, t0\n"
            + enter(mode, "go") + "go:\nat: csrr a0, cycle\n")
    core, prog = run_m(body)
    assert (reg(core, "s2") == 2) != legal


def test_minstret_counts_retired_instructions_and_is_writable():
    core, _ = run_m("csrr a0, minstret\n nop\n nop\n csrr a1, minstret\n li t0, 1000\n csrw minstret, t0\n"
                    " csrr a2, minstret\n csrr a3, instret\n")
    assert reg(core, "a1") - reg(core, "a0") == 3
    assert reg(core, "a2") == 1000 and reg(core, "a3") == 1001


def test_hpm_counters_hold_what_is_written_and_events_keep_their_value():
    # QEMU 7.2's 16 counters: an event that is not cycles/instructions counts nothing
    core, _ = run_m("li t0, 5\n csrw mhpmcounter3, t0\n csrw mhpmevent3, t0\n nop\n nop\n"
                    " csrr a0, mhpmcounter3\n csrw mhpmevent31, t0\n csrr a1, mhpmevent31\n"
                    " csrr a2, hpmcounter4\n csrr a3, hpmcounter3\n")
    assert (reg(core, "a0"), reg(core, "a1"), reg(core, "a2"), reg(core, "a3")) == (5, 5, 0, 5)


def test_xepc_clears_bit_0_and_xtvec_rejects_reserved_modes():
    core, _ = run_m("li t0, 0x80000007\n csrw mepc, t0\n csrr a0, mepc\n"
                    "csrr a1, mtvec\n li t0, 0x80000102\n csrw mtvec, t0\n csrr a2, mtvec\n")
    assert reg(core, "a0") == 0x8000_0006
    assert reg(core, "a2") == reg(core, "a1")


def test_sie_and_sip_see_only_delegated_bits():
    core, _ = run_m("li t0, -1\n csrw mie, t0\n csrr a0, sie\n li t0, 0x22\n csrw mideleg, t0\n"
                    " csrr a1, sie\n csrr a2, mideleg\n li t0, 2\n csrs mip, t0\n csrr a3, sip\n")
    # with H, mideleg's VS and SGEI bits are read-only one; sie/sip still show only S bits
    assert (reg(core, "a0"), reg(core, "a1"), reg(core, "a2"), reg(core, "a3")) == (0, 0x22, 0x1466, 2)


def test_debugger_csr_access():
    core, _ = load("ebreak\n")
    core.write_csr(0x340, 0x1234)                       # mscratch
    assert core.read_csr(0x340) == 0x1234
    with pytest.raises(ValueError):
        core.write_csr(0xF14, 1)                         # mhartid is read-only
    with pytest.raises(ValueError):
        core.read_csr(0x7C0)


# ----------------------------------------------------------------- PMP

def test_mret_to_lower_mode_without_pmp_rules_is_illegal_like_qemu():
    core, prog = load(TRAP.format(body=enter("U", "go") + "go:\n"))
    core.write_csr(PMPCFG0, 0)
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s4")) == (2, 0x30200073)


def test_pmp_warl_storage_and_count():
    core, _ = load("ebreak\n")
    core.write_csr(PMPADDR0 + 15, (1 << 64) - 1)
    assert core.read_csr(PMPADDR0 + 15) == (1 << 54) - 1
    core.write_csr(PMPCFG0 + 2, 0x60_60_60_60_60_60_60_7F)    # reserved bits 5 and 6 read as zero
    assert core.read_csr(PMPCFG0 + 2) == 0x1F
    with pytest.raises(ValueError):
        core.read_csr(PMPADDR0 + 16)                           # 16 entries, as QEMU 7.2
    with pytest.raises(ValueError):
        core.read_csr(PMPCFG0 + 1)                             # odd pmpcfg do not exist on RV64


def test_locked_pmp_entries_ignore_writes():
    core, _ = load("ebreak\n")
    core.write_csr(PMPADDR0 + 1, 0x1000)
    core.write_csr(PMPCFG0, 0x8F00 | 0x1F)                     # entry 1 locked TOR
    core.write_csr(PMPADDR0 + 1, 0x2000)
    core.write_csr(PMPADDR0, 0x3000)                           # locked TOR above locks pmpaddr0 too
    assert core.read_csr(PMPADDR0 + 1) == 0x1000 and core.read_csr(PMPADDR0) == (1 << 54) - 1


PROTECTED = RAM_BASE + 0x2000


def pmp_user(user, rules):
    """U-mode code at `user` under PMP `rules` [(pmpaddr, cfg)], ending in ecall."""
    body = (enter("U", "user") + ".balign 4096\nuser:\n" + user + "\n ecall\n")
    core, prog = load(TRAP.format(body=body))
    cfg = 0
    for i, (addr, c) in enumerate(rules):
        core.write_csr(PMPADDR0 + i, addr)
        cfg |= c << 8 * i
    core.write_csr(PMPCFG0, cfg)
    core.write_mem(PROTECTED, (0x77).to_bytes(8, "little"))
    run_to_ebreak(core)
    return core, prog


NAPOT_4K = lambda base: (base >> 2) | 0x1FF                        # noqa: E731
ALL = ((1 << 54) - 1, 0x1F)


def test_pmp_denies_user_loads_the_first_matching_rule_forbids():
    core, _ = pmp_user(f"li t0, {PROTECTED}\n ld a0, 0(t0)\n", [(NAPOT_4K(PROTECTED), 0x18 | 0), ALL])
    assert (reg(core, "s2"), reg(core, "s4")) == (5, PROTECTED)


def test_pmp_read_only_rule_allows_loads_and_denies_stores():
    core, _ = pmp_user(f"li t0, {PROTECTED}\n ld a0, 0(t0)\n sd a0, 8(t0)\n",
                       [(NAPOT_4K(PROTECTED), 0x18 | 1), ALL])
    assert reg(core, "a0") == 0x77
    assert (reg(core, "s2"), reg(core, "s4")) == (7, PROTECTED + 8)


def test_pmp_rule_finer_than_a_page_is_enforced_per_access():
    # NA4 rule denying one word in the middle of a page
    core, _ = pmp_user(f"li t0, {PROTECTED}\n ld a0, 0(t0)\n ld a1, 16(t0)\n lw a2, 8(t0)\n",
                       [((PROTECTED + 8) >> 2, 0x10), ALL])
    assert reg(core, "a0") == 0x77
    assert (reg(core, "s2"), reg(core, "s4")) == (5, PROTECTED + 8)


def test_pmp_without_a_matching_rule_denies_user_fetch():
    core, prog = pmp_user("nop", [(NAPOT_4K(RAM_BASE), 0x1F)])   # only the first page is granted
    assert (reg(core, "s2"), reg(core, "s3")) == (1, prog["user"])


def test_machine_mode_ignores_unlocked_rules_but_obeys_locked_ones():
    core, _ = run_m(f"li t0, {PROTECTED}\n ld a0, 0(t0)\n")
    assert reg(core, "s2") == 0
    core, prog = load(TRAP.format(body=f"li t0, {PROTECTED}\nat: sd t0, 0(t0)\n"))
    core.write_csr(PMPADDR0, NAPOT_4K(PROTECTED))
    core.write_csr(PMPCFG0, 0x80 | 0x18 | 1)                    # locked, read-only
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (7, prog["at"], PROTECTED)


def test_mcountinhibit_freezes_minstret_and_mcycle():
    core, _ = run_m("li t0, 5\n csrw mcountinhibit, t0\n csrr a0, minstret\n nop\n nop\n csrr a1, minstret\n"
                    " csrr a2, mcycle\n nop\n csrr a3, mcycle\n csrr a4, mcountinhibit\n csrw mcountinhibit, zero\n"
                    " csrr a5, minstret\n nop\n csrr a6, minstret\n")
    assert reg(core, "a0") == reg(core, "a1") and reg(core, "a2") == reg(core, "a3")
    assert reg(core, "a4") == 5
    assert reg(core, "a5") == reg(core, "a1") and reg(core, "a6") == reg(core, "a5") + 2


def test_debugger_writes_of_counters_read_back():
    core, _ = load("nop\n nop\n ebreak\n")
    core.write_csr(0xB02, 500)
    core.write_csr(0xB00, 900)
    assert core.read_csr(0xB02) == 500 and core.read_csr(0xB00) == 900
    run_to_ebreak(core)
    assert core.read_csr(0xB02) == 502 and core.read_csr(0xB00) == 902

"""Trap and interrupt delivery: delegation, xRET, vectored mode, priorities,
the CLINT timer in deterministic time, WFI time skipping, Sstc, set_irq."""

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak, RAM_BASE

CSR = dict(mstatus=0x300, medeleg=0x302, mideleg=0x303, mie=0x304, mtvec=0x305, mepc=0x341,
           mcause=0x342, mtval=0x343, mip=0x344, stvec=0x105, sepc=0x141, scause=0x142,
           menvcfg=0x30A, stimecmp=0x14D, mcounteren=0x306, sstatus=0x100, sie=0x104, sip=0x144)
MIE, SIE, MPIE, SPIE = 1 << 3, 1 << 1, 1 << 7, 1 << 5
IRQ = 1 << 63
CLINT_MTIMECMP, CLINT_MTIME, CLINT_MSIP = 0x0200_4000, 0x0200_BFF8, 0x0200_0000

HANDLERS = """
    ebreak
.balign 64
mhandler:
    csrr s2, mcause
    csrr s3, mepc
    csrr s4, mtval
    ebreak
.balign 64
shandler:
    csrr s5, scause
    csrr s6, sepc
    csrr s7, stval
    ebreak
"""


def program(body):
    core, prog = load(body + HANDLERS)
    core.write_csr(CSR["mtvec"], prog["mhandler"])
    core.write_csr(CSR["stvec"], prog["shandler"])
    return core, prog


def enter(mode, label):
    """Code that drops from M to `mode` at `label` via mret."""
    mpp = {"U": 0, "S": 1, "M": 3}[mode]
    return (f"    li t0, {3 << 11}\n    csrc mstatus, t0\n    li t0, {mpp << 11}\n    csrs mstatus, t0\n"
            f"    la t0, {label}\n    csrw mepc, t0\n    mret\n")


@pytest.mark.parametrize("mode,cause", [("U", 8), ("S", 9), ("M", 11)])
def test_ecall_cause_depends_on_privilege(mode, cause):
    core, prog = program(enter(mode, "go") + "go:\nat: ecall\n")
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (cause, prog["at"], 0)
    assert core.read_csr(CSR["mstatus"]) >> 11 & 3 == {"U": 0, "S": 1, "M": 3}[mode]


def test_delegated_ecall_from_u_goes_to_s_and_sret_returns():
    body = (enter("U", "user") + "user:\nat: ecall\n li a0, 1\n ebreak\n"
            ".balign 64\nsh2:\n csrr s5, scause\n csrr t0, sepc\n addi t0, t0, 4\n csrw sepc, t0\n sret\n")
    core, prog = program(body)
    core.write_csr(CSR["stvec"], prog["sh2"])
    core.write_csr(CSR["medeleg"], 1 << 8)
    run_to_ebreak(core)
    assert reg(core, "s5") == 8 and reg(core, "a0") == 1 and core.priv == 0


def test_traps_taken_in_m_are_never_delegated():
    core, prog = program("at: ecall\n")
    core.write_csr(CSR["medeleg"], 0xFFFF)
    run_to_ebreak(core)
    assert reg(core, "s2") == 11 and reg(core, "s5") == 0


def test_medeleg_cannot_delegate_ecall_from_m():
    core, _ = program("")
    core.write_csr(CSR["medeleg"], (1 << 64) - 1)
    # everything but ecall-from-M and reserved codes; with H also ecall-from-VS and 20-23
    assert core.read_csr(CSR["medeleg"]) == 0xB3FF | (1 << 10) | (0xF << 20)


def test_mret_restores_mie_from_mpie_and_sets_mpp_to_u():
    core, prog = program(f"li t0, {MPIE}\n csrs mstatus, t0\n la t0, after\n csrw mepc, t0\n"
                         f"li t0, {3 << 11}\n csrs mstatus, t0\n mret\nafter: csrr a0, mstatus\n ebreak\n")
    run_to_ebreak(core)
    status = reg(core, "a0")
    assert status & MIE and status & MPIE and (status >> 11) & 3 == 0


def test_sret_is_illegal_in_u_and_with_tsr_in_s():
    core, prog = program(enter("U", "go") + "go:\nat: sret\n")
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s4")) == (2, 0x10200073)
    core, prog = program(f"li t0, {1 << 22}\n csrs mstatus, t0\n" + enter("S", "go") + "go:\nat: sret\n")
    run_to_ebreak(core)
    assert reg(core, "s2") == 2


def test_wfi_illegal_in_u_and_with_tw_in_s():
    core, prog = program(enter("U", "go") + "go:\nat: wfi\n")
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s4")) == (2, 0x10500073)
    core, prog = program(f"li t0, {1 << 21}\n csrs mstatus, t0\n" + enter("S", "go") + "go:\nat: wfi\n")
    run_to_ebreak(core)
    assert reg(core, "s2") == 2


ARM = f"li t0, {CLINT_MTIME}\n ld t1, 0(t0)\n li t2, {{delta}}\n add t1, t1, t2\n li t0, {CLINT_MTIMECMP}\n sd t1, 0(t0)\n"


def test_timer_interrupt_fires_at_mtimecmp_in_deterministic_time():
    # 10 instructions per tick: a deadline 100 ticks ahead arrives ~1000 instructions later
    body = (ARM.format(delta=100) + " li t0, 0x80\n csrs mie, t0\n csrsi mstatus, 8\n"
            "1: addi a0, a0, 1\n j 1b\n")
    core, prog = program(body)
    run_to_ebreak(core, budget=10_000)
    assert reg(core, "s2") == IRQ | 7
    assert 450 <= reg(core, "a0") <= 510          # the loop is two instructions per count
    assert core.stats()["interrupts"] == {7: 1}


def test_pending_interrupt_is_taken_right_after_the_enabling_csr_write():
    body = (ARM.format(delta=1) + " li t0, 0x80\n csrs mie, t0\n li a1, 300\n1: addi a1, a1, -1\n bnez a1, 1b\n"
            "csrsi mstatus, 8\ntaken_here: nop\n")
    core, prog = program(body)
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3")) == (IRQ | 7, prog["taken_here"])


def test_wfi_skips_time_to_the_armed_timer():
    body = ARM.format(delta=1_000_000) + " li t0, 0x80\n csrs mie, t0\n wfi\nafter: csrr a0, mip\n ebreak\n"
    core, prog = program(body)
    run_to_ebreak(core)
    assert reg(core, "a0") & 0x80
    assert core.mtime >= core.mtimecmp
    assert core.stats()["instret"] < 100         # no busy-waiting through a million ticks


def test_vectored_mtvec_for_interrupts_only():
    table = "".join(f" j vec{i}\n" for i in range(12))
    vecs = "".join(f"vec{i}: li s8, {i}\n j mhandler\n" for i in range(12))
    body = (ARM.format(delta=1) + " li t0, 0x80\n csrs mie, t0\n la t0, table\n ori t0, t0, 1\n csrw mtvec, t0\n"
            " csrsi mstatus, 8\n li a1, 100\n1: addi a1, a1, -1\n bnez a1, 1b\n ebreak\n"
            ".balign 64\n.option push\n.option norvc\ntable:\n" + table + ".option pop\n" + vecs)
    core, prog = program(body)
    core.write_csr(CSR["mtvec"], prog["table"] | 1)
    run_to_ebreak(core)
    assert reg(core, "s8") == 7 and reg(core, "s2") == IRQ | 7


def test_interrupt_priority_mei_before_msi_before_mti():
    core, prog = program(f"li t0, 1\n li t1, {CLINT_MSIP}\n sw t0, 0(t1)\n"
                         + ARM.format(delta=0) + " li t0, 0x888\n csrs mie, t0\n csrsi mstatus, 8\n nop\n")
    core.set_irq(True, False)
    run_to_ebreak(core)
    assert reg(core, "s2") == IRQ | 11


def test_delegated_supervisor_interrupt_goes_to_s_and_m_interrupts_preempt():
    # SSIP delegated: taken in U to S; not taken in M
    body = (f"li t0, 2\n csrs mideleg, t0\n csrs mie, t0\n csrs mip, t0\n nop\n nop\n"
            + enter("U", "user") + "user:\ntaken_here: nop\n")
    core, prog = program(body)
    run_to_ebreak(core)
    assert (reg(core, "s5"), reg(core, "s6")) == (IRQ | 1, prog["taken_here"])
    assert reg(core, "s2") == 0 and core.priv == 1


def test_supervisor_interrupts_wait_for_sie_in_s_mode():
    body = (f"li t0, 2\n csrs mideleg, t0\n csrs mie, t0\n csrs mip, t0\n"
            + enter("S", "sup") + "sup:\n nop\n csrsi sstatus, 2\ntaken_here: nop\n")
    core, prog = program(body)
    run_to_ebreak(core)
    assert (reg(core, "s5"), reg(core, "s6")) == (IRQ | 1, prog["taken_here"])


def test_sstc_stimecmp_raises_stip_when_enabled():
    body = (f"li t0, 1\n slli t0, t0, 63\n csrs menvcfg, t0\n li t0, 2\n csrs mcounteren, t0\n"
            f"li t0, 0x20\n csrs mideleg, t0\n csrs mie, t0\n"
            + enter("S", "sup") + "sup:\n csrr t1, time\n addi t1, t1, 5\n csrw stimecmp, t1\n"
            " csrsi sstatus, 2\n1: j 1b\n")
    core, prog = program(body)
    run_to_ebreak(core, budget=10_000)
    assert reg(core, "s5") == IRQ | 5
    assert core.stats()["interrupts"] == {5: 1}


def test_stimecmp_is_illegal_in_s_without_stce():
    core, prog = program(enter("S", "sup") + "sup:\nat: csrr a0, stimecmp\n")
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3")) == (2, prog["at"])


def test_stip_writable_from_m_only_without_sstc():
    core, _ = program("li t0, 0x20\n csrs mip, t0\n csrr a0, mip\n ebreak\n")
    run_to_ebreak(core)
    assert reg(core, "a0") & 0x20


def test_seip_is_software_bit_or_external_line():
    core, _ = program("csrr a0, mip\n li t0, 0x200\n csrc mip, t0\n csrr a1, mip\n ebreak\n")
    core.set_irq(False, True)
    run_to_ebreak(core)
    assert reg(core, "a0") & 0x200 and reg(core, "a1") & 0x200      # line still high
    core.set_irq(False, False)
    assert core.read_csr(CSR["mip"]) & 0x200 == 0


def test_exit_on_interrupt_leaves_the_interrupt_undelivered():
    core, prog = program(" li t0, 0x800\n csrs mie, t0\n csrsi mstatus, 8\nhere: nop\n nop\n")
    core.exit_on_interrupt = 1 << 11
    core.set_irq(True, False)
    assert core.run(100) == core_mod.EXIT_TRAP
    assert core.exit_cause == IRQ | 11 and core.exit_pc == prog["here"] and core.priv == 3
    assert core.read_csr(CSR["mcause"]) == 0
    core.set_irq(False, False)
    run_to_ebreak(core)


def test_trap_storm_still_ends_at_the_budget():
    # mtvec points at an illegal instruction: every trap traps again
    core, _ = load(".word 0\n")
    core.write_csr(CSR["mtvec"], RAM_BASE)
    assert core.run(1000) == core_mod.EXIT_BUDGET
    assert core.stats()["traps"] == {2: 1000}


def test_clint_mtime_reads_follow_retired_instructions():
    core, _ = program(f"li t0, {CLINT_MTIME}\n ld a0, 0(t0)\n li a1, 200\n1: addi a1, a1, -1\n bnez a1, 1b\n"
                      " ld a2, 0(t0)\n csrr a3, time\n ebreak\n")
    run_to_ebreak(core)
    assert reg(core, "a2") - reg(core, "a0") == 40      # 402 instructions / 10 per tick, truncated
    assert reg(core, "a3") == reg(core, "a2")


def test_insns_per_tick_and_mtime_are_settable():
    core, _ = program("ebreak\n")
    core.mtime = 1000
    core.insns_per_tick = 3
    assert core.mtime == 1000
    core.mtimecmp = 1002
    core.write_csr(CSR["mie"], 0x80)
    core.write_csr(CSR["mstatus"], MIE)
    core.write_mem(RAM_BASE, (0x0000006F).to_bytes(4, "little"))    # j .
    core.pc = RAM_BASE
    run_to_ebreak(core)
    assert reg(core, "s2") == IRQ | 7 and core.stats()["instret"] in range(6, 10)
    with pytest.raises(ValueError):
        core.insns_per_tick = 0

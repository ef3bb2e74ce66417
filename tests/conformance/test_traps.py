"""Exceptions and interrupts: causes, epc/tval, delegation, vectored mode, the CLINT
timer and software interrupts, Sstc, mret/sret transitions and TSR/TW/TVM."""

import re

import pytest

from . import harness
from .cases import enter, expect_regs, traps_summary

NO_DEVICE = 0x0800_0000        # a hole in the virt memory map
MSTATUS_MIE, MSTATUS_SIE = 1 << 3, 1 << 1
MIP_MSIP, MIP_MTIP, MIP_SSIP, MIP_STIP = 1 << 3, 1 << 7, 1 << 1, 1 << 5
CLINT_MSIP, CLINT_MTIMECMP, CLINT_MTIME = 0x0200_0000, 0x0200_4000, 0x0200_BFF8
IRQ = 1 << 63


@pytest.mark.parametrize("word", [
    pytest.param(0xC000_1073, id="unimp"),                 # csrrw x0, cycle, x0
    pytest.param(0x0000_006B, id="reserved-opcode"),       # major opcode 1101011
    pytest.param(0x0400_0033, id="op-funct7-2"),           # OP with funct7 = 0000010
    pytest.param(0x4200_501B, id="sraiw-shamt5"),          # a *W shift with shamt[5] = 1
    pytest.param(0x0000_7003, id="load-funct3-7"),         # LOAD funct3 7 (ldu is RV128 only)
    pytest.param(0x3020_00F3, id="mret-rd-nonzero"),       # mret with rd = x1
])
def test_illegal_32bit_encodings(word):
    """Reserved encodings raise illegal instruction with mtval = the instruction bits."""
    r = harness.run(f"    .balign 4\ninsn_at:\n    .word {word:#x}\n    li a0, 1\n")
    assert traps_summary(r) == [(2, r.symbols["insn_at"], word)]
    expect_regs(r, a0=1)


@pytest.mark.parametrize("mode,cause", [("M", 11), ("S", 9), ("U", 8)])
def test_ecall_from_each_mode(mode, cause):
    body = enter(mode, "go") + "go:\ninsn_at:\n    ecall\n    li a0, 5\n    li a7, -1\n    ecall\n"
    r = harness.run(body)
    assert [(t.cause, t.epc, t.tval, t.mode) for t in r.traps] == [(cause, r.symbols["insn_at"], 0, 3)]
    assert r.traps[0].previous_priv == {"M": 3, "S": 1, "U": 0}[mode]
    expect_regs(r, a0=5)


def test_ebreak():
    r = harness.run("    .option push\n    .option norvc\ninsn_at:\n    ebreak\n    .option pop\n    li a0, 1\n")
    (t,) = r.traps
    assert (t.cause, t.epc) == (3, r.symbols["insn_at"])
    assert t.tval in (0, r.symbols["insn_at"]), "mtval of a breakpoint is 0 or the pc"
    expect_regs(r, a0=1)


@pytest.mark.parametrize("insn,cause", [
    ("lw a1, 4(a0)", 5), ("ld a1, 8(a0)", 5), ("lbu a1, 4(a0)", 5),
    ("sw a1, 4(a0)", 7), ("sd a1, 8(a0)", 7), ("sb a1, 4(a0)", 7), ("lr.d a1, (a0)", 5),
    pytest.param("amoadd.w a1, a1, (a0)", 7, marks=pytest.mark.qemu_differs("an AMO access fault is reported as cause 5")),
    pytest.param("amoswap.d a1, a1, (a0)", 7, marks=pytest.mark.qemu_differs("an AMO access fault is reported as cause 5")),
])
def test_access_faults(insn, cause):
    """Loads, stores and atomics at a bus hole: access fault, tval = the address."""
    r = harness.run(f"    li a0, {NO_DEVICE}\ninsn_at:\n    {insn}\n    li a2, 1\n")
    match = re.search(r",\s*(-?\d+)\(", insn)
    offset = int(match.group(1)) if match else 0
    assert traps_summary(r) == [(cause, r.symbols["insn_at"], NO_DEVICE + offset)]
    expect_regs(r, a2=1)


def test_instruction_access_fault():
    r = harness.run(f"    li a0, {NO_DEVICE}\n    jalr a0\nreturn_here:\n    li a2, 1\n")
    assert traps_summary(r) == [(1, NO_DEVICE, NO_DEVICE)]
    expect_regs(r, a2=1, ra=r.symbols["return_here"])


def test_trap_sets_mpie_and_clears_mie():
    r = harness.run(f"    csrsi mstatus, {MSTATUS_MIE}\n    ecall\n    csrr a0, mstatus\n    csrci mstatus, {MSTATUS_MIE}\n")
    (t,) = r.traps
    assert t.status & MSTATUS_MIE == 0 and t.status >> 7 & 1 == 1 and t.status >> 11 & 3 == 3
    assert r["a0"] & MSTATUS_MIE, "mret restores MIE from MPIE"


# ------------------------------------------------------------------ delegation
@pytest.mark.parametrize("mode,delegated,handler", [
    ("U", True, 1), ("U", False, 3), ("S", True, 1), ("S", False, 3), ("M", True, 3)])
def test_illegal_instruction_delegation(mode, delegated, handler):
    """medeleg sends traps from S/U to S-mode; traps taken in M never go down."""
    body = (f"    li t0, {1 << 2 if delegated else 0}\n    csrw medeleg, t0\n"
            + enter(mode, "go") + "go:\ninsn_at:\n    .word 0xc0001073\n    li a0, 1\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert [(t.cause, t.epc, t.tval, t.mode) for t in r.traps] == [(2, r.symbols["insn_at"], 0xC000_1073, handler)]
    assert r.traps[0].previous_priv == {"M": 3, "S": 1, "U": 0}[mode]
    expect_regs(r, a0=1)


def test_ecall_from_u_delegated_to_s_sets_spp_and_spie():
    body = (f"    li t0, {1 << 8}\n    csrw medeleg, t0\n    csrsi sstatus, {MSTATUS_SIE}\n"
            + enter("U", "go") + "go:\ninsn_at:\n    ecall\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    (t,) = r.traps
    assert (t.cause, t.epc, t.mode) == (8, r.symbols["insn_at"], 1)
    assert t.status >> 8 & 1 == 0, "SPP = U"
    assert t.status >> 5 & 1 == 1 and t.status & MSTATUS_SIE == 0, "SPIE = old SIE, SIE = 0"


# ------------------------------------------------------------------ mret / sret
def test_mret_to_s_and_sret_to_u():
    """mret: priv = MPP, MIE = MPIE, MPIE = 1, MPP = U; sret: priv = SPP, SIE = SPIE, SPP = U."""
    body = ("    li t0, 1 << 7\n    csrs mstatus, t0\n" + enter("S", "in_s")
            + "in_s:\n    csrr a0, sstatus\n"
            + "    la t0, in_u\n    csrw sepc, t0\n    li t0, 1 << 8\n    csrc sstatus, t0\n"
            + "    li t0, 1 << 5\n    csrs sstatus, t0\n    sret\n"
            + "in_u:\n    li a1, 1\nu_probe:\n    csrr a2, sstatus\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert traps_summary(r) == [(2, r.symbols["u_probe"], 0x1000_2673)], "U-mode cannot read sstatus"
    assert r.traps[0].previous_priv == 0
    expect_regs(r, a1=1)


def test_mret_clears_mpp_and_sets_mpie():
    body = (enter("S", "in_s") + "in_s:\n    ecall\n")
    r = harness.run(body + "    li a7, -1\n    ecall\n")
    # the trap log holds mstatus at the ecall from S: MPP = S; mret earlier set MPIE = 1
    assert r.traps[0].status >> 11 & 3 == 1


@pytest.mark.parametrize("mode,insn", [("S", "mret"), ("U", "mret"), ("U", "sret")])
def test_xret_from_lower_privilege_is_illegal(mode, insn):
    body = enter(mode, "go") + f"go:\ninsn_at:\n    {insn}\n    li a0, 1\n    li a7, -1\n    ecall\n"
    r = harness.run(body)
    assert [(t.cause, t.epc) for t in r.traps] == [(2, r.symbols["insn_at"])]
    expect_regs(r, a0=1)


# ------------------------------------------------------------------ TSR / TW / TVM
@pytest.mark.parametrize("bit,insn,traps", [
    (22, "sret", True),                 # TSR
    (21, "wfi", True),                  # TW
    (20, "csrr a0, satp", True),        # TVM
    (20, "sfence.vma", True),
    (0, "csrr a0, satp", False),
    (0, "sfence.vma", False),
])
def test_trap_virtual_memory_wait_sret(bit, insn, traps):
    setup = f"    li t0, {1 << bit}\n    csrs mstatus, t0\n" if bit else ""
    body = setup + enter("S", "go") + f"go:\ninsn_at:\n    {insn}\n    li a1, 1\n    li a7, -1\n    ecall\n"
    r = harness.run(body)
    if traps:
        assert [(t.cause, t.epc, t.previous_priv) for t in r.traps] == [(2, r.symbols["insn_at"], 1)]
    else:
        assert r.traps == []
    expect_regs(r, a1=1)


def test_wfi_in_u_mode_is_illegal():
    body = enter("U", "go") + "go:\ninsn_at:\n    wfi\n    li a7, -1\n    ecall\n"
    r = harness.run(body)
    assert [(t.cause, t.epc) for t in r.traps] == [(2, r.symbols["insn_at"])]


# ------------------------------------------------------------------ interrupts
ARM_TIMER = (f"    li t0, {CLINT_MTIME}\n    ld t1, 0(t0)\n    addi t1, t1, 50\n"
             f"    li t0, {CLINT_MTIMECMP}\n    sd t1, 0(t0)\n")
WAIT_MTIP = f"1:  wfi\n    csrr t0, mip\n    andi t0, t0, {MIP_MTIP}\n    beqz t0, 1b\n"
DISARM_TIMER = f"    li t0, {CLINT_MTIMECMP}\n    li t1, -1\n    sd t1, 0(t0)\n"


def test_machine_timer_interrupt():
    """Wait for MTIP with MIE = 0, then enable: the interrupt is taken right after the csrs."""
    body = (ARM_TIMER + f"    li t0, {MIP_MTIP}\n    csrs mie, t0\n" + WAIT_MTIP
            + f"    csrsi mstatus, {MSTATUS_MIE}\ntaken_here:\n    csrci mstatus, {MSTATUS_MIE}\n"
            + DISARM_TIMER)
    r = harness.run(body)
    assert traps_summary(r) == [(IRQ | 7, r.symbols["taken_here"], 0)]


def test_timer_pending_follows_mtimecmp():
    body = (ARM_TIMER + f"    li t0, {MIP_MTIP}\n    csrs mie, t0\n" + WAIT_MTIP + "    csrr a0, mip\n"
            + DISARM_TIMER + "    csrr a1, mip\n    csrw mie, zero\n")
    r = harness.run(body)
    assert r["a0"] & MIP_MTIP and not r["a1"] & MIP_MTIP


def test_machine_software_interrupt_via_msip():
    body = (f"    li t0, {MIP_MSIP}\n    csrs mie, t0\n    li t0, {CLINT_MSIP}\n    li t1, 1\n    sw t1, 0(t0)\n"
            f"    csrr a0, mip\n    csrsi mstatus, {MSTATUS_MIE}\ntaken_here:\n    csrci mstatus, {MSTATUS_MIE}\n"
            f"    li t0, {CLINT_MSIP}\n    sw zero, 0(t0)\n    csrr a1, mip\n")
    r = harness.run(body)
    assert traps_summary(r) == [(IRQ | 3, r.symbols["taken_here"], 0)]
    assert r["a0"] & MIP_MSIP and not r["a1"] & MIP_MSIP


def test_machine_interrupts_are_enabled_in_lower_modes_regardless_of_mie():
    body = (f"    li t0, {MIP_MSIP}\n    csrs mie, t0\n    li t0, {CLINT_MSIP}\n    li t1, 1\n    sw t1, 0(t0)\n"
            + enter("U", "go") + "go:\ntaken_here:\n    li a0, 1\n    li a7, -1\n    ecall\n")
    r = harness.run(body + f"    li t0, {CLINT_MSIP}\n    sw zero, 0(t0)\n")
    assert [(t.cause, t.epc, t.previous_priv) for t in r.traps] == [(IRQ | 3, r.symbols["taken_here"], 0)]


def test_vectored_mtvec():
    """Interrupt cause 7 enters at base + 4*7; synchronous traps still enter at base."""
    table = "".join(f"    j vec_{i}\n" for i in range(16))
    entries = "".join(f"vec_{i}:\n    csrwi sscratch, {i}\n    j __m_trap\n" for i in range(16))
    body = ("    la t0, vectors\n    ori t0, t0, 1\n    csrw mtvec, t0\n"
            + ARM_TIMER + f"    li t0, {MIP_MTIP}\n    csrs mie, t0\n" + WAIT_MTIP
            + f"    csrsi mstatus, {MSTATUS_MIE}\ntaken_here:\n    csrci mstatus, {MSTATUS_MIE}\n"
            + "    csrr s2, sscratch\n" + DISARM_TIMER
            + "    ecall\n    csrr s3, sscratch\n"
            + "    la t0, __s_save\n    csrw sscratch, t0\n    la t0, __m_trap\n    csrw mtvec, t0\n"
            + "    j 9f\n    .option push\n    .option norvc\n    .balign 64\nvectors:\n" + table
            + entries + "    .option pop\n9:\n")
    r = harness.run(body)
    assert [t.cause for t in r.traps] == [IRQ | 7, 11]
    expect_regs(r, s2=7, s3=0)


def test_supervisor_software_interrupt_delegated_to_s():
    body = (f"    li t0, {MIP_SSIP}\n    csrw mideleg, t0\n" + enter("S", "in_s")
            + f"in_s:\n    csrsi sie, {MIP_SSIP}\n    csrsi sip, {MIP_SSIP}\n    csrsi sstatus, {MSTATUS_SIE}\n"
            + f"taken_here:\n    csrci sstatus, {MSTATUS_SIE}\n    csrci sip, {MIP_SSIP}\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert [(t.cause, t.epc, t.mode) for t in r.traps] == [(IRQ | 1, r.symbols["taken_here"], 1)]


def test_supervisor_timer_interrupt_set_by_m_mode_is_taken_in_s():
    body = (f"    li t0, {MIP_STIP}\n    csrw mideleg, t0\n    csrs mie, t0\n    csrs mip, t0\n"
            + enter("S", "in_s")
            + f"in_s:\n    csrsi sstatus, {MSTATUS_SIE}\ntaken_here:\n    csrci sstatus, {MSTATUS_SIE}\n"
            + "    li a7, -1\n    ecall\n")
    r = harness.run(body + f"    li t0, {MIP_STIP}\n    csrc mip, t0\n")
    assert [(t.cause, t.epc, t.mode) for t in r.traps] == [(IRQ | 5, r.symbols["taken_here"], 1)]


def test_sstc_stimecmp_interrupt_in_s_with_vectored_stvec():
    """menvcfg.STCE lets S program its own timer; STIP follows time >= stimecmp."""
    table = "".join(f"    j svec_{i}\n" for i in range(16))
    entries = "".join(f"svec_{i}:\n    csrwi scounteren, {i}\n    j __s_trap\n" for i in range(16))
    body = ("    li t0, 1 << 63\n    csrs 0x30a, t0\n"            # menvcfg.STCE
            "    li t0, 2\n    csrs mcounteren, t0\n"             # time readable from S
            f"    li t0, {MIP_STIP}\n    csrw mideleg, t0\n    csrs mie, t0\n"
            + enter("S", "in_s")
            + "in_s:\n    la t0, svectors\n    ori t0, t0, 1\n    csrw stvec, t0\n"
            "    rdtime t1\n    addi t1, t1, 50\n    csrw 0x14d, t1\n"        # stimecmp
            f"1:  csrr t0, sip\n    andi t0, t0, {MIP_STIP}\n    beqz t0, 1b\n"
            f"    csrsi sstatus, {MSTATUS_SIE}\ntaken_here:\n    csrci sstatus, {MSTATUS_SIE}\n"
            "    li t0, -1\n    csrw 0x14d, t0\n    csrr a0, sip\n    csrr s2, scounteren\n"
            "    la t0, __s_trap\n    csrw stvec, t0\n    li a7, -1\n    ecall\n"
            "    .option push\n    .option norvc\n    .balign 64\nsvectors:\n" + table + entries
            + "    .option pop\n")
    r = harness.run(body)
    assert [(t.cause, t.epc, t.mode) for t in r.traps] == [(IRQ | 5, r.symbols["taken_here"], 1)]
    assert not r["a0"] & MIP_STIP, "STIP clears when stimecmp moves past time"
    expect_regs(r, s2=5)          # entered through stvec base + 4 * 5


def test_stimecmp_needs_stce():
    body = ("    li t0, 2\n    csrs mcounteren, t0\n" + enter("S", "in_s")
            + "in_s:\ninsn_at:\n    csrw 0x14d, zero\n    li a7, -1\n    ecall\n")
    r = harness.run(body)
    assert [(t.cause, t.epc) for t in r.traps] == [(2, r.symbols["insn_at"])]


def test_wfi_wakes_on_pending_interrupt_with_mie_clear():
    body = (ARM_TIMER + f"    li t0, {MIP_MTIP}\n    csrs mie, t0\n    wfi\n    li a0, 1\n" + DISARM_TIMER)
    r = harness.run(body)
    assert r.traps == []
    expect_regs(r, a0=1)

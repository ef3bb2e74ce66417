"""H extension traps: routing M <- HS <- VS by medeleg/hedeleg and mideleg/hideleg,
the state each trap entry writes (mstatus.MPV/MPP, hstatus.SPV/SPVP/GVA,
vsstatus.SPP), returns (mret with MPV, sret with SPV, sret at V=1), the
virtual-instruction exception (cause 22) and interrupts injected through hvip
(privileged spec, "Hypervisor Extension": trap entry, trap return, virtual
instruction exceptions, hvip/hip/hie).

Cause 3 (ebreak) stands for "a delegable exception" when routing to VS: QEMU 7.2
reports exceptions 2, 6 and 10 delegated to VS as 1, 5 and 9 (it applies the
VS-interrupt renumbering to exceptions too); the illegal-instruction case is
kept, marked.
"""

import pytest

from . import h_support as h
from .cases import expect_regs

IRQ = 1 << 63
EBREAK = 0x0010_0073
ILLEGAL = 0xC000_1073                     # csrrw x0, cycle, x0
ECALL_U, ECALL_S, ECALL_VS, ECALL_M = 8, 9, 10, 11
VIRTUAL_INSTRUCTION = 22
HANDLER = {"M": 3, "HS": 1, "VS": 2}
ECALL_CAUSE = {"U": ECALL_U, "VU": ECALL_U, "HS": ECALL_S, "VS": ECALL_VS, "M": ECALL_M}


def deleg(medeleg=0, hedeleg=0):
    return f"    li t0, {medeleg}\n    csrw medeleg, t0\n    li t0, {hedeleg}\n    csrw hedeleg, t0\n"


def from_mode(mode, code, setup=""):
    """Run `code` (at label insn_at) in `mode`, then leave."""
    return setup + h.enter(mode, "go") + "go:\ninsn_at:\n" + code + "    li s1, 1\n" + h.leave()


# ------------------------------------------------------------------ ecall from every mode
@pytest.mark.parametrize("mode", ["M", "HS", "U", "VS", "VU"])
def test_ecall_cause_and_mpv(mode):
    r = h.run(from_mode(mode, "    ecall\n"))
    (t,) = r.traps
    assert (t.cause, t.epc, t.mode) == (ECALL_CAUSE[mode], r.symbols["insn_at"], 3)
    assert t.origin == mode, "mstatus.MPP/MPV name the mode the trap came from"
    assert t.gva == 0 and t.tval2 == 0
    expect_regs(r, s1=1)


@pytest.mark.parametrize("mode", ["U", "VS", "VU"])    # (the harness keeps ecall from HS in M)
def test_ecall_delegated_to_hs(mode):
    """medeleg sends ecalls to HS; hstatus.SPV = old V, SPVP = old priv only if V was 1."""
    cause = ECALL_CAUSE[mode]
    setup = deleg(medeleg=1 << cause) + "    li t0, 1 << 8\n    csrs hstatus, t0\n"   # SPVP = 1 beforehand
    r = h.run(from_mode(mode, "    ecall\n", setup))
    (t,) = r.traps
    assert (t.cause, t.epc, t.mode) == (cause, r.symbols["insn_at"], 1)
    assert t.origin == mode
    spvp = t.hstatus >> 8 & 1
    if mode in ("VS", "VU"):
        assert spvp == (1 if mode == "VS" else 0), "SPVP = the nominal privilege of the trapping mode"
    else:
        assert spvp == 1, "a trap from V=0 leaves SPVP alone"
    assert t.gva == 0
    expect_regs(r, s1=1)


def test_ecall_from_vs_cannot_be_delegated_to_vs():
    """hedeleg bit 10 is read-only 0: an ecall from VS goes to HS even with all bits set."""
    r = h.run(from_mode("VS", "    ecall\n", deleg(medeleg=1 << ECALL_VS, hedeleg=-1)))
    assert [(t.cause, t.mode) for t in r.traps] == [(ECALL_VS, 1)]


# ------------------------------------------------------------------ routing to VS
@pytest.mark.parametrize("mode", ["VS", "VU"])
def test_ebreak_delegated_to_vs(mode):
    """medeleg and hedeleg: the guest's own handler (vstvec) gets it; vsstatus.SPP says
    where from; the HS state (sepc, hstatus.SPV) is untouched."""
    setup = (deleg(medeleg=1 << 3, hedeleg=1 << 3) + "    li t0, 0x5a5a\n    csrw sepc, t0\n"
             "    li t0, 1 << 7\n    csrc hstatus, t0\n")
    body = from_mode(mode, "    .option push\n    .option norvc\n    ebreak\n    .option pop\n", setup)
    r = h.run(body + "")
    (t,) = r.traps
    assert (t.cause, t.epc, t.mode) == (3, r.symbols["insn_at"], 2)
    assert t.status >> 8 & 1 == (1 if mode == "VS" else 0), "vsstatus.SPP"
    r2 = h.run(setup + h.enter(mode, "go") + "go:\n    .option push\n    .option norvc\n    ebreak\n"
               "    .option pop\n" + h.to_m() + "    csrr a0, sepc\n    csrr a1, hstatus\n    csrr a2, vscause\n")
    expect_regs(r2, a0=0x5A5A, a2=3)
    assert r2["a1"] >> 7 & 1 == 0, "hstatus.SPV untouched by a trap taken in VS"


@pytest.mark.qemu_differs("QEMU 7.2 reports an illegal instruction delegated to VS as cause 1")
def test_illegal_instruction_delegated_to_vs():
    r = h.run(from_mode("VS", f"    .word {ILLEGAL:#x}\n", deleg(medeleg=1 << 2, hedeleg=1 << 2)))
    assert r.summary() == [(2, "insn_at", ILLEGAL, "VS", "VS")]


@pytest.mark.parametrize("medeleg,hedeleg,mode,handler", [
    (0, 1 << 3, "VS", "M"),            # hedeleg alone does nothing: M keeps it
    (1 << 3, 0, "VS", "HS"),
    (1 << 3, 1 << 3, "VS", "VS"),
    (1 << 3, 1 << 3, "HS", "HS"),      # from V=0 hedeleg does not apply
    (1 << 3, 1 << 3, "U", "HS"),
    (1 << 3, 1 << 3, "M", "M"),        # traps in M stay in M
])
def test_ebreak_routing(medeleg, hedeleg, mode, handler):
    body = from_mode(mode, "    .option push\n    .option norvc\n    ebreak\n    .option pop\n",
                     deleg(medeleg, hedeleg))
    r = h.run(body)
    assert [(t.cause, t.mode, t.origin) for t in r.traps] == [(3, HANDLER[handler], mode)]


def test_trap_into_vs_saves_and_clears_sie():
    setup = deleg(1 << 3, 1 << 3) + "    li t0, 0x22\n    csrc vsstatus, t0\n    csrsi vsstatus, 2\n"
    r = h.run(from_mode("VS", "    .option push\n    .option norvc\n    ebreak\n    .option pop\n", setup))
    (t,) = r.traps
    assert t.status >> 5 & 1 == 1 and t.status >> 1 & 1 == 0, "vsstatus.SPIE = old SIE, SIE = 0"


# ------------------------------------------------------------------ returns
def test_mret_with_mpp_m_clears_mpv_and_stays_at_v0():
    r = h.run(f"    li t0, 0x1800 | {h.MSTATUS_MPV}\n    csrs mstatus, t0\n    la t0, 1f\n    csrw mepc, t0\n"
              "    mret\n1:  csrr a0, mstatus\n    csrr a1, hstatus\n")
    assert r.traps == []
    assert r["a0"] >> 39 & 1 == 0, "MPV cleared by mret"


@pytest.mark.parametrize("spv,spp,mode", [(1, 1, "VS"), (1, 0, "VU"), (0, 1, "HS"), (0, 0, "U")])
def test_sret_from_hs_uses_spv_and_spp(spv, spp, mode):
    """sret in HS: V = SPV, priv = SPP; the ecall after it shows the mode reached."""
    body = (h.enter("HS", "hs") + "hs:\n    la t0, target\n    csrw sepc, t0\n"
            f"    li t0, 1 << 7\n    csrc hstatus, t0\n    li t0, {spv << 7}\n    csrs hstatus, t0\n"
            f"    li t0, 1 << 8\n    csrc sstatus, t0\n    li t0, {spp << 8}\n    csrs sstatus, t0\n"
            "    sret\ntarget:\n    ecall\n" + h.to_m() + "    csrr a0, hstatus\n")
    r = h.run(body)
    assert [(t.cause, t.origin) for t in r.traps] == [(ECALL_CAUSE[mode], mode)]


def test_sret_at_v1_uses_vsstatus():
    """sret in VS returns by vsstatus.SPP/vsepc and stays at V=1 (here into VU)."""
    body = (h.enter("VS", "vs") + "vs:\n    la t0, vu\n    csrw sepc, t0\n    li t0, 1 << 8\n"
            "    csrc sstatus, t0\n    sret\nvu:\n    ecall\n" + h.leave())
    r = h.run(body)
    assert [(t.cause, t.origin) for t in r.traps] == [(ECALL_U, "VU")]


def test_trap_from_vs_to_hs_and_back():
    """ecall from VS taken in HS (SPV=1, SPP=1) and sret by the handler: the code after the
    ecall still runs at V=1 (reading hstatus there is a virtual instruction)."""
    body = from_mode("VS", "    ecall\nafter:\n    csrr a0, hstatus\n", deleg(medeleg=(1 << ECALL_VS) | (1 << 22)))
    r = h.run(body)
    assert r.summary() == [(ECALL_VS, "insn_at", 0, "HS", "VS"), (22, "after", 0x6000_2573, "HS", "VS")]


# ------------------------------------------------------------------ virtual instruction
VI_CASES = [
    # (mode, instruction, setup, expected cause)
    ("VS", "csrr a0, hstatus", "", 22),
    ("VS", "csrr a0, vsstatus", "", 22),
    ("VS", "csrr a0, hgatp", "", 22),
    pytest.param("VU", "csrr a0, sstatus", "", 22, marks=pytest.mark.qemu_differs("QEMU 7.2 raises illegal instruction for S CSRs from VU")),
    ("VU", "csrr a0, hstatus", "", 22),
    ("U", "csrr a0, hstatus", "", 2),
    ("VS", "csrr a0, mstatus", "", 2),                  # M CSRs are not HS-qualified
    pytest.param("VS", "hlv.d a0, (sp)", "", 22, marks=pytest.mark.qemu_differs("QEMU 7.2 leaves the trap value 0 for HLV/HSV")),
    pytest.param("VU", "hlv.d a0, (sp)", "", 22, marks=pytest.mark.qemu_differs("QEMU 7.2 leaves the trap value 0 for HLV/HSV")),
    pytest.param("U", "hlv.d a0, (sp)", "    li t0, 1 << 9\n    csrc hstatus, t0\n", 2, marks=pytest.mark.qemu_differs("QEMU 7.2 leaves the trap value 0 for HLV/HSV")),
    ("VS", "hfence.vvma", "", 22),
    ("VS", "hfence.gvma", "", 22),
    ("U", "hfence.vvma", "", 2),
    pytest.param("VU", "sret", "", 22, marks=pytest.mark.qemu_differs("QEMU 7.2 raises illegal instruction for SRET/SFENCE from VU")),
    pytest.param("VU", "sfence.vma", "", 22, marks=pytest.mark.qemu_differs("QEMU 7.2 raises illegal instruction for SRET/SFENCE from VU")),
    ("VU", "wfi", "    li t0, 1 << 21\n    csrc mstatus, t0\n", 22),
    pytest.param("VU", "wfi", "    li t0, 1 << 21\n    csrs mstatus, t0\n", 2,       # mstatus.TW wins
                 marks=pytest.mark.qemu_differs("QEMU 7.2 ignores mstatus.TW for WFI in VU")),
    ("VS", "wfi", f"    li t0, {h.HSTATUS_VTW}\n    csrs hstatus, t0\n", 22),
    ("VS", "sret", f"    li t0, {h.HSTATUS_VTSR}\n    csrs hstatus, t0\n", 22),
    ("VS", "sfence.vma", f"    li t0, {h.HSTATUS_VTVM}\n    csrs hstatus, t0\n", 22),
    pytest.param("VS", "csrr a0, satp", f"    li t0, {h.HSTATUS_VTVM}\n    csrs hstatus, t0\n", 22,
                 marks=pytest.mark.qemu_differs("QEMU 7.2 ignores hstatus.VTVM for satp accesses")),
]


def _encode(insn):
    from pyvmm.asm import assemble
    return int.from_bytes(assemble("    .option norvc\n    " + insn + "\n").sections[0].data[:4], "little")


def _case_id(case):
    mode, insn, setup, cause = case.values if hasattr(case, "values") else case
    return f"{mode}-{insn.split()[0]}-{insn.split()[-1]}-{cause}{'-TW' if 'csrs mstatus' in setup else ''}"


@pytest.mark.parametrize("mode,insn,setup,cause", VI_CASES, ids=[_case_id(c) for c in VI_CASES])
def test_virtual_instruction(mode, insn, setup, cause):
    """Cause 22 (stval = the instruction) for HS-qualified instructions that V=1 forbids;
    2 for what HS could not do either, or from U."""
    body = from_mode(mode, f"    .option push\n    .option norvc\n    {insn}\n    .option pop\n", setup)
    r = h.run(body)
    assert r.summary() == [(cause, "insn_at", _encode(insn), "M", mode)]


_QEMU_TVM = pytest.mark.qemu_differs("QEMU 7.2 applies mstatus.TVM/TSR at V=1")


@pytest.mark.parametrize("mode,insn,setup", [
    pytest.param("VS", "sfence.vma", "    li t0, 1 << 20\n    csrs mstatus, t0\n", marks=_QEMU_TVM),
    pytest.param("VS", "csrr a0, satp", "    li t0, 1 << 20\n    csrs mstatus, t0\n", marks=_QEMU_TVM),
    pytest.param("VS", "sret", "    li t0, 1 << 22\n    csrs mstatus, t0\n", marks=_QEMU_TVM),
], ids=["sfence-TVM", "satp-TVM", "sret-TSR"])
def test_mstatus_traps_do_not_apply_at_v1(mode, insn, setup):
    """mstatus.TVM/TSR govern HS only; VS follows hstatus.VTVM/VTSR (all clear here)."""
    code = f"    .option push\n    .option norvc\n    {insn}\n    .option pop\n"
    if insn == "sret":
        code = "    la t0, 1f\n    csrw sepc, t0\n    li t0, 1 << 8\n    csrs sstatus, t0\n" + code + "1:\n"
    body = from_mode(mode, code, setup + "    li t0, 0x700000\n    csrc hstatus, t0\n")
    r = h.run(body + "")
    assert r.traps == []
    expect_regs(r, s1=1)


def test_hfence_gvma_in_hs_with_tvm_is_illegal():
    body = from_mode("HS", "    hfence.gvma\n", "    li t0, 1 << 20\n    csrs mstatus, t0\n")
    r = h.run(body + "")
    assert r.summary() == [(2, "insn_at", 0x6200_0073, "M", "HS")]


def test_hfence_vvma_in_hs_with_tvm_is_allowed():
    r = h.run(from_mode("HS", "    hfence.vvma\n", "    li t0, 1 << 20\n    csrs mstatus, t0\n"))
    assert r.traps == []


def test_virtual_instruction_delegated_to_hs():
    r = h.run(from_mode("VS", "    csrr a0, hstatus\n", deleg(medeleg=1 << 22)))
    (t,) = r.traps
    assert (t.cause, t.mode, t.tval, t.virt) == (22, 1, 0x6000_2573, 1)
    assert t.gva == 0, "stval holds an instruction, not a guest virtual address"


# ------------------------------------------------------------------ interrupts through hvip
def test_vssip_delegated_reaches_vs_as_cause_1():
    body = ("    li t0, 4\n    csrw hideleg, t0\n    csrw hvip, t0\n"
            + h.enter("VS", "vs") + "vs:\n    li t0, 2\n    csrs sie, t0\n    li a0, 1\nenable:\n"
            "    csrsi sstatus, 2\nafter:\n    li a1, 2\n    csrci sstatus, 2\n" + h.to_m()
            + "    csrw hvip, zero\n    csrw hideleg, zero\n")
    r = h.run(body)
    (t,) = r.traps
    assert (t.cause, t.mode) == (IRQ | 1, 2)
    assert t.epc == r.symbols["after"], "taken as soon as vsstatus.SIE is set"
    expect_regs(r, a0=1, a1=2)


@pytest.mark.parametrize("bit,cause", [(2, 1), (6, 5), (10, 9)])
def test_vs_interrupts_are_renumbered_for_the_guest(bit, cause):
    body = (f"    li t0, {1 << bit}\n    csrw hideleg, t0\n    csrw hvip, t0\n"
            + h.enter("VS", "vs") + f"vs:\n    li t0, {1 << cause}\n    csrs sie, t0\n    csrsi sstatus, 2\n"
            "    nop\n    csrci sstatus, 2\n" + h.to_m() + "    csrw hvip, zero\n    csrw hideleg, zero\n")
    r = h.run(body)
    assert [(t.cause, t.mode) for t in r.traps] == [(IRQ | cause, 2)]


def test_vs_interrupt_not_delegated_goes_to_hs_even_with_sie_clear():
    """Without hideleg, VSSI is an HS interrupt: at V=1 HS interrupts are always enabled."""
    body = ("    csrw hideleg, zero\n    li t0, 4\n    csrw hie, t0\n    csrw hvip, t0\n"
            "    csrci sstatus, 2\n" + h.enter("VS", "vs") + "vs:\n    nop\n    li a0, 1\n" + h.to_m()
            + "    csrw hvip, zero\n    csrw hie, zero\n")
    r = h.run(body)
    (t,) = r.traps
    assert (t.cause, t.mode, t.virt) == (IRQ | 2, 1, 1)
    expect_regs(r, a0=1)


def test_delegated_vs_interrupt_waits_for_v1():
    """Pending and delegated, a VS interrupt is not taken in HS (V=0), only once in VS."""
    body = ("    li t0, 4\n    csrw hideleg, t0\n    csrw hvip, t0\n    li t0, 2\n    csrs vsie, t0\n"
            "    csrsi vsstatus, 2\n" + h.enter("HS", "hs") + "hs:\n    csrsi sstatus, 2\n    nop\n    li a0, 1\n"
            + h.to_m() + h.enter("VS", "vs") + "vs:\nin_vs:\n    nop\n" + h.to_m()
            + "    csrw hvip, zero\n    csrw hideleg, zero\n")
    r = h.run(body)
    assert [(t.cause, t.mode, t.epc) for t in r.traps] == [(IRQ | 1, 2, r.symbols["in_vs"])]
    expect_regs(r, a0=1)


def test_vstip_from_hvip_in_vu_is_taken_whatever_sie():
    """In VU, a delegated VS interrupt is enabled whatever vsstatus.SIE (it is a higher mode's)."""
    body = ("    li t0, 64\n    csrw hideleg, t0\n    csrw hvip, t0\n    li t0, 32\n    csrs vsie, t0\n"
            "    csrci vsstatus, 2\n" + h.enter("VU", "vu") + "vu:\n    nop\n    li a0, 1\n" + h.leave()
            )
    r = h.run(body)
    assert [(t.cause, t.mode) for t in r.traps] == [(IRQ | 5, 2)]
    assert r.traps[0].status >> 8 & 1 == 0, "vsstatus.SPP = VU"
    expect_regs(r, a0=1)


@pytest.mark.qemu_differs("QEMU 7.2 sets mstatus.GVA for traps from V=1 whose mtval is an instruction")
@pytest.mark.parametrize("insn,cause", [("csrr a0, hstatus", 22), ("csrr a0, mstatus", 2)])
def test_gva_clear_when_mtval_is_not_an_address(insn, cause):
    """GVA = 1 only when mtval holds a guest virtual address; an instruction is not one."""
    r = h.run(from_mode("VS", f"    {insn}\n"))
    (t,) = r.traps
    assert (t.cause, t.mode, t.virt, t.gva) == (cause, 3, 1, 0)


def test_vstimecmp_raises_the_vs_timer():
    """Sstc at V=1: with menvcfg.STCE and henvcfg.STCE, time + htimedelta >= vstimecmp makes
    hip.VSTIP pending, delivered to VS as its timer interrupt (cause 5)."""
    body = ("    li t0, 1\n    slli t0, t0, 63\n    csrs menvcfg, t0\n    csrs henvcfg, t0\n"
            "    li t0, 2\n    csrs mcounteren, t0\n    csrs hcounteren, t0\n"
            "    li t0, -1\n    csrw vstimecmp, t0\n    csrr a0, hip\n"
            "    csrw vstimecmp, zero\n    csrr a1, hip\n"
            "    li t0, 64\n    csrw hideleg, t0\n    li t0, 32\n    csrw vsie, t0\n"
            + h.enter("VS", "vs") + "vs:\n    csrsi sstatus, 2\nafter:\n    nop\n    csrci sstatus, 2\n" + h.to_m()
            + "    li t0, -1\n    csrw vstimecmp, t0\n    csrr a2, hip\n    csrw hideleg, zero\n")
    r = h.run(body)
    assert r["a0"] & 64 == 0, "vstimecmp all ones: not pending"
    assert r["a1"] & 64, "vstimecmp 0: VSTIP pending"
    assert r["a2"] & 64 == 0
    assert [(t.cause, t.mode, t.epc) for t in r.traps] == [(IRQ | 5, 2, r.symbols["after"])]


def test_sret_in_vs_to_vs():
    body = (h.enter("VS", "vs") + "vs:\n    la t0, again\n    csrw sepc, t0\n    li t0, 1 << 8\n"
            "    csrs sstatus, t0\n    sret\nagain:\n    ecall\n" + h.leave())
    r = h.run(body)
    assert [(t.cause, t.origin) for t in r.traps] == [(ECALL_VS, "VS")]

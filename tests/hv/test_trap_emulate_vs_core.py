"""The virtual supervisor's CSR instructions against the hart's own: a core
running at real S-mode (or U) is the oracle for what trap-and-emulate must
do at virtual S (or U). Same starting values, one CSR instruction on each
(the emulation through the policy, as a guest's illegal-instruction exit);
rd, the CSR's value afterwards and whether it was illegal must agree."""

import functools

import pytest
from hypothesis import given, settings, strategies as st

pytest.importorskip("pyvmm._core")

from pyvmm._core import Core  # noqa: E402
from pyvmm.hv import Exit, Host  # noqa: E402

BASE = 0x8000_0000
EXIT_TRAP = 3
MASK64 = (1 << 64) - 1
S_INTERRUPTS = 0x222
# CSRs whose values do not depend on time: compared bit for bit.
CSRS = [0x100, 0x104, 0x105, 0x106, 0x10A, 0x140, 0x141, 0x142, 0x143, 0x144, 0x14D, 0x180]
# Refused at S on both (machine, F, debug CSRs), or read-only. (The H CSRs
# are refused to the guest, which has no H, but the oracle hart may have it:
# tests/hv/test_trap_emulate_state.py checks those.)
OTHER_CSRS = [0x300, 0x301, 0x305, 0x341, 0x001, 0x003, 0x7B0, 0xF14, 0xC01]
REGS = st.integers(0, MASK64)


def hart(priv):
    core = Core(ram_size=1 << 20, ram_base=BASE)
    core.write_csr(0x3A0, 0x1F)                      # PMP: everything RWX for S/U
    core.write_csr(0x3B0, (1 << 54) - 1)
    core.write_csr(0x303, S_INTERRUPTS)               # mideleg: sie/sip show the S bits
    core.write_csr(0x306, 0xFFFF_FFFF)                # mcounteren, as SBI firmware sets it
    core.write_csr(0x30A, 1 << 63)                    # menvcfg.STCE
    core.write_csr(0x304, 0)
    core.exit_on_exception = (1 << 24) - 1
    core.priv = priv
    return core


def prime(core, state, csr, start):
    """Give both the same starting value of csr (through each one's WARL write)."""
    if csr == 0x144:                                   # sip: only SSIP is S-writable
        core.write_csr(0x344, start & S_INTERRUPTS)    # mip: the core's pending bits
        state.sip = start & 0x2                        # STIP/SEIP stay 0: no timer, no PLIC here
        core.write_csr(0x344, start & 0x2)
        return
    if csr == 0x180:
        # Bare (with any ASID/PPN bits): the oracle hart must still fetch the
        # instruction under test untranslated.
        start &= (1 << 60) - 1
    core.write_csr(csr, start)
    state.write(csr, start)


def run_one(core, insn):
    core.write_mem(BASE, insn.to_bytes(4, "little"))
    core.pc = BASE
    return core.run(1)


@functools.lru_cache(maxsize=None)
def guest_vcpu():
    host = Host(ram_size=8 << 20)
    vm = host.create_vm(ram_size=4 << 20, technique="trap-emulate", paging="shadow")
    vcpu = vm.vcpus[0]
    vcpu.activate()
    return vcpu


@settings(max_examples=500, deadline=None)
@given(csr=st.sampled_from(CSRS + OTHER_CSRS), funct3=st.sampled_from([1, 2, 3, 5, 6, 7]),
       rs1=st.sampled_from([0, 5, 31]), rd=st.sampled_from([0, 5, 10]), start=REGS,
       operand=REGS, priv=st.sampled_from([0, 1]), scounteren=st.integers(0, 7))
def test_csr_instruction_matches_the_hart(csr, funct3, rs1, rd, start, operand, priv, scounteren):
    core = hart(1)
    vcpu = guest_vcpu()
    vcpu.reset(BASE)
    state = vcpu.state
    state.stvec = BASE + 0x100
    core.write_csr(0x105, BASE + 0x100)
    if csr in CSRS:
        prime(core, state, csr, start)
    core.write_csr(0x106, scounteren)
    state.scounteren = scounteren
    core.priv = priv
    vcpu.set_priv(priv)
    for reg in (5, 10, 31):
        core.set_x(reg, 0)
        vcpu.set_x(reg, 0)
    if rs1:
        core.set_x(rs1, operand)
        vcpu.set_x(rs1, operand)
    insn = (csr << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x73
    reason = run_one(core, insn)
    assert reason in (1, EXIT_TRAP)
    native_illegal = reason == EXIT_TRAP
    assert not native_illegal or core.exit_cause == 2

    vcpu.pc = BASE
    reflected = vcpu.vm.policy.reflected["2"]
    vcpu.vm.handle(vcpu, Exit("trap", cause=2, tval=insn, insn=insn, pc=BASE, priv=priv))
    emulated_illegal = vcpu.vm.policy.reflected["2"] == reflected + 1
    assert emulated_illegal == native_illegal, f"{csr:#x}: hart {native_illegal}, emulation"
    if native_illegal:
        assert (state.scause, state.stval, state.sepc) == (2, core.exit_tval, BASE)
        return
    assert vcpu.pc == BASE + 4
    if csr == 0xC01:
        return                                         # time: the clocks differ by design
    assert vcpu.get_x(rd) == core.get_x(rd), f"rd after {csr:#x}"
    core.priv = 3
    assert core.read_csr(csr) == state.read(csr), f"{csr:#x} after the instruction"


SSTATUS_BITS = st.sets(st.sampled_from([1, 5, 8, 18, 19])).map(lambda bits: sum(1 << b for b in bits))


@settings(max_examples=150, deadline=None)
@given(sstatus=SSTATUS_BITS, priv=st.sampled_from([0, 1]), vectored=st.booleans())
def test_reflected_breakpoint_matches_a_delegated_one(sstatus, priv, vectored):
    stvec = BASE + 0x200 + (1 if vectored else 0)
    core = hart(1)
    core.write_csr(0x302, 1 << 3)                     # medeleg: breakpoints to S
    core.exit_on_exception = 0
    core.write_csr(0x100, sstatus)
    core.write_csr(0x105, stvec)
    core.priv = priv
    reason = run_one(core, 0x00100073)                # ebreak, taken by the hart in S
    assert reason == 1
    exiting = hart(priv)                              # the exit the guest's ebreak makes
    assert run_one(exiting, 0x00100073) == EXIT_TRAP and exiting.exit_cause == 3
    vcpu = guest_vcpu()
    vcpu.reset(BASE)
    vcpu.state.write(0x100, sstatus)
    vcpu.state.stvec = stvec
    vcpu.set_priv(priv)
    vcpu.vm.handle(vcpu, Exit("trap", cause=3, tval=exiting.exit_tval, insn=exiting.exit_insn,
                              pc=exiting.exit_pc, priv=priv))
    state = vcpu.state
    assert vcpu.pc == core.pc and state.priv == core.priv == 1
    core.priv = 3
    assert (state.sepc, state.scause, state.stval) == tuple(core.read_csr(n) for n in (0x141, 0x142, 0x143))
    assert state.read(0x100) == core.read_csr(0x100)


@settings(max_examples=150, deadline=None)
@given(sstatus=SSTATUS_BITS, sepc=st.integers(0, MASK64))
def test_emulated_sret_matches_the_harts(sstatus, sepc):
    core = hart(1)
    core.write_csr(0x100, sstatus)
    core.write_csr(0x141, sepc)
    reason = run_one(core, 0x10200073)
    assert reason == 1
    vcpu = guest_vcpu()
    vcpu.reset(BASE)
    vcpu.state.write(0x100, sstatus)
    vcpu.state.write(0x141, sepc)
    vcpu.vm.handle(vcpu, Exit("trap", cause=2, tval=0x10200073, insn=0x10200073, pc=BASE, priv=1))
    assert vcpu.pc == core.pc and vcpu.state.priv == core.priv
    core.priv = 3
    assert vcpu.state.read(0x100) == core.read_csr(0x100)

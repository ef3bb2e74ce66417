"""The built-in SBI, driven by fabricated ecall exits on a fake core (no guest code runs)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import MASK64, RAM_BASE, FakeCore, FakeMachine, misa_of  # noqa: E402

from pyvmm.machine import layout, sbi  # noqa: E402

ENTRY = RAM_BASE + 0x20_0000
ECALL_PC = RAM_BASE + 0x20_0100
STVEC = RAM_BASE + 0x20_0800


def signed(v):
    v = int(v) & MASK64
    return v - (1 << 64) if v >> 63 else v


class Rig:
    def __init__(self, misa=misa_of("imacsu"), console_input=b""):
        self.core = FakeCore(misa=misa)
        self.machine = FakeMachine(self.core, console_input)
        self.sbi = sbi.BuiltinSBI(self.machine)
        self.sbi.boot(ENTRY)

    def call(self, eid, fid=0, *args, a1=0xA1A1):
        core = self.core
        core.x[17] = eid
        core.x[16] = fid
        core.x[11] = a1
        for i, a in enumerate(args):
            core.x[10 + i] = a & MASK64
        core.exit_cause = 9
        core.exit_pc = ECALL_PC
        core.exit_tval = 0
        core.pc = ECALL_PC
        self.sbi.handle_ecall()
        return signed(core.x[10]), int(core.x[11])

    def csr(self, name):
        return self.core.read_csr(sbi.CSRS[name])


@pytest.fixture
def rig():
    return Rig()


# ---------------------------------------------------------------- boot
def test_boot_leaves_the_hart_as_opensbi_does(rig):
    core = rig.core
    assert core.priv == 1 and core.pc == ENTRY
    assert int(core.x[10]) == 0 and int(core.x[11]) == rig.machine.dtb_addr
    assert rig.csr("medeleg") == 0xB109
    assert rig.csr("mideleg") == 0x222
    assert rig.csr("mcounteren") == 0xFFFF_FFFF
    assert rig.csr("menvcfg") >> 63 == 1
    assert rig.csr("stimecmp") == MASK64
    assert rig.csr("pmpcfg0") & 0xFF == 0x1F and rig.csr("pmpaddr0") == (1 << 54) - 1
    assert rig.csr("satp") == 0 and rig.csr("mie") == 0
    mstatus = rig.csr("mstatus")
    assert (mstatus >> 11) & 3 == 0, "mret leaves MPP = U"
    assert mstatus & sbi.MSTATUS_MPIE and not mstatus & (sbi.MSTATUS_MIE | sbi.MSTATUS_SIE)


def test_exit_masks_cover_exactly_what_reaches_m_mode(rig):
    assert rig.sbi.exit_on_exception == ((1 << 24) - 1) & ~0xB109
    assert rig.sbi.exit_on_exception & (1 << 9)
    assert not rig.sbi.exit_on_exception & (1 << 8), "U ecalls are delegated to S"
    assert rig.core.exit_on_exception == rig.sbi.exit_on_exception
    assert rig.sbi.exit_on_interrupt == 0


def test_boot_with_h_delegates_the_guest_causes():
    rig = Rig(misa=misa_of("imacsuh"))
    assert rig.csr("medeleg") == 0xB109 | (1 << 10) | (0xF << 20)
    assert rig.call(sbi.EID_RFENCE, 4, 1, 0) == (0, 0)
    assert rig.core.tlb_flushes == 1


def test_boot_without_sstc_is_a_clear_error():
    core = FakeCore(sstc=False)
    with pytest.raises(RuntimeError, match="Sstc"):
        sbi.BuiltinSBI(FakeMachine(core)).boot(ENTRY)


def test_ecall_resumes_after_the_instruction(rig):
    rig.call(sbi.EID_BASE, 0)
    assert rig.core.pc == ECALL_PC + 4 and rig.core.priv == 1


# ---------------------------------------------------------------- base
def test_base(rig):
    assert rig.call(sbi.EID_BASE, 0) == (0, 0x0200_0000)
    assert rig.call(sbi.EID_BASE, 1) == (0, 0x7079766D)
    assert rig.call(sbi.EID_BASE, 2) == (0, 0x000100)      # pyvmm 0.1.0
    assert rig.call(sbi.EID_BASE, 4) == (0, 0x489)
    assert rig.call(sbi.EID_BASE, 5) == (0, 0x5)
    assert rig.call(sbi.EID_BASE, 6) == (0, 0x1234)
    assert rig.call(sbi.EID_BASE, 7) == (-2, 0)


@pytest.mark.parametrize("eid, present", [
    (sbi.EID_BASE, 1), (sbi.EID_TIME, 1), (sbi.EID_IPI, 1), (sbi.EID_RFENCE, 1),
    (sbi.EID_HSM, 1), (sbi.EID_SRST, 1), (sbi.EID_DBCN, 1),
    (0x00, 1), (0x01, 1), (0x02, 1), (0x03, 1), (0x04, 1), (0x05, 1), (0x06, 1), (0x07, 1),
    (0x08, 1), (0x09, 0), (0x0F, 0),
    (0x504D55, 0), (0x53555350, 0), (0x0A000000, 0), (MASK64, 0)])
def test_probe_extension(rig, eid, present):
    assert rig.call(sbi.EID_BASE, 3, eid) == (0, present)


def test_unknown_extension_and_function(rig):
    assert rig.call(0x504D55, 0) == (-2, 0)                     # PMU: not implemented
    assert rig.call(sbi.EID_TIME, 1) == (-2, 0)
    assert rig.call(sbi.EID_RFENCE, 3, 1, 0) == (-2, 0)        # hfence without H
    assert rig.core.pc == ECALL_PC + 4
    assert rig.sbi.calls["unknown"] == 1


# ------------------------------------------------------------ time, IPI
def test_set_timer_programs_stimecmp(rig):
    assert rig.call(sbi.EID_TIME, 0, 123_456) == (0, 0)
    assert rig.csr("stimecmp") == 123_456
    assert rig.call(sbi.EID_LEGACY_SET_TIMER, 0, MASK64, a1=77) == (0, 77)
    assert rig.csr("stimecmp") == MASK64


@pytest.mark.parametrize("mask, base, error, ssip", [
    (1, 0, 0, True), (0, MASK64, 0, True), (0, 0, 0, False),
    (2, 0, -3, False), (1, 1, -3, False), (3, 0, -3, False)])
def test_send_ipi(rig, mask, base, error, ssip):
    assert rig.call(sbi.EID_IPI, 0, mask, base) == (error, 0)
    assert bool(rig.csr("mip") & sbi.MIP_SSIP) == ssip


def test_legacy_ipi_and_clear(rig):
    mask_addr = RAM_BASE + 0x1000
    rig.core.set_u64(mask_addr, 1)
    assert rig.call(sbi.EID_LEGACY_SEND_IPI, 0, mask_addr, a1=5) == (0, 5)
    assert rig.csr("mip") & sbi.MIP_SSIP
    assert rig.call(sbi.EID_LEGACY_CLEAR_IPI, 0)[0] == 0
    assert not rig.csr("mip") & sbi.MIP_SSIP
    assert rig.call(sbi.EID_LEGACY_SEND_IPI, 0, 0)[0] == 0    # NULL mask: every hart
    assert rig.csr("mip") & sbi.MIP_SSIP
    rig.core.set_u64(mask_addr, 2)
    assert rig.call(sbi.EID_LEGACY_SEND_IPI, 0, mask_addr)[0] == -3
    assert rig.call(sbi.EID_LEGACY_SEND_IPI, 0, 0x1000)[0] == -5   # not RAM


def build_sv39_map(core, va, pa, root):
    """One 4 KiB mapping va -> pa through three table pages starting at `root`."""
    l1, l0 = root + 0x1000, root + 0x2000
    vpn = [(va >> (12 + 9 * i)) & 0x1FF for i in range(3)]
    core.set_u64(root + 8 * vpn[2], ((l1 >> 12) << 10) | 1)
    core.set_u64(l1 + 8 * vpn[1], ((l0 >> 12) << 10) | 1)
    core.set_u64(l0 + 8 * vpn[0], ((pa >> 12) << 10) | 0xC3)   # V R A D
    core.write_csr(0x180, (8 << 60) | (root >> 12))


def test_legacy_mask_pointer_is_an_s_mode_virtual_address(rig):
    core = rig.core
    va = 0xFFFF_FFC0_0000_2000
    pa = RAM_BASE + 0x4_0000
    build_sv39_map(core, va, pa, RAM_BASE + 0x1_0000)
    core.set_u64(pa + 0x18, 1)
    assert rig.call(sbi.EID_LEGACY_REMOTE_FENCE_I, 0, va + 0x18)[0] == 0
    assert core.decode_flushes == 1
    assert rig.call(sbi.EID_LEGACY_REMOTE_SFENCE_VMA, 0, va + 0x18, 0, 4096)[0] == 0
    assert rig.call(sbi.EID_LEGACY_REMOTE_SFENCE_VMA_ASID, 0, va + 0x18, 0, 4096, 1)[0] == 0
    assert core.tlb_flushes == 2
    assert rig.call(sbi.EID_LEGACY_REMOTE_FENCE_I, 0, va + 0x1000)[0] == -5   # unmapped
    assert rig.call(sbi.EID_LEGACY_REMOTE_FENCE_I, 0, 0x0000_0040_0000_0000)[0] == -5  # non-canonical
    assert core.decode_flushes == 1


def test_legacy_pointer_respects_sum(rig):
    core = rig.core
    va = 0x10_0000
    pa = RAM_BASE + 0x4_0000
    build_sv39_map(core, va, pa, RAM_BASE + 0x1_0000)
    l0 = RAM_BASE + 0x1_2000
    core.set_u64(l0 + 8 * 0x100, ((pa >> 12) << 10) | 0xD3)    # V R U A D
    core.set_u64(pa, 1)
    assert rig.call(sbi.EID_LEGACY_SEND_IPI, 0, va)[0] == -5
    core.write_csr(0x300, core.read_csr(0x300) | sbi.MSTATUS_SUM)
    assert rig.call(sbi.EID_LEGACY_SEND_IPI, 0, va)[0] == 0


# -------------------------------------------------------------- RFENCE
def test_rfence(rig):
    assert rig.call(sbi.EID_RFENCE, 0, 1, 0) == (0, 0)
    assert rig.core.decode_flushes == 1
    assert rig.call(sbi.EID_RFENCE, 1, 0, MASK64, 0, MASK64) == (0, 0)
    assert rig.call(sbi.EID_RFENCE, 2, 1, 0, 0x1000, 0x1000, 3) == (0, 0)
    assert rig.core.tlb_flushes == 2
    assert rig.call(sbi.EID_RFENCE, 1, 1 << 4, 0, 0, 0) == (-3, 0)
    assert rig.call(sbi.EID_RFENCE, 0, 0, 0) == (0, 0)         # nobody: nothing flushed
    assert (rig.core.decode_flushes, rig.core.tlb_flushes) == (1, 2)


# ----------------------------------------------------------------- HSM
def test_hsm(rig):
    assert rig.call(sbi.EID_HSM, 0, 0, ENTRY, 0) == (-6, 0)
    assert rig.call(sbi.EID_HSM, 0, 1, ENTRY, 0) == (-3, 0)
    assert rig.call(sbi.EID_HSM, 2, 0) == (0, sbi.HSM_STARTED)
    assert rig.call(sbi.EID_HSM, 2, 7) == (-3, 0)
    assert rig.machine.stops == []


def test_hsm_stop_of_the_only_hart_idles_the_machine(rig):
    rig.call(sbi.EID_HSM, 1)
    assert rig.machine.stops == [("idle", layout.EXIT_IDLE)]


def test_hsm_suspend(rig):
    assert rig.call(sbi.EID_HSM, 3, 0, 0, 0) == (0, 0)
    assert rig.core.pc == ECALL_PC + 4
    assert rig.call(sbi.EID_HSM, 3, 1, 0, 0) == (-3, 0)                 # reserved type
    assert rig.call(sbi.EID_HSM, 3, 0x8000_0000, 0x1000, 0) == (-5, 0)  # resume not in RAM
    rig.core.write_csr(0x180, (8 << 60) | 0x80010)
    rig.core.write_csr(0x300, rig.core.read_csr(0x300) | sbi.MSTATUS_SIE)
    resume = RAM_BASE + 0x8_0000
    assert rig.call(sbi.EID_HSM, 3, 0x8000_0000, resume, 0xCAFE) == (0, 0xCAFE)
    assert rig.core.pc == resume and rig.core.priv == 1
    assert rig.csr("satp") == 0 and not rig.csr("mstatus") & sbi.MSTATUS_SIE


# ---------------------------------------------------------------- SRST
@pytest.mark.parametrize("rtype, reason, stop", [
    (0, 0, ("sbi-shutdown", 0)), (0, 1, ("sbi-shutdown", 1)),
    (1, 0, ("sbi-reboot", 0)), (2, 1, ("sbi-reboot", 1))])
def test_srst(rig, rtype, reason, stop):
    assert rig.call(sbi.EID_SRST, 0, rtype, reason)[0] == 0
    assert rig.machine.stops == [stop]


@pytest.mark.parametrize("rtype, reason", [(3, 0), (0xF000_0000, 0), (0, 2), (0, 0xE000_0000)])
def test_srst_rejects_reserved_values(rig, rtype, reason):
    assert rig.call(sbi.EID_SRST, 0, rtype, reason) == (-3, 0)
    assert rig.machine.stops == []


def test_legacy_shutdown(rig):
    rig.call(sbi.EID_LEGACY_SHUTDOWN, 0)
    assert rig.machine.stops == [("sbi-shutdown", 0)]


# ---------------------------------------------------------------- DBCN
def test_dbcn_write(rig):
    text = b"hello, DBCN\n"
    rig.core.write_mem(RAM_BASE + 0x5000, text)
    assert rig.call(sbi.EID_DBCN, 0, len(text), RAM_BASE + 0x5000, 0) == (0, len(text))
    assert bytes(rig.machine.output) == text
    assert rig.call(sbi.EID_DBCN, 0, 4, RAM_BASE + 0x5000, 1) == (-3, 0)
    assert rig.call(sbi.EID_DBCN, 0, 4, 0x1000_0000, 0) == (-3, 0)
    end = RAM_BASE + len(rig.core.ram)
    assert rig.call(sbi.EID_DBCN, 0, 16, end - 8, 0) == (-3, 0)
    assert bytes(rig.machine.output) == text


def test_dbcn_read_and_write_byte():
    rig = Rig(console_input=b"ab")
    buf = RAM_BASE + 0x6000
    assert rig.call(sbi.EID_DBCN, 1, 8, buf, 0) == (0, 2)
    assert rig.core.read_mem(buf, 3) == b"ab\0"
    assert rig.call(sbi.EID_DBCN, 1, 8, buf, 0) == (0, 0)
    assert rig.call(sbi.EID_DBCN, 1, 8, 0x10, 0) == (-3, 0)
    assert rig.call(sbi.EID_DBCN, 2, 0x141) == (0, 0)
    assert bytes(rig.machine.output) == b"A"


def test_legacy_console():
    rig = Rig(console_input=b"z")
    assert rig.call(sbi.EID_LEGACY_CONSOLE_PUTCHAR, 0, ord("Q"), a1=9) == (0, 9)
    assert bytes(rig.machine.output) == b"Q"
    assert rig.call(sbi.EID_LEGACY_CONSOLE_GETCHAR, 0)[0] == ord("z")
    assert rig.call(sbi.EID_LEGACY_CONSOLE_GETCHAR, 0)[0] == -1
    assert rig.call(0x09, 0, a1=3) == (-2, 3), "legacy calls leave a1 alone"


# ----------------------------------------------------- counters, traps
def test_counters(rig):
    rig.call(sbi.EID_BASE, 0)
    rig.call(sbi.EID_BASE, 3, sbi.EID_TIME)
    rig.call(sbi.EID_LEGACY_CONSOLE_PUTCHAR, 0, 65)
    rig.call(sbi.EID_DBCN, 9)
    stats = rig.sbi.stats()
    assert stats["calls"] == {"base": 2, "legacy": 1, "dbcn": 1}
    assert stats["calls_by_function"] == {"base.get_spec_version": 1, "base.probe_extension": 1,
                                          "legacy.console_putchar": 1, "dbcn.0x9": 1}


@pytest.mark.parametrize("from_priv, spp", [(0, 0), (1, 1)])
def test_other_traps_are_redirected_to_s_mode(rig, from_priv, spp):
    core = rig.core
    core.write_csr(sbi.CSR_STVEC, STVEC | 1)                 # vectored: exceptions use the base
    core.write_csr(0x300, core.read_csr(0x300) | sbi.MSTATUS_SIE)
    core.priv = from_priv
    core.exit_cause, core.exit_pc, core.exit_tval = 2, 0x1234, 0xDEAD
    rig.sbi.handle_trap(2)
    assert core.priv == 1 and core.pc == STVEC
    assert (rig.csr("scause"), rig.csr("sepc"), rig.csr("stval")) == (2, 0x1234, 0xDEAD)
    mstatus = rig.csr("mstatus")
    assert bool(mstatus & sbi.MSTATUS_SPP) == bool(spp)
    assert mstatus & sbi.MSTATUS_SPIE and not mstatus & sbi.MSTATUS_SIE
    assert rig.sbi.stats()["redirected_traps"] == {2: 1}
    # handle_ecall with a non-ecall cause takes the same path.
    core.exit_cause = 5
    rig.sbi.handle_ecall()
    assert rig.csr("scause") == 5 and not rig.csr("mstatus") & sbi.MSTATUS_SPIE


def test_traps_it_did_not_ask_for_are_refused(rig):
    rig.core.exit_pc = ECALL_PC
    with pytest.raises(RuntimeError, match="cause 0xd"):
        rig.sbi.handle_trap(13)                               # delegated: never an exit
    with pytest.raises(RuntimeError, match="cause 0x8000000000000007"):
        rig.sbi.handle_trap((1 << 63) | 7)
    rig.core.x[17] = sbi.EID_BASE
    rig.core.x[16] = 0
    rig.core.exit_cause = 9
    rig.sbi.handle_trap()                                     # cause from the core
    assert rig.core.pc == ECALL_PC + 4 and int(rig.core.x[11]) == 0x0200_0000

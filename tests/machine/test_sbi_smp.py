"""The built-in SBI across several real harts, driven by fabricated ecall exits."""

import os

import pytest

from pyvmm.machine import sbi
from pyvmm.machine.harts import RUNNING, SLEEPING, STOPPED, SUSPENDED

core_mod = pytest.importorskip("pyvmm._core")

MASK64 = (1 << 64) - 1
ENTRY = 0x8020_0000
ECALL_PC = 0x8020_0100
CSR_MIP, CSR_MIE = 0x344, 0x304
SSIP = 1 << 1


def signed(v):
    v = int(v) & MASK64
    return v - (1 << 64) if v >> 63 else v


class Rig:
    def __init__(self, n=4):
        from pyvmm.machine.machine import Machine
        self.machine = Machine(bios="none", smp=n, ram_size=16 << 20)
        self.machine.dtb_addr = 0x8100_0000
        self.sbi = sbi.BuiltinSBI(self.machine, self.machine.harts)
        self.sbi.boot(ENTRY)
        self.harts = self.machine.harts
        self.machine.cores[0].write_mem(ECALL_PC, (0x00000073).to_bytes(4, "little"))

    def call(self, hart, eid, fid=0, *args):
        core = self.machine.cores[hart]
        core.set_x(17, eid)
        core.set_x(16, fid)
        for i, a in enumerate(args):
            core.set_x(10 + i, a & MASK64)
        core.pc = ECALL_PC
        # the fields an EXIT_TRAP leaves: run the ecall for real
        assert core.run(1) == core_mod.EXIT_TRAP and core.exit_cause == 9
        self.sbi.handle_ecall(core)
        return signed(core.get_x(10)), core.get_x(11)


@pytest.fixture
def rig():
    return Rig()


def test_boot_hart_runs_others_stopped(rig):
    assert rig.harts.state == [RUNNING, STOPPED, STOPPED, STOPPED]
    core = rig.machine.cores[0]
    assert core.pc == ENTRY and core.priv == 1 and core.get_x(10) == 0
    assert all(c.exit_on_exception == rig.sbi.exit_on_exception for c in rig.machine.cores)
    assert [rig.call(0, sbi.EID_HSM, 2, h) for h in range(4)] == \
        [(0, 0), (0, 1), (0, 1), (0, 1)]
    assert rig.call(0, sbi.EID_HSM, 2, 4) == (-3, 0)


def test_hart_start_errors_and_cold_start(rig):
    assert rig.call(0, sbi.EID_HSM, 0, 0, ENTRY, 0) == (-6, 0)       # already available
    assert rig.call(0, sbi.EID_HSM, 0, 9, ENTRY, 0) == (-3, 0)       # no such hart
    assert rig.call(0, sbi.EID_HSM, 0, 2, 0x1000, 0) == (-5, 0)      # not RAM
    assert rig.call(0, sbi.EID_HSM, 0, 2, ENTRY + 0x40, 0xBEEF) == (0, 0)
    two = rig.machine.cores[2]
    assert (two.pc, two.priv, two.get_x(10), two.get_x(11)) == (ENTRY + 0x40, 1, 2, 0xBEEF)
    assert two.read_csr(0x180) == 0 and not two.read_csr(0x300) & sbi.MSTATUS_SIE
    assert rig.harts.state[2] == RUNNING
    assert rig.call(0, sbi.EID_HSM, 0, 2, ENTRY, 0) == (-6, 0)
    assert rig.call(0, sbi.EID_HSM, 2, 2) == (0, 0)


def test_hart_stop_and_last_hart(rig):
    rig.call(0, sbi.EID_HSM, 0, 1, ENTRY, 0)
    core1 = rig.machine.cores[1]
    pc = core1.pc
    rig.call(1, sbi.EID_HSM, 1)
    assert rig.harts.state[1] == STOPPED
    assert rig.call(0, sbi.EID_HSM, 2, 1) == (0, 1)
    assert rig.machine._stop is None
    rig.call(0, sbi.EID_HSM, 1)                 # the last running hart: nobody can restart it
    assert rig.machine._stop == ("idle", 125)
    assert pc == ENTRY


def test_send_ipi_targets(rig):
    cores = rig.machine.cores
    assert rig.call(0, sbi.EID_IPI, 0, 0b1010, 0) == (0, 0)
    assert [bool(c.read_csr(CSR_MIP) & SSIP) for c in cores] == [False, True, False, True]
    assert rig.call(0, sbi.EID_IPI, 0, 1, 2) == (0, 0)                # base 2: hart 2
    assert cores[2].read_csr(CSR_MIP) & SSIP
    assert rig.call(0, sbi.EID_IPI, 0, 0b11, 3) == (-3, 0)            # hart 4 does not exist
    assert rig.call(0, sbi.EID_IPI, 0, 0, MASK64) == (0, 0)           # base -1: all
    assert all(c.read_csr(CSR_MIP) & SSIP for c in cores)


def test_rfence_targets(rig):
    cores = rig.machine.cores
    before = [c.stats()["decode_cache_flushes"] for c in cores]
    assert rig.call(0, sbi.EID_RFENCE, 0, 0b0110, 0) == (0, 0)
    after = [c.stats()["decode_cache_flushes"] for c in cores]
    assert [a - b for a, b in zip(after, before)] == [0, 1, 1, 0]
    before = [c.stats()["tlb_flushes"] for c in cores]
    assert rig.call(0, sbi.EID_RFENCE, 1, 0, MASK64, 0, 4096) == (0, 0)
    after = [c.stats()["tlb_flushes"] for c in cores]
    assert all(a > b for a, b in zip(after, before))
    assert rig.call(0, sbi.EID_RFENCE, 2, 1 << 5, 0, 0, 4096, 1) == (-3, 0)


def test_suspend_sleeps_until_an_interrupt(rig):
    rig.call(0, sbi.EID_HSM, 0, 1, ENTRY, 0)
    one = rig.machine.cores[1]
    one.write_csr(CSR_MIE, SSIP)
    assert rig.call(1, sbi.EID_HSM, 3, 0, 0, 0) == (0, 0)
    assert rig.harts.state[1] == SUSPENDED
    assert rig.call(0, sbi.EID_HSM, 2, 1) == (0, 4)
    assert not rig.harts._runnable(1)
    rig.call(0, sbi.EID_IPI, 0, 0b10, 0)
    assert rig.harts._runnable(1) and rig.harts.state[1] == RUNNING
    assert rig.call(0, sbi.EID_HSM, 2, 1) == (0, 0)


def test_harts_skip_clock_to_earliest_timer():
    from pyvmm.machine.machine import Machine
    m = Machine(bios="none", smp=2, ram_size=16 << 20)
    harts = m.harts
    for i, core in enumerate(m.cores):
        core.write_csr(CSR_MIE, 1 << 7)
        core.mtimecmp = 1000 * (i + 1)
        harts.state[i] = SLEEPING
    index, core, budget = harts.pick(10 ** 6)
    assert index == 0 and core.mtime == 1000 and harts.clock == 10_000
    harts.state[0] = SLEEPING
    core.mtimecmp = 10 ** 9
    index, core, budget = harts.pick(10 ** 6)
    assert index == 1 and core.mtime == 2000
    harts.state[1] = SLEEPING
    m.cores[1].write_csr(CSR_MIE, 0)
    m.cores[0].write_csr(CSR_MIE, 0)
    assert harts.pick(10 ** 6) is None


def test_builtin_firmware_dispatches_to_the_shared_sbi_calls():
    from pyvmm.machine.machine import Machine
    from pyvmm.machine.sbi_calls import CALLS
    machine = Machine(bios="builtin", smp=2)
    machine.load(os.path.join(os.path.dirname(__file__), "..", "..", "guests", "kernel", "kernel.elf"))
    machine.boot()
    for key, (name, call) in CALLS.items():
        assert machine.sbi.handlers[key][:2] == (name, call)

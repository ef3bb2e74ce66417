"""Several cores of one machine: shared RAM, one CLINT, cross-hart
reservations, code coherence after fence.i, and the WFI exit control."""

import pytest

from tests.native.helpers import RAM_BASE, core_mod, load, open_pmp, reg, run_to_ebreak

CLINT = 0x200_0000
MTIMECMP = CLINT + 0x4000
MTIME = CLINT + 0xBFF8
MIP_MSIP = 1 << 3
MIP_MTIP = 1 << 7
CSR_MIP = 0x344
CSR_MIE = 0x304


def second(core, source_base=None, hartid=1):
    other = core_mod.Core(hartid=hartid, peer=core)
    other.exit_on_exception = 1 << 3
    open_pmp(other)
    if source_base is not None:
        other.pc = source_base
    return other


def test_peer_shares_ram_and_geometry():
    core, prog = load("ebreak\n")
    other = second(core)
    assert other.ram is core.ram
    assert (other.ram_base, other.ram_size, other.hartid) == (core.ram_base, core.ram_size, 1)
    core.write_mem(RAM_BASE + 0x1000, b"\x11\x22")
    assert other.read_mem(RAM_BASE + 0x1000, 2) == b"\x11\x22"


def test_hart_ids_unique_and_bounded():
    core, _ = load("ebreak\n")
    other = second(core)
    with pytest.raises(ValueError):
        core_mod.Core(hartid=1, peer=core)
    with pytest.raises(ValueError):
        core_mod.Core(hartid=0, peer=core)
    with pytest.raises(ValueError):
        core_mod.Core(hartid=core_mod.MAX_HARTS_PER_MACHINE, peer=core)
    assert other.hartid == 1


def test_msip_store_reaches_the_other_hart():
    # hart 0 raises hart 1's software interrupt through the CLINT, then reads it back
    core, _ = load(f"""
        li t0, {CLINT + 4}
        li t1, 1
        sw t1, 0(t0)
        lw a0, 0(t0)
        lw a1, -4(t0)
        ebreak
    """)
    other = second(core)
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a1")) == (1, 0)
    assert other.msip == 1
    assert other.read_csr(CSR_MIP) & MIP_MSIP
    assert not core.read_csr(CSR_MIP) & MIP_MSIP


def test_msip_interrupt_taken_by_the_target():
    # hart 1 waits with MSIE on; hart 0's CLINT store makes it take interrupt 3
    core, prog = load(f"""
        li t0, {CLINT + 4}
        li t1, 1
        sw t1, 0(t0)
        ebreak
    hart1:
        la t0, handler
        csrw mtvec, t0
        li t0, 8
        csrw mie, t0
        csrsi mstatus, 8
    spin:
        j spin
        .balign 4
    handler:
        csrr a0, mcause
        li t0, {CLINT + 4}
        sw zero, 0(t0)
        ebreak
    """)
    other = second(core, prog["hart1"])
    assert other.run(1000) == core_mod.EXIT_BUDGET
    run_to_ebreak(core)
    run_to_ebreak(other, 1000)
    assert reg(other, "a0") == (1 << 63) | 3
    assert other.msip == 0


def test_mtimecmp_of_another_hart():
    core, _ = load(f"""
        li t0, {MTIMECMP + 8}
        li t1, 0x1234
        sd t1, 0(t0)
        ld a0, 0(t0)
        ld a1, -8(t0)
        ebreak
    """)
    other = second(core)
    run_to_ebreak(core)
    assert reg(core, "a0") == 0x1234
    assert reg(core, "a1") == 0xFFFF_FFFF_FFFF_FFFF
    assert other.mtimecmp == 0x1234
    assert core.mtimecmp == 0xFFFF_FFFF_FFFF_FFFF


def test_one_mtime_for_the_machine():
    core, _ = load(f"""
        li t0, {MTIME}
        li t1, 1000000
        sd t1, 0(t0)
        ebreak
    """)
    other = second(core)
    other.clock_insns = 0
    core.clock_insns = 0
    run_to_ebreak(core)
    core.clock_insns = 0
    other.clock_insns = 0
    assert core.mtime == other.mtime == 1_000_000
    other.clock_insns = 200
    assert other.mtime == 1_000_020
    core.mtime = 5
    other.clock_insns = 0
    assert other.mtime == 5


def test_clock_insns_drives_mtime_and_timer():
    core, _ = load("ebreak\n")
    core.mtimecmp = 100
    core.clock_insns = 999
    assert core.mtime == 99 and not core.read_csr(CSR_MIP) & MIP_MTIP
    core.clock_insns = 1000
    assert core.mtime == 100 and core.read_csr(CSR_MIP) & MIP_MTIP


def test_timer_interrupt_on_the_machine_clock():
    # the hart's timer fires when the machine clock (not its own instret) reaches mtimecmp
    core, prog = load("""
        la t0, handler
        csrw mtvec, t0
        li t0, 128
        csrw mie, t0
        csrsi mstatus, 8
    spin:
        addi a1, a1, 1
        j spin
        .balign 4
    handler:
        csrr a0, mcause
        ebreak
    """)
    core.clock_insns = 1_000_000
    core.mtimecmp = 100_010
    assert core.run(50) == core_mod.EXIT_BUDGET
    run_to_ebreak(core, 200)
    assert reg(core, "a0") == (1 << 63) | 7
    assert 90 <= core.clock_insns - 1_000_000 <= 110


def test_wfi_exit_control():
    core, _ = load("""
        li t0, 128
        csrw mie, t0
        wfi
        ebreak
    """)
    core.mtimecmp = 10 ** 9
    core.wfi_exit = True
    assert core.run(100) == core_mod.EXIT_WFI
    assert core.mtime < 100          # no skip to the timer
    assert not core.interrupt_pending
    assert core.wake_time == 10 ** 9
    core.clock_insns = 10 ** 10
    assert core.interrupt_pending
    run_to_ebreak(core, 10)


def test_wfi_without_exit_control_skips_time():
    core, _ = load("""
        li t0, 128
        csrw mie, t0
        wfi
        ebreak
    """)
    core.mtimecmp = 10 ** 6
    run_to_ebreak(core, 100)
    assert core.mtime >= 10 ** 6


def test_wake_time_none_without_enabled_timer():
    core, _ = load("ebreak\n")
    core.mtimecmp = 5
    assert core.wake_time is None


LR_SC = """
    li s0, {addr}
    lr.d a0, (s0)
    ebreak
    addi a0, a0, 1
    sc.d a1, a0, (s0)
    ebreak
"""


def test_sc_fails_after_other_hart_changes_the_word():
    addr = RAM_BASE + 0x2000
    core, _ = load(LR_SC.format(addr=addr))
    other = second(core)
    run_to_ebreak(core)
    assert core.reservation == addr
    other.write_mem(addr, (7).to_bytes(8, "little"))
    core.pc = core.exit_pc + 4
    run_to_ebreak(core)
    assert reg(core, "a1") == 1
    assert core.read_mem(addr, 8) == (7).to_bytes(8, "little")


def test_sc_fails_after_other_hart_amo_even_if_value_restored():
    # hart 1 adds 1 and then -1: the word holds LR's value again, but the
    # successful AMOs took the reservation away
    addr = RAM_BASE + 0x2000
    core, prog = load(LR_SC.format(addr=addr) + f"""
    hart1:
        li s0, {addr}
        li t0, 1
        amoadd.d zero, t0, (s0)
        li t0, -1
        amoadd.d zero, t0, (s0)
        ebreak
    """)
    other = second(core, prog["hart1"])
    run_to_ebreak(core)
    run_to_ebreak(other)
    assert core.reservation is None
    core.pc = core.exit_pc + 4
    run_to_ebreak(core)
    assert reg(core, "a1") == 1


def test_sc_succeeds_without_interference_and_clears_peer():
    addr = RAM_BASE + 0x2000
    core, prog = load(LR_SC.format(addr=addr))
    other = second(core, prog["_start"])
    run_to_ebreak(core)
    run_to_ebreak(other)
    assert other.reservation == addr and core.reservation == addr
    core.pc = core.exit_pc + 4
    run_to_ebreak(core)
    assert reg(core, "a1") == 0
    assert other.reservation is None
    other.pc = other.exit_pc + 4
    run_to_ebreak(other)
    assert reg(other, "a1") == 1


def test_stale_code_until_fence_i_then_fresh():
    # hart 1 has decoded `li a0, 1`; hart 0 rewrites it to `li a0, 2`.
    # Hart 1 may run the old code until it executes fence.i; after it, the new.
    core, prog = load("""
        la t0, target
        li t1, 0x00200513          # addi a0, zero, 2
        sw t1, 0(t0)
        ebreak
    hart1:
        fence.i
        jal ra, target
        ebreak
        .balign 4
    target:
        .option push
        .option norvc
        addi a0, zero, 1
        .option pop
        ret
    """)
    other = second(core, prog["hart1"])
    run_to_ebreak(other)
    assert reg(other, "a0") == 1
    run_to_ebreak(core)
    other.pc = prog["hart1"]
    run_to_ebreak(other)
    assert reg(other, "a0") == 2


def test_write_mem_invalidates_every_hart():
    core, prog = load("""
        .option norvc
        li a0, 1
        ebreak
    """)
    other = second(core, prog["_start"])
    run_to_ebreak(other)
    assert reg(other, "a0") == 1
    core.write_mem(prog["_start"], (0x00500513).to_bytes(4, "little"))   # addi a0, zero, 5
    other.pc = prog["_start"]
    run_to_ebreak(other)
    assert reg(other, "a0") == 5


def test_harts_outlive_each_other():
    core, _ = load("ebreak\n")
    other = second(core)
    ram = core.ram
    del core
    other.write_mem(RAM_BASE, b"\x01")
    assert ram[0] == 1
    third = core_mod.Core(hartid=2, peer=other)
    assert third.ram is other.ram


def test_a_store_by_one_hart_drops_what_another_decoded():
    # Hart 0's store entry for the page is filled before hart 1 decodes the
    # page: decoding it there must still send hart 0's next store down the
    # slow path, which drops hart 1's decoded (and translated) copy, so hart 1
    # runs the new instruction with no fence.i at all.
    core, prog = load("""
        .option norvc
        la t0, target
        lw t1, 0(t0)
        sw t1, 0(t0)               # fills hart 0's store entry for the page
        ebreak
        li t1, 0x00200513          # addi a0, zero, 2
        sw t1, 0(t0)
        ebreak
    hart1:
        li s1, 40
    again:
        jal ra, target
        addi s1, s1, -1
        bnez s1, again
        ebreak
        .balign 4
    target:
        addi a0, zero, 1
        ret
    """)
    run_to_ebreak(core)
    other = second(core, prog["hart1"])
    run_to_ebreak(other)
    assert reg(other, "a0") == 1
    core.pc = core.exit_pc + 4
    run_to_ebreak(core)
    other.pc = prog["hart1"]
    run_to_ebreak(other)
    assert reg(other, "a0") == 2

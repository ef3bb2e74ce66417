"""The slow memory paths: accesses crossing pages (with and without paging),
MMIO and CLINT through page tables, the CLINT of another hart, realtime."""

import time

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak, RAM_BASE
from .test_mmu import PageTables, user_program, m_trap, U, R, W, X, A, D, V, DATA


def test_misaligned_access_across_a_page_boundary_in_ram():
    core, prog = load(".option norvc\n la t0, edge\n li t1, 0x1122334455667788\n sd t1, -3(t0)\n"
                      " ld a0, -3(t0)\n lw a1, -2(t0)\n lhu a2, -1(t0)\n ebreak\n.balign 4096\n .skip 4096\nedge:\n")
    run_to_ebreak(core)
    assert reg(core, "a0") == 0x1122334455667788
    assert reg(core, "a1") == 0x44556677 and reg(core, "a2") == 0x5566


def test_crossing_access_with_second_page_unmapped_faults_on_that_page():
    core, prog, pt = user_program("li t0, 0x2ffc\n ld a0, 0(t0)\n")
    pt.map(0x2000, DATA, U | R | W | A | D)
    run_to_ebreak(core)
    assert m_trap(core)[0] == 13 and m_trap(core)[2] in (0x2FFC, 0x3000)


def test_crossing_access_joins_two_mapped_pages():
    core, prog, pt = user_program("li t0, 0x2ffc\n li t1, -1\n sd t1, 0(t0)\n ld a0, 0(t0)\n lw a1, 2(t0)\n")
    pt.map(0x2000, DATA, U | R | W | A | D)
    pt.map(0x3000, DATA + 0x5000, U | R | W | A | D)      # not physically contiguous
    run_to_ebreak(core)
    assert reg(core, "a0") == (1 << 64) - 1 and reg(core, "a1") == (1 << 64) - 1
    assert core.read_mem(DATA + 0xFFC, 4) == b"\xff" * 4 and core.read_mem(DATA + 0x5000, 4) == b"\xff" * 4


def test_mmio_through_page_tables_reports_the_physical_address():
    core, prog, pt = user_program("li t0, 0x7000\n lw a0, 0x10(t0)\n lw a1, 0x10(t0)\n sb a0, 0(t0)\n")
    pt.map(0x7000, 0x1000_0000, U | R | W | A | D)
    for expected in (0x1000_0010, 0x1000_0010):
        assert core.run(100) == core_mod.EXIT_MMIO
        assert core.exit_addr == expected and not core.exit_is_write
        core.complete_mmio(0x41)
    assert core.run(100) == core_mod.EXIT_MMIO and core.exit_is_write and core.exit_addr == 0x1000_0000
    run_to_ebreak(core)
    assert reg(core, "a0") == 0x41 == reg(core, "a1")
    # code, MMIO loads (walked once for both), MMIO store (its own TLB set)
    assert core.stats()["page_walks"] == 3


def test_clint_through_page_tables():
    core, prog, pt = user_program("li t0, 0x7000\n li t1, 1\n sw t1, 0(t0)\n lw a0, 0(t0)\n")
    pt.map(0x7000, 0x0200_0000, U | R | W | A | D)
    run_to_ebreak(core)
    assert reg(core, "a0") == 1 and core.read_csr(0x344) & 0x8 and core.msip == 1


@pytest.mark.parametrize("hartid", [0, 3])
def test_clint_registers_of_this_hart(hartid):
    cmp = 0x0200_4000 + 8 * hartid
    core, _ = load(f"li t0, {0x0200_0000 + 4 * hartid}\n li t1, 1\n sw t1, 0(t0)\n lw a0, 0(t0)\n"
                   f"li t0, {cmp}\n li t1, 0x123456789\n sd t1, 0(t0)\n lw a1, 4(t0)\n li t1, 7\n sw t1, 0(t0)\n"
                   f"ld a2, 0(t0)\n ebreak\n", hartid=hartid)
    run_to_ebreak(core)
    assert reg(core, "a0") == 1 and core.msip == 1
    assert reg(core, "a1") == 1 and reg(core, "a2") == 0x1_0000_0007 == core.mtimecmp
    assert core.read_csr(0xF14) == hartid


def test_realtime_mtime_follows_the_host_clock():
    core, _ = load("1: j 1b\n")
    core.realtime = True
    before = core.mtime
    time.sleep(0.02)
    after = core.mtime
    assert 100_000 <= after - before <= 10_000_000        # 10 MHz: 20 ms is ~200000 ticks
    core.realtime = False
    frozen = core.mtime
    assert core.mtime == frozen                             # deterministic time stands still off the CPU


def test_lr_sc_reservation_is_lost_across_a_trap():
    core, _ = load("la t0, handler\n csrw mtvec, t0\n la s0, var\n lr.d a0, (s0)\n ecall\n li t1, 5\n"
                   " sc.d a1, t1, (s0)\n lr.d a0, (s0)\n sc.d a2, t1, (s0)\n ebreak\n"
                   ".balign 4\nhandler: csrr t2, mepc\n addi t2, t2, 4\n csrw mepc, t2\n mret\n"
                   ".balign 8\nvar: .dword 7\n")
    run_to_ebreak(core)
    assert reg(core, "a1") == 1 and reg(core, "a2") == 0      # as QEMU 7.2


@pytest.mark.parametrize("insn,cause", [("lb a0, 0(t0)", 5), ("sh t1, 0(t0)", 7), ("sd t1, 0(t0)", 7),
                                        ("lhu a0, 0(t3)", 5)])
def test_clint_rejects_access_sizes_qemu_rejects(insn, cause):
    core, prog = load(f"la t2, handler\n csrw mtvec, t2\n li t0, 0x02000000\n li t3, 0x02004000\n li t1, 1\nat: {insn}\n ebreak\n"
                      ".balign 4\nhandler: csrr s2, mcause\n csrr s3, mepc\n csrr s4, mtval\n ebreak\n")
    run_to_ebreak(core)
    offset = 0x4000 if "t3" in insn else 0
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (cause, prog["at"], 0x0200_0000 + offset)


def test_realtime_wfi_sleeps_until_the_timer():
    core, _ = load("li t0, 0x0200bff8\n ld t1, 0(t0)\n li t2, 50000\n add t1, t1, t2\n li t0, 0x02004000\n"
                   " sd t1, 0(t0)\n li t0, 0x80\n csrs mie, t0\n wfi\n csrr a0, mip\n ebreak\n")
    core.realtime = True
    start = time.perf_counter()
    run_to_ebreak(core)
    assert reg(core, "a0") & 0x80
    assert time.perf_counter() - start >= 0.004           # 50000 ticks at 10 MHz = 5 ms
    assert core.stats()["instret"] < 20


def test_ram_and_registers_are_one_memory_seen_three_ways():
    """The core owns RAM and the register file; memoryview, NumPy and the
    harts of one machine all see the same bytes, without copies."""
    Core = core_mod.Core
    core = Core(ram_size=1 << 20)
    sibling = Core(hartid=1, peer=core)
    raw = memoryview(core.ram_buffer)
    assert raw.format == "B" and raw.nbytes == 1 << 20 and not raw.readonly
    raw[16:20] = b"\x13\x05\x10\x00"                 # li a0, 1
    assert bytes(core.ram[16:20]) == b"\x13\x05\x10\x00"
    assert sibling.read_mem(RAM_BASE + 16, 4) == b"\x13\x05\x10\x00"
    core.ram[32] = 0x7F
    assert raw[32] == 0x7F
    core.set_x(10, -1)
    assert core.regs.format == "Q" and len(core.regs) == 32
    assert core.regs[10] == 0xFFFF_FFFF_FFFF_FFFF == int(core.x[10])
    core.regs[11] = 5
    assert core.get_x(11) == 5
    with pytest.raises(ValueError):
        core.regs[12] = -1                            # a memoryview of u64 refuses, never wraps


def test_released_ram_reads_as_zeros_and_views_stay_valid():
    Core = core_mod.Core
    core = Core(ram_size=1 << 20)
    view = core.ram
    core.write_mem(RAM_BASE, b"\xff" * 64)
    core.release_ram()
    assert not view[:64].any() and core.read_mem(RAM_BASE, 64) == bytes(64)

"""Dirty-page logging in the core: every way RAM is written marks its page
(fast-path stores through TLB entries filled before and after a fetch,
slow-path and page-crossing stores, AMOs, SC, FP stores, compressed stores,
cbo.zero, the page walker's A/D updates, write_mem, DMA through
invalidate_code), harts of one machine share the log, and fetching clears it.

The property: between any two fetches, every page whose bytes changed is in
the log fetched at the second one."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import RAM_BASE, assemble, core_mod, load, open_pmp
from .test_mmu import A, D, DATA, R, U, W, run_to_ebreak, user_program

PAGE = 4096
MSTATUS_FS = 1 << 13


def pages_changed(before, after):
    diff = (before != after).reshape(-1, PAGE).any(axis=1)
    return set(np.flatnonzero(diff).tolist())


def test_fetch_needs_the_log_on():
    core = core_mod.Core(ram_size=1 << 20)
    assert not core.dirty_logging
    with pytest.raises(RuntimeError, match="dirty-page logging is off"):
        core.dirty_log_fetch()


def test_write_mem_and_dma_mark_every_page_they_touch_and_fetch_clears():
    core = core_mod.Core(ram_size=1 << 20)
    core.write_mem(RAM_BASE, b"before the log")
    core.dirty_log_start()
    assert core.dirty_logging
    assert list(core.dirty_log_fetch()) == []
    core.write_mem(RAM_BASE + 3 * PAGE - 1, b"ab")             # straddles pages 2 and 3
    core.invalidate_code(RAM_BASE + 9 * PAGE, 2 * PAGE + 1)    # a device wrote there
    core.write_words(RAM_BASE + 14 * PAGE - 4, [1, 2])         # straddles pages 13 and 14
    assert list(core.dirty_log_fetch()) == [2, 3, 9, 10, 11, 13, 14]
    assert list(core.dirty_log_fetch()) == []
    core.dirty_log_stop()
    assert not core.dirty_logging


def test_fast_path_stores_mark_again_after_each_fetch():
    # a loop storing to one page forever: its store TLB entry is filled once
    # and hit from then on, so only dropping it at the fetch re-marks the page
    core, prog = load("li t0, %d\n1: sd t1, 0(t0)\n addi t1, t1, 1\n j 1b\n" % (RAM_BASE + 0x20000))
    core.run(100)
    core.dirty_log_start()
    for _ in range(3):
        core.run(1000)
        assert list(core.dirty_log_fetch()) == [0x20]
    stats = core.stats()
    assert stats["tlb_hits"] > 1000 and stats["tlb_misses"] < 10     # the stores ran on the fast path


def test_a_store_entry_filled_before_the_log_started_is_not_trusted():
    core, prog = load("li t0, %d\n1: sw t1, 4(t0)\n addi t1, t1, 1\n j 1b\n" % (RAM_BASE + 0x31000))
    core.run(1000)                     # the entry is in the TLB, fast
    core.dirty_log_start()
    core.run(10)
    assert list(core.dirty_log_fetch()) == [0x31]


def test_peer_harts_share_one_log():
    core, prog = load("li t0, %d\n1: sd t1, 0(t0)\n j 1b\n" % (RAM_BASE + 0x40000))
    other = core_mod.Core(hartid=1, peer=core)
    program = "li t0, %d\n1: sd t1, 8(t0)\n j 1b\n" % (RAM_BASE + 0x50000)
    other.write_mem(RAM_BASE + 0x10000, assemble(".globl _start\n_start:\n" + program,
                                                 RAM_BASE + 0x10000).image)
    other.pc = RAM_BASE + 0x10000
    core.dirty_log_start()
    assert other.dirty_logging
    core.run(50)
    other.run(50)
    assert list(other.dirty_log_fetch()) == [0x40, 0x50]
    core.run(50)
    other.run(50)
    assert list(core.dirty_log_fetch()) == [0x40, 0x50]     # both harts' entries were dropped
    late = core_mod.Core(hartid=2, peer=other)              # a hart joining a logging machine
    assert late.dirty_logging
    late.write_mem(RAM_BASE + 0x60000, b"x")
    assert list(core.dirty_log_fetch()) == [0x60]
    other.dirty_log_stop()
    assert not core.dirty_logging and not late.dirty_logging


def test_page_walker_a_and_d_updates_mark_the_page_table_page():
    core, prog, pt = user_program("li t0, 0x2000\n li t1, 7\n sd t1, 8(t0)\n", levels=3)
    pt.map(0x2000, DATA, U | R | W)                 # A and D clear: the walker sets them
    core.dirty_log_start()
    run_to_ebreak(core)
    assert pt.pte(0x2000) & (A | D) == A | D
    logged = set(core.dirty_log_fetch().tolist())
    assert (DATA - RAM_BASE) // PAGE in logged
    assert (pt.pte_addr(0x2000) - RAM_BASE) // PAGE in logged     # the walker's A/D update


# -- the property, over random programs -----------------------------------------

REGION_PAGES = 24
REGION = RAM_BASE + 0x100000
STORES = [
    "sd a2, 0(a1)", "sw a2, 0(a1)", "sh a2, 2(a1)", "sb a2, 5(a1)", "c.sd a2, 8(a1)",
    "addi a3, a3, 2047\n sd a2, 2046(a3)",                   # misaligned, crosses into the next page
    "amoadd.d zero, a2, (a1)", "amoswap.w a4, a2, (a1)", "amoor.d a4, a2, (a1)",
    "lr.d a4, (a1)\n sc.d a5, a2, (a1)",
    "fmv.d.x fa0, a2\n fsd fa0, 16(a1)", "fmv.w.x fa1, a2\n fsw fa1, 24(a1)",
    "cbo.zero (a1)",
    "ld a4, 0(a1)",                            # a load: no mark needed, none required
]


def random_program(ops):
    """A loop that, each iteration, steps an LCG in s0 and applies `ops`
    (indexes into STORES) to addresses inside the region derived from it."""
    body = []
    for op in ops:
        body.append("""
        mul s0, s0, s1
        addi s0, s0, 1442
        srli a1, s0, 33
        remu a1, a1, s2
        andi a1, a1, -64
        add a1, a1, s3
        add a3, a1, zero
        srli a3, a3, 12
        slli a3, a3, 12
        xor a2, a2, s0
        """ + STORES[op])
    return """
        li s0, 12345
        li s1, 6364136223846793005
        li s2, %d
        li s3, %d
    1:
    %s
        j 1b
    """ % ((REGION_PAGES - 1) * PAGE, REGION, "\n".join(body))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.integers(0, len(STORES) - 1), min_size=1, max_size=8),
       slices=st.lists(st.integers(1, 3000), min_size=2, max_size=6),
       early=st.integers(0, 500))
def test_every_changed_page_is_in_the_log(ops, slices, early):
    core, prog = load(random_program(ops), ram_size=4 << 20)
    core.write_csr(0x300, core.read_csr(0x300) | MSTATUS_FS)     # mstatus.FS: the FP stores run
    core.run(early)                                              # TLB entries filled before the log
    core.dirty_log_start()
    ram = np.frombuffer(core.ram_buffer, dtype=np.uint8)
    before = ram.copy()
    for budget in slices:
        core.run(budget)
        logged = set(core.dirty_log_fetch().tolist())
        after = ram.copy()
        changed = pages_changed(before, after)
        assert changed <= logged, f"pages written but not logged: {sorted(changed - logged)}"
        before = after
    assert core.instret > early


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops0=st.lists(st.integers(0, len(STORES) - 1), min_size=1, max_size=6),
       ops1=st.lists(st.integers(0, len(STORES) - 1), min_size=1, max_size=6),
       turns=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 2000)), min_size=2, max_size=8))
def test_every_page_two_harts_change_is_in_their_shared_log(ops0, ops1, turns):
    core, _ = load(random_program(ops0), ram_size=4 << 20)
    other = core_mod.Core(hartid=1, peer=core)
    second = RAM_BASE + 0x40000
    other.write_mem(second, assemble(".globl _start\n_start:\n" + random_program(ops1), second).image)
    other.pc = second
    other.exit_on_exception = core.exit_on_exception
    open_pmp(other)
    for hart in (core, other):
        hart.write_csr(0x300, hart.read_csr(0x300) | MSTATUS_FS)
    harts = (core, other)
    harts[1].dirty_log_start()
    ram = np.frombuffer(core.ram_buffer, dtype=np.uint8)
    before = ram.copy()
    for which, budget in turns:
        harts[which].run(budget)
        logged = set(harts[1 - which].dirty_log_fetch().tolist())    # either hart fetches for both
        after = ram.copy()
        changed = pages_changed(before, after)
        assert changed <= logged, f"pages written but not logged: {sorted(changed - logged)}"
        before = after

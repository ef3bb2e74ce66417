"""The run loop's fast run (straight from decoded slots, threaded dispatch)
keeps the budget exact, stops at page ends and hands memory accesses off the
TLB's fast path to the general path; and the cheap register accessors."""

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak

EXIT_BUDGET = core_mod.EXIT_BUDGET

# straight-line code that runs off the end of one page into the next
ACROSS_PAGES = """
.option norvc
    j go
.balign 4096
    .skip 4096 - 12
go:
    addi a0, zero, 1
    addi a0, a0, 1
    addi a0, a0, 1
    addi a0, a0, 1
.option rvc
    c.addi a0, 1
.option norvc
    addi a0, a0, 1
    ebreak
"""


def test_straight_line_code_crosses_a_page_end():
    core, prog = load(ACROSS_PAGES)
    assert (prog["go"] + 12) & 0xFFF == 0
    run_to_ebreak(core)
    assert reg(core, "a0") == 6


@pytest.mark.parametrize("budget", [1, 2, 3, 4, 5, 6])
def test_budget_is_exact_across_a_page_end(budget):
    core, prog = load(ACROSS_PAGES)
    assert core.run(1) == EXIT_BUDGET             # the j
    assert core.run(budget) == EXIT_BUDGET
    assert core.stats()["instret"] == 1 + budget
    assert reg(core, "a0") == budget
    lengths = [4, 4, 4, 4, 2, 4]
    assert core.pc == prog["go"] + sum(lengths[:budget])


def test_budget_is_exact_in_a_loop_for_every_split():
    src = """
    li a0, 0
    li t0, 100
loop:
    addi a0, a0, 3
    addi t0, t0, -1
    bnez t0, loop
    ebreak
"""
    core, _ = load(src)
    run_to_ebreak(core)
    total = core.stats()["instret"]
    expected = reg(core, "a0")
    for step in (1, 7, 64):
        core, _ = load(src)
        retired = 0
        while True:
            before = core.stats()["instret"]
            reason = core.run(step)
            retired = core.stats()["instret"]
            if reason != EXIT_BUDGET:
                break
            assert retired - before == step
        assert retired == total and reg(core, "a0") == expected


def test_loads_and_stores_on_and_off_the_fast_path():
    # the same data through a fast-path access and through ones that the
    # general path takes: the last bytes of a page and a page-crossing load
    core, prog = load("""
    la t0, data
    li t1, 0x1122334455667788
    sd t1, 0(t0)
    ld a0, 0(t0)
    addi t2, t0, 2040
    addi t2, t2, 2040           # data + 4080
    sd t1, 12(t2)
    ld a1, 12(t2)
    lw a2, 12(t2)
    lbu a3, 15(t2)
    lh a4, 14(t2)
    ebreak
.balign 4096
data:
    .skip 8192
""")
    run_to_ebreak(core)
    assert reg(core, "a0") == reg(core, "a1") == 0x1122334455667788
    assert reg(core, "a2") == 0x55667788
    assert reg(core, "a3") == 0x55
    assert reg(core, "a4") == 0x5566


def test_get_x_and_set_x():
    core, _ = load("add a0, a0, a1\n ebreak\n")
    core.set_x(10, 40)
    core.set_x(11, -2)                   # mod 2**64
    assert core.get_x(11) == 2**64 - 2
    run_to_ebreak(core)
    assert core.get_x(10) == 38 and core.x[10] == 38
    core.set_x(0, 5)
    assert core.get_x(0) == 0
    for bad in (-1, 32):
        with pytest.raises(IndexError):
            core.get_x(bad)
        with pytest.raises(IndexError):
            core.set_x(bad, 0)


def test_x_is_one_view_and_run_and_pc_take_numpy_ints():
    import numpy as np
    core, _ = load("addi a0, a0, 1\n ebreak\n")
    assert core.x is core.x
    core.pc = np.uint64(core.ram_base)
    assert core.run(np.int64(1)) == EXIT_BUDGET and core.get_x(10) == 1
    with pytest.raises(ValueError):
        core.run(-1)
    core.pc = 2**64 + core.ram_base            # mod 2**64, as before
    assert core.pc == core.ram_base

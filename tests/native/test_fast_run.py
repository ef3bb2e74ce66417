"""The run loop's fast run (straight from decoded slots, threaded dispatch)
keeps the budget exact, stops at page ends and hands memory accesses off the
TLB's fast path to the general path; and the cheap register accessors."""

import pytest

from .helpers import core_mod, load, reg, run_in_steps, run_to_ebreak

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
        run_in_steps(core, step)
        assert core.stats()["instret"] == total and reg(core, "a0") == expected


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


# a loop whose body is one straight-line run of dependent instructions, each
# reading the result of the one before, with a load, a store and a
# compressed instruction in it
CHAIN = """
    la s1, cell
    li a0, 1
    li t0, 40
loop:
    addi a0, a0, 3
    slli a1, a0, 2
    add a1, a1, a0
    xor a2, a1, a0
    sd a2, 0(s1)
    ld a3, 0(s1)
    c.addi a3, 1
    addiw a4, a3, -7
    add a0, a4, a0
    srli a0, a0, 1
    addi t0, t0, -1
    bnez t0, loop
    ebreak
.balign 8
cell:
    .dword 0
"""


def chain_in_python():
    mask = (1 << 64) - 1
    a0 = 1
    for _ in range(40):
        a0 = (a0 + 3) & mask
        a1 = ((a0 << 2) + a0) & mask
        a2 = a1 ^ a0
        a3 = (a2 + 1) & mask
        a4 = (a3 - 7) & 0xFFFFFFFF
        a4 = a4 - (1 << 32) if a4 & (1 << 31) else a4
        a0 = ((a4 & mask) + a0) & mask
        a0 >>= 1
    return a0


@pytest.mark.parametrize("step", [1, 2, 3, 5, 11, 12, 13, 1000])
def test_a_run_of_dependent_instructions_for_every_budget_split(step):
    # the fast run counts a straight-line run at its entry and hands each
    # result to the next instruction in a register: every budget must still
    # stop on its exact instruction with x[] up to date
    core, _ = load(CHAIN)
    assert run_in_steps(core, step) == core_mod.EXIT_TRAP and core.exit_cause == 3
    assert reg(core, "a0") == chain_in_python()
    assert core.stats()["instret"] == 4 + 40 * 12 + 1 - 1      # la (2), li, li, the loop; the ebreak traps


def test_rewriting_the_instruction_a_result_comes_from():
    # `addi a1, a0, 1` reads the result of the instruction before it; once
    # that one is rewritten to write another register, a1 must come from x[]
    core, prog = load("""
.option norvc
    la t0, first
    lw t1, repl
    li a0, 10
    li a2, 100
    li s1, 0
again:
first:
    addi a0, a0, 5
    addi a1, a0, 1
    bnez s1, done
    li s1, 1
    sw t1, 0(t0)
    j again
done:
    ebreak
repl:
    addi a2, a2, 5
""")
    run_to_ebreak(core)
    assert reg(core, "a2") == 105
    assert reg(core, "a1") == 16        # a0 (15) + 1, not a2's 105 + 1
    # la, lw (two each), three li; addi addi bnez li sw j; addi addi bnez
    assert core.stats()["instret"] == 7 + 6 + 3


def test_misaligned_accesses_inside_a_page_take_the_general_path():
    core, _ = load("""
    la t0, data
    li t1, 0x1122334455667788
    sd t1, 3(t0)
    ld a0, 3(t0)
    lw a1, 5(t0)
    lhu a2, 3(t0)
    sh t1, 9(t0)
    lhu a3, 9(t0)
    ebreak
.balign 4096
data:
    .skip 64
""")
    before = core.stats()
    run_to_ebreak(core)
    after = core.stats()
    assert reg(core, "a0") == 0x1122334455667788
    assert reg(core, "a1") == 0x33445566
    assert reg(core, "a2") == 0x7788
    assert reg(core, "a3") == 0x7788
    # counted as the fast path counts an aligned access: the code fetch, the
    # first store and the first load miss, the other four accesses hit
    assert after["tlb_misses"] - before["tlb_misses"] == 3
    assert after["tlb_hits"] - before["tlb_hits"] == 4


# branches comparing against the result just computed, on either side, and
# stores through a base just computed
SECOND_OPERAND = """
    la s1, buf
    li a0, 0
    li a2, 7
    li a5, 0
loop:
    addi a0, a0, 1
    bltu a2, a0, done
    addi a3, a0, 0
    bgeu a3, a2, skip
    addi a5, a5, 2
skip:
    slli t1, a0, 3
    add t1, t1, s1
    sd a0, 0(t1)
    addi a4, a0, -4
    blt zero, a4, big
    j loop
big:
    addi a5, a5, 100
    j loop
done:
    ld a6, 56(s1)
    ld a7, 8(s1)
    ebreak
.balign 8
buf:
    .skip 128
"""


@pytest.mark.parametrize("step", [1, 4, 9, 1000])
def test_branches_on_a_result_just_computed_and_stores_through_one(step):
    core, _ = load(SECOND_OPERAND)
    assert run_in_steps(core, step) == core_mod.EXIT_TRAP
    assert core.exit_cause == 3
    # a0 runs 1..8; a5 gains 2 for a0 < 7, 100 for a0 in 5..7
    assert reg(core, "a5") == 2 * 6 + 100 * 3
    assert reg(core, "a6") == 7 and reg(core, "a7") == 1


def test_rewriting_the_instruction_before_a_branch_on_its_second_operand():
    # bltu's second source is the result of the addi before it; rewriting
    # that addi to write another register must make bltu read x[] again
    core, _ = load("""
.option norvc
    la t0, first
    lw t1, repl
    li a1, 3
    li a2, 50
    li s1, 0
again:
first:
    addi a1, zero, 10
    bltu a2, a1, taken
    addi s2, s2, 1
    j next
taken:
    addi s3, s3, 1
next:
    bnez s1, done
    li s1, 1
    sw t1, 0(t0)
    j again
done:
    ebreak
repl:
    addi a3, zero, 99
""")
    run_to_ebreak(core)
    # first pass: a1 = 10, 50 < 10 false; second: a1 stays 10, a3 = 99
    assert reg(core, "s2") == 2 and reg(core, "s3") == 0


# every pair the fast run fuses into one handler (decode.pxi, fused_op), in
# 4-byte and compressed forms: slli/srli, add/srli, srli/add, lui/addi,
# lui/addiw, auipc/addi, addi/bne and addiw/bne
FUSED = """
.option norvc
    li s1, 0
    li s0, 20
    li a0, 5
loop:
    slli a1, a0, 40
    srli a1, a1, 35
    add a2, a1, a0
    srli a2, a2, 3
    srli a3, a2, 1
    add a3, a3, a0
    lui a4, 0x12345
    addi a4, a4, -1
    lui a5, 0x80000
    addiw a5, a5, -3
    la a6, loop
    add s1, s1, a1
    add s1, s1, a2
    add s1, s1, a3
    add s1, s1, a4
    add s1, s1, a5
    add s1, s1, a6
    addi a0, a0, 7
.option rvc
    c.slli a0, 3
    c.srli a0, 2
    c.addi s0, -1
    c.bnez s0, loop
.option norvc
    li t1, 10
again:
    addi s1, s1, 3
    addiw t1, t1, -1
    bnez t1, again
    ebreak
"""


def fused_in_python(loop_addr):
    mask = (1 << 64) - 1
    a0, s1 = 5, 0
    for _ in range(20):
        a1 = ((a0 << 40) & mask) >> 35
        a2 = ((a1 + a0) & mask) >> 3
        a3 = ((a2 >> 1) + a0) & mask
        a4 = 0x12345000 - 1
        a5 = 0x7FFFFFFD          # addiw: 0x80000000 - 3 in 32 bits, sign-extended
        s1 = (s1 + a1 + a2 + a3 + a4 + a5 + loop_addr) & mask
        a0 = (a0 + 7) & mask
        a0 = ((a0 << 3) & mask) >> 2
    return s1 + 30


# the other fused pairs: addi/add, mul/add, xor/add, add/sb, add/sd,
# addw/bltu, lbu/beq, addi/beq
FUSED_MORE = """
.option norvc
    la s1, buf
    li s2, 0
    li t0, 0
    li t1, 12
    li t2, 1
    li a0, 3
loop:
    addi a1, a0, 5
    add a1, a1, a0
    mul a2, a1, a0
    add a2, a2, a1
    xor a3, a2, a1
    add a3, a3, a0
    add a4, s1, t0
    sb a3, 0(a4)
    slli a5, t0, 3
    add a5, a5, s1
    sd a2, 64(a5)
    add s2, s2, a3
    addi a0, a0, 1
    addw t0, t0, t2
    bltu t0, t1, loop
    lbu a6, 5(s1)
    li t0, 0
scan:
    add a4, s1, t0
    addi t0, t0, 1
    lbu a7, 0(a4)
    beq a7, a6, found
    addi t3, t0, -12
    beqz t3, found
    j scan
found:
    ld s3, 152(s1)
    ebreak
.balign 8
buf:
    .skip 192
"""


def fused_more_in_python():
    a0, s2 = 3, 0
    buf = bytearray(192)
    for t0 in range(12):
        a1 = 2 * a0 + 5
        a2 = a1 * a0 + a1
        a3 = (a2 ^ a1) + a0
        buf[t0] = a3 & 0xFF
        buf[64 + 8 * t0:72 + 8 * t0] = a2.to_bytes(8, "little")
        s2 += a3
        a0 += 1
    t0 = next(i + 1 for i in range(12) if buf[i] == buf[5])
    return s2, t0, bytes(buf)


def test_more_fused_pairs_compute_what_their_two_instructions_do():
    core, prog = load(FUSED_MORE)
    run_to_ebreak(core)
    s2, t0, buf = fused_more_in_python()
    assert reg(core, "s2") == s2 and reg(core, "t0") == t0
    assert core.read_mem(prog["buf"], 192) == buf
    assert reg(core, "s3") == int.from_bytes(buf[152:160], "little")


def stops(src, step):
    # (instret, pc, x[]) at every budget exit of runs of `step` instructions
    core, _ = load(src)
    seen = []
    while core.run(step) == EXIT_BUDGET:
        seen.append((core.stats()["instret"], core.pc, tuple(core.x)))
    assert core.exit_cause == 3
    seen.append((core.stats()["instret"], core.pc, tuple(core.x)))
    return seen


def test_fused_pairs_compute_what_their_two_instructions_do():
    core, prog = load(FUSED)
    run_to_ebreak(core)
    assert reg(core, "s1") == fused_in_python(prog["loop"])
    assert reg(core, "a5") == 0x7FFFFFFD and reg(core, "a6") == prog["loop"]
    # li s1, li s0, li a0, 20 loops of 23 (la is two), li t1, 10 of 3
    assert core.stats()["instret"] == 3 + 20 * 23 + 1 + 10 * 3


@pytest.mark.parametrize("src", [FUSED, FUSED_MORE], ids=["fused", "fused-more"])
@pytest.mark.parametrize("step", [2, 3, 5, 7, 22, 1000])
def test_budget_splits_inside_fused_pairs(step, src):
    # one at a time, a fused slot runs only its first instruction; every stop
    # of a larger budget, inside a pair or not, must be the state one-at-a-time
    # execution had after the same number of instructions
    single = {instret: (pc, x) for instret, pc, x in stops(src, 1)}
    seen = stops(src, step)
    assert len(seen) > 1 or step == 1000
    for instret, pc, x in seen:
        assert (pc, x) == single[instret], instret


@pytest.mark.parametrize("half", ["first", "second"])
def test_rewriting_one_half_of_a_fused_pair(half):
    # slli/srli run fused; then one of them is rewritten and the pair must
    # run what the code now says
    core, prog = load("""
.option norvc
    la t0, pair
    lw t1, repl
    li a0, 3
    li s1, 0
again:
pair:
    slli a1, a0, 4
    srli a1, a1, 1
    add s2, s2, a1
    bnez s1, done
    li s1, 1
    sw t1, %s(t0)
    j again
done:
    ebreak
repl:
    %s
""" % (("0", "slli a1, a0, 8") if half == "first" else ("4", "srli a1, a1, 2")))
    run_to_ebreak(core)
    second = (3 << 8) >> 1 if half == "first" else (3 << 4) >> 2
    assert reg(core, "s2") == 24 + second


def test_a_fused_pair_whose_second_half_was_decoded_first():
    # the srli is decoded first, as a jump target, then joined by the run
    # of the slli before it; rewriting the srli must undo the fused pair
    core, prog = load("""
.option norvc
    la t0, second
    lw t1, repl
    li a0, 3
    li a1, 64
    li s1, 0
    j second
again:
    slli a1, a0, 4
second:
    srli a1, a1, 1
    add s2, s2, a1
    addi s1, s1, 1
    li t2, 2
    beq s1, t2, rewrite
    li t2, 4
    bne s1, t2, again
    ebreak
rewrite:
    sw t1, 0(t0)
    j again
repl:
    srli a1, a1, 3
""")
    run_to_ebreak(core)
    # 64 >> 1, then (3 << 4) >> 1 fused, then twice (3 << 4) >> 3
    assert reg(core, "s2") == 32 + 24 + 6 + 6


ADD_LOAD = """
.option norvc
    la s1, cell
    li t0, 3
    li s3, 0
loop:
    add a1, s1, s2
    lw a3, 4(a1)
    add a4, a4, a3
    add a5, s1, s2
    ld a6, 16(a5)
    add a4, a4, a6
    addi t0, t0, -1
    bnez t0, loop
    bnez s3, done
    li s3, 1
    li s1, 0x10000000
    li t0, 1
    j loop
done:
    ebreak
.balign 8
cell:
    .word 0, 0x11, 0
    .word 0
    .dword 0x1000
"""


@pytest.mark.parametrize("step", [1, 2, 3, 1000])
def test_a_load_leaving_the_fast_run_in_the_second_half_of_a_fused_pair(step):
    # add/lw and add/ld run fused; the loads' first run misses the TLB and
    # the fourth reaches MMIO: each leaves at the load's own slot with the add
    # retired, whatever the budget
    core, prog = load(ADD_LOAD)
    assert run_in_steps(core, step) == core_mod.EXIT_MMIO
    assert core.exit_addr == 0x10000004 and core.pc == prog["loop"] + 4
    assert reg(core, "a1") == 0x10000000
    assert reg(core, "a4") == 3 * (0x11 + 0x1000)
    # la (2), li, li, 3 loops of 8, bnez, li, li (a lui), li, j, add
    assert core.stats()["instret"] == 4 + 24 + 1 + 1 + 1 + 1 + 1 + 1
    core.complete_mmio(0x200)
    assert run_in_steps(core, step) == core_mod.EXIT_MMIO and core.exit_addr == 0x10000010
    assert core.pc == prog["loop"] + 16 and reg(core, "a5") == 0x10000000
    core.complete_mmio(0x30000)
    assert run_in_steps(core, step) == core_mod.EXIT_TRAP
    assert core.exit_cause == 3
    assert reg(core, "a4") == 3 * (0x11 + 0x1000) + 0x200 + 0x30000

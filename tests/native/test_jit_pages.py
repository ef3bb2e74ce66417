"""The translator's blocks going on to blocks of other pages (native/jit.pxi,
jit_far_enter): a jump or jalr off a block's page enters the target page as
the fetch path would on a fetch TLB hit, without coming back to the
interpreter. Whatever changes under it (a mapping, the code, the budget, an
interrupt), the state and every counter must be the interpreter's."""

import pytest

from pyvmm.isa import codec
from .helpers import RAM_BASE, core_mod, reg
from .test_jit import MTIMECMP, lockstep, needs_jit, pair, timer_handler, timer_lockstep
from .test_mmu import A, CSR_SATP, D, PageTables, R, SV39, W, X

EIGHT = "\n".join(["    addi a1, a1, 1"] * 8)
# page A counts s1 down and goes on to page B (B's own end follows)
PAGES_A_B = f"""page_a:
{EIGHT}
    addi s1, s1, -1
    bnez s1, page_b
    ebreak
.balign 4096
page_b:
{EIGHT}
"""

# a loop over three pages: A jumps to B (jal), B to C through a jalr, C back
# to A (jal); C's run stops mid-block at a csrr (the interpreter's), B's
# loads and stores a word of buf through the TLB's fast path
THREE_PAGES = f"""
.option norvc
    la s0, buf
    la s2, page_c
    li s1, {{rounds}}
{PAGES_A_B}    ld t0, 0(s0)
    add t0, t0, a1
    sd t0, 0(s0)
    jr s2
.balign 4096
page_c:
{EIGHT}
    csrr t1, mscratch
    addi t1, t1, 1
    csrw mscratch, t1
{EIGHT}
    j page_a
.balign 4096
buf: .skip 64
"""


@needs_jit
@pytest.mark.parametrize("step", [1, 8, 9, 10, 11, 18, 27, 1000, 1_000_000])
@pytest.mark.parametrize("threshold", [1, 2, 32])
def test_a_loop_over_three_pages_matches_the_interpreter(step, threshold):
    # budgets of 9, 18, 27 end right at a page's jump; threshold 32 lets the
    # first rounds jump to pages whose runs have no block yet
    jit, interp, prog = pair(THREE_PAGES.format(rounds=500), threshold=threshold)
    assert lockstep(jit, interp, step, prog=prog, data="buf") == core_mod.EXIT_TRAP
    assert reg(jit, "a1") == 500 * 8 + 499 * 24
    if step >= 1000:
        # every round jumps off a page three times; the blocks chain
        # across them, so the fast run enters a block a few times a round
        # at most (C's csrr stops its block), not once per page
        assert 0 < jit.jit_stats()["jit_block_runs"] < 500 * 3


@needs_jit
def test_chaining_across_pages_counts_what_the_fetch_path_counts():
    # two pages jumping to each other: the far chain must count each page
    # entry as a fetch TLB hit, as the interpreter's re-entry does
    source = f"""
.option norvc
    li s1, 20000
a:
{EIGHT}
    addi s1, s1, -1
    bnez s1, b
    ebreak
.balign 4096
b:
{EIGHT}
    j a
"""
    jit, interp, _ = pair(source)
    lockstep(jit, interp, 10_000_000)
    stats = jit.stats()
    assert stats == interp.stats()
    # 19999 jumps each way, every one a fetch TLB hit but the first to b
    assert stats["tlb_hits"] == 2 * 19999 - 1
    assert jit.jit_stats()["jit_block_runs"] < 100


# S-mode code through Sv39 page tables; `window` is a virtual page the M-mode
# handler maps to page one or page two by turns (a PTE rewritten and
# sfence.vma, or another root put in satp) on each ecall
PAGED = f"""
.option norvc
    la t0, mhandler
    csrw mtvec, t0
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smain
    csrw mepc, t0
    mret
smain:
    li s1, 40
outer:
    li s2, 25
inner:
{EIGHT}
    jal ra, window
    addi s2, s2, -1
    bnez s2, inner
    ecall
    addi s1, s1, -1
    bnez s1, outer
    ebreak
mhandler:
    beqz s6, 1f
    csrr t6, satp
    xor t6, t6, s5
    csrw satp, t6
    j 2f
1:
    ld t6, 0(s4)
    xor t6, t6, s5
    sd t6, 0(s4)
    sfence.vma
2:
    csrr t6, mepc
    addi t6, t6, 4
    csrw mepc, t6
    mret
.balign 4096
window: .skip 4096
page_one:
{"".join(["    addi a0, a0, 1" + chr(10)] * 8)}    ret
.balign 4096
page_two:
{"".join(["    addi a0, a0, 100" + chr(10)] * 8)}    ret
"""


@needs_jit
@pytest.mark.parametrize("how", ["pte", "satp"])
@pytest.mark.parametrize("step", [1_000_000, 37])
def test_a_jump_into_a_page_whose_mapping_changed(how, step):
    cores = pair(PAGED, ram_size=4 << 20)
    jit, interp, prog = cores
    code_pages = range(RAM_BASE, prog["window"], 0x1000)
    for core in (jit, interp):
        roots = []
        for n, root in enumerate((RAM_BASE + 0x10_0000, RAM_BASE + 0x18_0000)):
            pt = PageTables(core, root=root)
            for page in code_pages:
                pt.map(page, page, R | W | X | A | D)
            pt.map(prog["window"], prog["page_one"] if n == 0 else prog["page_two"], R | X | A)
            roots.append(pt)
        core.write_csr(CSR_SATP, roots[0].satp())
        core.x[20] = roots[0].pte_addr(prog["window"])                  # s4: the PTE the handler flips
        if how == "pte":
            core.x[21] = ((prog["page_one"] ^ prog["page_two"]) >> 12) << 10   # s5
            core.x[22] = 0                                              # s6: flip the PTE
        else:
            core.x[21] = roots[0].satp() ^ roots[1].satp()
            core.x[22] = 1                                              # s6: switch roots
    assert lockstep(jit, interp, step) == core_mod.EXIT_TRAP
    # 40 rounds of 25 calls, alternately into page one (+8) and page two (+800)
    assert reg(jit, "a0") == 20 * 25 * 8 + 20 * 25 * 800
    assert jit.stats()["tlb_misses"] == interp.stats()["tlb_misses"]
    assert jit.read_csr(CSR_SATP) >> 60 == SV39
    if step == 1_000_000:
        assert jit.jit_stats()["jit_block_runs"] < 40 * 25


@needs_jit
@pytest.mark.parametrize("threshold", [1, 32])
def test_a_jump_into_a_page_whose_code_was_overwritten(threshold):
    # every 16th round, page A rewrites page B's first addi (1 <-> 7)
    source = f"""
.option norvc
    la s0, page_b
    lw s3, one
    lw s4, seven
    xor s4, s4, s3
    li s1, 400
page_a:
{EIGHT}
    andi t0, s1, 15
    bnez t0, 1f
    lw t1, 0(s0)
    xor t1, t1, s4
    sw t1, 0(s0)
1:
    addi s1, s1, -1
    bnez s1, page_b
    ebreak
one: addi a0, a0, 1
seven: addi a0, a0, 7
.balign 4096
page_b:
    addi a0, a0, 1
{EIGHT}
    j page_a
"""
    jit, interp, _ = pair(source, threshold=threshold)
    assert lockstep(jit, interp, 1_000_000) == core_mod.EXIT_TRAP
    assert reg(jit, "a0") not in (399, 399 * 7)     # both versions of page B ran


@needs_jit
def test_a_timer_interrupt_due_while_blocks_chain_across_pages():
    # the handler records where each interrupt came (mepc) and instret
    source = f"""
.option norvc
    la t0, handler
    csrw mtvec, t0
    la s0, buf
    li s1, 3000
    li t0, {MTIMECMP}
    li t1, 41
    sd t1, 0(t0)
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
{PAGES_A_B}    j page_c
.balign 4096
page_c:
{EIGHT}
    j page_a
{timer_handler("s2", 97)}.balign 4096
buf: .skip 4096
"""
    timer_lockstep(source, "s2")


# ------------------------------------------------ a lone `j` after a branch

def j_word(offset):
    """jal x0, offset: the word a `j` holds."""
    return codec.encode("jal", rd=0, imm=offset)


STUBS = f"""
{{rvc}}
    li s1, 600
loop:
{EIGHT}
    addi s1, s1, -1
    beqz s1, done
    j page_b
done:
    ebreak
.balign 4096
page_b:
{EIGHT}
    addi t2, t2, 1
    bnez t2, 1f
    ebreak
1:
    j page_c
.balign 4096
page_c:
{EIGHT}
    bnez s1, 2f
    ebreak
2:
    j loop
"""


@needs_jit
@pytest.mark.parametrize("step", [1, 9, 10, 11, 12, 22, 1000, 1_000_000])
@pytest.mark.parametrize("rvc", [".option norvc", ".option rvc"])
def test_a_branch_falling_through_to_a_lone_jump(step, rvc):
    # every page's block ends in a branch whose fall-through is a `j` to the
    # next page (as translated code's exit stubs are): the block runs the
    # `j` itself and goes on; budgets of 10, 11 and 22 end right at a `j`.
    # Translated at their second entry, the blocks find the `j`s decoded
    # (the first round ran them)
    jit, interp, _ = pair(STUBS.format(rvc=rvc), threshold=2)
    assert lockstep(jit, interp, step) == core_mod.EXIT_TRAP
    assert reg(jit, "a1") == 600 * 8 + 599 * 16
    if step >= 1000:
        assert jit.jit_stats()["jit_block_runs"] < 50


@needs_jit
@pytest.mark.parametrize("threshold", [2, 32])
def test_a_lone_jump_rewritten_under_the_block_that_runs_it(threshold):
    # every 32nd round page A rewrites its own `j` (to page B <-> to page C)
    # while the block that falls through to it stays: it must see the new one
    source = f"""
.option norvc
    la s0, stub
    la t0, words
    ld s3, 0(t0)
    li s1, 800
page_a:
{EIGHT}
    andi t0, s1, 31
    bnez t0, 1f
    lw t1, 0(s0)
    xor t1, t1, s3
    sw t1, 0(s0)
1:
    addi s1, s1, -1
    beqz s1, done
stub:
    j page_b
done:
    ebreak
.balign 8
words: .dword 0
.balign 4096
page_b:
{EIGHT}
    j page_a
.balign 4096
page_c:
    addi a0, a0, 1
{EIGHT}
    j page_a
"""
    jit, interp, prog = pair(source, threshold=threshold)
    flip = j_word(prog["page_b"] - prog["stub"]) ^ j_word(prog["page_c"] - prog["stub"])
    assert int.from_bytes(jit.read_mem(prog["stub"], 4), "little") == j_word(prog["page_b"] - prog["stub"])
    for core in (jit, interp):
        core.write_mem(prog["words"], flip.to_bytes(8, "little"))
    assert lockstep(jit, interp, 1_000_000) == core_mod.EXIT_TRAP
    # the round with s1 = v jumps (v > 1) after 25 - (v - 1) // 32 flips: to C when odd
    assert reg(jit, "a0") == sum(1 for v in range(2, 801) if (25 - (v - 1) // 32) % 2 == 1)


CALLS = f"""
{{rvc}}
    la s2, page_b
    li s1, 500
loop:
{EIGHT}
    mv t0, s2
    addi s1, s1, -1
    beqz s1, done
    jalr t0, 0(t0)
{EIGHT}
    bnez s1, loop
done:
    ebreak
.balign 4096
page_b:
{EIGHT}
    beq a1, a1, 1f
    ebreak
1:
    bnez s1, 2f
    ebreak
2:
    addi a3, a3, 1
    jr t0
"""


@needs_jit
@pytest.mark.parametrize("step", [1, 11, 12, 13, 14, 1000, 1_000_000])
@pytest.mark.parametrize("rvc", [".option norvc", ".option rvc"])
def test_a_lone_jalr_and_a_branch_to_a_branch(step, rvc):
    # page A's block falls through onto a lone `jalr t0, 0(t0)` (the target
    # from t0, then the link into it): the block runs it and goes on to page
    # B, whose block branches onto a lone branch, runs it too and goes on
    jit, interp, _ = pair(CALLS.format(rvc=rvc), threshold=2)
    assert lockstep(jit, interp, step) == core_mod.EXIT_TRAP
    assert reg(jit, "a3") == 499 and reg(jit, "a1") == 500 * 8 + 499 * 16
    if step >= 1000:
        assert jit.jit_stats()["jit_block_runs"] < 50

"""The BT translator and translation cache on hand-written blocks, no guest:
translate, check the emitted words decode to what they should, run blocks on
a bare Core (M-mode, no paging: gp holds the state page's address, STATE, as
the runtime sets it, and the guest's gp waits in the state page) and compare
with the guest instructions run natively."""

import pytest
from hypothesis import given, settings, strategies as st

from pyvmm.asm import assemble
from pyvmm.hv.bt import emit
from pyvmm.hv.bt.cache import MAX_BLOCK_BYTES, IndirectTable, TranslationCache
from pyvmm.hv.bt.layout import (BASE_REG, GUEST_GP, IBL_OFFSET, SFENCE_WORK, SPILL_IBL, SPILL_OLD,
                                SPILL_RENAME, SPILL_TARGET, SPILL_TEMP, STATE_BYTES, STATE_OFFSET)
from pyvmm.hv.bt.translator import (GUEST_PC, INSN, KIND, LENGTH, LITERAL, MAX_BLOCK_INSNS,
                                    NO_TARGET, SITE, TARGET, FetchFault, translate_block)
from pyvmm.hv.vcpu_state import SupervisorState
from pyvmm.isa import codec
from pyvmm.isa.csrs import CSRS

GUEST = 0x8020_0000            # where the guest block "is" (never executed there)
TC = 0x10000                   # where the translation runs on the bare core
MASK64 = (1 << 64) - 1
ECALL_M = 11
SMALL_TC = 2 * 4096               # room for two blocks of the largest kind
STATE = 0x8000                 # the state page on the bare core


def guest_code(source, base=GUEST):
    prog = assemble(source, section_starts={".text": base})
    text = next(s for s in prog.sections if s.name == ".text")
    return text.data, prog.symbols


def fetcher(data, base=GUEST):
    def fetch(gva):
        offset = gva - base
        if not 0 <= offset <= len(data) - 2:
            raise FetchFault(gva)
        return int.from_bytes(data[offset:offset + 2], "little")
    return fetch


def translate(source, **options):
    data, symbols = guest_code(source)
    return translate_block(fetcher(data), GUEST, TC, **options), symbols


def names(block):
    return [codec.decode(w)[0].name for w in block.words]


@pytest.fixture(scope="module")
def core_type():
    core_module = pytest.importorskip("pyvmm._core")
    return core_module.Core


def bare_core(core_type):
    core = core_type(ram_size=1 << 20, ram_base=0)
    core.exit_on_exception = (1 << 24) - 1
    return core


def set_guest_regs(core, regs):
    """The guest's registers as the runtime enters translated code with them:
    gp in the state page, the core's gp pointing there."""
    for i, value in regs.items():
        if i == BASE_REG:
            core.write_mem(STATE + GUEST_GP, (value & MASK64).to_bytes(8, "little"))
        else:
            core.set_x(i, value & MASK64)
    core.set_x(BASE_REG, STATE)


def guest_regs(core):
    """x1..x31 as the guest sees them (gp from the state page)."""
    regs = core.x.tolist()[1:]
    regs[BASE_REG - 1] = state_slot(core, GUEST_GP)
    return regs


def run_block(core, block, regs=None, state=None):
    """Run a translated block at TC in M-mode until its first callout;
    returns the callout reached."""
    set_guest_regs(core, regs or {})
    for name, value in (state or {}).items():
        core.write_mem(STATE + STATE_OFFSET[name], (value & MASK64).to_bytes(8, "little"))
    core.write_mem(block.tc_addr, b"".join(w.to_bytes(4, "little") for w in block.words))
    core.pc = block.tc_addr
    assert core.run(10_000) == 3 and core.exit_cause == ECALL_M
    assert core.get_x(BASE_REG) == STATE                 # translated code never loses its base
    return dict(block.callouts)[core.exit_pc]


def table(core):
    """The lookup table where translated code finds it: IBL_OFFSET past the state page."""
    return IndirectTable(core, STATE + IBL_OFFSET)


def state_slot(core, offset):
    return int.from_bytes(core.read_mem(STATE + offset, 8), "little")


# -- copying and PC-relative code ---------------------------------------------------------------

def test_a_block_is_a_record_the_garbage_collector_does_not_track():
    import gc
    block, _ = translate("add a0, a1, a2\n1: j 1b")
    assert not gc.is_tracked(block)
    same = type(block)(*[getattr(block, f) for f in (
        "guest_pc", "tc_addr", "words", "starts", "pcs", "callouts", "guest_end", "guest_insns",
        "pages", "renamed", "gpa_pages")])
    assert same == block and not same != block
    same.gpa_pages = (GUEST,)
    assert same != block and same.gpa_pages == (GUEST,)
    with pytest.raises(TypeError):
        same.gpa_pages = [GUEST]                 # tuples only: nothing that could hold a block
    with pytest.raises(AttributeError):
        same.words = ()


def test_a_block_s_tuples_of_ints_and_kinds_are_not_tracked_either():
    """Its words, pcs and callout records can be in no cycle: no young
    collection walks them (a booting kernel's blocks hold tens of
    thousands); a tuple holding anything else stays tracked."""
    import gc
    block, _ = translate("add a0, a1, a2\n beq a0, a1, 1f\n1: jalr ra, 0(a0)")
    fields = (block.words, block.starts, block.pcs, block.callouts, block.pages)
    assert all(len(f) for f in fields) and not any(gc.is_tracked(f) for f in fields)
    assert not any(gc.is_tracked(c) or gc.is_tracked(c[1]) for c in block.callouts)
    odd = ((0x1000, ("exit", 1, 0, 4, 1, 0, [])),)
    other = type(block)(GUEST, TC, block.words, block.starts, block.pcs, odd, block.guest_end,
                        block.guest_insns, block.pages)
    assert gc.is_tracked(other.callouts) and gc.is_tracked(other.callouts[0][1])
    with pytest.raises(TypeError):
        hash(block)


def test_innocuous_instructions_are_copied_compressed_ones_expanded():
    block, _ = translate("add a0, a1, a2\n ld t0, 8(a5)\n c.addi a0, 1\n sd a0, 0(t1)\n "
                         "amoadd.w t0, t1, (a0)\n fence\n1: j 1b")
    # The exit stub: a callout with room for a far chain.
    assert names(block) == ["add", "ld", "addi", "sd", "amoadd.w", "fence", "ecall", "addi", "addi"]
    assert list(block.words[:2]) == [int.from_bytes(guest_code("add a0, a1, a2\n ld t0, 8(a5)")[0][i:i + 4],
                                              "little") for i in (0, 4)]
    assert block.words[2] == codec.expand_compressed(0x0505)
    # Each guest instruction's first TC word, then the exit stub standing for the jump target.
    assert [pc - GUEST for _, pc in block.pcmap] == [0, 4, 8, 10, 14, 18, 22, 22]
    assert block.exits() == [(TC + 24, GUEST + 22)]          # `j 1b` assembled as c.j
    assert block.guest_end == GUEST + 24 and block.guest_insns == 7


def test_auipc_and_jal_materialise_guest_addresses(core_type):
    block, symbols = translate("auipc t0, 0x12\n auipc t1, 0xfffff\n jal ra, target\n nop\n"
                               "target: nop")
    core = bare_core(core_type)
    callout = run_block(core, block)
    assert core.get_x(5) == GUEST + (0x12 << 12)
    assert core.get_x(6) == (GUEST + 4 - 0x1000) & MASK64
    assert core.get_x(1) == GUEST + 12                   # link = the guest's next pc
    assert (callout[KIND], callout[TARGET]) == ("exit", symbols["target"])
    assert "auipc" not in names(block) and "jal" not in names(block)


@pytest.mark.parametrize("a, b, taken", [(1, 2, True), (2, 2, False), (-1, 0, True)])
def test_a_branch_hops_over_its_taken_stub_and_the_block_goes_on(core_type, a, b, taken):
    block, symbols = translate("blt a0, a1, target\n addi a2, a2, 1\n"
                               "target: addi a3, a3, 1\n j out\nout: nop")
    core = bare_core(core_type)
    callout = run_block(core, block, {10: a, 11: b})
    assert callout[KIND] == "exit"
    assert callout[TARGET] == (symbols["target"] if taken else symbols["out"])
    assert (core.get_x(12), core.get_x(13)) == ((0, 0) if taken else (1, 1))
    # a superblock: the inverted branch, the taken side's stub, then the fall-through
    assert names(block)[:5] == ["bge", "ecall", "addi", "addi", "addi"]
    assert block.exits() == [(TC + 4, symbols["target"]), (TC + 24, symbols["out"])]
    assert block.guest_insns == 4 and block.guest_end == symbols["out"]
    # every TC word stands for its guest instruction: the stub for the taken target
    assert [pc for _, pc in block.pcmap] == [GUEST, symbols["target"], GUEST + 4,
                                             symbols["target"], symbols["target"] + 2,
                                             symbols["out"]]
    assert [tc for tc, _ in block.pcmap] == [TC, TC + 4, TC + 16, TC + 20, TC + 24, TC + 24]


def test_a_branch_at_the_page_end_ends_in_two_exit_stubs(core_type):
    data, symbols = guest_code("\n".join(["c.nop"] * 2046) + "\n blt a0, a1, target\ntarget: nop")
    block = translate_block(fetcher(data), GUEST + 4096 - 4, TC)
    assert block.guest_insns == 1 and block.guest_end == GUEST + 4096
    assert block.exits() == [(TC + 4, symbols["target"]), (TC + 16, GUEST + 4096)]
    core = bare_core(core_type)
    for a, target in ((0, GUEST + 4096), (-1, symbols["target"])):
        assert run_block(core, block, {10: a, 11: 0})[TARGET] == target


@pytest.mark.parametrize("source, rd, rs1", [("auipc t1, 0\n jalr ra, 20(t1)", 1, 6),
                                           ("auipc ra, 0\n jalr ra, 20(ra)", 1, 1),
                                           ("auipc t1, 0\n jalr x0, 20(t1)", 0, 6),
                                           ("auipc t1, 0\n c.jalr t1", 1, 6)])
def test_a_call_through_auipc_is_a_direct_jump(core_type, source, rd, rs1):
    """auipc + jalr through the register it set (how a kernel linked
    without relaxation calls): the target is known, so the jump is an exit
    stub as jal's, no inline cache; the registers end as the guest's."""
    block, _ = translate(source + "\n nop\n nop\n nop\n nop\n nop\n nop")
    offset = 0 if "c.jalr" in source else 20
    jalr_pc = GUEST + 4
    length = 2 if "c.jalr" in source else 4
    assert [c[KIND] for _, c in block.callouts] == ["exit"]
    assert block.exits()[0][1] == GUEST + offset
    assert block.guest_end == jalr_pc + length
    core = bare_core(core_type)
    regs = {i: 0x1000 + i for i in range(1, 32)}
    callout = run_block(core, block, regs)
    assert (callout[KIND], callout[TARGET]) == ("exit", GUEST + offset)
    expected = dict(regs)
    expected[rs1] = GUEST
    if rd:
        expected[rd] = jalr_pc + length
    assert guest_regs(core) == [expected[i] for i in range(1, 32)]


@pytest.mark.parametrize("source", ["auipc t1, 0\n addi a0, a0, 1\n jalr ra, 20(t1)",
                                    "auipc t1, 0\n jalr ra, 20(t2)",
                                    "auipc t1, 0\n jalr gp, 20(t1)"])
def test_a_jalr_not_right_after_the_auipc_of_its_base_stays_indirect(source):
    block, _ = translate(source)
    assert [c[KIND] for _, c in block.callouts] == ["jalr"]


def test_compressed_jumps_link_past_two_bytes():
    block, _ = translate("c.jr ra\n nop")
    callout = dict(block.callouts)[max(dict(block.callouts))]
    assert (callout[KIND], callout[LENGTH]) == ("jalr", 2)
    assert callout[INSN] == codec.expand_compressed(0x8082)
    assert block.guest_insns == 1 and callout[LITERAL] % 8 == 0


@pytest.mark.parametrize("source, rd, rs1", [("jalr ra, 8(a0)", 1, 10), ("jalr ra, 8(ra)", 1, 1),
                                              ("c.jr t0", 0, 5), ("jalr t1, -4(t0)", 6, 5),
                                              ("jalr gp, 8(a0)", 3, 10), ("jalr ra, 8(gp)", 1, 3),
                                              ("jalr gp, 8(gp)", 3, 3)])
def test_indirect_jumps_miss_then_hit_their_inline_cache(core_type, source, rd, rs1):
    """First run: the cache misses (a jalr callout, rd linked, the target in
    the state page); once the runtime links it, the same jump goes straight
    to the target's block, every borrowed register restored."""
    core = bare_core(core_type)
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    data, _ = guest_code(source + "\n nop")
    block = tc.translate(fetcher(data), GUEST)
    imm = {"c.jr t0": 0, "jalr t1, -4(t0)": -4}.get(source, 8)
    base = 0x8030_0001                                   # bit 0 set: jalr clears it
    target = (base + imm) & ~1
    regs = {i: 0x1000 + i for i in range(1, 32)}
    regs[rs1] = base
    expected = dict(regs)
    if rd:
        expected[rd] = GUEST + len(data) - 2 if source.startswith("c.") else GUEST + 4
    for hit in (False, True):
        set_guest_regs(core, regs)
        core.pc = block.tc_addr
        assert core.run(1000) == 3 and core.exit_cause == ECALL_M
        assert guest_regs(core) == [expected[i] for i in range(1, 32)]
        assert core.get_x(BASE_REG) == STATE
        if not hit:
            callout = tc.callouts[core.exit_pc]
            assert callout[KIND] == "jalr"
            assert state_slot(core, SPILL_TARGET) == target
            target_block = tc.translate(fetcher(b"\x73\x00\x00\x00", target), target,
                                        [target & ~0xFFF])
            assert tc.link_indirect(callout[SITE], callout[LITERAL], target_block)
        else:
            assert core.exit_pc == target_block.tc_addr    # the target block's own ecall
    assert tc.invalidate_page(target & ~0xFFF) == 1        # unlinking: misses again
    core.pc = block.tc_addr
    assert core.run(1000) == 3 and tc.callouts[core.exit_pc][KIND] == "jalr"


def _inline_cache_and_two_targets(core_type):
    """A TC holding a block whose jalr's inline cache is unlinked (its hit
    site and literal), and two target blocks at 0x8030_0000 and 0x8040_0000."""
    core = bare_core(core_type)
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    data, _ = guest_code("jalr ra, 0(a0)\n nop")
    block = tc.translate(fetcher(data), GUEST)
    site, literal = next((c[SITE], c[LITERAL]) for _, c in block.callouts if c[KIND] == "jalr")
    ecall = b"\x73\x00\x00\x00"
    targets = [tc.translate(fetcher(ecall, pc), pc, [pc & ~0xFFF])
               for pc in (0x8030_0000, 0x8040_0000)]
    return core, tc, data, site, literal, targets


def test_a_target_with_one_stub_forgets_it_when_the_cache_is_re_pointed(core_type):
    _, tc, _, site, literal, (first, second) = _inline_cache_and_two_targets(core_type)
    assert tc.link_indirect(site, literal, first)
    assert tc.incoming_stubs(0x8030_0000) == (site,)
    assert tc.link_indirect(site, literal, second)
    assert tc.incoming_stubs(0x8030_0000) == () and 0x8030_0000 not in tc.incoming
    assert tc.incoming_stubs(0x8040_0000) == (site,)
    assert tc.invalidate_page(0x8040_0000) == 1
    assert site not in tc.patched and tc.incoming_stubs(0x8040_0000) == ()


def test_an_inline_cache_re_pointed_is_unlinked_with_its_new_target_only(core_type):
    core, tc, data, site, literal, targets = _inline_cache_and_two_targets(core_type)
    callers = [tc.translate(fetcher(data, pc), pc, [pc]) for pc in (GUEST + 0x2000, GUEST + 0x3000)]
    for caller in callers:                     # other jumps into the first target
        stub = next(s for s, c in caller.callouts if c[KIND] == "jalr")
        tc.link_indirect(dict(caller.callouts)[stub][SITE], dict(caller.callouts)[stub][LITERAL],
                         targets[0])
    assert tc.link_indirect(site, literal, targets[0])
    assert tc.link_indirect(site, literal, targets[1])
    assert tc.incoming_stubs(0x8040_0000) == (site,) and site not in tc.incoming_stubs(0x8030_0000)
    assert len(tc.incoming_stubs(0x8030_0000)) == 2
    assert tc.invalidate_page(0x8030_0000) == 1             # the old target: the site stays
    assert tc.patched[site] == 0x8040_0000
    assert int.from_bytes(core.read_mem(tc.hpa_of(literal), 8), "little") == 0x8040_0000
    assert tc.invalidate_page(0x8040_0000) == 1             # the new one: it misses again
    assert site not in tc.patched and 0x8040_0000 not in tc.incoming
    assert int.from_bytes(core.read_mem(tc.hpa_of(literal), 8), "little") == NO_TARGET


@pytest.mark.parametrize("source, rd, rs1", [("jalr ra, 8(a0)", 1, 10), ("c.jr t6", 0, 31),
                                              ("jalr t6, 8(a0)", 31, 10), ("jalr t6, 8(t6)", 31, 31),
                                              ("jalr gp, 8(gp)", 3, 3), ("jalr t0, 0(t1)", 5, 6)])
def test_indirect_jumps_find_their_target_in_the_lookup_table(core_type, source, rd, rs1):
    """An inline-cache miss probes the lookup table: once the runtime filled
    the target's entry, the jump reaches its block through the block's
    indirect entry with every register the guest's, t6 (the register the
    table jump goes through) too; dropping the block empties the entry."""
    core = bare_core(core_type)
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    data, _ = guest_code(source + "\n nop")
    block = tc.translate(fetcher(data), GUEST)
    base = 0x8030_0101
    target = (base + (0 if source.startswith("c.") or "0(" in source else 8)) & ~1
    regs = {i: 0x1000 + i for i in range(1, 32)}
    regs[rs1] = base
    expected = dict(regs)
    if rd:
        expected[rd] = GUEST + (2 if source.startswith("c.") else 4)
    target_block = tc.translate(fetcher(b"\x73\x00\x00\x00", target), target, [target & ~0xFFF])
    for run, filled in enumerate((False, True, False)):
        set_guest_regs(core, regs)
        core.pc = block.tc_addr
        assert core.run(1000) == 3 and core.exit_cause == ECALL_M
        assert guest_regs(core) == [expected[i] for i in range(1, 32)]
        assert core.get_x(BASE_REG) == STATE
        if filled:
            assert core.exit_pc == target_block.tc_addr
            assert tc.invalidate_page(target & ~0xFFF) == 1
        else:
            assert tc.callouts[core.exit_pc][KIND] == "jalr"
            assert state_slot(core, SPILL_TARGET) == target
            if run == 0:
                tc.remember_target(target_block)
    assert tc.table.targets == {}


def test_a_table_jump_stopped_at_the_indirect_entry_stands_at_the_target(core_type):
    core = bare_core(core_type)
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    data, _ = guest_code("jr a0")
    block = tc.translate(fetcher(data), GUEST)
    target = 0x8030_0100
    target_block = tc.translate(fetcher(b"\x73\x00\x00\x00", target), target, [target & ~0xFFF])
    tc.remember_target(target_block)
    set_guest_regs(core, {10: target, 31: 77})
    core.pc = block.tc_addr
    steps = 0
    while core.pc != target_block.tc_addr - 4:
        core.run(1)
        steps += 1
        assert steps < 100
    assert core.pc not in tc.boundaries                  # inside the jump: not an interrupt point
    assert tc.guest_pc_at(core.pc) == target
    core.run(1)
    assert core.pc == target_block.tc_addr and core.get_x(31) == 77


def test_an_exit_stub_beyond_jal_range_chains_through_the_indirect_entry(core_type):
    """A chained exit whose target block lies more than 1 MiB away is
    auipc+jalr through t6 to the block's indirect entry, which gives t6
    back; unchaining makes it a callout again."""
    core = core_type(ram_size=4 << 20, ram_base=0)
    core.exit_on_exception = (1 << 24) - 1
    frames = Frames()
    tc = TranslationCache(core, frames, table(core), base=TC, size=3 << 20)
    data, symbols = guest_code("j target\n .skip 8192\ntarget: ecall")
    block = tc.translate(fetcher(data), GUEST)
    far = TC + (2 << 20)
    tc.cursor = frames.next = far                # the target translated 2 MiB on: own-address frames
    target = symbols["target"]
    target_block = tc.translate(fetcher(data), target, [target & ~0xFFF])
    assert target_block.tc_addr == far + 4
    regs = {i: 0x1000 + i for i in range(1, 32)}
    set_guest_regs(core, regs)
    core.pc = block.tc_addr
    assert core.run(1000) == 3
    stub = core.exit_pc
    assert tc.callouts[stub][KIND] == "exit" and tc.callouts[stub][TARGET] == target
    assert tc.chain(stub, target_block) and tc.counters["chained_far"] == 1
    set_guest_regs(core, regs)
    core.pc = block.tc_addr
    assert core.run(1000) == 3 and core.exit_pc == target_block.tc_addr
    assert tc.callouts[core.exit_pc][KIND] == "ecall"
    assert guest_regs(core) == [regs[i] for i in range(1, 32)]
    assert tc.invalidate_page(target & ~0xFFF) == 1
    core.pc = block.tc_addr
    assert core.run(1000) == 3 and core.exit_pc == stub


# -- sensitive instructions ---------------------------------------------------------------------

@pytest.mark.parametrize("source, kind, ends", [
    ("sret", "sret", True),
    ("wfi", "wfi", False), ("ecall", "ecall", False), ("ebreak", "ebreak", True),
    ("c.ebreak", "ebreak", True), ("mret", "illegal", True), ("hfence.gvma", "illegal", True),
    ("csrw sstatus, gp", "csr", False), ("csrsi sstatus, 8", "csr", False),
    ("csrw sie, a0", "csr", False), ("csrw satp, a0", "csr", False), ("csrr a0, sip", "csr", False),
    ("csrw stvec, a0", "csr", False), ("rdcycle a0", "csr", False), ("csrrs a0, time, a1", "csr", False), ("csrr a0, mstatus", "csr", False),
    (".word 0", "illegal", True), ("csrw satp, gp", "csr", False),
])
def test_sensitive_instructions_become_callouts(source, kind, ends):
    block, _ = translate(f"{source}\n nop")
    first = dict(block.callouts)[TC]
    assert first[KIND] == kind and first[GUEST_PC] == GUEST
    last = max(dict(block.callouts))
    if ends:
        assert list(dict(block.callouts)) == [TC] and len(block.words) == 1
    else:
        assert dict(block.callouts)[last][KIND] == "exit" and names(block)[1] == "addi"


@pytest.mark.parametrize("source, t", [("sfence.vma", 5), ("sfence.vma a0, a1", 5),
                                       ("sfence.vma t0, t1", 7), ("sfence.vma gp", 5)])
@pytest.mark.parametrize("work", [0, 1])
def test_sfence_calls_out_only_when_the_runtime_flagged_work(core_type, source, t, work):
    block, _ = translate(f"{source}\n nop")
    callout = dict(block.callouts)[TC + 12]
    assert callout[KIND] == "sfence" and callout[GUEST_PC] == GUEST
    assert names(block)[:5] == ["sd", "ld", "beq", "ecall", "ld"]
    core = bare_core(core_type)
    core.write_mem(STATE + SFENCE_WORK, work.to_bytes(8, "little"))
    regs = {i: 0x1000 + i for i in range(1, 32)}
    reached = run_block(core, block, regs)
    steps = core.instret
    if work:
        # the callout, with the operands in place; it resumes at the restore
        assert reached is callout and core.exit_pc == TC + 12
        assert core.get_x(10) == regs[10] and core.get_x(11) == regs[11]
        core.pc = TC + 16
        assert core.run(10_000) == 3
        steps = core.instret                           # (a trapping ecall retires nothing)
    assert dict(block.callouts)[core.exit_pc][KIND] == "exit"
    assert guest_regs(core) == [regs[i] for i in range(1, 32)]
    assert core.get_x(t) == regs[t] and steps == 5     # four words either way, then the nop


def test_time_reads_are_copied():
    block, _ = translate("rdtime a0\n rdtime gp\n nop")
    assert block.words[0] == int.from_bytes(guest_code("rdtime a0")[0], "little")
    # rd gp: the read lands in the stand-in and goes to the guest's gp slot
    assert names(block)[1:6] == ["sd", "ld", "csrrs", "sd", "ld"]
    assert [c[KIND] for c in dict(block.callouts).values()] == ["exit"]


@pytest.mark.parametrize("csr", ["sstatus", "sie", "stvec", "sscratch", "sepc", "scause", "stval",
                                 "satp"])
def test_csr_reads_are_loads_from_the_state_page(core_type, csr):
    block, _ = translate(f"csrr a0, {csr}\n csrrs a1, {csr}, zero\n nop")
    assert names(block)[:2] == ["ld", "ld"] and not dict(block.callouts).get(TC)
    core = bare_core(core_type)
    run_block(core, block, state={csr: 0x1234_5678_9ABC})
    assert core.get_x(10) == core.get_x(11) == 0x1234_5678_9ABC


OPS = ["csrrw", "csrrs", "csrrc"]


@given(op=st.sampled_from(OPS), immediate=st.booleans(), csr=st.sampled_from(
    ["sscratch", "sepc", "scause", "stval"]), rd=st.sampled_from([0, 2, 3, 5, 6, 10]),
    rs=st.sampled_from([0, 2, 3, 5, 6, 10]), old=st.integers(0, MASK64),
    operand=st.integers(0, MASK64))
@settings(max_examples=120, deadline=None)
def test_inline_csr_writes_match_the_hart(core_type, op, immediate, csr, rd, rs, old, operand):
    """Rewritten sequence on the state page vs the original instruction on the
    real CSR in M-mode: same rd, same CSR value, every other register kept."""
    uimm = operand & 31
    source = f"{op}i x{rd}, {csr}, {uimm}" if immediate else f"{op} x{rd}, {csr}, x{rs}"
    block, _ = translate(source + "\n nop")
    assert TC not in dict(block.callouts)                     # inline, no callout
    regs = {i: (0x1111 * i) ^ operand if i != rs else operand for i in range(1, 32)}
    translated = bare_core(core_type)
    run_block(translated, block, regs, state={csr: old & ~1 if csr == "sepc" else old})
    native = bare_core(core_type)
    for i, value in regs.items():
        native.set_x(i, value & MASK64)
    native.write_csr(CSRS[csr], old)
    data, _ = guest_code(source + "\n ecall", base=0x20000)
    native.write_mem(0x20000, data)
    native.pc = 0x20000
    assert native.run(10) == 3 and native.exit_cause == ECALL_M
    assert state_slot(translated, STATE_OFFSET[csr]) == native.read_csr(CSRS[csr])
    assert guest_regs(translated) == native.x.tolist()[1:]


@pytest.mark.parametrize("source, csr", [("csrci sstatus, 2", "sstatus"), ("csrrci a0, sstatus, 3", "sstatus"),
                                         ("csrc sie, a1", "sie"), ("csrrc a0, sie, a1", "sie"),
                                         ("csrrc gp, sie, gp", "sie")])
@pytest.mark.parametrize("old", [0x2, 0x222, 0x40022])
def test_clearing_interrupt_enables_is_inline_and_matches_the_hart(core_type, source, csr, old):
    block, _ = translate(source + "\n nop")
    assert TC not in dict(block.callouts)
    native = bare_core(core_type)
    native.write_csr(CSRS[csr], old)
    old = native.read_csr(CSRS[csr])                     # as the hart's WARL rules leave it
    regs = {10: 0x5555, 11: 0x20 | 0x2, 3: 0x222}
    translated = bare_core(core_type)
    run_block(translated, block, regs, state={csr: old})
    for i, value in regs.items():
        native.set_x(i, value)
    data, _ = guest_code(source + "\n ecall", base=0x20000)
    native.write_mem(0x20000, data)
    native.pc = 0x20000
    assert native.run(10) == 3
    assert state_slot(translated, STATE_OFFSET[csr]) == native.read_csr(CSRS[csr])
    assert guest_regs(translated) == native.x.tolist()[1:]


# -- block shape --------------------------------------------------------------------------------

def test_blocks_stop_at_the_page_end_and_at_the_size_limit():
    data, _ = guest_code("\n".join(["add a0, a1, a2"] * 1100))
    fetch = fetcher(data)
    block = translate_block(fetch, GUEST + 4096 - 8, TC)
    assert block.guest_end == GUEST + 4096 and block.guest_insns == 2
    assert dict(block.callouts)[max(dict(block.callouts))][TARGET] == GUEST + 4096
    block = translate_block(fetch, GUEST, TC)
    assert block.guest_insns == MAX_BLOCK_INSNS
    assert block.size <= MAX_BLOCK_BYTES


def page_reader(data, base=GUEST):
    """translate_block's code_page over `data` at `base` (whole pages)."""
    parcels = [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]

    def code_page(gva):
        page = gva & ~0xFFF
        if not base <= page < base + len(data):
            raise FetchFault(gva)
        return parcels, (page - base) // 2
    return code_page


def test_a_block_read_by_pages_is_the_block_read_by_parcels():
    c_nop = (0x0001).to_bytes(2, "little")
    add = codec.encode("add", rd=10, rs1=11, rs2=12).to_bytes(4, "little")
    sub = codec.encode("sub", rd=10, rs1=11, rs2=12).to_bytes(4, "little")
    # c.nops up to 6 bytes before the page end, an add, then a sub straddling
    # into the next page, where the block goes on with adds
    data = c_nop * 2045 + add + sub + add * 1023 + c_nop * 2
    for start in (GUEST, GUEST + 4096 - 6, GUEST + 4096 - 2):
        by_parcel = translate_block(fetcher(data), start, TC)
        by_page = translate_block(None, start, TC, code_page=page_reader(data))
        assert (by_page.words, by_page.pcmap, by_page.pages, by_page.guest_end) == \
            (by_parcel.words, by_parcel.pcmap, by_parcel.pages, by_parcel.guest_end)
    block = translate_block(None, GUEST + 4096 - 6, TC, code_page=page_reader(data))
    assert block.pages == (GUEST, GUEST + 4096) and block.guest_insns == MAX_BLOCK_INSNS
    assert names(block)[:3] == ["add", "sub", "add"]
    # the next page cannot be fetched: the block ends before the straddling sub
    block = translate_block(None, GUEST + 4096 - 6, TC, code_page=page_reader(data[:4096]))
    assert block.guest_insns == 1 and block.exits() == [(TC + 4, GUEST + 4096 - 2)]
    with pytest.raises(FetchFault) as info:
        translate_block(None, GUEST + 4096 - 2, TC, code_page=page_reader(data[:4096]))
    assert info.value.gva == GUEST + 4096


def test_fetch_faults_are_precise():
    data, _ = guest_code("add a0, a1, a2\n add a0, a1, a2")
    fetch = fetcher(data)
    with pytest.raises(FetchFault) as info:
        translate_block(fetch, GUEST + 8, TC)
    assert info.value.gva == GUEST + 8
    block = translate_block(fetch, GUEST, TC)             # runs off the end: stops before it
    assert block.guest_insns == 2 and block.exits() == [(TC + 8, GUEST + 8)]


@given(st.one_of(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(-(1 << 63), (1 << 63) - 1)))
@settings(max_examples=300, deadline=None)
def test_load_constant_leaves_the_value(core_type, value):
    core = bare_core(core_type)
    words = emit.load_constant(7, value) + [emit.ECALL]
    assert len(words) <= 9
    core.write_mem(TC, b"".join(w.to_bytes(4, "little") for w in words))
    core.pc = TC
    assert core.run(100) == 3
    assert core.get_x(7) == value & MASK64


@given(st.integers(1, 31), st.integers(-(1 << 31), (1 << 31) - 1))
@settings(max_examples=300)
def test_constants_in_32_bits_take_lui_and_addiw_at_most(rd, value):
    words = emit.constant(rd, value)
    assert words == emit.constant(rd, value & MASK64) == tuple(emit.load_constant(rd, value))
    assert [codec.decode(w)[0].name for w in words] in (["addi"], ["lui"], ["lui", "addiw"])


@given(st.integers(0, 31), st.integers(0, 31), st.integers(-2048, 2047), st.integers(0, 0xFFFFF),
       st.integers(0, 63))
@settings(max_examples=300, deadline=None)
def test_the_translators_own_encoders_agree_with_the_isa_table(rd, rs1, imm, imm20, shamt):
    for name in ("addi", "addiw", "andi"):
        assert emit.i_type(name, rd, rs1, imm) == codec.encode(name, rd=rd, rs1=rs1, imm=imm)
    assert emit.slli(rd, rs1, shamt) == codec.encode("slli", rd=rd, rs1=rs1, shamt=shamt)
    offset = 2 * (imm20 - (1 << 19))                       # every even offset within +-1 MiB
    assert emit.jal(rd, offset) == codec.encode("jal", rd=rd, imm=offset)
    far = (imm20 << 12) - (1 << 31) + imm                  # +-2 GiB, as auipc + jalr reach
    lo = emit.sext(far, 12)
    assert emit.far_jump(rd, far) == [codec.encode("auipc", rd=rd, imm=((far - lo) >> 12) & 0xFFFFF),
                                      codec.encode("jalr", rd=0, rs1=rd, imm=lo)]


def test_the_translators_own_encoders_refuse_what_does_not_fit():
    with pytest.raises(codec.EncodingError):
        emit.i_type("addi", 1, 1, 2048)
    with pytest.raises(codec.EncodingError):
        emit.slli(1, 1, 64)
    for offset in (1 << 20, -(1 << 20) - 2, 3):
        with pytest.raises(codec.EncodingError):
            emit.jal(0, offset)


# -- the translation cache ----------------------------------------------------------------------

class Frames:
    """Frames handed out from TC up, so the cache's pages sit at their own
    addresses and the bare core (no paging) runs them in place."""

    def __init__(self):
        self.next = TC

    def alloc(self, n=1, align=1):
        self.next += 4096 * n
        return self.next - 4096 * n


def test_chaining_patches_a_stub_and_invalidation_undoes_it(core_type):
    core = bare_core(core_type)
    data, symbols = guest_code("loop: addi a0, a0, 1\n blt a0, a1, loop\ndone: ecall")
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    fetch = fetcher(data)
    block = tc.translate(fetch, GUEST, [GUEST])
    taken_stub = next(addr for addr, target in block.exits() if target == GUEST)
    assert tc.patched[taken_stub] == GUEST    # its target is the block itself: chained at once
    word = int.from_bytes(core.read_mem(tc.hpa_of(taken_stub), 4), "little")
    assert codec.decode(word)[0].name == "jal"
    assert taken_stub + codec.decode(word)[1]["imm"] == block.tc_addr
    # The chained loop runs on the core without leaving it: the first exit is
    # the guest's ecall past the fall-through, in the same (super)block.
    core.set_x(10, 0)
    core.set_x(11, 1000)
    core.pc = TC
    assert core.run(100_000) == 3 and core.exit_cause == ECALL_M
    assert core.get_x(10) == 1000
    assert tc.callouts[core.exit_pc][KIND] == "ecall"
    assert tc.callouts[core.exit_pc][GUEST_PC] == symbols["done"]
    assert tc.invalidate_page(GUEST) == 1
    assert tc.lookup(GUEST) is None
    word = int.from_bytes(core.read_mem(tc.hpa_of(taken_stub), 4), "little")
    assert word == emit.ECALL
    assert tc.counters["chained"] == 1 and tc.counters["unchained"] == 1
    assert tc.guest_pc_at(block.tc_addr + 4) == GUEST + 2         # after c.addi


def chained_loop(core):
    """A loop and its exit translated into a TC, the loop's stubs chained to
    both as it is translated."""
    data, symbols = guest_code("loop: addi a0, a0, 1\n blt a0, a1, loop\n j done\n nop\n"
                               "done: ecall")
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    fetch = fetcher(data)
    done = tc.translate(fetch, symbols["done"], [GUEST])
    block = tc.translate(fetch, GUEST, [GUEST])
    return tc, block, done, symbols


def test_a_new_block_is_chained_to_the_blocks_already_translated(core_type):
    core = bare_core(core_type)
    tc, block, done, symbols = chained_loop(core)
    # both targets are known now (the loop's own head, and done): no callout left
    assert sorted(tc.patched.values()) == [GUEST, symbols["done"]]
    assert tc.counters["chained"] == 2 and sorted(tc.incoming) == [GUEST, symbols["done"]]
    core.set_x(10, 0)
    core.set_x(11, 1000)
    core.pc = block.tc_addr
    assert core.run(100_000) == 3 and core.exit_pc == done.tc_addr   # done's own ecall
    assert core.get_x(10) == 1000


def test_boundaries_are_every_blocks_rewrite_starts_and_nothing_else(core_type):
    core = bare_core(core_type)
    data, symbols = guest_code("loop: addi a0, a0, 1\n lui t0, 5\n blt a0, a1, loop\n"
                               " auipc t1, 3\n jalr ra, 0(a2)\nnext: csrw sie, a0\n j loop")
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    blocks = [tc.translate(fetcher(data), pc, [GUEST]) for pc in (GUEST, symbols["next"])]
    # (`j loop` has no link: its rewrite is its exit stub, which stands for the target)
    expected = {tc_addr: pc for block in blocks for tc_addr, pc in block.pcmap}
    assert sorted(tc.boundaries.items()) == sorted(expected.items())
    for addr in range(TC - 8, tc.cursor + 8, 4):
        assert (addr in tc.boundaries) == (addr in expected)
        assert tc.boundaries.get(addr) == expected.get(addr)
        if addr in expected:
            assert tc.boundaries[addr] == expected[addr] == tc.guest_pc_at(addr)
        else:
            with pytest.raises(KeyError):
                tc.boundaries[addr]
    # inside the indirect jump's rewrite: its guest instruction, though no boundary
    inside = blocks[0].starts[blocks[0].pcs.index(symbols["next"] - 4)] + 8
    assert inside not in tc.boundaries and tc.guest_pc_at(inside) == symbols["next"] - 4


def test_chaining_as_a_block_is_translated_writes_what_chaining_after_does(core_type):
    core = bare_core(core_type)
    tc, block, done, symbols = chained_loop(core)
    image = core.read_mem(tc.hpa_of(TC), tc.bytes_used)
    targets = {GUEST: block, symbols["done"]: done}
    stubs = block.exits()
    assert len(stubs) == 2
    for stub, target in stubs:             # what an exit stub's first pass would patch in
        tc.chain(stub, targets[target])
    assert core.read_mem(tc.hpa_of(TC), tc.bytes_used) == image


def test_a_full_cache_is_flushed_and_starts_over(core_type):
    core = bare_core(core_type)
    data, _ = guest_code("\n".join(["add a0, a1, a2"] * 3000))
    tc = TranslationCache(core, Frames(), table(core), base=TC, size=SMALL_TC)
    fetch = fetcher(data)
    pcs = [GUEST + 256 * i for i in range(40)]
    for pc in pcs:
        block = tc.translate(fetch, pc)
        assert tc.lookup(pc) is block
    assert tc.counters["flushes"] >= 1
    assert tc.lookup(pcs[0]) is None and tc.bytes_used <= SMALL_TC
    assert tc.generation == tc.counters["flushes"]


def test_spill_slots_do_not_overlap_the_csrs():
    assert max(STATE_OFFSET.values()) + 8 <= SPILL_TEMP < SPILL_OLD < SPILL_RENAME < GUEST_GP
    assert GUEST_GP < SPILL_IBL < SFENCE_WORK and SFENCE_WORK + 8 == STATE_BYTES <= 2048   # within gp's reach


def check_registers(core, block, callout, inline, regs, rd, old):
    """After an sstatus write ran inline (rd got the old value, every other
    register as it was) or as the csr callout (the slot and every register
    untouched, the callout resuming at the next guest instruction)."""
    if inline:
        expected = dict(regs)
        if rd:
            expected[rd] = old
        assert guest_regs(core) == [expected[i] for i in range(1, 32)]
    else:
        assert callout[KIND] == "csr" and callout[GUEST_PC] == GUEST
        assert state_slot(core, STATE_OFFSET["sstatus"]) == old
        assert guest_regs(core) == [regs[i] for i in range(1, 32)]
        assert (core.exit_pc + 4, GUEST + 4) in block.pcmap   # the callout resumes at the nop


@pytest.mark.parametrize("source, value, pending, inline", [
    ("csrs sstatus, a0", 2, 0, True), ("csrsi sstatus, 2", 2, 0, True),
    ("csrrs a1, sstatus, a0", 2, 0, True), ("csrs sstatus, a0", 0, 0x22, False),
    ("csrs sstatus, a0", 2, 0x22, False), ("csrsi sstatus, 2", 2, 0x20, False),
    ("csrs sstatus, a0", 1 << 18, 0, False), ("csrrs t0, sstatus, t1", 2, 0, True)])
def test_interrupt_enables_stay_inline_unless_one_is_pending(core_type, source, value, pending,
                                                              inline):
    """csrs sstatus setting only SIE, with nothing pending and enabled in
    sie: the state page's sstatus gets it, rd the old value, no callout.
    Another bit (SUM) or a pending interrupt: the csr callout, registers
    as the guest left them."""
    block, _ = translate(f"{source}\n nop\n j .")
    core = bare_core(core_type)
    rs = 6 if "t1" in source else 10
    rd = {"csrrs a1": 11, "csrrs t0": 5}.get(source[:8], 0)
    regs = {i: 0x1000 + i for i in range(1, 32)}
    regs[rs] = value
    old = 0x8000_0000_0000_0020
    callout = run_block(core, block, regs, {"sstatus": old, "sip": pending, "sie": 0x222})
    if inline:
        assert callout[KIND] == "exit"
        assert state_slot(core, STATE_OFFSET["sstatus"]) == old | value
    check_registers(core, block, callout, inline, regs, rd, old)


UXL = 2 << 32
FS_DIRTY_SD = (1 << 63) | (3 << 13)


@pytest.mark.parametrize("source, old, value, inline", [
    ("csrrc a1, sstatus, t1", UXL | 0x122, 0x46600, True),     # trap entry: SUM, FS clear already
    ("csrrc a1, sstatus, t1", UXL | 0x40122, 0x46600, False),  # ...clearing SUM
    ("csrrc a1, sstatus, t1", UXL | FS_DIRTY_SD | 0x2, 0x46600, False),   # ...turning FP off
    ("csrrc x0, sstatus, t1", UXL | 0x22, 0x2, True),           # csrc of SIE
    ("csrrc x0, sstatus, t1", UXL | 0x22, UXL | 0x2, False),    # a read-only bit in the mask
    ("csrw sstatus, t1", UXL | 0x2, UXL | 0x120, True),         # trap return
    ("csrw sstatus, t1", UXL | FS_DIRTY_SD, UXL | FS_DIRTY_SD | 0x120, True),  # FS kept
    ("csrrw a1, sstatus, t1", UXL | 0x2100, 0x2020, True),      # FS Initial kept, rd = old
    ("csrw sstatus, t1", UXL | 0x40000, UXL | 0x120, False),    # clears SUM
    ("csrw sstatus, t1", UXL, UXL | 0x80000, False),            # sets MXR
    ("csrw sstatus, t1", UXL, UXL | 0x122, False),              # sets SIE: the runtime delivers
    ("csrw sstatus, t1", UXL, UXL | 0x4020, False),             # FS to Clean
])
def test_sstatus_writes_of_plain_bits_are_inline(core_type, source, old, value, inline):
    """csrrc and csrrw of sstatus that change SIE (clearing it only), SPIE
    and SPP: the state page's sstatus becomes what the virtual hart's WARL
    write gives, rd the old value, no callout. Anything else (SUM, MXR, FS,
    setting SIE, a read-only bit cleared): the csr callout, registers as the
    guest left them."""
    block, _ = translate(f"{source}\n nop\n j .")
    assert "ecall" in names(block)
    # the longest rewrite there is: within a block's bound per guest instruction
    assert block.size - 16 <= MAX_BLOCK_BYTES // MAX_BLOCK_INSNS
    core = bare_core(core_type)
    rd = 11 if "a1" in source else 0
    regs = {i: 0x1000 + i for i in range(1, 32)}
    regs[6] = value
    callout = run_block(core, block, regs, {"sstatus": old})
    if inline:
        state = SupervisorState()
        state.sstatus = old & ~UXL
        written = state.read(CSRS["sstatus"]) & ~value if "csrrc" in source else value
        assert state.write(CSRS["sstatus"], written) <= {"interrupts"}
        assert callout[KIND] == "exit"
        assert state_slot(core, STATE_OFFSET["sstatus"]) == state.sstatus | UXL
    check_registers(core, block, callout, inline, regs, rd, old)


# -- gp, the translated code's base -------------------------------------------------------------

GP_PROGRAM = """
    add     gp, gp, a0
    ld      a1, 8(gp)
    sd      gp, 16(a2)
    c.addi  gp, 5
    mv      a3, gp
    amoadd.d a4, gp, (a2)
    lui     gp, 0x12345
here:
    auipc   a5, 0
    sub     a6, gp, a5
    csrrw   gp, sscratch, gp
    csrr    a7, sscratch
    csrr    gp, sscratch
    sltu    s2, a0, gp
    addi    gp, gp, -1
"""


def test_guest_uses_of_gp_run_as_natively(core_type):
    """Every guest instruction naming gp (as a source, a destination, an
    address base) is renamed: the guest sees its own gp, translated code
    keeps the state page's address in it."""
    block, symbols = translate(GP_PROGRAM + "\n nop")
    assert block.renamed and all(reg != BASE_REG for reg in dict(block.renamed).values())
    data = 0x9000
    regs = {i: 0x100 * i for i in range(1, 32)}
    regs.update({3: data - 8, 10: 8, 12: data + 0x100})
    translated = bare_core(core_type)
    translated.write_mem(data + 8, (0x55AA).to_bytes(8, "little"))
    run_block(translated, block, regs)
    native = bare_core(core_type)
    native.write_mem(data + 8, (0x55AA).to_bytes(8, "little"))
    for i, value in regs.items():
        native.set_x(i, value)
    code, _ = guest_code(GP_PROGRAM + "\n ecall", base=0x20000)
    native.write_mem(0x20000, code)
    native.pc = 0x20000
    assert native.run(100) == 3 and native.exit_cause == ECALL_M
    expected = native.x.tolist()[1:]
    # a5 = auipc: the guest pc there, not 0x20000 (and a6 = gp - a5 with it)
    expected[15] = (expected[15] + expected[14] - translated.get_x(15)) & MASK64
    expected[14] = translated.get_x(15)
    assert expected[14] == symbols["here"]
    assert guest_regs(translated) == expected
    assert state_slot(translated, STATE_OFFSET["sscratch"]) == native.read_csr(CSRS["sscratch"])
    assert translated.read_mem(data, 0x200) == native.read_mem(data, 0x200)


@pytest.mark.parametrize("a, taken", [(0x40, True), (0x41, False)])
def test_a_branch_on_gp_restores_the_base_on_both_ways(core_type, a, taken):
    block, symbols = translate("beq gp, a0, target\n nop\ntarget: nop")
    core = bare_core(core_type)
    callout = run_block(core, block, {3: 0x40, 10: a})
    assert callout[TARGET] == (symbols["target"] if taken else GUEST + 4)
    assert guest_regs(core)[BASE_REG - 1] == 0x40


@given(st.integers(0, (1 << 25) - 1), st.sampled_from([0x63, 0x6F, 0x67, 0x17]))
@settings(max_examples=500)
def test_jumps_branches_and_auipc_decode_by_shifts_as_the_isa_table_does(upper, opcode):
    from pyvmm.hv.bt.translator import _decode
    word = upper << 7 | opcode
    assert _decode(word) == codec.decode(word)


@given(st.integers(0, (1 << 30) - 1), st.sampled_from([None, 7, 15, 20]))
@settings(max_examples=500)
def test_a_word_named_copied_is_copied_and_names_no_gp(upper, gp_at):
    from pyvmm.hv.bt.translator import _copied
    word = upper << 2 | 3
    if gp_at is not None:
        word = word & ~(31 << gp_at) | BASE_REG << gp_at
    entry = codec.decode_entry(word)
    if entry is None or not _copied(entry, word):
        return
    assert not any(f.kind == "reg" and f.extract(word) == BASE_REG for f in entry.fields)
    block = translate_block(lambda gva: (word >> 8 * (gva - GUEST)) & 0xFFFF, GUEST, TC,
                            max_insns=1)
    assert block.words[0] == word and block.pcmap[0] == (TC, GUEST)
    assert [c[KIND] for c in dict(block.callouts).values()] == ["exit"]

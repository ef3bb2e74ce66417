"""The translator (native/jit.pxi) against the interpreter: hot straight-line
runs translated to host code must leave exactly the state, counters, exits
and timing the interpreter leaves, whatever stops them mid-block."""

import platform
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import RAM_BASE, core_mod, load, open_pmp, reg, run_to_ebreak

EXIT_BUDGET = core_mod.EXIT_BUDGET
EXIT_MMIO = core_mod.EXIT_MMIO
X86_64 = platform.machine() in ("x86_64", "AMD64")
needs_jit = pytest.mark.skipif(not X86_64, reason="the translator emits x86-64 code")

CLINT = 0x200_0000
MTIMECMP = CLINT + 0x4000


def timer_lockstep(source, counter):
    """Run `source` (with timer_handler counting in `counter`) on the
    translator and the interpreter in lockstep: the same state throughout,
    more than ten interrupts taken, as many on both."""
    jit, interp, prog = pair(source, threshold=4)
    lockstep(jit, interp, 1_000_000, prog=prog, data="buf")
    assert reg(jit, counter) > 10
    assert jit.stats()["interrupts"] == interp.stats()["interrupts"]


def timer_handler(counter, period):
    """A machine timer handler (label `handler`): records mepc and minstret
    at s0 (advancing it), counts in `counter` and sets the next interrupt
    `period` ticks on."""
    return f""".balign 4
handler:
    csrr t3, mepc
    sd t3, 0(s0)
    csrr t3, minstret
    sd t3, 8(s0)
    addi s0, s0, 16
    addi {counter}, {counter}, 1
    li t0, {MTIMECMP}
    ld t1, 0(t0)
    addi t1, t1, {period}
    sd t1, 0(t0)
    mret
"""
MTIME = CLINT + 0xBFF8


def pair(source, threshold=1, **kwargs):
    """The same program on a core with the translator (translating every
    run on first entry unless told otherwise) and on one without."""
    jit, prog = load(source, jit=True, **kwargs)
    jit.jit_threshold = threshold
    interp, _ = load(source, jit=False, **kwargs)
    return jit, interp, prog


def state(core, prog=None, data=None):
    out = {"x": list(core.x[:32]), "pc": core.pc, "instret": core.instret, "stats": core.stats()}
    if data is not None:
        out["data"] = core.read_mem(prog[data], 512)
    return out


def lockstep(jit, interp, step, limit=200_000, prog=None, data=None):
    """Run both `step` instructions at a time until they stop other than on
    the budget; every stop must be the same."""
    for _ in range(limit):
        r1, r2 = jit.run(step), interp.run(step)
        assert (r1, jit.pc, jit.instret) == (r2, interp.pc, interp.instret)
        assert list(jit.x[:32]) == list(interp.x[:32])
        if r1 != EXIT_BUDGET or jit.instret > limit:
            break
    assert state(jit, prog, data) == state(interp, prog, data)
    return r1


# -------------------------------------------------------------- the switch

def test_the_switch_and_its_counters():
    core, _ = load("li a0, 200\n1: addi a0, a0, -1\n bnez a0, 1b\n ebreak\n", jit=False)
    run_to_ebreak(core)
    assert core.jit is False and core.jit_stats()["jit_blocks"] == 0
    core, _ = load("li a0, 200\n1: addi a0, a0, -1\n bnez a0, 1b\n ebreak\n", jit=True)
    run_to_ebreak(core)
    stats = core.jit_stats()
    if X86_64:
        assert core.jit is True and core.jit_error is None
        assert stats["jit_blocks"] >= 1 and stats["jit_code_bytes"] > 0 and stats["jit_block_runs"] >= 1
    else:
        # elsewhere the interpreter runs, and says why
        assert core.jit is False and "x86-64" in core.jit_error
    assert reg(core, "a0") == 0 and core.instret == 1 + 400


def test_threshold_is_checked():
    core, _ = load("ebreak\n")
    with pytest.raises(ValueError):
        core.jit_threshold = 0
    with pytest.raises(ValueError):
        core.jit_threshold = 33
    core.jit_threshold = 5
    assert core.jit_threshold == 5


def test_environment_picks_the_default(monkeypatch):
    monkeypatch.setenv("PYVMM_JIT", "0")
    assert core_mod.Core(ram_size=1 << 20).jit is False
    monkeypatch.setenv("PYVMM_JIT", "yes")
    with pytest.raises(ValueError, match="PYVMM_JIT"):
        core_mod.Core(ram_size=1 << 20)
    monkeypatch.setenv("PYVMM_JIT", "1")
    monkeypatch.setenv("PYVMM_JIT_THRESHOLD", "99")
    with pytest.raises(ValueError, match="PYVMM_JIT_THRESHOLD"):
        core_mod.Core(ram_size=1 << 20)


# ------------------------------------------------------- random programs

REGS = ["a0", "a1", "a2", "a3", "a4", "a5", "t0", "t1", "t2", "t3"]
ALU_RR = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and", "addw", "subw",
          "sllw", "srlw", "sraw", "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
          "mulw", "divw", "divuw", "remw", "remuw",
          # Zba, Zbb, Zbs
          "add.uw", "sh1add", "sh2add", "sh3add", "sh1add.uw", "sh2add.uw", "sh3add.uw", "andn", "orn",
          "xnor", "max", "maxu", "min", "minu", "rol", "ror", "rolw", "rorw", "bclr", "bset", "binv", "bext",
          ]
ALU_RI = ["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"]
SHIFT_I = ["slli", "srli", "srai", "slli.uw", "rori", "bclri", "bseti", "binvi", "bexti"]
SHIFT_IW = ["slliw", "srliw", "sraiw", "roriw"]
UNARY = ["sext.b", "sext.h", "zext.h", "rev8", "clz", "ctz", "cpop", "orc.b", "clzw", "ctzw", "cpopw"]
LOADS = [("lb", 1), ("lbu", 1), ("lh", 2), ("lhu", 2), ("lw", 4), ("lwu", 4), ("ld", 8)]
STORES = [("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)]
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
# values that reach the corner cases: zero, -1, the most negative, 32-bit edges
SPECIAL = [0, 1, -1, 2, 7, -(1 << 63), (1 << 63) - 1, -(1 << 31), (1 << 31) - 1, 1 << 32, 0xFFFFFFFF]

reg_ = st.sampled_from(REGS)
rd_ = st.sampled_from(REGS + ["zero"])
insn = st.one_of(
    st.builds(lambda o, d, a, b: f"{o} {d}, {a}, {b}", st.sampled_from(ALU_RR), rd_, reg_, reg_),
    st.builds(lambda o, d, a, i: f"{o} {d}, {a}, {i}", st.sampled_from(ALU_RI), rd_, reg_,
              st.integers(-2048, 2047)),
    st.builds(lambda o, d, a, i: f"{o} {d}, {a}, {i}", st.sampled_from(SHIFT_I), rd_, reg_, st.integers(0, 63)),
    st.builds(lambda o, d, a, i: f"{o} {d}, {a}, {i}", st.sampled_from(SHIFT_IW), rd_, reg_, st.integers(0, 31)),
    st.builds(lambda o, d, a: f"{o} {d}, {a}", st.sampled_from(UNARY), rd_, reg_),
    st.builds(lambda d, i: f"lui {d}, {i}", rd_, st.integers(0, (1 << 20) - 1)),
    st.builds(lambda d, i: f"auipc {d}, {i}", rd_, st.integers(0, (1 << 20) - 1)),
    # loads and stores at s0 + offset: aligned mostly, misaligned sometimes
    st.builds(lambda ls, d, off, mis: f"{ls[0]} {d}, {off * ls[1] + mis}(s0)", st.sampled_from(LOADS), rd_,
              st.integers(0, 31), st.sampled_from([0, 0, 0, 1, 3])),
    st.builds(lambda ls, s, off, mis: f"{ls[0]} {s}, {off * ls[1] + mis}(s0)", st.sampled_from(STORES), reg_,
              st.integers(0, 31), st.sampled_from([0, 0, 0, 1, 3])),
    st.builds(lambda o, a, b, n: ("branch", f"{o} {a}, {b}", n), st.sampled_from(BRANCHES), reg_, reg_,
              st.integers(1, 4)),
)


def render(body, seeds, rounds):
    lines = ["la s0, buf", f"li s1, {rounds}"]
    lines += [f"li {r}, {v}" for r, v in zip(REGS, seeds)]
    lines.append("loop:")
    pending = []        # labels to place: (at instruction index, label number)
    label = 0
    for i, item in enumerate(body):
        for at, n in pending:
            if at == i:
                lines.append(f"{n}:")
        if isinstance(item, tuple):
            label += 1
            lines.append(f"{item[1]}, {label}f")
            pending.append((i + 1 + item[2], label))
        else:
            lines.append(item)
    for at, n in pending:
        if at >= len(body):
            lines.append(f"{n}:")
    lines += ["addi s1, s1, -1", "bnez s1, loop", "ebreak", ".balign 4096", "buf:", ".skip 4096"]
    return "\n".join(lines) + "\n"


@needs_jit
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(insn, min_size=1, max_size=24),
       seeds=st.lists(st.one_of(st.sampled_from(SPECIAL), st.integers(-(1 << 63), (1 << 63) - 1)),
                      min_size=len(REGS), max_size=len(REGS)),
       step=st.sampled_from([1, 3, 17, 1000, 100_000]),
       threshold=st.sampled_from([1, 2, 32]))
def test_random_programs_match_the_interpreter(body, seeds, step, threshold):
    jit, interp, prog = pair(render(body, seeds, 40), threshold=threshold)
    lockstep(jit, interp, step, prog=prog, data="buf")


# ------------------------------------------------- stops inside a block

LOOP = """
    la s0, buf
    li s1, 300
    li a0, 0
    li a1, 0
loop:
    addi a0, a0, 3
    slli a2, a0, 2
    xor a1, a1, a2
    sd a1, 0(s0)
    ld a3, 0(s0)
    add a1, a1, a3
    addi s1, s1, -1
    bnez s1, loop
    ebreak
.balign 4096
buf: .skip 64
"""


@needs_jit
@pytest.mark.parametrize("step", [1, 2, 5, 7, 8, 9, 13, 100])
def test_a_budget_ending_inside_a_block(step):
    jit, interp, prog = pair(LOOP)
    assert lockstep(jit, interp, step, prog=prog, data="buf") == core_mod.EXIT_TRAP
    # budgets of one or two instructions never enter the loop's eight-instruction
    # run whole, so the translator (which leaves a lone branch to the
    # interpreter) has nothing to run there
    assert (jit.jit_stats()["jit_blocks"] >= 1) == (step > 2)


@needs_jit
def test_loads_that_miss_the_tlb_in_the_middle_of_a_block():
    # two pages whose TLB entries collide (a 4-entry TLB): every access misses
    source = """
    la s0, buf
    li t0, 4 * 4096
    add s2, s0, t0
    li s1, 200
loop:
    addi a0, a0, 1
    ld a1, 8(s0)
    add a0, a0, a1
    sd a0, 16(s2)
    ld a2, 16(s2)
    add a0, a0, a2
    addi s1, s1, -1
    bnez s1, loop
    ebreak
.balign 4096
buf: .skip 5 * 4096
"""
    jit, interp, prog = pair(source)
    for core in (jit, interp):
        core.tlb_entries = 4
    lockstep(jit, interp, 100_000, prog=prog, data="buf")
    assert jit.stats()["tlb_misses"] > 400


@needs_jit
def test_misaligned_accesses_in_the_middle_of_a_block():
    source = """
    la s0, buf
    li s1, 100
loop:
    addi a0, a0, 0x123
    sd a0, 3(s0)
    ld a1, 3(s0)
    lw a2, 6(s0)
    lhu a3, 1(s0)
    add a4, a1, a2
    add a4, a4, a3
    addi s1, s1, -1
    bnez s1, loop
    ebreak
.balign 4096
buf: .skip 64
"""
    jit, interp, prog = pair(source)
    lockstep(jit, interp, 100_000, prog=prog, data="buf")
    assert reg(jit, "a4") != 0


@needs_jit
def test_an_mmio_load_in_the_middle_of_a_block():
    source = """
    li s0, 0x10000000
    li s1, 50
loop:
    addi a0, a0, 1
    lw a1, 4(s0)
    add a2, a2, a1
    sw a2, 8(s0)
    addi s1, s1, -1
    bnez s1, loop
    ebreak
"""
    jit, interp, _ = pair(source)
    exits = {jit: [], interp: []}
    for core in (jit, interp):
        n = 0
        while True:
            r = core.run(1_000_000)
            exits[core].append((r, core.pc, core.instret, core.exit_addr if r == EXIT_MMIO else None))
            if r != EXIT_MMIO:
                break
            n += 1
            if not core.exit_is_write:
                core.complete_mmio(n * 7)
    assert exits[jit] == exits[interp]
    assert len(exits[jit]) == 101
    assert state(jit) == state(interp)


# ------------------------------------------------------------ coherence

@needs_jit
def test_a_store_rewriting_the_block_that_runs_it():
    # the sw rewrites the addi two instructions later in the same run: the
    # core keeps code coherent at once, so even the first pass runs the new one
    source = """
.option norvc
    la t0, patched
    lw t1, replacement
    li s1, 50
loop:
    addi a1, a1, 1
    sw t1, 0(t0)
    nop
patched:
    addi a0, a0, 1
    addi s1, s1, -1
    bnez s1, loop
    ebreak
replacement:
    addi a0, a0, 100
"""
    jit, interp, _ = pair(source)
    for step in (1_000_000,):
        lockstep(jit, interp, step)
    assert reg(jit, "a0") == 50 * 100


@needs_jit
def test_a_store_rewriting_another_hot_block():
    # `hot` runs as a block many times, then the program rewrites its addi
    source = """
.option norvc
    la t0, hot
    lw t1, replacement
    li s1, 100
outer:
    call hot
    addi s1, s1, -1
    bnez s1, outer
    sw t1, 0(t0)
    li s1, 100
again:
    call hot
    addi s1, s1, -1
    bnez s1, again
    ebreak
hot:
    addi a0, a0, 1
    ret
replacement:
    addi a0, a0, 1000
"""
    for threshold in (1, 32):
        jit, interp, _ = pair(source, threshold=threshold)
        lockstep(jit, interp, 1_000_000)
        assert reg(jit, "a0") == 100 + 100 * 1000


@needs_jit
def test_write_mem_into_a_translated_block():
    source = """
.option norvc
    li s1, 100
loop:
    addi a0, a0, 1
    addi s1, s1, -1
    bnez s1, loop
    ebreak
"""
    jit, interp, prog = pair(source)
    for core in (jit, interp):
        core.run(50)
        # addi a0, a0, 1 -> addi a0, a0, 5 (from the host, like a debugger)
        core.write_mem(prog["loop"], (0x00550513).to_bytes(4, "little"))
    lockstep(jit, interp, 1_000_000)
    assert reg(jit, "a0") > 100


# ---------------------------------------------------------------- timing

@needs_jit
def test_a_timer_interrupt_due_in_the_middle_of_a_run():
    # the handler records where each interrupt came (mepc) and instret
    source = f"""
    la t0, handler
    csrw mtvec, t0
    la s0, buf
    li s1, 0
    li t0, {MTIMECMP}
    li t1, 37
    sd t1, 0(t0)
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
loop:
    addi a0, a0, 1
    addi a1, a1, 2
    add a2, a0, a1
    xor a3, a3, a2
    addi a4, a4, 1
    li t2, 4000
    bltu a4, t2, loop
    ebreak
{timer_handler("s1", 53)}.balign 4096
buf: .skip 4096
"""
    timer_lockstep(source, "s1")


@needs_jit
def test_two_harts_taking_turns():
    source = """
    csrr t0, mhartid
    la s0, buf
    slli t1, t0, 8
    add s0, s0, t1
    li s1, 400
loop:
    ld a0, 0(s0)
    addi a0, a0, 3
    mul a1, a0, a0
    sd a0, 0(s0)
    sd a1, 8(s0)
    ld a2, 256(s0)
    add a3, a3, a2
    addi s1, s1, -1
    bnez s1, loop
    ebreak
.balign 4096
buf: .skip 4096
"""
    sides = []
    for use_jit in (True, False):
        core, prog = load(source, jit=use_jit)
        core.jit_threshold = 2
        other = core_mod.Core(hartid=1, peer=core, jit=use_jit)
        other.jit_threshold = 2
        other.exit_on_exception = 1 << 3
        open_pmp(other)
        other.pc = RAM_BASE
        done = set()
        trail = []
        while len(done) < 2:
            for n, c in enumerate((core, other)):
                if n in done:
                    continue
                r = c.run(37)
                trail.append((n, r, c.pc, c.instret, reg(c, "a3")))
                if r != EXIT_BUDGET:
                    done.add(n)
        sides.append((trail, core.read_mem(prog["buf"], 1024), state(core), state(other)))
    assert sides[0] == sides[1]


# ------------------------------------------------------ the bench's image

@needs_jit
def test_the_compute_workload_matches_the_interpreter():
    from pyvmm.machine.machine import Machine
    results = []
    for use_jit in (True, False):
        m = Machine()
        m.load(str(Path(__file__).resolve().parents[2] / "guests" / "compute.S"))
        m.boot()
        m.core.jit = use_jit
        result = m.run()
        results.append((result, m.uart_output, state(m.core), m.core.read_mem(RAM_BASE, 0x4000)))
        if use_jit:
            assert m.core.jit_stats()["jit_blocks"] > 10
        m.close()
    assert results[0] == results[1]
    assert results[0][0].how == "finisher-pass"


@needs_jit
def test_a_full_code_buffer_is_emptied_and_translation_goes_on():
    # 600 runs of 16 instructions each, three times over: about 300 KiB of
    # blocks, through a buffer of 96 KiB
    runs = []
    for i in range(600):
        ops = [f"addi a{i % 6}, a{(i + 1) % 6}, {i % 100}", f"xor a{(i + 2) % 6}, a{(i + 2) % 6}, a{i % 6}",
               f"slli t0, a{(i + 3) % 6}, {i % 13}", f"add a{(i + 4) % 6}, a{(i + 4) % 6}, t0"] * 4
        runs.append("\n".join(ops) + "\nbeq zero, s2, fail\n")
    source = (".option norvc\n li s2, 1\n li s1, 3\nloop:\n" + "".join(runs)
              + " addi s1, s1, -1\n bnez s1, loop\n ebreak\nfail:\n j fail\n")
    jit, interp, prog = pair(source, ram_size=1 << 23)
    jit.jit_buffer_size = 96 << 10
    lockstep(jit, interp, 1_000_000)
    assert jit.pc == interp.pc and reg(jit, "s1") == 0
    stats = jit.jit_stats()
    assert stats["jit_flushes"] >= 2 and stats["jit_blocks"] >= 1800


def test_buffer_size_is_checked():
    core, _ = load("ebreak\n")
    assert core.jit_buffer_size == 16 << 20
    with pytest.raises(ValueError, match="jit_buffer_size"):
        core.jit_buffer_size = 4096
    core.jit_buffer_size = 1 << 20
    assert core.jit_buffer_size == 1 << 20

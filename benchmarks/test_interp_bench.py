"""pytest-benchmark of the interpreter's two bounds: a loop of independent
instructions (host instructions and dispatch) against one whose every
instruction reads the result of the one before (the hand-over of results
between instructions), each with the core's translator off (the
interpreter alone) and on (hot runs as host code). docs/architecture.md,
"The interpreter".

    pytest benchmarks/test_interp_bench.py --benchmark-json interp.json

PYVMM_BENCH_ROUNDS (default 3) sets the rounds; extra_info holds MIPS.
"""

import os

import pytest

from pyvmm.bench import measure

core_mod = pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
from pyvmm.asm import assemble  # noqa: E402

ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
RAM_BASE = 0x8000_0000
ITERATIONS = 2_000_000
EBREAK = 3

# seven adds and the loop's own two instructions, per iteration
LOOPS = {
    "independent": ["addi a%d, a%d, 1" % (r, r) for r in range(1, 8)],
    "dependent": ["addi a1, a1, 1"] * 7,
}


def loaded_core(body, jit):
    source = ("li t0, %d\nloop:\n%s\n addi t0, t0, -1\n bnez t0, loop\n ebreak\n"
              % (ITERATIONS, "\n".join(body)))
    prog = assemble(source, section_starts={".text": RAM_BASE}, march="rv64imac_zicsr")
    core = core_mod.Core(ram_size=1 << 20, ram_base=RAM_BASE, jit=jit)
    for addr, data in prog.segments():
        core.write_mem(addr, data)
    core.pc = RAM_BASE
    core.exit_on_exception = 1 << EBREAK
    return core


@pytest.mark.parametrize("jit", [False, True], ids=["interpreter", "translator"])
@pytest.mark.parametrize("name", list(LOOPS))
def test_interpreter_loop(benchmark, name, jit):
    cores = []

    def setup():
        cores.append(loaded_core(LOOPS[name], jit))
        return (cores[-1],), {}

    def run(core):
        assert core.run(10 * ITERATIONS + 10) == core_mod.EXIT_TRAP

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    instret = cores[-1].instret
    assert instret == 2 + 9 * ITERATIONS          # li t0 is lui and addiw
    benchmark.extra_info.update(loop=name, instret=instret, jit=cores[-1].jit,
                                jit_error=cores[-1].jit_error,
                                mips=measure.mips(instret, benchmark.stats.stats.median))


# two runs on two pages jumping to each other: each jump enters the other
# page (a fetch TLB hit), which the translator's blocks do without leaving
# host code when the page and its block are current
CROSS_PAGE = """
    li t0, %d
a:
%s
    addi t0, t0, -1
    bnez t0, b
    ebreak
.balign 4096
b:
%s
    j a
"""


@pytest.mark.parametrize("jit", [False, True], ids=["interpreter", "translator"])
def test_cross_page_jumps(benchmark, jit):
    body = "\n".join(["addi a%d, a%d, 1" % (r, r) for r in range(1, 8)])
    prog = assemble(CROSS_PAGE % (ITERATIONS, body, body), section_starts={".text": RAM_BASE},
                    march="rv64ima_zicsr")
    cores = []

    def setup():
        core = core_mod.Core(ram_size=1 << 20, ram_base=RAM_BASE, jit=jit)
        for addr, data in prog.segments():
            core.write_mem(addr, data)
        core.pc = RAM_BASE
        core.exit_on_exception = 1 << EBREAK
        cores.append(core)
        return (core,), {}

    def run(core):
        assert core.run(20 * ITERATIONS + 10) == core_mod.EXIT_TRAP

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)
    instret = cores[-1].instret
    assert instret == 2 + 9 * ITERATIONS + 8 * (ITERATIONS - 1)
    assert cores[-1].stats()["tlb_hits"] == 2 * (ITERATIONS - 1) - 1     # every page entry but two
    benchmark.extra_info.update(loop="cross-page", instret=instret, jit=cores[-1].jit,
                                jit_error=cores[-1].jit_error,
                                mips=measure.mips(instret, benchmark.stats.stats.median))

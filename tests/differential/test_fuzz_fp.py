"""Randomly generated F/D programs: every result register (all 64 bits, so
NaN-boxing shows) and the fflags each instruction raised are identical on
QEMU 7.2 and pyvmm.

Hypothesis draws batches (derandomized: the same programs every run) of
sequences; each sequence loads f0..f31 and a0..a7 from pools rich in IEEE
corner cases (signed zeros, infinities, quiet and signalling NaNs, unboxed
singles, subnormals, halfway cases, conversion bounds), then runs random F
and D instructions with random static or dynamic rounding modes. One QEMU
run and one pyvmm run per batch; a difference names the step and its
operands.
"""

import tempfile

from hypothesis import given, strategies as st

from support import oracles
from . import oracle
from . import fp_programs as fp

# small batches: Hypothesis draws every operand, and a batch's draws must fit its buffer
SEQUENCES_PER_BATCH = 4
STEPS = 40
BATCHES = 25                    # 4000 instructions in all

steps = st.lists(st.one_of(fp.step(), fp.step(), fp.step(), fp.tie_step()), min_size=STEPS, max_size=STEPS)
sequence = st.tuples(fp.f_init_values(), fp.int_values, steps)


def run_both(source):
    with tempfile.TemporaryDirectory(prefix="pyvmm-fp-") as tmp:
        elf = oracles.build_text_with_gnu(source, tmp, name="fp", march=fp.MARCH)
        q_status, q_out = oracle.run_qemu(elf, cpu=fp.QEMU_CPU_FD)
        p_status, p_out, how = oracle.run_pyvmm_in_process(elf)
    return q_status, q_out, p_status, p_out, how


@oracle.fuzz_batches(BATCHES)
@given(batch=st.lists(sequence, min_size=SEQUENCES_PER_BATCH, max_size=SEQUENCES_PER_BATCH))
def test_random_fp_programs(tools, batch):
    q_status, q_out, p_status, p_out, how = run_both(fp.program(batch))
    assert q_status == 0, "QEMU did not finish the batch"
    assert p_status == 0, f"pyvmm exit status {p_status} ({how})"
    q_lines = q_out.decode("latin-1").split("\n")
    p_lines = p_out.decode("latin-1").split("\n")
    assert len(q_lines) == SEQUENCES_PER_BATCH * STEPS + 1
    for i, (q, p) in enumerate(zip(q_lines, p_lines)):
        assert q == p, "pyvmm differs from QEMU:\n" + fp.describe(batch, i, q, p)
    assert p_out == q_out

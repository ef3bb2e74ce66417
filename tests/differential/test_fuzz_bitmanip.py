"""Random straight-line Zba/Zbb/Zbc/Zbs sequences: QEMU 7.2, pyvmm and the spec model agree.

As tests/differential/test_fuzz_alu.py: Hypothesis draws batches of sequences
(derandomized); each loads random 64-bit values into x1..x30, runs 4-12
bit-manipulation instructions (register, unary and immediate forms, mixed
with a few base ALU ones) and stores x1..x30; the guest prints, per sequence,
every written register and a fold of all thirty. One QEMU run (with the
extensions on) and one pyvmm run per batch; tests/differential/zb_spec.py
computes the expected registers, so a mismatch says which side is wrong.

ctzw is emitted as ``zext.w rd, rs1; ctzw rd, rd`` (the same result by the
spec): QEMU 7.2 counts past bit 31 when the low word is zero and the upper
one is not; pyvmm's own answer there is checked in tests/native.
"""

from hypothesis import given, strategies as st

from conformance import spec
from . import oracle, zb_spec
from . import test_fuzz_alu as alu
from .test_fuzz_alu import REGS, SEEDS, initial_registers, values

SEQUENCES_PER_BATCH = 40
BATCHES = 6                        # 240 sequences in all

regs = st.sampled_from(REGS)
instruction = st.one_of(
    st.tuples(st.just("r"), st.sampled_from(sorted(zb_spec.R_TYPE)), regs, regs, regs),
    st.tuples(st.just("u"), st.sampled_from(sorted(zb_spec.UNARY)), regs, regs, st.just(0)),
    st.tuples(st.just("i"), st.sampled_from(sorted(zb_spec.IMMEDIATE)), regs, regs, st.integers(0, 63)),
    st.tuples(st.just("base"), st.sampled_from(sorted(spec.R_TYPE)), regs, regs, regs),
)
sequence = st.tuples(st.lists(values, min_size=SEEDS, max_size=SEEDS),
                     st.lists(instruction, min_size=4, max_size=12))


def _fix(insn):
    kind, op, rd, rs1, x = insn
    if kind == "i":
        x &= zb_spec.IMMEDIATE[op][1]
    return kind, op, rd, rs1, x


def _text(insn):
    kind, op, rd, rs1, x = insn
    if kind in ("r", "base"):
        return f"{op} x{rd}, x{rs1}, x{x}"
    if kind == "u":
        if op == "ctzw":
            return f"zext.w x{rd}, x{rs1}\n    ctzw x{rd}, x{rd}"
        return f"{op} x{rd}, x{rs1}"
    return f"{op} x{rd}, x{rs1}, {x}"


def model(initial, insns):
    x = [0] + list(initial) + [0]
    for kind, op, rd, rs1, v in insns:
        if kind == "r":
            result = zb_spec.R_TYPE[op](x[rs1], x[v])
        elif kind == "base":
            result = spec.R_TYPE[op](x[rs1], x[v])
        elif kind == "u":
            result = zb_spec.UNARY[op](x[rs1])
        else:
            result = zb_spec.IMMEDIATE[op][0](x[rs1], v)
        x[rd] = spec.u64(result)
    return x[1:31]


ARCH = ('    .attribute arch, "rv64imac_zicsr_zifencei_zba_zbb_zbc_zbs"',)


def program(batch):
    return alu.program(batch, _text, ARCH)


def expected_line(initial, insns):
    return alu.expected_line(initial, insns, model)


def _describe(batch, index, which, got_line):
    return alu._describe(batch, index, which, got_line, _text, model)


@oracle.fuzz_batches(BATCHES)
@given(batch=st.lists(sequence, min_size=SEQUENCES_PER_BATCH, max_size=SEQUENCES_PER_BATCH))
def test_random_bitmanip_sequences(tools, batch):
    batch = [(initial_registers(seeds), [_fix(i) for i in insns]) for seeds, insns in batch]
    expected = [expected_line(initial, insns) for initial, insns in batch]
    q_status, q_out, p_status, p_out, stderr = oracle.run_on_qemu_and_pyvmm(
        program(batch), cpu=oracle.QEMU_CPU_RV64_EXTENSIONS)
    assert q_status == 0, "QEMU did not finish the batch"
    qemu_lines = q_out.decode("latin-1").split("\n")[:len(batch)]
    for i, (got, want) in enumerate(zip(qemu_lines, expected)):
        assert got == want, "the spec model disagrees with QEMU (a test bug):\n" + _describe(batch, i, "QEMU", got)
    assert p_status == 0, f"pyvmm exit status {p_status}\n{stderr[-2000:]}"
    pyvmm_lines = p_out.decode("latin-1").split("\n")[:len(batch)]
    assert len(pyvmm_lines) == len(batch), oracle.first_difference(q_out, p_out)
    for i, (got, want) in enumerate(zip(pyvmm_lines, expected)):
        assert got == want, "pyvmm differs from QEMU and the model:\n" + _describe(batch, i, "pyvmm", got)
    assert p_out == q_out

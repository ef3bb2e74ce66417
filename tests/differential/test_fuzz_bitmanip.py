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
from .test_fuzz_alu import REGS, SEEDS, fold, initial_registers, values, written

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


def program(batch):
    lines = ['    .attribute arch, "rv64imac_zicsr_zifencei_zba_zbb_zbc_zbs"',
             "    .section .text", "    .globl _start", "_start:", "    la t6, results"]
    for initial, insns in batch:
        lines += [f"    li x{r}, {spec.s64(v)}" for r, v in zip(REGS, initial)]
        lines += [f"    {_text(i)}" for i in insns]
        lines += [f"    sd x{r}, {8 * (r - 1)}(t6)" for r in REGS]
        lines.append(f"    addi t6, t6, {8 * len(REGS)}")
    lines.append("    la s0, results")
    for _, insns in batch:
        for r in written(insns):
            lines += [f"    ld a0, {8 * (r - 1)}(s0)", "    call puthex"]
        lines += ["    call putfold", "    li a0, 10", "    call putc", f"    addi s0, s0, {8 * len(REGS)}"]
    lines += [
        "    li t0, 0x100000", "    li t1, 0x5555", "    sw t1, 0(t0)", "3:  j 3b",
        "putfold:", "    mv t5, ra", "    li a0, 0", "    mv t3, s0", "    li t4, 30",
        "7:  slli t0, a0, 7", "    srli a0, a0, 57", "    or a0, a0, t0", "    ld t0, 0(t3)",
        "    xor a0, a0, t0", "    addi t3, t3, 8", "    addi t4, t4, -1", "    bnez t4, 7b",
        "    call puthex", "    mv ra, t5", "    ret",
        "putc:", "    li t0, 0x10000000", "4:  lbu t1, 5(t0)", "    andi t1, t1, 0x20", "    beqz t1, 4b",
        "    sb a0, 0(t0)", "    ret",
        "puthex:", "    mv t3, ra", "    mv t4, a0", "    li t2, 60",
        "5:  srl a0, t4, t2", "    andi a0, a0, 15", "    addi a0, a0, 48", "    li t0, 57",
        "    ble a0, t0, 6f", "    addi a0, a0, 39", "6:  call putc", "    addi t2, t2, -4",
        "    bgez t2, 5b", "    mv ra, t3", "    ret",
        "    .section .bss", "    .balign 8", f"results: .space {8 * len(REGS) * len(batch)}",
    ]
    return "\n".join(lines) + "\n"


def expected_line(initial, insns):
    regs_ = model(initial, insns)
    return "".join(f"{regs_[r - 1]:016x}" for r in written(insns)) + f"{fold(regs_):016x}"


def _describe(batch, index, which, got_line):
    initial, insns = batch[index]
    return (f"sequence {index}: " + "; ".join(_text(i).replace("\n    ", "; ") for i in insns)
            + "\ninitial " + ", ".join(f"x{r}={v:#x}" for r, v in zip(REGS, initial))
            + f"\nprinted registers {', '.join(f'x{r}' for r in written(insns))} and the fold of x1..x30"
            + f"\n{which:6}: {got_line}\nmodel : {expected_line(initial, insns)}")


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

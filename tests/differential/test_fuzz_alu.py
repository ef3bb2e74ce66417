"""Randomly generated straight-line ALU/M sequences: QEMU, pyvmm and the spec model agree.

Hypothesis draws batches of sequences (derandomized: the same programs every
run). Each sequence loads random 64-bit values into x1..x30, runs 4-12
register-register, register-immediate, shift, LUI and M-extension instructions
over them, and stores x1..x30 to a result area; after the whole batch the
guest prints, per sequence, every register the sequence wrote and a fold of
all thirty (so a clobbered bystander shows too) in hex over the UART. One QEMU run and one pyvmm run (the
Machine of `pyvmm run`, in this process) per batch; the final registers are also computed by tests/conformance/spec.py, so
a mismatch says which side is wrong. GNU as compresses what it can, so the RVC
forms of these instructions are exercised too.
"""

from hypothesis import given, strategies as st

from conformance import spec      # tests/ is on sys.path (pytest rootdir-relative packages)
from . import oracle

REGS = list(range(1, 31))          # x31 (t6) holds the result pointer
SEQUENCES_PER_BATCH = 40
BATCHES = 8                        # 320 sequences in all
SEEDS = 10                         # drawn values per sequence, spread over x1..x30

INTERESTING = [0, 1, 2, spec.MASK64, spec.MASK64 - 1, 0x7FFF_FFFF_FFFF_FFFF, 1 << 63,
               0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFF_8000_0000, 31, 32, 63, 64]

values = st.one_of(st.sampled_from(INTERESTING), st.integers(0, spec.MASK64),
                   st.integers(-2048, 2047).map(spec.u64))
regs = st.sampled_from(REGS)

r_ops = st.sampled_from(sorted(spec.R_TYPE) + sorted(spec.M_TYPE))
i_ops = st.sampled_from(sorted(spec.I_TYPE))
shift_ops = st.sampled_from(sorted(spec.SHIFT_IMM))

instruction = st.one_of(
    st.tuples(st.just("r"), r_ops, regs, regs, regs),
    st.tuples(st.just("i"), i_ops, regs, regs, st.integers(-2048, 2047)),
    st.tuples(st.just("shift"), shift_ops, regs, regs, st.integers(0, 63)),
    st.tuples(st.just("lui"), st.just("lui"), regs, st.just(0), st.integers(0, 0xFFFFF)),
)
sequence = st.tuples(st.lists(values, min_size=SEEDS, max_size=SEEDS),
                     st.lists(instruction, min_size=4, max_size=12))


def initial_registers(seeds):
    """x1..x30 from the drawn values: x_r = rotl(seeds[r % 10], 13 * (r // 10))."""
    out = []
    for r in REGS:
        v, k = seeds[r % SEEDS], 13 * (r // SEEDS)
        out.append(spec.u64((v << k) | (v >> (64 - k))) if k else v)
    return out


def _fix_shift(insn):
    kind, op, rd, rs1, imm = insn
    if kind == "shift":
        imm &= spec.SHIFT_IMM[op][1]
    return kind, op, rd, rs1, imm


def _text(insn):
    kind, op, rd, rs1, x = insn
    if kind == "r":
        return f"{op} x{rd}, x{rs1}, x{x}"
    if kind == "lui":
        return f"lui x{rd}, {x:#x}"
    return f"{op} x{rd}, x{rs1}, {x}"


def model(initial, insns):
    """x1..x30 after the sequence, by the spec model."""
    x = [0] + list(initial) + [0]
    for kind, op, rd, rs1, v in insns:
        if kind == "r":
            result = {**spec.R_TYPE, **spec.M_TYPE}[op](x[rs1], x[v])
        elif kind == "i":
            result = spec.I_TYPE[op](x[rs1], v)
        elif kind == "shift":
            result = spec.SHIFT_IMM[op][0](x[rs1], v)
        else:
            result = spec.lui(v)
        x[rd] = spec.u64(result)
    return x[1:31]


def written(insns):
    """The registers a sequence writes, in ascending order (the ones printed in full)."""
    return sorted({insn[2] for insn in insns})


def fold(regs):
    """What the guest prints for all of x1..x30: h = rotl(h, 7) ^ x, in register order."""
    h = 0
    for v in regs:
        h = spec.u64((h << 7) | (h >> 57)) ^ v
    return h


def program(batch, text=_text, header=()):
    """The guest for a batch of sequences; `text` spells an instruction,
    `header` comes first (an .attribute arch for other extensions)."""
    lines = [*header, "    .section .text", "    .globl _start", "_start:", "    la t6, results"]
    for initial, insns in batch:
        lines += [f"    li x{r}, {spec.s64(v)}" for r, v in zip(REGS, initial)]
        lines += [f"    {text(i)}" for i in insns]
        lines += [f"    sd x{r}, {8 * (r - 1)}(t6)" for r in REGS]
        lines.append(f"    addi t6, t6, {8 * len(REGS)}")
    # Print, per sequence: every written register in full, then the fold of all 30.
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


def expected_line(initial, insns, model=model):
    regs = model(initial, insns)
    return "".join(f"{regs[r - 1]:016x}" for r in written(insns)) + f"{fold(regs):016x}"


def _describe(batch, index, which, got_line, text=_text, model=model):
    initial, insns = batch[index]
    return (f"sequence {index}: " + "; ".join(text(i).replace("\n    ", "; ") for i in insns)
            + "\ninitial " + ", ".join(f"x{r}={v:#x}" for r, v in zip(REGS, initial))
            + f"\nprinted registers {', '.join(f'x{r}' for r in written(insns))} and the fold of x1..x30"
            + f"\n{which:6}: {got_line}\nmodel : {expected_line(initial, insns, model)}")


@oracle.fuzz_batches(BATCHES)
@given(batch=st.lists(sequence, min_size=SEQUENCES_PER_BATCH, max_size=SEQUENCES_PER_BATCH))
def test_random_alu_sequences(tools, batch):
    batch = [(initial_registers(seeds), [_fix_shift(i) for i in insns]) for seeds, insns in batch]
    expected = [expected_line(initial, insns) for initial, insns in batch]
    q_status, q_out, p_status, p_out, stderr = oracle.run_on_qemu_and_pyvmm(program(batch))
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

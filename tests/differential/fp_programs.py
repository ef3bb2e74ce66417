"""Random F/D programs for the differential tests: operand pools rich in IEEE
corner cases, one instruction per step, and a guest that prints every
result and the fflags it raised.

A step is ``(mnemonic, rm, frm, rd, sources)``: the guest writes frm
(the dynamic rounding mode) and clears fflags, executes the instruction, then stores its destination register (all
64 bits of an f register, so NaN-boxing shows) and fflags to a result area.
After the batch it prints the result area in hex, one step per line.
"""

import struct

from hypothesis import strategies as st

MARCH = "rv64imafdc_zicsr_zifencei"
# QEMU 7.2's rv64 with F and D (its default has them) and nothing this test does not need
QEMU_CPU_FD = "rv64,h=false,zba=false,zbb=false,zbc=false,zbs=false"

ROUNDING = ("rne", "rtz", "rdn", "rup", "rmm", "dyn")
BOX = 0xFFFF_FFFF_0000_0000


def f64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


# binary64 values: zeros, infinities, NaNs (quiet, signalling, with payloads and
# either sign), subnormals, the normal range's ends, halfway cases for every
# rounding mode, conversion bounds (2**31, 2**63, 2**64 and their neighbours)
D_VALUES = sorted({
    0, 1 << 63, f64(float("inf")), f64(float("-inf")),
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0xFFF4000000000000, 0x7FFC000000000123,
    1, 0x000FFFFFFFFFFFFF, 0x8000000000000001, 0x0010000000000000, 0x8010000000000000,
    0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x001FFFFFFFFFFFFF, 0x3CA0000000000000,
    f64(1.0), f64(-1.0), f64(0.5), f64(-0.5), f64(1.5), f64(2.5), f64(-2.5), f64(3.0), f64(0.1),
    f64(1 + 2 ** -52), f64(1 - 2 ** -53), f64(2 ** -53), f64(3 * 2 ** -54), f64(1 / 3), f64(-7.75),
    f64(2.0 ** 31), f64(2.0 ** 31 - 0.5), f64(-(2.0 ** 31) - 0.5), f64(-(2.0 ** 31) - 1), f64(2.0 ** 32),
    f64(2.0 ** 32 - 0.5), f64(2.0 ** 63), f64(-(2.0 ** 63)), f64(2.0 ** 64), f64(2.0 ** 53 + 2),
    f64(1e300), f64(1e-300), f64(2.0 ** -1022 * 1.5), f64(2.0 ** 1023), f64(16777217.0),
})
# binary32 values, boxed when written to an f register
S_VALUES = sorted({
    0, 1 << 31, f32(float("inf")), f32(float("-inf")), 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFA00000,
    0x7FC00123, 1, 0x007FFFFF, 0x80000001, 0x00800000, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF,
    f32(1.0), f32(-1.0), f32(0.5), f32(-0.5), f32(1.5), f32(2.5), f32(-2.5), f32(3.0), f32(0.1),
    f32(1 + 2 ** -23), f32(1 - 2 ** -24), f32(2 ** -24), f32(3 * 2 ** -25), f32(1 / 3), f32(-7.75),
    f32(2.0 ** 31), f32(-(2.0 ** 31)), f32(2.0 ** 32), f32(2.0 ** 63), f32(-(2.0 ** 63)), f32(2.0 ** 64),
    f32(16777216.0), f32(8388609.0), f32(1e38), f32(1e-38), f32(2.0 ** 127), f32(2.0 ** -126 * 1.5),
})
INT_VALUES = [0, 1, 2, 3, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFF80000000, (1 << 64) - 1,
              (1 << 63), (1 << 63) - 1, 0x00FFFFFF, 0x01000001, 0x01000003, 0x0020000000000001,
              0x0020000000000003, 0x7FFFFFFFFFFFFC00, 0xFFFFFFFFFFFFFC01, 0x1234567890ABCDEF,
              0x00000000FFFFFF80, 12345, (1 << 64) - 12345]

# mnemonic stem -> operand kinds: "f" f register, "x" integer register; first is the destination
SHAPES = {}
for _p in ("s", "d"):
    for _op in ("fadd", "fsub", "fmul", "fdiv"):
        SHAPES[f"{_op}.{_p}"] = ("f", "f", "f", "rm")
    SHAPES[f"fsqrt.{_p}"] = ("f", "f", "rm")
    for _op in ("fmadd", "fmsub", "fnmsub", "fnmadd"):
        SHAPES[f"{_op}.{_p}"] = ("f", "f", "f", "f", "rm")
    for _op in ("fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"):
        SHAPES[f"{_op}.{_p}"] = ("f", "f", "f")
    for _op in ("feq", "flt", "fle"):
        SHAPES[f"{_op}.{_p}"] = ("x", "f", "f")
    SHAPES[f"fclass.{_p}"] = ("x", "f")
    for _i in ("w", "wu", "l", "lu"):
        SHAPES[f"fcvt.{_i}.{_p}"] = ("x", "f", "rm")
        SHAPES[f"fcvt.{_p}.{_i}"] = ("f", "x", "rm")
SHAPES["fcvt.s.d"] = ("f", "f", "rm")
# exact conversions: GNU as 2.40 takes no rounding mode for them (rm = 0)
SHAPES["fcvt.d.s"] = ("f", "f")
SHAPES["fcvt.d.w"] = ("f", "x")
SHAPES["fcvt.d.wu"] = ("f", "x")
SHAPES["fmv.x.w"] = ("x", "f")
SHAPES["fmv.x.d"] = ("x", "f")
SHAPES["fmv.w.x"] = ("f", "x")
SHAPES["fmv.d.x"] = ("f", "x")

# f registers f1..f31 are initialised from the pools (f0 is a destination too);
# x10..x17 (a0..a7) hold integers; the integer destination is t0
INT_SRC = list(range(10, 18))


def f_init_values():
    """A strategy for the 32 f-register values: mostly boxed singles and
    doubles from the pools, some random bits, a few unboxed singles."""
    boxed = st.sampled_from(S_VALUES).map(lambda v: BOX | v)
    raw = st.one_of(st.sampled_from(D_VALUES), boxed, st.integers(0, (1 << 64) - 1),
                    st.integers(0, (1 << 32) - 1).map(lambda v: BOX | v),
                    st.sampled_from(S_VALUES))       # a single without its box: reads as the canonical NaN
    return st.lists(raw, min_size=32, max_size=32)


int_values = st.lists(st.one_of(st.sampled_from(INT_VALUES), st.integers(0, (1 << 64) - 1)),
                      min_size=len(INT_SRC), max_size=len(INT_SRC))


@st.composite
def step(draw):
    name = draw(st.sampled_from(sorted(SHAPES)))
    shape = SHAPES[name]
    rm = draw(st.sampled_from(ROUNDING)) if shape[-1] == "rm" else None
    frm = draw(st.integers(0, 4))
    regs = []
    for kind in shape[1:]:
        if kind == "f":
            regs.append(draw(st.integers(0, 31)))
        elif kind == "x":
            regs.append(draw(st.sampled_from(INT_SRC)))
    rd = draw(st.integers(0, 31)) if shape[0] == "f" else 5
    return name, rm, frm, rd, tuple(regs), ()


def _tie_operands(name, draw):
    """Operands whose exact result lies halfway between two neighbours of the
    destination format (where RNE and RMM part ways), as binary64/32 bits."""
    dbl = name.endswith(".d")
    p, emin, bits = (53, -1074, f64) if dbl else (24, -149, f32)
    sign = draw(st.sampled_from((1.0, -1.0)))
    scale = 2.0 ** draw(st.integers(-60, 60))
    if name.startswith(("fadd", "fsub")):
        # x + ulp(x)/2 * odd: halfway whenever x's last bit is even
        k = draw(st.integers(1 << (p - 1), (1 << p) - 1))
        x = sign * k * scale
        half = scale / 2 * draw(st.sampled_from((1, 3, -1)))
        return bits(x), bits(-half if name.startswith("fsub") else half)
    if name.startswith("fdiv") or (name.startswith("fmul") and draw(st.booleans())):
        # subnormal results: odd multiples of the smallest subnormal halved
        # (a quotient of two p-bit numbers is never halfway at full precision)
        odd = draw(st.integers(0, 1 << 10)) * 2 + 1
        a = sign * odd * 2.0 ** emin
        return bits(a), bits(2.0 if name.startswith("fdiv") else 0.5)
    # (1 + odd * 2**(1-p)) * 1.5: the product's last bit is a half
    k = draw(st.integers(0, 1 << 20)) * 2 + 1
    a = sign * (1 + k * 2.0 ** (1 - p)) * scale
    b = 1.5 / scale if draw(st.booleans()) else 1.5
    return bits(a), bits(b)


@st.composite
def tie_step(draw):
    """A rounded arithmetic step whose operands make a halfway case, loaded
    into its source registers just before it."""
    op = draw(st.sampled_from(("fadd", "fsub", "fmul", "fdiv", "fmadd", "fmsub", "fnmadd", "fnmsub")))
    name = op + draw(st.sampled_from((".s", ".d")))
    rm = draw(st.sampled_from(("rmm", "rmm", "rne", "dyn")))
    frm = draw(st.sampled_from((0, 4)))
    a, b = _tie_operands(name.replace(op, "fmul") if op.startswith("fn") or op.startswith("fm") else name, draw)
    srcs = tuple(draw(st.lists(st.integers(1, 31), min_size=3, max_size=3, unique=True)))
    preset = [(srcs[0], a), (srcs[1], b)]
    if len(SHAPES[name]) == 5:
        preset.append((srcs[2], 0 if draw(st.booleans()) else (1 << 63)))
    box = 0 if name.endswith(".d") else BOX
    preset = [(r, box | v) for r, v in preset]
    rd = draw(st.integers(0, 31))
    return name, rm, frm, rd, srcs[:len(SHAPES[name]) - 2], tuple(preset)


def step_text(s):
    name, rm, frm, rd, srcs = s[:5]
    shape = SHAPES[name]
    ops = [("f%d" if shape[0] == "f" else "x%d") % rd]
    for kind, r in zip([k for k in shape[1:] if k != "rm"], srcs):
        ops.append(("f%d" if kind == "f" else "x%d") % r)
    text = f"{name} {', '.join(ops)}"
    if rm is not None and rm != "dyn":
        text += f", {rm}"
    return text


def program(batch):
    """Guest source: each element of `batch` is (f values, int values, steps)."""
    lines = ["    .section .text", "    .globl _start", "_start:",
             "    li t0, 1 << 13", "    csrs mstatus, t0",        # FS = Initial
             "    la t6, results"]
    for fvals, ivals, steps in batch:
        lines.append("    la t5, fvals_%d" % len(lines))
        label = lines[-1].split()[-1]
        for i in range(32):
            lines.append(f"    fld f{i}, {8 * i}(t5)")
        for r, v in zip(INT_SRC, ivals):
            lines.append(f"    li x{r}, {v - (1 << 64) if v >> 63 else v}")
        for s in steps:
            name, rm, frm, rd, srcs, preset = s
            for r, v in preset:
                lines += [f"    li t0, {v - (1 << 64) if v >> 63 else v}", f"    fmv.d.x f{r}, t0"]
            lines += [f"    csrwi frm, {frm}", "    csrwi fflags, 0"]
            lines.append("    " + step_text(s))
            lines.append("    frflags t1")
            if SHAPES[name][0] == "f":
                lines.append(f"    fsd f{rd}, 0(t6)")
            else:
                lines.append("    sd t0, 0(t6)")
            lines += ["    sd t1, 8(t6)", "    addi t6, t6, 16"]
        lines += ["    .section .rodata", "    .balign 8", f"{label}:"]
        lines += [f"    .dword {v:#x}" for v in fvals]
        lines.append("    .section .text")
    total = sum(len(steps) for _, _, steps in batch)
    lines += [
        "    la s0, results", f"    li s1, {total}",
        "1:  ld a0, 0(s0)", "    call puthex", "    li a0, 32", "    call putc",
        "    ld a0, 8(s0)", "    call puthex", "    li a0, 10", "    call putc",
        "    addi s0, s0, 16", "    addi s1, s1, -1", "    bnez s1, 1b",
        "    li t0, 0x100000", "    li t1, 0x5555", "    sw t1, 0(t0)", "3:  j 3b",
        "putc:", "    li t0, 0x10000000", "4:  lbu t1, 5(t0)", "    andi t1, t1, 0x20", "    beqz t1, 4b",
        "    sb a0, 0(t0)", "    ret",
        "puthex:", "    mv t3, ra", "    mv t4, a0", "    li t2, 60",
        "5:  srl a0, t4, t2", "    andi a0, a0, 15", "    addi a0, a0, 48", "    li t0, 57",
        "    ble a0, t0, 6f", "    addi a0, a0, 39", "6:  call putc", "    addi t2, t2, -4",
        "    bgez t2, 5b", "    mv ra, t3", "    ret",
        "    .section .bss", "    .balign 8", f"results: .space {16 * total}",
    ]
    return "\n".join(lines) + "\n"


def describe(batch, line_index, qemu_line, pyvmm_line):
    """Which step a differing output line belongs to, with its operands."""
    i = line_index
    for fvals, ivals, steps in batch:
        if i < len(steps):
            s = steps[i]
            name, rm, frm, rd, srcs, preset = s
            fvals = list(fvals)
            for r, v in preset:
                fvals[r] = v
            shape = [k for k in SHAPES[name][1:] if k != "rm"]
            ops = []
            for kind, r in zip(shape, srcs):
                ops.append(f"f{r}={fvals[r]:#018x}" if kind == "f" else f"x{r}={ivals[INT_SRC.index(r)]:#x}")
            return (f"step: {step_text(s)}   (frm={frm}; operands at the sequence start {', '.join(ops)})\n"
                    f"  QEMU : {qemu_line}\n  pyvmm: {pyvmm_line}    (result, fflags)")
        i -= len(steps)
    return f"line {line_index}: QEMU {qemu_line!r} pyvmm {pyvmm_line!r}"

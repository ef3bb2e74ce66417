"""Register names: x0..x31 and f0..f31 with the ABI names objdump prints."""

ABI_NAMES = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2",
    "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7",
    "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
)

# every spelling GNU as accepts -> register number
REG_NUMBERS = {name: i for i, name in enumerate(ABI_NAMES)}
REG_NUMBERS.update({"x%d" % i: i for i in range(32)})
REG_NUMBERS["fp"] = 8


def reg_name(number):
    """ABI name of x`number`, as objdump prints it."""
    return ABI_NAMES[number]


def reg_number(name):
    """Register number for any accepted spelling, or None."""
    return REG_NUMBERS.get(name)


FP_ABI_NAMES = (
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7",
    "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
    "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7",
    "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
)

# every spelling GNU as accepts for an f register -> its number
FREG_NUMBERS = {name: i for i, name in enumerate(FP_ABI_NAMES)}
FREG_NUMBERS.update({"f%d" % i: i for i in range(32)})


def freg_name(number):
    """ABI name of f`number`, as objdump prints it."""
    return FP_ABI_NAMES[number]


def freg_number(name):
    """f-register number for any accepted spelling, or None."""
    return FREG_NUMBERS.get(name)

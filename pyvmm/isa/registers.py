"""Integer register names: x0..x31 and the ABI names objdump prints."""

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

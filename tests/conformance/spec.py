"""Reference semantics of RV64IM(A) integer operations, written from the ISA manual.

Used to compute the expected value of every conformance case; nothing here
comes from pyvmm. Values are Python ints; registers are unsigned 64-bit.
"""

XLEN = 64
MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1
INT64_MIN = 1 << 63


def u64(value):
    return value & MASK64


def s64(value):
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


def s32(value):
    value &= MASK32
    return value - (1 << 32) if value >> 31 else value


def sext32(value):
    """Sign-extend the low 32 bits to a 64-bit register value (the *W rule)."""
    return u64(s32(value))


def sext(value, bits):
    value &= (1 << bits) - 1
    return u64(value - (1 << bits) if value >> (bits - 1) else value)


def _div_trunc(a, b):
    """Signed division rounding toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


# ------------------------------------------------------------------ RV64I register-register
def add(a, b): return u64(a + b)
def sub(a, b): return u64(a - b)
def sll(a, b): return u64(a << (b & 63))
def slt(a, b): return int(s64(a) < s64(b))
def sltu(a, b): return int(u64(a) < u64(b))
def xor(a, b): return u64(a ^ b)
def srl(a, b): return u64(a) >> (b & 63)
def sra(a, b): return u64(s64(a) >> (b & 63))
def or_(a, b): return u64(a | b)
def and_(a, b): return u64(a & b)
def addw(a, b): return sext32(a + b)
def subw(a, b): return sext32(a - b)
def sllw(a, b): return sext32((a & MASK32) << (b & 31))
def srlw(a, b): return sext32((a & MASK32) >> (b & 31))
def sraw(a, b): return sext32(s32(a) >> (b & 31))


# ------------------------------------------------------------------ M extension
def mul(a, b): return u64(a * b)
def mulh(a, b): return u64((s64(a) * s64(b)) >> 64)
def mulhsu(a, b): return u64((s64(a) * u64(b)) >> 64)
def mulhu(a, b): return u64((u64(a) * u64(b)) >> 64)


def div(a, b):
    a, b = s64(a), s64(b)
    if b == 0:
        return MASK64                      # -1
    if a == -INT64_MIN and b == -1:
        return u64(a)                      # overflow: the dividend
    return u64(_div_trunc(a, b))


def divu(a, b):
    a, b = u64(a), u64(b)
    return MASK64 if b == 0 else a // b


def rem(a, b):
    a, b = s64(a), s64(b)
    if b == 0:
        return u64(a)
    if a == -INT64_MIN and b == -1:
        return 0
    return u64(a - b * _div_trunc(a, b))


def remu(a, b):
    a, b = u64(a), u64(b)
    return a if b == 0 else a % b


def mulw(a, b): return sext32(s32(a) * s32(b))


def divw(a, b):
    a, b = s32(a), s32(b)
    if b == 0:
        return MASK64
    if a == -(1 << 31) and b == -1:
        return sext32(a)
    return sext32(_div_trunc(a, b))


def divuw(a, b):
    a, b = a & MASK32, b & MASK32
    return MASK64 if b == 0 else sext32(a // b)


def remw(a, b):
    a, b = s32(a), s32(b)
    if b == 0:
        return sext32(a)
    if a == -(1 << 31) and b == -1:
        return 0
    return sext32(a - b * _div_trunc(a, b))


def remuw(a, b):
    a, b = a & MASK32, b & MASK32
    return sext32(a if b == 0 else a % b)


# ------------------------------------------------------------------ immediates
def addi(a, imm): return u64(a + imm)
def slti(a, imm): return int(s64(a) < imm)
def sltiu(a, imm): return int(u64(a) < u64(imm))
def xori(a, imm): return u64(a ^ u64(imm))
def ori(a, imm): return u64(a | u64(imm))
def andi(a, imm): return u64(a & u64(imm))
def slli(a, sh): return u64(a << sh)
def srli(a, sh): return u64(a) >> sh
def srai(a, sh): return u64(s64(a) >> sh)
def addiw(a, imm): return sext32(a + imm)
def slliw(a, sh): return sext32((a & MASK32) << sh)
def srliw(a, sh): return sext32((a & MASK32) >> sh)
def sraiw(a, sh): return sext32(s32(a) >> sh)


def lui(imm20): return sext32(imm20 << 12)


R_TYPE = {
    "add": add, "sub": sub, "sll": sll, "slt": slt, "sltu": sltu, "xor": xor,
    "srl": srl, "sra": sra, "or": or_, "and": and_,
    "addw": addw, "subw": subw, "sllw": sllw, "srlw": srlw, "sraw": sraw,
}
M_TYPE = {
    "mul": mul, "mulh": mulh, "mulhsu": mulhsu, "mulhu": mulhu,
    "div": div, "divu": divu, "rem": rem, "remu": remu,
    "mulw": mulw, "divw": divw, "divuw": divuw, "remw": remw, "remuw": remuw,
}
I_TYPE = {
    "addi": addi, "slti": slti, "sltiu": sltiu, "xori": xori, "ori": ori, "andi": andi,
    "addiw": addiw,
}
SHIFT_IMM = {
    "slli": (slli, 63), "srli": (srli, 63), "srai": (srai, 63),
    "slliw": (slliw, 31), "srliw": (srliw, 31), "sraiw": (sraiw, 31),
}


# ------------------------------------------------------------------ A extension
def amo(op, width, mem, src):
    """(value written to rd, value stored to memory) for an AMO of `width` (32/64) bits."""
    mask = (1 << width) - 1
    m, s = mem & mask, src & mask

    def signed(v):
        return v - (1 << width) if v >> (width - 1) else v
    new = {
        "amoswap": lambda: s,
        "amoadd": lambda: m + s,
        "amoxor": lambda: m ^ s,
        "amoand": lambda: m & s,
        "amoor": lambda: m | s,
        "amomin": lambda: m if signed(m) <= signed(s) else s,
        "amomax": lambda: m if signed(m) >= signed(s) else s,
        "amominu": lambda: min(m, s),
        "amomaxu": lambda: max(m, s),
    }[op]() & mask
    return sext(m, width), new


def hex64(value):
    return f"0x{u64(value):016x}"

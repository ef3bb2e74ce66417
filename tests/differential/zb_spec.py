"""Reference semantics of Zba, Zbb, Zbc and Zbs, written from the bit-manipulation
specification (its pseudo-code), for the random-program differential test.
Nothing here comes from pyvmm; values are unsigned 64-bit Python ints."""

from conformance.spec import MASK32, MASK64, s64, sext, sext32, u64


def _uw(a):
    return a & MASK32


def _rotl(a, n, width):
    n %= width
    mask = (1 << width) - 1
    a &= mask
    return ((a << n) | (a >> (width - n))) & mask


def _clmul_full(a, b):
    product = 0
    for i in range(64):
        if b >> i & 1:
            product ^= a << i
    return product


def _count_leading(a, width):
    return width - a.bit_length()


def _count_trailing(a, width):
    return width if a == 0 else (a & -a).bit_length() - 1


R_TYPE = {
    "add.uw": lambda a, b: u64(_uw(a) + b),
    "sh1add": lambda a, b: u64((a << 1) + b),
    "sh2add": lambda a, b: u64((a << 2) + b),
    "sh3add": lambda a, b: u64((a << 3) + b),
    "sh1add.uw": lambda a, b: u64((_uw(a) << 1) + b),
    "sh2add.uw": lambda a, b: u64((_uw(a) << 2) + b),
    "sh3add.uw": lambda a, b: u64((_uw(a) << 3) + b),
    "andn": lambda a, b: a & ~b & MASK64,
    "orn": lambda a, b: u64(a | ~b),
    "xnor": lambda a, b: u64(~(a ^ b)),
    "max": lambda a, b: a if s64(a) > s64(b) else b,
    "maxu": lambda a, b: max(a, b),
    "min": lambda a, b: a if s64(a) < s64(b) else b,
    "minu": lambda a, b: min(a, b),
    "rol": lambda a, b: _rotl(a, b & 63, 64),
    "ror": lambda a, b: _rotl(a, 64 - (b & 63), 64),
    "rolw": lambda a, b: sext32(_rotl(a, b & 31, 32)),
    "rorw": lambda a, b: sext32(_rotl(a, 32 - (b & 31), 32)),
    "clmul": lambda a, b: _clmul_full(a, b) & MASK64,
    "clmulh": lambda a, b: _clmul_full(a, b) >> 64,
    "clmulr": lambda a, b: (_clmul_full(a, b) >> 63) & MASK64,
    "bclr": lambda a, b: a & ~(1 << (b & 63)) & MASK64,
    "bext": lambda a, b: a >> (b & 63) & 1,
    "binv": lambda a, b: a ^ (1 << (b & 63)),
    "bset": lambda a, b: a | (1 << (b & 63)),
}

UNARY = {
    "clz": lambda a: _count_leading(a, 64),
    "clzw": lambda a: _count_leading(a & MASK32, 32),
    "ctz": lambda a: _count_trailing(a, 64),
    "ctzw": lambda a: _count_trailing(a & MASK32, 32),
    "cpop": lambda a: bin(a).count("1"),
    "cpopw": lambda a: bin(a & MASK32).count("1"),
    "sext.b": lambda a: sext(a, 8),
    "sext.h": lambda a: sext(a, 16),
    "zext.h": lambda a: a & 0xFFFF,
    "zext.w": lambda a: a & MASK32,
    "orc.b": lambda a: sum(0xFF << (8 * i) for i in range(8) if a >> (8 * i) & 0xFF),
    "rev8": lambda a: int.from_bytes(a.to_bytes(8, "little"), "big"),
}

# immediate forms: (semantics, largest immediate)
IMMEDIATE = {
    "slli.uw": (lambda a, i: u64(_uw(a) << i), 63),
    "rori": (lambda a, i: _rotl(a, 64 - i, 64), 63),
    "roriw": (lambda a, i: sext32(_rotl(a, 32 - i, 32)), 31),
    "bclri": (lambda a, i: a & ~(1 << i) & MASK64, 63),
    "bexti": (lambda a, i: a >> i & 1, 63),
    "binvi": (lambda a, i: a ^ (1 << i), 63),
    "bseti": (lambda a, i: a | (1 << i), 63),
}

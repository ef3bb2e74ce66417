"""Encoding the few host instructions the translator writes itself, through
the ISA table (pyvmm.isa.codec): constants, state-page accesses (relative to
layout.BASE_REG), jumps and the callout trap."""

from functools import lru_cache

from pyvmm.hv.bt.layout import BASE_REG
from pyvmm.isa import codec

MASK64 = (1 << 64) - 1
ECALL = codec.encode("ecall")
NOP = codec.encode("addi", rd=0, rs1=0, imm=0)


def sext(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def load_constant(rd, value):
    """Instruction words that leave the 64-bit `value` in rd (LLVM's RISCVMatInt
    recursion: lui/addiw for 32-bit values, else shift the upper part up and
    add the low 12 bits)."""
    return list(_load_constant(rd, value))


@lru_cache(maxsize=1 << 14)           # link values and auipc results: guest pcs recur
def _load_constant(rd, value):
    return tuple(_materialise(rd, value))


def _materialise(rd, value):
    value = sext(value, 64)
    if -(1 << 31) <= value < (1 << 31):
        hi = ((value + 0x800) >> 12) & 0xFFFFF
        lo = sext(value, 12)
        words = []
        if hi:
            words.append(codec.encode("lui", rd=rd, imm=hi))
        if lo or not hi:
            words.append(codec.encode("addiw" if hi else "addi", rd=rd, rs1=rd if hi else 0, imm=lo))
        return words
    lo = sext(value, 12)
    hi = (value - lo) >> 12
    shift = 12
    while not hi & 1:
        hi >>= 1
        shift += 1
    words = _materialise(rd, hi)
    words.append(codec.encode("slli", rd=rd, rs1=rd, shamt=shift))
    if lo:
        words.append(codec.encode("addi", rd=rd, rs1=rd, imm=lo))
    return words


@lru_cache(maxsize=None)                 # a few registers times a few slots
def state_load(rd, offset):
    return codec.encode("ld", rd=rd, rs1=BASE_REG, imm=offset)


@lru_cache(maxsize=None)
def state_store(rs, offset):
    return codec.encode("sd", rs2=rs, rs1=BASE_REG, imm=offset)


@lru_cache(maxsize=1 << 14)
def jal(rd, offset):
    return codec.encode("jal", rd=rd, imm=offset)


def far_jump(rd, offset):
    """auipc rd + jalr x0 through rd: a jump `offset` bytes from the auipc,
    anywhere within +-2 GiB."""
    lo = sext(offset, 12)
    hi = ((offset - lo) >> 12) & 0xFFFFF
    return [codec.encode("auipc", rd=rd, imm=hi), codec.encode("jalr", rd=0, rs1=rd, imm=lo)]


def jump_fits(offset):
    return -(1 << 20) <= offset < (1 << 20) and not offset & 1


@lru_cache(maxsize=None)                 # offsets are the translator's own few
def branch(name, rs1, rs2, offset):
    return codec.encode(name, rs1=rs1, rs2=rs2, imm=offset)

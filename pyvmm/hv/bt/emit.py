"""Encoding the few host instructions the translator writes itself, through
the ISA table (pyvmm.isa.codec): constants, state-page accesses (relative to
layout.BASE_REG), jumps and the callout trap."""

from functools import lru_cache

from pyvmm.hv.bt.layout import BASE_REG
from pyvmm.isa import codec

MASK64 = (1 << 64) - 1
ECALL = codec.encode("ecall")
NOP = codec.encode("addi", rd=0, rs1=0, imm=0)


# The few formats the translator writes per guest instruction (constants,
# an indirect jump's target), filled in by shifts over the opcode's word from
# the ISA table: codec.encode's field-by-field checks cost more than the
# whole rest of translating an instruction, and these operands are in range
# by construction (lui's upper 20 bits, a 12-bit signed immediate, a 6-bit
# shift). tests/hv/test_bt_translator.py checks them against codec.encode.
_LUI = codec.encode("lui", rd=0, imm=0)
_I_TYPE = {name: codec.encode(name, rd=0, rs1=0, imm=0) for name in ("addi", "addiw", "andi")}
_SLLI = codec.encode("slli", rd=0, rs1=0, shamt=0)


def i_type(name, rd, rs1, imm):
    """addi, addiw or andi with a 12-bit signed immediate."""
    if not -2048 <= imm < 2048:
        raise codec.EncodingError(f"{name}: immediate {imm} out of range")
    return _I_TYPE[name] | (rd << 7) | (rs1 << 15) | ((imm & 0xFFF) << 20)


def slli(rd, rs1, shamt):
    if not 0 <= shamt < 64:
        raise codec.EncodingError(f"slli: shift {shamt} out of range")
    return _SLLI | (rd << 7) | (rs1 << 15) | (shamt << 20)


def sext(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def load_constant(rd, value):
    """Instruction words that leave the 64-bit `value` in rd (LLVM's RISCVMatInt
    recursion: lui/addiw for 32-bit values, else shift the upper part up and
    add the low 12 bits)."""
    return list(constant(rd, value))


_ADDI, _ADDIW = _I_TYPE["addi"], _I_TYPE["addiw"]


def constant(rd, value):
    """load_constant's words as a tuple. A value in the signed 32-bit range
    (a kernel's addresses in the top 2 GiB: most link values and auipc
    results, nearly each one unique) is encoded at once; the others,
    through a cache."""
    value &= MASK64
    if value < 0x8000_0000:
        return _constant32(rd, value)
    if value >= 0xFFFF_FFFF_8000_0000:
        return _constant32(rd, value - (1 << 64))
    return _load_constant(rd, value)


def _constant32(rd, value):
    """A signed 32-bit value: lui and addiw, or the one of them it needs
    (addi from x0 when the upper 20 bits are zero)."""
    upper = (value + 0x800) >> 12
    lo = value - (upper << 12)
    if not upper & 0xFFFFF:
        return (_ADDI | rd << 7 | (lo & 0xFFF) << 20,)
    if lo:
        return (_LUI | rd << 7 | (upper & 0xFFFFF) << 12,
                _ADDIW | rd << 7 | rd << 15 | (lo & 0xFFF) << 20)
    return (_LUI | rd << 7 | (upper & 0xFFFFF) << 12,)


@lru_cache(maxsize=1 << 12)           # 64-bit constants: a few recur (a user space's auipc)
def _load_constant(rd, value):
    return tuple(_materialise(rd, value))


def _materialise(rd, value):
    value = sext(value, 64)
    if -(1 << 31) <= value < (1 << 31):
        return list(_constant32(rd, value))
    lo = sext(value, 12)
    hi = (value - lo) >> 12
    shift = 12
    while not hi & 1:
        hi >>= 1
        shift += 1
    words = _materialise(rd, hi)
    words.append(slli(rd, rd, shift))
    if lo:
        words.append(i_type("addi", rd, rd, lo))
    return words


@lru_cache(maxsize=None)                 # a few registers times a few slots
def state_load(rd, offset):
    return codec.encode("ld", rd=rd, rs1=BASE_REG, imm=offset)


@lru_cache(maxsize=None)
def state_store(rs, offset):
    return codec.encode("sd", rs2=rs, rs1=BASE_REG, imm=offset)


_JAL = codec.encode("jal", rd=0, imm=0)


def jal(rd, offset):
    """jal rd, offset (even, within +-1 MiB): a chained stub's jump, its
    offset unique to the pair of blocks."""
    if not jump_fits(offset):
        raise codec.EncodingError(f"jal: offset {offset} out of range")
    return (_JAL | rd << 7 | ((offset >> 20) & 1) << 31 | ((offset >> 1) & 0x3FF) << 21
            | ((offset >> 11) & 1) << 20 | ((offset >> 12) & 0xFF) << 12)


_AUIPC = codec.encode("auipc", rd=0, imm=0)
_JALR = codec.encode("jalr", rd=0, rs1=0, imm=0)


def far_jump(rd, offset):
    """auipc rd + jalr x0 through rd: a jump `offset` bytes from the auipc,
    anywhere within +-2 GiB."""
    if not -(1 << 31) - 0x800 <= offset < (1 << 31) - 0x800:
        raise codec.EncodingError(f"far jump: offset {offset} out of range")
    lo = sext(offset, 12)
    hi = ((offset - lo) >> 12) & 0xFFFFF
    return [_AUIPC | rd << 7 | hi << 12, _JALR | rd << 15 | (lo & 0xFFF) << 20]


def jump_fits(offset):
    return -(1 << 20) <= offset < (1 << 20) and not offset & 1


@lru_cache(maxsize=None)                 # offsets are the translator's own few
def branch(name, rs1, rs2, offset):
    return codec.encode(name, rs1=rs1, rs2=rs2, imm=offset)

"""Operand fields: where an operand's bits live inside an instruction word.

A field is a list of segments ``(hi, lo, value_lo)``: instruction bits
``hi..lo`` hold value bits ``value_lo + (hi - lo) .. value_lo``. That one shape
covers plain register fields and every scrambled immediate (B, J and all the
compressed layouts). Value bits that no segment holds are zero, which is where
alignment comes from (a branch offset has no bit 0, c.ldsp's offset no bits 2:0).
"""

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Field:
    name: str
    segments: tuple          # ((hi, lo, value_lo), ...)
    signed: bool = False
    kind: str = "imm"        # "reg" x-register, "creg" x8..x15 in 3 bits, "freg" f-register,
                             # "fcreg" f8..f15 in 3 bits, "rm" rounding mode, "imm", "csr", "fence"
    reg_offset: int = 0      # creg: the 3-bit field holds register number - 8
    wrap_bits: int = 0       # c.lui: value shown as a wrap_bits-wide two's complement (lui's imm20)

    @cached_property
    def width(self):
        """Number of value bits, counting the implicit low zero bits."""
        return max(vlo + hi - lo + 1 for hi, lo, vlo in self.segments)

    @cached_property
    def align(self):
        """Value must be a multiple of this (implicit zero low bits)."""
        held = 0
        for hi, lo, vlo in self.segments:
            held |= ((1 << (hi - lo + 1)) - 1) << vlo
        return held & -held

    @cached_property
    def value_mask(self):
        held = 0
        for hi, lo, vlo in self.segments:
            held |= ((1 << (hi - lo + 1)) - 1) << vlo
        return held

    @cached_property
    def instr_mask(self):
        mask = 0
        for hi, lo, _ in self.segments:
            mask |= ((1 << (hi - lo + 1)) - 1) << lo
        return mask

    def range(self):
        """(lowest, highest) encodable value, ignoring alignment."""
        w = self.width
        if self.kind in ("creg", "fcreg"):
            return 8, 15
        if self.wrap_bits:
            return 0, (1 << self.wrap_bits) - 1
        if self.signed:
            return -(1 << (w - 1)), (1 << (w - 1)) - 1
        return 0, (1 << w) - 1

    def fits(self, value):
        """True when `value` can be encoded exactly."""
        if self.wrap_bits:
            w = self.width
            full = 1 << self.wrap_bits
            if not 0 <= value < full:
                return False
            signed_value = value - full if value >= full >> 1 else value
            return -(1 << (w - 1)) <= signed_value < (1 << (w - 1)) and signed_value % self.align == 0
        lo, hi = self.range()
        return lo <= value <= hi and (value - self.reg_offset) % self.align == 0

    def extract(self, word):
        value = 0
        for hi, lo, vlo in self.segments:
            value |= ((word >> lo) & ((1 << (hi - lo + 1)) - 1)) << vlo
        if self.signed or self.wrap_bits:
            w = self.width
            if value >> (w - 1) & 1:
                value -= 1 << w
        if self.wrap_bits:
            value &= (1 << self.wrap_bits) - 1
        return value + self.reg_offset

    def insert(self, value):
        """Bits of the instruction word for `value`; the caller checks fits()."""
        value -= self.reg_offset
        value &= (1 << self.width) - 1
        word = 0
        for hi, lo, vlo in self.segments:
            word |= ((value >> vlo) & ((1 << (hi - lo + 1)) - 1)) << lo
        return word


# rounding modes: the rm field's values. 5 and 6 are reserved: the word
# decodes (objdump prints the mode as "unknown") but executing it is an
# illegal instruction, as is dyn while frm holds 5..7.
RM_NAMES = {0: "rne", 1: "rtz", 2: "rdn", 3: "rup", 4: "rmm", 7: "dyn"}
RM_NUMBERS = {name: value for value, name in RM_NAMES.items()}
RESERVED_RM = (5, 6)
RM_DYN = 7


def _f(name, *segments, signed=False, kind="imm", reg_offset=0, wrap_bits=0):
    return Field(name, tuple(segments), signed, kind, reg_offset, wrap_bits)


# 32-bit formats
RD = _f("rd", (11, 7, 0), kind="reg")
RS1 = _f("rs1", (19, 15, 0), kind="reg")
RS2 = _f("rs2", (24, 20, 0), kind="reg")
IMM_I = _f("imm", (31, 20, 0), signed=True)
IMM_S = _f("imm", (31, 25, 5), (11, 7, 0), signed=True)
IMM_B = _f("imm", (31, 31, 12), (30, 25, 5), (11, 8, 1), (7, 7, 11), signed=True)
IMM_U = _f("imm", (31, 12, 0))                     # the 20-bit value as written: lui a0, 0x12345
IMM_J = _f("imm", (31, 31, 20), (30, 21, 1), (20, 20, 11), (19, 12, 12), signed=True)
SHAMT = _f("shamt", (25, 20, 0))                   # RV64: 6 bits
SHAMTW = _f("shamt", (24, 20, 0))                  # *W shifts: 5 bits
CSR = _f("csr", (31, 20, 0), kind="csr")
ZIMM = _f("zimm", (19, 15, 0))                     # csrr*i source
IMM_PF = _f("imm", (31, 25, 5), signed=True)      # prefetch.*: offset[11:5], low bits zero
PRED = _f("pred", (27, 24, 0), kind="fence")
SUCC = _f("succ", (23, 20, 0), kind="fence")

# F and D: f-register fields and the rounding mode
FRD = _f("rd", (11, 7, 0), kind="freg")
FRS1 = _f("rs1", (19, 15, 0), kind="freg")
FRS2 = _f("rs2", (24, 20, 0), kind="freg")
FRS3 = _f("rs3", (31, 27, 0), kind="freg")
RM = _f("rm", (14, 12, 0), kind="rm")

# compressed formats (RV64C)
C_RD = _f("rd", (11, 7, 0), kind="reg")            # also rs1 when rd == rs1
C_RS1 = _f("rs1", (11, 7, 0), kind="reg")          # c.jr / c.jalr
C_RS2 = _f("rs2", (6, 2, 0), kind="reg")
C_RD_P = _f("rd", (4, 2, 0), kind="creg", reg_offset=8)
C_RS2_P = _f("rs2", (4, 2, 0), kind="creg", reg_offset=8)
C_RS1_P = _f("rs1", (9, 7, 0), kind="creg", reg_offset=8)
C_RDRS1_P = _f("rd", (9, 7, 0), kind="creg", reg_offset=8)   # CB/CA: rd' == rs1'
C_FRD_P = _f("rd", (4, 2, 0), kind="fcreg", reg_offset=8)    # c.fld: f8..f15
C_FRS2_P = _f("rs2", (4, 2, 0), kind="fcreg", reg_offset=8)  # c.fsd
C_FRD = _f("rd", (11, 7, 0), kind="freg")                    # c.fldsp
C_FRS2 = _f("rs2", (6, 2, 0), kind="freg")                   # c.fsdsp
C_IMM6 = _f("imm", (12, 12, 5), (6, 2, 0), signed=True)      # c.addi, c.addiw, c.li, c.andi
C_SHAMT = _f("shamt", (12, 12, 5), (6, 2, 0))
C_LUI_IMM = _f("imm", (12, 12, 5), (6, 2, 0), signed=True, wrap_bits=20)
C_ADDI16SP_IMM = _f("imm", (12, 12, 9), (6, 6, 4), (5, 5, 6), (4, 3, 7), (2, 2, 5), signed=True)
C_ADDI4SPN_IMM = _f("imm", (12, 11, 4), (10, 7, 6), (6, 6, 2), (5, 5, 3))
C_LW_IMM = _f("imm", (12, 10, 3), (6, 6, 2), (5, 5, 6))
C_LD_IMM = _f("imm", (12, 10, 3), (6, 5, 6))
C_LWSP_IMM = _f("imm", (12, 12, 5), (6, 4, 2), (3, 2, 6))
C_LDSP_IMM = _f("imm", (12, 12, 5), (6, 5, 3), (4, 2, 6))
C_SWSP_IMM = _f("imm", (12, 9, 2), (8, 7, 6))
C_SDSP_IMM = _f("imm", (12, 10, 3), (9, 7, 6))
C_J_IMM = _f("imm", (12, 12, 11), (11, 11, 4), (10, 9, 8), (8, 8, 10), (7, 7, 6), (6, 6, 7),
             (5, 3, 1), (2, 2, 5), signed=True)
C_B_IMM = _f("imm", (12, 12, 8), (11, 10, 3), (6, 5, 6), (4, 3, 1), (2, 2, 5), signed=True)

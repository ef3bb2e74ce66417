"""The 32-bit instruction table: RV64I, M, A, F, D, Zicsr, Zifencei, privileged, H,
Zba, Zbb, Zbc, Zbs, Zicbom, Zicboz, Zicbop, Zihintpause.

Each entry is an `Instr`. An instruction word `w` is an instance of `ins` when
``w & ins.mask == ins.match``; its operands are ``{f.name: f.extract(w) for f
in ins.fields}``. `syntax` lists the operands the way GNU as writes them:
a field name, ``"imm(rs1)"`` for base+offset, ``"(rs1)"`` for a bare address
register (atomics, HLV/HSV). Fields fixed by the encoding (e.g. AMO aq/rl,
which GNU spells as the .aq/.rl/.aqrl suffix) are part of `match`, not fields.
"""

from dataclasses import dataclass

from pyvmm.isa import fields as F


@dataclass(frozen=True)
class Instr:
    name: str
    fmt: str                 # R I S B U J, or a named special shape (see FORMATS)
    match: int
    mask: int
    fields: tuple            # Field objects, in the order of `syntax`'s operands
    syntax: tuple            # operand spellings, GNU order
    ext: str                 # "I" "M" "A" "F" "D" "Zicsr" "Zifencei" "priv" "H", "Zba" "Zbb" ...
    length: int = 4

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


# Operand shapes: format name -> (fields, syntax, mask of the bits fields do not cover).
FORMATS = {
    "R": ((F.RD, F.RS1, F.RS2), ("rd", "rs1", "rs2")),
    "I": ((F.RD, F.RS1, F.IMM_I), ("rd", "rs1", "imm")),
    "I_load": ((F.RD, F.IMM_I, F.RS1), ("rd", "imm(rs1)")),
    "I_jalr": ((F.RD, F.IMM_I, F.RS1), ("rd", "imm(rs1)")),
    "I_shift": ((F.RD, F.RS1, F.SHAMT), ("rd", "rs1", "shamt")),
    "I_shiftw": ((F.RD, F.RS1, F.SHAMTW), ("rd", "rs1", "shamt")),
    "S": ((F.RS2, F.IMM_S, F.RS1), ("rs2", "imm(rs1)")),
    "B": ((F.RS1, F.RS2, F.IMM_B), ("rs1", "rs2", "imm")),
    "U": ((F.RD, F.IMM_U), ("rd", "imm")),
    "J": ((F.RD, F.IMM_J), ("rd", "imm")),
    "CSR": ((F.RD, F.CSR, F.RS1), ("rd", "csr", "rs1")),
    "CSRI": ((F.RD, F.CSR, F.ZIMM), ("rd", "csr", "zimm")),
    "AMO": ((F.RD, F.RS2, F.RS1), ("rd", "rs2", "(rs1)")),
    "LR": ((F.RD, F.RS1), ("rd", "(rs1)")),
    "FENCE": ((F.PRED, F.SUCC), ("pred", "succ")),
    "NONE": ((), ()),
    "SFENCE": ((F.RS1, F.RS2), ("rs1", "rs2")),
    "HLV": ((F.RD, F.RS1), ("rd", "(rs1)")),
    "HSV": ((F.RS2, F.RS1), ("rs2", "(rs1)")),
    # F and D
    "FLOAD": ((F.FRD, F.IMM_I, F.RS1), ("rd", "imm(rs1)")),
    "FSTORE": ((F.FRS2, F.IMM_S, F.RS1), ("rs2", "imm(rs1)")),
    "FR4": ((F.FRD, F.FRS1, F.FRS2, F.FRS3, F.RM), ("rd", "rs1", "rs2", "rs3", "rm")),
    "FR_RM": ((F.FRD, F.FRS1, F.FRS2, F.RM), ("rd", "rs1", "rs2", "rm")),
    "FR": ((F.FRD, F.FRS1, F.FRS2), ("rd", "rs1", "rs2")),
    "FR1_RM": ((F.FRD, F.FRS1, F.RM), ("rd", "rs1", "rm")),
    "FR1": ((F.FRD, F.FRS1), ("rd", "rs1")),
    "FCMP": ((F.RD, F.FRS1, F.FRS2), ("rd", "rs1", "rs2")),
    "X_F_RM": ((F.RD, F.FRS1, F.RM), ("rd", "rs1", "rm")),
    "X_F": ((F.RD, F.FRS1), ("rd", "rs1")),
    "F_X_RM": ((F.FRD, F.RS1, F.RM), ("rd", "rs1", "rm")),
    "F_X": ((F.FRD, F.RS1), ("rd", "rs1")),
    "R1": ((F.RD, F.RS1), ("rd", "rs1")),                  # unary bit-manipulation
    "CBO": ((F.RS1,), ("(rs1)",)),
    "PREFETCH": ((F.IMM_PF, F.RS1), ("imm(rs1)",)),
}


def _bits_of(fields_):
    mask = 0
    for f in fields_:
        mask |= f.instr_mask
    return mask


INSTRUCTIONS = []


def _add(name, fmt, match, ext, mask=None):
    fields_, syntax = FORMATS[fmt]
    if mask is None:
        mask = 0xFFFFFFFF & ~_bits_of(fields_)
    assert match & ~mask == 0, name
    INSTRUCTIONS.append(Instr(name, fmt, match, mask, fields_, syntax, ext))


def _r(funct7, funct3, opcode):
    return funct7 << 25 | funct3 << 12 | opcode


def _i(funct3, opcode):
    return funct3 << 12 | opcode


OP_LOAD, OP_MISC_MEM, OP_IMM, OP_AUIPC, OP_IMM_32 = 0x03, 0x0F, 0x13, 0x17, 0x1B
OP_STORE, OP_AMO, OP_OP, OP_LUI, OP_32 = 0x23, 0x2F, 0x33, 0x37, 0x3B
OP_BRANCH, OP_JALR, OP_JAL, OP_SYSTEM = 0x63, 0x67, 0x6F, 0x73

# RV64I
_add("lui", "U", OP_LUI, "I")
_add("auipc", "U", OP_AUIPC, "I")
_add("jal", "J", OP_JAL, "I")
_add("jalr", "I_jalr", _i(0, OP_JALR), "I")
for _n, _f3 in (("beq", 0), ("bne", 1), ("blt", 4), ("bge", 5), ("bltu", 6), ("bgeu", 7)):
    _add(_n, "B", _i(_f3, OP_BRANCH), "I")
for _n, _f3 in (("lb", 0), ("lh", 1), ("lw", 2), ("ld", 3), ("lbu", 4), ("lhu", 5), ("lwu", 6)):
    _add(_n, "I_load", _i(_f3, OP_LOAD), "I")
for _n, _f3 in (("sb", 0), ("sh", 1), ("sw", 2), ("sd", 3)):
    _add(_n, "S", _i(_f3, OP_STORE), "I")
for _n, _f3 in (("addi", 0), ("slti", 2), ("sltiu", 3), ("xori", 4), ("ori", 6), ("andi", 7)):
    _add(_n, "I", _i(_f3, OP_IMM), "I")
_add("slli", "I_shift", _i(1, OP_IMM), "I")
_add("srli", "I_shift", _i(5, OP_IMM), "I")
_add("srai", "I_shift", 0x10 << 26 | _i(5, OP_IMM), "I")
for _n, _f7, _f3 in (("add", 0, 0), ("sub", 0x20, 0), ("sll", 0, 1), ("slt", 0, 2), ("sltu", 0, 3),
                     ("xor", 0, 4), ("srl", 0, 5), ("sra", 0x20, 5), ("or", 0, 6), ("and", 0, 7)):
    _add(_n, "R", _r(_f7, _f3, OP_OP), "I")
_add("addiw", "I", _i(0, OP_IMM_32), "I")
_add("slliw", "I_shiftw", _r(0, 1, OP_IMM_32), "I")
_add("srliw", "I_shiftw", _r(0, 5, OP_IMM_32), "I")
_add("sraiw", "I_shiftw", _r(0x20, 5, OP_IMM_32), "I")
for _n, _f7, _f3 in (("addw", 0, 0), ("subw", 0x20, 0), ("sllw", 0, 1), ("srlw", 0, 5), ("sraw", 0x20, 5)):
    _add(_n, "R", _r(_f7, _f3, OP_32), "I")
# fence: fm and rs1/rd are reserved-for-future fields that decoders ignore (GNU's MASK_FENCE)
_add("fence", "FENCE", _i(0, OP_MISC_MEM), "I", mask=0x0000707F)
_add("fence.tso", "NONE", 0x8330000F, "I", mask=0xFFF0707F)
_add("ecall", "NONE", 0x00000073, "I", mask=0xFFFFFFFF)
_add("ebreak", "NONE", 0x00100073, "I", mask=0xFFFFFFFF)

# Zifencei
_add("fence.i", "NONE", _i(1, OP_MISC_MEM), "Zifencei", mask=0x0000707F)

# Zicsr
for _n, _f3 in (("csrrw", 1), ("csrrs", 2), ("csrrc", 3)):
    _add(_n, "CSR", _i(_f3, OP_SYSTEM), "Zicsr")
for _n, _f3 in (("csrrwi", 5), ("csrrsi", 6), ("csrrci", 7)):
    _add(_n, "CSRI", _i(_f3, OP_SYSTEM), "Zicsr")

# M
for _n, _f3 in (("mul", 0), ("mulh", 1), ("mulhsu", 2), ("mulhu", 3),
                ("div", 4), ("divu", 5), ("rem", 6), ("remu", 7)):
    _add(_n, "R", _r(1, _f3, OP_OP), "M")
for _n, _f3 in (("mulw", 0), ("divw", 4), ("divuw", 5), ("remw", 6), ("remuw", 7)):
    _add(_n, "R", _r(1, _f3, OP_32), "M")

# Zba, Zbb, Zbc, Zbs (bit manipulation)
for _n, _f7, _f3, _opc in (("add.uw", 0x04, 0, OP_32), ("sh1add", 0x10, 2, OP_OP), ("sh2add", 0x10, 4, OP_OP),
                           ("sh3add", 0x10, 6, OP_OP), ("sh1add.uw", 0x10, 2, OP_32),
                           ("sh2add.uw", 0x10, 4, OP_32), ("sh3add.uw", 0x10, 6, OP_32)):
    _add(_n, "R", _r(_f7, _f3, _opc), "Zba")
_add("slli.uw", "I_shift", 0x02 << 26 | _i(1, OP_IMM_32), "Zba")
for _n, _f7, _f3, _opc in (("andn", 0x20, 7, OP_OP), ("orn", 0x20, 6, OP_OP), ("xnor", 0x20, 4, OP_OP),
                           ("max", 0x05, 6, OP_OP), ("maxu", 0x05, 7, OP_OP), ("min", 0x05, 4, OP_OP),
                           ("minu", 0x05, 5, OP_OP), ("rol", 0x30, 1, OP_OP), ("ror", 0x30, 5, OP_OP),
                           ("rolw", 0x30, 1, OP_32), ("rorw", 0x30, 5, OP_32)):
    _add(_n, "R", _r(_f7, _f3, _opc), "Zbb")
for _n, _f12, _f3, _opc in (("clz", 0x600, 1, OP_IMM), ("ctz", 0x601, 1, OP_IMM), ("cpop", 0x602, 1, OP_IMM),
                            ("clzw", 0x600, 1, OP_IMM_32), ("ctzw", 0x601, 1, OP_IMM_32),
                            ("cpopw", 0x602, 1, OP_IMM_32), ("sext.b", 0x604, 1, OP_IMM),
                            ("sext.h", 0x605, 1, OP_IMM), ("zext.h", 0x080, 4, OP_32),
                            ("orc.b", 0x287, 5, OP_IMM), ("rev8", 0x6B8, 5, OP_IMM)):
    _add(_n, "R1", _f12 << 20 | _i(_f3, _opc), "Zbb")
_add("rori", "I_shift", 0x18 << 26 | _i(5, OP_IMM), "Zbb")
_add("roriw", "I_shiftw", _r(0x30, 5, OP_IMM_32), "Zbb")
for _n, _f3 in (("clmul", 1), ("clmulr", 2), ("clmulh", 3)):
    _add(_n, "R", _r(0x05, _f3, OP_OP), "Zbc")
for _n, _f7, _f3 in (("bclr", 0x24, 1), ("bext", 0x24, 5), ("binv", 0x34, 1), ("bset", 0x14, 1)):
    _add(_n, "R", _r(_f7, _f3, OP_OP), "Zbs")
    _add(_n + "i", "I_shift", (_f7 >> 1) << 26 | _i(_f3, OP_IMM), "Zbs")

# Zicbom, Zicboz (cache-block operations), Zicbop and Zihintpause (hints in
# ORI and FENCE encodings, executed as those)
for _n, _f12, _ext in (("cbo.inval", 0, "Zicbom"), ("cbo.clean", 1, "Zicbom"), ("cbo.flush", 2, "Zicbom"),
                       ("cbo.zero", 4, "Zicboz")):
    _add(_n, "CBO", _f12 << 20 | _i(2, OP_MISC_MEM), _ext)
for _n, _sel in (("prefetch.i", 0), ("prefetch.r", 1), ("prefetch.w", 3)):
    _add(_n, "PREFETCH", _sel << 20 | _i(6, OP_IMM), "Zicbop")
_add("pause", "NONE", 0x0100000F, "Zihintpause", mask=0xFFFFFFFF)

# A: one entry per ordering suffix, as GNU's opcode table and objdump spell them
_ORDERINGS = (("", 0), (".aq", 2), (".rl", 1), (".aqrl", 3))
for _width, _f3 in ((".w", 2), (".d", 3)):
    for _suffix, _aqrl in _ORDERINGS:
        _add("lr" + _width + _suffix, "LR", 0x02 << 27 | _aqrl << 25 | _i(_f3, OP_AMO), "A",
             mask=0xFFFFFFFF & ~(F.RD.instr_mask | F.RS1.instr_mask))
        for _op, _f5 in (("sc", 0x03), ("amoswap", 0x01), ("amoadd", 0x00), ("amoxor", 0x04),
                         ("amoand", 0x0C), ("amoor", 0x08), ("amomin", 0x10), ("amomax", 0x14),
                         ("amominu", 0x18), ("amomaxu", 0x1C)):
            _add(_op + _width + _suffix, "AMO", _f5 << 27 | _aqrl << 25 | _i(_f3, OP_AMO), "A",
                 mask=0xFFFFFFFF & ~(F.RD.instr_mask | F.RS1.instr_mask | F.RS2.instr_mask))

# privileged
_add("sret", "NONE", 0x10200073, "priv", mask=0xFFFFFFFF)
_add("mret", "NONE", 0x30200073, "priv", mask=0xFFFFFFFF)
_add("wfi", "NONE", 0x10500073, "priv", mask=0xFFFFFFFF)
_add("sfence.vma", "SFENCE", 0x12000073, "priv")

# H
_add("hfence.vvma", "SFENCE", 0x22000073, "H")
_add("hfence.gvma", "SFENCE", 0x62000073, "H")
for _n, _f7, _rs2 in (("hlv.b", 0x30, 0), ("hlv.bu", 0x30, 1), ("hlv.h", 0x32, 0), ("hlv.hu", 0x32, 1),
                      ("hlvx.hu", 0x32, 3), ("hlv.w", 0x34, 0), ("hlv.wu", 0x34, 1), ("hlvx.wu", 0x34, 3),
                      ("hlv.d", 0x36, 0)):
    _add(_n, "HLV", _f7 << 25 | _rs2 << 20 | _i(4, OP_SYSTEM), "H")
for _n, _f7 in (("hsv.b", 0x31), ("hsv.h", 0x33), ("hsv.w", 0x35), ("hsv.d", 0x37)):
    _add(_n, "HSV", _f7 << 25 | _i(4, OP_SYSTEM), "H")

# F and D (the format is funct7's low two bits: S = 0, D = 1). Exact
# conversions (fcvt.d.s, fcvt.d.w, fcvt.d.wu) have their rm field pinned to 0,
# as GNU's opcode table does.
OP_LOAD_FP, OP_STORE_FP, OP_FP = 0x07, 0x27, 0x53
_add("flw", "FLOAD", _i(2, OP_LOAD_FP), "F")
_add("fld", "FLOAD", _i(3, OP_LOAD_FP), "D")
_add("fsw", "FSTORE", _i(2, OP_STORE_FP), "F")
_add("fsd", "FSTORE", _i(3, OP_STORE_FP), "D")
for _p, _fmt, _ext in ((".s", 0, "F"), (".d", 1, "D")):
    for _n, _opc in (("fmadd", 0x43), ("fmsub", 0x47), ("fnmsub", 0x4B), ("fnmadd", 0x4F)):
        _add(_n + _p, "FR4", _fmt << 25 | _opc, _ext)
    for _n, _f5 in (("fadd", 0x00), ("fsub", 0x01), ("fmul", 0x02), ("fdiv", 0x03)):
        _add(_n + _p, "FR_RM", (_f5 << 2 | _fmt) << 25 | OP_FP, _ext)
    _add("fsqrt" + _p, "FR1_RM", (0x0B << 2 | _fmt) << 25 | OP_FP, _ext)
    for _n, _f5, _f3 in (("fsgnj", 0x04, 0), ("fsgnjn", 0x04, 1), ("fsgnjx", 0x04, 2),
                         ("fmin", 0x05, 0), ("fmax", 0x05, 1)):
        _add(_n + _p, "FR", _r(_f5 << 2 | _fmt, _f3, OP_FP), _ext)
    for _n, _f3 in (("fle", 0), ("flt", 1), ("feq", 2)):
        _add(_n + _p, "FCMP", _r(0x14 << 2 | _fmt, _f3, OP_FP), _ext)
    for _i_name, _rs2 in (("w", 0), ("wu", 1), ("l", 2), ("lu", 3)):
        _add("fcvt." + _i_name + _p, "X_F_RM", (0x18 << 2 | _fmt) << 25 | _rs2 << 20 | OP_FP, _ext)
        if _p == ".d" and _i_name in ("w", "wu"):
            _add("fcvt.d." + _i_name, "F_X", _r(0x1A << 2 | 1, 0, OP_FP) | _rs2 << 20, "D")
        else:
            _add("fcvt" + _p + "." + _i_name, "F_X_RM", (0x1A << 2 | _fmt) << 25 | _rs2 << 20 | OP_FP, _ext)
    _add("fclass" + _p, "X_F", _r(0x1C << 2 | _fmt, 1, OP_FP), _ext)
_add("fcvt.s.d", "FR1_RM", 0x20 << 25 | 1 << 20 | OP_FP, "D")
_add("fcvt.d.s", "FR1", _r(0x21, 0, OP_FP), "D")
_add("fmv.x.w", "X_F", _r(0x70, 0, OP_FP), "F")
_add("fmv.w.x", "F_X", _r(0x78, 0, OP_FP), "F")
_add("fmv.x.d", "X_F", _r(0x71, 0, OP_FP), "D")
_add("fmv.d.x", "F_X", _r(0x79, 0, OP_FP), "D")

INSTRUCTIONS = tuple(INSTRUCTIONS)
BY_NAME = {ins.name: ins for ins in INSTRUCTIONS}

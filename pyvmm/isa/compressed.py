"""The compressed (RVC, RV64) instruction table and its expansion to 32 bits.

Each entry is a `CInstr`: ``half & mask == match`` selects it (the 16-bit
parcel), `fields` extract the operands (register fields already hold x-register
numbers: x8..x15 for the 3-bit rd'/rs1'/rs2'), and `constraints` are the
conditions on operands for the encoding to be this instruction rather than a
reserved or differently named one, written as ``(operand, op, value)`` with op
one of ``"!="``, ``"=="``. `expands_to` is ``(name32, {operand32: source})``
where source is an operand name of this entry or an int constant: the 32-bit
instruction the parcel means (spec "RVC expansions"). Entries are listed most
specific first, so the first match wins.

Reserved parcels (all zeros, c.addi4spn with zero offset, c.lwsp/c.ldsp with
rd=x0, c.jr x0, c.addi16sp 0, c.lui 0, c.addiw x0, ...) match no entry.
HINT parcels (c.addi x0, c.li x0, c.mv x0, ..., c.slli/c.srli/c.srai with shamt 0,
c.lui x0) are valid and expand to their 32-bit no-effect equivalents.
"""

from dataclasses import dataclass

from pyvmm.isa import fields as F


@dataclass(frozen=True)
class CInstr:
    name: str
    fmt: str                 # CR CI CSS CIW CL CS CA CB CJ (spec format names)
    match: int
    mask: int
    fields: tuple
    syntax: tuple            # operand spellings as GNU as accepts the c.* mnemonic
    constraints: tuple       # ((operand, "!=" | "==", value), ...)
    expands_to: tuple        # (name32, {operand32: operand16-name | int})
    length: int = 2
    ext: str = "C"

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def accepts(self, operands):
        """True when the operand values satisfy this entry's constraints."""
        for name, op, value in self.constraints:
            actual = operands[name]
            if op == "!=" and actual == value:
                return False
            if op == "==" and actual != value:
                return False
        return True


COMPRESSED = []


def _c(name, fmt, funct3, quadrant, fields_, syntax, expands_to, constraints=(), fixed=(), ext="C"):
    """fixed: ((hi, lo, value), ...) extra bits pinned by the encoding; ext
    "C+D" for the double-precision loads and stores (they need both)."""
    match = funct3 << 13 | quadrant
    mask = 0xE003
    for hi, lo, value in fixed:
        width_mask = ((1 << (hi - lo + 1)) - 1) << lo
        mask |= width_mask
        match |= value << lo
    for f in fields_:
        assert f.instr_mask & mask == 0, name
    COMPRESSED.append(CInstr(name, fmt, match, mask, tuple(fields_), tuple(syntax),
                             tuple(constraints), expands_to, ext=ext))


# Quadrant 0
_c("c.addi4spn", "CIW", 0, 0, (F.C_RD_P, F.C_ADDI4SPN_IMM), ("rd", "sp", "imm"),
   ("addi", {"rd": "rd", "rs1": 2, "imm": "imm"}), (("imm", "!=", 0),))
_c("c.lw", "CL", 2, 0, (F.C_RD_P, F.C_LW_IMM, F.C_RS1_P), ("rd", "imm(rs1)"),
   ("lw", {"rd": "rd", "rs1": "rs1", "imm": "imm"}))
_c("c.ld", "CL", 3, 0, (F.C_RD_P, F.C_LD_IMM, F.C_RS1_P), ("rd", "imm(rs1)"),
   ("ld", {"rd": "rd", "rs1": "rs1", "imm": "imm"}))
_c("c.fld", "CL", 1, 0, (F.C_FRD_P, F.C_LD_IMM, F.C_RS1_P), ("rd", "imm(rs1)"),
   ("fld", {"rd": "rd", "rs1": "rs1", "imm": "imm"}), ext="C+D")
_c("c.fsd", "CS", 5, 0, (F.C_FRS2_P, F.C_LD_IMM, F.C_RS1_P), ("rs2", "imm(rs1)"),
   ("fsd", {"rs2": "rs2", "rs1": "rs1", "imm": "imm"}), ext="C+D")
_c("c.sw", "CS", 6, 0, (F.C_RS2_P, F.C_LW_IMM, F.C_RS1_P), ("rs2", "imm(rs1)"),
   ("sw", {"rs2": "rs2", "rs1": "rs1", "imm": "imm"}))
_c("c.sd", "CS", 7, 0, (F.C_RS2_P, F.C_LD_IMM, F.C_RS1_P), ("rs2", "imm(rs1)"),
   ("sd", {"rs2": "rs2", "rs1": "rs1", "imm": "imm"}))

# Quadrant 1
_c("c.nop", "CI", 0, 1, (), (), ("addi", {"rd": 0, "rs1": 0, "imm": 0}), fixed=((12, 2, 0),))
_c("c.addi", "CI", 0, 1, (F.C_RD, F.C_IMM6), ("rd", "imm"),
   ("addi", {"rd": "rd", "rs1": "rd", "imm": "imm"}))
_c("c.addiw", "CI", 1, 1, (F.C_RD, F.C_IMM6), ("rd", "imm"),
   ("addiw", {"rd": "rd", "rs1": "rd", "imm": "imm"}), (("rd", "!=", 0),))
_c("c.li", "CI", 2, 1, (F.C_RD, F.C_IMM6), ("rd", "imm"),
   ("addi", {"rd": "rd", "rs1": 0, "imm": "imm"}))
_c("c.addi16sp", "CI", 3, 1, (F.C_ADDI16SP_IMM,), ("sp", "imm"),
   ("addi", {"rd": 2, "rs1": 2, "imm": "imm"}), (("imm", "!=", 0),), fixed=((11, 7, 2),))
_c("c.lui", "CI", 3, 1, (F.C_RD, F.C_LUI_IMM), ("rd", "imm"),
   ("lui", {"rd": "rd", "imm": "imm"}), (("rd", "!=", 2), ("imm", "!=", 0)))
_c("c.srli", "CB", 4, 1, (F.C_RDRS1_P, F.C_SHAMT), ("rd", "shamt"),
   ("srli", {"rd": "rd", "rs1": "rd", "shamt": "shamt"}), fixed=((11, 10, 0),))
_c("c.srai", "CB", 4, 1, (F.C_RDRS1_P, F.C_SHAMT), ("rd", "shamt"),
   ("srai", {"rd": "rd", "rs1": "rd", "shamt": "shamt"}), fixed=((11, 10, 1),))
_c("c.andi", "CB", 4, 1, (F.C_RDRS1_P, F.C_IMM6), ("rd", "imm"),
   ("andi", {"rd": "rd", "rs1": "rd", "imm": "imm"}), fixed=((11, 10, 2),))
for _n, _b12, _f2, _n32 in (("c.sub", 0, 0, "sub"), ("c.xor", 0, 1, "xor"), ("c.or", 0, 2, "or"),
                            ("c.and", 0, 3, "and"), ("c.subw", 1, 0, "subw"), ("c.addw", 1, 1, "addw")):
    _c(_n, "CA", 4, 1, (F.C_RDRS1_P, F.C_RS2_P), ("rd", "rs2"),
       (_n32, {"rd": "rd", "rs1": "rd", "rs2": "rs2"}), fixed=((12, 12, _b12), (11, 10, 3), (6, 5, _f2)))
_c("c.j", "CJ", 5, 1, (F.C_J_IMM,), ("imm",), ("jal", {"rd": 0, "imm": "imm"}))
_c("c.beqz", "CB", 6, 1, (F.C_RS1_P, F.C_B_IMM), ("rs1", "imm"),
   ("beq", {"rs1": "rs1", "rs2": 0, "imm": "imm"}))
_c("c.bnez", "CB", 7, 1, (F.C_RS1_P, F.C_B_IMM), ("rs1", "imm"),
   ("bne", {"rs1": "rs1", "rs2": 0, "imm": "imm"}))

# Quadrant 2
_c("c.slli", "CI", 0, 2, (F.C_RD, F.C_SHAMT), ("rd", "shamt"),
   ("slli", {"rd": "rd", "rs1": "rd", "shamt": "shamt"}))
_c("c.fldsp", "CI", 1, 2, (F.C_FRD, F.C_LDSP_IMM), ("rd", "imm(sp)"),
   ("fld", {"rd": "rd", "rs1": 2, "imm": "imm"}), ext="C+D")
_c("c.lwsp", "CI", 2, 2, (F.C_RD, F.C_LWSP_IMM), ("rd", "imm(sp)"),
   ("lw", {"rd": "rd", "rs1": 2, "imm": "imm"}), (("rd", "!=", 0),))
_c("c.ldsp", "CI", 3, 2, (F.C_RD, F.C_LDSP_IMM), ("rd", "imm(sp)"),
   ("ld", {"rd": "rd", "rs1": 2, "imm": "imm"}), (("rd", "!=", 0),))
_c("c.jr", "CR", 4, 2, (F.C_RS1,), ("rs1",),
   ("jalr", {"rd": 0, "rs1": "rs1", "imm": 0}), (("rs1", "!=", 0),), fixed=((12, 12, 0), (6, 2, 0)))
_c("c.mv", "CR", 4, 2, (F.C_RD, F.C_RS2), ("rd", "rs2"),
   ("add", {"rd": "rd", "rs1": 0, "rs2": "rs2"}), (("rs2", "!=", 0),), fixed=((12, 12, 0),))
_c("c.ebreak", "CR", 4, 2, (), (), ("ebreak", {}), fixed=((12, 12, 1), (11, 7, 0), (6, 2, 0)))
_c("c.jalr", "CR", 4, 2, (F.C_RS1,), ("rs1",),
   ("jalr", {"rd": 1, "rs1": "rs1", "imm": 0}), (("rs1", "!=", 0),), fixed=((12, 12, 1), (6, 2, 0)))
_c("c.add", "CR", 4, 2, (F.C_RD, F.C_RS2), ("rd", "rs2"),
   ("add", {"rd": "rd", "rs1": "rd", "rs2": "rs2"}), (("rs2", "!=", 0),), fixed=((12, 12, 1),))
_c("c.swsp", "CSS", 6, 2, (F.C_RS2, F.C_SWSP_IMM), ("rs2", "imm(sp)"),
   ("sw", {"rs2": "rs2", "rs1": 2, "imm": "imm"}))
_c("c.fsdsp", "CSS", 5, 2, (F.C_FRS2, F.C_SDSP_IMM), ("rs2", "imm(sp)"),
   ("fsd", {"rs2": "rs2", "rs1": 2, "imm": "imm"}), ext="C+D")
_c("c.sdsp", "CSS", 7, 2, (F.C_RS2, F.C_SDSP_IMM), ("rs2", "imm(sp)"),
   ("sd", {"rs2": "rs2", "rs1": 2, "imm": "imm"}))

COMPRESSED = tuple(COMPRESSED)
C_BY_NAME = {c.name: c for c in COMPRESSED}

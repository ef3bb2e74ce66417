"""Which compressed form GNU as picks, per source mnemonic.

GNU as does not compress "any 32-bit instruction that has a 16-bit
equivalent": it tries the RVC alternatives listed for the mnemonic as written
(binutils opcodes/riscv-opc.c, INSN_CLASS_C entries), in order, and only
those. So `addi a0,zero,0` becomes c.li but `mv a0,zero` stays 4 bytes, `add
a0,a1,a0` becomes c.add a0,a1 but `add a0,a0,zero` does not, and HINT forms
are never produced. Immediates take part only when they are constants at
assembly time (never %lo(sym) and friends).

`compress(key, ops, constant)` returns (c_name, c_operands) or None: `key`
names the GNU source form (the mnemonic table in pyvmm/asm/mnemonics.py gives
each form its key), `ops` are the 32-bit operands (rd/rs1/rs2/imm/shamt).
"""


def _creg(r):
    return 8 <= r <= 15


def _simm6(v):
    return -32 <= v < 32


def _c_lui_imm(imm20):
    """imm20 as lui writes it -> the c.lui field value if c.lui can encode it."""
    signed = imm20 - (1 << 20) if imm20 >= 1 << 19 else imm20
    return imm20 if signed != 0 and -32 <= signed < 32 else None


def _addi4spn(rd, rs1, imm):
    if _creg(rd) and rs1 == 2 and 0 < imm < 1024 and imm % 4 == 0:
        return "c.addi4spn", {"rd": rd, "imm": imm}


def _addi16sp(rd, rs1, imm):
    if rd == 2 and rs1 == 2 and imm != 0 and -512 <= imm < 512 and imm % 16 == 0:
        return "c.addi16sp", {"imm": imm}


def _addi_rules(o):
    rd, rs1, imm = o["rd"], o["rs1"], o["imm"]
    return (_addi4spn(rd, rs1, imm)
            or (rd == rs1 and rd != 0 and imm != 0 and _simm6(imm) and ("c.addi", {"rd": rd, "imm": imm}))
            or (rd == rs1 == 0 and imm == 0 and ("c.nop", {}))
            or _addi16sp(rd, rs1, imm)
            or (rs1 == 0 and rd != 0 and _simm6(imm) and ("c.li", {"rd": rd, "imm": imm}))
            or (imm == 0 and rd != 0 and rs1 != 0 and ("c.mv", {"rd": rd, "rs2": rs1}))
            or None)


def _add_rules(o):
    rd, rs1, rs2 = o["rd"], o["rs1"], o["rs2"]
    if rd == rs1 and rd != 0 and rs2 != 0:
        return "c.add", {"rd": rd, "rs2": rs2}
    if rd == rs2 and rd != 0 and rs1 != 0:
        return "c.add", {"rd": rd, "rs2": rs1}
    if rs1 == 0 and rd != 0 and rs2 != 0:
        return "c.mv", {"rd": rd, "rs2": rs2}
    return None


def _add_imm_rules(o):
    # `add d,s,imm` (GNU's addi alias): c.addi (zero allowed), addi4spn, addi16sp
    rd, rs1, imm = o["rd"], o["rs1"], o["imm"]
    return ((rd == rs1 and rd != 0 and _simm6(imm) and ("c.addi", {"rd": rd, "imm": imm}))
            or _addi4spn(rd, rs1, imm) or _addi16sp(rd, rs1, imm) or None)


def _ca(c_name, commutative):
    def rules(o):
        rd, rs1, rs2 = o["rd"], o["rs1"], o["rs2"]
        if _creg(rd) and rd == rs1 and _creg(rs2):
            return c_name, {"rd": rd, "rs2": rs2}
        if commutative and _creg(rd) and rd == rs2 and _creg(rs1):
            return c_name, {"rd": rd, "rs2": rs1}
        return None
    return rules


def _andi_rules(o):
    if _creg(o["rd"]) and o["rd"] == o["rs1"] and _simm6(o["imm"]):
        return "c.andi", {"rd": o["rd"], "imm": o["imm"]}


def _slli_rules(o):
    if o["rd"] == o["rs1"] and o["rd"] != 0 and o["shamt"] != 0:
        return "c.slli", {"rd": o["rd"], "shamt": o["shamt"]}


def _srxi(c_name):
    def rules(o):
        if _creg(o["rd"]) and o["rd"] == o["rs1"] and o["shamt"] != 0:
            return c_name, {"rd": o["rd"], "shamt": o["shamt"]}
    return rules


def _addiw_rules(o):
    if o["rd"] == o["rs1"] and o["rd"] != 0 and _simm6(o["imm"]):
        return "c.addiw", {"rd": o["rd"], "imm": o["imm"]}


def _lui_rules(o):
    imm = _c_lui_imm(o["imm"])
    if o["rd"] not in (0, 2) and imm is not None:
        return "c.lui", {"rd": o["rd"], "imm": imm}


def _li_rules(o):
    # li d,Cv (c.lui of a page-aligned constant) then li d,Co (c.li)
    rd, value = o["rd"], o["imm"]
    if rd not in (0, 2) and value & 0xFFF == 0 and value != 0 and -32 <= value >> 12 < 32:
        return "c.lui", {"rd": rd, "imm": (value >> 12) & 0xFFFFF}
    if rd != 0 and _simm6(value):
        return "c.li", {"rd": rd, "imm": value}
    return None


def _mv_rules(o):
    if o["rd"] != 0 and o["rs1"] != 0:
        return "c.mv", {"rd": o["rd"], "rs2": o["rs1"]}


def _mem(sp_name, reg_name, scale, sp_limit, reg_limit, data_reg, sp_needs_nonzero):
    def rules(o):
        reg, base, imm = o[data_reg], o["rs1"], o["imm"]
        if base == 2 and imm % scale == 0 and 0 <= imm < sp_limit and (reg != 0 or not sp_needs_nonzero):
            return sp_name, {data_reg: reg, "imm": imm}
        if _creg(reg) and _creg(base) and imm % scale == 0 and 0 <= imm < reg_limit:
            return reg_name, {data_reg: reg, "rs1": base, "imm": imm}
        return None
    return rules


def _jr_rules(o):
    if o["rs1"] != 0:
        return "c.jr", {"rs1": o["rs1"]}


def _jalr_rules(o):
    if o["rs1"] != 0:
        return "c.jalr", {"rs1": o["rs1"]}


def _sext_w_rules(o):
    if o["rd"] == o["rs1"] and o["rd"] != 0:
        return "c.addiw", {"rd": o["rd"], "imm": 0}


# Compression keys (named after the GNU source form they stand for) -> rules.
RULES = {
    "add": _add_rules,
    "add_imm": _add_imm_rules,
    "and": _ca("c.and", True), "or": _ca("c.or", True), "xor": _ca("c.xor", True),
    "sub": _ca("c.sub", False), "addw": _ca("c.addw", True), "subw": _ca("c.subw", False),
    "mv": _mv_rules,
    "jr": _jr_rules, "jalr": _jalr_rules,
    "sext.w": _sext_w_rules,
    "ret": lambda o: ("c.jr", {"rs1": 1}),
    "ebreak": lambda o: ("c.ebreak", {}),
    "nop": lambda o: ("c.nop", {}),
    "addi": _addi_rules,
    "andi": _andi_rules,
    "slli": _slli_rules,
    "srli": _srxi("c.srli"),
    "srai": _srxi("c.srai"),
    "addiw": _addiw_rules,
    "lui": _lui_rules,
    "li": _li_rules,
    "lw": _mem("c.lwsp", "c.lw", 4, 256, 128, "rd", True),
    "ld": _mem("c.ldsp", "c.ld", 8, 512, 256, "rd", True),
    "sw": _mem("c.swsp", "c.sw", 4, 256, 128, "rs2", False),
    "sd": _mem("c.sdsp", "c.sd", 8, 512, 256, "rs2", False),
    # f registers: c.fldsp takes f0 as well
    "fld": _mem("c.fldsp", "c.fld", 8, 512, 256, "rd", False),
    "fsd": _mem("c.fsdsp", "c.fsd", 8, 512, 256, "rs2", False),
}


def compress(key, operands, constant=True):
    """GNU's RVC choice for a statement of compression `key`, or None.

    `constant` is False when an immediate operand is only known at link time
    (%lo(sym), ...): GNU then never compresses.
    """
    if key is None or not constant:
        return None
    return RULES[key](operands) or None


def branch_can_compress(mnemonic, rs1, rs2):
    """True when GNU would start this conditional branch as c.beqz/c.bnez."""
    if mnemonic in ("beq", "bne", "beqz", "bnez"):
        return _creg(rs1) and rs2 == 0
    return False


def jump_can_compress(mnemonic, rd):
    """Only `j` has an RVC alternative on RV64 (c.jal is RV32-only)."""
    return mnemonic == "j" and rd == 0

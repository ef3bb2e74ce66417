"""Multi-instruction pseudo-instructions, expanded exactly as GNU as does.

li follows binutils' load_const (gas/config/tc-riscv.c): a 32-bit signed
constant is `lui` + `addiw` (each part left out when zero); a wider one is
built recursively from its upper bits, shifted with `slli`, plus an `addi` of
the low 12 bits. Every generated instruction goes through the normal RVC
choice of its own mnemonic, as GNU's re-assembly of the expansion does.
"""

from pyvmm.asm import expr as E
from pyvmm.asm.assembler import lo12
from pyvmm.asm.compress import compress
from pyvmm.asm.errors import LineError
from pyvmm import isa


def load_const(asm, rd, value):
    lower = lo12(value)
    upper = E.to_signed64(value - lower)
    if not -(1 << 31) <= value < (1 << 31):
        shift = 12
        while (upper >> shift) & 1 == 0:
            shift += 1
        load_const(asm, rd, upper >> shift)
        asm.emit("slli", "slli", {"rd": rd, "rs1": rd, "shamt": shift})
        if lower != 0:
            asm.emit("addi", "addi", {"rd": rd, "rs1": rd, "imm": lower})
        return
    hi_reg = 0
    if upper != 0:
        asm.emit("lui", "lui", {"rd": rd, "imm": (upper & 0xFFFFFFFF) >> 12})
        hi_reg = rd
    if lower != 0 or hi_reg == 0:
        asm.emit("addiw", "addiw", {"rd": rd, "rs1": hi_reg, "imm": lower})


def macro_li(asm, mnemonic, ops, deferred):
    rd = ops["rd"]
    if deferred:
        asm.emit(None, "addi", {"rd": rd, "rs1": 0, "imm": 0}, deferred)
        return
    value = E.to_signed64(ops["imm"])
    if asm.rvc:
        chosen = compress("li", {"rd": rd, "imm": value})
        if chosen is not None:
            asm.append_compressed(chosen)
            return
    if -2048 <= value < 2048:
        asm.emit(None, "addi", {"rd": rd, "rs1": 0, "imm": value})
        return
    load_const(asm, rd, value)


def _pcrel_pair(asm, temp, target, second, second_ops):
    """auipc temp, %pcrel_hi(target) ; <second> ..., %pcrel_lo(auipc label)."""
    label = asm.internal_label()
    asm.emit(None, "auipc", {"rd": temp, "imm": 0}, {"imm": ("pcrel_hi", target)})
    ops = dict(second_ops)
    ops["imm"] = 0
    asm.emit(None, second, ops, {"imm": ("pcrel_lo", ("sym", label))})


def macro_lla(asm, mnemonic, ops, deferred):
    rd, target = ops["rd"], ops["target"]
    try:
        value = asm.const_eval(target)
    except E.NotConstant:
        _pcrel_pair(asm, rd, target, "addi", {"rd": rd, "rs1": rd})
        return
    if not -(1 << 31) <= value < (1 << 31):
        raise LineError("offset too large: %s of 0x%x" % (mnemonic, value & E.MASK64))
    load_const(asm, rd, value)


def macro_call(asm, mnemonic, ops, deferred):
    _pcrel_pair(asm, ops["rs1"], ops["target"], "jalr", {"rd": ops["rd"], "rs1": ops["rs1"]})


def macro_jump(asm, mnemonic, ops, deferred):
    if ops["rs1"] == 0:
        raise LineError("jump needs a nonzero temporary register")
    _pcrel_pair(asm, ops["rs1"], ops["target"], "jalr", {"rd": 0, "rs1": ops["rs1"]})


def macro_load(asm, mnemonic, ops, deferred):
    rd = ops["rd"]
    _pcrel_pair(asm, rd, ops["target"], mnemonic, {"rd": rd, "rs1": rd})


def macro_fload(asm, mnemonic, ops, deferred):
    # flw/fld rd, symbol, temp: the address goes through the integer temp
    temp = ops["rs1"]
    _pcrel_pair(asm, temp, ops["target"], mnemonic, {"rd": ops["rd"], "rs1": temp})


def macro_store(asm, mnemonic, ops, deferred):
    temp = ops["rs1"]
    _pcrel_pair(asm, temp, ops["target"], mnemonic, {"rs2": ops["rs2"], "rs1": temp})


def macro_unimp(asm, mnemonic, ops, deferred):
    if asm.rvc:
        asm.append_bytes(b"\0\0")       # c.unimp: the all-zeros parcel, defined illegal
    else:
        asm.emit(None, "csrrw", {"rd": 0, "csr": isa.CSRS["cycle"], "rs1": 0})


# mnemonic -> (extension, its instruction, shift, right shift): what GNU as
# emits with the extension (one instruction) and without (slli + the shift)
_EXT_SHIFTS = {
    "sext.b": ("zbb", "sext.b", 56, "srai"),
    "sext.h": ("zbb", "sext.h", 48, "srai"),
    "zext.h": ("zbb", "zext.h", 48, "srli"),
    "zext.w": ("zba", "add.uw", 32, "srli"),
}


def macro_ext_shift(asm, mnemonic, ops, deferred):
    ext, name, shift, right = _EXT_SHIFTS[mnemonic]
    rd, rs1 = ops["rd"], ops["rs1"]
    if ext in asm.extensions:
        asm.emit(None, name, {"rd": rd, "rs1": rs1, **({"rs2": 0} if name == "add.uw" else {})})
        return
    asm.emit("slli", "slli", {"rd": rd, "rs1": rs1, "shamt": shift})
    asm.emit(right, right, {"rd": rd, "rs1": rd, "shamt": shift})


MACROS = {
    "@ext_shift": macro_ext_shift,
    "@li": macro_li,
    "@lla": macro_lla,
    "@call": macro_call,
    "@jump": macro_jump,
    "@load": macro_load,
    "@fload": macro_fload,
    "@store": macro_store,
    "@unimp": macro_unimp,
}

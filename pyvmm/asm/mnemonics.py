"""Every mnemonic the assembler accepts and the operand forms it takes.

`FORMS[mnemonic]` is an ordered list of `Form`s; the first whose operand
pattern parses wins (GNU's rule, opcodes/riscv-opc.c). Pattern letters follow
binutils' so the two tables read side by side:

  d s t   registers into rd, rs1, rs2
  D S T R f registers into rd, rs1, rs2, rs3;  U  one f register into rs1 and rs2
  m       rounding mode (rne rtz rdn rup rmm dyn)              -> rm
  j       12-bit signed immediate, or %lo()/%pcrel_lo()  -> imm
  o(s)    offset(base): 12-bit offset (may be omitted, or %lo...) -> imm, rs1
  0(s)    (base) or 0(base), for atomics, HLV/HSV, cbo.*  -> rs1
  f(s)    offset(base), offset a multiple of 32 (prefetch) -> imm, rs1
  u       20-bit upper immediate 0..0xfffff, or %hi()/%pcrel_hi() -> imm
  > <     shift amount, 6 or 5 bits                       -> shamt
  p a     branch / jump target (symbol expression)         -> imm
  E Z     CSR name or number / 5-bit unsigned immediate   -> csr / zimm
  P Q     fence predecessor / successor sets (iorw)       -> pred / succ
  I       any 64-bit constant (li)
  B c A   symbol expressions for la/lla, call/tail, load/store-to-symbol

`target` is the instruction it encodes (pyvmm.isa name) or "@macro";
`fixed` pins operands the form does not write; `ckey` names the RVC rules of
pyvmm.asm.compress that apply (None: never compressed).
"""

from collections import namedtuple

from pyvmm.isa import CSRS, INSTRUCTIONS

Form = namedtuple("Form", "pattern target fixed ckey")


def _f(pattern, target, ckey=None, **fixed):
    return Form(tuple(pattern.split(",")) if pattern else (), target, fixed, ckey)


FORMS = {}


def _add(name, *forms):
    FORMS[name] = list(forms)


# control transfer
_add("lui", _f("d,u", "lui", "lui"))
_add("auipc", _f("d,u", "auipc"))
_add("jal", _f("a", "jal", rd=1), _f("d,a", "jal"))
_add("j", _f("a", "jal", rd=0))
_add("jalr", _f("s", "jalr", "jalr", rd=1, imm=0), _f("o(s)", "jalr", rd=1), _f("s,j", "jalr", rd=1),
     _f("d,s", "jalr", imm=0), _f("d,o(s)", "jalr"), _f("d,s,j", "jalr"))
_add("jr", _f("s", "jalr", "jr", rd=0, imm=0), _f("o(s)", "jalr", rd=0), _f("s,j", "jalr", rd=0))
_add("ret", _f("", "jalr", "ret", rd=0, rs1=1, imm=0))
for _b in ("beq", "bne", "blt", "bge", "bltu", "bgeu"):
    _add(_b, _f("s,t,p", _b))
_add("beqz", _f("s,p", "beq", rs2=0))
_add("bnez", _f("s,p", "bne", rs2=0))
_add("blez", _f("t,p", "bge", rs1=0))
_add("bgez", _f("s,p", "bge", rs2=0))
_add("bltz", _f("s,p", "blt", rs2=0))
_add("bgtz", _f("t,p", "blt", rs1=0))
_add("bgt", _f("t,s,p", "blt"))
_add("ble", _f("t,s,p", "bge"))
_add("bgtu", _f("t,s,p", "bltu"))
_add("bleu", _f("t,s,p", "bgeu"))
_add("call", _f("c", "@call", rd=1, rs1=1), _f("d,c", "@call", rs1=6))
_add("tail", _f("c", "@call", rd=0, rs1=6))
_add("jump", _f("c,s", "@jump", rd=0))

# loads and stores
for _n in ("lb", "lbu", "lh", "lhu", "lw", "lwu", "ld"):
    _add(_n, _f("d,o(s)", _n, _n if _n in ("lw", "ld") else None), _f("d,A", "@load"))
for _n in ("sb", "sh", "sw", "sd"):
    _add(_n, _f("t,o(s)", _n, _n if _n in ("sw", "sd") else None), _f("t,A,s", "@store"))

# integer computation
_add("addi", _f("d,s,j", "addi", "addi"))
_add("slti", _f("d,s,j", "slti"))
_add("sltiu", _f("d,s,j", "sltiu"))
_add("xori", _f("d,s,j", "xori"))
_add("ori", _f("d,s,j", "ori"))
_add("andi", _f("d,s,j", "andi", "andi"))
_add("slli", _f("d,s,>", "slli", "slli"))
_add("srli", _f("d,s,>", "srli", "srli"))
_add("srai", _f("d,s,>", "srai", "srai"))
_add("add", _f("d,s,t", "add", "add"), _f("d,s,j", "addi", "add_imm"))
_add("sub", _f("d,s,t", "sub", "sub"))
_add("sll", _f("d,s,t", "sll"), _f("d,s,>", "slli", "slli"))
_add("srl", _f("d,s,t", "srl"), _f("d,s,>", "srli", "srli"))
_add("sra", _f("d,s,t", "sra"), _f("d,s,>", "srai", "srai"))
_add("slt", _f("d,s,t", "slt"), _f("d,s,j", "slti"))
_add("sltu", _f("d,s,t", "sltu"), _f("d,s,j", "sltiu"))
_add("xor", _f("d,s,j", "xori"), _f("d,s,t", "xor", "xor"))
_add("or", _f("d,s,j", "ori"), _f("d,s,t", "or", "or"))
_add("and", _f("d,s,t", "and", "and"), _f("d,s,j", "andi", "andi"))
_add("addiw", _f("d,s,j", "addiw", "addiw"))
_add("slliw", _f("d,s,<", "slliw"))
_add("srliw", _f("d,s,<", "srliw"))
_add("sraiw", _f("d,s,<", "sraiw"))
_add("addw", _f("d,s,t", "addw", "addw"), _f("d,s,j", "addiw", "addiw"))
_add("subw", _f("d,s,t", "subw", "subw"))
_add("sllw", _f("d,s,t", "sllw"), _f("d,s,<", "slliw"))
_add("srlw", _f("d,s,t", "srlw"), _f("d,s,<", "srliw"))
_add("sraw", _f("d,s,t", "sraw"), _f("d,s,<", "sraiw"))
for _n in ("mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
           "mulw", "divw", "divuw", "remw", "remuw"):
    _add(_n, _f("d,s,t", _n))

# pseudo-instructions
_add("nop", _f("", "addi", "nop", rd=0, rs1=0, imm=0))
_add("mv", _f("d,s", "addi", "mv", imm=0))
_add("move", _f("d,s", "addi", "mv", imm=0))
_add("not", _f("d,s", "xori", imm=-1))
_add("neg", _f("d,t", "sub", rs1=0))
_add("negw", _f("d,t", "subw", rs1=0))
_add("sext.w", _f("d,s", "addiw", "sext.w", imm=0))
_add("zext.b", _f("d,s", "andi", imm=255))
_add("seqz", _f("d,s", "sltiu", imm=1))
_add("snez", _f("d,t", "sltu", rs1=0))
_add("sltz", _f("d,s", "slt", rs2=0))
_add("sgtz", _f("d,t", "slt", rs1=0))
_add("sgt", _f("d,t,s", "slt"))
_add("sgtu", _f("d,t,s", "sltu"))
_add("li", _f("d,I", "@li"))
_add("la", _f("d,B", "@lla"))
_add("lla", _f("d,B", "@lla"))
_add("unimp", _f("", "@unimp"))

# system, CSRs, fences
_add("ecall", _f("", "ecall"))
_add("scall", _f("", "ecall"))
_add("ebreak", _f("", "ebreak", "ebreak"))
_add("sbreak", _f("", "ebreak", "ebreak"))
_add("fence", _f("", "fence", pred=15, succ=15), _f("P,Q", "fence"))
_add("fence.i", _f("", "fence.i"))
_add("fence.tso", _f("", "fence.tso"))
_add("mret", _f("", "mret"))
_add("sret", _f("", "sret"))
_add("wfi", _f("", "wfi"))
for _n in ("sfence.vma", "hfence.vvma", "hfence.gvma"):
    _add(_n, _f("", _n, rs1=0, rs2=0), _f("s", _n, rs2=0), _f("s,t", _n))
for _n, _i in (("csrrw", "csrrwi"), ("csrrs", "csrrsi"), ("csrrc", "csrrci")):
    _add(_n, _f("d,E,s", _n), _f("d,E,Z", _i))
    _add(_i, _f("d,E,Z", _i))
_add("csrr", _f("d,E", "csrrs", rs1=0))
_add("csrw", _f("E,s", "csrrw", rd=0), _f("E,Z", "csrrwi", rd=0))
_add("csrs", _f("E,s", "csrrs", rd=0), _f("E,Z", "csrrsi", rd=0))
_add("csrc", _f("E,s", "csrrc", rd=0), _f("E,Z", "csrrci", rd=0))
_add("csrwi", _f("E,Z", "csrrwi", rd=0))
_add("csrsi", _f("E,Z", "csrrsi", rd=0))
_add("csrci", _f("E,Z", "csrrci", rd=0))
for _n, _csr in (("rdcycle", "cycle"), ("rdtime", "time"), ("rdinstret", "instret")):
    _add(_n, _f("d", "csrrs", rs1=0, csr=CSRS[_csr]))

# atomics
for _w in (".w", ".d"):
    for _o in ("", ".aq", ".rl", ".aqrl"):
        _add("lr" + _w + _o, _f("d,0(s)", "lr" + _w + _o))
        for _op in ("sc", "amoswap", "amoadd", "amoxor", "amoand", "amoor",
                    "amomin", "amomax", "amominu", "amomaxu"):
            _add(_op + _w + _o, _f("d,t,0(s)", _op + _w + _o))

# hypervisor loads/stores
for _n in ("hlv.b", "hlv.bu", "hlv.h", "hlv.hu", "hlvx.hu", "hlv.w", "hlv.wu", "hlvx.wu", "hlv.d"):
    _add(_n, _f("d,0(s)", _n))
for _n in ("hsv.b", "hsv.h", "hsv.w", "hsv.d"):
    _add(_n, _f("t,0(s)", _n))

# F and D. A rounding mode left out is dyn (7), as GNU as writes it.
for _ins in INSTRUCTIONS:
    if _ins.ext not in ("F", "D"):
        continue
    if _ins.fmt == "FLOAD":
        _add(_ins.name, _f("D,o(s)", _ins.name, "fld" if _ins.name == "fld" else None),
             _f("D,A,s", "@fload"))
        continue
    if _ins.fmt == "FSTORE":
        _add(_ins.name, _f("T,o(s)", _ins.name, "fsd" if _ins.name == "fsd" else None),
             _f("T,A,s", "@store"))
        continue
    _letters = {"FR4": "D,S,T,R", "FR_RM": "D,S,T", "FR": "D,S,T", "FR1_RM": "D,S", "FR1": "D,S",
                "FCMP": "d,S,T", "X_F_RM": "d,S", "X_F": "d,S", "F_X_RM": "D,s", "F_X": "D,s"}[_ins.fmt]
    if "rm" in _ins.syntax:
        _add(_ins.name, _f(_letters, _ins.name, rm=7), _f(_letters + ",m", _ins.name))
    else:
        _add(_ins.name, _f(_letters, _ins.name))
for _p in (".s", ".d"):
    _add("fmv" + _p, _f("D,U", "fsgnj" + _p))
    _add("fneg" + _p, _f("D,U", "fsgnjn" + _p))
    _add("fabs" + _p, _f("D,U", "fsgnjx" + _p))
    _add("fgt" + _p, _f("d,T,S", "flt" + _p))
    _add("fge" + _p, _f("d,T,S", "fle" + _p))
_add("fmv.x.s", _f("d,S", "fmv.x.w"))
_add("fmv.s.x", _f("D,s", "fmv.w.x"))
for _n, _csr in (("csr", 3), ("rm", 2), ("flags", 1)):
    _add("fr" + _n, _f("d", "csrrs", csr=_csr, rs1=0))
    _add("fs" + _n, _f("d,s", "csrrw", csr=_csr), _f("s", "csrrw", csr=_csr, rd=0))
for _n, _csr in (("fsrmi", 2), ("fsflagsi", 1)):
    _add(_n, _f("d,Z", "csrrwi", csr=_csr), _f("Z", "csrrwi", csr=_csr, rd=0))

# bit manipulation (Zba, Zbb, Zbc, Zbs); the immediate rotates and single-bit
# operations also take their register mnemonic with a shift amount, as in GNU
for _n in ("add.uw", "sh1add", "sh2add", "sh3add", "sh1add.uw", "sh2add.uw", "sh3add.uw", "andn", "orn",
           "xnor", "max", "maxu", "min", "minu", "rol", "rolw", "clmul", "clmulr", "clmulh"):
    _add(_n, _f("d,s,t", _n))
for _n, _i, _shamt in (("ror", "rori", ">"), ("rorw", "roriw", "<"), ("bclr", "bclri", ">"),
                       ("bext", "bexti", ">"), ("binv", "binvi", ">"), ("bset", "bseti", ">")):
    _add(_n, _f("d,s,t", _n), _f("d,s," + _shamt, _i))
    _add(_i, _f("d,s," + _shamt, _i))
_add("slli.uw", _f("d,s,>", "slli.uw"))
for _n in ("clz", "ctz", "cpop", "clzw", "ctzw", "cpopw", "orc.b", "rev8"):
    _add(_n, _f("d,s", _n))
# without Zbb/Zba GNU as builds these from a shift pair
for _n in ("sext.b", "sext.h", "zext.h", "zext.w"):
    _add(_n, _f("d,s", "@ext_shift"))

# cache-block operations and hints
for _n in ("cbo.clean", "cbo.flush", "cbo.inval", "cbo.zero"):
    _add(_n, _f("0(s)", _n))
for _n in ("prefetch.i", "prefetch.r", "prefetch.w"):
    _add(_n, _f("f(s)", _n))
_add("pause", _f("", "pause"))

# mnemonics of conditional branches / jumps whose target relaxes
BRANCHES = {"beq", "bne", "blt", "bge", "bltu", "bgeu"}

# RVC HINT spellings GNU as accepts beyond the pyvmm.isa table
# (opcodes/riscv-opc.c): mnemonic -> (operand syntax, table entry it encodes,
# operands it pins). The RV128 shift-by-64 forms are, on RV64, the shamt=0
# HINTs of c.slli/c.srli/c.srai; `c.nop IMM` (IMM nonzero) is c.addi x0.
C_HINT_SPELLINGS = {
    "c.slli64": (("rd",), "c.slli", {"shamt": 0}),
    "c.srli64": (("rd",), "c.srli", {"shamt": 0}),
    "c.srai64": (("rd",), "c.srai", {"shamt": 0}),
    "c.nop": (("imm",), "c.addi", {"rd": 0}),
}

"""Disassembler that prints exactly what GNU objdump 2.40 prints for RV64.

The encodings come from pyvmm.isa (`isa.decode`); this module only decides how
objdump *spells* a decoded instruction: which alias it prefers (``li``, ``mv``,
``ret``, ``csrr``...), how compressed parcels are named (objdump shows most of
them under their 32-bit or alias names: c.addi is ``add a0,a0,1``), how
operands are written, and the ``# address <symbol>`` comment objdump appends
when it can work out an address from a preceding ``lui``/``auipc`` or from
``gp``, ``tp`` or ``zero``.

objdump's choice of spelling is "the first entry of its opcode table that
matches"; the table order of binutils 2.40 is reproduced here as ordered alias
rules per instruction, checked by the differential tests against the installed
``riscv64-unknown-elf-objdump`` (every 16-bit parcel, and random 32-bit words
of every major opcode).

Public API:
    disassemble(word, pc=0, symbols=None, march=None) -> (length, text)
    disassemble_bytes(data, addr, symbols=None, gp=None, march=None)
        -> iterator of (addr, length, text)
    Disassembler(symbols=None, gp=None, march=None, priv_spec="1.12")
                                 -- keeps objdump's lui/auipc state
    SymbolTable, Symbol          -- objdump's choice of `<sym+off>`
    extensions_from_march(isa)   -- which extensions an ISA string enables

`symbols` is a dict name -> address or a SymbolTable; `march` an ISA string
(default: every extension pyvmm.isa knows; objdump uses the ELF's attribute);
`priv_spec` the privileged spec whose CSR names to print (default 1.12).
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from pyvmm import isa
from pyvmm.isa.fields import RM_NAMES

MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------------------
# Names objdump knows beyond pyvmm.isa's tables. They are display-only: pyvmm
# does not implement these CSRs or instructions, but objdump names them, and
# the point of this module is to print what objdump prints.
# TODO(isa): fold _EXTRA_CSR_NAMES into pyvmm.isa.csrs.CSR_NAMES.

_EXTRA_CSR_NAMES = {
    0x001: "fflags", 0x002: "frm", 0x003: "fcsr",
    0x008: "vstart", 0x009: "vxsat", 0x00A: "vxrm", 0x00F: "vcsr", 0x015: "seed",
    0xC20: "vl", 0xC21: "vtype", 0xC22: "vlenb",
    0x114: "sieh", 0x150: "siselect", 0x151: "sireg", 0x154: "siph", 0x15C: "stopei",
    0x15D: "stimecmph", 0xDA0: "scountovf", 0xDB0: "stopi",
    0x214: "vsieh", 0x250: "vsiselect", 0x251: "vsireg", 0x254: "vsiph", 0x25C: "vstopei",
    0x25D: "vstimecmph", 0xEB0: "vstopi",
    0x308: "mvien", 0x309: "mvip", 0x310: "mstatush", 0x313: "midelegh", 0x314: "mieh",
    0x318: "mvienh", 0x319: "mviph", 0x31A: "menvcfgh", 0x350: "miselect", 0x351: "mireg",
    0x354: "miph", 0x35C: "mtopei", 0x757: "mseccfgh", 0x7AA: "mscontext", 0xFB0: "mtopi",
    0x613: "hidelegh", 0x615: "htimedeltah", 0x618: "hvienh", 0x61A: "henvcfgh",
    0x646: "hviprio1", 0x647: "hviprio2", 0x655: "hviph", 0x656: "hviprio1h",
    0x657: "hviprio2h",
    0xB80: "mcycleh", 0xB82: "minstreth", 0xC80: "cycleh", 0xC81: "timeh", 0xC82: "instreth",
}
for _i in range(4):
    _EXTRA_CSR_NAMES[0x10C + _i] = "sstateen%d" % _i
    _EXTRA_CSR_NAMES[0x30C + _i] = "mstateen%d" % _i
    _EXTRA_CSR_NAMES[0x31C + _i] = "mstateen%dh" % _i
    _EXTRA_CSR_NAMES[0x60C + _i] = "hstateen%d" % _i
    _EXTRA_CSR_NAMES[0x61C + _i] = "hstateen%dh" % _i
for _i in range(3, 32):
    _EXTRA_CSR_NAMES[0x720 + _i] = "mhpmevent%dh" % _i
    _EXTRA_CSR_NAMES[0xB80 + _i] = "mhpmcounter%dh" % _i
    _EXTRA_CSR_NAMES[0xC80 + _i] = "hpmcounter%dh" % _i

CSR_DISPLAY_NAMES = dict(_EXTRA_CSR_NAMES)
CSR_DISPLAY_NAMES.update(isa.CSR_NAMES)

# objdump names CSRs as the image's privileged spec (ELF attribute
# Tag_RISCV_priv_spec) defined them; CSR_DISPLAY_NAMES is 1.12, the newest,
# which it also assumes without the attribute.
PRIV_SPECS = ("1.9.1", "1.10", "1.11", "1.12")
DEFAULT_PRIV_SPEC = "1.12"
_SINCE_1P12 = ({0x10A, 0x30A, 0x310, 0x31A, 0x34A, 0x34B, 0x747, 0x757, 0xF15}
               | set(range(0x3A4, 0x3B0)) | set(range(0x3C0, 0x3F0)))
_BEFORE_1P12 = {0x000: "ustatus", 0x004: "uie", 0x005: "utvec", 0x040: "uscratch",
                0x041: "uepc", 0x042: "ucause", 0x043: "utval", 0x044: "uip",
                0x102: "sedeleg", 0x103: "sideleg"}
_SINCE_1P10 = {0x106, 0x306} | set(range(0x3A0, 0x3A4)) | set(range(0x3B0, 0x3C0))
_ONLY_1P9P1 = {0x043: "ubadaddr", 0x143: "sbadaddr", 0x180: "sptbr", 0x320: "mucounteren",
               0x321: "mscounteren", 0x322: "mhcounteren", 0x343: "mbadaddr",
               0x380: "mbase", 0x381: "mbound", 0x382: "mibase", 0x383: "mibound",
               0x384: "mdbase", 0x385: "mdbound"}


@lru_cache(maxsize=None)
def csr_display_names(priv_spec=DEFAULT_PRIV_SPEC):
    """CSR number -> the name objdump prints under privileged spec `priv_spec`."""
    if priv_spec not in PRIV_SPECS:
        raise ValueError("unknown privileged spec %r (one of %s)" % (priv_spec, ", ".join(PRIV_SPECS)))
    names = dict(CSR_DISPLAY_NAMES)
    if priv_spec == "1.12":
        return names
    for number in _SINCE_1P12:
        names.pop(number, None)
    names.update(_BEFORE_1P12)
    if priv_spec in ("1.10", "1.9.1"):
        names.pop(0x320, None)                # mcountinhibit arrived in 1.11
    if priv_spec == "1.9.1":
        for number in _SINCE_1P10:
            names.pop(number, None)
        names.update(_ONLY_1P9P1)
    return names


def priv_spec_from_attribute(major, minor, revision=0):
    """The spec name for ELF attribute numbers; objdump's newest for unknown ones."""
    return {(1, 9, 1): "1.9.1", (1, 10, 0): "1.10", (1, 11, 0): "1.11",
            (1, 12, 0): "1.12"}.get((major, minor, revision), DEFAULT_PRIV_SPEC)

# Whole words binutils 2.40 still names although the ratified ISA dropped them
# (N-extension uret, the old hypervisor's hret, debug-mode dret, priv-1.9
# sfence.vm). pyvmm treats them as illegal; objdump prints their names.
_LEGACY_WORDS = {0x00200073: "uret", 0x20200073: "hret", 0x7B200073: "dret"}
_SFENCE_VM_MATCH, _SFENCE_VM_MASK = 0x10400073, 0xFFF07FFF

_FENCE_SET = ("unknown", "w", "r", "rw", "o", "ow", "or", "orw",
              "i", "iw", "ir", "irw", "io", "iow", "ior", "iorw")
# binutils decodes fence only with fm, rs1 and rd zero (fence.tso aside) and
# fence.i only as the exact word; isa.decode is laxer, as hardware must be.
_FENCE_RESERVED_BITS = 0xF00F8F80
_FENCE_FM_BITS = 0xF0000000
_FENCE_I_WORD = 0x0000100F

_ABI = isa.ABI_NAMES
_FABI = isa.FP_ABI_NAMES
_ZERO, _RA, _SP, _GP, _TP = 0, 1, 2, 3, 4


def insn_length(parcel):
    """Length in bytes objdump gives the instruction starting with 16-bit `parcel`.

    Follows the RISC-V length encoding up to 176 bits; the reserved >=192-bit
    prefix counts as 2, as in binutils.
    """
    if parcel & 0x3 != 0x3:
        return 2
    if parcel & 0x1F != 0x1F:
        return 4
    if parcel & 0x3F == 0x1F:
        return 6
    if parcel & 0x7F == 0x3F:
        return 8
    if parcel & 0x7F == 0x7F and parcel & 0x7000 != 0x7000:
        return 10 + ((parcel >> 11) & 0xE)
    return 2


def unknown_text(word, length):
    """objdump's spelling of bits it cannot decode as an instruction."""
    if length in (2, 4, 8):
        return ".%dbyte\t0x%x" % (length, word & ((1 << (8 * length)) - 1))
    return ".byte\t" + ", ".join("0x%02x" % ((word >> (8 * i)) & 0xFF) for i in range(length))


def _sext(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# ---------------------------------------------------------------------------
# Which extensions an image is built for. objdump decodes only instructions of
# the ISA in the ELF's Tag_RISCV_arch attribute (rv64gc when there is none).

ALL_EXTENSIONS = frozenset({"I", "priv", "M", "Zmmul", "A", "F", "D", "C", "Zicsr", "Zifencei", "H",
                            "Zba", "Zbb", "Zbc", "Zbs", "Zicbom", "Zicboz", "Zicbop", "Zihintpause"})
# hints: without their extension objdump shows the base instruction they are
_HINT_EXTENSIONS = frozenset({"Zicbop", "Zihintpause"})


def extensions_from_march(march):
    """The pyvmm.isa extension names an ISA string such as
    "rv64i2p1_m2p0_a2p1_c2p0_zicsr2p0" or "rv64gc" enables, objdump's way:
    g = imafd_zicsr_zifencei, i before version 2.1 implies zicsr and zifencei,
    m and h imply zmmul and zicsr, d implies f, f implies zicsr. Raises ValueError for a malformed string."""
    import re
    text = march.strip().lower()
    if not re.match(r"^rv(32|64|128)[ieg]", text):
        raise ValueError("not a RISC-V ISA string: %r" % march)
    text = text[4:] if text.startswith(("rv32", "rv64")) else text[5:]
    found = {"I", "priv"}
    names = set()
    for token in text.split("_"):
        if not token:
            continue
        if token[0] in "szx" and len(re.sub(r"\d+(p\d+)?$", "", token)) > 1:
            names.add(re.sub(r"\d+(p\d+)?$", "", token))
            continue
        for letter, major, minor in re.findall(r"([a-z])(?:(\d+)(?:p(\d+))?)?", token):
            names.add(letter)
            if letter == "i" and major and (int(major), int(minor or 0)) < (2, 1):
                names.update(("zicsr", "zifencei"))
    if "g" in names:
        names.update(("i", "m", "a", "f", "d", "zicsr", "zifencei"))
    if "m" in names:
        names.add("zmmul")
    if "h" in names:
        names.add("zicsr")
    if "d" in names:
        names.add("f")
    if "f" in names:
        names.add("zicsr")
    table = {"m": "M", "zmmul": "Zmmul", "a": "A", "f": "F", "d": "D", "c": "C", "zicsr": "Zicsr",
             "zifencei": "Zifencei", "h": "H", "zba": "Zba", "zbb": "Zbb", "zbc": "Zbc", "zbs": "Zbs",
             "zicbom": "Zicbom", "zicboz": "Zicboz", "zicbop": "Zicbop", "zihintpause": "Zihintpause"}
    found.update(table[n] for n in names if n in table)
    return frozenset(found)


# ---------------------------------------------------------------------------
# Symbols: which `<name+off>` objdump prints after an address.

@dataclass(frozen=True)
class Symbol:
    name: str
    value: int
    section: str = ""        # section name ("" unknown, "*ABS*" absolute)
    kind: str = "notype"     # "func", "object", "notype", "file", "section"
    bind: str = "global"     # "global", "local", "weak"
    size: int = 0


def is_mapping_symbol(name):
    """RISC-V ELF mapping symbols ($x, $d, $xrv64i2p1...) never name addresses."""
    return name in ("$x", "$d") or name.startswith("$x") or name.startswith("$d.")


class SymbolTable:
    """Symbols sorted the way objdump sorts them, with its nearest-symbol lookup.

    objdump prints ``<sym>`` / ``<sym+0x10>`` with the symbol at the highest
    address not above the target, choosing among symbols at one address by:
    the section being disassembled first, then functions, objects, globals
    before locals, larger sizes, names not starting with '.', then by name.
    A target below every symbol is shown relative to the lowest one
    (``<_start-0x10>``).
    """

    def __init__(self, symbols=(), section=None):
        if isinstance(symbols, dict):
            symbols = [Symbol(name, value) for name, value in symbols.items()]
        kept = [s for s in symbols
                if s.name and s.kind not in ("file", "section")
                and not is_mapping_symbol(s.name) and s.name != ".L0 "]
        self.section = section
        self._sorted = sorted(kept, key=self._key)
        self._values = [s.value for s in self._sorted]

    def _key(self, s):
        file_like = len(s.name) > 2 and s.name[-2] == "." and s.name[-1] in "oa"
        return (s.value,
                0 if self.section is None or s.section == self.section else 1,
                1 if file_like else 0,
                0 if s.kind == "func" else 1,
                0 if s.kind == "object" else 1,
                1 if s.bind == "local" else 0,
                -s.size,
                1 if s.name.startswith(".") else 0,
                s.name.encode())

    def __len__(self):
        return len(self._sorted)

    def symbols(self):
        """The symbols that can name an address, in objdump's order."""
        return list(self._sorted)

    def nearest(self, addr):
        """The symbol objdump names for `addr`, or None without symbols."""
        if not self._sorted:
            return None
        lo, hi = 0, len(self._values)
        while lo < hi:                      # first index with value > addr
            mid = (lo + hi) // 2
            if self._values[mid] <= addr:
                lo = mid + 1
            else:
                hi = mid
        if lo == 0:
            return self._sorted[0]
        value = self._values[lo - 1]
        first = lo - 1
        while first > 0 and self._values[first - 1] == value:
            first -= 1
        return self._sorted[first]

    def at(self, addr):
        """The symbol objdump labels `addr` with (`<name>:` lines), or None."""
        sym = self.nearest(addr)
        return sym if sym is not None and sym.value == addr else None

    def format_address(self, addr):
        """An address as objdump prints a branch target or an address comment."""
        addr &= MASK64
        sym = self.nearest(addr)
        if sym is None:
            return "0x%x" % addr
        name = display_name(sym.name)
        if sym.value == addr:
            return "%x <%s>" % (addr, name)
        if sym.value > addr:
            return "%x <%s-0x%x>" % (addr, name, sym.value - addr)
        return "%x <%s+0x%x>" % (addr, name, addr - sym.value)


def display_name(name):
    """A symbol name as objdump prints it: control characters in caret notation."""
    if name.isprintable():
        return name
    return "".join("^" + chr(ord(c) ^ 0x40) if ord(c) < 0x20 or ord(c) == 0x7F else c for c in name)


def _as_symbol_table(symbols):
    if symbols is None:
        return SymbolTable()
    if isinstance(symbols, SymbolTable):
        return symbols
    return SymbolTable(symbols)


# ---------------------------------------------------------------------------
# Spelling rules: for each isa instruction name, an ordered list of
# (condition, mnemonic, operand template, address effects). The first rule
# whose condition holds is objdump's spelling. Templates name operands:
#   {rd} {rs1} {rs2}  registers      {imm} decimal      {hex} imm as 0x...
#   {target} pc-relative address     {csr}  CSR name    {pred} {succ} fence sets
# Address effects (objdump's "maybe print address"):
#   "mem"   base rs1 + imm (loads, stores, addi-like, jalr)
#   "mem2"  the same, evaluated twice (objdump does so for jalr's o(s) form)
#   "memw"  base + imm, sign-extended from 32 bits (addiw)
#   "crd" / "crdw"  compressed: base rd + imm (c.addi / c.addiw)
#   "hi"    remember rd's value for later (lui, auipc, c.lui)

def _always(ops):
    return True


def _eq(**want):
    return lambda ops: all(ops[k] == v for k, v in want.items())


_RULES = {}


def _rules(names, *rules):
    for name in names.split():
        _RULES[name] = [(cond or _always, mnem or name, template, effect)
                        for cond, mnem, template, effect in rules]


# --- RV64I
_rules("lui auipc", (None, None, "{rd},{hex}", "hi"))
_rules("jal",
       (_eq(rd=0), "j", "{target}", None),
       (_eq(rd=_RA), "jal", "{target}", None),
       (None, None, "{rd},{target}", None))
_rules("jalr",
       (_eq(rd=0, rs1=_RA, imm=0), "ret", "", None),
       (_eq(rd=0, imm=0), "jr", "{rs1}", "mem"),
       (_eq(rd=0), "jr", "{imm}({rs1})", "mem2"),
       (_eq(rd=_RA, imm=0), "jalr", "{rs1}", "mem"),
       (_eq(rd=_RA), "jalr", "{imm}({rs1})", "mem2"),
       (_eq(imm=0), "jalr", "{rd},{rs1}", "mem"),
       (None, None, "{rd},{imm}({rs1})", "mem2"))
_rules("beq", (_eq(rs2=0), "beqz", "{rs1},{target}", None), (None, None, "{rs1},{rs2},{target}", None))
_rules("bne", (_eq(rs2=0), "bnez", "{rs1},{target}", None), (None, None, "{rs1},{rs2},{target}", None))
_rules("bge",
       (_eq(rs1=0), "blez", "{rs2},{target}", None),
       (_eq(rs2=0), "bgez", "{rs1},{target}", None),
       (None, None, "{rs1},{rs2},{target}", None))
_rules("blt",
       (_eq(rs2=0), "bltz", "{rs1},{target}", None),
       (_eq(rs1=0), "bgtz", "{rs2},{target}", None),
       (None, None, "{rs1},{rs2},{target}", None))
_rules("bltu bgeu", (None, None, "{rs1},{rs2},{target}", None))
_rules("lb lh lw ld lbu lhu lwu", (None, None, "{rd},{imm}({rs1})", "mem"))
_rules("sb sh sw sd", (None, None, "{rs2},{imm}({rs1})", "mem"))
_rules("addi",
       (_eq(rd=0, rs1=0, imm=0), "nop", "", None),
       (_eq(rs1=0), "li", "{rd},{imm}", None),
       (_eq(imm=0), "mv", "{rd},{rs1}", None),
       (None, "add", "{rd},{rs1},{imm}", "mem"))
_rules("slti", (None, None, "{rd},{rs1},{imm}", None))
_rules("sltiu", (_eq(imm=1), "seqz", "{rd},{rs1}", None), (None, None, "{rd},{rs1},{imm}", None))
_rules("xori", (_eq(imm=-1), "not", "{rd},{rs1}", None), (None, "xor", "{rd},{rs1},{imm}", None))
_rules("ori", (None, "or", "{rd},{rs1},{imm}", None))
_rules("andi", (_eq(imm=255), "zext.b", "{rd},{rs1}", None), (None, "and", "{rd},{rs1},{imm}", None))
_rules("slli", (None, "sll", "{rd},{rs1},{shamt}", None))
_rules("srli", (None, "srl", "{rd},{rs1},{shamt}", None))
_rules("srai", (None, "sra", "{rd},{rs1},{shamt}", None))
_rules("add sll xor srl sra or and mul mulh mulhsu mulhu div divu rem remu "
       "addw sllw srlw sraw mulw divw divuw remw remuw",
       (None, None, "{rd},{rs1},{rs2}", None))
_rules("sub", (_eq(rs1=0), "neg", "{rd},{rs2}", None), (None, None, "{rd},{rs1},{rs2}", None))
_rules("subw", (_eq(rs1=0), "negw", "{rd},{rs2}", None), (None, None, "{rd},{rs1},{rs2}", None))
_rules("slt",
       (_eq(rs2=0), "sltz", "{rd},{rs1}", None),
       (_eq(rs1=0), "sgtz", "{rd},{rs2}", None),
       (None, None, "{rd},{rs1},{rs2}", None))
_rules("sltu", (_eq(rs1=0), "snez", "{rd},{rs2}", None), (None, None, "{rd},{rs1},{rs2}", None))
_rules("addiw",
       (_eq(imm=0), "sext.w", "{rd},{rs1}", None),
       (None, "addw", "{rd},{rs1},{imm}", "memw"))
_rules("slliw", (None, "sllw", "{rd},{rs1},{shamt}", None))
_rules("srliw", (None, "srlw", "{rd},{rs1},{shamt}", None))
_rules("sraiw", (None, "sraw", "{rd},{rs1},{shamt}", None))
_rules("fence", (_eq(pred=15, succ=15), "fence", "", None), (None, None, "{pred},{succ}", None))
_rules("fence.tso fence.i ecall ebreak sret mret wfi", (None, None, "", None))

def _f_eq(**want):
    """_eq for the F extension's aliases: objdump uses them only when the
    image's ISA has F (else the plain CSR spelling)."""
    cond = _eq(**want)
    cond.needs_f = True
    return cond


# --- Zicsr (with the F extension's fcsr/frm/fflags aliases first, as in binutils' table)
_rules("csrrw",
       (_eq(rd=0, csr=0xC00, rs1=0), "unimp", "", None),
       (_f_eq(csr=3, rd=0), "fscsr", "{rs1}", None),
       (_f_eq(csr=3), "fscsr", "{rd},{rs1}", None),
       (_f_eq(csr=2, rd=0), "fsrm", "{rs1}", None),
       (_f_eq(csr=2), "fsrm", "{rd},{rs1}", None),
       (_f_eq(csr=1, rd=0), "fsflags", "{rs1}", None),
       (_f_eq(csr=1), "fsflags", "{rd},{rs1}", None),
       (_eq(rd=0), "csrw", "{csr},{rs1}", None),
       (None, None, "{rd},{csr},{rs1}", None))
_rules("csrrs",
       (_f_eq(csr=3, rs1=0), "frcsr", "{rd}", None),
       (_f_eq(csr=2, rs1=0), "frrm", "{rd}", None),
       (_f_eq(csr=1, rs1=0), "frflags", "{rd}", None),
       (_eq(csr=0xC00, rs1=0), "rdcycle", "{rd}", None),
       (_eq(csr=0xC02, rs1=0), "rdinstret", "{rd}", None),
       (_eq(csr=0xC01, rs1=0), "rdtime", "{rd}", None),
       (_eq(rs1=0), "csrr", "{rd},{csr}", None),
       (_eq(rd=0), "csrs", "{csr},{rs1}", None),
       (None, None, "{rd},{csr},{rs1}", None))
_rules("csrrc", (_eq(rd=0), "csrc", "{csr},{rs1}", None), (None, None, "{rd},{csr},{rs1}", None))
_rules("csrrwi",
       (_f_eq(csr=2), "fsrmi", "{rd},{zimm}", None),
       (_f_eq(csr=1), "fsflagsi", "{rd},{zimm}", None),
       (_eq(rd=0), "csrw", "{csr},{zimm}", None), (None, "csrrw", "{rd},{csr},{zimm}", None))
_rules("csrrsi", (_eq(rd=0), "csrs", "{csr},{zimm}", None), (None, "csrrs", "{rd},{csr},{zimm}", None))
_rules("csrrci", (_eq(rd=0), "csrc", "{csr},{zimm}", None), (None, "csrrc", "{rd},{csr},{zimm}", None))

# --- privileged and H
_rules("sfence.vma hfence.vvma hfence.gvma",
       (_eq(rs1=0, rs2=0), None, "", None),
       (_eq(rs2=0), None, "{rs1}", None),
       (None, None, "{rs1},{rs2}", None))
_rules("hlv.b hlv.bu hlv.h hlv.hu hlvx.hu hlv.w hlv.wu hlvx.wu hlv.d", (None, None, "{rd},({rs1})", None))
_rules("hsv.b hsv.h hsv.w hsv.d", (None, None, "{rs2},({rs1})", None))

# --- Zba, Zbb, Zbc, Zbs: objdump names the immediate rotates and single-bit
# operations after their register forms (rori is "ror ...,0x3")
_rules("add.uw", (_eq(rs2=0), "zext.w", "{rd},{rs1}", None), (None, None, "{rd},{rs1},{rs2}", None))
_rules("sh1add sh2add sh3add sh1add.uw sh2add.uw sh3add.uw andn orn xnor max maxu min minu "
       "rol ror rolw rorw clmul clmulr clmulh bclr bext binv bset",
       (None, None, "{rd},{rs1},{rs2}", None))
_rules("slli.uw", (None, None, "{rd},{rs1},{shamt}", None))
for _imm, _reg in (("rori", "ror"), ("roriw", "rorw"), ("bclri", "bclr"), ("bexti", "bext"),
                   ("binvi", "binv"), ("bseti", "bset")):
    _rules(_imm, (None, _reg, "{rd},{rs1},{shamt}", None))
_rules("clz ctz cpop clzw ctzw cpopw sext.b sext.h zext.h orc.b rev8", (None, None, "{rd},{rs1}", None))

# --- Zicbom, Zicboz, Zicbop, Zihintpause
_rules("cbo.clean cbo.flush cbo.inval cbo.zero", (None, None, "({rs1})", None))
_rules("prefetch.i prefetch.r prefetch.w", (None, None, "{imm}({rs1})", None))
_rules("pause", (None, None, "", None))

# --- A (every ordering suffix is its own isa entry)
for _ins in isa.INSTRUCTIONS:
    if _ins.name.startswith("lr."):
        _rules(_ins.name, (None, None, "{rd},({rs1})", None))
    elif _ins.name.startswith(("sc.", "amo")):
        _rules(_ins.name, (None, None, "{rd},{rs2},({rs1})", None))

# --- F and D: the rounding mode is printed unless it is dyn; fsgnj* of one
# register twice are fmv/fneg/fabs
def _same_source(ops):
    return ops["rs1"] == ops["rs2"]


for _ins in isa.INSTRUCTIONS:
    if _ins.ext not in ("F", "D"):
        continue
    _plain = ",".join("{%s}" % (_s if "(" not in _s else _s) for _s in _ins.syntax if _s != "rm")
    _plain = _plain.replace("{imm(rs1)}", "{imm}({rs1})")
    if _ins.fmt in ("FLOAD", "FSTORE"):
        _rules(_ins.name, (None, None, _plain, "mem"))
    elif "rm" in _ins.syntax:
        _rules(_ins.name, (_eq(rm=7), None, _plain, None), (None, None, _plain + ",{rm}", None))
    elif _ins.name.startswith(("fsgnj.", "fsgnjn.", "fsgnjx.")):
        _alias = {"fsgnj": "fmv", "fsgnjn": "fneg", "fsgnjx": "fabs"}[_ins.name.split(".")[0]]
        _rules(_ins.name, (_same_source, _alias + "." + _ins.name[-1], "{rd},{rs1}", None),
               (None, None, _plain, None))
    else:
        _rules(_ins.name, (None, None, _plain, None))

# --- C: objdump names most parcels after the instruction they expand to.
# HINT parcels (rd = x0) keep their c.* names.
_rules("c.nop", (None, "nop", "", None))
_rules("c.addi", (_eq(rd=0), "c.nop", "{imm}", None), (None, "add", "{rd},{rd},{imm}", "crd"))
_rules("c.addiw", (_eq(imm=0), "sext.w", "{rd},{rd}", None), (None, "addw", "{rd},{rd},{imm}", "crdw"))
_rules("c.addi4spn", (None, "add", "{rd},{sp},{imm}", None))
_rules("c.addi16sp", (None, "add", "{sp},{sp},{imm}", None))
_rules("c.li", (_eq(rd=0), "c.li", "{zero},{imm}", None), (None, "li", "{rd},{imm}", None))
_rules("c.lui", (_eq(rd=0), "c.lui", "{zero},{hex}", "hi"), (None, "lui", "{rd},{hex}", "hi"))
_rules("c.lw", (None, "lw", "{rd},{imm}({rs1})", None))
_rules("c.ld", (None, "ld", "{rd},{imm}({rs1})", None))
_rules("c.sw", (None, "sw", "{rs2},{imm}({rs1})", None))
_rules("c.sd", (None, "sd", "{rs2},{imm}({rs1})", None))
_rules("c.lwsp", (None, "lw", "{rd},{imm}({sp})", None))
_rules("c.ldsp", (None, "ld", "{rd},{imm}({sp})", None))
_rules("c.swsp", (None, "sw", "{rs2},{imm}({sp})", None))
_rules("c.sdsp", (None, "sd", "{rs2},{imm}({sp})", None))
_rules("c.srli", (_eq(shamt=0), "c.srli64", "{rd}", None), (None, "srl", "{rd},{rd},{shamt}", None))
_rules("c.srai", (_eq(shamt=0), "c.srai64", "{rd}", None), (None, "sra", "{rd},{rd},{shamt}", None))
_rules("c.slli",
       (_eq(shamt=0), "c.slli64", "{rd}", None),
       (_eq(rd=0), "c.slli", "{zero},{shamt}", None),
       (None, "sll", "{rd},{rd},{shamt}", None))
_rules("c.andi", (None, "and", "{rd},{rd},{imm}", None))
for _c, _n in (("c.sub", "sub"), ("c.xor", "xor"), ("c.or", "or"), ("c.and", "and"),
               ("c.subw", "subw"), ("c.addw", "addw")):
    _rules(_c, (None, _n, "{rd},{rd},{rs2}", None))
_rules("c.j", (None, "j", "{target}", None))
_rules("c.beqz", (None, "beqz", "{rs1},{target}", None))
_rules("c.bnez", (None, "bnez", "{rs1},{target}", None))
_rules("c.jr", (_eq(rs1=_RA), "ret", "", None), (None, "jr", "{rs1}", None))
_rules("c.jalr", (None, "jalr", "{rs1}", None))
_rules("c.mv", (_eq(rd=0), "c.mv", "{zero},{rs2}", None), (None, "mv", "{rd},{rs2}", None))
_rules("c.add", (_eq(rd=0), "c.add", "{zero},{rs2}", None), (None, "add", "{rd},{rd},{rs2}", None))
_rules("c.ebreak", (None, "ebreak", "", None))
_rules("c.fld", (None, "fld", "{rd},{imm}({rs1})", None))
_rules("c.fsd", (None, "fsd", "{rs2},{imm}({rs1})", None))
_rules("c.fldsp", (None, "fld", "{rd},{imm}({sp})", None))
_rules("c.fsdsp", (None, "fsd", "{rs2},{imm}({sp})", None))


def uncovered_instructions():
    """pyvmm.isa instructions without an objdump spelling rule here (they fall
    back to their plain name and assembler syntax); the tests keep this empty."""
    names = {i.name for i in isa.INSTRUCTIONS} | {c.name for c in isa.COMPRESSED}
    return sorted(names - set(_RULES))


# ---------------------------------------------------------------------------
# Decoding: isa.decode plus binutils' own view of the edges.

@dataclass(frozen=True)
class _Decoded:
    name: str                # isa name, or a legacy name
    ops: dict
    length: int
    ext: str = "I"           # isa extension ("I" M A C Zicsr Zifencei priv H); legacy words "I"


@lru_cache(maxsize=65536)
def _decode(word, base=False):
    """Decode the instruction at the low bits of `word` as objdump sees it, or None;
    base=True: as the base instruction a hint's encoding is (prefetch.i as ori)."""
    if word & 3 != 3:
        half = word & 0xFFFF
        if half == 0:
            return _Decoded("unimp16", {}, 2, "C")     # c.unimp: reserved, objdump's "unimp"
        if half == 0x6101:
            # c.addi16sp with a zero immediate is reserved; binutils does not
            # check the immediate and prints it.
            return _Decoded("c.addi16sp", {"imm": 0}, 2, "C")
        decoded = isa.decode(half)
        return _Decoded(decoded[0].name, decoded[1], 2, decoded[0].ext) if decoded else None
    word &= 0xFFFFFFFF
    if word in _LEGACY_WORDS:
        return _Decoded(_LEGACY_WORDS[word], {}, 4)
    if word & _SFENCE_VM_MASK == _SFENCE_VM_MATCH:
        return _Decoded("sfence.vm", {"rs1": (word >> 15) & 31}, 4)
    decoded = isa.decode(word, extensions={"I"} if base else None)
    if decoded is None:
        return None
    entry, ops = decoded
    if entry.name == "fence" and word & _FENCE_RESERVED_BITS:
        return None
    if entry.name == "fence.tso" and word & _FENCE_RESERVED_BITS & ~_FENCE_FM_BITS:
        return None
    if entry.name == "fence.i" and word != _FENCE_I_WORD:
        return None
    ext = entry.ext
    if ext == "M" and entry.name.startswith("mul"):
        ext = "Zmmul"                  # binutils: the multiplies need only Zmmul (implied by M)
    return _Decoded(entry.name, ops, 4, ext)


_RULES["unimp16"] = [(_always, "unimp", "", None)]
_RULES["sfence.vm"] = [(_eq(rs1=0), "sfence.vm", "", None), (_always, "sfence.vm", "{rs1}", None)]
for _legacy in ("uret", "hret", "dret"):
    _RULES[_legacy] = [(_always, _legacy, "", None)]


@lru_cache(maxsize=65536)
def _spelling(word, aliases=True, fp=True, base=False):
    """(length, mnemonic, template, effect, decoded) for a word, mnemonic None if unknown.

    With aliases off (objdump -M no-aliases) every instruction is shown under
    its own name with its assembler operand syntax; c.* parcels keep c.* names.
    fp: the image's ISA has F (objdump's fcsr/frm/fflags aliases apply).
    """
    length = insn_length(word & 0xFFFF)
    decoded = _decode(word, base) if length in (2, 4) else None
    if decoded is None:
        return length, None, None, None, None
    if (not aliases or decoded.name not in _RULES) and decoded.name in _CANONICAL:
        mnem, template, effect = _CANONICAL[decoded.name]
        if decoded.name in ("c.slli", "c.srli", "c.srai") and decoded.ops["shamt"] == 0:
            mnem, template = decoded.name + "64", "{rd}"      # binutils' own entries
        if decoded.name == "csrrw" and word == 0xC0001073:
            mnem, template = "unimp", ""                       # not an alias in binutils
        if effect in ("mem", "memw") and decoded.name in ("addi", "addiw") and decoded.ops["rs1"] == 0:
            effect = None              # objdump annotates addi/addiw only off a non-zero base
        return length, mnem, template, effect, decoded
    for cond, mnem, template, effect in _RULES[decoded.name]:
        if getattr(cond, "needs_f", False) and not fp:
            continue
        if cond(decoded.ops):
            return length, mnem, template, effect, decoded
    raise AssertionError("no spelling rule matched %s" % decoded.name)


_FIELD_NAMES = {"rd", "rs1", "rs2", "rs3", "rm", "imm", "shamt", "csr", "zimm", "pred", "succ"}


def _canonical_spelling(entry):
    """(mnemonic, template, address effect) of an isa entry under -M no-aliases."""
    parts = []
    for syn in entry.syntax:
        if syn == "imm":
            if entry.fmt in ("B", "J", "CJ") or entry.name in ("c.beqz", "c.bnez"):
                parts.append("{target}")
            elif entry.fmt == "U" or entry.name == "c.lui":
                parts.append("{hex}")
            else:
                parts.append("{imm}")
        elif syn == "sp":
            parts.append("{sp}")
        else:       # "imm(rs1)", "(rs1)", "imm(sp)", register and other field names
            parts.append(re.sub(r"[a-z]+[0-9]?", lambda m: "{%s}" % m.group(0)
                                if m.group(0) in _FIELD_NAMES | {"sp"} else m.group(0), syn))
    effect = None
    if entry.name in ("lui", "auipc", "c.lui"):
        effect = "hi"
    elif entry.name == "jalr":
        effect = "mem2"
    elif entry.name == "addi" or entry.fmt in ("I_load", "S", "FLOAD", "FSTORE"):
        effect = "mem"
    elif entry.name == "addiw":
        effect = "memw"
    elif entry.name == "c.addi":
        effect = "crd"
    elif entry.name == "c.addiw":
        effect = "crdw"
    return entry.name, ",".join(parts), effect


_CANONICAL = {e.name: _canonical_spelling(e) for e in isa.INSTRUCTIONS + isa.COMPRESSED}
# binutils' own entries for words isa has no table entry for
_CANONICAL["unimp16"] = ("c.unimp", "", None)
_CANONICAL["c.addi16sp"] = ("c.addi16sp", "{sp},{imm}", None)
_CANONICAL["c.nop"] = ("c.addi", "{zero},0", None)


NUMERIC_NAMES = tuple("x%d" % i for i in range(32))
NUMERIC_FP_NAMES = tuple("f%d" % i for i in range(32))


@lru_cache(maxsize=None)
def _fp_fields(name):
    """The operands of isa entry `name` that are f registers."""
    entry = isa.lookup(name)
    if entry is None:
        return frozenset()
    return frozenset(f.name for f in entry.fields if f.kind in ("freg", "fcreg"))


def _operand_strings(decoded, template, pc, symbols, csr_names, reg_names=_ABI, freg_names=_FABI):
    ops = decoded.ops
    values = {"zero": reg_names[0], "sp": reg_names[2]}
    fp_fields = _fp_fields(decoded.name)
    for key in ("rd", "rs1", "rs2", "rs3"):
        if key in ops:
            values[key] = (freg_names if key in fp_fields else reg_names)[ops[key]]
    if "rm" in ops:
        if ops["rm"] == 7:
            template = template.replace(",{rm}", "")     # dyn is not printed
        values["rm"] = RM_NAMES.get(ops["rm"], "unknown")
    if "imm" in ops:
        imm = ops["imm"]
        values["imm"] = "%d" % imm
        if "{target}" in template:
            values["target"] = symbols.format_address(pc + imm)
        if "{hex}" in template:
            values["hex"] = "0x%x" % (imm & 0xFFFFF)
    if "shamt" in ops:
        values["shamt"] = "0x%x" % ops["shamt"]
    if "csr" in ops:
        csr = ops["csr"]
        values["csr"] = csr_names.get(csr) or "0x%x" % csr
    if "zimm" in ops:
        values["zimm"] = "%d" % ops["zimm"]
    if "pred" in ops:
        values["pred"] = _FENCE_SET[ops["pred"]]
        values["succ"] = _FENCE_SET[ops["succ"]]
    return template.format(**values)


class Disassembler:
    """objdump's disassembler with its memory between instructions.

    objdump remembers the value a ``lui``/``auipc`` puts in a register and,
    when a later ``addi``, load, store or ``jalr`` uses that register as a base,
    appends ``# <address> <symbol>``; it does the same for ``gp``-relative
    accesses when the image defines ``__global_pointer$`` and for ``tp``- and
    ``zero``-relative ones. Feed instructions in address order to get the same
    comments; `disassemble` uses a fresh Disassembler per call.
    """

    def __init__(self, symbols=None, gp=None, march=None, priv_spec=DEFAULT_PRIV_SPEC,
                 aliases=True, numeric=False):
        self.symbols = _as_symbol_table(symbols)
        self.aliases = aliases                  # False: objdump -M no-aliases
        self.reg_names = NUMERIC_NAMES if numeric else _ABI      # True: -M numeric
        self.freg_names = NUMERIC_FP_NAMES if numeric else _FABI
        self.set_march(march)
        self.csr_names = csr_display_names(priv_spec)
        if gp is None:
            gp_sym = [s for s in self.symbols.symbols() if s.name == "__global_pointer$"]
            gp = gp_sym[0].value if gp_sym else None
        self.gp = gp
        self._hi = {}            # register -> value left by lui/auipc/c.lui

    def set_march(self, march):
        """Decode only the extensions of ISA string `march` (None: all pyvmm.isa knows)."""
        self.extensions = ALL_EXTENSIONS if march is None else extensions_from_march(march)
        self.march = march

    def reset(self):
        self._hi.clear()

    def disassemble(self, word, pc=0):
        """(length, text) for the instruction in the low bits of `word` at `pc`."""
        length = insn_length(word & 0xFFFF)
        key = word & (0xFFFF if length == 2 else 0xFFFFFFFF)
        fp = "F" in self.extensions
        _, mnem, template, effect, decoded = _spelling(key, self.aliases, fp)
        if mnem is not None and decoded.ext in _HINT_EXTENSIONS and decoded.ext not in self.extensions:
            _, mnem, template, effect, decoded = _spelling(key, self.aliases, fp, True)
        if mnem is None or not all(ext in self.extensions for ext in decoded.ext.split("+")):
            return length, unknown_text(word, length)
        text = mnem
        if template:
            text += "\t" + _operand_strings(decoded, template, pc, self.symbols, self.csr_names,
                                             self.reg_names, self.freg_names)
        if effect is not None:
            comment = self._address_effect(effect, decoded, pc)
            if comment is not None:
                text += " # " + self.symbols.format_address(comment)
        return length, text

    def _address_effect(self, effect, decoded, pc):
        ops = decoded.ops
        if effect == "hi":
            imm = ops["imm"]
            value = _sext(imm << 12, 32)
            if decoded.name == "auipc":
                value += pc
            self._hi[ops["rd"]] = value & MASK64
            return None
        if effect in ("crd", "crdw"):
            base = ops["rd"]
            if base == 0:
                return None
            return self._base_plus(base, ops["imm"], effect == "crdw")
        base = ops["rs1"]
        if effect == "memw":
            return self._base_plus(base, ops["imm"], True) if base != 0 else None
        if effect == "mem2":
            first = self._base_plus(base, ops["imm"], False)
            second = self._base_plus(base, ops["imm"], False)
            return second if second is not None else first
        return self._base_plus(base, ops["imm"], False)

    def _base_plus(self, base, offset, wide):
        """The address `base`+`offset` when objdump knows `base`'s value, else None."""
        if base in self._hi:
            value = self._hi.pop(base)
            addr = (value if base != _ZERO else 0) + offset
        elif base == _GP and self.gp is not None:
            addr = self.gp + offset
        elif base in (_TP, _ZERO):
            addr = offset
        else:
            return None
        if wide:
            addr = _sext(addr, 32)
        return addr & MASK64


def disassemble(word, pc=0, symbols=None, march=None, priv_spec=DEFAULT_PRIV_SPEC,
                aliases=True, numeric=False):
    """(length, text) for one instruction, spelled as ``objdump -d`` spells it.

    `word` holds the instruction in its low bits (a 16-bit parcel for
    compressed code; extra high bits are ignored). Branch and jump targets are
    absolute: ``0x80000010`` without symbols, ``80000010 <sym+0x4>`` with a
    symbol table (a dict name -> address, or a SymbolTable). `march` (an ISA
    string) limits decoding to its extensions, as objdump does for an ELF's
    arch attribute; the default decodes everything pyvmm.isa knows.
    `priv_spec` ("1.9.1" ... "1.12") picks the CSR names of that spec;
    aliases=False and numeric=True are objdump's -M no-aliases and -M numeric.
    """
    return Disassembler(symbols, march=march, priv_spec=priv_spec, aliases=aliases,
                        numeric=numeric).disassemble(word, pc)


def disassemble_bytes(data, addr, symbols=None, gp=None, march=None, priv_spec=DEFAULT_PRIV_SPEC,
                      aliases=True, numeric=False):
    """Yield (address, length, text) for each instruction of the image `data` at `addr`.

    Keeps objdump's lui/auipc memory across instructions. A trailing fragment
    too short for its instruction is shown as objdump shows data: ``.byte``s.
    """
    dis = Disassembler(symbols, gp, march, priv_spec, aliases, numeric)
    data = bytes(data)
    offset = 0
    while offset < len(data):
        length = insn_length(data[offset] | data[offset + 1] << 8) if offset + 1 < len(data) else 2
        if offset + length > len(data):
            tail = data[offset:]
            yield addr + offset, len(tail), ".byte\t" + ", ".join("0x%02x" % b for b in tail)
            return
        word = int.from_bytes(data[offset:offset + length], "little")
        _, text = dis.disassemble(word, addr + offset)
        yield addr + offset, length, text
        offset += length

"""Assembler directives (GNU as spelling and meaning).

Each handler takes (assembler, operand text, line queue); block directives
(.macro, .rept, .irp, .if) take their body from the queue.
"""

import os
import re

from pyvmm.asm import expr as E
from pyvmm.asm.errors import LineError
from pyvmm.asm.items import Align, Data, DataExpr
from pyvmm.asm.source import SYMBOL_NAME, parse_string, split_operands

DIRECTIVES = {}


def directive(*names):
    def register(fn):
        for name in names:
            DIRECTIVES[name] = fn
        return fn
    return register


def _names(text):
    names = [n.strip() for n in split_operands(text)]
    for n in names:
        if not SYMBOL_NAME.match(n):
            raise LineError("bad symbol name `%s'" % n)
    return names


# ------------------------------------------------------------------ sections
def _switch_to(name):
    """The handler of `.text`, `.data` or `.bss` (with an optional subsection, which must be 0)."""
    def switch(asm, rest, queue):
        if rest.strip() and asm.absolute(rest, "subsection") != 0:
            raise LineError("subsections are not supported (`%s %s')" % (name, rest.strip()))
        asm.switch_section(name)
    return switch


for _name in (".text", ".data", ".bss"):
    directive(_name)(_switch_to(_name))


@directive(".rodata")
def d_rodata(asm, rest, queue):
    asm.switch_section(".rodata")


def _parse_section(rest):
    parts = split_operands(rest)
    if not parts or not parts[0]:
        raise LineError(".section needs a name")
    name = parts[0].strip('"')
    flags = nobits = None
    if len(parts) > 1:
        flag_text = parts[1].strip()
        if not (flag_text.startswith('"') and flag_text.endswith('"')):
            raise LineError("bad .section flags `%s' (expected a quoted string like \"ax\")" % flag_text)
        flags = "".join(c for c in flag_text[1:-1] if c in "awx")
        bad = [c for c in flag_text[1:-1] if c not in "awxMSGTR?oed"]
        if bad:
            raise LineError("unknown .section flag `%s'" % bad[0])
    if len(parts) > 2:
        kind = parts[2].strip().lstrip("@%")
        if kind not in ("progbits", "nobits", "note", "init_array", "fini_array", "preinit_array"):
            raise LineError("unknown section type `%s'" % parts[2].strip())
        nobits = kind == "nobits"
    return name, flags, nobits


@directive(".section")
def d_section(asm, rest, queue):
    asm.switch_section(*_parse_section(rest))


@directive(".pushsection")
def d_pushsection(asm, rest, queue):
    asm.section_stack.append((asm.current, asm.previous_section))
    asm.switch_section(*_parse_section(rest))


@directive(".popsection")
def d_popsection(asm, rest, queue):
    if not asm.section_stack:
        raise LineError(".popsection without .pushsection")
    asm.current, asm.previous_section = asm.section_stack.pop()


@directive(".previous")
def d_previous(asm, rest, queue):
    if asm.previous_section is None:
        raise LineError(".previous without an earlier section")
    asm.current, asm.previous_section = asm.previous_section, asm.current


# ------------------------------------------------------------------ symbols
@directive(".globl", ".global")
def d_globl(asm, rest, queue):
    for name in _names(rest):
        asm.symbol(name).is_global = True


@directive(".local")
def d_local(asm, rest, queue):
    for name in _names(rest):
        asm.symbol(name).is_global = False


@directive(".weak", ".hidden", ".protected", ".internal")
def d_weak(asm, rest, queue):
    for name in _names(rest):
        sym = asm.symbol(name)
        sym.is_global = True


@directive(".type")
def d_type(asm, rest, queue):
    parts = split_operands(rest)
    if len(parts) != 2:
        raise LineError(".type needs a symbol and a type, e.g. `.type f, @function'")
    kind = parts[1].strip().lstrip("@%\"").rstrip("\"").lower()
    types = {"function": "function", "stt_func": "function", "object": "object", "stt_object": "object",
             "notype": None, "stt_notype": None}
    if kind not in types:
        raise LineError("unknown symbol type `%s'" % parts[1].strip())
    asm.symbol(parts[0].strip()).type = types[kind]


@directive(".size")
def d_size(asm, rest, queue):
    parts = split_operands(rest)
    if len(parts) != 2:
        raise LineError(".size needs a symbol and an expression")
    asm.symbol(parts[0].strip()).size_node = asm.parse_expr(parts[1])


@directive(".equ", ".set")
def d_set(asm, rest, queue):
    parts = split_operands(rest)
    if len(parts) != 2 or not SYMBOL_NAME.match(parts[0]):
        raise LineError("expected `symbol, expression' after .equ/.set")
    asm.assign(parts[0], parts[1])


@directive(".equiv")
def d_equiv(asm, rest, queue):
    parts = split_operands(rest)
    if len(parts) != 2 or not SYMBOL_NAME.match(parts[0]):
        raise LineError("expected `symbol, expression' after .equiv")
    sym = asm.symbols.get(parts[0])
    if sym is not None and sym.kind is not None:
        raise LineError("symbol `%s' is already defined" % parts[0])
    asm.assign(parts[0], parts[1])


# ------------------------------------------------------------------ data
def _data(nbytes):
    def handler(asm, rest, queue):
        for text in split_operands(rest):
            if not text:
                raise LineError("missing value")
            node = asm.parse_expr(text)
            try:
                value = asm.const_eval(node)
            except E.NotConstant:
                asm.append(DataExpr(nbytes, node, asm.where))
                continue
            asm.append(Data((value & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little")))
    return handler


for _names_, _n in (((".byte",), 1), ((".2byte", ".half", ".short", ".hword"), 2),
                    ((".4byte", ".word", ".long", ".int"), 4), ((".8byte", ".dword", ".quad"), 8)):
    directive(*_names_)(_data(_n))


@directive(".ascii")
def d_ascii(asm, rest, queue):
    for text in split_operands(rest):
        asm.append(Data(parse_string(text)))


@directive(".asciz", ".string")
def d_asciz(asm, rest, queue):
    for text in split_operands(rest):
        asm.append(Data(parse_string(text) + b"\0"))


@directive(".zero")
def d_zero(asm, rest, queue):
    count = asm.absolute(rest, ".zero size")
    if count < 0:
        raise LineError(".zero size %d is negative" % count)
    asm.append(Data(bytes(count)))


@directive(".space", ".skip")
def d_space(asm, rest, queue):
    parts = split_operands(rest)
    if not 1 <= len(parts) <= 2:
        raise LineError(".space needs a size and an optional fill byte")
    count = asm.absolute(parts[0], ".space size")
    fill = asm.absolute(parts[1], ".space fill") & 0xFF if len(parts) == 2 else 0
    if count < 0:
        raise LineError(".space size %d is negative" % count)
    asm.append(Data(bytes([fill]) * count))


@directive(".fill")
def d_fill(asm, rest, queue):
    parts = split_operands(rest)
    if not 1 <= len(parts) <= 3:
        raise LineError(".fill needs repeat[, size[, value]]")
    repeat = asm.absolute(parts[0], ".fill repeat")
    size = asm.absolute(parts[1], ".fill size") if len(parts) > 1 else 1
    value = asm.absolute(parts[2], ".fill value") if len(parts) > 2 else 0
    if repeat < 0 or size < 0:
        raise LineError(".fill repeat and size must not be negative")
    size = min(size, 8)
    # GNU: the value is stored in 4 bytes at most, the rest of each unit is zero
    unit = (value & 0xFFFFFFFF).to_bytes(4, "little")[:size] + bytes(max(0, size - 4))
    asm.append(Data(unit * repeat))


def _leb128(value, signed):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40) if signed else value == 0
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


@directive(".uleb128")
def d_uleb128(asm, rest, queue):
    for text in split_operands(rest):
        asm.append(Data(_leb128(asm.absolute(text, ".uleb128 value") & E.MASK64, False)))


@directive(".sleb128")
def d_sleb128(asm, rest, queue):
    for text in split_operands(rest):
        asm.append(Data(_leb128(asm.absolute(text, ".sleb128 value"), True)))


def _align(asm, boundary, parts):
    fill = None
    max_skip = None
    if len(parts) > 1 and parts[1].strip():
        fill = asm.absolute(parts[1], "alignment fill") & 0xFF
    if len(parts) > 2 and parts[2].strip():
        max_skip = asm.absolute(parts[2], "alignment maximum")
    section = asm.current
    section.align = max(section.align, boundary)    # gas records it even with a max skip
    if section.code and fill is None and boundary <= (2 if asm.rvc else 4):
        # gas (riscv_frag_align_code): aligning code to no more than the
        # instruction alignment emits nothing, even when the offset is odd
        return
    asm.append(Align(boundary, fill, max_skip, section.code))


def _pow2(asm, rest, what):
    parts = split_operands(rest)
    if not parts or not parts[0]:
        raise LineError("%s needs an alignment" % what)
    power = asm.absolute(parts[0], "alignment")
    if not 0 <= power <= 16:
        raise LineError("alignment %d out of range [0, 16] for %s" % (power, what))
    _align(asm, 1 << power, parts)


@directive(".align", ".p2align")
def d_align(asm, rest, queue):
    _pow2(asm, rest, ".align")


@directive(".balign")
def d_balign(asm, rest, queue):
    parts = split_operands(rest)
    if not parts or not parts[0]:
        raise LineError(".balign needs an alignment")
    boundary = asm.absolute(parts[0], "alignment")
    if boundary <= 0 or boundary & (boundary - 1):
        raise LineError("alignment %d is not a power of 2" % boundary)
    _align(asm, boundary, parts)


@directive(".org")
def d_org(asm, rest, queue):
    parts = split_operands(rest)
    if not 1 <= len(parts) <= 2:
        raise LineError(".org needs an offset and an optional fill byte")
    fill = asm.absolute(parts[1], ".org fill") & 0xFF if len(parts) == 2 else 0
    asm.org_to(asm.parse_expr(parts[0]), fill)


# ------------------------------------------------------------------ options, attributes
@directive(".option")
def d_option(asm, rest, queue):
    parts = [p.strip() for p in split_operands(rest)]
    option = parts[0].lower() if parts else ""
    if option == "rvc":
        asm.rvc = True
    elif option == "norvc":
        asm.rvc = False
    elif option in ("relax", "norelax", "pic", "nopic", "csr-check", "no-csr-check"):
        pass    # pyvmm always assembles as -mno-relax, non-PIC
    elif option == "push":
        asm.option_stack.append(asm.rvc)
    elif option == "pop":
        if not asm.option_stack:
            raise LineError(".option pop with no .option push")
        asm.rvc = asm.option_stack.pop()
    elif option == "arch":
        for change in parts[1:]:
            if change in ("+c", "+zca"):
                asm.rvc = True
            elif change in ("-c", "-zca"):
                asm.rvc = False
            elif re.match(r"rv64", change):
                asm.rvc = "c" in re.match(r"rv64([a-z]*)", change).group(1)
    else:
        raise LineError("unknown .option `%s' (rvc, norvc, relax, norelax, push, pop, arch)" % rest)


# Directives that only feed object-file metadata pyvmm's linked output does not
# carry (debug line info, call-frame info, attributes).
@directive(".attribute")
def d_attribute(asm, rest, queue):
    """`.attribute arch, "rv64imac"` sets the ISA (before any instruction, as gas);
    the other RISC-V attributes only describe the object and are accepted."""
    parts = split_operands(rest)
    if len(parts) != 2:
        raise LineError(".attribute needs a tag and a value")
    if parts[0].strip().lower() not in ("arch", "tag_riscv_arch", "5"):
        return
    if asm.instructions_emitted:
        raise LineError("architecture elf attributes must set before any instructions")
    march = parse_string(parts[1]).decode()
    from pyvmm.asm.assembler import parse_march
    try:
        asm.extensions = parse_march(march)
    except ValueError as e:
        raise LineError(str(e))
    asm.rvc = asm.initial_rvc = "c" in asm.extensions


@directive(".file", ".ident", ".loc",
           ".cfi_startproc", ".cfi_endproc", ".cfi_def_cfa_offset", ".cfi_offset",
           ".cfi_restore", ".cfi_def_cfa", ".cfi_sections", ".variant_cc")
def d_metadata_only(asm, rest, queue):
    pass


@directive(".end")
def d_end(asm, rest, queue):
    """Everything after .end in this file is ignored (as in gas)."""
    queue.clear()


def _message(rest, default):
    text = rest.strip()
    return parse_string(text).decode("utf-8", "replace") if text.startswith('"') else (text or default)


@directive(".error")
def d_error(asm, rest, queue):
    raise LineError(_message(rest, ".error directive invoked in source file"))


@directive(".warning")
def d_warning(asm, rest, queue):
    asm.messages.append(("warning", asm.where.file, asm.where.line,
                         _message(rest, ".warning directive invoked in source file")))


@directive(".print")
def d_print(asm, rest, queue):
    asm.messages.append(("print", asm.where.file, asm.where.line, _message(rest, "")))


# ------------------------------------------------------------------ blocks
@directive(".macro")
def d_macro(asm, rest, queue):
    m = re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$", rest, re.S)
    if not m:
        raise LineError(".macro needs a name")
    name = m.group(1)
    params = []
    param_text = m.group(2).strip()
    for chunk in (split_operands(param_text) if "," in param_text else param_text.split()):
        pm = re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*(?::\s*(req|vararg))?\s*(?:=\s*(.*))?$", chunk, re.S)
        if not pm:
            raise LineError("bad macro parameter `%s'" % chunk)
        params.append((pm.group(1), (pm.group(3) or "").strip(), pm.group(2) == "req",
                       pm.group(2) == "vararg"))
    where = asm.where
    body = asm.take_block(queue, r"\.macro\b", r"\.endm\b", ".endm")
    if name in asm.macros:
        raise LineError("macro `%s' is already defined" % name)
    asm.macros[name] = (params, body, where)


@directive(".endm", ".endr")
def d_stray_end(asm, rest, queue):
    raise LineError("unexpected end of block (no matching .macro/.rept)")


@directive(".exitm")
def d_exitm(asm, rest, queue):
    from pyvmm.asm.assembler import _ExitMacro
    if not asm.macro_depth:
        raise LineError(".exitm outside a macro")
    raise _ExitMacro()


@directive(".purgem")
def d_purgem(asm, rest, queue):
    name = rest.strip()
    if name not in asm.macros:
        raise LineError("macro `%s' is not defined" % name)
    del asm.macros[name]


@directive(".rept")
def d_rept(asm, rest, queue):
    count = asm.absolute(rest, ".rept count")
    body = asm.take_block(queue, r"\.(rept|irpc?)\b", r"\.endr\b", ".endr")
    for _ in range(max(0, count)):
        asm.run_lines(body)


def _irp(asm, rest, queue, per_character):
    m = re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$", rest, re.S)
    if not m:
        raise LineError(".irp needs a parameter name")
    name, values_text = m.group(1), m.group(2)
    body = asm.take_block(queue, r"\.(rept|irpc?)\b", r"\.endr\b", ".endr")
    values = list(values_text.strip()) if per_character else split_operands(values_text)
    pattern = re.compile(r"\\%s\b(\(\))?" % re.escape(name))
    for value in values:
        asm.run_lines([(f, n, pattern.sub(lambda _m: value, t)) for f, n, t in body])


@directive(".irp")
def d_irp(asm, rest, queue):
    _irp(asm, rest, queue, per_character=False)


@directive(".irpc")
def d_irpc(asm, rest, queue):
    _irp(asm, rest, queue, per_character=True)


@directive(".include")
def d_include(asm, rest, queue):
    name = parse_string(rest).decode()
    path, text = _read_included(asm, name, "r")
    if asm.include_depth > 50:
        raise LineError("includes nested too deeply at `%s'" % name)
    asm.include_depth += 1
    try:
        asm.assemble_text(text, path)
    finally:
        asm.include_depth -= 1


@directive(".incbin")
def d_incbin(asm, rest, queue):
    """`.incbin "file"[, skip[, count]]`: the file's bytes, searched like .include."""
    parts = split_operands(rest)
    if not 1 <= len(parts) <= 3:
        raise LineError(".incbin needs a file name and optional skip and count")
    name = parse_string(parts[0]).decode()
    skip = asm.absolute(parts[1], ".incbin skip") if len(parts) > 1 else 0
    data = _read_included(asm, name, "rb")
    count = asm.absolute(parts[2], ".incbin count") if len(parts) > 2 else len(data) - skip
    if skip < 0 or count < 0 or skip + count > len(data):
        raise LineError(".incbin range %d+%d is outside `%s' (%d bytes)" % (skip, count, name, len(data)))
    asm.append(Data(data[skip:skip + count]))


def _read_included(asm, name, mode):
    candidates = [os.path.join(os.path.dirname(asm.where.file), name)] + \
        [os.path.join(d, name) for d in asm.include_dirs] + [name]
    for path in candidates:
        if os.path.isfile(path):
            try:
                if mode == "rb":
                    with open(path, "rb") as f:
                        return f.read()
                with open(path, encoding="utf-8", errors="surrogateescape") as f:
                    return path, f.read()
            except OSError as e:
                raise LineError("can't read `%s': %s" % (name, e.strerror or e))
    raise LineError("can't open %s file `%s'" % ("include" if mode != "rb" else "incbin", name))


# ------------------------------------------------------------------ conditionals
def _begin_if(asm, truth):
    asm.cond_stack.append([truth, truth, True])


def _if_value(asm, rest):
    try:
        return asm.absolute(rest, ".if condition")
    except LineError:
        asm.cond_stack.append([False, True, True])     # keep .else/.endif matched
        raise


for _name, _test in ((".if", lambda v: v != 0), (".ifne", lambda v: v != 0), (".ifeq", lambda v: v == 0),
                     (".ifgt", lambda v: v > 0), (".ifge", lambda v: v >= 0), (".iflt", lambda v: v < 0),
                     (".ifle", lambda v: v <= 0)):
    def _handler(asm, rest, queue, _test=_test):
        _begin_if(asm, _test(_if_value(asm, rest)))
    DIRECTIVES[_name] = _handler


@directive(".ifdef")
def d_ifdef(asm, rest, queue):
    sym = asm.symbols.get(rest.strip())
    _begin_if(asm, sym is not None and sym.kind is not None)


@directive(".ifndef", ".ifnotdef")
def d_ifndef(asm, rest, queue):
    sym = asm.symbols.get(rest.strip())
    _begin_if(asm, not (sym is not None and sym.kind is not None))


@directive(".else")
def d_else(asm, rest, queue):
    if not asm.cond_stack:
        raise LineError(".else without .if")
    frame = asm.cond_stack[-1]
    parent_active = frame[2]
    frame[0] = parent_active and not frame[1]
    frame[1] = True


@directive(".elseif")
def d_elseif(asm, rest, queue):
    if not asm.cond_stack:
        raise LineError(".elseif without .if")
    frame = asm.cond_stack[-1]
    if frame[1] or not frame[2]:
        frame[0] = False
        return
    truth = _if_value(asm, rest) != 0
    frame[0] = truth
    frame[1] = truth


@directive(".endif")
def d_endif(asm, rest, queue):
    if not asm.cond_stack:
        raise LineError(".endif without .if")
    asm.cond_stack.pop()


DIRECTIVE_NAMES = set(DIRECTIVES)


INSN_OPCODES = {
    "LOAD": 0x03, "LOAD_FP": 0x07, "CUSTOM_0": 0x0B, "MISC_MEM": 0x0F, "OP_IMM": 0x13, "AUIPC": 0x17,
    "OP_IMM_32": 0x1B, "STORE": 0x23, "STORE_FP": 0x27, "CUSTOM_1": 0x2B, "AMO": 0x2F, "OP": 0x33,
    "LUI": 0x37, "OP_32": 0x3B, "MADD": 0x43, "MSUB": 0x47, "NMSUB": 0x4B, "NMADD": 0x4F, "OP_FP": 0x53,
    "CUSTOM_2": 0x5B, "BRANCH": 0x63, "JALR": 0x67, "JAL": 0x6F, "SYSTEM": 0x73, "CUSTOM_3": 0x7B,
}
# .insn FORMAT -> operand kinds after the opcode (GNU's riscv_insn_types, 32-bit ones)
INSN_FORMATS = {
    "r": ("func3", "func7", "rd", "rs1", "rs2"),
    "i": ("func3", "rd", "rs1", "simm12"),
    "s": ("func3", "rs2", "simm12(rs1)"),
    "b": ("func3", "rs1", "rs2", "target"), "sb": ("func3", "rs1", "rs2", "target"),
    "u": ("rd", "imm20"),
    "j": ("rd", "target"), "uj": ("rd", "target"),
}


@directive(".insn")
def d_insn(asm, rest, queue):
    """`.insn VALUE`, `.insn LENGTH, VALUE` (raw words) and the 32-bit format
    forms `.insn r|i|s|b|u|j OPCODE, ...` (never compressed, as in gas)."""
    from pyvmm import isa
    from pyvmm.asm.items import RawBranch
    from pyvmm.isa import fields as F
    m = re.match(r"\s*([a-z]+\d?)\s+(.*)$", rest, re.S)
    fmt = m.group(1) if m else None
    if fmt in INSN_FORMATS or fmt in ("cr", "ci", "ciw", "css", "cl", "cs", "ca", "cb", "cj", "r4"):
        if fmt not in INSN_FORMATS:
            raise LineError(".insn format `%s' is not supported (r, i, s, b, u, j are)" % fmt)
        parts = split_operands(m.group(2))
        kinds = INSN_FORMATS[fmt]
        if fmt == "i" and len(parts) == 4 and parts[3].strip().endswith(")"):
            kinds = ("func3", "rd", "simm12(rs1)")
        if len(parts) != len(kinds) + 1:
            raise LineError(".insn %s takes %d operands" % (fmt, len(kinds) + 1))
        opcode_text = parts[0].strip()
        opcode = INSN_OPCODES.get(opcode_text.upper())
        if opcode is None:
            opcode = asm.absolute(opcode_text, ".insn opcode")
        if not 0 <= opcode < 128 or opcode & 3 != 3:
            raise LineError(".insn opcode 0x%x is not a 32-bit major opcode" % (opcode & E.MASK64))
        word = opcode
        target = None

        def reg(text):
            number = isa.reg_number(text.strip())
            if number is None:
                raise LineError("`%s' is not a register" % text.strip())
            return number

        def const(text, lo, hi, what):
            value = asm.absolute(text, what)
            if not lo <= value <= hi:
                raise LineError("%s %d out of range [%d, %d]" % (what, value, lo, hi))
            return value
        for kind, text in zip(kinds, parts[1:]):
            if kind == "func3":
                word |= const(text, 0, 7, "func3") << 12
            elif kind == "func7":
                word |= const(text, 0, 127, "func7") << 25
            elif kind in ("rd", "rs1", "rs2"):
                word |= {"rd": F.RD, "rs1": F.RS1, "rs2": F.RS2}[kind].insert(reg(text))
            elif kind == "simm12":
                word |= F.IMM_I.insert(const(text, -2048, 2047, "immediate"))
            elif kind == "simm12(rs1)":
                text = text.strip()
                open_at = text.rindex("(") if text.endswith(")") and "(" in text else -1
                if open_at < 0:
                    raise LineError("expected offset(register), got `%s'" % text)
                offset = const(text[:open_at], -2048, 2047, "offset") if text[:open_at].strip() else 0
                word |= F.RS1.insert(reg(text[open_at + 1:-1]))
                word |= (F.IMM_S if fmt == "s" else F.IMM_I).insert(offset)
            elif kind == "imm20":
                word |= F.IMM_U.insert(const(text, 0, 0xFFFFF, "upper immediate"))
            elif kind == "target":
                target = asm.parse_expr(text)
        asm.instructions_emitted = True
        if target is not None:
            asm.append(RawBranch(word, F.IMM_B if fmt in ("b", "sb") else F.IMM_J, target, asm.where))
        else:
            asm.append(Data(word.to_bytes(4, "little")))
        return
    parts = split_operands(rest)
    if not 1 <= len(parts) <= 2:
        raise LineError(".insn takes VALUE, LENGTH, VALUE or FORMAT OPCODE, ...")
    value = asm.absolute(parts[-1], ".insn value")
    length = asm.absolute(parts[0], ".insn length") if len(parts) == 2 else (2 if value & 3 != 3 else 4)
    if length not in (2, 4) or (length == 2) != (value & 3 != 3) or not 0 <= value < 1 << (8 * length):
        raise LineError(".insn value 0x%x does not fit a %d-byte instruction" % (value & E.MASK64, length))
    asm.instructions_emitted = True
    asm.append(Data(value.to_bytes(length, "little")))


DIRECTIVE_NAMES.add(".insn")

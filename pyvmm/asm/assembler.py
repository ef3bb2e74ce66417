"""The assembler: statements -> sections of items -> relaxed layout -> linked Program.

One pass reads every statement (macros, .rept, .include and conditionals are
expanded on the way) and appends items to input sections; instruction sizes
are decided there exactly as GNU as decides them (the RVC choice depends only
on registers and on immediates that are constants at that point). Layout then
relaxes branches per section, `link` places sections like GNU ld's default
script, and the deferred values (%hi/%lo/%pcrel_*, call targets, .word sym) are
computed with final addresses.
"""

import re

from pyvmm import isa
from pyvmm.isa.fields import RM_NUMBERS
from pyvmm.asm import expr as E
from pyvmm.asm.compress import branch_can_compress, compress, jump_can_compress
from pyvmm.asm.errors import LineError
from pyvmm.asm.items import Align, Branch, Data, Insn, Org, Where
from pyvmm.asm.relax import relax_section
from pyvmm.asm.mnemonics import BRANCHES, C_HINT_SPELLINGS, FORMS
from pyvmm.asm.source import (ASSIGNMENT, LABEL, SYMBOL_NAME, split_operands, split_statements,
                              strip_block_comments)

MAX_ERRORS = 200


class Mismatch(Exception):
    """An operand does not fit the form being tried; `depth` = operands that did."""

    def __init__(self, message, depth=0):
        super().__init__(message)
        self.message = message
        self.depth = depth


class Symbol:
    __slots__ = ("name", "kind", "section", "index", "value", "node", "is_global", "where",
                 "type", "size_node", "frag", "frag_offset")

    def __init__(self, name):
        self.name = name
        self.kind = None          # "label" | "const" | "expr" | None (only referenced)
        self.section = None
        self.index = 0
        self.value = None
        self.node = None
        self.is_global = False
        self.where = None
        self.type = None          # "function" | "object" from .type
        self.size_node = None
        self.frag = None          # labels: (section, gas frag number) ...
        self.frag_offset = 0      # ... and the offset inside that frag


class InputSection:
    def __init__(self, name, flags, nobits):
        self.name = name
        self.flags = flags        # subset of "awx"
        self.nobits = nobits
        self.items = []
        self.align = 1
        self.frag_id = 0          # gas frags so far (a new one after each variable item)
        self.frag_fill = 0        # bytes in the current frag
        self.offsets = []         # after layout: offset of item i; offsets[-1] = size

    @property
    def code(self):
        return "x" in self.flags

    def label_offset(self, index):
        return self.offsets[index]


def _default_section_flags(name):
    if name == ".text" or name.startswith(".text."):
        return "ax", False
    if name in (".data", ".sdata") or name.startswith((".data.", ".sdata.")):
        return "aw", False
    if name in (".rodata", ".srodata") or name.startswith((".rodata.", ".srodata.")):
        return "a", False
    if name in (".bss", ".sbss", ".tbss") or name.startswith((".bss.", ".sbss.")):
        return "aw", True
    return "", False


class Assembler:
    def __init__(self, march="rv64imac", include_dirs=()):
        self.extensions = parse_march(march)
        self.rvc = "c" in self.extensions
        self.initial_rvc = self.rvc
        self.instructions_emitted = False
        self.option_stack = []
        self.include_dirs = list(include_dirs)
        self.errors = []
        self.messages = []        # (.warning | .print, file, line, text) for the CLI to show
        self.symbols = {}
        self.sections = {}
        self.section_order = []
        self.section_stack = []
        self.previous_section = None
        self.current = None
        self.macros = {}
        self.macro_counter = 0
        self.local_counts = {}
        self.internal_counter = 0
        self.cond_stack = []      # [active, any_branch_taken, parent_active]
        self.where = Where("<string>", 0)
        self.include_depth = 0
        self.macro_depth = 0
        # GNU as creates .text, .data and .bss up front: they come first in the
        # object, which decides their order among .text.* inputs at link time
        for name in (".text", ".data", ".bss", ".text"):
            self.switch_section(name)
        self.previous_section = None

    # ---------------------------------------------------------------- errors
    def error(self, message, where=None):
        where = where or self.where
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((where.file, where.line, message))

    # ---------------------------------------------------------------- input
    def assemble_text(self, text, filename):
        lines = strip_block_comments(text.replace("\r\n", "\n")).split("\n")
        self.run_lines([(filename, n + 1, line) for n, line in enumerate(lines)])

    def run_lines(self, lines):
        """Process (file, line, text) in order; block directives consume following lines."""
        queue = list(lines)
        queue.reverse()
        while queue:
            file, line, text = queue.pop()
            self.where = Where(file, line)
            for statement in split_statements(text):
                try:
                    self.statement(statement, queue)
                except LineError as e:
                    self.error(e.message)

    def take_block(self, queue, opener_re, closer_re, what):
        """Raw lines up to the matching closer (nesting counted); the closer is consumed."""
        depth = 0
        body = []
        start = self.where
        while queue:
            file, line, text = queue.pop()
            stripped = " ".join(split_statements(text)).strip().lower()
            if re.match(closer_re, stripped):
                if depth == 0:
                    return body
                depth -= 1
            elif re.match(opener_re, stripped):
                depth += 1
            body.append((file, line, text))
        raise LineError("missing %s for the block that starts at line %d" % (what, start.line))

    # ---------------------------------------------------------------- statements
    def statement(self, text, queue):
        if self.cond_stack and not self.cond_stack[-1][0]:
            self.skipped_statement(text)
            return
        while True:
            m = LABEL.match(text)
            if not m:
                break
            self.define_label(m.group(1))
            text = text[m.end():]
        if not text.strip():
            return
        m = ASSIGNMENT.match(text)
        if m and m.group(1).lower() not in DIRECTIVE_NAMES:      # `sym = expr`, `. = expr`
            self.assign(m.group(1), m.group(2))
            return
        m = re.match(r"\s*(\S+)\s*(.*)$", text, re.S)
        mnemonic, rest = m.group(1), m.group(2).strip()
        if mnemonic in self.macros:
            self.expand_macro(mnemonic, rest)
            return
        lowered = mnemonic.lower()
        if lowered.startswith("."):
            handler = DIRECTIVES.get(lowered)
            if handler is None:
                raise LineError("unknown directive `%s'" % mnemonic)
            handler(self, rest, queue)
            return
        self.instruction(lowered, rest)

    def skipped_statement(self, text):
        m = re.match(r"\s*(?:[A-Za-z_.$][\w.$]*\s*:\s*)*(\.\w+)", text)
        word = m.group(1).lower() if m else ""
        if word.startswith(".if"):
            self.cond_stack.append([False, True, False])
        elif word in (".else", ".elseif"):
            DIRECTIVES[word](self, text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else "", None)
        elif word == ".endif":
            self.cond_stack.pop()

    # ---------------------------------------------------------------- sections
    def switch_section(self, name, flags=None, nobits=None):
        section = self.sections.get(name)
        if section is None:
            default_flags, default_nobits = _default_section_flags(name)
            section = InputSection(name, flags if flags is not None else default_flags,
                                   nobits if nobits is not None else default_nobits)
            if section.code:
                section.align = 2 if self.rvc else 4
            self.sections[name] = section
            self.section_order.append(section)
        if self.current is not section:
            self.previous_section = self.current
        self.current = section

    def append(self, item):
        section = self.current
        if section.nobits and not isinstance(item, Align) and not isinstance(item, Org):
            data = getattr(item, "data", None)
            if data is None or any(data):
                raise LineError("only zero-filled data can go into %s" % section.name)
        section.items.append(item)
        if isinstance(item, (Align, Org)) or (isinstance(item, Branch) and not item.explicit):
            section.frag_id += 1            # gas starts a new frag after a variable part
            section.frag_fill = 0
        else:
            section.frag_fill += item.size(0)

    # ---------------------------------------------------------------- symbols
    def symbol(self, name):
        sym = self.symbols.get(name)
        if sym is None:
            sym = self.symbols[name] = Symbol(name)
        return sym

    def define_label(self, name):
        if name.isdigit():
            count = self.local_counts.get(name, 0) + 1
            self.local_counts[name] = count
            name = self.local_name(int(name), count)
        sym = self.symbol(name)
        if sym.kind is not None:
            raise LineError("symbol `%s' is already defined" % name)
        self.place_label(sym)
        sym.where = self.where

    def place_label(self, sym):
        sym.kind = "label"
        sym.section = self.current
        sym.index = len(self.current.items)
        sym.frag = (self.current, self.current.frag_id)
        sym.frag_offset = self.current.frag_fill

    @staticmethod
    def local_name(number, count):
        return ".L%d\x02%d" % (number, count)

    def local_ref(self, number, direction):
        count = self.local_counts.get(str(number), 0)
        if direction == "b":
            if count == 0:
                raise LineError("undefined local label `%db'" % number)
            return self.local_name(number, count)
        return self.local_name(number, count + 1)

    def dot(self):
        self.internal_counter += 1
        name = "\x02dot%d" % self.internal_counter
        self.place_label(self.symbol(name))
        return name

    def internal_label(self):
        return self.dot()

    def assign(self, name, text):
        if name == ".":
            node = self.parse_expr(text)
            self.org_to(node, 0)
            return
        node = self.parse_expr(text)
        sym = self.symbol(name)
        if sym.kind == "label":
            raise LineError("symbol `%s' is already defined" % name)
        try:
            sym.value = self.const_eval(node, fold_labels=True)
            sym.kind = "const"
            sym.node = None
        except E.NotConstant:
            sym.kind = "expr"
            sym.node = node
        sym.where = self.where

    def org_to(self, node, fill):
        try:
            target = self.const_eval(node, fold_labels=True)
        except E.NotConstant:
            target = self.section_offset_now(node)
        self.append(Org(target, fill, self.where))

    def section_offset_now(self, node):
        """`label + c` in the current section, all items so far fixed-size -> offset."""
        items = self.current.items
        offsets = [0]
        for item in items:
            if isinstance(item, (Branch, Align, Org)):
                raise LineError(".org target must be a constant or a label before any "
                                "alignment or branch in this section")
            offsets.append(offsets[-1] + item.size(offsets[-1]))
        self.current.offsets = offsets
        value = self.section_offset_of(node, self.current)
        if value is None:
            raise LineError(".org target must be in the current section")
        return value

    # ---------------------------------------------------------------- expressions
    def parse_expr(self, text):
        return E.parse(text, dot=self.dot, local_ref=self.local_ref)

    def const_lookup(self, name):
        sym = self.symbols.get(name)
        if sym is not None and sym.kind == "const":
            return sym.value
        raise E.NotConstant(name)

    def const_eval(self, node, fold_labels=False):
        """Value now, or NotConstant if it needs a label or an undefined symbol.

        fold_labels: directives and assignments (gas's expression_and_evaluate)
        fold differences of labels in one frag; instruction operands do not."""
        def reloc(kind, inner):
            value = E.evaluate(inner, self.const_lookup)
            if kind == "hi":
                return hi20(value)
            if kind == "lo":
                return lo12(value)
            raise E.NotConstant("%" + kind)
        try:
            return E.evaluate(node, self.const_lookup, reloc)
        except E.NotConstant:
            if not fold_labels:
                raise
            return self.fold_label_difference(node)

    def fold_label_difference(self, node):
        """`b - a` of labels already defined in the same frag is a constant, as in gas
        (e.g. `.equ LEN, . - msg`); anything else stays NotConstant."""
        def linear(n):
            tag = n[0]
            if tag == "num":
                return E.to_signed64(n[1]), {}
            if tag == "sym":
                sym = self.symbols.get(n[1])
                if sym is not None and sym.kind == "const":
                    return sym.value, {}
                if sym is not None and sym.kind == "label":
                    return sym.frag_offset, {sym.frag: 1}
                raise E.NotConstant(n[1])
            if tag == "un" and n[1] in ("-", "+"):
                c, terms = linear(n[2])
                return (-c, {k: -v for k, v in terms.items()}) if n[1] == "-" else (c, terms)
            if tag == "bin" and n[1] in ("+", "-"):
                (ca, ta), (cb, tb) = linear(n[2]), linear(n[3])
                sign = 1 if n[1] == "+" else -1
                terms = dict(ta)
                for k, v in tb.items():
                    terms[k] = terms.get(k, 0) + sign * v
                return ca + sign * cb, {k: v for k, v in terms.items() if v}
            if tag in ("un", "bin"):
                parts = [linear(x) for x in n[2:]]
                if any(terms for _, terms in parts):
                    raise E.NotConstant("label")
                return E.evaluate((tag, n[1]) + tuple(("num", c) for c, _ in parts), self.const_lookup), {}
            raise E.NotConstant("%" + n[1])
        value, terms = linear(node)
        if terms:
            raise E.NotConstant(next(name for name in E.symbols_in(node)
                                     if self.symbols.get(name) is None or self.symbols[name].kind != "const"))
        return E.to_signed64(value)

    def absolute(self, text, what):
        node = self.parse_expr(text)
        try:
            return self.const_eval(node, fold_labels=True)
        except E.NotConstant as e:
            raise LineError("%s must be a constant known here (`%s' is not)" % (what, display_symbol(e.name)))

    # ---------------------------------------------------------------- instructions
    def instruction(self, mnemonic, rest):
        operands = split_operands(rest)
        if mnemonic.startswith("c."):
            self.compressed_instruction(mnemonic, operands, rest)
            return
        forms = FORMS.get(mnemonic)
        if forms is None:
            raise LineError("unknown instruction `%s'" % mnemonic)
        self.check_extension(mnemonic, forms[0].target)
        best = None
        for form in forms:
            if len(form.pattern) != len(operands):
                continue
            try:
                ops, deferred = self.match_form(form, operands)
            except Mismatch as e:
                if best is None or e.depth > best.depth:
                    best = e
                continue
            self.emit_form(mnemonic, form, ops, deferred)
            return
        statement = ("%s %s" % (mnemonic, rest)).strip()
        if best is None:
            counts = sorted({len(f.pattern) for f in forms})
            raise LineError("illegal operands `%s': expected %s operand%s" % (
                statement, " or ".join(str(c) for c in counts), "" if counts == [1] else "s"))
        raise LineError("illegal operands `%s': %s" % (statement, best.message))

    def accepted_extensions(self):
        """The ISA the code was assembled under: the march plus what pyvmm.asm
        accepts whatever the march says (Zicsr, Zifencei and H are not gated)."""
        return self.extensions | ALWAYS_ACCEPTED

    def check_extension(self, mnemonic, target):
        entry = isa.lookup(target) if not target.startswith("@") else None
        ext = entry.ext if entry is not None else "I"
        needed = {"M": "m", "A": "a", "F": "f", "D": "d"}.get(ext) or \
            (ext.lower() if ext.startswith("Z") else None)
        if needed in ALWAYS_ACCEPTED:
            needed = None
        if needed and needed not in self.extensions:
            raise LineError("unrecognized opcode `%s', extension `%s' required" % (mnemonic, needed))

    def match_form(self, form, operands):
        ops = dict(form.fixed)
        deferred = {}
        for depth, (kind, text) in enumerate(zip(form.pattern, operands)):
            try:
                self.parse_operand(kind, text, ops, deferred)
            except Mismatch as e:
                e.depth = depth
                raise
            except LineError as e:
                raise Mismatch(e.message, depth)
        return ops, deferred

    def parse_reg(self, text):
        number = isa.reg_number(text.strip())
        if number is None:
            raise Mismatch("`%s' is not a register" % text.strip())
        return number

    def parse_imm(self, text, relocs, lo, hi, what="immediate"):
        """(value, None) for a constant in [lo, hi], or (None, (kind, node)) for %reloc(sym)."""
        node = self.parse_expr(text)
        if node[0] == "reloc":
            # GNU keeps a relocation even for %lo(constant): never compressed, value at link
            if node[1] not in relocs:
                raise Mismatch("%%%s not allowed here" % node[1])
            return None, (node[1], node[2])
        else:
            try:
                value = self.const_eval(node)
            except E.NotConstant as e:
                raise Mismatch("%s `%s' is not a constant (use %%lo/%%hi for symbols)"
                               % (what, display_symbol(e.name)))
        if not lo <= value <= hi:
            raise Mismatch("%s %d out of range [%d, %d]" % (what, value, lo, hi))
        return value, None

    def parse_mem(self, text):
        """`off(reg)`, `(reg)` -> (offset text, register)."""
        text = text.strip()
        if not text.endswith(")"):
            raise Mismatch("expected offset(register), got `%s'" % text)
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            if text[i] == ")":
                depth += 1
            elif text[i] == "(":
                depth -= 1
                if depth == 0:
                    break
        else:
            raise Mismatch("unbalanced parentheses in `%s'" % text)
        return text[:i].strip(), self.parse_reg(text[i + 1:-1])

    def parse_freg(self, text):
        number = isa.freg_number(text.strip())
        if number is None:
            raise Mismatch("expected a floating-point register, got `%s'" % text.strip())
        return number

    def parse_operand(self, kind, text, ops, deferred):
        if kind in ("d", "s", "t"):
            ops[{"d": "rd", "s": "rs1", "t": "rs2"}[kind]] = self.parse_reg(text)
        elif kind in ("D", "S", "T", "R"):
            ops[{"D": "rd", "S": "rs1", "T": "rs2", "R": "rs3"}[kind]] = self.parse_freg(text)
        elif kind == "U":
            ops["rs1"] = ops["rs2"] = self.parse_freg(text)
        elif kind == "m":
            name = text.strip()
            if name not in RM_NUMBERS:
                raise Mismatch("unknown rounding mode `%s'" % name)
            ops["rm"] = RM_NUMBERS[name]
        elif kind == "j":
            value, d = self.parse_imm(text, ("lo", "pcrel_lo"), -2048, 2047)
            self.put_imm(ops, deferred, "imm", value, d)
        elif kind == "o(s)":
            offset, ops["rs1"] = self.parse_mem(text)
            if offset:
                value, d = self.parse_imm(offset, ("lo", "pcrel_lo"), -2048, 2047, "offset")
            else:
                value, d = 0, None
            self.put_imm(ops, deferred, "imm", value, d)
        elif kind == "f(s)":
            # prefetch.*: a constant offset whose low five bits are zero
            offset, ops["rs1"] = self.parse_mem(text)
            value = self.absolute(offset, "offset") if offset else 0
            if not -2048 <= value <= 2047 or value % 32:
                raise Mismatch("improper prefetch offset (%d): a multiple of 32 in [-2048, 2016]" % value)
            ops["imm"] = value
        elif kind == "0(s)":
            offset, ops["rs1"] = self.parse_mem(text)
            if offset and self.absolute(offset, "offset") != 0:
                raise Mismatch("offset must be 0 in `%s'" % text.strip())
        elif kind == "u":
            value, d = self.parse_imm(text, ("hi", "pcrel_hi"), 0, 0xFFFFF, "upper immediate")
            self.put_imm(ops, deferred, "imm", value, d)
        elif kind in (">", "<"):
            top = 63 if kind == ">" else 31
            ops["shamt"], _ = self.parse_imm(text, (), 0, top, "shift amount")
        elif kind in ("p", "a", "B", "c", "A"):
            if isa.reg_number(text.strip()) is not None:
                raise Mismatch("expected a symbol or address, got register `%s'" % text.strip())
            node = self.parse_expr(text)
            if node[0] == "reloc":
                raise Mismatch("%%%s not allowed here" % node[1])
            if kind == "A":
                try:
                    self.const_eval(node)
                    raise Mismatch("expected a symbol, not a constant address")
                except E.NotConstant:
                    pass
            ops["target"] = node
        elif kind == "I":
            node = self.parse_expr(text)
            if node[0] == "reloc":
                value, d = self.parse_imm(text, ("lo",), -2048, 2047)
                self.put_imm(ops, deferred, "imm", value, d)
            else:
                try:
                    ops["imm"] = self.const_eval(node)
                except E.NotConstant as e:
                    raise Mismatch("li needs a constant; `%s' is not known here (use la for addresses)"
                                   % display_symbol(e.name))
        elif kind == "E":
            name = text.strip()
            number = isa.csr_number(name)
            if number is None:
                if isa.reg_number(name) is not None:
                    raise Mismatch("expected a CSR, got register `%s'" % name)
                known = self.symbols.get(name)
                if SYMBOL_NAME.match(name) and not (known is not None and known.kind == "const"):
                    raise Mismatch("unknown CSR `%s'" % name)
                number, _ = self.parse_imm(text, (), 0, 4095, "CSR number")
            ops["csr"] = number
        elif kind == "Z":
            ops["zimm"], _ = self.parse_imm(text, (), 0, 31, "CSR immediate")
        elif kind in ("P", "Q"):
            ops["pred" if kind == "P" else "succ"] = parse_fence_set(text)
        else:
            raise AssertionError(kind)

    @staticmethod
    def put_imm(ops, deferred, name, value, d):
        if d is None:
            ops[name] = value
        else:
            ops[name] = 0
            deferred[name] = d

    # ---------------------------------------------------------------- emission
    def emit_form(self, mnemonic, form, ops, deferred):
        target = form.target
        if target.startswith("@"):
            MACROS[target](self, mnemonic, ops, deferred)
            return
        if target in BRANCHES or (target == "jal" and "target" in ops):
            self.emit_branch(mnemonic, target, ops)
            return
        self.emit(form.ckey, target, ops, deferred)

    def emit(self, ckey, name, ops, deferred=None):
        """Append one instruction, compressed when GNU would."""
        self.instructions_emitted = True
        if deferred:
            self.append(Insn(name, ops, deferred, self.where))
            return
        if self.rvc and ckey is not None:
            chosen = compress(ckey, ops)
            if chosen is not None:
                self.append_compressed(chosen)
                return
        try:
            word = isa.encode(name, **ops)
        except isa.EncodingError as e:
            raise LineError(str(e))
        self.append(Data(word.to_bytes(4, "little")))

    def append_compressed(self, chosen):
        self.instructions_emitted = True
        name, ops = chosen
        self.append(Data(isa.encode(name, **ops).to_bytes(2, "little")))

    def append_bytes(self, data):
        self.instructions_emitted = True
        self.append(Data(data))

    def emit_branch(self, mnemonic, target, ops):
        self.instructions_emitted = True
        node = ops["target"]
        if target == "jal":
            rvc = self.rvc and jump_can_compress(mnemonic, ops["rd"])
            item = Branch(None, 0, 0, ops["rd"], node, rvc, self.where)
        else:
            rvc = self.rvc and branch_can_compress(mnemonic, ops["rs1"], ops["rs2"])
            item = Branch(target, ops["rs1"], ops["rs2"], 0, node, rvc, self.where)
        self.append(item)

    def compressed_instruction(self, mnemonic, operands, rest):
        self.instructions_emitted = True
        if not self.rvc:
            raise LineError("unrecognized opcode `%s', extension `c' required" % mnemonic)
        if mnemonic == "c.unimp" and not operands:
            self.append(Data(b"\0\0"))
            return
        entry = isa.C_BY_NAME.get(mnemonic)
        if entry is not None and entry.ext == "C+D" and "d" not in self.extensions:
            raise LineError("unrecognized opcode `%s', extension `d' required" % mnemonic)
        syntax, encoded_as, ops = (entry.syntax if entry else None), mnemonic, {}
        hint = C_HINT_SPELLINGS.get(mnemonic)
        if hint and (entry is None or len(operands) == len(hint[0])):
            # `c.nop` alone is the table's c.nop; `c.nop IMM` is the HINT spelling
            syntax, encoded_as, pinned = hint
            ops = dict(pinned)
        if syntax is None:
            raise LineError("unknown instruction `%s'" % mnemonic)
        if len(operands) != len(syntax):
            raise LineError("illegal operands `%s %s': expected %d operands" % (mnemonic, rest, len(syntax)))
        try:
            for spec, text in zip(syntax, operands):
                if spec == "sp":
                    if self.parse_reg(text) != 2:
                        raise Mismatch("expected sp, got `%s'" % text)
                elif spec in ("imm(rs1)", "imm(sp)"):
                    offset, base = self.parse_mem(text)
                    if spec == "imm(sp)" and base != 2:
                        raise Mismatch("base register must be sp")
                    if spec == "imm(rs1)":
                        ops["rs1"] = base
                    ops["imm"] = self.absolute(offset, "offset") if offset else 0
                elif spec in ("rd", "rs1", "rs2"):
                    if entry is not None and entry.field(spec).kind in ("freg", "fcreg"):
                        ops[spec] = self.parse_freg(text)
                    else:
                        ops[spec] = self.parse_reg(text)
                elif mnemonic in ("c.j", "c.beqz", "c.bnez"):
                    ops["target"] = self.parse_expr(text)
                else:
                    ops[spec] = self.absolute(text, "immediate")
        except Mismatch as e:
            raise LineError("illegal operands `%s %s': %s" % (mnemonic, rest, e.message))
        if "target" in ops:
            cond = {"c.j": None, "c.beqz": "beq", "c.bnez": "bne"}[mnemonic]
            rs1 = ops.get("rs1", 0)
            if cond and not 8 <= rs1 <= 15:
                raise LineError("illegal operands `%s %s': register must be x8..x15" % (mnemonic, rest))
            self.append(Branch(cond, rs1, 0, 0, ops["target"], True, self.where, explicit=mnemonic))
            return
        if mnemonic == "c.nop" and ops.get("imm", 1) == 0:
            # c.addi x0,0 is plain c.nop; GNU takes `c.nop IMM` only for a nonzero IMM
            raise LineError("illegal operands `%s %s': immediate must be nonzero" % (mnemonic, rest))
        try:
            word = isa.encode(encoded_as, **ops)
        except isa.EncodingError as e:
            raise LineError("illegal operands `%s %s': %s" % (mnemonic, rest, str(e).split(": ", 1)[-1]))
        self.append(Data(word.to_bytes(2, "little")))

    # ---------------------------------------------------------------- macros (.macro)
    def expand_macro(self, name, rest):
        params, body, where = self.macros[name]
        args = split_macro_args(rest, len(params))
        values = {}
        positional = []
        for arg in args:
            m = re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*=(?!=)(.*)$", arg, re.S)
            if m and any(p[0] == m.group(1) for p in params):
                values[m.group(1)] = _unquote_macro_arg(m.group(2).strip())
            else:
                positional.append(_unquote_macro_arg(arg))
        for i, (pname, default, required, vararg) in enumerate(params):
            if pname in values:
                continue
            if vararg:
                values[pname] = ", ".join(positional[i:]) if i < len(positional) else default
                continue
            if i < len(positional) and positional[i] != "":
                values[pname] = positional[i]
            elif required:
                raise LineError("missing value for required parameter `%s' of macro `%s'" % (pname, name))
            else:
                values[pname] = default
        if len(positional) > len(params) and not (params and params[-1][3]):
            raise LineError("too many arguments for macro `%s' (takes %d)" % (name, len(params)))
        self.macro_counter += 1
        counter = str(self.macro_counter - 1)
        names = sorted(values, key=len, reverse=True)
        expanded = []
        for file, line, text in body:
            out = text
            if names:
                out = re.sub(r"\\(%s)(\(\))?" % "|".join(re.escape(n) for n in names),
                             lambda m: values[m.group(1)], out)
            out = out.replace("\\@", counter).replace("\\()", "")
            expanded.append((self.where.file, self.where.line, out))
        if self.macro_depth >= 100:
            raise LineError("macros nested too deeply (recursive macro `%s'?)" % name)
        self.macro_depth += 1
        try:
            self.run_macro_body(expanded)
        finally:
            self.macro_depth -= 1

    def run_macro_body(self, lines):
        try:
            self.run_lines(lines)
        except _ExitMacro:
            pass

    # ---------------------------------------------------------------- layout
    def finish_sections(self):
        for section in self.section_order:
            if section.code and section.align > 1:
                section.items.append(Align(section.align, None, None, True))
            self.relax(section)

    def relax(self, section):
        relax_section(section, lambda node, label_offset: self.section_offset_of(node, section, label_offset))

    def section_offset_of(self, node, section, label_offset=None):
        """Section-relative value of `node` if it is one label (+/- constants) in `section`."""
        found = []

        def lookup(name):
            sym = self.symbols.get(name)
            if sym is None or sym.kind is None:
                raise E.NotConstant(name)
            if sym.kind == "const":
                return sym.value
            if sym.kind == "label":
                if sym.section is not section:
                    raise E.NotConstant(name)
                found.append(name)
                if label_offset is not None:
                    return label_offset(sym.index)
                return sym.section.offsets[sym.index]
            return E.evaluate(sym.node, lookup)
        try:
            value = E.evaluate(node, lookup)
        except (E.NotConstant, LineError):
            return None
        return value if len(found) == 1 else None


class _ExitMacro(Exception):
    pass


# extensions whose instructions check_extension never refuses
ALWAYS_ACCEPTED = frozenset({"zicsr", "zifencei", "h"})


def parse_march(march):
    m = re.match(r"rv64([a-z]*)((?:_[a-z0-9]+)*)$", march.lower())
    if not m or (m.group(1) and m.group(1)[0] not in "ieg"):
        raise ValueError("unsupported -march `%s' (expected rv64 followed by extension letters, "
                         "e.g. rv64imac)" % march)
    letters = m.group(1)
    multi = {x for x in m.group(2).split("_") if x}
    if "g" in letters:
        letters = letters.replace("g", "imafd")
        multi |= {"zicsr", "zifencei"}
    return set(letters) | multi


def parse_fence_set(text):
    text = text.strip()
    if not text or any(c not in "iorw" for c in text):
        raise Mismatch("bad fence set `%s' (use letters from iorw)" % text)
    return sum({"i": 8, "o": 4, "r": 2, "w": 1}[c] for c in set(text))


def split_macro_args(text, nparams):
    args = split_operands(text)
    if len(args) == 1 and args[0] and nparams > 1:
        words = args[0].split()
        if len(words) > 1:
            return words
    if len(args) < nparams and any(" " in a.strip() for a in args):
        expanded = []
        for a in args:
            expanded.extend(a.split() if " " in a.strip() and not a.strip().startswith('"') else [a])
        if len(expanded) <= nparams:
            return expanded
    return args


def display_symbol(name):
    """How an error names a symbol: internal names of `.` and 1f/1b made readable."""
    if name.startswith("\x02dot"):
        return "."
    if "\x02" in name:
        return "local label " + name[2:].split("\x02")[0]
    return name


def hi20(value):
    return ((value + 0x800) >> 12) & 0xFFFFF


def lo12(value):
    return ((value & 0xFFF) ^ 0x800) - 0x800


# imported late: they need Assembler defined above
from pyvmm.asm.directives import DIRECTIVES, DIRECTIVE_NAMES  # noqa: E402
from pyvmm.asm.pseudo import MACROS  # noqa: E402


def _unquote_macro_arg(arg):
    """GNU as passes a macro argument written as one quoted string without
    its quotes ("hello world" becomes hello world), so `.asciz "\\t"` in the
    body sees the text once quoted."""
    text = arg.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and '"' not in text[1:-1].replace('\\"', ""):
        return text[1:-1]
    return arg

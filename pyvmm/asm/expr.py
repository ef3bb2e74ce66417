"""Expressions, with GNU as's operator precedence and 64-bit arithmetic.

Precedence, highest first (gas manual, "Infix Operators"), which differs from C:
  unary  - ~ ! +
  * / % << >>           (>> is a logical shift, as in gas)
  | & ^ !                (bitwise; `!` infix is "or not")
  + - == != <> < > <= >=  (comparisons yield -1 for true, 0 for false)
  && ||
A parsed expression is a tuple tree: ('num', v) ('sym', name) ('un', op, x)
('bin', op, a, b) ('reloc', kind, x) for %hi/%lo/%pcrel_hi/%pcrel_lo.
"""

import re

from pyvmm.asm.errors import LineError

MASK64 = (1 << 64) - 1
RELOC_FUNCTIONS = ("hi", "lo", "pcrel_hi", "pcrel_lo")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<reloc>%[A-Za-z_]+\s*\()
  | (?P<hex>0[xX][0-9A-Fa-f]+)
  | (?P<bin>0[bB][01]+(?![0-9A-Za-z_.$]))
  | (?P<local>[0-9]+[bfBF](?![0-9A-Za-z_.$]))
  | (?P<dec>[0-9]+)
  | (?P<char>'(?P<cbody>\\(?:x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)|[^\\])'?)
  | (?P<ident>[A-Za-z_.$][A-Za-z0-9_.$]*)
  | (?P<op><<|>>|==|!=|<>|<=|>=|&&|\|\||[-+*/%&|^~!()<>])
""", re.VERBOSE)

_ESCAPES = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11, "0": 0,
            "\\": 92, "'": 39, '"': 34}

_BINARY_LEVELS = (
    ("||", "&&"),
    ("+", "-", "==", "!=", "<>", "<", ">", "<=", ">="),
    ("|", "&", "^", "!"),
    ("*", "/", "%", "<<", ">>"),
)


class NotConstant(Exception):
    """The expression refers to something without a value yet (a label, a forward symbol)."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


def to_signed64(value):
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


def char_value(text):
    """Value of a character constant body like `a`, `\\n`, `\\x41`, `\\101`."""
    if text.startswith("\\"):
        rest = text[1:]
        if rest[0] == "x":
            return int(rest[1:], 16)
        if rest[0] in "01234567":
            return int(rest, 8)
        return _ESCAPES.get(rest, ord(rest))
    return ord(text)


def tokenize(text):
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise LineError("junk in expression: `%s'" % text[pos:])
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        value = m.group(kind)
        if kind == "reloc":
            value = value[1:].rstrip("(").strip()
        elif kind == "char":
            value = char_value(m.group("cbody"))
            kind = "num"
        elif kind in ("hex", "bin", "dec"):
            value = int(value, 0) if kind != "dec" else int(value, 10)
            if kind == "dec" and len(m.group(kind)) > 1 and m.group(kind).startswith("0"):
                if not re.match(r"[0-7]+$", m.group(kind)):
                    raise LineError("bad octal number `%s'" % m.group(kind))
                value = int(m.group(kind), 8)
            kind = "num"
        tokens.append((kind, value))
    return tokens


class Parser:
    """Parses one expression; `dot()` and `local_ref(n, dir)` name `.` and 1f/1b."""

    def __init__(self, text, dot=None, local_ref=None):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.dot = dot
        self.local_ref = local_ref

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def parse(self):
        if not self.tokens:
            raise LineError("missing expression")
        node = self.binary(0)
        if self.pos != len(self.tokens):
            raise LineError("junk at end of expression `%s'" % self.text.strip())
        return node

    def binary(self, level):
        if level == len(_BINARY_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while True:
            kind, value = self.peek()
            if kind == "op" and value in _BINARY_LEVELS[level]:
                self.take()
                node = ("bin", value, node, self.binary(level + 1))
            else:
                return node

    def unary(self):
        kind, value = self.peek()
        if kind == "op" and value in ("-", "~", "!", "+"):
            self.take()
            return ("un", value, self.unary())
        return self.primary()

    def primary(self):
        kind, value = self.take()
        if kind == "num":
            return ("num", value)
        if kind == "ident":
            if value == ".":
                if self.dot is None:
                    raise LineError("`.' not allowed here")
                return ("sym", self.dot())
            return ("sym", value)
        if kind == "local":
            if self.local_ref is None:
                raise LineError("local label reference not allowed here")
            return ("sym", self.local_ref(int(value[:-1]), value[-1].lower()))
        if kind == "reloc":
            if value not in RELOC_FUNCTIONS:
                raise LineError("unknown relocation function %%%s" % value)
            inner = self.binary(0)
            if self.take() != ("op", ")"):
                raise LineError("missing `)' after %%%s(" % value)
            return ("reloc", value, inner)
        if kind == "op" and value == "(":
            node = self.binary(0)
            if self.take() != ("op", ")"):
                raise LineError("missing `)' in expression `%s'" % self.text.strip())
            return node
        if kind is None:
            raise LineError("missing operand in expression `%s'" % self.text.strip())
        raise LineError("unexpected `%s' in expression `%s'" % (value, self.text.strip()))


def parse(text, dot=None, local_ref=None):
    return Parser(text, dot, local_ref).parse()


def evaluate(node, lookup, reloc=None):
    """Integer value of `node`; lookup(name) gives a symbol's value (or raises).

    reloc(kind, node) evaluates %hi/%lo/%pcrel_* (the caller knows the pc).
    """
    tag = node[0]
    if tag == "num":
        return to_signed64(node[1])
    if tag == "sym":
        return to_signed64(lookup(node[1]))
    if tag == "reloc":
        if reloc is None:
            raise LineError("%%%s not allowed here" % node[1])
        return reloc(node[1], node[2])
    if tag == "un":
        x = evaluate(node[2], lookup, reloc)
        op = node[1]
        if op == "-":
            return to_signed64(-x)
        if op == "~":
            return to_signed64(~x)
        if op == "!":
            return 0 if x else 1
        return x
    op, a, b = node[1], evaluate(node[2], lookup, reloc), evaluate(node[3], lookup, reloc)
    if op == "+":
        return to_signed64(a + b)
    if op == "-":
        return to_signed64(a - b)
    if op == "*":
        return to_signed64(a * b)
    if op in ("/", "%"):
        if b == 0:
            raise LineError("division by zero")
        quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)   # C truncation
        return to_signed64(quotient if op == "/" else a - quotient * b)
    if op == "<<":
        return to_signed64(a << b) if 0 <= b < 64 else 0
    if op == ">>":
        # gas shifts right as unsigned (valueT)
        return to_signed64((a & MASK64) >> b) if 0 <= b < 64 else 0
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "!":
        return to_signed64(a | ~b)
    if op in ("==", "!=", "<>", "<", ">", "<=", ">="):
        truth = {"==": a == b, "!=": a != b, "<>": a != b, "<": a < b, ">": a > b,
                 "<=": a <= b, ">=": a >= b}[op]
        return -1 if truth else 0
    if op == "&&":
        return 1 if a and b else 0
    if op == "||":
        return 1 if a or b else 0
    raise LineError("bad operator %s" % op)


def symbols_in(node):
    """Names of all symbols the expression refers to."""
    tag = node[0]
    if tag == "sym":
        return [node[1]]
    if tag == "num":
        return []
    if tag in ("un", "reloc"):
        return symbols_in(node[2])
    return symbols_in(node[2]) + symbols_in(node[3])

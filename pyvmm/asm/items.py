"""What a section is made of before addresses are known.

A section is a list of items. Most have a fixed size; `Branch`, `Align` and
`Org` get their size during layout (branch relaxation, as GNU as does for
-mno-relax: c.beqz -> beq -> inverted branch over a jal). Values that need
addresses (`DataExpr`, `Insn` with deferred operands) are computed at the end.
"""


class Where:
    __slots__ = ("file", "line")

    def __init__(self, file, line):
        self.file = file
        self.line = line


class Data:
    """Fixed bytes."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = bytes(data)

    def size(self, offset):
        return len(self.data)


class DataExpr:
    """A value of `nbytes` computed from an expression after layout (.word sym)."""
    __slots__ = ("nbytes", "node", "where")

    def __init__(self, nbytes, node, where):
        self.nbytes = nbytes
        self.node = node
        self.where = where

    def size(self, offset):
        return self.nbytes


class Insn:
    """A 32-bit instruction whose `deferred` operands need addresses.

    deferred: {operand: (kind, node)} with kind one of hi, lo, pcrel_hi,
    pcrel_lo (the %-functions) or call_hi/call_lo (auipc+jalr of call/tail).
    """
    __slots__ = ("name", "operands", "deferred", "where")

    def __init__(self, name, operands, deferred, where):
        self.name = name
        self.operands = operands
        self.deferred = deferred
        self.where = where

    def size(self, offset):
        return 4


class RawBranch:
    """A fixed 4-byte `.insn b/j` word whose pc-relative `field` is filled after layout."""
    __slots__ = ("word", "field", "node", "where")

    def __init__(self, word, field, node, where):
        self.word = word
        self.field = field
        self.node = node
        self.where = where

    def size(self, offset):
        return 4


class Branch:
    """A conditional branch or jal to an expression; its length is relaxed.

    cond: "beq".."bgeu", or None for jal. rvc: GNU would start it compressed.
    length: 2 (c.beqz/c.bnez/c.j), 4, 6 (inverted c.b* over jal), 8 (inverted b* over jal).
    """
    __slots__ = ("cond", "rs1", "rs2", "rd", "node", "rvc", "length", "where", "explicit")

    def __init__(self, cond, rs1, rs2, rd, node, rvc, where, explicit=None):
        self.cond = cond
        self.rs1 = rs1
        self.rs2 = rs2
        self.rd = rd
        self.node = node
        self.rvc = rvc
        self.length = 2 if rvc else 4
        self.where = where
        self.explicit = explicit    # an explicit c.beqz/c.bnez/c.j: never relaxed

    def size(self, offset):
        return self.length


class Align:
    """Padding to a power-of-two boundary; code sections fill with nops."""
    __slots__ = ("boundary", "fill", "max_skip", "code")

    def __init__(self, boundary, fill, max_skip, code):
        self.boundary = boundary
        self.fill = fill
        self.max_skip = max_skip
        self.code = code

    def size(self, offset):
        pad = -offset % self.boundary
        if self.max_skip is not None and pad > self.max_skip:
            return 0
        return pad

    def bytes_at(self, offset):
        n = self.size(offset)
        if not self.code or self.fill is not None:
            return bytes([self.fill or 0]) * n
        return code_padding(n)


def code_padding(n):
    """GNU's nop fill (riscv_make_nops): a zero byte if odd, one c.nop if needed, then nops."""
    out = bytearray()
    if n % 2:
        out.append(0)
    if (n - len(out)) % 4 == 2:
        out += (0x0001).to_bytes(2, "little")
    while len(out) < n:
        out += (0x00000013).to_bytes(4, "little")
    return bytes(out)


class Org:
    """Advance to a section offset (.org); `target` is fixed at parse time."""
    __slots__ = ("target", "fill", "where")

    def __init__(self, target, fill, where):
        self.target = target
        self.fill = fill
        self.where = where

    def size(self, offset):
        return max(0, self.target - offset)

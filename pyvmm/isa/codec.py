"""Encode and decode instruction words with the tables."""

from pyvmm.isa.compressed import COMPRESSED, C_BY_NAME
from pyvmm.isa.instructions import INSTRUCTIONS, BY_NAME


class EncodingError(ValueError):
    """An operand does not fit its field; the message names operand and range."""


# Most specific mask first, so e.g. fence.tso wins over fence.
_DECODE_ORDER = tuple(sorted(INSTRUCTIONS, key=lambda ins: -bin(ins.mask).count("1")))


def _buckets(entries, key_mask, keys):
    """For each key (a value of the bits in key_mask), the entries, in order,
    whose match does not rule that key out: decoding scans one bucket."""
    return {key: tuple(e for e in entries if not (key ^ e.match) & e.mask & key_mask) for key in keys}


_OPCODE_MASK = 0x7F
_BY_OPCODE = _buckets(_DECODE_ORDER, _OPCODE_MASK, range(128))
_C_KEY_MASK = 0xE003                  # funct3 and the quadrant
_C_BY_KEY = _buckets(COMPRESSED, _C_KEY_MASK, [(f3 << 13) | q for f3 in range(8) for q in range(3)])


def instr_length(parcel):
    """Length in bytes of the instruction whose first 16-bit parcel is `parcel`."""
    return 4 if parcel & 3 == 3 else 2


def lookup(name):
    """The table entry (Instr or CInstr) for a mnemonic, or None."""
    return BY_NAME.get(name) or C_BY_NAME.get(name)


def decode(word, extensions=None):
    """(entry, {operand: value}) for an instruction word, or None if it is illegal.

    A word whose low two bits are not 0b11 is a compressed parcel: only its low
    16 bits are read and a CInstr entry is returned. `extensions` (a set of
    `Instr.ext` names) limits the 32-bit entries considered, so a hint such as
    prefetch.i decodes as the ori it is when Zicbop is not among them.
    """
    if word & 3 != 3:
        return decode_compressed(word & 0xFFFF)
    word &= 0xFFFFFFFF
    for ins in _BY_OPCODE[word & _OPCODE_MASK]:
        if word & ins.mask == ins.match and (extensions is None or ins.ext in extensions):
            return ins, {f.name: f.extract(word) for f in ins.fields}
    return None


def decode_entry(word):
    """The table entry of a 32-bit instruction word, or None if it is
    illegal: decode() without extracting its operands."""
    word &= 0xFFFFFFFF
    for ins in _BY_OPCODE[word & _OPCODE_MASK]:
        if word & ins.mask == ins.match:
            return ins
    return None


def decode_compressed(half):
    for cins in _C_BY_KEY.get(half & _C_KEY_MASK, ()):
        if half & cins.mask == cins.match:
            operands = {f.name: f.extract(half) for f in cins.fields}
            if cins.accepts(operands):
                return cins, operands
    return None


def encode(name, **operands):
    """The instruction word for mnemonic `name` (32-bit or c.*) with these operands.

    Raises EncodingError when an operand is missing, out of range, misaligned,
    or violates a compressed-encoding constraint.
    """
    entry = lookup(name)
    if entry is None:
        raise EncodingError("unknown instruction %r" % name)
    return encode_entry(entry, operands)


def encode_entry(entry, operands):
    word = entry.match
    for f in entry.fields:
        if f.name not in operands:
            raise EncodingError("%s: missing operand %s" % (entry.name, f.name))
        value = operands[f.name]
        if not f.fits(value):
            raise EncodingError("%s: %s" % (entry.name, describe_range(f, value)))
        word |= f.insert(value)
    extra = set(operands) - {f.name for f in entry.fields}
    if extra:
        raise EncodingError("%s: unexpected operand %s" % (entry.name, ", ".join(sorted(extra))))
    if entry.length == 2 and not entry.accepts(operands):
        raise EncodingError("%s: operands %s violate %s" % (entry.name, operands, entry.constraints))
    return word


def describe_range(field, value):
    """A message saying why `value` does not fit `field`."""
    lo, hi = field.range()
    if field.kind in ("reg", "creg"):
        return "register x%d not allowed here (x%d..x%d)" % (value, lo, hi)
    if field.kind in ("freg", "fcreg"):
        return "register f%d not allowed here (f%d..f%d)" % (value, lo, hi)
    if lo <= value <= hi and field.align > 1:
        return "%s %d is not a multiple of %d" % (field.name, value, field.align)
    return "%s %d out of range [%d, %d]" % (field.name, value, lo, hi)


def expand_compressed(half):
    """The 32-bit instruction word a compressed parcel stands for, or None if reserved."""
    decoded = decode_compressed(half & 0xFFFF)
    if decoded is None:
        return None
    cins, operands = decoded
    name32, mapping = cins.expands_to
    operands32 = {op: (src if isinstance(src, int) else operands[src]) for op, src in mapping.items()}
    return encode(name32, **operands32)


def compress_candidates(name, operands):
    """Compressed entries that encode 32-bit `name` with exactly these operands.

    Yields (CInstr, c_operands) in table order. Every returned pair expands back
    to the same 32-bit word; the assembler applies GNU's policy on top (which
    forms it emits, e.g. never HINTs).
    """
    for cins in COMPRESSED:
        name32, mapping = cins.expands_to
        if name32 != name:
            continue
        c_operands = {}
        ok = True
        for op32, src in mapping.items():
            value = operands.get(op32)
            if isinstance(src, int):
                ok = value == src
            elif src in c_operands:
                ok = c_operands[src] == value
            else:
                c_operands[src] = value
            if not ok:
                break
        if not ok:
            continue
        if all(f.fits(c_operands[f.name]) for f in cins.fields) and cins.accepts(c_operands):
            yield cins, c_operands

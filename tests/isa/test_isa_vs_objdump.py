"""The isa tables against GNU objdump: every compressed parcel, and random
operands for every 32-bit instruction, must decode to objdump's mnemonic and
operands (printed with -M no-aliases)."""

import random

from pyvmm import isa
from pyvmm.isa.fields import RM_NAMES

PC_TARGET_FIELDS = {"B", "J", "CJ"}


def _operand_text(entry, spec, operands, pc):
    if spec == "imm(rs1)":
        return "%d(%s)" % (operands["imm"], isa.reg_name(operands["rs1"]))
    if spec == "imm(sp)":
        return "%d(sp)" % operands["imm"]
    if spec == "(rs1)":
        return "(%s)" % isa.reg_name(operands["rs1"])
    if spec == "sp":
        return "sp"
    field = entry.field(spec)
    value = operands[spec]
    if field.kind in ("reg", "creg"):
        return isa.reg_name(value)
    if field.kind in ("freg", "fcreg"):
        return isa.freg_name(value)
    if field.kind == "rm":
        return RM_NAMES.get(value, "unknown")
    if field.kind == "csr":
        name = isa.csr_name(value)
        return name if name else "0x%x" % value
    if field.kind == "fence":
        return "".join(c for c, bit in zip("iorw", (8, 4, 2, 1)) if value & bit) or "0"
    if spec == "shamt" or (spec == "imm" and (entry.fmt == "U" or entry.name == "c.lui")):
        return "0x%x" % value
    if spec == "imm" and (entry.fmt in PC_TARGET_FIELDS or entry.name in ("c.beqz", "c.bnez")):
        return "%x" % ((pc + value) & 0xFFFFFFFFFFFFFFFF)
    return "%d" % value


def reference_text(entry, operands, pc):
    """objdump -M no-aliases spelling of a decoded instruction."""
    name = entry.name
    if name in ("c.slli", "c.srli", "c.srai") and operands["shamt"] == 0:
        return name + "64", isa.reg_name(operands["rd"])
    if name == "c.nop":
        return "c.nop", ""
    text = ",".join(_operand_text(entry, spec, operands, pc) for spec in entry.syntax
                    if not (spec == "rm" and operands["rm"] == 7))     # dyn is not printed
    return name, text


def test_every_compressed_parcel_matches_objdump(objdump_words):
    parcels = [h for h in range(65536) if h & 3 != 3]
    dump = objdump_words([(2, h) for h in parcels])
    mismatches = []
    checked = 0
    for index, half in enumerate(parcels):
        pc = index * 2
        theirs = dump[pc]
        decoded = isa.decode(half)
        if decoded is None:
            # objdump also prints the reserved c.addi16sp sp,0; the spec reserves it
            if theirs[0] not in (".2byte", "c.unimp") and theirs != ("c.addi16sp", "sp,0"):
                mismatches.append((hex(half), None, theirs))
            continue
        ours = reference_text(*decoded, pc)
        if ours[0] == "c.nop" and theirs == ("c.addi", "zero,0"):
            ours = theirs
        if ours != theirs:
            mismatches.append((hex(half), ours, theirs))
        checked += 1
    assert not mismatches[:20], mismatches[:20]
    assert checked == 38551 + 4 * 2 ** 11   # 49152 parcels less reserved ones


def _random_operands(entry, rng):
    operands = {}
    for f in entry.fields:
        lo, hi = f.range()
        while True:
            value = rng.randint(lo, hi)
            value -= value % f.align if f.align > 1 else 0
            if f.fits(value) and not (f.kind == "fence" and value == 0):  # objdump: "unknown"
                break
        operands[f.name] = value
    return operands


def test_random_operands_for_every_instruction_match_objdump(objdump_words):
    rng = random.Random(1234)
    words, expected = [], []
    for entry in isa.INSTRUCTIONS:
        for _ in range(12):
            operands = _random_operands(entry, rng)
            words.append(isa.encode(entry.name, **operands))
            expected.append((entry, operands))
    dump = objdump_words([(4, w) for w in words])
    mismatches = []
    for index, (word, (entry, operands)) in enumerate(zip(words, expected)):
        pc = index * 4
        decoded = isa.decode(word)
        assert decoded == (entry, operands), (hex(word), entry.name)
        ours = reference_text(entry, operands, pc)
        if ours != dump[pc]:
            mismatches.append((hex(word), ours, dump[pc]))
    assert not mismatches[:20], mismatches[:20]


def test_every_named_csr_matches_objdump(objdump_words):
    numbers = sorted(isa.CSR_NAMES)
    words = [isa.encode("csrrs", rd=10, csr=n, rs1=0) for n in numbers]
    dump = objdump_words([(4, w) for w in words])
    wrong = [(hex(n), isa.CSR_NAMES[n], dump[i * 4][1]) for i, n in enumerate(numbers)
             if dump[i * 4][1] != "a0,%s,zero" % isa.CSR_NAMES[n]]
    assert not wrong, wrong

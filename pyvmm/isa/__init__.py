"""pyvmm.isa: the one source of truth for RV64IMAFDC + Zicsr + Zifencei + priv + H.

Tables
------
``INSTRUCTIONS`` (tuple of `Instr`, also ``BY_NAME``): every 32-bit
instruction. ``Instr(name, fmt, match, mask, fields, syntax, ext)``:
a word ``w`` is this instruction when ``w & mask == match``. ``fields`` are
`Field` objects (pyvmm/isa/fields.py); ``syntax`` is the GNU operand order,
e.g. ``("rd", "imm(rs1)")`` for loads, ``("rd", "rs2", "(rs1)")`` for AMOs,
``("rd", "csr", "rs1")`` for csrrw. Operand values: registers as numbers
0..31; ``imm`` as the signed byte offset/value (B/J offsets relative to the
instruction, already multiplied out); U-type ``imm`` as the 20-bit field
0..0xfffff (what ``lui a0, 0x12345`` writes); ``shamt``; ``csr`` 0..4095;
``zimm`` 0..31; fence ``pred``/``succ`` as 4-bit iorw masks (i=8 o=4 r=2 w=1).
F and D: register fields of kind ``"freg"`` (``"fcreg"`` for f8..f15 in 3
bits) hold f-register numbers; ``rm`` is the rounding mode 0..4 or 7 (dyn,
see ``fields.RM_NAMES``; 5 and 6 are reserved: they decode, and execute as
an illegal instruction); fused
multiply-adds have a fourth register ``rs3``.
AMO ordering suffixes are separate entries (``amoadd.w.aqrl``), as in objdump.

``COMPRESSED`` (tuple of `CInstr`, also ``C_BY_NAME``): RV64C parcels with
``match``/``mask`` on 16 bits, ``fields``, ``constraints`` (e.g.
``("rd", "!=", 0)``) and ``expands_to = (name32, {operand32: c_operand | const})``.
Register operands of rd'/rs1'/rs2' fields decode to x8..x15 directly.

`Field(name, segments, signed, kind, reg_offset, wrap_bits)`: ``segments`` are
``(instr_hi, instr_lo, value_lo)``; ``extract(word)``, ``insert(value)``,
``fits(value)``, ``range()``, ``align``.

Helpers
-------
``decode(word) -> (entry, operands) | None`` (16-bit parcel when word & 3 != 3),
``encode(name, **operands) -> int`` (raises `EncodingError`),
``expand_compressed(half) -> word32 | None`` (None for reserved parcels),
``compress_candidates(name32, operands)``, ``instr_length(parcel)``,
``lookup(name)``.
Registers: ``ABI_NAMES``, ``reg_name(n)``, ``reg_number(s)``; f registers
``FP_ABI_NAMES``, ``freg_name(n)``, ``freg_number(s)``. CSRs: ``CSRS``,
``CSR_NAMES``, ``csr_number(s)``, ``csr_name(n)``. Causes: ``EXCEPTION_NAMES``,
``INTERRUPT_NAMES``, ``cause_name(mcause)``, ``EXC_*``/``IRQ_*`` constants.
"""

from pyvmm.isa.causes import (EXCEPTION_NAMES, INTERRUPT_BIT, INTERRUPT_NAMES,  # noqa: F401
                              cause_name)
from pyvmm.isa.causes import *  # noqa: F401,F403  (EXC_* and IRQ_* constants)
from pyvmm.lazy import lazy_exports

# The tables and the codec are imported when first used (the causes above are
# cheap and all the board's run loop needs): `from pyvmm.isa import decode`
# works as always, and `pyvmm run` of an ELF does not build the tables.
_EXPORTS = {}
for _module, _names in (
        ("pyvmm.isa.codec", ("EncodingError", "compress_candidates", "decode", "decode_compressed",
                             "encode", "encode_entry", "expand_compressed", "instr_length",
                             "lookup")),
        ("pyvmm.isa.compressed", ("C_BY_NAME", "COMPRESSED", "CInstr")),
        ("pyvmm.isa.csrs", ("CSR_ALIASES", "CSR_NAMES", "CSRS", "csr_name", "csr_number")),
        ("pyvmm.isa.fields", ("Field",)),
        ("pyvmm.isa.instructions", ("BY_NAME", "INSTRUCTIONS", "Instr")),
        ("pyvmm.isa.registers", ("ABI_NAMES", "REG_NUMBERS", "reg_name", "reg_number",
                                 "FP_ABI_NAMES", "FREG_NUMBERS", "freg_name", "freg_number"))):
    for _name in _names:
        _EXPORTS[_name] = _module
del _module, _names, _name


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

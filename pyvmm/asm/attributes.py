"""The `.riscv.attributes` section GNU as writes: the ISA string (Tag_RISCV_arch).

The string is the march in effect normalised as binutils 2.40 does
(bfd/elfxx-riscv.c, ISA spec 20191213): `g` spelled out, implied extensions
added (m implies zmmul, f zicsr, d f, q d, h zicsr, zfh zfhmin and f), each
extension with its default version, single letters in canonical order, then
multi-letter ones: z* ordered by the class of their second letter, then s*,
then x*, alphabetical within a class. objdump and `pyvmm disasm` read it to
choose the instructions they decode (hlv.b only when h is listed).
"""

import struct

# binutils' riscv_supported_std_ext / riscv_supported_std_z_ext / _s_ext, for
# ISA spec 20191213 (its default), restricted to what GNU as 2.40 accepts
DEFAULT_VERSIONS = {
    "i": (2, 1), "m": (2, 0), "a": (2, 1), "f": (2, 2), "d": (2, 2), "q": (2, 2),
    "c": (2, 0), "h": (1, 0),
    "zicsr": (2, 0), "zifencei": (2, 0), "zihintpause": (2, 0), "zmmul": (1, 0),
    "zicbom": (1, 0), "zicbop": (1, 0), "zicboz": (1, 0), "zawrs": (1, 0),
    "zba": (1, 0), "zbb": (1, 0), "zbc": (1, 0), "zbs": (1, 0), "zkt": (1, 0),
    "zfh": (1, 0), "zfhmin": (1, 0),
    "svinval": (1, 0), "svnapot": (1, 0), "svpbmt": (1, 0),
}

IMPLIES = {
    "g": ("i", "m", "a", "f", "d", "zicsr", "zifencei"),
    "m": ("zmmul",), "f": ("zicsr",), "d": ("f",), "q": ("d",), "h": ("zicsr",),
    "zfh": ("zfhmin", "f"), "zfhmin": ("f",),
}

# riscv_ext_canonical_order: single letters, and the second letter of z* names
CANONICAL_ORDER = "eigmafdqlcbkjtpvnh"
MULTI_LETTER_CLASSES = "zsx"

SHT_RISCV_ATTRIBUTES = 0x70000003
TAG_FILE = 1
TAG_RISCV_ARCH = 5


def _closure(extensions):
    done = set()
    todo = list(extensions)
    while todo:
        ext = todo.pop()
        if ext not in done:
            done.add(ext)
            todo.extend(IMPLIES.get(ext, ()))
    done.discard("g")
    return done


def _order(ext):
    if len(ext) == 1:
        return (0, CANONICAL_ORDER.index(ext) if ext in CANONICAL_ORDER else len(CANONICAL_ORDER), ext)
    klass = MULTI_LETTER_CLASSES.find(ext[0])
    second = CANONICAL_ORDER.find(ext[1]) if ext[0] == "z" else 0
    return (1 + (klass if klass >= 0 else len(MULTI_LETTER_CLASSES)),
            second if second >= 0 else len(CANONICAL_ORDER), ext)


def arch_string(extensions, xlen=64):
    """GNU's Tag_RISCV_arch for the set of extension names pyvmm.asm parsed
    from -march (single letters and multi-letter names). An extension binutils
    has no default version for is written without one."""
    parts = []
    for ext in sorted(_closure(set(extensions) | {"i"}), key=_order):
        version = DEFAULT_VERSIONS.get(ext)
        parts.append(ext + ("%dp%d" % version if version else ""))
    return "rv%d%s" % (xlen, "_".join(parts))


def _uleb128(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def attributes_section(arch):
    """The section's bytes: format 'A', one "riscv" vendor subsection holding
    one file-scope subsubsection with Tag_RISCV_arch (ELF attribute format,
    as the ARM/RISC-V psABIs define it)."""
    tags = _uleb128(TAG_RISCV_ARCH) + arch.encode("ascii") + b"\0"
    file_scope = bytes([TAG_FILE]) + struct.pack("<I", 5 + len(tags)) + tags
    vendor = b"riscv\0"
    subsection = struct.pack("<I", 4 + len(vendor) + len(file_scope)) + vendor + file_scope
    return b"A" + subsection

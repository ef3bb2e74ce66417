"""The assembled, linked program and its ELF64 / flat-binary images."""

import struct
from dataclasses import dataclass, field

from pyvmm.asm.attributes import SHT_RISCV_ATTRIBUTES, attributes_section

PAGE = 0x1000

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_ABS = 0xFFF1
STB_LOCAL, STB_GLOBAL = 0, 1
STT_NOTYPE, STT_OBJECT, STT_FUNC = 0, 1, 2
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
EM_RISCV = 243
EF_RISCV_RVC = 0x1


@dataclass
class Section:
    name: str
    addr: int
    data: bytes              # for nobits sections: zeros of the section's size
    flags: str               # subset of "awx"
    nobits: bool
    align: int = 1

    @property
    def size(self):
        return len(self.data)

    @property
    def alloc(self):
        return "a" in self.flags


@dataclass
class ElfSymbol:
    name: str
    value: int
    section: str             # output section name, or None for absolute
    is_global: bool
    type: str = None         # "function" | "object" | None
    size: int = 0


@dataclass
class Program:
    entry: int
    symbols: dict
    sections: list
    rvc: bool = True
    elf_symbols: list = field(default_factory=list)
    messages: list = field(default_factory=list)    # (.warning/.print, file, line, text)
    arch: str = None         # Tag_RISCV_arch (GNU-normalised ISA string), None: no attributes

    def segments(self):
        """[(addr, bytes)] to load, in address order; .bss as zeros."""
        return [(s.addr, bytes(s.data)) for s in sorted(self.sections, key=lambda s: s.addr)
                if s.alloc and s.size]

    def to_binary(self):
        """Flat image from the lowest loaded address (as objcopy -O binary): nobits excluded."""
        loaded = [s for s in self.sections if s.alloc and s.size and not s.nobits]
        if not loaded:
            return b""
        base = min(s.addr for s in loaded)
        end = max(s.addr + s.size for s in loaded)
        image = bytearray(end - base)
        for s in loaded:
            image[s.addr - base:s.addr - base + s.size] = s.data
        return bytes(image)

    def to_elf(self):
        return write_elf(self)


def _strtab(names):
    table = bytearray(b"\0")
    offsets = {}
    for name in names:
        if name not in offsets:
            offsets[name] = len(table)
            table += name.encode("utf-8", "surrogateescape") + b"\0"
    return bytes(table), offsets


def write_elf(prog):
    alloc = sorted([s for s in prog.sections if s.alloc], key=lambda s: s.addr)
    other = [s for s in prog.sections if not s.alloc]
    out_sections = alloc + other
    index_of = {s.name: i + 1 for i, s in enumerate(out_sections)}

    loads = [s for s in alloc if s.size]
    phnum = len(loads)
    offset = 64 + 56 * phnum
    file_offsets = {}
    for s in out_sections:
        if s.nobits:
            file_offsets[s.name] = offset
            continue
        if s.alloc:
            offset += (s.addr - offset) % PAGE          # p_offset == p_vaddr (mod page)
        else:
            offset += -offset % max(1, s.align)
        file_offsets[s.name] = offset
        offset += s.size

    # symbol table: locals first, then globals (ELF rule)
    symbols = sorted(prog.elf_symbols, key=lambda sym: (sym.is_global,))
    strtab, str_offsets = _strtab(sym.name for sym in symbols)
    symtab = bytearray(24)
    first_global = 1
    for n, sym in enumerate(symbols):
        if not sym.is_global:
            first_global = n + 2
        st_type = {"function": STT_FUNC, "object": STT_OBJECT}.get(sym.type, STT_NOTYPE)
        bind = STB_GLOBAL if sym.is_global else STB_LOCAL
        shndx = index_of[sym.section] if sym.section in index_of else SHN_ABS
        symtab += struct.pack("<IBBHQQ", str_offsets[sym.name], bind << 4 | st_type, 0, shndx,
                              sym.value & 0xFFFFFFFFFFFFFFFF, sym.size)
    extra = [(".symtab", SHT_SYMTAB, bytes(symtab), 8, 24), (".strtab", SHT_STRTAB, strtab, 1, 0)]
    if prog.arch:
        # ld places it after the loaded sections, ahead of the symbol table
        extra.insert(0, (".riscv.attributes", SHT_RISCV_ATTRIBUTES, attributes_section(prog.arch), 1, 0))
    shstr_names = [s.name for s in out_sections] + [e[0] for e in extra] + [".shstrtab"]
    shstrtab, shstr_offsets = _strtab(shstr_names)
    extra.append((".shstrtab", SHT_STRTAB, shstrtab, 1, 0))
    extra_offsets = []
    for _, _, data, align, _ in extra:
        offset += -offset % align
        extra_offsets.append(offset)
        offset += len(data)
    offset += -offset % 8
    shoff = offset
    shnum = len(out_sections) + len(extra) + 1

    image = bytearray(shoff + 64 * shnum)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into("<16sHHIQQQIHHHHHH", image, 0, ident, 2, EM_RISCV, 1, prog.entry, 64 if phnum else 0,
                     shoff, EF_RISCV_RVC if prog.rvc else 0, 64, 56, phnum, 64, shnum, shnum - 1)
    for n, s in enumerate(loads):
        flags = PF_R | (PF_W if "w" in s.flags else 0) | (PF_X if "x" in s.flags else 0)
        struct.pack_into("<IIQQQQQQ", image, 64 + 56 * n, PT_LOAD, flags, file_offsets[s.name],
                         s.addr, s.addr, 0 if s.nobits else s.size, s.size, PAGE)
    for s in out_sections:
        if not s.nobits:
            image[file_offsets[s.name]:file_offsets[s.name] + s.size] = s.data
    for (_, _, data, _, _), off in zip(extra, extra_offsets):
        image[off:off + len(data)] = data

    def section_header(n, name, sh_type, flags, addr, off, size, link, info, align, entsize):
        struct.pack_into("<IIQQQQIIQQ", image, shoff + 64 * n, name, sh_type, flags, addr, off, size,
                         link, info, align, entsize)

    for n, s in enumerate(out_sections, start=1):
        flags = (SHF_ALLOC if s.alloc else 0) | (SHF_WRITE if "w" in s.flags else 0) | \
            (SHF_EXECINSTR if "x" in s.flags else 0)
        section_header(n, shstr_offsets[s.name], SHT_NOBITS if s.nobits else SHT_PROGBITS, flags,
                       s.addr, file_offsets[s.name], s.size, 0, 0, s.align, 0)
    base = len(out_sections) + 1
    strtab_index = base + [e[0] for e in extra].index(".strtab")
    for k, ((name, sh_type, data, align, entsize), off) in enumerate(zip(extra, extra_offsets)):
        link = strtab_index if name == ".symtab" else 0
        info = first_global if name == ".symtab" else 0
        section_header(base + k, shstr_offsets[name], sh_type, 0, 0, off, len(data), link, info,
                       align, entsize)
    return bytes(image)

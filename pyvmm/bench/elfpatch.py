"""Rewrite a 32-bit variable of an ELF image in the file itself.

The benchmark runs one image at several sizes: the guest reads its iteration
count from a global in .data (`bench_iterations`), and this module writes a
copy of the ELF with that global changed. QEMU and pyvmm then load byte-for-
byte the same code, which is what makes their instruction counts comparable.
Only what that needs is parsed: ELF64 little-endian, the section headers (to
find the symbol table) and the program headers (to find the file offset that
is loaded at the symbol's address).
"""

import struct

ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
PT_LOAD = 1
SHT_SYMTAB = 2
SHN_UNDEF = 0


class ElfPatchError(Exception):
    """The file is not an ELF this module can patch, or has no such symbol."""


def _header(data):
    if len(data) < 64 or data[:4] != ELF_MAGIC:
        raise ElfPatchError("not an ELF file")
    if data[4] != ELFCLASS64 or data[5] != ELFDATA2LSB:
        raise ElfPatchError("not a little-endian ELF64 file")
    (phoff, shoff) = struct.unpack_from("<QQ", data, 0x20)
    (phentsize, phnum, shentsize, shnum) = struct.unpack_from("<HHHH", data, 0x36)
    return phoff, phentsize, phnum, shoff, shentsize, shnum


def _sections(data, shoff, shentsize, shnum):
    sections = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if off + 64 > len(data):
            raise ElfPatchError("section header table runs past the end of the file")
        (_name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, _info, _align,
         sh_entsize) = struct.unpack_from("<IIQQQQIIQQ", data, off)
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_entsize))
    return sections


def symbol_address(data, name):
    """The value (address) of the defined symbol `name` in ELF `data`."""
    phoff, phentsize, phnum, shoff, shentsize, shnum = _header(data)
    sections = _sections(data, shoff, shentsize, shnum)
    wanted = name.encode()
    for sh_type, sh_offset, sh_size, sh_link, sh_entsize in sections:
        if sh_type != SHT_SYMTAB or sh_entsize < 24:
            continue
        if sh_link >= len(sections):
            raise ElfPatchError("symbol table links to a missing string table")
        str_offset, str_size = sections[sh_link][1], sections[sh_link][2]
        strtab = data[str_offset:str_offset + str_size]
        for off in range(sh_offset, sh_offset + sh_size, sh_entsize):
            st_name, _info, _other, st_shndx, st_value, _size = struct.unpack_from(
                "<IBBHQQ", data, off)
            end = strtab.find(b"\0", st_name)
            if st_shndx != SHN_UNDEF and strtab[st_name:end] == wanted:
                return st_value
    raise ElfPatchError(f"no symbol {name!r}")


def file_offset(data, addr, size):
    """The file offset loaded at [addr, addr + size), from the PT_LOAD segments."""
    phoff, phentsize, phnum, _shoff, _shentsize, _shnum = _header(data)
    for i in range(phnum):
        off = phoff + i * phentsize
        p_type, _flags, p_offset, p_vaddr, p_paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, off)
        if p_type != PT_LOAD:
            continue
        for base in {p_vaddr, p_paddr}:
            if base <= addr and addr + size <= base + p_filesz:
                return p_offset + (addr - base)
    raise ElfPatchError(f"address {addr:#x} is not in the file image of any loaded segment")


def read_u32(data, name):
    offset = file_offset(data, symbol_address(data, name), 4)
    return struct.unpack_from("<I", data, offset)[0]


def patch_u32(data, name, value):
    """A copy of ELF `data` with the 32-bit variable `name` set to `value`."""
    if not 0 <= value < 1 << 32:
        raise ElfPatchError(f"{name} = {value} does not fit 32 bits")
    offset = file_offset(data, symbol_address(data, name), 4)
    patched = bytearray(data)
    struct.pack_into("<I", patched, offset, value)
    return bytes(patched)

"""Guest images: ELF64 RISC-V executables, flat binaries and assembly sources.

The ELF reader is a small bounds-checked one of pyvmm's own rather than
pyelftools: a loader needs four tables (file header, program headers, section
headers, one symbol table), and checking every offset itself is what lets
each malformed file end in one precise ImageError instead of whatever
exception a general-purpose parser raises deep inside.
"""

import os
import struct

EM_RISCV = 243
ET_EXEC = 2
ET_DYN = 3
PT_LOAD = 1
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHF_ALLOC = 2
STT_SECTION = 3
STT_FILE = 4
SHN_UNDEF = 0

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")

ELF_SUFFIXES = (".elf",)
FLAT_SUFFIXES = (".bin", ".img")
ASM_SUFFIXES = (".s", ".S")


class ImageError(Exception):
    """A guest image that cannot be loaded; str() is one line naming the file."""


class Image:
    """What to put in memory and where to start.

    segments: list of (physical address, bytes), zero-fill included.
    """

    def __init__(self, path, kind, segments, entry, symbols):
        self.path = path
        self.kind = kind
        self.segments = segments
        self.entry = entry
        self.symbols = symbols

    @property
    def lowest(self):
        return min(addr for addr, _ in self.segments)

    @property
    def highest(self):
        return max(addr + len(data) for addr, data in self.segments)

    def __repr__(self):
        return f"Image({self.path!r}, {self.kind}, entry={self.entry:#x}, {len(self.segments)} segments)"


def image_kind(path, head):
    """'elf', 'flat' or 'asm', from the suffix, else from the first bytes."""
    suffix = os.path.splitext(path)[1]
    if suffix in ASM_SUFFIXES:
        return "asm"
    if suffix.lower() in ELF_SUFFIXES:
        return "elf"
    if suffix.lower() in FLAT_SUFFIXES:
        return "flat"
    return "elf" if head.startswith(b"\x7fELF") else "flat"


def load_image(path, *, ram_base, ram_size, load_addr=None, default_addr=None):
    """Read and check `path`. Flat images and assembly go to `load_addr`,
    else `default_addr`, else the RAM base; ELF segments to their p_paddr."""
    path = os.fspath(path)
    name = os.path.basename(path) or path
    try:
        with open(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror}") from None
    kind = image_kind(path, content[:4])
    if not content:
        raise ImageError(f"{path}: empty image")
    base = load_addr if load_addr is not None else (default_addr if default_addr is not None else ram_base)
    if kind == "elf":
        if load_addr is not None:
            raise ImageError(f"{path}: a load address applies to flat images, not ELF (it loads at its own addresses)")
        segments, entry, symbols = parse_elf(content, path, max_size=ram_size)
    elif kind == "asm":
        segments, entry, symbols = _assemble(path, base)
    else:
        segments, entry, symbols = [(base, content)], base, {}
    image = Image(path, kind, segments, entry, symbols)
    _check_fits(image, name, ram_base, ram_size)
    return image


def _check_fits(image, name, ram_base, ram_size):
    ram_end = ram_base + ram_size
    total = sum(len(data) for _, data in image.segments)
    if total > ram_size:
        raise ImageError(f"{image.path}: image is {total} bytes, larger than RAM ({ram_size} bytes)")
    for addr, data in image.segments:
        if addr < ram_base or addr + len(data) > ram_end:
            raise ImageError(
                f"{image.path}: segment {addr:#x}..{addr + len(data):#x} is outside RAM "
                f"{ram_base:#x}..{ram_end:#x}")
    if not any(addr <= image.entry < addr + len(data) for addr, data in image.segments):
        raise ImageError(f"{image.path}: entry point {image.entry:#x} is not in a loaded segment")


def parse_elf(content, path="<elf>", max_size=None):
    """-> (segments, entry, symbols) of an ELF64 LE RISC-V executable;
    a segment larger than `max_size` bytes is refused before any zero fill
    is allocated."""
    def fail(message):
        raise ImageError(f"{path}: {message}")

    if len(content) < 4 or content[:4] != b"\x7fELF":
        fail("not an ELF file (bad magic)")
    if len(content) < _EHDR.size:
        fail(f"truncated ELF header ({len(content)} of {_EHDR.size} bytes)")
    (ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, _flags,
     _ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, _shstrndx) = _EHDR.unpack_from(content)
    if ident[4] != 2:
        fail("not a 64-bit ELF (ELFCLASS%s)" % {1: "32"}.get(ident[4], f" {ident[4]}"))
    if ident[5] != 1:
        fail("not a little-endian ELF")
    if e_machine != EM_RISCV:
        fail(f"ELF is for machine {e_machine}, not RISC-V ({EM_RISCV})")
    if e_type not in (ET_EXEC, ET_DYN):
        kind = {0: "ET_NONE", 1: "a relocatable object (ET_REL)", 4: "a core file (ET_CORE)"}.get(e_type, f"type {e_type}")
        fail(f"ELF is {kind}, not an executable")
    if e_phnum == 0:
        fail("ELF has no program headers")
    if e_phentsize != _PHDR.size:
        fail(f"ELF program header size {e_phentsize}, expected {_PHDR.size}")
    if e_phoff + e_phnum * _PHDR.size > len(content):
        fail("program header table extends beyond the end of the file")

    sections, symbols = _read_sections(content, e_shoff, e_shnum, e_shentsize, fail)
    # Offsets of allocated sections: GNU ld puts the ELF and program headers
    # at the start of the first PT_LOAD (below -Ttext, often below RAM); those
    # bytes are not part of the program and are not loaded.
    section_offsets = sorted(sh_offset for _n, sh_type, sh_flags, _a, sh_offset, sh_size, *_r
                             in sections if sh_flags & SHF_ALLOC and sh_size and sh_type != SHT_NOBITS)
    segments = []
    translations = []   # (vaddr, paddr, memsz): the entry point may be virtual
    for index in range(e_phnum):
        (p_type, _p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz,
         _p_align) = _PHDR.unpack_from(content, e_phoff + index * _PHDR.size)
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        if p_filesz > p_memsz:
            fail(f"segment {index}: file size {p_filesz} exceeds memory size {p_memsz}")
        if p_offset + p_filesz > len(content):
            fail(f"segment {index} extends beyond the end of the file "
                 f"({p_offset + p_filesz} > {len(content)} bytes)")
        if max_size is not None and p_memsz > max_size:
            fail(f"segment {index} is {p_memsz} bytes, larger than RAM ({max_size} bytes)")
        data = content[p_offset:p_offset + p_filesz] + bytes(p_memsz - p_filesz)
        headers_end = e_phoff + e_phnum * _PHDR.size
        if p_offset < headers_end:
            first = next((o for o in section_offsets if p_offset <= o < p_offset + p_filesz), None)
            if first is not None and first >= headers_end:
                skip = first - p_offset
                data, p_paddr, p_vaddr, p_memsz = data[skip:], p_paddr + skip, p_vaddr + skip, p_memsz - skip
        segments.append((p_paddr, data))
        translations.append((p_vaddr, p_paddr, p_memsz))
    if not segments:
        fail("ELF has no loadable segments")

    entry = e_entry
    for vaddr, paddr, memsz in translations:
        if vaddr <= e_entry < vaddr + memsz:
            entry = e_entry - vaddr + paddr
            break
    return segments, entry, symbols


def _read_sections(content, e_shoff, e_shnum, e_shentsize, fail):
    """-> (section headers, symbols); both empty when there are no sections."""
    if e_shoff == 0 or e_shnum == 0:
        return [], {}
    if e_shentsize != _SHDR.size:
        fail(f"ELF section header size {e_shentsize}, expected {_SHDR.size}")
    if e_shoff + e_shnum * _SHDR.size > len(content):
        fail("section header table extends beyond the end of the file")
    headers = [_SHDR.unpack_from(content, e_shoff + i * _SHDR.size) for i in range(e_shnum)]
    symbols = {}
    for sh_name, sh_type, _f, _a, sh_offset, sh_size, sh_link, _i, _al, sh_entsize in headers:
        if sh_type != SHT_SYMTAB:
            continue
        if sh_offset + sh_size > len(content):
            fail("symbol table extends beyond the end of the file")
        if sh_link >= e_shnum:
            fail("symbol table names a string table that does not exist")
        str_offset, str_size = headers[sh_link][4], headers[sh_link][5]
        if str_offset + str_size > len(content):
            fail("string table extends beyond the end of the file")
        strtab = content[str_offset:str_offset + str_size]
        entsize = sh_entsize or _SYM.size
        if entsize < _SYM.size:
            fail(f"symbol entry size {entsize}, expected {_SYM.size}")
        for offset in range(sh_offset, sh_offset + sh_size - _SYM.size + 1, entsize):
            st_name, st_info, _other, st_shndx, st_value, _size = _SYM.unpack_from(content, offset)
            if st_name == 0 or st_shndx == SHN_UNDEF or (st_info & 0xF) in (STT_SECTION, STT_FILE):
                continue
            if st_name >= len(strtab):
                fail("symbol name outside the string table")
            end = strtab.find(b"\0", st_name)
            name = strtab[st_name:end if end >= 0 else len(strtab)].decode("utf-8", "replace")
            # A global wins over a local of the same name; otherwise the first one seen.
            if name not in symbols or st_info >> 4 == 1:
                symbols[name] = st_value
    return headers, symbols


def _assemble(path, text_addr):
    try:
        from pyvmm.asm import AsmError, assemble_file
    except ImportError as e:
        raise ImageError(f"{path}: cannot assemble, pyvmm.asm is unavailable ({e})") from None
    try:
        program = assemble_file(path, section_starts={".text": text_addr})
    except AsmError as e:
        errors = getattr(e, "errors", None) or []
        if errors:
            file, line, message = errors[0]
            more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
            raise ImageError(f"{file}:{line}: {message}{more}") from None
        raise ImageError(f"{path}: {str(e).splitlines()[0] if str(e) else 'assembly failed'}") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror}") from None
    segments = [(addr, bytes(data)) for addr, data in program.segments() if len(data)]
    if not segments:
        raise ImageError(f"{path}: assembles to nothing to load")
    return segments, program.entry, dict(program.symbols)

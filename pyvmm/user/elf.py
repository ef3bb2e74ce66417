"""Static RV64 Linux executables: reading and checking the ELF headers.

Only what an exec needs: the file type (ET_EXEC, or ET_DYN for static-pie),
the entry point, the program headers (PT_LOAD segments to map, PT_PHDR to
locate the headers for AT_PHDR, PT_GNU_STACK for the stack's permissions)
and the refusals a kernel without a dynamic loader makes: a PT_INTERP, a
32-bit or big-endian file, another machine.
"""

import struct

ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
EM_RISCV = 243
ET_EXEC = 2
ET_DYN = 3

PT_LOAD = 1
PT_INTERP = 3
PT_PHDR = 6
PT_GNU_STACK = 0x6474E551

PF_X = 1
PF_W = 2
PF_R = 4

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")


class ExecError(Exception):
    """A file that cannot be executed; str() is one line naming why, and
    `errno_name` the Linux error execve reports for it (ENOEXEC, ENOENT...)."""

    def __init__(self, message, errno_name="ENOEXEC"):
        super().__init__(message)
        self.errno_name = errno_name


class Segment:
    """One PT_LOAD: file bytes [offset, offset+filesz) at vaddr, zero-filled to memsz."""

    __slots__ = ("vaddr", "memsz", "filesz", "offset", "flags")

    def __init__(self, vaddr, memsz, filesz, offset, flags):
        self.vaddr, self.memsz, self.filesz, self.offset, self.flags = vaddr, memsz, filesz, offset, flags


class ElfImage:
    """A checked static RV64 executable: `data` (the file), `etype`, `entry`,
    `phoff`, `phentsize`, `phnum`, `segments` (PT_LOAD), `phdr_vaddr` (where
    the program headers lie in memory, before relocation; None if no
    segment maps them) and `exec_stack` (PT_GNU_STACK asks for PF_X)."""

    def __init__(self, data, name="program"):
        self.data = data
        if len(data) < 4 or data[:4] != ELF_MAGIC:
            raise ExecError(f"{name}: not an ELF executable")
        if len(data) < EHDR.size:
            raise ExecError(f"{name}: truncated ELF header")
        (ident, etype, machine, _version, entry, phoff, _shoff, _flags, _ehsize,
         phentsize, phnum, _shentsize, _shnum, _shstrndx) = EHDR.unpack_from(data, 0)
        if ident[4] != ELFCLASS64:
            raise ExecError(f"{name}: a 32-bit ELF file; only RV64 executables run")
        if ident[5] != ELFDATA2LSB:
            raise ExecError(f"{name}: a big-endian ELF file; only little-endian RV64 executables run")
        if machine != EM_RISCV:
            raise ExecError(f"{name}: an ELF file for machine {machine}, not RISC-V")
        if etype not in (ET_EXEC, ET_DYN):
            raise ExecError(f"{name}: ELF type {etype} is not an executable")
        if phentsize != PHDR.size or phnum == 0 or phoff + phnum * PHDR.size > len(data):
            raise ExecError(f"{name}: bad program headers")
        self.etype, self.entry = etype, entry
        self.phoff, self.phentsize, self.phnum = phoff, phentsize, phnum
        self.segments = []
        self.exec_stack = False
        phdr_vaddr = None
        for i in range(phnum):
            ptype, flags, offset, vaddr, _paddr, filesz, memsz, _align = \
                PHDR.unpack_from(data, phoff + i * PHDR.size)
            if ptype == PT_INTERP:
                raise ExecError(f"{name}: a dynamically linked executable (has PT_INTERP); "
                                "only static executables run")
            if ptype == PT_GNU_STACK:
                self.exec_stack = bool(flags & PF_X)
            elif ptype == PT_PHDR:
                phdr_vaddr = vaddr
            elif ptype == PT_LOAD and memsz:
                if filesz > memsz or offset + filesz > len(data):
                    raise ExecError(f"{name}: a PT_LOAD segment lies outside the file")
                if (vaddr - offset) % 4096:
                    raise ExecError(f"{name}: a PT_LOAD segment is not page-congruent")
                self.segments.append(Segment(vaddr, memsz, filesz, offset, flags))
        if not self.segments:
            raise ExecError(f"{name}: no loadable segment")
        if phdr_vaddr is None:
            # No PT_PHDR: the headers are in memory if a segment maps their file bytes,
            # which is how Linux computes AT_PHDR (load address of offset 0 + e_phoff).
            for seg in self.segments:
                if seg.offset <= phoff and phoff + phnum * PHDR.size <= seg.offset + seg.filesz:
                    phdr_vaddr = seg.vaddr + (phoff - seg.offset)
                    break
        self.phdr_vaddr = phdr_vaddr

    @property
    def is_pie(self):
        return self.etype == ET_DYN

    def span(self):
        """(lowest page address, end address) covered by the PT_LOAD segments."""
        lo = min(seg.vaddr for seg in self.segments) & ~0xFFF
        hi = max(seg.vaddr + seg.memsz for seg in self.segments)
        return lo, hi

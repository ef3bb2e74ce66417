"""`pyvmm disasm IMAGE`: disassemble an ELF, a flat binary or a .S source like `objdump -d`.

For an ELF the output is laid out as ``riscv64-unknown-elf-objdump -d``
lays it out: the file-format line, one ``Disassembly of section`` header per
executable section, a ``<symbol>:`` line where each symbol starts,
``addr:<TAB>bytes<TAB>text`` lines, RISC-V mapping symbols ($x code, $d data)
honoured, runs of zero bytes shown as ``...``. A flat binary is one code
section loaded at ``--base``; a ``.S`` file is assembled with pyvmm.asm first.

ELF files are read with pyelftools: it is already a dependency of the test
suite, handles every ELF corner (section/segment tables, symbol tables of
either class) and keeps this module about disassembly.
"""

import os
import sys

from pyvmm.asm.disasm import (DEFAULT_PRIV_SPEC, Disassembler, Symbol, SymbolTable,
                              display_name, extensions_from_march, insn_length,
                              is_mapping_symbol, priv_spec_from_attribute)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
DEFAULT_BASE = 0x8000_0000

SHF_EXECINSTR = 0x4

# objdump -d: a run of at least this many zero bytes is shown as "..."; so is a
# shorter run (fewer than SKIP_ZEROES_AT_END bytes) that ends the symbol's range.
SKIP_ZEROES = 8
SKIP_ZEROES_AT_END = 3
BYTES_PER_LINE = 8
OBJECT_BYTES_PER_LINE = 16
EIO = 5


class DisasmError(Exception):
    """Bad input: reported as one line, exit status 2."""


# ---------------------------------------------------------------------------
# The image model: sections of code plus symbols.

class CodeSection:
    def __init__(self, name, addr, data, symbols=(), mapping=()):
        self.name = name
        self.addr = addr
        self.data = bytes(data)
        self.symbols = list(symbols)       # Symbol objects defined in this section
        self.mapping = sorted(mapping)     # [(addr, "x" | "d", ISA string or "")] mapping symbols

    @property
    def end(self):
        return self.addr + len(self.data)


class Image:
    def __init__(self, path, file_format, sections, symbols, relocatable=False, march=None,
                 priv_spec=DEFAULT_PRIV_SPEC):
        self.path = path
        self.priv_spec = priv_spec         # CSR names follow Tag_RISCV_priv_spec
        self.march = march                 # Tag_RISCV_arch, None when the file has none
        self.file_format = file_format     # "elf64-littleriscv" or "binary"
        self.sections = sections
        self.symbols = symbols             # every Symbol of the file (all sections)
        self.relocatable = relocatable


# objdump's ISA for an ELF without a Tag_RISCV_arch attribute
OBJDUMP_DEFAULT_MARCH = "rv64gc"


def load_elf(path, data=None, default_march=OBJDUMP_DEFAULT_MARCH):
    """Image of every executable section of an RV64 ELF file (bytes `data` if given).

    The ISA decoded is the file's Tag_RISCV_arch attribute, else `default_march`
    (objdump's rv64gc; None for everything pyvmm.isa knows).
    """
    import io
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
        from elftools.elf.sections import SymbolTableSection
    except ImportError:
        raise DisasmError("%s: reading ELF files needs pyelftools (pip install pyelftools)" % path) from None

    if data is None:
        data = _read(path)
    try:
        elf = ELFFile(io.BytesIO(data))
        if elf["e_machine"] != "EM_RISCV":
            raise DisasmError("%s: not a RISC-V ELF file (machine %s)" % (path, elf["e_machine"]))
        if elf.elfclass != 64 or not elf.little_endian:
            raise DisasmError("%s: only little-endian ELF64 (RV64) is supported" % path)
        section_names = [s.name for s in elf.iter_sections()]
        symbols, mapping = [], {}
        tables = [t for t in elf.iter_sections() if isinstance(t, SymbolTableSection)]
        # objdump uses the dynamic symbols when the file has no static ones (a
        # stripped PIE such as OpenSBI's fw_jump.elf)
        static = [t for t in tables if t["sh_type"] == "SHT_SYMTAB" and t.num_symbols() > 1]
        for symtab in static or [t for t in tables if t["sh_type"] == "SHT_DYNSYM"]:
            for sym in symtab.iter_symbols():
                shndx = sym["st_shndx"]
                if shndx == "SHN_UNDEF" or shndx == "SHN_COMMON" or not sym.name:
                    continue
                if shndx == "SHN_ABS":
                    section = "*ABS*"
                elif isinstance(shndx, int) and shndx < len(section_names):
                    section = section_names[shndx]
                else:
                    continue
                if is_mapping_symbol(sym.name):
                    # "$xrv64i2p1_c2p0" switches the ISA for the code after it
                    march = sym.name[2:].split(".")[0] if sym.name.startswith("$xrv") else ""
                    if march:
                        try:
                            extensions_from_march(march)
                        except ValueError:
                            march = ""
                    mapping.setdefault(section, []).append(
                        (sym["st_value"], "d" if sym.name.startswith("$d") else "x", march))
                    continue
                kind = {"STT_FUNC": "func", "STT_OBJECT": "object", "STT_FILE": "file",
                        "STT_SECTION": "section"}.get(sym["st_info"]["type"], "notype")
                bind = {"STB_LOCAL": "local", "STB_WEAK": "weak"}.get(sym["st_info"]["bind"], "global")
                symbols.append(Symbol(sym.name, sym["st_value"], section, kind, bind, sym["st_size"]))
        sections = []
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SHF_EXECINSTR or sec["sh_type"] == "SHT_NOBITS":
                continue
            sections.append(CodeSection(sec.name, sec["sh_addr"], sec.data(),
                                        [s for s in symbols if s.section == sec.name],
                                        mapping.get(sec.name, ())))
        relocatable = elf["e_type"] == "ET_REL"
        attributes = _riscv_attributes(elf)
        march = attributes.get("TAG_ARCH") or default_march
        priv_spec = priv_spec_from_attribute(attributes.get("TAG_PRIV_SPEC", 0),
                                             attributes.get("TAG_PRIV_SPEC_MINOR", 0),
                                             attributes.get("TAG_PRIV_SPEC_REVISION", 0))
    except DisasmError:
        raise
    except ELFError as exc:
        raise DisasmError("%s: bad ELF file: %s" % (path, exc)) from None
    except Exception as exc:  # noqa: BLE001
        # pyelftools reports corrupt or truncated tables with whatever its
        # parser hits (struct/construct errors, ValueError, OverflowError...)
        raise DisasmError("%s: bad ELF file: %s: %s" % (path, type(exc).__name__, exc)) from None
    if march is not None:
        try:
            extensions_from_march(march)
        except ValueError:
            raise DisasmError("%s: unreadable ISA string %r in .riscv.attributes" % (path, march)) from None
    return Image(path, "elf64-littleriscv", sections, symbols, relocatable, march, priv_spec)


def _riscv_attributes(elf):
    """{tag: value} of the ELF's .riscv.attributes (TAG_ARCH, TAG_PRIV_SPEC, ...).

    objdump decodes only the arch's instructions (H ones print as .4byte in an
    rv64gc file, which is also what it assumes without the attribute) and
    names CSRs as the privileged spec named there did (1.12 without it).
    """
    found = {}
    sec = elf.get_section_by_name(".riscv.attributes")
    if sec is None or not hasattr(sec, "iter_subsections"):
        return found
    for sub in sec.iter_subsections():
        for subsub in sub.iter_subsubsections():
            for attr in subsub.iter_attributes():
                found.setdefault(attr.tag, attr.value)
    return found


def load_binary(path, data, base):
    """A flat image is one code section, named .data as objdump -b binary names it."""
    if not data:
        raise DisasmError("%s: empty file" % path)
    if base + len(data) > 1 << 64:
        raise DisasmError("%s: %d bytes at 0x%x run past the 64-bit address space" % (path, len(data), base))
    return Image(path, "binary", [CodeSection(".data", base, data)], [])


def load_source(path):
    """Assemble a .S file with pyvmm.asm and disassemble the ELF it makes."""
    try:
        from pyvmm.asm import AsmError, assemble_file
    except ImportError:
        raise DisasmError("%s: assembling sources needs pyvmm.asm, which is not installed" % path) from None
    try:
        prog = assemble_file(path)
    except AsmError as exc:
        lines = str(exc).splitlines() or ["%s: assembly failed" % path]
        more = " (and %d more errors)" % (len(lines) - 1) if len(lines) > 1 else ""
        raise DisasmError(lines[0] + more) from None
    except OSError as exc:
        raise DisasmError("%s: %s" % (path, exc.strerror or exc)) from None
    # a source has no objdump equivalent: show everything pyvmm implements
    # unless the ELF pyvmm.asm wrote names its ISA
    return load_elf(path, prog.to_elf(), default_march=None)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise DisasmError("%s: %s" % (path, exc.strerror or exc)) from None


def load_image(path, base=DEFAULT_BASE):
    """ELF (by magic), .S/.s source (by suffix), otherwise a flat binary.

    Flat binaries and sources decode every extension pyvmm implements (H
    included); ELF files decode their own ISA as objdump does."""
    if path.endswith((".S", ".s")):
        return load_source(path)
    data = _read(path)
    if data[:4] == b"\x7fELF":
        return load_elf(path, data)
    return load_binary(path, data, base)


# ---------------------------------------------------------------------------
# objdump's layout.

def _address_column(addr, end):
    """objdump's "    80000000" column: the address with leading zeros dropped in
    groups of four (as many as the section's end address allows) and the rest
    of the leading zeros blanked."""
    digits = "%016x" % end
    skip = len(digits) - len(digits.lstrip("0"))
    if skip == len(digits) and end != 0:
        skip = 0
    if skip:
        skip = (skip - 1) & ~3
    text = ("%016x" % addr)[skip:]
    return (text.lstrip("0") or "0").rjust(len(text))


def _raw_bytes(chunk_bytes, chunk):
    """Hex of `chunk_bytes` in little-endian chunks of `chunk` bytes, each followed by a space."""
    parts = []
    for i in range(0, len(chunk_bytes), chunk):
        piece = chunk_bytes[i:i + chunk]
        parts.append(piece[::-1].hex() + " ")
    return "".join(parts)


def _padded_raw(line_bytes, chunk, per_line):
    text = _raw_bytes(line_bytes, chunk)
    missing = (per_line - len(line_bytes)) // chunk
    return text + ("  " * chunk + " ") * missing


class _FileState:
    """What objdump carries from one section to the next: the disassembler (its
    lui/auipc memory and current ISA) and the chunk size of the last item shown."""

    def __init__(self, dis):
        self.dis = dis
        self.last_chunk = 0


class SectionPrinter:
    """Prints one section the way objdump's disassemble_section does."""

    def __init__(self, image, section, out, file_state, start=None, stop=None, zeroes=False):
        self.image = image
        self.file_state = file_state
        self.section = section
        self.out = out
        self.start = section.addr if start is None else max(start, section.addr)
        self.stop = section.end if stop is None else min(stop, section.end)
        self.zeroes = zeroes
        if image.relocatable:
            lookup_symbols = [s for s in image.symbols if s.section == section.name]
        else:
            lookup_symbols = image.symbols
        self.lookup = SymbolTable(lookup_symbols, section=section.name)
        self.labels = SymbolTable(section.symbols, section=section.name)
        # one Disassembler for the whole file: objdump keeps its lui/auipc
        # memory and its current ISA from one section to the next
        self.dis = file_state.dis
        self.dis.symbols = self.lookup

    def run(self):
        sec = self.section
        if self.start >= self.stop:
            return
        self.out.write("\nDisassembly of section %s:\n" % sec.name)
        for range_start, range_stop, label, sym in self._symbol_ranges():
            self.out.write("\n%016x <%s>:\n" % (range_start, label))
            if sym is not None and sym.kind == "object" and sym.value <= range_start:
                self._object_bytes(range_start, range_stop)
            else:
                self._bytes(range_start, range_stop)

    def _symbol_ranges(self):
        """[(start, stop, label)] split at the section's symbols, as objdump splits it."""
        labels = self.labels
        starts = sorted({s.value for s in labels.symbols() if self.start < s.value < self.stop})
        bounds = [self.start] + starts + [self.stop]
        ranges = []
        for lo, hi in zip(bounds, bounds[1:]):
            sym = labels.nearest(lo)
            if sym is None:
                label = self._relative(self.section.name, self.section.addr, lo)
            else:
                label = self._relative(sym.name, sym.value, lo)
            ranges.append((lo, hi, label, sym))
        return ranges

    @staticmethod
    def _relative(name, value, addr):
        name = display_name(name)
        if addr == value:
            return name
        if addr > value:
            return "%s+0x%x" % (name, addr - value)
        return "%s-0x%x" % (name, value - addr)

    def _state(self, addr):
        """('x' | 'd', where that state ends, ISA string or "") at `addr`."""
        state, boundary, march = "x", self.section.end, ""
        for maddr, mstate, mmarch in self.section.mapping:
            if maddr <= addr:
                state, march = mstate, mmarch
            else:
                boundary = maddr
                break
        return state, boundary, march

    def _skipped_zeroes(self, addr, hi):
        """Bytes of the zero run at `addr` objdump abbreviates as '...' (0 for none)."""
        if self.zeroes:
            return 0
        data, base = self.section.data, self.section.addr
        z, end = addr - base, hi - base
        while z < end and data[z] == 0:
            z += 1
        run = z - (addr - base)
        if run >= SKIP_ZEROES or (z == end and 0 < run < SKIP_ZEROES_AT_END):
            return run if z == end else run & ~3
        return 0

    def _object_bytes(self, lo, hi):
        """An object symbol's bytes, 16 a line with their ASCII, as objdump dumps data
        it will not disassemble (chunked like the last thing it decoded)."""
        sec = self.section
        addr = lo
        while addr < hi:
            run = self._skipped_zeroes(addr, hi)
            if run:
                self.out.write("\t...\n")
                addr += run
                continue
            off = addr - sec.addr
            count = min(OBJECT_BYTES_PER_LINE, hi - addr)
            piece = sec.data[off:off + count]
            chunk = self.file_state.last_chunk or 1
            hexes = []
            for j in range(0, count, chunk):
                hexes.append((piece[j:j + chunk][::-1].hex() if j + chunk <= count else "") + " ")
            pad = ("  " * chunk + " ") * len(range(count, OBJECT_BYTES_PER_LINE, chunk))
            ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in piece)
            self.out.write("%s:\t%s%s    %s\n" % (_address_column(addr, sec.end), "".join(hexes), pad, ascii_))
            addr += count

    def _cut_short(self, addr, hi, per_line, chunk):
        """An item that runs past the end of its symbol's range: binutils' reader
        refuses, the RISC-V printer returns the error code EIO (5) as the length,
        and objdump shows five bytes' worth of `chunk`-byte slots (blank past the
        range end) and the error message."""
        col, end = _address_column, self.section.end
        data, base = self.section.data, self.section.addr

        def slots(first, last):
            text = ""
            for a in range(first, last, chunk):
                if a + chunk <= hi:
                    text += data[a - base:a - base + chunk][::-1].hex()
                text += " "
            return text

        shown = min(EIO, per_line)
        pad = ("  " * chunk + " ") * len(range(shown, per_line, chunk))
        self.out.write("%s:\t%s%s\tAddress 0x%x is out of bounds.\n" % (
            col(addr, end), slots(addr, addr + shown), pad, addr))
        done = shown
        while done < EIO:
            step = min(per_line, EIO - done)
            self.out.write("\n%s:\t%s" % (col(addr + done, end), slots(addr + done, addr + done + step)))
            done += step
        self.out.write("\n")

    def _bytes(self, lo, hi):
        sec = self.section
        data = sec.data
        addr = lo
        per_line = 4          # objdump's starting width for a range of code
        while addr < hi:
            off = addr - sec.addr
            run = self._skipped_zeroes(addr, hi)
            if run:
                self.out.write("\t...\n")
                addr += run
                continue
            state, boundary, march = self._state(addr)
            if march and march != self.dis.march:
                self.dis.set_march(march)
            if state == "d":
                # up to the next mapping symbol, not the symbol range: objdump
                # then fails to read across a label placed mid-word
                size = min(4, boundary - addr)
                size = 2 if size == 3 else size
                if addr + size > hi:
                    self._cut_short(addr, hi, per_line, size)
                    self.file_state.last_chunk = size
                    addr += EIO
                    continue
                value = int.from_bytes(data[off:off + size], "little")
                directive = {1: ".byte\t0x%02x", 2: ".short\t0x%04x", 4: ".word\t0x%08x"}[size]
                text = directive % value
                chunk, per_line = size, 6 if size == 1 else BYTES_PER_LINE
                length = size
            else:
                if hi - addr < 2:
                    length = 2                  # a lone byte: objdump still wants a parcel
                else:
                    length = insn_length(data[off] | data[off + 1] << 8)
                if addr + length > hi:
                    self._cut_short(addr, hi, per_line, 1)
                    self.file_state.last_chunk = 0
                    addr += EIO
                    continue
                word = int.from_bytes(data[off:off + length], "little")
                text = self.dis.disassemble(word, addr)[1]
                chunk, per_line = (4 if length % 4 == 0 else 2), BYTES_PER_LINE
            self._line(addr, data[off:off + length], text, chunk, per_line)
            self.file_state.last_chunk = chunk
            addr += length

    def _line(self, addr, raw, text, chunk, per_line):
        col = _address_column
        end = self.section.end
        first = raw[:per_line]
        self.out.write("%s:\t%s\t%s\n" % (col(addr, end), _padded_raw(first, chunk, per_line), text))
        done = len(first)
        while done < len(raw):
            piece = raw[done:done + per_line]
            self.out.write("%s:\t%s\n" % (col(addr + done, end), _raw_bytes(piece, chunk)))
            done += len(piece)


DISASSEMBLER_OPTIONS = ("no-aliases", "numeric")


def parse_disassembler_options(text):
    """{"aliases": bool, "numeric": bool} from objdump's -M "no-aliases,numeric"."""
    chosen = set()
    for option in (o.strip() for o in text.split(",")):
        if not option:
            continue
        if option not in DISASSEMBLER_OPTIONS:
            raise DisasmError("unrecognized disassembler option: %s (known: %s)"
                              % (option, ", ".join(DISASSEMBLER_OPTIONS)))
        chosen.add(option)
    return {"aliases": "no-aliases" not in chosen, "numeric": "numeric" in chosen}


def print_disassembly(image, out, sections=None, start=None, stop=None, zeroes=False,
                      aliases=True, numeric=False):
    """Write objdump -d style output for `image` to `out`."""
    out.write("\n%s:     file format %s\n\n" % (image.path, image.file_format))
    chosen = image.sections
    if sections:
        known = {s.name for s in image.sections}
        for name in sections:
            if name not in known:
                raise DisasmError("%s: no executable section named %s" % (image.path, name))
        chosen = [s for s in image.sections if s.name in sections]
    gp = [s.value for s in image.symbols if s.name == "__global_pointer$"]
    file_state = _FileState(Disassembler(gp=gp[0] if gp else None, march=image.march,
                                         priv_spec=image.priv_spec, aliases=aliases,
                                         numeric=numeric))
    for sec in chosen:
        SectionPrinter(image, sec, out, file_state, start, stop, zeroes).run()


# ---------------------------------------------------------------------------
# The command.

def _address(text):
    import argparse
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("not an address: %r" % text) from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError("address out of the 64-bit range: %s" % text)
    return value


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "disasm", help="disassemble an ELF, flat binary or .S file like objdump -d",
        description="Disassemble RV64 code with objdump's spelling and layout.")
    p.add_argument("image", help="ELF file, flat binary, or .S/.s assembly source")
    p.add_argument("--start", type=_address, metavar="ADDR",
                   help="first address to disassemble (objdump --start-address)")
    p.add_argument("--stop", type=_address, metavar="ADDR",
                   help="address to stop before (objdump --stop-address)")
    p.add_argument("--section", action="append", metavar="NAME",
                   help="only this executable section (repeatable; objdump -j)")
    p.add_argument("--base", type=_address, default=DEFAULT_BASE, metavar="ADDR",
                   help="load address of a flat binary (default 0x80000000)")
    p.add_argument("--march", metavar="ISA",
                   help="decode only this ISA, e.g. rv64imac_zicsr (default: an ELF's "
                        "arch attribute, else rv64gc as objdump; everything pyvmm implements "
                        "for flat binaries and sources)")
    p.add_argument("-M", "--disassembler-options", metavar="OPT[,OPT]", default="",
                   help="objdump's RISC-V options: no-aliases (canonical names, c.* kept), "
                        "numeric (x0..x31)")
    p.add_argument("-z", "--disassemble-zeroes", action="store_true",
                   help="do not abbreviate runs of zero bytes as '...'")
    p.set_defaults(func=run)


def run(args):
    try:
        if args.start is not None and args.stop is not None and args.stop < args.start:
            raise DisasmError("--stop 0x%x is below --start 0x%x" % (args.stop, args.start))
        options = parse_disassembler_options(args.disassembler_options)
        if os.path.isdir(args.image):
            raise DisasmError("%s: is a directory" % args.image)
        if args.march is not None:
            try:
                extensions_from_march(args.march)
            except ValueError as exc:
                raise DisasmError(str(exc)) from None
        image = load_image(args.image, args.base)
        if args.march is not None:
            image.march = args.march
            for sec in image.sections:        # --march wins over $xrv mapping symbols too
                sec.mapping = [(addr, state, "") for addr, state, _ in sec.mapping]
        print_disassembly(image, sys.stdout, args.section, args.start, args.stop,
                          args.disassemble_zeroes, **options)
    except DisasmError as exc:
        print("pyvmm disasm: error: %s" % " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK

"""Place sections like GNU ld's default RISC-V script and compute final values.

Output sections, in order: .text (.text, .text.*), .rodata (.rodata.*), then
the data segment moved to the same offset in the next page (ld's
DATA_SEGMENT_ALIGN), .data (.data.*), .sdata (.srodata*, .sdata*), .sbss,
.bss (.bss.*; its end aligned to 8). Other allocated sections are orphans
placed after the output section of their kind (code after .text, read-only
after .rodata, writable after .data, nobits after .bss); unallocated ones get
address 0 and are not loaded. Input sections keep source order, each aligned
to its own alignment. `section_starts` pins any output section's address.
"""

from pyvmm import isa
from pyvmm.asm import expr as E
from pyvmm.asm.assembler import hi20, lo12
from pyvmm.asm.attributes import arch_string
from pyvmm.asm.elf import ElfSymbol, Program, Section
from pyvmm.asm.errors import LineError
from pyvmm.asm.items import Align, Branch, Data, DataExpr, Insn, Org, RawBranch

DEFAULT_TEXT = 0x8000_0000
PAGE = 0x1000                    # MAXPAGESIZE = COMMONPAGESIZE for elf64lriscv
STANDARD_ORDER = (".text", ".rodata", ".data", ".sdata", ".sbss", ".bss")
INVERTED = {"beq": "bne", "bne": "beq", "blt": "bge", "bge": "blt", "bltu": "bgeu", "bgeu": "bltu"}
LINKER_SYMBOLS = ("__global_pointer$", "__bss_start", "_edata", "edata", "_end", "end", "__BSS_END__",
                  "__DATA_BEGIN__", "__SDATA_BEGIN__", "_etext", "etext", "__etext")


def output_name(section):
    name = section.name
    for out, prefixes in ((".text", (".text",)), (".rodata", (".rodata",)), (".data", (".data",)),
                          (".sdata", (".sdata", ".srodata")), (".sbss", (".sbss",)), (".bss", (".bss",))):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                return out
    return name


def input_rank(section):
    """Order of input sections inside their output section (ld's script lists
    .text.unlikely, .text.exit, .text.startup, .text.hot, .text.sorted.* before
    the plain .text pattern; .srodata.cst* before .sdata)."""
    name = section.name
    if output_name(section) == ".text":
        for rank, (exact, prefix) in enumerate(((".text.unlikely", ".text.unlikely."),
                                                (".text.exit", ".text.exit."),
                                                (".text.startup", ".text.startup."),
                                                (".text.hot", ".text.hot."))):
            if name == exact or name.startswith(prefix) or (rank == 0 and name.endswith("_unlikely")):
                return (rank, "")
        if name.startswith(".text.sorted."):
            return (4, name)
        return (5, "")
    if output_name(section) == ".sdata":
        for rank, prefix in enumerate((".srodata.cst16", ".srodata.cst8", ".srodata.cst4",
                                       ".srodata.cst2", ".srodata")):
            if name == prefix or name.startswith(prefix + "."):
                return (rank, "")
        return (5, "")
    return (0, "")


def _orphan_anchor(section):
    if "x" in section.flags:
        return ".text"
    if "w" not in section.flags:
        return ".rodata"
    return ".bss" if section.nobits else ".data"


class Linker:
    def __init__(self, asm, section_starts):
        self.asm = asm
        self.starts = dict(section_starts or {})
        self.starts.setdefault(".text", DEFAULT_TEXT)
        self.base = {}            # input section -> address
        self.linker_values = {}
        self.resolving = set()
        self.used_linker_symbols = set()

    def link(self):
        asm = self.asm
        groups = {}
        order = list(STANDARD_ORDER)
        flags = {}
        last_after = {}           # anchor -> last orphan placed after it
        for section in asm.section_order:
            out = output_name(section)
            if out not in order:
                if "a" in section.flags:
                    anchor = _orphan_anchor(section)
                    order.insert(order.index(last_after.get(anchor, anchor)) + 1, out)
                    last_after[anchor] = out
                else:
                    order.append(out)
            groups.setdefault(out, []).append(section)
            f = flags.setdefault(out, set())
            f.update(section.flags)
        outputs = self.place(order, groups, flags, adjust=False)
        if self.saves_a_page():
            outputs = self.place(order, groups, flags, adjust=True)

        sections = []
        for out, start, end, members, alloc in outputs:
            if end == start:
                continue          # ld drops empty output sections
            image = bytearray(end - start)
            for s in members:
                offset = self.base[s] - start
                data = self.section_bytes(s)
                image[offset:offset + len(data)] = data
            nobits = all(s.nobits for s in members)
            sections.append(Section(out, start, bytes(image), "".join(c for c in "awx" if c in flags[out]),
                                    nobits, max(s.align for s in members)))
        return self.program(sections)

    def place(self, order, groups, flags, adjust):
        """Assign addresses in script order; `adjust` is ld's page-saving form of
        DATA_SEGMENT_ALIGN (the data segment starts on the page boundary)."""
        self.linker_values = {}
        outputs = []
        addr = self.starts[".text"]
        data_segment_done = False

        def start_data_segment(addr):
            base = _align_up(addr, PAGE) + (0 if adjust else addr & (PAGE - 1))
            self.segment_base = base
            self.linker_values["__DATA_BEGIN__"] = base
            return base

        for out in order:
            members = groups.get(out, [])
            alloc = any("a" in s.flags for s in members)
            if not data_segment_done and (out in (".data", ".sdata", ".sbss", ".bss") or
                                          (members and alloc and "w" in flags[out])):
                data_segment_done = True
                addr = start_data_segment(addr)
            if out == ".sdata":
                self.linker_values["__SDATA_BEGIN__"] = addr
            if out == ".sbss":
                self.linker_values["_edata"] = self.linker_values["edata"] = addr
                self.linker_values["__bss_start"] = addr
            if not members:
                continue
            members = sorted(members, key=input_rank)     # stable: source order within a rank
            if not alloc:
                start = position = 0
            else:
                align = max(s.align for s in members)
                start = self.starts[out] if out in self.starts else _align_up(addr, align)
                position = start
            if out == ".data":
                self.linker_values["__DATA_BEGIN__"] = start
            for s in members:
                position = _align_up(position, s.align)
                self.base[s] = position
                position += s.offsets[-1]
            end = position
            if out == ".bss" and end != start:
                end = _align_up(end, 8)
            outputs.append((out, start, end, members, alloc))
            # ld puts an orphan with a --section-start address out of the way:
            # it does not move the location counter
            if alloc and not (out in self.starts and out not in STANDARD_ORDER):
                addr = end
            if out == ".text":
                for name in ("_etext", "etext", "__etext"):
                    self.linker_values[name] = end
        if not data_segment_done:
            addr = start_data_segment(addr)
        lv = self.linker_values
        lv.setdefault("__SDATA_BEGIN__", addr)
        lv.setdefault("__bss_start", lv["__SDATA_BEGIN__"])
        lv.setdefault("_edata", lv["__bss_start"])
        lv.setdefault("edata", lv["__bss_start"])
        bss_end = _align_up(addr, 8)
        lv["__BSS_END__"] = bss_end
        lv["_end"] = lv["end"] = bss_end
        lv["__global_pointer$"] = min(lv["__SDATA_BEGIN__"] + 0x800,
                                      max(lv["__DATA_BEGIN__"] + 0x800, lv["__BSS_END__"] - 0x800))
        self.segment_end = bss_end                       # DATA_SEGMENT_END (.)
        return outputs

    def saves_a_page(self):
        """ld's lang_size_segment: start the data segment on a page boundary when
        that saves a page of memory (it spans two pages and the partial pages at
        its ends fit in one)."""
        base, end = self.segment_base, self.segment_end
        first = -base & (PAGE - 1)
        last = end & (PAGE - 1)
        return bool(first and last and base // PAGE != end // PAGE and first + last <= PAGE)

    # ------------------------------------------------------------ values
    def address_of_label(self, sym):
        return self.base[sym.section] + sym.section.offsets[sym.index]

    def lookup(self, name):
        sym = self.asm.symbols.get(name)
        if sym is None or sym.kind is None:
            if name in self.linker_values:
                self.used_linker_symbols.add(name)
                return self.linker_values[name]
            raise LineError("undefined symbol `%s'" % _display(name))
        if sym.kind == "label":
            return self.address_of_label(sym)
        if sym.kind == "const":
            return sym.value
        if name in self.resolving:
            raise LineError("symbol `%s' is defined in terms of itself" % name)
        self.resolving.add(name)
        try:
            return E.evaluate(sym.node, self.lookup)
        finally:
            self.resolving.discard(name)

    def value(self, node):
        return E.evaluate(node, self.lookup)

    def section_bytes(self, section):
        out = bytearray()
        offsets = section.offsets
        base = self.base[section]
        for index, item in enumerate(section.items):
            pc = base + offsets[index]
            try:
                if isinstance(item, Data):
                    out += item.data
                elif isinstance(item, Align):
                    out += item.bytes_at(offsets[index])
                elif isinstance(item, Org):
                    if offsets[index] > item.target:
                        raise LineError("attempt to move .org backwards (from 0x%x to 0x%x)"
                                        % (offsets[index], item.target))
                    out += bytes([item.fill]) * item.size(offsets[index])
                elif isinstance(item, DataExpr):
                    value = self.value(item.node)
                    out += (value & ((1 << (8 * item.nbytes)) - 1)).to_bytes(item.nbytes, "little")
                elif isinstance(item, Insn):
                    out += self.insn_bytes(item, pc)
                elif isinstance(item, Branch):
                    out += self.branch_bytes(item, pc)
                elif isinstance(item, RawBranch):
                    val = self.value(item.node) - pc
                    if not item.field.fits(val):
                        raise LineError(".insn target offset %d out of range or misaligned" % val)
                    out += (item.word | item.field.insert(val)).to_bytes(4, "little")
            except LineError as e:
                self.asm.error(e.message, getattr(item, "where", None))
                out += bytes(item.size(offsets[index]))
        return bytes(out)

    def insn_bytes(self, item, pc):
        ops = dict(item.operands)
        for operand, (kind, node) in item.deferred.items():
            if kind == "hi":
                value = self.value(node)
                _check_hi_absolute(value)
                ops[operand] = hi20(value)
            elif kind == "lo":
                ops[operand] = lo12(self.value(node))
            elif kind == "pcrel_hi":
                delta = self.value(node) - pc
                _check_hi(delta, "%pcrel_hi")
                ops[operand] = hi20(delta)
            elif kind == "pcrel_lo":
                ops[operand] = lo12(self.pcrel_lo_delta(node))
        try:
            return isa.encode(item.name, **ops).to_bytes(4, "little")
        except isa.EncodingError as e:
            raise LineError(str(e))

    def pcrel_lo_delta(self, node):
        """%pcrel_lo(label): the offset computed by the %pcrel_hi auipc at `label`."""
        if node[0] != "sym":
            raise LineError("%pcrel_lo needs the label of an auipc with %pcrel_hi")
        sym = self.asm.symbols.get(node[1])
        if sym is None or sym.kind != "label":
            raise LineError("%%pcrel_lo: `%s' is not a label" % _display(node[1]))
        items = sym.section.items
        index = sym.index
        while index < len(items) and isinstance(items[index], Data) and not items[index].data:
            index += 1
        auipc = items[index] if index < len(items) else None
        if not (isinstance(auipc, Insn) and auipc.name == "auipc" and "imm" in auipc.deferred
                and auipc.deferred["imm"][0] == "pcrel_hi"):
            raise LineError("%%pcrel_lo: no auipc with %%pcrel_hi at `%s'" % _display(node[1]))
        return self.value(auipc.deferred["imm"][1]) - self.address_of_label(sym)

    def branch_bytes(self, item, pc):
        target = self.value(item.node)
        val = target - pc
        if val % 2:
            raise LineError("misaligned branch target 0x%x (branches need 2-byte alignment)" % target)
        length = item.length

        def enc(name, **ops):
            try:
                return isa.encode(name, **ops)
            except isa.EncodingError:
                raise LineError("branch target 0x%x out of range for %s (offset %d)"
                                % (target, item.explicit or name, val))
        if length == 2:
            if item.cond is None:
                return enc("c.j", imm=val).to_bytes(2, "little")
            return enc("c.beqz" if item.cond == "beq" else "c.bnez", rs1=item.rs1, imm=val).to_bytes(2, "little")
        if length == 4:
            if item.cond is None:
                return enc("jal", rd=item.rd, imm=val).to_bytes(4, "little")
            return enc(item.cond, rs1=item.rs1, rs2=item.rs2, imm=val).to_bytes(4, "little")
        if length == 6:
            skip = enc("c.bnez" if item.cond == "beq" else "c.beqz", rs1=item.rs1, imm=6)
            return skip.to_bytes(2, "little") + enc("jal", rd=0, imm=val - 2).to_bytes(4, "little")
        skip = enc(INVERTED[item.cond], rs1=item.rs1, rs2=item.rs2, imm=8)
        return skip.to_bytes(4, "little") + enc("jal", rd=0, imm=val - 4).to_bytes(4, "little")

    # ------------------------------------------------------------ program
    def program(self, sections):
        asm = self.asm
        symbols = {}
        elf_symbols = []
        out_of = {}
        for out in sections:
            out_of[out.name] = out
        section_of_input = {}
        for s in asm.section_order:
            section_of_input[s] = output_name(s)
        for name, sym in asm.symbols.items():
            if sym.kind is None:
                continue
            if "\x02" in name:
                continue
            try:
                value = self.lookup(name)
            except LineError as e:
                asm.error(e.message, sym.where or asm.where)
                continue
            value &= E.MASK64
            symbols[name] = value
            if name.startswith(".L"):
                continue
            section = section_of_input[sym.section] if sym.kind == "label" else None
            size = 0
            if sym.size_node is not None:
                try:
                    size = self.value(sym.size_node)
                except LineError as e:
                    asm.error(e.message, sym.where or asm.where)
            elf_symbols.append(ElfSymbol(name, value, section, sym.is_global, sym.type, size))
        for name in sorted(self.used_linker_symbols):
            symbols[name] = self.linker_values[name]
        entry = symbols.get("_start")
        if entry is None:
            text = out_of.get(".text")
            entry = text.addr if text is not None else self.starts[".text"]
        return Program(entry, symbols, sections, asm.initial_rvc, elf_symbols,
                       arch=arch_string(asm.accepted_extensions()))


def _align_up(value, align):
    return (value + align - 1) // align * align if align > 1 else value


def _check_hi(value, what):
    if not -(1 << 31) <= value + 0x800 < (1 << 31):
        raise LineError("%s value 0x%x out of range (must fit in 32 signed bits)" % (what, value & E.MASK64))


def _check_hi_absolute(value):
    """%hi of a constant: GNU as takes any value of magnitude below 2**32 and
    keeps the low 20 bits of (value + 0x800) >> 12, so a positive 32-bit
    constant whose rounding carries into bit 31 wraps (lui then sign-extends,
    and %lo's negative addend brings the sum back to the 32-bit pattern)."""
    if not -(1 << 32) < value < (1 << 32):
        raise LineError("%%hi value 0x%x out of range (its magnitude must be below 2**32)"
                        % (value & E.MASK64))


def _display(name):
    if "\x02" in name:
        return name[2:].split("\x02")[0] + "f"    # an unresolved 1f (1b fails at parse time)
    return name

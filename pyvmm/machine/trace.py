"""`--trace`: QEMU `-d`-style logs of what the hart does, one instruction at a
time.

Classes (any combination, comma-separated):
  in_asm        each instruction the first time it executes, disassembled
                (`0x80000000:  00000297          auipc t0,0x0`)
  exec          the pc (and privilege) of every instruction executed
  int           every trap and interrupt taken: cause, epc, tval, the mode taking it
  cpu           the hart's registers as each step starts, in QEMU's `-d cpu`
                layout (pc, the trap CSRs, x0..x31 with their ABI names)
  fpu           with cpu: f0..f31 too (all 64 bits), as QEMU's `-d cpu,fpu`
  mmu           every page walk: the VA, the satp/vsatp/hgatp modes, each PTE
                read (address and value), the result or the fault; at V=1 the
                G-stage walk of each VS-stage PTE and of the final GPA
  exit          every exit of the core to the board's Python (MMIO, trap,
                watch, WFI) with its pc and address or cause
  guest_errors  what QEMU reports under guest_errors: accesses nothing
                decodes (bus faults), invalid PLIC and virtio-mmio register
                accesses, virtio devices entering DEVICE_NEEDS_RESET and why
  unimp         accesses to device registers the model does not implement
                (QEMU's goldfish RTC offsets) and reads of the performance
                counters, which the hart hardwires to zero

A filter (QEMU's -dfilter, see parse_filter) keeps in_asm, exec, cpu and mmu
output to instructions (and, for mmu, translated addresses) in given ranges.

The machine steps the core one instruction at a time while tracing, so the
log is exact, and slow. Page walks are re-walked here, in Python, whenever
the core's walk counter moved in a step; PTE values are those in memory
after the walk, with the A and D bits the walk itself set.
"""

import re

from pyvmm.isa import INTERRUPT_BIT, cause_name, csr_number
from pyvmm.isa.codec import expand_compressed
from pyvmm.isa.registers import freg_name, reg_name

TRACE_CLASSES = ("in_asm", "int", "exec", "cpu", "fpu", "mmu", "exit", "guest_errors", "unimp")
# The classes a filter restricts (the others are not about one instruction).
FILTERED_CLASSES = ("in_asm", "exec", "cpu", "mmu")

PRIV_M = 3
PRIV_NAMES = {0: "U", 1: "S", 3: "M"}
VIRT_PRIV_NAMES = {0: "VU", 1: "VS"}

_CSR_SATP = csr_number("satp")
_CSR_VSATP = csr_number("vsatp")
_CSR_HGATP = csr_number("hgatp")
_CSR_MSTATUS = csr_number("mstatus")
_CSR_VSSTATUS = csr_number("vsstatus")
_CSR_HSTATUS = csr_number("hstatus")
_CSR_MTVEC = csr_number("mtvec")
_CSR_STVEC = csr_number("stvec")
_TRAP_CSRS = {
    PRIV_M: (csr_number("mcause"), csr_number("mepc"), csr_number("mtval")),
    1: (csr_number("scause"), csr_number("sepc"), csr_number("stval")),
}
_SATP_LEVELS = {8: 3, 9: 4}      # Sv39, Sv48
_SATP_MODE_NAMES = {0: "bare", 8: "sv39", 9: "sv48"}
_HGATP_MODE_NAMES = {0: "bare", 8: "sv39x4", 9: "sv48x4"}
_PTE_V, _PTE_R, _PTE_W, _PTE_X, _PTE_U, _PTE_A, _PTE_D = 1, 2, 4, 8, 16, 64, 128
_PTE_HIGH_BITS = 0xFFC0_0000_0000_0000
_PPN_MASK = (1 << 44) - 1
_MSTATUS_MPRV = 1 << 17
_MSTATUS_SUM = 1 << 18
_MSTATUS_MXR = 1 << 19
_MSTATUS_MPV = 1 << 39
_HSTATUS_SPVP = 1 << 8

# QEMU 7.2's riscv_cpu_dump_state: these CSRs (the H ones when the hart has H), in this order.
_CPU_DUMP_CSRS = ("mhartid", "mstatus", "hstatus", "vsstatus", "mip", "mie", "mideleg", "hideleg",
                  "medeleg", "hedeleg", "mtvec", "stvec", "vstvec", "mepc", "sepc", "vsepc",
                  "mcause", "scause", "vscause", "mtval", "stval", "htval", "mtval2", "mscratch",
                  "sscratch", "satp")
_H_CSRS = frozenset(("hstatus", "vsstatus", "hideleg", "hedeleg", "vstvec", "vsepc", "vscause",
                     "htval", "mtval2"))

# Access kinds of a page walk, and the faults each raises.
FETCH, LOAD, STORE = "fetch", "load", "store"
_PAGE_FAULT = {FETCH: 12, LOAD: 13, STORE: 15}
_ACCESS_FAULT = {FETCH: 1, LOAD: 5, STORE: 7}
_GUEST_PAGE_FAULT = {FETCH: 20, LOAD: 21, STORE: 23}

# Counters the hart keeps but hardwires to zero: hpmcounter3..31,
# mhpmcounter3..31 and the events that would select what they count.
_ZERO_COUNTERS = frozenset(list(range(0xC03, 0xC20)) + list(range(0xB03, 0xB20))
                           + list(range(0x323, 0x340)))


def parse_classes(text):
    """'in_asm,int' -> {'in_asm', 'int'}; ValueError naming an unknown class."""
    classes = {c.strip() for c in text.split(",") if c.strip()}
    unknown = sorted(classes - set(TRACE_CLASSES))
    if unknown:
        raise ValueError(f"unknown trace class {unknown[0]!r} (choose from {', '.join(TRACE_CLASSES)})")
    if not classes:
        raise ValueError("no trace class given")
    return classes


_FILTER_RANGE = re.compile(r"^\s*(\S+?)\s*(\+|-|\.\.)\s*(\S+)\s*$")


def parse_filter(text):
    """QEMU's -dfilter: comma-separated ranges START+SIZE, START..END
    (inclusive) or END-SIZE (the SIZE bytes ending at END), numbers in C
    syntax. Returns [(first, last)] inclusive; ValueError on a bad range."""
    ranges = []
    for part in text.split(","):
        match = _FILTER_RANGE.match(part)
        if not match:
            raise ValueError(f"bad filter range {part.strip()!r} (expected START+SIZE, "
                             "START..END or END-SIZE, e.g. 0x80000000+0x100)")
        first_text, op, second_text = match.groups()
        try:
            first, second = int(first_text, 0), int(second_text, 0)
        except ValueError:
            raise ValueError(f"bad filter range {part.strip()!r}: not a number") from None
        if first < 0 or second < 0:
            raise ValueError(f"bad filter range {part.strip()!r}: negative address")
        if op == "..":
            low, high = first, second
        elif second == 0:
            raise ValueError(f"bad filter range {part.strip()!r}: empty")
        elif op == "+":
            low, high = first, first + second - 1
        else:
            low, high = first - second + 1, first
        if low < 0 or high < low or high >> 64:
            raise ValueError(f"bad filter range {part.strip()!r}: empty or outside 64 bits")
        ranges.append((low, high))
    return ranges


def _trap_total(stats):
    return sum(stats.get("traps", {}).values()) + sum(stats.get("interrupts", {}).values())


def _sext(value, bits):
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def data_access(word):
    """The memory access an instruction makes: (kind, rs1, offset, size,
    hypervisor) with kind LOAD or STORE, hypervisor 0 for ordinary accesses,
    1 for HLV/HSV, 2 for HLVX; None when it makes none."""
    if word & 3 != 3:
        word = expand_compressed(word)
        if word is None:
            return None
    opcode, funct3, rs1 = word & 0x7F, (word >> 12) & 7, (word >> 15) & 31
    if opcode in (0x03, 0x07):
        if opcode == 0x07 and funct3 not in (2, 3):
            return None
        return LOAD, rs1, _sext(word >> 20, 12), 1 << (funct3 & 3), 0
    if opcode in (0x23, 0x27):
        if opcode == 0x27 and funct3 not in (2, 3):
            return None
        return STORE, rs1, _sext(((word >> 25) << 5) | ((word >> 7) & 31), 12), 1 << (funct3 & 3), 0
    if opcode == 0x2F and funct3 in (2, 3):
        return (LOAD if word >> 27 == 2 else STORE), rs1, 0, 1 << funct3, 0
    if opcode == 0x73 and funct3 == 4:
        funct7, rs2 = word >> 25, (word >> 20) & 31
        if 0x30 <= funct7 <= 0x37:
            size = 1 << ((funct7 >> 1) & 3)
            if funct7 & 1:
                return STORE, rs1, 0, size, 1
            return LOAD, rs1, 0, size, 2 if rs2 == 3 else 1
    return None


def csr_access(word):
    """The CSR number a Zicsr instruction names, or None."""
    if word & 3 == 3 and word & 0x7F == 0x73 and (word >> 12) & 7 not in (0, 4):
        return word >> 20
    return None


class Tracer:
    def __init__(self, classes, out, ram_base, ram_size, bus=None):
        unknown = set(classes) - set(TRACE_CLASSES)
        if unknown:
            raise ValueError(f"unknown trace class {sorted(unknown)[0]!r}")
        self.classes = set(classes)
        self.out = out
        self.ram_base = ram_base
        self.ram_end = ram_base + ram_size
        self.bus = bus
        self.filters = None         # [(first, last)] inclusive, from parse_filter
        self._seen = set()
        self._traps = None
        self._resume_pc = None
        self._step_pc = self._step_priv = None
        self._step_resumes = False
        self._walks = None
        self._regs = None
        self._mstatus = 0
        self._fetch_tlb = set()
        self._tlb_flushes = None
        self._device_errors = {}
        self.disassemble = None
        if "in_asm" in self.classes:
            from pyvmm.asm.disasm import disassemble
            self.disassemble = disassemble
        self._needs_insn = bool(self.classes & {"mmu", "unimp"})

    def in_filter(self, addr):
        """Is `addr` inside the filter's ranges (or is there no filter)?"""
        if self.filters is None:
            return True
        return any(first <= addr <= last for first, last in self.filters)

    # -- stepping hooks -----------------------------------------------------------

    def resume(self, pc):
        """The instruction at `pc` (already logged) left the loop for an MMIO
        access and completes (or faults) in the next step: log it once."""
        self._resume_pc = pc

    def before_step(self, core):
        self._step_pc = core.pc
        self._step_priv = core.priv
        self._step_virt = getattr(core, "virt", 0)
        self._step_resumes = self._step_pc == self._resume_pc
        self._resume_pc = None
        if self._traps is None:
            self._traps = _trap_total(core.stats())
        if "guest_errors" in self.classes and self.bus is not None:
            self._check_devices()
        if "cpu" in self.classes and not self._step_resumes and self.in_filter(self._step_pc):
            self._dump_cpu(core)
        if "mmu" in self.classes:
            stats = core.stats()
            self._walks = stats["page_walks"]
            if stats["tlb_flushes"] != self._tlb_flushes:
                self._tlb_flushes = stats["tlb_flushes"]
                self._fetch_tlb.clear()
            self._regs = list(core.x)
            self._mstatus = core.read_csr(_CSR_MSTATUS)

    def after_step(self, core):
        """Log the step once its outcome is known: a trap taken at the start
        of the step (an interrupt, or a fault completing an MMIO exit) means
        the instruction that ran was the first of the trap handler, not the
        one at the old pc."""
        traps = _trap_total(core.stats())
        if traps == self._traps:
            if not self._step_resumes:
                self._log_instruction(core, self._step_pc, self._step_priv)
            self._after_instruction(core, self._step_pc, self._step_priv, self._step_virt)
            self._log_exit(core)
            return
        self._traps = traps
        priv = core.priv
        cause_csr, epc_csr, tval_csr = _TRAP_CSRS.get(priv, _TRAP_CSRS[1])
        cause = core.read_csr(cause_csr)
        vector = self._vector(core, priv, cause)
        trap_first = core.pc != vector
        if not trap_first:
            if not self._step_resumes:
                self._log_instruction(core, self._step_pc, self._step_priv)
            self._after_instruction(core, self._step_pc, self._step_priv, self._step_virt)
        if "int" in self.classes:
            self._log_trap(cause, core.read_csr(epc_csr), core.read_csr(tval_csr),
                           PRIV_NAMES.get(priv, str(priv)))
        if trap_first:
            self._log_instruction(core, vector, priv)
            self._after_instruction(core, vector, priv, getattr(core, "virt", 0))
        self._log_exit(core)

    @staticmethod
    def _vector(core, priv, cause):
        tvec = core.read_csr(_CSR_MTVEC if priv == PRIV_M else _CSR_STVEC)
        base = tvec & ~3
        if tvec & 3 == 1 and cause & INTERRUPT_BIT:
            return base + 4 * (cause & ~INTERRUPT_BIT)
        return base

    def _log_instruction(self, core, pc, priv):
        if not self.in_filter(pc):
            return
        if self.disassemble is not None and pc not in self._seen:
            word = self._fetch(core, pc)
            if word is not None:
                self._seen.add(pc)
                length, text = self.disassemble(word, pc)
                encoding = f"{word & 0xFFFF:04x}" if length == 2 else f"{word & 0xFFFF_FFFF:08x}"
                self.out.write(f"{pc:#x}:  {encoding:<8}          {text.replace(chr(9), ' ')}\n")
        if "exec" in self.classes:
            self.out.write(f"exec: {pc:#x} {PRIV_NAMES.get(priv, priv)}\n")

    def machine_trap(self, cause, epc, tval, handler):
        """A trap the core handed to Python (SBI ecall, ...) instead of the guest."""
        if "int" in self.classes:
            self._log_trap(cause, epc, tval, handler)

    def _log_trap(self, cause, epc, tval, taken_by):
        kind = "interrupt" if cause & INTERRUPT_BIT else "exception"
        self.out.write(f"int: {kind} cause={cause:#x} ({cause_name(cause)}) epc={epc:#x} "
                       f"tval={tval:#x} -> {taken_by}\n")

    # -- cpu --------------------------------------------------------------------------

    def _dump_cpu(self, core):
        has_h = hasattr(core, "virt")
        lines = []
        if has_h:
            lines.append(f" V      =   {int(core.virt)}\n")
        lines.append(f" pc       {core.pc:016x}\n")
        for name in _CPU_DUMP_CSRS:
            if name in _H_CSRS and not has_h:
                continue
            lines.append(f" {name:<8} {core.read_csr(csr_number(name)):016x}\n")
        x = core.x
        for i in range(32):
            lines.append(f" {f'x{i}/{reg_name(i)}':<8} {x[i]:016x}")
            if i & 3 == 3:
                lines.append("\n")
        if "fpu" in self.classes:
            f = core.f
            for i in range(32):
                lines.append(f" {f'f{i}/{freg_name(i)}':<8} {f[i]:016x}")
                if i & 3 == 3:
                    lines.append("\n")
        self.out.write("".join(lines))

    # -- after each instruction: mmu and unimp ----------------------------------------

    def _after_instruction(self, core, pc, priv, virt):
        if not self._needs_insn:
            return
        word = self._fetch(core, pc, priv, virt)
        if "unimp" in self.classes and word is not None:
            csr = csr_access(word)
            if csr in _ZERO_COUNTERS:
                from pyvmm.isa import csr_name
                self.out.write(f"unimp: pc={pc:#x}: {csr_name(csr)} ({csr:#x}) is not "
                               "implemented: the counter reads as zero\n")
        if "mmu" in self.classes and self._walks is not None:
            walks = core.stats()["page_walks"] - self._walks
            if walks > 0:
                self._log_walks(core, pc, priv, virt, word, walks)

    def _log_walks(self, core, pc, priv, virt, word, walks):
        """The walks of this instruction: its fetch and its data access (and
        the second page of either when it straddles one), as many as the
        core's counter says it made; the fetch is left out when this
        tracer saw that page's translation cached since the last flush."""
        candidates = []
        fetch_key = (priv, virt, pc >> 12)
        if (word is None or fetch_key not in self._fetch_tlb) and self._translating(core, priv, virt):
            candidates.append((FETCH, pc, priv, virt, 0))
            if word is not None and word & 3 == 3 and (pc & 0xFFF) == 0xFFE:
                candidates.append((FETCH, pc + 2, priv, virt, 0))
        access = data_access(word) if word is not None else None
        if access is not None:
            kind, rs1, offset, size, hyp = access
            va = (self._regs[rs1] + offset) & ((1 << 64) - 1)
            data_priv, data_virt = priv, virt
            if hyp:
                data_virt = 1
                data_priv = 1 if core.read_csr(_CSR_HSTATUS) & _HSTATUS_SPVP else 0
            elif priv == PRIV_M and self._mstatus & _MSTATUS_MPRV:
                data_priv = (self._mstatus >> 11) & 3
                data_virt = 1 if data_priv != PRIV_M and self._mstatus & _MSTATUS_MPV else 0
            if self._translating(core, data_priv, data_virt):
                candidates.append((kind, va, data_priv, data_virt, hyp))
                if (va & 0xFFF) + size > 0x1000:
                    candidates.append((kind, (va | 0xFFF) + 1, data_priv, data_virt, hyp))
        for kind, va, walk_priv, walk_virt, hyp in candidates[:walks]:
            if not (self.in_filter(pc) or self.in_filter(va)):
                continue
            lines, paddr = self.walk(core, va, kind, walk_priv, walk_virt, hyp == 2)
            self.out.write("".join(lines))
            if kind == FETCH and paddr is not None:
                self._fetch_tlb.add((walk_priv, walk_virt, va >> 12))

    @staticmethod
    def _translating(core, priv, virt):
        if virt:
            return (core.read_csr(_CSR_VSATP) >> 60) != 0 or (core.read_csr(_CSR_HGATP) >> 60) != 0
        return priv != PRIV_M and (core.read_csr(_CSR_SATP) >> 60) != 0

    # -- mmu: page walks in Python, as the core makes them -----------------------------

    def walk(self, core, va, kind, priv, virt, hlvx=False):
        """Re-walk the translation of `va` for a `kind` access at `priv`
        (`virt`: V=1, both stages): (log lines, the physical address or
        None when the walk faults)."""
        lines = []
        if not virt:
            satp = core.read_csr(_CSR_SATP)
            mode = satp >> 60
            lines.append(f"mmu: {kind} va={va:#x} {PRIV_NAMES.get(priv, priv)} "
                         f"satp={_SATP_MODE_NAMES.get(mode, mode)} root={(satp & _PPN_MASK) << 12:#x}\n")
            status = self._mstatus
            result = self._walk_stage(core, lines, "", va, kind, priv, satp, "single",
                                      status & _MSTATUS_SUM, status & _MSTATUS_MXR, hlvx)
            return self._finish(lines, "", result, "pa")
        vsatp, hgatp = core.read_csr(_CSR_VSATP), core.read_csr(_CSR_HGATP)
        lines.append(f"mmu: {kind} va={va:#x} {VIRT_PRIV_NAMES.get(priv, priv)} "
                     f"vsatp={_SATP_MODE_NAMES.get(vsatp >> 60, vsatp >> 60)} "
                     f"root={(vsatp & _PPN_MASK) << 12:#x} "
                     f"hgatp={_HGATP_MODE_NAMES.get(hgatp >> 60, hgatp >> 60)} "
                     f"root={(hgatp & _PPN_MASK) << 12:#x}\n")
        vsstatus = core.read_csr(_CSR_VSSTATUS)
        if vsatp >> 60:
            result = self._walk_stage(core, lines, "vs ", va, kind, priv, vsatp, "vs",
                                      vsstatus & _MSTATUS_SUM,
                                      (vsstatus | self._mstatus) & _MSTATUS_MXR, hlvx)
            if isinstance(result, str):
                return self._finish(lines, "", result, "pa")
            lines.append(f"mmu:   vs -> gpa={result:#x}\n")
            gpa = result
        else:
            gpa = va
        if not hgatp >> 60:
            return self._finish(lines, "", gpa, "pa")
        lines.append(f"mmu:   g-stage gpa={gpa:#x}\n")
        result = self._walk_stage(core, lines, "  g ", gpa, kind, 0, hgatp, "g", 0,
                                  self._mstatus & _MSTATUS_MXR, hlvx)
        return self._finish(lines, "", result, "pa")

    @staticmethod
    def _finish(lines, indent, result, what):
        if isinstance(result, str):
            lines.append(f"mmu:   {indent}-> {result}\n")
            return lines, None
        lines.append(f"mmu:   {indent}-> {what}={result:#x}\n")
        return lines, result

    def _walk_stage(self, core, lines, prefix, va, kind, priv, atp, stage, sum_, mxr, hlvx):
        """One stage's walk; appends its lines. The address, or a fault's text."""
        levels = _SATP_LEVELS.get(atp >> 60)
        if levels is None:
            return va
        va_bits = 12 + 9 * levels
        if stage == "g":
            fault = _GUEST_PAGE_FAULT[kind]
            if va >> (va_bits + 2):
                return self._fault_text(fault)
        else:
            fault = _PAGE_FAULT[kind]
            if _sext(va & ((1 << va_bits) - 1), va_bits) & ((1 << 64) - 1) != va:
                return self._fault_text(fault) + " (address not sign-extended)"
        table = (atp & _PPN_MASK) << 12
        for level in range(levels - 1, -1, -1):
            shift = 12 + 9 * level
            index_mask = 0x7FF if stage == "g" and level == levels - 1 else 0x1FF
            pte_addr = table + ((va >> shift) & index_mask) * 8
            where = f"{pte_addr:#x}"
            if stage == "vs":
                gpa = pte_addr
                hgatp = core.read_csr(_CSR_HGATP)
                if hgatp >> 60:
                    lines.append(f"mmu:   vs l{level} pte gpa={gpa:#x}: g-stage\n")
                    result = self._walk_stage(core, lines, "  g ", gpa, LOAD, 0, hgatp, "g", 0, 0, False)
                    if isinstance(result, str):
                        lines.append(f"mmu:     g -> {result}\n")
                        return self._fault_text(_GUEST_PAGE_FAULT[kind]) + f" (pte gpa={gpa:#x})"
                    lines.append(f"mmu:     g -> hpa={result:#x}\n")
                    pte_addr = result
                    where = f"{gpa:#x} (hpa {pte_addr:#x})"
            pte = self._read(core, pte_addr, 8)
            if pte is None:
                lines.append(f"mmu:   {prefix}l{level} pte@{where}: not in RAM\n")
                return self._fault_text(_ACCESS_FAULT[kind])
            lines.append(f"mmu:   {prefix}l{level} pte@{where} = {pte:#018x}\n")
            if not pte & _PTE_V or (pte & _PTE_W and not pte & _PTE_R) or pte & _PTE_HIGH_BITS:
                return self._fault_text(fault) + " (invalid pte)"
            ppn = (pte >> 10) & _PPN_MASK
            if not pte & (_PTE_R | _PTE_X):
                if pte & (_PTE_A | _PTE_D | _PTE_U) or level == 0:
                    return self._fault_text(fault) + " (invalid pointer pte)"
                table = ppn << 12
                continue
            if level and ppn & ((1 << (9 * level)) - 1):
                return self._fault_text(fault) + " (misaligned superpage)"
            denied = self._denied(pte, kind, priv, stage, sum_, mxr, hlvx)
            if denied:
                return self._fault_text(fault) + f" ({denied})"
            return ((ppn << 12) & ~((1 << shift) - 1)) | (va & ((1 << shift) - 1))
        return self._fault_text(fault)

    @staticmethod
    def _denied(pte, kind, priv, stage, sum_, mxr, hlvx):
        if stage == "g":
            if not pte & _PTE_U:
                return "not a user page"
        elif pte & _PTE_U:
            if priv == 1 and (kind == FETCH or not sum_):
                return "user page from S-mode"
        elif priv == 0:
            return "supervisor page from U-mode"
        if kind == FETCH and not pte & _PTE_X:
            return "not executable"
        if kind == LOAD:
            if hlvx:
                if not pte & _PTE_X:
                    return "not executable"
            elif not (pte & _PTE_R or (mxr and pte & _PTE_X)):
                return "not readable"
        if kind == STORE and not pte & _PTE_W:
            return "not writable"
        return None

    @staticmethod
    def _fault_text(cause):
        return f"fault cause={cause:#x} ({cause_name(cause)})"

    # -- exit ---------------------------------------------------------------------------

    def _log_exit(self, core):
        if not self.classes & {"exit", "guest_errors", "unimp"}:
            return
        from pyvmm.machine.machine import (CORE_EXIT_MMIO, CORE_EXIT_NAMES, CORE_EXIT_TRAP,
                                           CORE_EXIT_WATCH, CORE_EXIT_WFI)
        reason = core.exit_reason
        if reason == CORE_EXIT_MMIO:
            addr, size, is_write = core.exit_addr, core.exit_size, core.exit_is_write
            if "exit" in self.classes:
                data = f" data={core.exit_data:#x}" if is_write else ""
                self.out.write(f"exit: mmio {'store' if is_write else 'load'} addr={addr:#x} "
                               f"size={size}{data} pc={core.exit_pc:#x}\n")
            if self.bus is not None:
                self.mmio_access(self.bus, addr, size, is_write, core.exit_pc)
        elif "exit" not in self.classes:
            return
        elif reason == CORE_EXIT_TRAP:
            cause = core.exit_cause
            self.out.write(f"exit: trap cause={cause:#x} ({cause_name(cause)}) "
                           f"tval={core.exit_tval:#x} pc={core.exit_pc:#x}\n")
        elif reason == CORE_EXIT_WATCH:
            self.out.write(f"exit: watch addr={core.exit_addr:#x} size={core.exit_size} "
                           f"data={core.exit_data:#x} pc={core.exit_pc:#x}\n")
        elif reason == CORE_EXIT_WFI:
            self.out.write(f"exit: wfi pc={core.pc:#x}\n")
        elif reason in CORE_EXIT_NAMES and CORE_EXIT_NAMES[reason] != "budget":
            self.out.write(f"exit: {CORE_EXIT_NAMES[reason]} pc={core.pc:#x}\n")

    # -- guest_errors and unimp -----------------------------------------------------------

    def bus_fault(self, addr, size, is_write, pc, reason):
        """An access the bus refused (nothing decodes it, a size the device
        does not take): the guest gets an access fault."""
        if "guest_errors" in self.classes:
            self.out.write(f"guest_errors: pc={pc:#x}: {size}-byte "
                           f"{'store' if is_write else 'load'} at {addr:#x}: {reason}\n")

    def mmio_access(self, bus, addr, size, is_write, pc):
        """Report an MMIO access a device decodes but does not serve as a
        register (guest_errors) or does not implement (unimp)."""
        region = bus.find(addr)
        if region is None or addr + size > region.end:
            return
        for cls, message in device_findings(region, addr - region.base, size, is_write):
            if cls in self.classes:
                self.out.write(f"{cls}: pc={pc:#x}: {region.name}: {message}\n")

    def _check_devices(self):
        for region in self.bus.regions:
            device = getattr(region.device, "device", None)
            counters = getattr(device, "counters", None)
            if counters is None or not hasattr(device, "last_error"):
                continue
            errors = counters.get("errors", 0)
            if errors != self._device_errors.get(region.name, 0):
                self._device_errors[region.name] = errors
                self.out.write(f"guest_errors: {region.name}: DEVICE_NEEDS_RESET: "
                               f"{device.last_error}\n")

    # -- instruction fetch as the hart sees it ------------------------------------

    def _read(self, core, paddr, size):
        if not (self.ram_base <= paddr and paddr + size <= self.ram_end):
            return None
        return int.from_bytes(core.read_mem(paddr, size), "little")

    def _translate(self, core, vaddr, priv, virt):
        """Physical address of an instruction fetch at `vaddr`, or None if the
        walk faults (the fetch then traps and nothing executes)."""
        if not self._translating(core, priv, virt):
            return vaddr
        saved = self._mstatus
        self._mstatus = core.read_csr(_CSR_MSTATUS)
        _lines, paddr = self.walk(core, vaddr, FETCH, priv, virt)
        self._mstatus = saved
        return paddr

    def _fetch(self, core, pc, priv=None, virt=None):
        priv = core.priv if priv is None else priv
        virt = getattr(core, "virt", 0) if virt is None else virt
        low_addr = self._translate(core, pc, priv, virt)
        low = None if low_addr is None else self._read(core, low_addr, 2)
        if low is None:
            return None
        if low & 3 != 3:
            return low
        high_addr = self._translate(core, pc + 2, priv, virt)
        high = None if high_addr is None else self._read(core, high_addr, 2)
        return None if high is None else low | (high << 16)


# -- what QEMU's device models report under guest_errors and unimp ---------------------

_VIRTIO_RO = {0x000, 0x004, 0x008, 0x00C, 0x010, 0x034, 0x060, 0x0FC}
_VIRTIO_WO = {0x014, 0x020, 0x024, 0x028, 0x030, 0x038, 0x03C, 0x050, 0x064,
              0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4}
_VIRTIO_RW = {0x040, 0x044, 0x070}
_VIRTIO_LEGACY_ONLY = {0x028, 0x03C, 0x040}
_VIRTIO_MODERN_ONLY = {0x044, 0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4, 0x0FC}
_RTC_READS = {0x00, 0x04, 0x08, 0x0C, 0x10, 0x18}
_RTC_WRITES = {0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x1C}


def device_findings(region, offset, size, is_write):
    """[(class, message)] for one access at `offset` of a device window, as
    QEMU 7.2's models log them: virtio-mmio and the PLIC under guest_errors,
    the goldfish RTC's unimplemented offsets under unimp."""
    from pyvmm.io.virtio.mmio import CONFIG, VirtioMmio
    from pyvmm.machine.plic import (CONTEXT_BASE, CONTEXT_CLAIM, CONTEXT_STRIDE,
                                    CONTEXT_THRESHOLD, ENABLE_BASE, ENABLE_STRIDE,
                                    PENDING_BASE, PLIC)
    from pyvmm.machine.rtc import GoldfishRTC
    device = region.device
    verb = "write" if is_write else "read"
    if isinstance(device, VirtioMmio):
        if device.device is None or offset >= CONFIG:
            return []
        if size != 4:
            return [("guest_errors", f"wrong size {verb} ({size} bytes) to register {offset:#x}")]
        if device.legacy and offset in _VIRTIO_MODERN_ONLY:
            return [("guest_errors", f"{verb} of non-legacy register {offset:#x} in legacy mode")]
        if not device.legacy and offset in _VIRTIO_LEGACY_ONLY:
            return [("guest_errors", f"{verb} of legacy register {offset:#x} in non-legacy mode")]
        if not is_write and offset in _VIRTIO_WO:
            return [("guest_errors", f"read of write-only register {offset:#x}")]
        if is_write and offset in _VIRTIO_RO:
            return [("guest_errors", f"write to read-only register {offset:#x}")]
        if offset not in _VIRTIO_RO | _VIRTIO_WO | _VIRTIO_RW:
            return [("guest_errors", f"bad register offset {offset:#x}")]
        return []
    if isinstance(device, PLIC):
        if size != 4 or offset & 3:
            return []           # a bus fault, reported as one
        if offset < PENDING_BASE:
            valid = (offset >> 2) < device.num_sources
        elif offset < ENABLE_BASE:
            if is_write:
                return [("guest_errors", f"invalid pending write: {offset:#x}")]
            valid = ((offset - PENDING_BASE) >> 2) < device._words
        elif offset < CONTEXT_BASE:
            context, word = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            valid = context < device.num_contexts and (word >> 2) < device._words
        else:
            context, register = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            valid = context < device.num_contexts and register in (CONTEXT_THRESHOLD, CONTEXT_CLAIM)
        if not valid:
            return [("guest_errors", f"invalid register {verb}: {offset:#x}")]
        return []
    if isinstance(device, GoldfishRTC):
        if size != 4 or offset & 3:
            return []
        if offset not in (_RTC_WRITES if is_write else _RTC_READS):
            return [("unimp", f"{verb} of offset {offset:#x} is not implemented")]
    return []

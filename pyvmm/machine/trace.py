"""`--trace`: QEMU `-d`-style logs of what the hart does, one instruction at a
time.

Classes (any combination, comma-separated):
  in_asm  each instruction the first time it executes, disassembled
          (`0x80000000:  00000297          auipc t0,0x0`)
  exec    the pc (and privilege) of every instruction executed
  int     every trap and interrupt taken: cause, epc, tval, the mode taking it

The machine steps the core one instruction at a time while tracing, so the
log is exact, and slow.
"""

from pyvmm.isa import INTERRUPT_BIT, cause_name, csr_number

TRACE_CLASSES = ("in_asm", "int", "exec")

PRIV_M = 3
PRIV_NAMES = {0: "U", 1: "S", 3: "M"}

_CSR_SATP = csr_number("satp")
_CSR_MTVEC = csr_number("mtvec")
_CSR_STVEC = csr_number("stvec")
_TRAP_CSRS = {
    PRIV_M: (csr_number("mcause"), csr_number("mepc"), csr_number("mtval")),
    1: (csr_number("scause"), csr_number("sepc"), csr_number("stval")),
}
_SATP_LEVELS = {8: 3, 9: 4}      # Sv39, Sv48
_PTE_V, _PTE_R, _PTE_W, _PTE_X = 1, 2, 4, 8


def parse_classes(text):
    """'in_asm,int' -> {'in_asm', 'int'}; ValueError naming an unknown class."""
    classes = {c.strip() for c in text.split(",") if c.strip()}
    unknown = sorted(classes - set(TRACE_CLASSES))
    if unknown:
        raise ValueError(f"unknown trace class {unknown[0]!r} (choose from {', '.join(TRACE_CLASSES)})")
    if not classes:
        raise ValueError("no trace class given")
    return classes


def _trap_total(stats):
    return sum(stats.get("traps", {}).values()) + sum(stats.get("interrupts", {}).values())


class Tracer:
    def __init__(self, classes, out, ram_base, ram_size):
        unknown = set(classes) - set(TRACE_CLASSES)
        if unknown:
            raise ValueError(f"unknown trace class {sorted(unknown)[0]!r}")
        self.classes = set(classes)
        self.out = out
        self.ram_base = ram_base
        self.ram_end = ram_base + ram_size
        self._seen = set()
        self._traps = None
        self._resume_pc = None
        self._step_pc = self._step_priv = None
        self._step_resumes = False
        self.disassemble = None
        if "in_asm" in self.classes:
            from pyvmm.asm.disasm import disassemble
            self.disassemble = disassemble

    # -- stepping hooks -----------------------------------------------------------

    def resume(self, pc):
        """The instruction at `pc` (already logged) left the loop for an MMIO
        access and completes (or faults) in the next step: log it once."""
        self._resume_pc = pc

    def before_step(self, core):
        self._step_pc = core.pc
        self._step_priv = core.priv
        self._step_resumes = self._step_pc == self._resume_pc
        self._resume_pc = None
        if self._traps is None:
            self._traps = _trap_total(core.stats())

    def after_step(self, core):
        """Log the step once its outcome is known: a trap taken at the start
        of the step (an interrupt, or a fault completing an MMIO exit) means
        the instruction that ran was the first of the trap handler, not the
        one at the old pc."""
        traps = _trap_total(core.stats())
        if traps == self._traps:
            if not self._step_resumes:
                self._log_instruction(core, self._step_pc, self._step_priv)
            return
        self._traps = traps
        priv = core.priv
        cause_csr, epc_csr, tval_csr = _TRAP_CSRS.get(priv, _TRAP_CSRS[1])
        cause = core.read_csr(cause_csr)
        vector = self._vector(core, priv, cause)
        trap_first = core.pc != vector
        if not trap_first and not self._step_resumes:
            self._log_instruction(core, self._step_pc, self._step_priv)
        if "int" in self.classes:
            self._log_trap(cause, core.read_csr(epc_csr), core.read_csr(tval_csr),
                           PRIV_NAMES.get(priv, str(priv)))
        if trap_first:
            self._log_instruction(core, vector, priv)

    @staticmethod
    def _vector(core, priv, cause):
        tvec = core.read_csr(_CSR_MTVEC if priv == PRIV_M else _CSR_STVEC)
        base = tvec & ~3
        if tvec & 3 == 1 and cause & INTERRUPT_BIT:
            return base + 4 * (cause & ~INTERRUPT_BIT)
        return base

    def _log_instruction(self, core, pc, priv):
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

    # -- instruction fetch as the hart sees it ------------------------------------

    def _read(self, core, paddr, size):
        if not (self.ram_base <= paddr and paddr + size <= self.ram_end):
            return None
        return int.from_bytes(core.read_mem(paddr, size), "little")

    def _translate(self, core, vaddr):
        """Physical address of an instruction fetch at `vaddr`, or None if the
        walk faults (the fetch then traps and nothing executes)."""
        if core.priv == PRIV_M:
            return vaddr
        satp = core.read_csr(_CSR_SATP)
        levels = _SATP_LEVELS.get(satp >> 60)
        if levels is None:
            return vaddr
        table = (satp & ((1 << 44) - 1)) << 12
        for level in range(levels - 1, -1, -1):
            vpn = (vaddr >> (12 + 9 * level)) & 0x1FF
            pte = self._read(core, table + 8 * vpn, 8)
            if pte is None or not pte & _PTE_V or (pte & _PTE_W and not pte & _PTE_R):
                return None
            ppn = (pte >> 10) & ((1 << 44) - 1)
            if pte & (_PTE_R | _PTE_X):
                offset_mask = (1 << (12 + 9 * level)) - 1
                return ((ppn << 12) & ~offset_mask) | (vaddr & offset_mask)
            table = ppn << 12
        return None

    def _fetch(self, core, pc):
        low_addr = self._translate(core, pc)
        low = None if low_addr is None else self._read(core, low_addr, 2)
        if low is None:
            return None
        if low & 3 != 3:
            return low
        high_addr = self._translate(core, pc + 2)
        high = None if high_addr is None else self._read(core, high_addr, 2)
        return None if high is None else low | (high << 16)

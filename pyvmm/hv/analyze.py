"""Popek and Goldberg's analysis of the ISA for a CPU profile.

Popek and Goldberg (1974): a machine can be virtualized by trap-and-emulate
when every *sensitive* instruction is *privileged*, i.e. traps when the
de-privileged guest kernel executes it. Here:

- privileged: executing it in U-mode traps (illegal or virtual instruction,
  or an environment call). This is *measured*: each instruction and each CSR
  access is run once in U-mode on a fresh `pyvmm._core.Core` with the chosen
  `cpu_profile`, so the answer is what the emulator does, not what a table says.
- sensitive: from the specification. Control-sensitive instructions change
  privileged state (the mode, a supervisor/machine/hypervisor CSR, the
  translation in use, the hart's run state); behaviour-sensitive ones return
  something that depends on it (a privileged CSR's value, a guest-physical
  load). Unprivileged counters (cycle, time, instret) count as innocuous:
  a trap-and-emulate VMM leaves them to the hardware.
- innocuous: neither.

Under the standard profile the condition holds. Under `classic`, reading
sstatus or satp from U-mode returns the real value and writing sstatus from
U-mode is ignored (as x86's PUSHF/SMSW/POPF before VT-x), so it fails and
`analyze` names them.

Compressed instructions expand to base instructions and share their class;
they are not listed separately.
"""

from dataclasses import dataclass, asdict

from pyvmm.isa.codec import encode
from pyvmm.isa.csrs import CSRS, csr_min_priv, csr_read_only
from pyvmm.isa.instructions import INSTRUCTIONS

PROFILES = {"standard": 0, "classic": 1}

RAM_BASE = 0x8000_0000
_DATA_OFFSET = 0x800        # where memory operands point: RAM, 8-byte aligned
_REG_DATA = 6               # x6 holds the data address, x7 a benign value
_REG_VALUE = 7
_TRAP_CAUSES = {2: "illegal instruction", 22: "virtual instruction",
                8: "environment call", 3: "breakpoint"}

# Control-sensitive: changes the mode, the memory map, or the hart's run state.
_CONTROL = {"sret", "mret", "wfi", "sfence.vma", "hfence.vvma", "hfence.gvma", "ecall"}
_CONTROL.update(ins.name for ins in INSTRUCTIONS if ins.name.startswith("hsv."))
# Behaviour-sensitive: the result depends on privileged state (guest translation).
_BEHAVIOUR = {ins.name for ins in INSTRUCTIONS if ins.name.startswith(("hlv.", "hlvx."))}


@dataclass(frozen=True)
class Verdict:
    """One instruction (or one CSR access: "csrr NAME" / "csrw NAME") under a profile."""
    name: str
    privileged: bool        # traps in U-mode
    sensitive: str          # "" | "control" | "behaviour"
    trap: str               # what U-mode execution raised, "" when it did not trap

    @property
    def kind(self):
        if self.sensitive and not self.privileged:
            return "sensitive-unprivileged"
        if self.privileged:
            return "privileged"
        return "innocuous"


@dataclass
class Analysis:
    profile: str
    verdicts: list

    @property
    def offending(self):
        """Sensitive but unprivileged: what breaks trap-and-emulate."""
        return [v for v in self.verdicts if v.sensitive and not v.privileged]

    @property
    def holds(self):
        return not self.offending

    def counts(self):
        return {
            "total": len(self.verdicts),
            "privileged": sum(v.privileged for v in self.verdicts),
            "sensitive": sum(bool(v.sensitive) for v in self.verdicts),
            "innocuous": sum(not v.sensitive and not v.privileged for v in self.verdicts),
            "sensitive_unprivileged": len(self.offending),
        }

    def to_dict(self):
        return {"profile": self.profile, "popek_goldberg_holds": self.holds,
                "counts": self.counts(),
                "offending": [v.name for v in self.offending],
                "verdicts": [dict(asdict(v), kind=v.kind) for v in self.verdicts]}


def analyze(profile="standard"):
    """Classify every instruction and CSR access of the ISA under `profile`."""
    if profile not in PROFILES:
        raise ValueError("unknown CPU profile %r (choose from %s)" % (profile, ", ".join(PROFILES)))
    probe = _Probe(PROFILES[profile])
    verdicts = []
    for ins in INSTRUCTIONS:
        if ins.ext == "Zicsr":
            continue        # classified per CSR below
        word = encode(ins.name, **_operands(ins))
        verdicts.append(Verdict(ins.name, *_trap_and_sensitivity(probe, word, _instruction_sensitivity(ins.name))))
    for name, number in sorted(CSRS.items(), key=lambda item: item[1]):
        if not probe.exists(number):
            continue        # not implemented by this hart: illegal everywhere, nothing to virtualize
        read = encode("csrrs", rd=5, csr=number, rs1=0)
        verdicts.append(Verdict("csrr " + name, *_trap_and_sensitivity(
            probe, read, "behaviour" if _privileged_csr(number) else "")))
        if csr_read_only(number):
            continue        # writes are illegal in every mode: they change nothing
        write = encode("csrrw", rd=0, csr=number, rs1=_REG_VALUE)
        verdicts.append(Verdict("csrw " + name, *_trap_and_sensitivity(
            probe, write, "control" if _privileged_csr(number) else "")))
    return Analysis(profile, verdicts)


def _privileged_csr(number):
    return csr_min_priv(number) > 0


def _instruction_sensitivity(name):
    if name in _CONTROL:
        return "control"
    if name in _BEHAVIOUR:
        return "behaviour"
    return ""


def _trap_and_sensitivity(probe, word, sensitivity):
    trap = probe.u_mode_trap(word)
    return (bool(trap), sensitivity, trap)


def _operands(ins):
    """Operands that make `ins` a harmless, non-faulting instance when it does not trap."""
    values = {"rd": 5, "rs1": _REG_DATA, "rs2": _REG_VALUE, "imm": 8, "shamt": 1,
              "pred": 0xF, "succ": 0xF, "rs3": 0, "rm": 0}
    if ins.fmt == "SFENCE":
        values.update(rs1=0, rs2=0)
    if ins.fmt == "PREFETCH":
        values.update(imm=32)           # prefetch offsets are multiples of 32
    return {f.name: values[f.name] for f in ins.fields}


class _Probe:
    """A fresh one-instruction run in U-mode on the core, per question asked."""

    def __init__(self, cpu_profile):
        from pyvmm._core import Core
        self._core_class = Core
        self.cpu_profile = cpu_profile

    def _core(self):
        core = self._core_class(ram_size=1 << 16, ram_base=RAM_BASE)
        if self.cpu_profile:
            core.cpu_profile = self.cpu_profile
        # one PMP rule over everything so U-mode may fetch and access RAM (QEMU's virt does the same via OpenSBI)
        core.write_csr(0x3B0, (1 << 54) - 1)
        core.write_csr(0x3A0, 0x1F)
        core.exit_on_exception = (1 << 64) - 1
        core.exit_on_interrupt = (1 << 64) - 1
        core.set_x(_REG_DATA, RAM_BASE + _DATA_OFFSET)
        core.set_x(_REG_VALUE, 0)
        return core

    def exists(self, csr_number):
        """Whether the hart implements CSR `csr_number` (M-mode can read it)."""
        core = self._core()
        core.write_mem(RAM_BASE, encode("csrrs", rd=5, csr=csr_number, rs1=0).to_bytes(4, "little"))
        core.pc = RAM_BASE
        core.priv = 3
        return core.run(1) != 3     # EXIT_TRAP: illegal in M-mode

    def u_mode_trap(self, word):
        """The trap U-mode execution of `word` raises, or "" when it retires."""
        core = self._core()
        core.write_mem(RAM_BASE, word.to_bytes(4, "little"))
        core.pc = RAM_BASE
        core.priv = 0
        if core.run(1) == 3:
            cause = core.exit_cause
            if cause in _TRAP_CAUSES:
                return _TRAP_CAUSES[cause]
            # a memory fault or the like: the instruction itself is not privileged
            return ""
        return ""


def format_table(analysis, show_all=False):
    """The report `pyvmm analyze` prints."""
    c = analysis.counts()
    lines = ["CPU profile %s: %d instructions and CSR accesses: %d privileged (trap in U-mode), "
             "%d sensitive, %d innocuous"
             % (analysis.profile, c["total"], c["privileged"], c["sensitive"], c["innocuous"])]
    if analysis.holds:
        lines.append("Popek-Goldberg condition (sensitive <= privileged): holds; "
                     "trap-and-emulate can virtualize this CPU")
    else:
        lines.append("Popek-Goldberg condition (sensitive <= privileged): FAILS; %d sensitive "
                     "instruction(s) do not trap in U-mode:" % len(analysis.offending))
        for v in analysis.offending:
            lines.append("  %-24s %s-sensitive, executes in U-mode without trapping" % (v.name, v.sensitive))
    if show_all:
        lines.append("")
        lines.append("%-24s %-11s %-10s %s" % ("instruction", "privileged", "sensitive", "U-mode trap"))
        for v in analysis.verdicts:
            lines.append("%-24s %-11s %-10s %s" % (v.name, "yes" if v.privileged else "no",
                                                   v.sensitive or "-", v.trap or "-"))
    return "\n".join(lines)

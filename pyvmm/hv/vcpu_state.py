"""The privileged state of a virtual RISC-V supervisor, kept in Python.

Under trap-and-emulate the guest kernel runs in real U-mode, so the hart's
own S-mode CSRs are not the guest's: this object is. It holds the virtual
privilege (S or U) and every supervisor CSR the guest can reach, applies the
spec's access rules and WARL masks (the same ones pyvmm's core applies to
its real CSRs, so a guest sees identical values), and performs the state
changes of trap entry and sret. It never touches the hart: time, counters
and satp's effect on translation are the caller's (pyvmm.hv.trap_emulate).
"""

MASK64 = (1 << 64) - 1
PRIV_U, PRIV_S = 0, 1

SSTATUS_SIE = 1 << 1
SSTATUS_SPIE = 1 << 5
SSTATUS_SPP = 1 << 8
SSTATUS_SUM = 1 << 18
SSTATUS_MXR = 1 << 19
SSTATUS_FS = 3 << 13                 # F/D state: Off, Initial, Clean, Dirty
SSTATUS_SD = 1 << 63                 # read-only: FS is Dirty
SSTATUS_WRITABLE = SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP | SSTATUS_FS | SSTATUS_SUM | SSTATUS_MXR
SSTATUS_UXL_64 = 2 << 32             # read-only: U-mode is RV64

IRQ_S_SOFT, IRQ_S_TIMER, IRQ_S_EXT = 1, 5, 9
SIP_SSIP = 1 << IRQ_S_SOFT
SIP_STIP = 1 << IRQ_S_TIMER
SIP_SEIP = 1 << IRQ_S_EXT
S_INTERRUPTS = SIP_SSIP | SIP_STIP | SIP_SEIP
SIP_WRITABLE = SIP_SSIP              # STIP and SEIP are set by the timer and the PLIC
# Simultaneous pending interrupts are taken in this order (privileged spec 3.1.9).
INTERRUPT_PRIORITY = (IRQ_S_EXT, IRQ_S_SOFT, IRQ_S_TIMER)
INTERRUPT_BIT = 1 << 63

SENVCFG_WRITABLE = 0xF1              # FIOM and the Zicbom/Zicboz enables, as the hart
STVEC_MODE_MASK = 3

SATP_MODES = (0, 8, 9)               # Bare, Sv39, Sv48

CSR_SSTATUS, CSR_SIE, CSR_STVEC, CSR_SCOUNTEREN, CSR_SENVCFG = 0x100, 0x104, 0x105, 0x106, 0x10A
CSR_SSCRATCH, CSR_SEPC, CSR_SCAUSE, CSR_STVAL, CSR_SIP = 0x140, 0x141, 0x142, 0x143, 0x144
CSR_STIMECMP, CSR_SATP = 0x14D, 0x180
CSR_CYCLE, CSR_TIME, CSR_INSTRET, CSR_HPMCOUNTER31 = 0xC00, 0xC01, 0xC02, 0xC1F

CSR_NAMES = {
    CSR_SSTATUS: "sstatus", CSR_SIE: "sie", CSR_STVEC: "stvec", CSR_SCOUNTEREN: "scounteren",
    CSR_SENVCFG: "senvcfg", CSR_SSCRATCH: "sscratch", CSR_SEPC: "sepc", CSR_SCAUSE: "scause",
    CSR_STVAL: "stval", CSR_SIP: "sip", CSR_STIMECMP: "stimecmp", CSR_SATP: "satp",
    CSR_CYCLE: "cycle", CSR_TIME: "time", CSR_INSTRET: "instret",
}
NAMED_CSRS = {name: number for number, name in CSR_NAMES.items()}


def with_sd(status):
    """sstatus with SD set exactly when FS is Dirty. SD is kept in the stored
    value, so code that reads the register without Python (binary
    translation's state page) sees it too."""
    if status & SSTATUS_FS == SSTATUS_FS:
        return status | SSTATUS_SD
    return status & ~SSTATUS_SD


class IllegalAccess(Exception):
    """The access the guest attempted raises illegal-instruction on its hart."""


def csr_name(csr):
    if CSR_CYCLE < csr <= CSR_HPMCOUNTER31 and csr not in CSR_NAMES:
        return f"hpmcounter{csr - CSR_CYCLE}"
    return CSR_NAMES.get(csr, f"csr{csr:#x}")


class SupervisorState:
    """A virtual hart's S-level state. `counters` is a callable
    csr -> value for cycle/time/instret/hpmcounterN reads; `stce` says
    whether the virtual firmware enabled Sstc (stimecmp accessible)."""

    def __init__(self, counters=None, stce=True):
        self.counters = counters or (lambda csr: 0)
        self.stce = stce
        self.mcounteren = 0xFFFF_FFFF     # what the (virtual) SBI firmware grants S-mode
        self.reset()

    def reset(self):
        """As SBI firmware enters a kernel: S-mode, interrupts and paging off."""
        self.priv = PRIV_S
        self.sstatus = 0
        self.sie = 0
        self.sip = 0
        self.stvec = 0
        self.scounteren = 0
        self.senvcfg = 0
        self.sscratch = 0
        self.sepc = 0
        self.scause = 0
        self.stval = 0
        self.stimecmp = MASK64
        self.satp = 0

    # -- CSR access ---------------------------------------------------------------------------

    def check_access(self, csr, write):
        """Raise IllegalAccess unless the current virtual privilege may
        access csr (read, or write when `write`)."""
        if csr not in CSR_NAMES and not CSR_CYCLE <= csr <= CSR_HPMCOUNTER31:
            raise IllegalAccess(f"no CSR {csr:#x} for the guest")
        if (csr >> 8) & 3 > self.priv:
            raise IllegalAccess(f"{csr_name(csr)} needs a higher privilege")
        if write and (csr >> 10) & 3 == 3:
            raise IllegalAccess(f"{csr_name(csr)} is read-only")
        if CSR_CYCLE <= csr <= CSR_HPMCOUNTER31:
            bit = csr - CSR_CYCLE
            if not self.mcounteren >> bit & 1:
                raise IllegalAccess(f"{csr_name(csr)} not enabled by mcounteren")
            if self.priv == PRIV_U and not self.scounteren >> bit & 1:
                raise IllegalAccess(f"{csr_name(csr)} not enabled by scounteren")
        if csr == CSR_STIMECMP and (not self.stce or not self.mcounteren >> 1 & 1):
            raise IllegalAccess("stimecmp without Sstc enabled")

    def read(self, csr):
        """The value a CSR instruction reads (access already checked)."""
        if csr == CSR_SSTATUS:
            return self.sstatus | SSTATUS_UXL_64
        if csr == CSR_SIE:
            return self.sie
        if csr == CSR_SIP:
            return self.sip
        if csr == CSR_STVEC:
            return self.stvec
        if csr == CSR_SCOUNTEREN:
            return self.scounteren
        if csr == CSR_SENVCFG:
            return self.senvcfg
        if csr == CSR_SSCRATCH:
            return self.sscratch
        if csr == CSR_SEPC:
            return self.sepc
        if csr == CSR_SCAUSE:
            return self.scause
        if csr == CSR_STVAL:
            return self.stval
        if csr == CSR_STIMECMP:
            return self.stimecmp
        if csr == CSR_SATP:
            return self.satp
        if CSR_CYCLE <= csr <= CSR_HPMCOUNTER31:
            return self.counters(csr) & MASK64
        raise IllegalAccess(f"no CSR {csr:#x} for the guest")

    def mark_fp_dirty(self):
        """The guest changed f registers or fflags: sstatus.FS = Dirty (and SD)."""
        self.sstatus = with_sd(self.sstatus | SSTATUS_FS)

    def write(self, csr, value):
        """WARL write (access already checked). Returns the set of side
        effects the caller must act on: "satp", "status" (SUM/MXR changed),
        "interrupts" (enables or pending bits changed), "timer"."""
        value &= MASK64
        if csr == CSR_SSTATUS:
            old = self.sstatus
            self.sstatus = with_sd(value & SSTATUS_WRITABLE)
            effects = {"interrupts"} if (old ^ self.sstatus) & SSTATUS_SIE else set()
            if (old ^ self.sstatus) & (SSTATUS_SUM | SSTATUS_MXR):
                effects.add("status")
            return effects
        if csr == CSR_SIE:
            self.sie = value & S_INTERRUPTS
            return {"interrupts"}
        if csr == CSR_SIP:
            self.sip = (self.sip & ~SIP_WRITABLE) | (value & SIP_WRITABLE)
            return {"interrupts"}
        if csr == CSR_STVEC:
            if value & STVEC_MODE_MASK < 2:       # reserved modes: the write is ignored
                self.stvec = value
        elif csr == CSR_SCOUNTEREN:
            self.scounteren = value & 0xFFFF_FFFF
        elif csr == CSR_SENVCFG:
            self.senvcfg = value & SENVCFG_WRITABLE
        elif csr == CSR_SSCRATCH:
            self.sscratch = value
        elif csr == CSR_SEPC:
            self.sepc = value & ~1            # IALIGN 16 (C): only bit 0 is zero
        elif csr == CSR_SCAUSE:
            self.scause = value
        elif csr == CSR_STVAL:
            self.stval = value
        elif csr == CSR_STIMECMP:
            self.stimecmp = value
            return {"timer", "interrupts"}
        elif csr == CSR_SATP:
            if value >> 60 in SATP_MODES:      # other modes: satp keeps its value
                self.satp = value
                return {"satp"}
        else:
            raise IllegalAccess(f"{csr_name(csr)} is read-only")
        return set()

    # -- traps -----------------------------------------------------------------------------------

    def enter_trap(self, cause, tval, epc, interrupt=False):
        """Take a trap into the virtual supervisor as the hart does: sepc,
        scause, stval, sstatus.SPP/SPIE/SIE, privilege S. Returns the new pc."""
        self.sepc = epc & ~1 & MASK64
        self.scause = (cause | INTERRUPT_BIT) if interrupt else cause
        self.stval = tval & MASK64
        status = self.sstatus & ~(SSTATUS_SPP | SSTATUS_SPIE | SSTATUS_SIE)
        if self.priv == PRIV_S:
            status |= SSTATUS_SPP
        if self.sstatus & SSTATUS_SIE:
            status |= SSTATUS_SPIE
        self.sstatus = status
        self.priv = PRIV_S
        base = self.stvec & ~STVEC_MODE_MASK
        if interrupt and self.stvec & 1:
            return (base + 4 * cause) & MASK64
        return base

    def sret(self):
        """sret at virtual S: privilege from SPP, SIE from SPIE. Returns the new pc."""
        status = self.sstatus
        self.priv = PRIV_S if status & SSTATUS_SPP else PRIV_U
        status &= ~(SSTATUS_SPP | SSTATUS_SIE)
        if status & SSTATUS_SPIE:
            status |= SSTATUS_SIE
        self.sstatus = status | SSTATUS_SPIE
        return self.sepc

    def pending_interrupt(self):
        """The interrupt the virtual hart takes now, or None: pending and
        enabled in sie, and globally enabled (always in U, by SIE in S)."""
        pending = self.sip & self.sie
        if not pending or (self.priv == PRIV_S and not self.sstatus & SSTATUS_SIE):
            return None
        for code in INTERRUPT_PRIORITY:
            if pending >> code & 1:
                return code
        return None

    def can_wake(self):
        """Would WFI return now? (A pending interrupt enabled in sie, whatever SIE says.)"""
        return bool(self.sip & self.sie)

    def set_pending(self, bit, level):
        self.sip = self.sip | bit if level else self.sip & ~bit

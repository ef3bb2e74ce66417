"""pyvmm's built-in SBI: the M-mode firmware of `--bios builtin`, written in Python.

No M-mode code runs. `boot()` leaves every hart as OpenSBI leaves it for a
kernel (delegation, counters, Sstc, open PMP) and drops the boot hart into
S-mode; the other harts are STOPPED until the kernel starts them through HSM,
as with OpenSBI. From then on every trap that would reach M-mode leaves the
core's run loop (`exit_on_exception` holds exactly the causes not delegated
to S), and `handle_ecall(core)` (or `handle_trap(cause, core)`, the same for
any cause) answers it for the hart that trapped:

* an `ecall` from S-mode (cause 9) is an SBI v2.0 call: a7 = EID, a6 = FID,
  a0..a5 = arguments; the answer goes to a0 (error) and a1 (value) and the hart
  resumes after the ecall. Legacy (v0.1) calls answer in a0 only.
* any other cause is one OpenSBI would not handle itself either, so, like
  OpenSBI's sbi_trap_redirect, it is delivered to the S-mode trap handler
  (scause/sepc/stval, sstatus.SPP/SPIE/SIE, pc = stvec).

Implementation id: pyvmm reports 0x7079766D ("pyvm" in ASCII), far above the
numbers the SBI spec has assigned (0 BBL ... 11 bhyve), so a kernel's
`sbi_get_impl_id` can never mistake it for another firmware.

Several harts (a `pyvmm.machine.harts.Harts` given to the constructor):
* HSM: hart_start sets the target up as a cold start (S-mode at start_addr,
  a0 = hart id, a1 = opaque, satp = 0, sstatus.SIE = 0) and lets the
  scheduler run it; hart_stop takes the caller out of the turns; a suspend
  (retentive or not) sleeps until an interrupt the hart enables in mie is
  pending, and a non-retentive one then resumes at resume_addr. The calls
  take effect at once, so the START_PENDING, STOP_PENDING, SUSPEND_PENDING
  and RESUME_PENDING states are never observed.
* sPI send_ipi sets the targets' sip.SSIP, as OpenSBI's IPI handler does.
* RFENCE flushes the targets' decoded-instruction cache (fence_i) or TLB
  (sfence/hfence: the whole TLB, which the spec allows for any range) before
  the call returns; the legacy calls do the same.
Without a Harts (a one-hart board), a suspend returns at once (a wakeup may
be spurious) and hart_stop of the only hart ends the run.

Ends of a run requested here (machine.request_stop(how, code)):
  "sbi-shutdown" 0    SRST shutdown with reason "none", legacy shutdown
  "sbi-shutdown" 1    SRST shutdown with reason "system failure"
  "sbi-reboot"   0/1  SRST cold/warm reboot: pyvmm stops, as QEMU with -no-reboot
  "idle"         125  HSM hart_stop of the only hart: nothing can ever restart it
"""

import collections

from pyvmm.isa import causes
from pyvmm.machine.sbi_calls import CALLS, HFENCE_CALLS
from pyvmm.machine.sbi_defs import *  # noqa: F401,F403 -- the SBI numbers, named here too
from pyvmm.machine.sbi_defs import (CSR_MEDELEG, CSR_MENVCFG, CSR_MIDELEG, CSR_MIE, CSR_MIP,
                                    CSR_MISA, CSR_MCOUNTEREN, CSR_MSTATUS, CSR_PMPADDR0,
                                    CSR_PMPCFG0, CSR_SATP, CSR_SCAUSE, CSR_SEPC, CSR_STIMECMP,
                                    CSR_STVAL, CSR_STVEC, DELEGATED_EXCEPTIONS,
                                    DELEGATED_EXCEPTIONS_H, DELEGATED_INTERRUPTS, EID_LEGACY_LAST,
                                    EXCEPTION_CAUSES, EXTENSION_NAMES, HSM_STARTED, HSM_STOPPED,
                                    HSM_SUSPENDED, MASK64, MENVCFG_CBO, MENVCFG_STCE, MIP_SSIP, MISA_H,
                                    MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP, MSTATUS_MPRV,
                                    MSTATUS_MXR, MSTATUS_SIE, MSTATUS_SPIE, MSTATUS_SPP,
                                    MSTATUS_SUM, PAGE_SHIFT, PMP_NAPOT_RWX, PMPADDR_ALL, PRIV_M,
                                    PRIV_S, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, SATP_MODE_BARE,
                                    SATP_MODE_SHIFT, SATP_MODE_SV39, SATP_MODE_SV48,
                                    SBI_ERR_NOT_SUPPORTED)


class GuestAddressError(Exception):
    """An S-mode virtual address the firmware cannot read."""


class BuiltinSBI:
    """SBI v2.0 for the Machine's harts, answering ecalls from Python.

    `harts`: the machine's `Harts`; None for a board of one hart
    (`machine.core`, hart id `machine.hartid`). `self.core` and
    `self.hartid` are the hart whose call is being answered."""

    def __init__(self, machine, harts=None):
        self.machine = machine
        self.harts = harts
        if harts is None or len(harts) == 1:
            self.cores = {machine.hartid: machine.core}
        else:
            self.cores = {core.hartid: core for core in harts.cores}
        self.boot_hartid = min(self.cores) if harts is not None else machine.hartid
        self.core = self.cores[self.boot_hartid]
        self.hartid = self.boot_hartid
        self.has_h = bool(self.core.read_csr(CSR_MISA) & MISA_H)
        self.medeleg = DELEGATED_EXCEPTIONS | (DELEGATED_EXCEPTIONS_H if self.has_h else 0)
        self.mideleg = DELEGATED_INTERRUPTS
        # Every cause that would reach M-mode leaves the loop: there is no M-mode code.
        self.exit_on_exception = EXCEPTION_CAUSES & ~self.medeleg
        # No interrupt is enabled at M level (the timer is Sstc's), so none can reach M-mode.
        self.exit_on_interrupt = 0
        self.calls = collections.Counter()            # extension name -> calls
        self.calls_by_function = collections.Counter()  # "ext.function" -> calls
        self.redirected_traps = collections.Counter()   # cause -> traps sent to S-mode
        self.handlers = self._handler_table()
        self._harts = {hartid: BoardHart(self, core, hartid) for hartid, core in self.cores.items()}

    # ------------------------------------------------------------------ boot
    def boot(self, kernel_entry):
        """Set every hart's M-mode state as OpenSBI leaves it; the boot hart enters S-mode at
        kernel_entry (a0 hartid, a1 dtb), the others are STOPPED."""
        for hartid, core in sorted(self.cores.items()):
            self._setup_m_state(core)
            if hartid != self.boot_hartid and self.harts is not None:
                self.harts.stop(hartid)
        self._enter_s(self.core, kernel_entry, self.boot_hartid, self.machine.dtb_addr)

    def _enter_s(self, core, entry, a0, a1):
        core.set_x(10, a0)
        core.set_x(11, a1)
        core.priv = PRIV_S
        core.pc = entry

    def _setup_m_state(self, core):
        core.write_csr(CSR_MEDELEG, self.medeleg)
        core.write_csr(CSR_MIDELEG, self.mideleg)
        self.medeleg = core.read_csr(CSR_MEDELEG)
        self.exit_on_exception = EXCEPTION_CAUSES & ~self.medeleg
        core.write_csr(CSR_MIE, 0)
        core.write_csr(CSR_MCOUNTEREN, 0xFFFF_FFFF)
        # Sstc, and S/U may use the cache-block operations (as OpenSBI sets them)
        core.write_csr(CSR_MENVCFG, core.read_csr(CSR_MENVCFG) | MENVCFG_STCE | MENVCFG_CBO)
        if not core.read_csr(CSR_MENVCFG) & MENVCFG_STCE:
            raise RuntimeError("the built-in SBI needs Sstc (menvcfg.STCE), which this core lacks")
        # No timer until the kernel asks for one (OpenSBI's sbi_timer_init does the same).
        core.write_csr(CSR_STIMECMP, MASK64)
        # The whole physical space open to S and U: there is no M-mode memory to protect.
        core.write_csr(CSR_PMPADDR0, PMPADDR_ALL)
        core.write_csr(CSR_PMPCFG0, PMP_NAPOT_RWX)
        core.write_csr(CSR_SATP, 0)
        # OpenSBI enters the kernel with mret and MPP = S; this is mstatus after that mret:
        # MIE <- MPIE (0), MPIE <- 1, MPP <- U, MPRV cleared, and S-mode interrupts off.
        mstatus = core.read_csr(CSR_MSTATUS)
        mstatus &= ~(MSTATUS_MIE | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_SIE | MSTATUS_SPIE
                     | MSTATUS_SPP)
        mstatus |= MSTATUS_MPIE
        core.write_csr(CSR_MSTATUS, mstatus)
        # Added to whatever else the Machine asked the core to exit on.
        core.exit_on_exception |= self.exit_on_exception
        core.exit_on_interrupt |= self.exit_on_interrupt

    # ------------------------------------------------------------ dispatch
    def _select(self, core):
        if core is not None and core is not self.core:
            for hartid, c in self.cores.items():
                if c is core:
                    self.core, self.hartid = core, hartid
                    return
            raise ValueError("a core that is not one of this SBI's harts")

    def handle_ecall(self, core=None):
        """Answer the EXIT_TRAP `core` (default: the hart last served) just
        returned (cause in core.exit_cause)."""
        self._select(core)
        core = self.core
        cause = int(core.exit_cause)
        if cause != causes.EXC_ECALL_S:
            self.redirect_trap(cause, int(core.exit_pc), int(core.exit_tval))
            return
        # One slice read gives a0..a7 as Python ints.
        a0, a1, a2, a3, a4, a5, fid, eid = core.regs[10:18].tolist()
        legacy = eid <= EID_LEGACY_LAST
        entry = self.handlers.get((eid, None) if legacy else (eid, fid))
        core.pc = core.exit_pc + 4
        if entry is None:
            ext_name = "legacy" if legacy else EXTENSION_NAMES.get(eid, "unknown")
            self.calls[ext_name] += 1
            self.calls_by_function["%s.0x%x" % (ext_name, fid)] += 1
            result = (SBI_ERR_NOT_SUPPORTED, 0)
        else:
            function_name, handler, ext_name = entry
            self.calls[ext_name] += 1
            self.calls_by_function[function_name] += 1
            # A handler that moves the hart elsewhere (non-retentive suspend) sets a0/a1
            # itself and returns None.
            result = handler(self.hart(self.hartid), (a0, a1, a2, a3, a4, a5))
            if result is None:
                return
        error, value = result
        core.set_x(10, error)
        if not legacy:
            core.set_x(11, value)

    def handle_trap(self, cause=None, core=None):
        """Any EXIT_TRAP the SBI asked for; an S-mode ecall is an SBI call, the rest go to S."""
        self._select(core)
        cause = int(self.core.exit_cause if cause is None else cause)
        if cause == causes.EXC_ECALL_S:
            self.handle_ecall()
        elif cause < 64 and self.exit_on_exception >> cause & 1:
            self.redirect_trap(cause, int(self.core.exit_pc), int(self.core.exit_tval))
        else:
            raise RuntimeError("trap exit with cause 0x%x, which the built-in SBI did not ask for"
                               % cause)

    def redirect_trap(self, cause, epc, tval):
        """Deliver a trap to S-mode as OpenSBI's sbi_trap_redirect does (from S or U, V=0)."""
        core = self.core
        prev = int(core.priv)
        if prev == PRIV_M:
            raise RuntimeError("trap cause %d from M-mode at 0x%x: the built-in SBI runs no M-mode code"
                               % (cause, epc))
        self.redirected_traps[cause] += 1
        core.write_csr(CSR_SCAUSE, cause)
        core.write_csr(CSR_SEPC, epc)
        core.write_csr(CSR_STVAL, tval)
        mstatus = core.read_csr(CSR_MSTATUS)
        spie = MSTATUS_SPIE if mstatus & MSTATUS_SIE else 0
        spp = MSTATUS_SPP if prev == PRIV_S else 0
        mstatus = (mstatus & ~(MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SIE)) | spie | spp
        core.write_csr(CSR_MSTATUS, mstatus)
        core.priv = PRIV_S
        core.pc = core.read_csr(CSR_STVEC) & ~3

    def state(self):
        """The delegation the SBI set up, which traps it serves, the hart it
        served last and its call counters (the harts' registers are the cores')."""
        return {"medeleg": self.medeleg, "mideleg": self.mideleg,
                "exit_on_exception": self.exit_on_exception,
                "exit_on_interrupt": self.exit_on_interrupt, "hartid": self.hartid,
                "calls": dict(sorted(self.calls.items())),
                "calls_by_function": dict(sorted(self.calls_by_function.items())),
                "redirected_traps": dict(sorted(self.redirected_traps.items()))}

    def restore(self, state):
        if state["hartid"] not in self.cores:
            raise ValueError(f"the SBI has no hart {state['hartid']!r}")
        self.medeleg = int(state["medeleg"])
        self.mideleg = int(state["mideleg"])
        self.exit_on_exception = int(state["exit_on_exception"])
        self.exit_on_interrupt = int(state["exit_on_interrupt"])
        self.hartid = state["hartid"]
        self.core = self.cores[self.hartid]
        self.calls = collections.Counter(state["calls"])
        self.calls_by_function = collections.Counter(state["calls_by_function"])
        self.redirected_traps = collections.Counter(state["redirected_traps"])

    def stats(self):
        return {"calls": dict(self.calls), "calls_by_function": dict(self.calls_by_function),
                "redirected_traps": dict(self.redirected_traps)}

    def hart(self, hartid):
        """The hart `hartid` as the SBI calls see it."""
        return self._harts[hartid]

    def _handler_table(self):
        """(EID, FID) -> ("ext.function", call, "ext"): the SBI calls of
        pyvmm.machine.sbi_calls (with the hfence calls when the harts have H)."""
        table = dict(CALLS)
        if self.has_h:
            table.update(HFENCE_CALLS)
        return {key: (name, call, name.split(".")[0]) for key, (name, call) in table.items()}

    def _ram_range_ok(self, addr, size):
        m = self.machine
        return size >= 0 and m.ram_base <= addr and addr + size <= m.ram_base + m.ram_size

    def _translate_s(self, vaddr):
        """S-mode data read translation (as OpenSBI's MPRV load with MPP = S sees it)."""
        core = self.core
        satp = core.read_csr(CSR_SATP)
        mode = satp >> SATP_MODE_SHIFT
        if mode == SATP_MODE_BARE:
            return vaddr
        if mode == SATP_MODE_SV39:
            levels = 3
        elif mode == SATP_MODE_SV48:
            levels = 4
        else:
            raise GuestAddressError("satp mode %d" % mode)
        va_bits = PAGE_SHIFT + 9 * levels
        top = vaddr >> (va_bits - 1)
        if top not in (0, (1 << (64 - va_bits + 1)) - 1):
            raise GuestAddressError("non-canonical address 0x%x" % vaddr)
        mstatus = core.read_csr(CSR_MSTATUS)
        table = (satp & ((1 << 44) - 1)) << PAGE_SHIFT
        for level in reversed(range(levels)):
            vpn = (vaddr >> (PAGE_SHIFT + 9 * level)) & 0x1FF
            pte_addr = table + vpn * 8
            if not self._ram_range_ok(pte_addr, 8):
                raise GuestAddressError("page table outside RAM at 0x%x" % pte_addr)
            pte = int.from_bytes(core.read_mem(pte_addr, 8), "little")
            if not pte & PTE_V or (not pte & PTE_R and pte & PTE_W):
                raise GuestAddressError("invalid PTE for 0x%x" % vaddr)
            ppn = (pte >> 10) & ((1 << 44) - 1)
            if pte & (PTE_R | PTE_X):
                readable = pte & PTE_R or (mstatus & MSTATUS_MXR and pte & PTE_X)
                if not readable or (pte & PTE_U and not mstatus & MSTATUS_SUM):
                    raise GuestAddressError("no read permission at 0x%x" % vaddr)
                offset_bits = PAGE_SHIFT + 9 * level
                if ppn & ((1 << (9 * level)) - 1):
                    raise GuestAddressError("misaligned superpage at 0x%x" % vaddr)
                return (ppn << PAGE_SHIFT) | (vaddr & ((1 << offset_bits) - 1))
            table = ppn << PAGE_SHIFT
        raise GuestAddressError("no leaf PTE for 0x%x" % vaddr)



class BoardHart:
    """A hart of the board as the SBI calls see it (pyvmm.machine.sbi_calls)."""

    __slots__ = ("sbi", "core", "hartid")

    def __init__(self, sbi, core, hartid):
        self.sbi = sbi
        self.core = core
        self.hartid = hartid

    def probe(self, eid):
        return any(key[0] == eid for key in self.sbi.handlers)

    def machine_id(self, csr):
        return self.core.read_csr(csr)

    def set_timer(self, deadline):
        # With Sstc, STIP follows time >= stimecmp, so a deadline in the future clears it.
        self.core.write_csr(CSR_STIMECMP, deadline)

    def targets(self, mask, base):
        sbi = self.sbi
        if base == MASK64:
            return [sbi.hart(hartid) for hartid in sorted(sbi.cores)]
        targets = []
        bit = 0
        while mask:
            if mask & 1:
                if base + bit not in sbi.cores:
                    return None
                targets.append(sbi.hart(base + bit))
            mask >>= 1
            bit += 1
        return targets

    def send_software_interrupt(self):
        # As OpenSBI's IPI handler: the target's sip.SSIP.
        self.core.write_csr(CSR_MIP, self.core.read_csr(CSR_MIP) | MIP_SSIP)

    def clear_software_interrupt(self):
        self.core.write_csr(CSR_MIP, self.core.read_csr(CSR_MIP) & ~MIP_SSIP)

    def fence_i(self):
        self.core.flush_decode_cache()

    def sfence_vma(self, asid):
        self.core.flush_tlb()       # the whole TLB: more than asked is always allowed

    def hfence(self):
        self.core.flush_tlb()

    def hart_state(self, hartid):
        sbi = self.sbi
        if hartid not in sbi.cores:
            return None
        if sbi.harts is None:
            return HSM_STARTED
        state = sbi.harts.state[hartid]
        if state == "stopped":
            return HSM_STOPPED
        if state == "suspended":
            return HSM_SUSPENDED
        return HSM_STARTED

    def start_hart(self, hartid, addr, opaque):
        """A cold start, as the SBI spec's HSM chapter defines it."""
        sbi = self.sbi
        core = sbi.cores[hartid]
        sbi._setup_m_state(core)
        sbi._enter_s(core, addr, hartid, opaque)
        sbi.harts.start(hartid)

    def others_started(self):
        harts = self.sbi.harts
        return harts is not None and any(state != "stopped" for i, state in enumerate(harts.state)
                                         if i != self.hartid)

    def stop(self):
        self.sbi.harts.stop(self.hartid)
        self.sbi.harts.end_turn()

    def suspend(self, resume_addr, opaque):
        """With several harts the caller sleeps until an interrupt it enables
        in mie is pending; on a one-hart board it returns at once, as a WFI
        may (a wakeup is allowed to be spurious). A non-retentive suspend
        resumes as a cold start: S-mode at resume_addr, a0 hart id, a1
        opaque, translation and S interrupts off."""
        sbi = self.sbi
        if resume_addr is not None:
            core = self.core
            core.write_csr(CSR_SATP, 0)
            core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) & ~MSTATUS_SIE)
            sbi._enter_s(core, resume_addr, self.hartid, opaque)
        if sbi.harts is not None:
            sbi.harts.suspend(self.hartid)
            sbi.harts.end_turn()

    def ram_ok(self, addr, n):
        return self.sbi._ram_range_ok(addr, n)

    def read(self, addr, n):
        return bytes(self.core.read_mem(addr, n))

    def write(self, addr, data):
        self.core.write_mem(addr, data)

    def translate(self, vaddr):
        try:
            return self.sbi._translate_s(vaddr)
        except GuestAddressError:
            return None

    def console_write(self, data):
        self.sbi.machine.console_write(data)

    def console_read(self):
        return self.sbi.machine.console_read()

    def request_stop(self, how, code):
        self.sbi.machine.request_stop(how, code)

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

import pyvmm
from pyvmm.isa import causes
from pyvmm.isa.csrs import CSRS
from pyvmm.machine import layout

MASK64 = (1 << 64) - 1

# SBI error codes (struct sbiret.error).
SBI_SUCCESS = 0
SBI_ERR_FAILED = -1
SBI_ERR_NOT_SUPPORTED = -2
SBI_ERR_INVALID_PARAM = -3
SBI_ERR_DENIED = -4
SBI_ERR_INVALID_ADDRESS = -5
SBI_ERR_ALREADY_AVAILABLE = -6
SBI_ERR_ALREADY_STARTED = -7
SBI_ERR_ALREADY_STOPPED = -8

SPEC_VERSION = (2, 0)
IMPL_ID = 0x7079766D

# Extension ids.
EID_LEGACY_SET_TIMER = 0x00
EID_LEGACY_CONSOLE_PUTCHAR = 0x01
EID_LEGACY_CONSOLE_GETCHAR = 0x02
EID_LEGACY_CLEAR_IPI = 0x03
EID_LEGACY_SEND_IPI = 0x04
EID_LEGACY_REMOTE_FENCE_I = 0x05
EID_LEGACY_REMOTE_SFENCE_VMA = 0x06
EID_LEGACY_REMOTE_SFENCE_VMA_ASID = 0x07
EID_LEGACY_SHUTDOWN = 0x08
EID_LEGACY_LAST = 0x0F
EID_BASE = 0x10
EID_TIME = 0x54494D45
EID_IPI = 0x735049
EID_RFENCE = 0x52464E43
EID_HSM = 0x48534D
EID_SRST = 0x53525354
EID_DBCN = 0x4442434E

EXTENSION_NAMES = {EID_BASE: "base", EID_TIME: "time", EID_IPI: "ipi", EID_RFENCE: "rfence",
                   EID_HSM: "hsm", EID_SRST: "srst", EID_DBCN: "dbcn"}

# HSM hart states and suspend types.
HSM_STARTED = 0
HSM_STOPPED = 1
HSM_SUSPENDED = 4
HSM_SUSPEND_RETENTIVE = 0x0000_0000
HSM_SUSPEND_NON_RETENTIVE = 0x8000_0000

# SRST types and reasons.
SRST_SHUTDOWN, SRST_COLD_REBOOT, SRST_WARM_REBOOT = 0, 1, 2
SRST_REASON_NONE, SRST_REASON_FAILURE = 0, 1

# CSRs and their fields.
CSR_MSTATUS = CSRS["mstatus"]
CSR_MISA = CSRS["misa"]
CSR_MEDELEG = CSRS["medeleg"]
CSR_MIDELEG = CSRS["mideleg"]
CSR_MIE = CSRS["mie"]
CSR_MIP = CSRS["mip"]
CSR_MCOUNTEREN = CSRS["mcounteren"]
CSR_MENVCFG = CSRS["menvcfg"]
CSR_PMPCFG0 = CSRS["pmpcfg0"]
CSR_PMPADDR0 = CSRS["pmpaddr0"]
CSR_STVEC = CSRS["stvec"]
CSR_SEPC = CSRS["sepc"]
CSR_SCAUSE = CSRS["scause"]
CSR_STVAL = CSRS["stval"]
CSR_SATP = CSRS["satp"]
CSR_STIMECMP = CSRS["stimecmp"]
CSR_MVENDORID = CSRS["mvendorid"]
CSR_MARCHID = CSRS["marchid"]
CSR_MIMPID = CSRS["mimpid"]

MSTATUS_SIE = 1 << 1
MSTATUS_MIE = 1 << 3
MSTATUS_SPIE = 1 << 5
MSTATUS_MPIE = 1 << 7
MSTATUS_SPP = 1 << 8
MSTATUS_MPP_SHIFT = 11
MSTATUS_MPP = 3 << MSTATUS_MPP_SHIFT
MSTATUS_MPRV = 1 << 17
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19
MENVCFG_STCE = 1 << 63
MIP_SSIP = 1 << causes.IRQ_S_SOFT
MIP_STIP = 1 << causes.IRQ_S_TIMER
MIP_SEIP = 1 << causes.IRQ_S_EXT
MISA_H = 1 << (ord("h") - ord("a"))

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3

# What OpenSBI (lib/sbi/sbi_hart.c, delegate_traps) hands straight to S-mode.
DELEGATED_EXCEPTIONS = ((1 << causes.EXC_INST_MISALIGNED) | (1 << causes.EXC_BREAKPOINT)
                        | (1 << causes.EXC_ECALL_U) | (1 << causes.EXC_INST_PAGE_FAULT)
                        | (1 << causes.EXC_LOAD_PAGE_FAULT) | (1 << causes.EXC_STORE_PAGE_FAULT))
DELEGATED_EXCEPTIONS_H = ((1 << causes.EXC_ECALL_VS) | (1 << causes.EXC_INST_GUEST_PAGE_FAULT)
                          | (1 << causes.EXC_LOAD_GUEST_PAGE_FAULT) | (1 << causes.EXC_VIRTUAL_INST)
                          | (1 << causes.EXC_STORE_GUEST_PAGE_FAULT))
DELEGATED_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP
EXCEPTION_CAUSES = (1 << 24) - 1          # causes 0..23, the standard ones with H

PMP_NAPOT_RWX = 0x1F                      # A = NAPOT, X, W, R
PMPADDR_ALL = (1 << 54) - 1               # NAPOT over the whole 56-bit physical space

# Page-table walk (for legacy calls that pass pointers in S-mode virtual memory).
SATP_MODE_SHIFT = 60
SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48 = 0, 8, 9
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U = 1, 2, 4, 8, 16
PAGE_SHIFT = 12


def _signed(value):
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


def _impl_version():
    parts = [int(p) for p in pyvmm.__version__.split(".")[:3] if p.isdigit()]
    parts += [0] * (3 - len(parts))
    return (parts[0] << 16) | (parts[1] << 8) | parts[2]


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
        core.x[10] = a0 & MASK64
        core.x[11] = a1 & MASK64
        core.priv = PRIV_S
        core.pc = entry

    def _setup_m_state(self, core):
        core.write_csr(CSR_MEDELEG, self.medeleg)
        core.write_csr(CSR_MIDELEG, self.mideleg)
        self.medeleg = core.read_csr(CSR_MEDELEG)
        self.exit_on_exception = EXCEPTION_CAUSES & ~self.medeleg
        core.write_csr(CSR_MIE, 0)
        core.write_csr(CSR_MCOUNTEREN, 0xFFFF_FFFF)
        core.write_csr(CSR_MENVCFG, core.read_csr(CSR_MENVCFG) | MENVCFG_STCE)
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
        x = core.x
        # One slice read gives a0..a7 as Python ints (element reads of numpy are slow).
        a0, a1, a2, a3, a4, a5, fid, eid = x[10:18].tolist()
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
            result = handler(a0, a1, a2, a3, a4, a5)
            if result is None:
                return
        error, value = result
        if legacy:
            x[10] = error & MASK64
        else:
            x[10:12] = (error & MASK64, value & MASK64)

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

    def stats(self):
        return {"calls": dict(self.calls), "calls_by_function": dict(self.calls_by_function),
                "redirected_traps": dict(self.redirected_traps)}

    def _handler_table(self):
        """(EID, FID) -> ("ext.function", handler, "ext"); legacy calls have FID None (a7 alone
        selects)."""
        table = {
            (EID_BASE, 0): ("base.get_spec_version", self.base_get_spec_version),
            (EID_BASE, 1): ("base.get_impl_id", self.base_get_impl_id),
            (EID_BASE, 2): ("base.get_impl_version", self.base_get_impl_version),
            (EID_BASE, 3): ("base.probe_extension", self.base_probe_extension),
            (EID_BASE, 4): ("base.get_mvendorid", self.base_get_mvendorid),
            (EID_BASE, 5): ("base.get_marchid", self.base_get_marchid),
            (EID_BASE, 6): ("base.get_mimpid", self.base_get_mimpid),
            (EID_TIME, 0): ("time.set_timer", self.time_set_timer),
            (EID_IPI, 0): ("ipi.send_ipi", self.ipi_send_ipi),
            (EID_RFENCE, 0): ("rfence.remote_fence_i", self.rfence_fence_i),
            (EID_RFENCE, 1): ("rfence.remote_sfence_vma", self.rfence_sfence_vma),
            (EID_RFENCE, 2): ("rfence.remote_sfence_vma_asid", self.rfence_sfence_vma_asid),
            (EID_HSM, 0): ("hsm.hart_start", self.hsm_hart_start),
            (EID_HSM, 1): ("hsm.hart_stop", self.hsm_hart_stop),
            (EID_HSM, 2): ("hsm.hart_get_status", self.hsm_hart_get_status),
            (EID_HSM, 3): ("hsm.hart_suspend", self.hsm_hart_suspend),
            (EID_SRST, 0): ("srst.system_reset", self.srst_system_reset),
            (EID_DBCN, 0): ("dbcn.console_write", self.dbcn_console_write),
            (EID_DBCN, 1): ("dbcn.console_read", self.dbcn_console_read),
            (EID_DBCN, 2): ("dbcn.console_write_byte", self.dbcn_console_write_byte),
            (EID_LEGACY_SET_TIMER, None): ("legacy.set_timer", self.legacy_set_timer),
            (EID_LEGACY_CONSOLE_PUTCHAR, None): ("legacy.console_putchar", self.legacy_console_putchar),
            (EID_LEGACY_CONSOLE_GETCHAR, None): ("legacy.console_getchar", self.legacy_console_getchar),
            (EID_LEGACY_CLEAR_IPI, None): ("legacy.clear_ipi", self.legacy_clear_ipi),
            (EID_LEGACY_SEND_IPI, None): ("legacy.send_ipi", self.legacy_send_ipi),
            (EID_LEGACY_REMOTE_FENCE_I, None): ("legacy.remote_fence_i", self.legacy_remote_fence_i),
            (EID_LEGACY_REMOTE_SFENCE_VMA, None):
                ("legacy.remote_sfence_vma", self.legacy_remote_sfence_vma),
            (EID_LEGACY_REMOTE_SFENCE_VMA_ASID, None):
                ("legacy.remote_sfence_vma_asid", self.legacy_remote_sfence_vma_asid),
            (EID_LEGACY_SHUTDOWN, None): ("legacy.shutdown", self.legacy_shutdown),
        }
        if self.has_h:
            for fid, name in ((3, "hfence_gvma_vmid"), (4, "hfence_gvma"),
                              (5, "hfence_vvma_asid"), (6, "hfence_vvma")):
                table[(EID_RFENCE, fid)] = ("rfence.remote_" + name, self.rfence_hfence)
        return {key: (name, handler, name.split(".")[0]) for key, (name, handler) in table.items()}

    # ------------------------------------------------------------- helpers
    def _targets(self, hart_mask, hart_mask_base):
        """The cores an SBI hart mask names, in hart order; None if it names a
        hart that does not exist. Base -1 means every hart."""
        if hart_mask_base == MASK64:
            return [core for _, core in sorted(self.cores.items())]
        targets = []
        bit = 0
        mask = hart_mask
        while mask:
            if mask & 1:
                core = self.cores.get(hart_mask_base + bit)
                if core is None:
                    return None
                targets.append(core)
            mask >>= 1
            bit += 1
        return targets

    def _ram_range_ok(self, addr, size):
        m = self.machine
        return m.ram_base <= addr and addr + size <= m.ram_base + m.ram_size

    def _set_stimecmp(self, stime_value):
        # With Sstc, STIP follows time >= stimecmp, so a deadline in the future clears it.
        self.core.write_csr(CSR_STIMECMP, stime_value & MASK64)

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

    def _load_ulong_s(self, vaddr):
        paddr = self._translate_s(vaddr)
        if not self._ram_range_ok(paddr, 8):
            raise GuestAddressError("0x%x is not RAM" % paddr)
        return int.from_bytes(self.core.read_mem(paddr, 8), "little")

    def _legacy_hart_mask(self, mask_ptr):
        """Legacy calls pass a pointer to the mask; NULL means every hart."""
        if mask_ptr == 0:
            return MASK64, MASK64
        return self._load_ulong_s(mask_ptr), 0

    # ---------------------------------------------------------------- base
    def base_get_spec_version(self, *_):
        major, minor = SPEC_VERSION
        return SBI_SUCCESS, (major << 24) | minor

    def base_get_impl_id(self, *_):
        return SBI_SUCCESS, IMPL_ID

    def base_get_impl_version(self, *_):
        return SBI_SUCCESS, _impl_version()

    def base_probe_extension(self, eid, *_):
        present = any(key[0] == eid for key in self.handlers)
        return SBI_SUCCESS, 1 if present else 0

    def base_get_mvendorid(self, *_):
        return SBI_SUCCESS, self.core.read_csr(CSR_MVENDORID)

    def base_get_marchid(self, *_):
        return SBI_SUCCESS, self.core.read_csr(CSR_MARCHID)

    def base_get_mimpid(self, *_):
        return SBI_SUCCESS, self.core.read_csr(CSR_MIMPID)

    # --------------------------------------------------------- time and IPI
    def time_set_timer(self, stime_value, *_):
        self._set_stimecmp(stime_value)
        return SBI_SUCCESS, 0

    def ipi_send_ipi(self, hart_mask, hart_mask_base, *_):
        targets = self._targets(hart_mask, hart_mask_base)
        if targets is None:
            return SBI_ERR_INVALID_PARAM, 0
        for core in targets:
            core.write_csr(CSR_MIP, core.read_csr(CSR_MIP) | MIP_SSIP)
        return SBI_SUCCESS, 0

    # -------------------------------------------------------------- RFENCE
    def _rfence(self, hart_mask, hart_mask_base, flush):
        targets = self._targets(hart_mask, hart_mask_base)
        if targets is None:
            return SBI_ERR_INVALID_PARAM, 0
        for core in targets:
            flush(core)
        return SBI_SUCCESS, 0

    def rfence_fence_i(self, hart_mask, hart_mask_base, *_):
        return self._rfence(hart_mask, hart_mask_base, lambda core: core.flush_decode_cache())

    def rfence_sfence_vma(self, hart_mask, hart_mask_base, start_addr, size, *_):
        # The core's TLB flush is global: flushing more than the range is always allowed.
        return self._rfence(hart_mask, hart_mask_base, lambda core: core.flush_tlb())

    def rfence_sfence_vma_asid(self, hart_mask, hart_mask_base, start_addr, size, asid, *_):
        return self._rfence(hart_mask, hart_mask_base, lambda core: core.flush_tlb())

    def rfence_hfence(self, hart_mask, hart_mask_base, *_):
        return self._rfence(hart_mask, hart_mask_base, lambda core: core.flush_tlb())

    # ----------------------------------------------------------------- HSM
    def _state(self, hartid):
        if self.harts is None:
            return HSM_STARTED
        state = self.harts.state[hartid]
        if state == "stopped":
            return HSM_STOPPED
        if state == "suspended":
            return HSM_SUSPENDED
        return HSM_STARTED

    def hsm_hart_start(self, hartid, start_addr, opaque, *_):
        core = self.cores.get(hartid)
        if core is None:
            return SBI_ERR_INVALID_PARAM, 0
        if self._state(hartid) != HSM_STOPPED:
            return SBI_ERR_ALREADY_AVAILABLE, 0
        if not self._ram_range_ok(start_addr, 2):
            return SBI_ERR_INVALID_ADDRESS, 0
        # A cold start, as the SBI spec's HSM chapter defines it.
        self._setup_m_state(core)
        self._enter_s(core, start_addr, hartid, opaque)
        self.harts.start(hartid)
        return SBI_SUCCESS, 0

    def hsm_hart_stop(self, *_):
        if self.harts is None or not any(s != "stopped" for i, s in enumerate(self.harts.state)
                                         if i != self.hartid):
            # The last running hart stops: nothing is left that could hart_start it again.
            # The run ends here, so the error a0 would carry back (the call never returns)
            # is never seen.
            self.machine.request_stop("idle", layout.EXIT_IDLE)
            return SBI_ERR_FAILED, 0
        self.harts.stop(self.hartid)
        self.harts.end_turn()
        return None

    def hsm_hart_get_status(self, hartid, *_):
        if hartid not in self.cores:
            return SBI_ERR_INVALID_PARAM, 0
        return SBI_SUCCESS, self._state(hartid)

    def hsm_hart_suspend(self, suspend_type, resume_addr, opaque, *_):
        """With several harts the caller sleeps until an interrupt it enables
        in mie is pending; on a one-hart board without a scheduler it returns
        at once, as a WFI implemented as a no-op may (a wakeup is allowed to be
        spurious) and the caller re-checks its condition, as after any WFI."""
        suspend_type &= 0xFFFF_FFFF
        if suspend_type == HSM_SUSPEND_RETENTIVE:
            if self.harts is not None:
                self.harts.suspend(self.hartid)
                self.harts.end_turn()
            return SBI_SUCCESS, 0
        if suspend_type == HSM_SUSPEND_NON_RETENTIVE:
            if not self._ram_range_ok(resume_addr, 2):
                return SBI_ERR_INVALID_ADDRESS, 0
            # Resume as from a cold start: S-mode at resume_addr, a0 hartid, a1 opaque,
            # translation and S interrupts off (SBI spec, HSM chapter).
            core = self.core
            core.write_csr(CSR_SATP, 0)
            core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) & ~MSTATUS_SIE)
            self._enter_s(core, resume_addr, self.hartid, opaque)
            if self.harts is not None:
                self.harts.suspend(self.hartid)
                self.harts.end_turn()
            return None
        return SBI_ERR_INVALID_PARAM, 0

    # ---------------------------------------------------------------- SRST
    def srst_system_reset(self, reset_type, reset_reason, *_):
        reset_type &= 0xFFFF_FFFF
        reset_reason &= 0xFFFF_FFFF
        if reset_type not in (SRST_SHUTDOWN, SRST_COLD_REBOOT, SRST_WARM_REBOOT):
            return SBI_ERR_INVALID_PARAM, 0
        if reset_reason not in (SRST_REASON_NONE, SRST_REASON_FAILURE):
            return SBI_ERR_INVALID_PARAM, 0
        how = "sbi-shutdown" if reset_type == SRST_SHUTDOWN else "sbi-reboot"
        self.machine.request_stop(how, 0 if reset_reason == SRST_REASON_NONE else 1)
        return SBI_SUCCESS, 0

    # ---------------------------------------------------------------- DBCN
    def dbcn_console_write(self, num_bytes, base_lo, base_hi, *_):
        if base_hi != 0 or not self._ram_range_ok(base_lo, num_bytes):
            return SBI_ERR_INVALID_PARAM, 0
        self.machine.console_write(bytes(self.core.read_mem(base_lo, num_bytes)))
        return SBI_SUCCESS, num_bytes

    def dbcn_console_read(self, num_bytes, base_lo, base_hi, *_):
        if base_hi != 0 or not self._ram_range_ok(base_lo, num_bytes):
            return SBI_ERR_INVALID_PARAM, 0
        data = bytearray()
        while len(data) < num_bytes:
            ch = self.machine.console_read()
            if ch < 0:
                break
            data.append(ch & 0xFF)
        if data:
            self.core.write_mem(base_lo, bytes(data))
        return SBI_SUCCESS, len(data)

    def dbcn_console_write_byte(self, byte, *_):
        self.machine.console_write(bytes([byte & 0xFF]))
        return SBI_SUCCESS, 0

    # -------------------------------------------------------------- legacy
    # Legacy calls return one value in a0; the second tuple element is ignored.
    def legacy_set_timer(self, stime_value, *_):
        self._set_stimecmp(stime_value)
        return SBI_SUCCESS, 0

    def legacy_console_putchar(self, ch, *_):
        self.machine.console_write(bytes([ch & 0xFF]))
        return SBI_SUCCESS, 0

    def legacy_console_getchar(self, *_):
        return self.machine.console_read(), 0

    def legacy_clear_ipi(self, *_):
        self.core.write_csr(CSR_MIP, self.core.read_csr(CSR_MIP) & ~MIP_SSIP)
        return SBI_SUCCESS, 0

    def _legacy_remote(self, mask_ptr, action):
        try:
            mask, base = self._legacy_hart_mask(mask_ptr)
        except GuestAddressError:
            return SBI_ERR_INVALID_ADDRESS, 0
        return action(mask, base)

    def legacy_send_ipi(self, mask_ptr, *_):
        return self._legacy_remote(mask_ptr, self.ipi_send_ipi)

    def legacy_remote_fence_i(self, mask_ptr, *_):
        return self._legacy_remote(mask_ptr, self.rfence_fence_i)

    def legacy_remote_sfence_vma(self, mask_ptr, start, size, *_):
        return self._legacy_remote(
            mask_ptr, lambda mask, base: self.rfence_sfence_vma(mask, base, start, size))

    def legacy_remote_sfence_vma_asid(self, mask_ptr, start, size, asid, *_):
        return self._legacy_remote(
            mask_ptr, lambda mask, base: self.rfence_sfence_vma_asid(mask, base, start, size, asid))

    def legacy_shutdown(self, *_):
        self.machine.request_stop("sbi-shutdown", 0)
        return SBI_SUCCESS, 0

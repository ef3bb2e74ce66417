"""A virtual hart: the state the core holds while the VCPU runs, kept here
while it does not, and run(budget) -> Exit (KVM_RUN).

The swap is lazy: the host remembers which VCPU the core holds, so a VCPU
that runs again after its own exit (the common case, and the only one with
one VM) pays for no save/restore. Switching VMs needs no TLB flush: the
core tags translations with VMID and ASID.
"""

from time import perf_counter

from pyvmm.hv.exits import Exit
from pyvmm.hv.host import HvError
from pyvmm.isa import causes
from pyvmm.isa.csrs import CSRS
from pyvmm.machine.core_exits import (CORE_EXIT_BUDGET, CORE_EXIT_DEBUG, CORE_EXIT_MMIO,  # noqa: F401
                                      CORE_EXIT_TRAP, CORE_EXIT_WFI)

MASK64 = (1 << 64) - 1
PRIV_S = 1
INTERRUPT_BIT = 1 << 63
REG_A0, REG_A7 = 10, 17

HVIP_VSSIP = 1 << causes.IRQ_VS_SOFT
HVIP_VSTIP = 1 << causes.IRQ_VS_TIMER
HVIP_VSEIP = 1 << causes.IRQ_VS_EXT
VSIE_STIE = 1 << causes.IRQ_S_TIMER        # vsie shows VS interrupts at S positions
HENVCFG_STCE = 1 << 63

# The CSRs that belong to a VCPU, in the order they are restored (hstatus and
# the delegations before what they shape).
VCPU_CSRS = ("hstatus", "hedeleg", "hideleg", "hcounteren", "henvcfg", "htimedelta", "hgatp",
             "hie", "hvip", "vsstatus", "vstvec", "vsscratch", "vsepc", "vscause", "vstval",
             "vsatp", "vstimecmp")
CSR_NUMBERS = {name: CSRS[name] for name in VCPU_CSRS}

GUEST_PAGE_FAULTS = (causes.EXC_INST_GUEST_PAGE_FAULT, causes.EXC_LOAD_GUEST_PAGE_FAULT,
                     causes.EXC_STORE_GUEST_PAGE_FAULT)


class HartTenant:
    """What every kind of VCPU shares: it holds the one hart (the Core) while
    it runs, saving whichever VCPU held it (`save`/`_load` are the kind's
    own), and runs it for a budget with the accounting every VCPU reports.
    Subclasses set vm, host, core, instret, host_seconds, runs."""

    _host_hart = None                 # the HostHart of self.core, remembered (see _hart)

    def _hart(self):
        """The host hart whose core is self.core (a dispatcher may move the
        VCPU to another core: then it is looked up again)."""
        hart = self._host_hart
        if hart is None or hart.core is not self.core:
            hart = self._host_hart = self.host.hart_of(self.core)
        return hart

    @property
    def loaded(self):
        """Does a core hold this VCPU's state? (`self.core`: the core of the
        host hart it is loaded on, or was last.)"""
        # Asked by every emulated CSR access and pc update: _hart's check inline.
        hart = self._host_hart
        if hart is None or hart.core is not self.core:
            hart = self._hart()
        return hart.current_vcpu is self

    def activate(self):
        """Make the core hold this VCPU (saving whichever VCPU it held)."""
        host = self.host
        current = self._hart().current_vcpu
        if current is self:
            return
        if current is not None:
            current.save()
        self._load()
        host.set_loaded(self.core, self)
        host.vcpu_switches += 1

    # -- registers, whether the core holds this VCPU or not ----------------------------------

    def get_x(self, i):
        return self.core.get_x(i) if self.loaded else self.x[i]

    def get_f(self, i):
        """f register i (all 64 bits), wherever the VCPU's state is now."""
        return self.core.get_f(i) if self.loaded else self.f[i]

    def set_f(self, i, value):
        if self.loaded:
            self.core.set_f(i, value & MASK64)
        else:
            self.f[i] = value & MASK64

    def get_fcsr(self):
        return self.core.fcsr if self.loaded else self.fcsr

    def set_fcsr(self, value):
        if self.loaded:
            self.core.fcsr = value & 0xFF
        else:
            self.fcsr = value & 0xFF

    def set_x(self, i, value):
        if i == 0:
            return
        if self.loaded:
            self.core.set_x(i, value & MASK64)
        else:
            self.x[i] = value & MASK64

    @property
    def pc(self):
        return self.core.pc if self.loaded else self._pc

    @pc.setter
    def pc(self, value):
        if self.loaded:
            self.core.pc = value & MASK64
        else:
            self._pc = value & MASK64

    def decode_exit(self, reason):
        """Budget, MMIO and idle exits read alike for every kind of VCPU;
        a trap is decoded by the kind's own decode_trap."""
        core = self.core
        if reason == CORE_EXIT_TRAP:  # the most frequent by far
            return self.decode_trap(core)
        # Without Exit's checks of its keyword arguments (a booting kernel's
        # UART is an MMIO exit per byte).
        if reason == CORE_EXIT_MMIO:
            return Exit.of("mmio", {"addr": self.vm.policy.mmio_gpa(core.exit_addr),
                                    "size": core.exit_size, "is_write": bool(core.exit_is_write),
                                    "data": core.exit_data, "pc": core.exit_pc})
        if reason == CORE_EXIT_BUDGET:
            return Exit.of("budget", {"pc": core.pc})
        if reason == CORE_EXIT_WFI:
            return Exit("wfi", pc=core.exit_pc, **self.wfi_mode())
        if reason == CORE_EXIT_DEBUG:
            # the debugger's breakpoint or watchpoint: cause is the core's
            # DEBUG_BREAK / DEBUG_WATCH, insn the pc of the instruction that hit
            return Exit("debug", pc=core.pc, addr=core.exit_addr, cause=core.exit_cause,
                        is_write=bool(core.exit_is_write), insn=core.exit_pc)
        raise HvError(f"core returned exit reason {reason}, which no VCPU asked for")

    def wfi_mode(self):
        """Extra fields of a wfi exit (the guest mode it idled in, when the
        core's own mode is not the guest's)."""
        return {}

    def enter(self, budget):
        """Run the core for `budget` instructions with this VCPU loaded; account and decode."""
        return self.decode_exit(self.run_core(budget))

    def run_core(self, budget):
        """enter without the decoding: the core's exit reason, its exit
        fields still in the core."""
        core = self.core
        before = core.instret
        started = perf_counter()
        reason = core.run(budget)
        self.host_seconds += perf_counter() - started
        self.instret += core.instret - before
        self.runs += 1
        return reason



class VCPU(HartTenant):
    def __init__(self, vm, hartid=0):
        self.vm = vm
        self.host = vm.host
        self.core = vm.host.core
        self.hartid = hartid
        self.x = [0] * 32
        self.f = [0] * 32                 # f0..f31 and fcsr (F/D)
        self.fcsr = 0
        self._pc = 0
        self.priv = PRIV_S
        self.virt = 1
        self.csrs = {name: 0 for name in VCPU_CSRS}
        self.csrs["vstimecmp"] = MASK64
        self.exit_on_exception = self.core.exit_on_exception
        self.exit_on_interrupt = self.core.exit_on_interrupt
        self.guest_mmio = []              # (gpa, size) ranges the core returns as EXIT_MMIO
        self.soft_timer = None            # guest-time deadline when there is no Sstc (hvip timer)
        self.blocked_until = None         # host mtime a WFI waits for (None: runnable)
        self.waiting_for_interrupt = False  # in WFI with no timer: until an IPI or device wakes it
        self.time_skipped = 0
        self.instret = 0
        self.host_seconds = 0.0
        self.runs = 0
        vm.policy.configure(self)

    # -- where the state lives ---------------------------------------------------------------

    def save(self):
        core = self.core
        self.x = core.x.tolist()
        self.f = core.f.tolist()
        self.fcsr = core.fcsr
        self._pc = core.pc
        self.priv = core.priv
        self.virt = core.virt
        for name, number in CSR_NUMBERS.items():
            self.csrs[name] = core.read_csr(number)
        self.exit_on_exception = core.exit_on_exception
        self.exit_on_interrupt = core.exit_on_interrupt
        if self.loaded:
            self.host.set_loaded(self.core, None)

    def _load(self):
        core = self.core
        for name, number in CSR_NUMBERS.items():
            core.write_csr(number, self.csrs[name])
        core.x[:] = self.x
        core.x[0] = 0
        core.f[:] = self.f
        core.fcsr = self.fcsr
        core.priv = self.priv         # first: V=1 is refused while the hart is in M
        core.virt = self.virt
        core.pc = self._pc
        core.exit_on_exception = self.exit_on_exception
        core.exit_on_interrupt = self.exit_on_interrupt
        # With sibling VCPUs, a WFI must leave the loop rather than skip time
        # to this VCPU's timer: the others may have work before then.
        core.wfi_exit = len(self.vm.vcpus) > 1
        core.clear_guest_mmio()
        for gpa, size in self.guest_mmio:
            core.add_guest_mmio(gpa, size)

    def add_guest_mmio(self, gpa, size):
        """A device range the core must return as EXIT_MMIO (nested paging
        only: under shadow paging the pager maps device pages to their window)."""
        if self.vm.paging != "nested":
            return
        self.guest_mmio.append((gpa, size))
        if self.loaded:
            self.core.add_guest_mmio(gpa, size)

    # -- CSR access that works loaded or not -------------------------------------------------

    def get_csr(self, name):
        if self.loaded:
            return self.core.read_csr(CSRS[name])
        if name in self.csrs:
            return self.csrs[name]
        raise HvError(f"{name} is not part of a VCPU's saved state")

    def guest_address_space(self):
        """The satp of the guest's own page tables: vsatp, or under shadow
        paging the value the guest wrote last (vsatp then holds the shadow)."""
        if getattr(self.vm.policy, "shadow", False):
            return getattr(self, "guest_satp", 0)
        return self.get_csr("vsatp")

    def set_csr(self, name, value):
        if self.loaded:
            self.core.write_csr(CSRS[name], value & MASK64)
        elif name in self.csrs:
            self.csrs[name] = value & MASK64
        else:
            raise HvError(f"{name} is not part of a VCPU's saved state")

    def set_priv(self, priv, virt=1):
        if self.loaded:
            self.core.priv = priv
            self.core.virt = virt
        else:
            self.priv, self.virt = priv, virt

    def reset(self, entry, a0=0, a1=0):
        """The state a kernel is entered with (as SBI firmware leaves it):
        VS-mode at entry, a0 = hart id, a1 = device tree, translation and
        interrupts off, no timer."""
        self.set_x(REG_A0, a0)
        self.set_x(REG_A0 + 1, a1)
        self.pc = entry
        self.set_priv(PRIV_S, 1)
        self.set_csr("vsstatus", 0)
        self.set_csr("vsatp", 0)
        self.set_csr("vstimecmp", MASK64)
        self.vm.policy.reset(self)

    # -- interrupts and the timer ---------------------------------------------------------------

    def inject_vs_exception(self, cause, tval):
        self.activate()
        self.core.inject_vs_exception(cause, tval & MASK64)

    def _set_hvip_bit(self, bit, level):
        hvip = self.get_csr("hvip")
        self.set_csr("hvip", hvip | bit if level else hvip & ~bit)

    def set_external_interrupt(self, level):
        self._set_hvip_bit(HVIP_VSEIP, level)

    def set_software_interrupt(self, level):
        self._set_hvip_bit(HVIP_VSSIP, level)

    @property
    def uses_sstc(self):
        return bool(self.get_csr("henvcfg") & HENVCFG_STCE)

    def guest_time(self):
        return (self.core.mtime + self.get_csr("htimedelta")) & MASK64

    def set_timer(self, guest_deadline):
        """SBI set_timer: through vstimecmp with Sstc, else kept here and
        raised through hvip.VSTIP when time reaches it."""
        guest_deadline &= MASK64
        if self.uses_sstc:
            self.set_csr("vstimecmp", guest_deadline)
        else:
            self.soft_timer = None if guest_deadline == MASK64 else guest_deadline
            self._set_hvip_bit(HVIP_VSTIP, False)
            self._check_soft_timer()

    def _check_soft_timer(self):
        if self.soft_timer is not None and self.guest_time() >= self.soft_timer:
            self._set_hvip_bit(HVIP_VSTIP, True)
            self.soft_timer = None

    def timer_deadline(self):
        """Host mtime at which this VCPU's timer interrupt can wake it, or
        None if none is armed (or the guest has it masked in vsie)."""
        if not self.get_csr("hie") & HVIP_VSTIP and not self._vsie_stie():
            return None
        deadline = self.get_csr("vstimecmp") if self.uses_sstc else self.soft_timer
        if deadline is None or deadline == MASK64:
            return None
        return (deadline - self.get_csr("htimedelta")) & MASK64

    def _vsie_stie(self):
        return bool(self.core.read_csr(CSRS["vsie"]) & VSIE_STIE) if self.loaded else False

    def wait_until(self, deadline):
        """Block (after a WFI) until host mtime reaches deadline."""
        self.blocked_until = deadline

    def _wake(self):
        """A blocked VCPU about to run: time skips to its deadline if it has
        not got there (nobody else wanted the hart meanwhile)."""
        core = self.core
        if self.blocked_until > core.mtime:
            core.mtime = self.blocked_until
            self.time_skipped += 1
        self.blocked_until = None
        if not self.uses_sstc:
            self._check_soft_timer()

    # -- KVM_RUN -------------------------------------------------------------------------------

    def run(self, budget):
        """Run the guest for at most `budget` instructions; the exit says why it stopped."""
        if self.vm.stopped:
            return Exit("shutdown", pc=self.pc)
        if not self.vm.booted and self.vm.kernel_image is not None:
            self.vm.boot()      # a first KVM_RUN after load(): device tree, a0/a1, entry pc
        if not self.loaded:
            self.activate()
        core = self.core
        if self.blocked_until is not None:
            self._wake()
        if self.soft_timer is not None:
            self._check_soft_timer()
            if self.soft_timer is not None:
                ticks = (self.soft_timer - self.guest_time()) & MASK64
                budget = max(1, min(budget, ticks * core.insns_per_tick))
        start = self.instret
        exit = self.enter(budget)
        while exit.kind == "guest_page_fault" and self.vm.pagemap.write_fault(exit.cause, exit.gpa):
            # A store to a copy-on-write page, now private: it re-runs, unseen by the guest.
            left = budget - (self.instret - start)
            if left <= 0:
                return Exit("budget", pc=core.pc)
            exit = self.enter(left)
        return exit

    def decode_trap(self, core):
        cause = core.exit_cause
        pc = core.exit_pc
        if cause == causes.EXC_ECALL_VS:
            # The hot path (one per SBI call): an ecall from VS comes from V=1, S.
            a0, a1, a2, a3, a4, a5, fid, ext = core.x[REG_A0:REG_A7 + 1].tolist()
            return Exit.of("sbi", {"cause": cause, "pc": pc, "ext": ext, "fid": fid,
                                   "args": (a0, a1, a2, a3, a4, a5), "virt": 1, "priv": PRIV_S})
        virt = getattr(core, "exit_virt", 1)
        priv = getattr(core, "exit_priv", PRIV_S)
        if cause & INTERRUPT_BIT:
            return Exit.of("interrupt", {"cause": cause & ~INTERRUPT_BIT, "pc": pc, "virt": virt,
                                         "priv": priv})
        tval = core.exit_tval
        if cause == causes.EXC_VIRTUAL_INST:
            return Exit.of("virtual_instruction", {"cause": cause, "pc": pc, "tval": tval,
                                                   "insn": core.exit_insn, "virt": virt,
                                                   "priv": priv})
        if cause in GUEST_PAGE_FAULTS:
            return Exit.of("guest_page_fault", {"cause": cause, "pc": pc, "tval": tval,
                                                "gpa": core.exit_gpa, "insn": core.exit_insn,
                                                "htinst": core.exit_htinst, "virt": virt,
                                                "priv": priv})
        # Under shadow paging the guest's page faults come here, one per shadow fill.
        return Exit.of("trap", {"cause": cause, "pc": pc, "tval": tval, "insn": core.exit_insn,
                                "virt": virt, "priv": priv})

"""Trap-and-emulate (technique "trap-emulate"): a classic VMM without the H
extension (Popek & Goldberg).

The guest kernel runs de-privileged in real U-mode (V=0). Every trap leaves
the core (medeleg = mideleg = 0, `exit_on_exception` = every cause): each
privileged instruction the kernel executes is an illegal-instruction exit
with the instruction's bits, which this module emulates against the virtual
supervisor state (pyvmm.hv.vcpu_state) and resumes after. Traps the guest's
own hart would take (ecall from guest user code, true page faults,
breakpoints, ...) and its interrupts are reflected into the guest kernel's
stvec exactly as the hardware would deliver them.

Memory is a ShadowPager with user_split (ring compression): one shadow tree
for the guest kernel, another for guest user code that maps only guest U
pages, both with real U=1 PTEs. The real satp is the tree of the current
virtual privilege; it changes on sret, on trap reflection and on guest satp
writes. Device pages are shadowed onto the host's empty MMIO window, so a
guest device access is an MMIO exit served by the VM's device bus.

The guest's timer (SBI set_timer or stimecmp) is the real mtimecmp with
mie.MTIE: when it fires, virtual sip.STIP is set and the real timer
disarmed; the interrupt reaches the guest when its virtual SIE/priv allow.
"""

import collections
import functools
from time import perf_counter

from pyvmm.hv import exits
from pyvmm.hv.exits import Exit
from pyvmm.hv.host import HvError
from pyvmm.hv.shadow import ShadowPager, retire_performed_store
from pyvmm.hv.vcpu import HartTenant
from pyvmm.hv.vcpu_state import (CSR_CYCLE, CSR_HPMCOUNTER31, CSR_INSTRET, CSR_NAMES, CSR_SATP,
                                 CSR_STIMECMP, CSR_TIME, NAMED_CSRS, PRIV_S, PRIV_U, SIP_SEIP,
                                 SIP_SSIP, SIP_STIP, SSTATUS_FS, SSTATUS_MXR, SSTATUS_SD,
                                 SSTATUS_SUM, IllegalAccess, SupervisorState, csr_name)
from pyvmm.isa import causes
from pyvmm.isa.csrs import CSRS
from pyvmm.machine.layout import EXIT_IDLE

MASK64 = (1 << 64) - 1
REG_A0, REG_A7 = 10, 17
INTERRUPT_BIT = 1 << 63

# The hart while a guest runs: every exception and the machine timer leave the loop.
ALL_EXCEPTIONS = (1 << 24) - 1
ALL_INTERRUPTS = (1 << 16) - 1
MIE_MTIE = 1 << causes.IRQ_M_TIMER
CSR_MSTATUS = CSRS["mstatus"]
MSTATUS_SUM_MXR_MPRV = (1 << 18) | (1 << 19) | (1 << 17)
# The hart CSRs a loaded VCPU changes, given back to the host when it is saved.
HOST_CSRS = ("medeleg", "mideleg", "mie", "mstatus", "scounteren", "satp")

CSR_MNEMONICS = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}
INSN_SRET = 0x10200073
INSN_WFI = 0x10500073
PAGE_FAULTS = (causes.EXC_INST_PAGE_FAULT, causes.EXC_LOAD_PAGE_FAULT, causes.EXC_STORE_PAGE_FAULT)
PAGE_FAULT_EXITS = {outcome: f"page_fault_{outcome}" for outcome in ("hidden", "mmio", "emulated",
                                                                      "guest")}
EXC_ILLEGAL_INST = causes.EXC_ILLEGAL_INST


class TrapEmulateVCPU(HartTenant):
    """A virtual hart whose kernel runs in real U-mode. Same surface as
    pyvmm.hv.vcpu.VCPU (run(budget) -> Exit, registers, set_timer, ...);
    `state` is the virtual supervisor (priv, CSRs)."""

    def __init__(self, vm, hartid=0):
        self.vm = vm
        self.host = vm.host
        self.core = vm.host.core
        self.hartid = hartid
        self.state = SupervisorState(counters=self._read_counter, stce=vm.host.sstc)
        self.x = [0] * 32
        self.f = [0] * 32                 # f0..f31 and fcsr (F/D)
        self.fcsr = 0
        self._pc = 0
        self.real_satp = 0
        self.real_mtimecmp = MASK64
        self.instret = 0                  # instructions the core retired for this guest
        self.emulated_insns = 0           # instructions the hypervisor retired for it
        self.host_seconds = 0.0
        self.runs = 0
        self.blocked_until = None         # host mtime a WFI waits for (None: runnable)
        self.time_skipped = 0
        self._host_csrs = {}
        self._host_exit_masks = (self.core.exit_on_exception, self.core.exit_on_interrupt)
        self._hart_fs = None              # the FS last given to the hart's mstatus (None: unknown)
        # Set by a scheduler that counts quiet_units as slice time: run()
        # may then let the core complete mechanical CSR accesses itself.
        self.complete_in_core = False
        self.quiet_units = 0              # of those, the ones after a run that retired nothing
        vm.policy.configure(self)

    # -- where the state lives -----------------------------------------------------------------

    def save(self):
        core = self.core
        self.x = core.x.tolist()
        self.f = core.f.tolist()
        self.fcsr = core.fcsr
        self._pc = core.pc
        self.real_mtimecmp = core.mtimecmp
        core.mtimecmp = MASK64
        # Give the hart back as the host set it up (an hw VCPU on the same
        # host restores only its own H and VS state).
        for number, value in self._host_csrs.items():
            core.write_csr(number, value)
        core.exit_on_exception, core.exit_on_interrupt = self._host_exit_masks
        if self.host.current_vcpu is self:
            self.host.current_vcpu = None

    def _load(self):
        core = self.core
        self._host_csrs = {CSRS[name]: core.read_csr(CSRS[name]) for name in HOST_CSRS}
        self._host_exit_masks = (core.exit_on_exception, core.exit_on_interrupt)
        if hasattr(core, "virt"):
            core.virt = 0
        core.write_csr(CSRS["medeleg"], 0)
        core.write_csr(CSRS["mideleg"], 0)
        core.write_csr(CSRS["mie"], MIE_MTIE)
        core.write_csr(CSRS["mstatus"], core.read_csr(CSRS["mstatus"]) & ~MSTATUS_SUM_MXR_MPRV)
        # Counter reads trap: the guest's time and instret are the hypervisor's to give.
        core.write_csr(CSRS["scounteren"], 0)
        core.write_csr(CSRS["satp"], self.real_satp)
        core.x[:] = self.x
        core.x[0] = 0
        core.f[:] = self.f
        core.fcsr = self.fcsr
        core.priv = PRIV_U
        core.pc = self._pc
        core.mtimecmp = self.real_mtimecmp
        core.exit_on_exception = ALL_EXCEPTIONS
        core.exit_on_interrupt = ALL_INTERRUPTS
        self._hart_fs = None              # mstatus is the host's: fp_to_hart sets FS on the next run

    # -- registers (x and pc: HartTenant) --------------------------------------------------------

    @property
    def priv(self):
        return self.state.priv

    # The virtual supervisor CSRs by name; "vs*" names (what hypercalls
    # written for the H extension use) reach the same registers.
    def _csr_number(self, name):
        number = NAMED_CSRS.get(name[1:] if name.startswith("vs") else name)
        if number is None or number >= CSR_CYCLE:
            raise HvError(f"{name} is not part of a trap-emulate VCPU's state")
        return number

    def get_csr(self, name):
        return self.state.read(self._csr_number(name))

    def set_csr(self, name, value):
        number = self._csr_number(name)
        if number == CSR_SATP:
            self.vm.policy.set_guest_satp(self, value)
            return
        effects = self.state.write(number, value)
        self.vm.policy.apply_effects(self, effects)

    def set_priv(self, priv, virt=1):
        """Virtual privilege (the hart itself stays in U-mode)."""
        self.state.priv = PRIV_S if priv else PRIV_U
        self.vm.policy.install_root(self)

    def reset(self, entry, a0=0, a1=0):
        self.state.reset()
        self.set_x(REG_A0, a0)
        self.set_x(REG_A0 + 1, a1)
        self.pc = entry
        self.vm.policy.reset(self)
        self._sync_timer()

    # -- time, counters, interrupts ------------------------------------------------------------------

    def guest_time(self):
        return self.core.mtime           # one clock for the host and its guests

    def guest_instret(self):
        return self.instret + self.emulated_insns

    def _read_counter(self, csr):
        if csr == CSR_TIME:
            return self.guest_time()
        if csr in (CSR_CYCLE, CSR_INSTRET):
            return self.guest_instret()
        return 0                          # hpmcounter3..31: no events implemented

    def set_timer(self, guest_deadline):
        self.state.stimecmp = guest_deadline & MASK64
        self._sync_timer()

    def _sync_timer(self):
        """STIP = time >= stimecmp (Sstc's rule, which SBI set_timer follows
        too); the real mtimecmp is armed only while STIP is still to come."""
        deadline = self.state.stimecmp
        fired = deadline != MASK64 and self.guest_time() >= deadline
        self.state.set_pending(SIP_STIP, fired)
        self.real_mtimecmp = MASK64 if fired or deadline == MASK64 else deadline
        if self.loaded:
            self.core.mtimecmp = self.real_mtimecmp

    def timer_fired(self):
        self._sync_timer()

    def timer_deadline(self):
        """Host mtime at which the guest's enabled timer interrupt comes, or None."""
        if not self.state.sie & SIP_STIP or self.state.stimecmp == MASK64:
            return None
        return self.state.stimecmp

    def wait_until(self, deadline):
        """Block (after a WFI) until host mtime reaches deadline; the
        scheduler runs others meanwhile."""
        self.blocked_until = deadline

    def _wake(self):
        # Nobody else wanted the hart until now: time skips to the deadline.
        core = self.core
        if self.blocked_until > core.mtime:
            core.mtime = self.blocked_until
            self.time_skipped += 1
        self.blocked_until = None
        self._sync_timer()

    def set_external_interrupt(self, level):
        self.state.set_pending(SIP_SEIP, level)

    def set_software_interrupt(self, level):
        self.state.set_pending(SIP_SSIP, level)

    def inject_vs_exception(self, cause, tval):
        """Reflect an exception at the current pc (the name hw policies use)."""
        self.vm.policy.reflect(self, cause, tval, self.pc)

    # -- KVM_RUN ---------------------------------------------------------------------------------------

    def run(self, budget):
        if self.vm.stopped:
            return Exit("shutdown", pc=self.pc)
        hart = self._host_hart
        if hart is None or hart.core is not self.core or hart.current_vcpu is not self:
            self.activate()
        if self.blocked_until is not None:
            self._wake()
        state = self.state
        if state.sip & state.sie:
            self.vm.policy.deliver_interrupt(self)
        fs = state.sstatus & SSTATUS_FS
        if fs != self._hart_fs:
            self.fp_to_hart()
        if self.complete_in_core and state.priv == PRIV_S and fs in (0, SSTATUS_FS) \
                and self.vm.tracer is None:
            # FS Off or Dirty: nothing the core completes needs the F/D sync.
            exit = self._enter_completing_csrs(budget)
        else:
            exit = self.enter(budget)
        if fs != SSTATUS_FS and fs:
            # Only FS Initial or Clean can change while the guest runs: Off
            # makes FP illegal, Dirty is already what FP use would make it.
            self.fp_from_hart()
        return exit

    def _enter_completing_csrs(self, budget):
        """enter(budget), the core completing the guest kernel's mechanical
        CSR accesses itself (Core.run_vcsr: sstatus without side effects,
        sscratch, sepc, scause, stval, reads of time) exactly as _csr would;
        they are counted as the exits they stand for."""
        core = self.core
        state = self.state
        core.vcsr_load(state.sstatus, state.sie, state.sip, state.sscratch, state.sepc,
                       state.scause, state.stval, state.mcounteren >> 1 & 1)
        before = core.instret
        started = perf_counter()
        reason = core.run_vcsr(budget)
        self.host_seconds += perf_counter() - started
        retired = core.instret - before
        self.instret += retired
        self.runs += 1
        done = core.vcsr_take()
        if done is not None:
            completed, quiet, words, registers, last_quiet = done
            if registers is not None:
                state.sstatus, state.sscratch, state.sepc, state.scause, state.stval = registers
            self.runs += completed            # each was a run of the core, as an exit ends one
            if last_quiet and retired:
                # The exit returned came from a run that retired nothing, which
                # the scheduler, seeing instructions retired, would not count.
                # (It is no budget exit: every trap of the guest leaves the
                # core, so a run of the core never ends on budget unretired.)
                quiet += 1
            self.quiet_units += quiet
            self.vm.policy.count_in_core(self, completed, words)
        return self.decode_exit(reason)

    # -- the F/D state: the guest's virtual sstatus.FS runs on the real mstatus.FS ---------------

    def fp_to_hart(self):
        """The hart's FS becomes the guest's virtual one, so FP (and fflags,
        frm, fcsr) is an illegal instruction while the guest has it Off,
        which the policy reflects to the guest as such."""
        core = self.core
        status = core.read_csr(CSR_MSTATUS)
        fs = self.state.sstatus & SSTATUS_FS
        wanted = (status & ~SSTATUS_FS) | fs
        if wanted != status & ~SSTATUS_SD:
            core.write_csr(CSR_MSTATUS, wanted)
        self._hart_fs = fs

    def fp_from_hart(self):
        """FP the guest used made the hart's FS Dirty: so is the guest's
        virtual sstatus.FS (a kernel saves f registers only when it is)."""
        if self.core.read_csr(CSR_MSTATUS) & SSTATUS_FS == SSTATUS_FS:
            self.state.mark_fp_dirty()
            self._hart_fs = SSTATUS_FS

    def wfi_mode(self):
        return {"priv": self.state.priv, "virt": 0}

    def decode_trap(self, core):
        cause = core.exit_cause
        pc = core.exit_pc
        priv = self.state.priv
        if cause & INTERRUPT_BIT:
            return Exit.of("interrupt", {"cause": cause & ~INTERRUPT_BIT, "pc": pc, "virt": 0,
                                         "priv": priv})
        if cause == causes.EXC_ECALL_U and priv == PRIV_S:
            args = core.x[REG_A0:REG_A7 + 1].tolist()
            return Exit.of("sbi", {"cause": cause, "pc": pc, "ext": args[7], "fid": args[6],
                                   "args": tuple(args[:6]), "virt": 0, "priv": priv})
        return Exit.of("trap", {"cause": cause, "pc": pc, "tval": core.exit_tval,
                                "insn": core.exit_insn, "virt": 0, "priv": priv})


class TrapEmulatePolicy:
    """Completes a TrapEmulateVCPU's exits: emulates the guest kernel's
    privileged instructions, answers its SBI calls, serves its MMIO, fills the
    shadow, reflects everything else. Counters in stats()["trap_emulate"]."""

    on_bad_access = "reflect"
    pager_options = {"drop_on_sfence": False, "fill_superpages": True}   # ShadowPager keyword arguments

    def __init__(self, vm):
        self.vm = vm
        if vm.paging != "shadow":
            # No G stage without H: shadow tables are the only way to map a guest.
            raise HvError(f"trap-emulate runs without the H extension, so with shadow paging "
                          f"only (not {vm.paging})")
        vm.pager = ShadowPager(vm, user_split=True, **self.pager_options)
        self.exits = collections.Counter()        # why the guest left the loop, finer than Exit.kind
        self.emulated = collections.Counter()     # instructions emulated, by mnemonic
        self.csr_accesses = collections.Counter()  # "csrrs sstatus", ...
        # of the privileged exits counted, those the core completed itself
        # without leaving its loop (Core.run_vcsr)
        self.completed_in_core = 0
        self.reflected = collections.Counter()    # traps reflected into the guest, by cause
        self.handlers = {
            "budget": self._budget, "shutdown": self._budget, "sbi": self._sbi,
            "mmio": self._mmio, "trap": self._trap, "interrupt": self._interrupt, "wfi": self._wfi,
        }

    # -- configuration -----------------------------------------------------------------------------

    def configure(self, vcpu):
        vcpu.guest_satp = 0

    def reset(self, vcpu):
        self.set_guest_satp(vcpu, 0)

    def mmio_gpa(self, addr):
        return self.vm.mmio_gpa(addr)

    # -- translation ----------------------------------------------------------------------------------

    def install_root(self, vcpu):
        """The real satp for the virtual privilege: ring compression."""
        satp = self.vm.pager.root_satp(vcpu.state.priv)
        if satp != vcpu.real_satp:
            vcpu.real_satp = satp
            if vcpu.loaded:
                vcpu.core.write_csr(CSRS["satp"], satp)

    def set_guest_satp(self, vcpu, value):
        value &= MASK64
        if value >> 60 not in (0, 8, 9):
            return
        vcpu.state.satp = value
        vcpu.guest_satp = value
        self.vm.pager.set_guest_satp(value)
        self.install_root(vcpu)

    def guest_sfence(self, vcpu, vaddr, asid):
        pager = self.vm.pager
        pager.sfence(vaddr=vaddr, asid=asid)
        if vcpu.core is not pager.core:
            # The pager has flushed its own core's TLB already (4 us of the
            # core clearing a TLB context, each time).
            vcpu.core.flush_tlb()

    def guest_virt_to_phys(self, vcpu, vaddr):
        status = vcpu.state.sstatus
        walk, _ = self.vm.pager.guest_walk(vaddr & MASK64, "load", PRIV_S,
                                           bool(status & SSTATUS_SUM), bool(status & SSTATUS_MXR))
        return None if walk is None else walk.gpa

    def apply_effects(self, vcpu, effects):
        if "status" in effects:
            status = vcpu.state.sstatus
            self.vm.pager.set_guest_status(bool(status & SSTATUS_SUM), bool(status & SSTATUS_MXR))
        if "timer" in effects:
            vcpu.timer_fired()

    # -- traps into the guest ------------------------------------------------------------------------

    def reflect(self, vcpu, cause, tval, epc):
        """Deliver an exception to the guest kernel as its hart would."""
        self.reflected[str(cause)] += 1
        self.vm.reflected_faults[cause] += 1
        vcpu.pc = vcpu.state.enter_trap(cause, tval, epc)
        self.install_root(vcpu)

    def deliver_interrupt(self, vcpu):
        """Before the guest runs: take the highest pending enabled virtual interrupt."""
        state = vcpu.state
        if not state.sip & state.sie:
            return
        code = state.pending_interrupt()
        if code is None:
            return
        self.reflected[f"interrupt {code}"] += 1
        vcpu.pc = state.enter_trap(code, 0, vcpu.pc, interrupt=True)
        self.install_root(vcpu)

    # -- exits ---------------------------------------------------------------------------------------

    def handle(self, vcpu, exit):
        self.handlers[exit.kind](vcpu, exit)

    def _budget(self, vcpu, exit):
        self.exits[exit.kind] += 1

    def _sbi(self, vcpu, exit):
        self.exits["sbi"] += 1
        self.emulated["ecall"] += 1
        vcpu.emulated_insns += 1
        exits.handle_sbi(vcpu, exit)

    def _mmio(self, vcpu, exit):
        self.exits["mmio"] += 1
        exits.handle_mmio(vcpu, exit)

    def _interrupt(self, vcpu, exit):
        if exit.cause == causes.IRQ_M_TIMER:
            self.exits["timer"] += 1
            vcpu.timer_fired()
            return
        self.exits["interrupt"] += 1
        self.vm.error = f"unexpected host interrupt {exit.cause} at pc {exit.pc:#x}"
        self.vm.request_stop("error", 1)

    def _wfi(self, vcpu, exit):
        # The hart never lets U-mode wait; kept for a core that would.
        self.exits["wfi"] += 1
        self._idle(vcpu)

    def _trap(self, vcpu, exit):
        cause = exit.cause
        if cause == EXC_ILLEGAL_INST:
            self.exits["privileged"] += 1
            if self.emulate(vcpu, exit):
                return
            self.reflect(vcpu, cause, exit.tval, exit.pc)
            return
        if cause in PAGE_FAULTS:
            self._page_fault(vcpu, exit)
            return
        if cause in (causes.EXC_ECALL_S, causes.EXC_ECALL_M) or cause >= 16:
            self.vm.error = f"unexpected trap cause {cause} at pc {exit.pc:#x}"
            self.vm.request_stop("error", 1)
            return
        self.exits["guest_exception"] += 1
        self.reflect(vcpu, cause, exit.tval, exit.pc)

    def _page_fault(self, vcpu, exit):
        status = vcpu.state.sstatus
        pager = self.vm.pager
        outcome = pager.handle_page_fault(exit.cause, exit.tval, vcpu.state.priv,
                                          bool(status & SSTATUS_SUM), bool(status & SSTATUS_MXR),
                                          exit.insn)
        self._page_fault_outcome(vcpu, exit, outcome)

    def _page_fault_outcome(self, vcpu, exit, outcome):
        """The rest of a page fault's exit once the pager has handled it."""
        self.exits[PAGE_FAULT_EXITS[outcome]] += 1
        if outcome == "guest":
            pager = self.vm.pager
            cause = exit.cause if pager.fault_cause is None else pager.fault_cause
            tval = exit.tval if pager.fault_tval is None else pager.fault_tval
            self.reflect(vcpu, cause, tval, exit.pc)
        elif outcome == "emulated":
            retire_performed_store(vcpu)

    # -- instruction emulation -------------------------------------------------------------------------

    def emulate(self, vcpu, exit):
        """Emulate the privileged instruction behind an illegal-instruction
        exit; False when the guest's own hart would raise illegal-instruction."""
        return self.emulate_insn(vcpu, (exit.insn or exit.tval) & 0xFFFF_FFFF, exit.pc)

    def emulate_insn(self, vcpu, insn, pc):
        """emulate for the instruction word `insn` at guest pc `pc`, which a
        translator's callout knows without an exit."""
        op = _system_op(insn)
        if op[0] == "csr":
            return self._csr(vcpu, pc, op)
        kind, rd, rs1, funct3, csr = op
        state = vcpu.state
        if state.priv != PRIV_S:
            return False
        if insn == INSN_SRET:
            self._retire(vcpu, "sret")
            vcpu.pc = state.sret()
            self.install_root(vcpu)
            return True
        if kind == "sfence.vma":
            vaddr = vcpu.get_x(rs1) if rs1 else None
            asid = vcpu.get_x(csr) if csr else None
            self.guest_sfence(vcpu, vaddr, asid)
            self._retire(vcpu, "sfence.vma")
            vcpu.pc = pc + 4
            return True
        if insn == INSN_WFI:
            self._retire(vcpu, "wfi")
            vcpu.pc = pc + 4
            if not state.can_wake():
                self._idle(vcpu)
            return True
        return False

    def count_in_core(self, vcpu, completed, words):
        """Count the CSR accesses the core completed (Core.run_vcsr) as the
        exits _csr would have counted: [(instruction word, count)]."""
        self.exits["privileged"] += completed
        self.completed_in_core += completed
        self.vm.exit_counts["trap"] += completed
        vcpu.emulated_insns += completed
        for word, count in words:
            if count:
                op = _system_op(word)
                self.emulated[op[6]] += count
                self.csr_accesses[op[7]] += count

    def _retire(self, vcpu, mnemonic):
        self.emulated[mnemonic] += 1
        vcpu.emulated_insns += 1

    def _csr(self, vcpu, pc, op):
        _, rd, rs1, funct3, csr, writes, mnemonic, access, plain = op
        state = vcpu.state
        # The most frequent exit of all: the registers straight from the core
        # when it holds the VCPU (after the VCPU's own run it does).
        core = vcpu.core if vcpu.loaded else None
        if funct3 & 4:
            operand = rs1
        else:                         # read before rd is written
            operand = core.get_x(rs1) if core is not None else vcpu.get_x(rs1)
        try:
            # An S CSR with no further condition needs only virtual S (the
            # read-only ones are not plain when written).
            if not plain or state.priv != PRIV_S:
                state.check_access(csr, writes)
            old = state.read(csr)
            if writes:
                new = exits.csr_op(funct3, old, operand, rs1)
                if csr == CSR_SATP:
                    self.set_guest_satp(vcpu, new)
                else:
                    effects = state.write(csr, new)
                    if effects:
                        self.apply_effects(vcpu, effects)
        except IllegalAccess:
            return False
        if core is None:
            vcpu.set_x(rd, old)
        elif rd:
            core.set_x(rd, old)
        self.emulated[mnemonic] += 1
        vcpu.emulated_insns += 1
        self.csr_accesses[access] += 1
        vcpu.pc = pc + 4
        return True

    def _idle(self, vcpu):
        """WFI with nothing pending: the VCPU blocks until the guest's enabled
        timer (time skips there unless another VCPU runs meanwhile); without
        one, wait for console input that could wake it, else the VM idles for
        ever (status 125, as on the board)."""
        deadline = vcpu.timer_deadline()
        if deadline is not None:
            vcpu.wait_until(deadline)
            return
        if self.vm.input_can_wake():
            return
        self.vm.request_stop("idle", EXIT_IDLE)

    # -- figures --------------------------------------------------------------------------------------

    def stats(self):
        vcpus = self.vm.vcpus
        guest_insns = sum(v.guest_instret() for v in vcpus)
        handled = sum(n for kind, n in self.exits.items() if kind != "budget")
        return {"trap_emulate": {
            "exits": dict(sorted(self.exits.items())),
            "exits_handled": handled,
            "completed_in_core": self.completed_in_core,
            "guest_instructions": guest_insns,
            "exits_per_1000_insns": round(1000 * handled / guest_insns, 3) if guest_insns else None,
            "emulated": dict(sorted(self.emulated.items())),
            "csr_accesses": dict(sorted(self.csr_accesses.items())),
            "reflected": dict(sorted(self.reflected.items())),
        }}


@functools.lru_cache(maxsize=4096)
def _system_op(insn):
    """A privileged instruction word decoded once (a kernel runs few distinct
    ones, over and over): exits.decode_system's (kind, rd, rs1, funct3, csr),
    and for a CSR instruction also whether it writes (csrrs/csrrc and their
    immediates with rs1/uimm 0 write nothing, so a read-only CSR is fine;
    csrrw always writes), its mnemonic and "mnemonic csr" as the counters
    name them, and whether virtual S may access it with no further check
    (an S CSR other than stimecmp, written only if writable)."""
    kind, rd, rs1, funct3, csr = exits.decode_system(insn)
    if kind != "csr":
        return kind, rd, rs1, funct3, csr
    writes = funct3 & 3 == 1 or rs1 != 0
    mnemonic = CSR_MNEMONICS[funct3]
    plain = (csr in CSR_NAMES and csr != CSR_STIMECMP and (csr >> 8) & 3 <= PRIV_S
             and not CSR_CYCLE <= csr <= CSR_HPMCOUNTER31 and not (writes and (csr >> 10) & 3 == 3))
    return kind, rd, rs1, funct3, csr, writes, mnemonic, f"{mnemonic} {csr_name(csr)}", plain


def register():
    """Add "trap-emulate" to pyvmm.hv's technique registry."""
    from pyvmm.hv import register_technique
    register_technique("trap-emulate", TrapEmulateVCPU, TrapEmulatePolicy)

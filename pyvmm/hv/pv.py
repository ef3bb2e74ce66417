"""Paravirtualization (technique "pv"): a guest kernel ported to call the
hypervisor instead of executing privileged instructions, after Xen PV on
x86-64, where the PV kernel also runs in ring 3.

The PV kernel (guests/kernel/kernel-pv.elf, built with -DPV) runs in real
U-mode at V=0, like its user programs, on shadow page tables
(ShadowPager(vm, user_split=True): one tree for the kernel, one for guest
user code that maps only the guest's U pages). It asks for everything
privileged with `ecall`, a7 = PV_EID (0x0A505600, in the SBI's
firmware-specific range, so the base extension's probe finds it), a6 = the
function, arguments in a0.., the answer in a0 (error) / a1 (value):

    fid  name                 arguments                   does
    0    register_callbacks   callback va, info gpa       where upcalls enter; the shared page
    1    mmu_update           gpa of (pte gpa, value)[n], n   validated PTE writes, shadow kept coherent
    2    new_baseptr          satp                        switch address space (and flush)
    3    tlb_flush            0 all / 1 page, va          sfence.vma
    4    set_timer            absolute time               one timer event at that time
    5    console_write        length, gpa                 bytes to the console
    6    iret                 gpa of x0..x31, pc          resume user code (does not return)
    7    block                -                           wfi: until an enabled event is pending
    8    console_read         length, gpa                 bytes from the console

HYPERCALLS below is that table ({fid: handler(vcpu, args) -> (error,
value), or None when the handler set the VCPU's state itself}); each VM
copies it into vm.hypercalls[(PV_EID, fid)] beside the SBI, so a user adds a
hypercall to every later VM by adding to HYPERCALLS, or to one VM through its
vm.hypercalls. Anything else the kernel needs (probe, shutdown) is the SBI.

The shared "vcpu info" page (64 bytes, INFO_* offsets) holds what the native
kernel reads from CSRs: the interrupted pc, cause and tval and the mode the
upcall came from (written by the hypervisor), pending events, the events the
kernel has enabled (its sie), the upcall mask (its sstatus.SIE, inverted)
and a scratch word swapped with sp on an upcall (its sscratch). Enabling
events and masking upcalls are plain stores: no exit.

Guest user ecalls and faults, and kernel faults the shadow does not hide,
are bounced to the callback (an "upcall"): the hypervisor fills the info
page, swaps sp with scratch and enters the callback in kernel mode. Events
(timer expiry, console input) are upcalls with the interrupt bit set in the
cause, delivered only when enabled and, while the kernel runs, unmasked (as
Xen's evtchn_upcall_mask). A store by the kernel to one of its write-protected
page-table pages is a bug of the PV port: the hypervisor stops the VM and
names it (page tables change only through mmu_update).
"""

import collections
import struct

from pyvmm.hv import exits
from pyvmm.hv.exits import Exit
from pyvmm.hv.host import HvError
from pyvmm.hv.vcpu import VCPU
from pyvmm.isa import causes
from pyvmm.machine import sbi
from pyvmm.machine.layout import EXIT_IDLE

PV_EID = 0x0A505600
MASK64 = (1 << 64) - 1
INTERRUPT_BIT = 1 << 63
PAGE_SIZE = 4096

# Function numbers (guests/kernel/pv/pv.h has the same).
REGISTER_CALLBACKS, MMU_UPDATE, NEW_BASEPTR, TLB_FLUSH, SET_TIMER = 0, 1, 2, 3, 4
CONSOLE_WRITE, IRET, BLOCK, CONSOLE_READ = 5, 6, 7, 8
FLUSH_ALL, FLUSH_PAGE = 0, 1
MMU_UPDATE_MAX = 4096             # entries per call: bounds the work of one exit

# The vcpu info page: eight doublewords.
INFO_PC, INFO_CAUSE, INFO_TVAL, INFO_PREV_MODE = 0, 8, 16, 24
INFO_PENDING, INFO_ENABLED, INFO_UPCALL_MASK, INFO_SCRATCH = 32, 40, 48, 56
INFO_SIZE = 64
INFO_FORMAT = struct.Struct("<8Q")

# Events use the S interrupt numbers, so the kernel's scause/sip code is unchanged.
EVENT_TIMER = causes.IRQ_S_TIMER            # 5
EVENT_CONSOLE = causes.IRQ_S_EXT            # 9
EVENT_NAMES = {EVENT_TIMER: "timer", EVENT_CONSOLE: "console"}
EVENT_PRIORITY = (EVENT_CONSOLE, EVENT_TIMER)   # SEI before STI, as the hart orders them

MODE_USER, MODE_KERNEL = 0, 1

# The hart's view while a PV guest runs: real U-mode, V=0.
CSR_SCOUNTEREN, CSR_SATP, CSR_HIE, CSR_HVIP = 0x106, 0x180, 0x604, 0x645
CSR_MSTATUS = 0x300
MSTATUS_FS = 3 << 13          # mstatus.FS: Off, Initial, Clean, Dirty
SCOUNTEREN_TM = 1 << 1            # rdtime from U (the PV kernel reads time itself)

PTE_V, PTE_R, PTE_W, PTE_X = 1, 2, 4, 8
PTE_HIGH_BITS = 0x3FF << 54
PTE_PPN_MASK = (1 << 44) - 1
SATP_MODES = (0, 8, 9)
FRAME_WORDS = 33                  # iret's frame: x0..x31, pc

PAGE_FAULTS = (causes.EXC_INST_PAGE_FAULT, causes.EXC_LOAD_PAGE_FAULT,
               causes.EXC_STORE_PAGE_FAULT)
UPCALL_KINDS = {causes.EXC_ECALL_U: "syscall", causes.EXC_BREAKPOINT: "breakpoint",
                causes.EXC_INST_PAGE_FAULT: "page_fault", causes.EXC_LOAD_PAGE_FAULT: "page_fault",
                causes.EXC_STORE_PAGE_FAULT: "page_fault"}


# -- the hypercalls ----------------------------------------------------------------------

def _words(vm, gpa, n):
    return struct.unpack(f"<{n}Q", vm.read(gpa, 8 * n))


def register_callbacks(vcpu, args):
    """Where upcalls enter (a kernel virtual address) and the GPA of the
    vcpu info page (8-byte aligned, in RAM, within one page)."""
    callback, info_gpa = args[0], args[1]
    vm = vcpu.vm
    if info_gpa % 8 or not vm.in_ram(info_gpa, INFO_SIZE) \
            or info_gpa // PAGE_SIZE != (info_gpa + INFO_SIZE - 1) // PAGE_SIZE:
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    if callback % 2:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    vcpu.callback = callback
    vcpu.info_gpa = info_gpa
    vcpu.info_hpa = vm.gpa_to_hpa(info_gpa)
    vcpu.pending_events = 0
    _write_info(vcpu, INFO_PENDING, 0)
    return sbi.SBI_SUCCESS, 0


def check_pte(vm, value):
    """Why a PTE value may not be written, or None. A valid entry must name
    a frame of this VM: RAM for a pointer to a table, RAM or one of its
    device pages for a leaf. (For a superpage the first 4 KiB frame is
    checked here; the shadow pager maps every 4 KiB page through the VM's
    own memory map, so nothing beyond the VM is reachable in any case.)"""
    if not value & PTE_V:
        return None
    if value & PTE_HIGH_BITS:
        return "reserved bits set"
    if value & PTE_W and not value & PTE_R:
        return "writable but not readable (reserved encoding)"
    frame = ((value >> 10) & PTE_PPN_MASK) << 12
    if vm.in_ram(frame, PAGE_SIZE):
        return None
    if value & (PTE_R | PTE_X) and vm.is_mmio(frame):
        return None
    return f"frame {frame:#x} is not the VM's"


def mmu_update(vcpu, args):
    """A batch of (PTE GPA, new value) pairs at args[0], args[1] of them:
    each validated, written to guest memory and the shadow entries derived
    from the old value dropped. Like Xen, entries are applied in order and
    the first bad one stops the batch: (error, entries done)."""
    req_gpa, count = args[0], args[1]
    vm = vcpu.vm
    policy = vm.policy
    if count == 0:
        return sbi.SBI_SUCCESS, 0
    if count > MMU_UPDATE_MAX:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    if req_gpa % 8 or not vm.in_ram(req_gpa, 16 * count):
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    words = _words(vm, req_gpa, 2 * count)
    policy.mmu_batches[count] += 1
    for done in range(count):
        ptr, value = words[2 * done], words[2 * done + 1]
        if ptr % 8 or not vm.in_ram(ptr, 8):
            policy.refused_ptes += 1
            return sbi.SBI_ERR_INVALID_ADDRESS, done
        if check_pte(vm, value) is not None:
            policy.refused_ptes += 1
            return sbi.SBI_ERR_INVALID_PARAM, done
        vm.write(ptr, value.to_bytes(8, "little"))    # drops derived shadow entries
        policy.pte_updates += 1
    return sbi.SBI_SUCCESS, count


def new_baseptr(vcpu, args):
    """Switch the guest's address space (its satp; Bare, Sv39 or Sv48).
    Shadow trees are kept per address space and stay coherent through
    mmu_update, so switching back finds them filled."""
    satp = args[0]
    mode = satp >> 60
    vm = vcpu.vm
    if mode not in SATP_MODES:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    if mode and not vm.in_ram((satp & PTE_PPN_MASK) << 12, PAGE_SIZE):
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    vm.pager.set_guest_satp(satp)
    vcpu.install_view()
    return sbi.SBI_SUCCESS, 0


def tlb_flush(vcpu, args):
    """sfence.vma (all, or one page). mmu_update already dropped every
    shadow entry a PTE change made stale, so only the hart's TLB is left."""
    if args[0] not in (FLUSH_ALL, FLUSH_PAGE):
        return sbi.SBI_ERR_INVALID_PARAM, 0
    vcpu.core.flush_tlb()
    return sbi.SBI_SUCCESS, 0


def set_timer(vcpu, args):
    vcpu.set_timer(args[0])
    return sbi.SBI_SUCCESS, 0


def console_write(vcpu, args):
    length, gpa = args[0], args[1]
    vm = vcpu.vm
    if not vm.in_ram(gpa, length):
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    vm.console_write(vm.read(gpa, length))
    return sbi.SBI_SUCCESS, length


def console_read(vcpu, args):
    """Up to `length` bytes of console input at gpa (0 when none is ready);
    the console event stays pending while input is left."""
    length, gpa = args[0], args[1]
    vm = vcpu.vm
    if not vm.in_ram(gpa, length):
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    data = bytearray()
    while len(data) < length:
        byte = vm.console_read()
        if byte < 0:
            break
        data.append(byte)
    if data:
        vm.write(gpa, bytes(data))
    if not vm.input.pending():
        vcpu.clear_event(EVENT_CONSOLE)
    return sbi.SBI_SUCCESS, len(data)


def iret(vcpu, args):
    """Resume guest user code from a frame in guest memory (x0..x31, pc):
    the only way from the PV kernel to its user mode."""
    frame_gpa = args[0]
    vm = vcpu.vm
    if frame_gpa % 8 or not vm.in_ram(frame_gpa, 8 * FRAME_WORDS):
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    words = _words(vm, frame_gpa, FRAME_WORDS)
    vcpu.activate()
    vcpu.core.x[1:32] = words[1:32]
    vcpu.pc = words[32]
    vcpu.set_mode(MODE_USER)
    return None


def block(vcpu, args):
    """wfi: return when an enabled event is pending. With the timer armed
    the VCPU sleeps until it (time skips if nobody else runs); with console
    input enabled it waits for a byte; with neither, nothing can ever wake
    it: the VM is idle for ever (status 125, as the board)."""
    vm = vcpu.vm
    policy = vm.policy
    policy.poll_events(vcpu)
    enabled = _read_info(vcpu)[INFO_ENABLED // 8]
    if vcpu.pending_events & enabled:
        return sbi.SBI_SUCCESS, 0
    if vcpu.timer is not None and enabled >> EVENT_TIMER & 1:
        vcpu.blocked_until = vcpu.timer
        policy.blocks += 1
        return sbi.SBI_SUCCESS, 0
    if enabled >> EVENT_CONSOLE & 1 and vm.input.wait():
        vcpu.raise_event(EVENT_CONSOLE)
        return sbi.SBI_SUCCESS, 0
    vm.request_stop("idle", EXIT_IDLE)
    return sbi.SBI_SUCCESS, 0


HYPERCALLS = {
    REGISTER_CALLBACKS: register_callbacks,
    MMU_UPDATE: mmu_update,
    NEW_BASEPTR: new_baseptr,
    TLB_FLUSH: tlb_flush,
    SET_TIMER: set_timer,
    CONSOLE_WRITE: console_write,
    IRET: iret,
    BLOCK: block,
    CONSOLE_READ: console_read,
}


def hypercall_name(fid):
    handler = HYPERCALLS.get(fid)
    return handler.__name__ if handler is not None else f"fid{fid}"


# -- the shared page ---------------------------------------------------------------------

# The page lies within one guest page (register_callbacks checks), so one
# host frame holds it (info_hpa, until a copy-on-write share of it breaks).

def _read_info(vcpu):
    return INFO_FORMAT.unpack(vcpu.vm.read(vcpu.info_gpa, INFO_SIZE))


def _write_info_bytes(vcpu, offset, data):
    # vm.write: the frame may be shared copy-on-write (a clone), and the shadow is told.
    vcpu.vm.write(vcpu.info_gpa + offset, data)


def _write_info(vcpu, offset, value):
    _write_info_bytes(vcpu, offset, (value & MASK64).to_bytes(8, "little"))


# -- the VCPU ----------------------------------------------------------------------------

class PVVCPU(VCPU):
    """A PV guest's hart: integer registers, pc, the guest's mode (user or
    kernel: both real U-mode) and the PV state (callback, info page, timer).
    Loaded, the core runs at V=0 in U-mode on the shadow tree of that mode."""

    def __init__(self, vm, hartid=0):
        self.mode = MODE_KERNEL
        self.callback = None
        self.info_gpa = None
        self.info_hpa = None
        self.pending_events = 0
        self.timer = None             # host mtime of the armed timer event
        self.satp = 0
        super().__init__(vm, hartid)
        self.blocked_until = getattr(self, "blocked_until", None)

    # -- state in and out of the core

    def save(self):
        core = self.core
        self.x = core.x.tolist()
        self.f = core.f.tolist()
        self.fcsr = core.fcsr
        self._pc = core.pc
        self.satp = core.read_csr(CSR_SATP)
        if self.host.current_vcpu is self:
            self.host.current_vcpu = None

    def _load(self):
        core = self.core
        if hasattr(core, "virt"):
            # PV needs no H extension; on a hart with it, V=0, and the VS
            # interrupts another VCPU left would be taken in HS.
            core.write_csr(CSR_HIE, 0)
            core.write_csr(CSR_HVIP, 0)
            core.virt = 0
        core.write_csr(CSR_SCOUNTEREN, SCOUNTEREN_TM)
        core.write_csr(CSR_SATP, self.satp)
        core.x[:] = self.x
        core.x[0] = 0
        core.f[:] = self.f
        core.fcsr = self.fcsr
        # a PV guest has no sstatus of its own: its FP is always enabled
        core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) | MSTATUS_FS)
        core.priv = 0
        core.pc = self._pc
        core.exit_on_exception = self.exit_on_exception
        core.exit_on_interrupt = self.exit_on_interrupt
        if hasattr(core, "clear_guest_mmio"):
            core.clear_guest_mmio()    # device pages are the shadow's MMIO windows here
        core.flush_tlb()

    def get_csr(self, name):
        raise HvError(f"a PV VCPU has no {name}: its kernel keeps that state in the vcpu info page")

    def guest_priv(self):
        """The guest's own privilege: 1 while its kernel runs (in real U-mode,
        deprivileged), 0 in its user programs."""
        return 1 if self.mode == MODE_KERNEL else 0

    def guest_address_space(self):
        """The satp of the address space the kernel switched to last
        (new_baseptr): what its loads and fetches translate through."""
        return self.vm.pager.guest_satp

    def set_csr(self, name, value):
        raise HvError(f"a PV VCPU has no {name}: its kernel keeps that state in the vcpu info page")

    def set_external_interrupt(self, level):
        """The VM's PLIC output: a PV kernel takes console input as an event
        instead, so the line is only recorded."""
        self.external_level = bool(level)

    def set_software_interrupt(self, level):
        self.software_level = bool(level)

    def reset(self, entry, a0=0, a1=0):
        """Entered like a native kernel (a0 = hart id, a1 = device tree,
        translation off), but in kernel mode = real U-mode, no callback yet."""
        self.mode = MODE_KERNEL
        self.callback = None
        self.info_gpa = None
        self.info_hpa = None
        self.pending_events = 0
        self.timer = None
        self.vm.pager.set_guest_satp(0)
        self.set_x(10, a0)
        self.set_x(11, a1)
        self.pc = entry
        self.install_view()

    # -- the guest's mode and address space

    def set_mode(self, mode):
        self.mode = mode
        self.install_view()

    def install_view(self):
        """satp = the shadow tree of the guest's current address space and mode."""
        satp = self.vm.pager.root_satp(self.mode)
        if self.loaded:
            self.core.write_csr(CSR_SATP, satp)     # trees have their own ASIDs: no flush
        else:
            self.satp = satp

    # -- events

    @property
    def uses_sstc(self):
        return False

    def set_timer(self, deadline):
        """One timer event at host time `deadline` (all ones: none); as
        stimecmp, setting it withdraws a pending timer event."""
        deadline &= MASK64
        self.timer = None if deadline == MASK64 else deadline
        self.clear_event(EVENT_TIMER)

    def timer_deadline(self):
        return self.timer

    def raise_event(self, event):
        if not self.pending_events >> event & 1:
            self.pending_events |= 1 << event
            if self.info_gpa is not None:
                _write_info(self, INFO_PENDING, self.pending_events)

    def clear_event(self, event):
        if self.pending_events >> event & 1:
            self.pending_events &= ~(1 << event)
            if self.info_gpa is not None:
                _write_info(self, INFO_PENDING, self.pending_events)

    # -- KVM_RUN

    def run(self, budget):
        if self.vm.stopped:
            return Exit("shutdown", pc=self.pc)
        self.activate()
        core = self.core
        policy = self.vm.policy
        if self.blocked_until is not None:
            if self.blocked_until > core.mtime:
                core.mtime = self.blocked_until
                self.time_skipped = getattr(self, "time_skipped", 0) + 1
            self.blocked_until = None
        policy.deliver_events(self)
        if self.vm.stopped:
            return Exit("shutdown", pc=self.pc)
        if self.timer is not None:
            ticks = self.timer - core.mtime
            budget = max(1, min(budget, ticks * core.insns_per_tick)) if ticks > 0 else 1
        return self.enter(budget)


# -- the policy --------------------------------------------------------------------------

class PVPolicy:
    """Completes a PV VCPU's exits: hypercalls, bounces to the guest
    kernel, shadow fills, device accesses, events."""

    on_bad_access = "reflect"

    def __init__(self, vm):
        from pyvmm.hv.shadow import ShadowPager
        self.vm = vm
        vm.paging = "shadow"          # always: the PV kernel runs on shadow tables
        vm.pager = ShadowPager(vm, user_split=True)
        self.hypercalls = collections.Counter()
        self.upcalls = collections.Counter()
        self.mmu_batches = collections.Counter()
        self.pte_updates = 0
        self.refused_ptes = 0
        self.blocks = 0
        self.direct_pt_writes = 0
        for fid in HYPERCALLS:
            vm.hypercalls[(PV_EID, fid)] = self._counted(fid)

    def _counted(self, fid):
        def handler(vcpu, args):
            self.hypercalls[hypercall_name(fid)] += 1
            handler_fn = HYPERCALLS.get(fid)
            if handler_fn is None:
                return sbi.SBI_ERR_NOT_SUPPORTED, 0
            return handler_fn(vcpu, args)
        handler.__name__ = hypercall_name(fid)
        return handler

    # -- configuration

    def configure(self, vcpu):
        vcpu.satp = 0

    def reset(self, vcpu):
        """Nothing to arm at boot: the PV kernel registers its callbacks and
        info page by hypercall before anything can be delivered to it."""

    def mmio_gpa(self, addr):
        return self.vm.mmio_gpa(addr)

    def guest_sfence(self, vcpu, vaddr, asid):
        """SBI remote sfence: the shadow is coherent, the hart's TLB is flushed."""
        vcpu.core.flush_tlb()

    # -- exits

    def handle(self, vcpu, exit):
        kind = exit.kind
        if kind == "trap":
            self.handle_trap(vcpu, exit)
        elif kind == "mmio":
            exits.handle_mmio(vcpu, exit)
        elif kind not in ("budget", "shutdown"):     # those need no completion
            self.stop(f"unexpected {kind} exit at pc {exit.pc:#x}")
            return
        if not self.vm.stopped:
            self.deliver_events(vcpu)

    def stop(self, message):
        self.vm.error = f"pv: {message}"
        self.vm.request_stop("error", 1)

    def handle_trap(self, vcpu, exit):
        cause = exit.cause
        if cause == causes.EXC_ECALL_U and vcpu.mode == MODE_KERNEL:
            core = vcpu.core
            regs = core.x[10:18].tolist()
            exits.handle_sbi(vcpu, Exit("sbi", cause=cause, pc=exit.pc, ext=regs[7], fid=regs[6],
                                        args=tuple(regs[:6])))
            return
        if cause in PAGE_FAULTS:
            self.page_fault(vcpu, exit)
            return
        self.bounce(vcpu, cause, exit.tval, exit.pc)

    def page_fault(self, vcpu, exit):
        pager = self.vm.pager
        if exit.cause == causes.EXC_STORE_PAGE_FAULT:
            walk, _ = pager.guest_walk(exit.tval, "store", vcpu.mode)
            if walk is not None and pager.is_page_table(walk.gpa):
                self.direct_pt_writes += 1
                self.stop(f"the kernel stored to page-table page {walk.gpa & ~(PAGE_SIZE - 1):#x} "
                          f"at pc {exit.pc:#x} (page tables change only through mmu_update)")
                return
        outcome = pager.handle_page_fault(exit.cause, exit.tval, vcpu.mode, False, False, exit.insn)
        if outcome == "guest":
            self.bounce(vcpu, pager.fault_cause, pager.fault_tval, exit.pc)
        elif outcome == "emulated":
            self.direct_pt_writes += 1
            self.stop(f"the kernel stored to a page-table page at pc {exit.pc:#x} "
                      "(page tables change only through mmu_update)")

    def bounce(self, vcpu, cause, tval, pc):
        """An upcall: the interrupted context into the info page, sp swapped
        with its scratch word, the callback entered in kernel mode with
        upcalls masked."""
        if vcpu.callback is None:
            self.stop(f"trap cause {cause:#x} at pc {pc:#x} before register_callbacks")
            return
        info = list(_read_info(vcpu))
        scratch = info[INFO_SCRATCH // 8]
        info[INFO_PC // 8] = pc
        info[INFO_CAUSE // 8] = cause
        info[INFO_TVAL // 8] = tval & MASK64
        info[INFO_PREV_MODE // 8] = vcpu.mode
        info[INFO_PENDING // 8] = vcpu.pending_events
        info[INFO_UPCALL_MASK // 8] = 1
        info[INFO_SCRATCH // 8] = vcpu.get_x(2)
        _write_info_bytes(vcpu, 0, INFO_FORMAT.pack(*info))
        vcpu.set_x(2, scratch)
        vcpu.pc = vcpu.callback
        vcpu.set_mode(MODE_KERNEL)
        if cause & INTERRUPT_BIT:
            self.upcalls[EVENT_NAMES.get(cause & ~INTERRUPT_BIT, "event")] += 1
        else:
            self.upcalls[UPCALL_KINDS.get(cause, "fault")] += 1

    # -- events

    def poll_events(self, vcpu):
        """Raise what has happened: the timer reached, console input ready."""
        if vcpu.timer is not None and vcpu.core.mtime >= vcpu.timer:
            vcpu.timer = None
            vcpu.raise_event(EVENT_TIMER)
        vm = vcpu.vm
        if vcpu.info_gpa is None or vm.input.exhausted:
            return
        # Input is read only for a kernel that asked for console events.
        if _read_info(vcpu)[INFO_ENABLED // 8] >> EVENT_CONSOLE & 1 and vm.input.pending():
            vcpu.raise_event(EVENT_CONSOLE)

    def deliver_events(self, vcpu):
        """An upcall for the first enabled pending event, if the guest is in
        user mode or has upcalls unmasked."""
        self.poll_events(vcpu)
        if not vcpu.pending_events or vcpu.info_gpa is None:
            return
        info = _read_info(vcpu)
        ready = vcpu.pending_events & info[INFO_ENABLED // 8]
        if not ready or (vcpu.mode == MODE_KERNEL and info[INFO_UPCALL_MASK // 8]):
            return
        for event in EVENT_PRIORITY:
            if ready >> event & 1:
                self.bounce(vcpu, INTERRUPT_BIT | event, 0, vcpu.pc)
                return

    def stats(self):
        return {"pv": {
            "hypercalls": dict(sorted(self.hypercalls.items())),
            "hypercalls_total": sum(self.hypercalls.values()),
            "upcalls": dict(sorted(self.upcalls.items())),
            "pte_updates": self.pte_updates,
            "mmu_update_batches": {str(size): n for size, n in sorted(self.mmu_batches.items())},
            "refused_ptes": self.refused_ptes,
            "blocks": self.blocks,
            "direct_pt_writes": self.direct_pt_writes,
        }}

"""Exits: what a VCPU's run returns, and the plain functions that complete
each kind. A handler takes (vcpu, exit), acts through the VCPU (registers,
CSRs, inject_vs_exception) and the VM (devices, hypercalls, stop), and
returns nothing; the VCPU then runs again. Tests call them with an Exit
they build themselves, no guest needed.
"""

from pyvmm.isa import causes
from pyvmm.machine.bus import BusFault
from pyvmm.machine.layout import EXIT_IDLE

MASK64 = (1 << 64) - 1
REG_A0, REG_A1 = 10, 11
EID_LEGACY_LAST = 0x0F
SBI_ERR_NOT_SUPPORTED = -2

KINDS = ("budget", "sbi", "mmio", "guest_page_fault", "virtual_instruction", "wfi", "shutdown",
         "trap", "interrupt", "debug")

# A guest-physical address outside every RAM and device region of the VM is,
# to the guest, an address with nothing behind it: the access fault a real
# bus gives (what the board's core raises for an unmapped physical address).
ACCESS_FAULT_FOR = {
    causes.EXC_INST_GUEST_PAGE_FAULT: causes.EXC_INST_ACCESS,
    causes.EXC_LOAD_GUEST_PAGE_FAULT: causes.EXC_LOAD_ACCESS,
    causes.EXC_STORE_GUEST_PAGE_FAULT: causes.EXC_STORE_ACCESS,
}

# Encodings the hypervisor emulates for a guest (virtual-instruction exits).
OPCODE_SYSTEM = 0x73
SFENCE_VMA_MASK, SFENCE_VMA_MATCH = 0xFE007FFF, 0x12000073
CSR_SATP = 0x180
PRIV_U = 0


class Exit:
    """One exit of VCPU.run. Fields not meaningful for a kind are None."""

    FIELDS = ("cause", "tval", "gpa", "insn", "pc", "addr", "size", "is_write", "data",
              "ext", "fid", "args", "virt", "priv", "htinst")
    # Class-level defaults: an exit sets only its own fields (this runs once per exit).
    cause = tval = gpa = insn = pc = addr = size = is_write = data = None
    ext = fid = args = virt = priv = htinst = None

    def __init__(self, kind, **fields):
        if kind not in KINDS:
            raise ValueError(f"unknown exit kind {kind!r}")
        self.kind = kind
        if fields:
            unknown = fields.keys() - _FIELD_SET
            if unknown:
                raise TypeError(f"unknown Exit field(s): {', '.join(sorted(unknown))}")
            self.__dict__.update(fields)

    @classmethod
    def of(cls, kind, fields):
        """An exit from a fresh dict of fields known to be valid, which the
        exit keeps as its own (the VCPU's hot path: no copy)."""
        exit = cls.__new__(cls)
        fields["kind"] = kind
        exit.__dict__ = fields
        return exit

    def __repr__(self):
        shown = ", ".join(f"{name}={_show(getattr(self, name))}" for name in self.FIELDS
                          if getattr(self, name) is not None)
        return f"Exit({self.kind}{', ' + shown if shown else ''})"


_FIELD_SET = frozenset(Exit.FIELDS)


class Tally(dict):
    """Counts by key, 0 for a key not counted yet (not stored by reading
    it), for the counts every exit adds to. collections.Counter counts the
    same, but its own __delitem__ sends every item assignment through a
    Python-level slot, which costs twice a dict's."""

    __slots__ = ()

    def __missing__(self, key):
        return 0


def _show(value):
    return hex(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def handle_budget(vcpu, exit):
    """The slice ran out: nothing to complete."""


def handle_shutdown(vcpu, exit):
    """The VM has stopped: nothing to complete."""


def handle_sbi(vcpu, exit):
    """An ecall from VS: look (ext, fid) up in vm.hypercalls (legacy calls,
    EIDs 0..15, by (ext, None): a7 alone selects them); a handler returns
    (error, value), which go to a0/a1 (a0 only for legacy calls), or None when
    it has set the VCPU's state itself. The ecall retires first, so a handler
    that moves the pc elsewhere wins."""
    vm = vcpu.vm
    ext = exit.ext
    legacy = ext <= EID_LEGACY_LAST
    key = (ext, None) if legacy else (ext, exit.fid)
    handler = vm.hypercalls.get(key)
    if handler is None and legacy:
        handler = vm.hypercalls.get((ext, exit.fid))
    vcpu.activate()          # a no-op after the VCPU's own run: then its state is the core's
    core = vcpu.core
    core.pc = exit.pc + 4
    vm.sbi_counts[key] += 1
    if handler is None:
        result = (SBI_ERR_NOT_SUPPORTED, 0)
    else:
        result = handler(vcpu, exit.args)
        if result is None:
            return
    error, value = result
    core.set_x(REG_A0, error & MASK64)
    if not legacy:
        core.set_x(REG_A1, value & MASK64)


def handle_mmio(vcpu, exit):
    """A guest load/store on a device page: the VM's device bus answers; an
    address no device decodes is a precise access fault for the guest."""
    vm = vcpu.vm
    core = vcpu.core
    try:
        if exit.is_write:
            vm.devices.write(exit.addr, exit.size, exit.data)
        else:
            core.complete_mmio(vm.devices.read(exit.addr, exit.size))
    except BusFault:
        vm.mmio_faults += 1
        core.complete_mmio_fault()


def handle_guest_page_fault(vcpu, exit):
    """A G-stage miss outside every device range: the guest touched a
    guest-physical address with nothing behind it. Reflect the access fault
    a real machine gives (policy "reflect"), or stop the VM ("stop")."""
    vm = vcpu.vm
    access_cause = ACCESS_FAULT_FOR.get(exit.cause)
    if access_cause is None:
        vm.request_stop("error", 1)
        vm.error = f"guest-page fault with cause {exit.cause} at pc {exit.pc:#x}"
        return
    if vm.policy.on_bad_access == "stop":
        vm.error = f"guest access to {exit.gpa:#x} outside its memory at pc {exit.pc:#x}"
        vm.request_stop("error", 1)
        return
    vm.reflected_faults[access_cause] += 1
    vcpu.inject_vs_exception(access_cause, exit.tval)


def decode_system(insn):
    """(kind, rd, rs1, funct3, csr) of a SYSTEM instruction: kind "csr",
    "sfence.vma" or None."""
    if insn & 0x7F != OPCODE_SYSTEM:
        return None, 0, 0, 0, 0
    rd, funct3, rs1, csr = (insn >> 7) & 31, (insn >> 12) & 7, (insn >> 15) & 31, insn >> 20
    if insn & SFENCE_VMA_MASK == SFENCE_VMA_MATCH:
        return "sfence.vma", rd, rs1, funct3, (insn >> 20) & 31
    if funct3 in (1, 2, 3, 5, 6, 7):
        return "csr", rd, rs1, funct3, csr
    return None, rd, rs1, funct3, csr


def csr_op(funct3, old, operand, rs1_field):
    """The value a CSR instruction writes, or None when it writes nothing
    (csrrs/csrrc and their immediate forms with rs1/uimm field 0)."""
    op = funct3 & 3
    if op == 1:
        return operand & MASK64
    if rs1_field == 0:
        return None
    return (old | operand) & MASK64 if op == 2 else old & ~operand & MASK64


def handle_virtual_instruction(vcpu, exit):
    """An instruction VS/VU may not execute here. From VU, or one the policy
    does not emulate, the guest gets the illegal-instruction exception its
    hart would give without H; otherwise the policy emulates it (satp and
    sfence.vma under shadow paging)."""
    insn = exit.insn if exit.insn is not None else exit.tval
    if exit.priv != PRIV_U and vcpu.vm.policy.emulate_instruction(vcpu, exit, insn):
        return
    vcpu.vm.reflected_faults[causes.EXC_ILLEGAL_INST] += 1
    vcpu.inject_vs_exception(causes.EXC_ILLEGAL_INST, insn & MASK64)


def handle_wfi(vcpu, exit):
    """WFI with nothing the core knows can wake the guest: with its timer
    armed, time skips to the deadline (no host CPU burnt waiting); else the
    VM is idle for ever, which ends its run (status 125, as on the board)."""
    deadline = vcpu.timer_deadline()
    if deadline is not None:
        vcpu.wait_until(deadline)
        return
    if vcpu.vm.others_can_run(vcpu):
        vcpu.waiting_for_interrupt = True       # an IPI or a device will wake it
        return
    if vcpu.vm.input_can_wake():
        return
    vcpu.vm.request_stop("idle", EXIT_IDLE)


def handle_trap(vcpu, exit):
    """An exception the guest did not take itself: the policy's page faults
    first (shadow paging), else it goes to the guest as its own hart would
    have raised it."""
    if vcpu.vm.policy.handle_exception(vcpu, exit):
        return
    if exit.cause < 16 and exit.cause not in (causes.EXC_ECALL_S, causes.EXC_ECALL_VS,
                                              causes.EXC_ECALL_M):
        vcpu.vm.reflected_faults[exit.cause] += 1
        vcpu.inject_vs_exception(exit.cause, exit.tval)
        return
    vcpu.vm.error = f"unexpected trap cause {exit.cause} at pc {exit.pc:#x}"
    vcpu.vm.request_stop("error", 1)


def handle_interrupt(vcpu, exit):
    """An interrupt that would be taken in HS or M. The default policy
    delegates every VS interrupt and enables none of its own, so this is a
    policy that left one undelegated: it is injected into the guest through
    hvip instead of stopping the world."""
    cause = exit.cause
    if cause in (causes.IRQ_VS_SOFT, causes.IRQ_VS_TIMER, causes.IRQ_VS_EXT):
        vcpu.set_csr("hideleg", vcpu.get_csr("hideleg") | (1 << cause))
        return
    vcpu.vm.error = f"unexpected interrupt {cause} at pc {exit.pc:#x}"
    vcpu.vm.request_stop("error", 1)


HANDLERS = {
    "budget": handle_budget,
    "sbi": handle_sbi,
    "mmio": handle_mmio,
    "guest_page_fault": handle_guest_page_fault,
    "virtual_instruction": handle_virtual_instruction,
    "wfi": handle_wfi,
    "shutdown": handle_shutdown,
    "trap": handle_trap,
    "interrupt": handle_interrupt,
}

"""The SBI a VM's kernel calls: a plain dict {(ext, fid): handler}, where
handler(vcpu, args) gets a0..a5 and returns (error, value), or None when it
has set the VCPU's state itself. Legacy (v0.1) extensions, selected by a7
alone, are keyed (ext, None) and answer in a0 only.

Extending it is a line per call (see docs/hv.md):

    def get_answer(vcpu, args):
        return 0, 42
    vm.hypercalls[(0x0A000000, 0)] = get_answer

The standard calls are the board's own (pyvmm.machine.sbi_calls), answered
for a VCPU through VcpuHart: addresses are guest-physical, the timer is
vstimecmp (or hvip.VSTIP without Sstc), an IPI is hvip.VSSIP on the target
VCPU, fences flush the VM's translations, HSM starts and stops the VM's own
VCPUs, and ends of run stop the VM, not the host.
"""

from pyvmm.machine.sbi_calls import CALLS
from pyvmm.machine.sbi_defs import (HSM_STARTED, HSM_STOPPED, MASK64, MSTATUS_SIE)

PRIV_S = 1
REG_A0, REG_A1 = 10, 11


class VcpuHart:
    """A VCPU as the SBI calls see it (the interface pyvmm.machine.sbi_calls names)."""

    __slots__ = ("vcpu", "vm", "hartid")

    def __init__(self, vcpu):
        self.vcpu = vcpu
        self.vm = vcpu.vm
        self.hartid = vcpu.hartid

    def probe(self, eid):
        return any(key[0] == eid for key in self.vm.hypercalls)

    def machine_id(self, csr):
        return self.vcpu.core.read_csr(csr)

    def set_timer(self, deadline):
        self.vcpu.set_timer(deadline)

    def targets(self, mask, base):
        vm = self.vm
        if base == MASK64:
            return [VcpuHart(vcpu) for vcpu in vm.vcpus]
        targets = []
        bit = 0
        while mask >> bit:
            if mask >> bit & 1:
                target = vm.vcpu(base + bit)
                if target is None:
                    return None
                targets.append(VcpuHart(target))
            bit += 1
        return targets

    def send_software_interrupt(self):
        self.vcpu.set_software_interrupt(True)
        self.vm.wake(self.vcpu)

    def clear_software_interrupt(self):
        self.vcpu.set_software_interrupt(False)

    # Every VCPU of a VM runs on the one host hart, whose TLB tags the VM's
    # translations by VMID and whose decode cache is shared: a flush for the
    # target is a flush of the VM.
    def fence_i(self):
        self.vcpu.core.flush_decode_cache()

    def sfence_vma(self, asid):
        self.vm.policy.guest_sfence(self.vcpu, None, asid)

    def hfence(self):
        self.vcpu.core.flush_tlb()

    def hart_state(self, hartid):
        return self.vm.hart_states.get(hartid)

    def start_hart(self, hartid, addr, opaque):
        vm = self.vm
        target = vm.vcpu(hartid)
        target.reset(addr, a0=hartid, a1=opaque)
        target.waiting_for_interrupt = False
        target.blocked_until = None
        vm.hart_states[hartid] = HSM_STARTED

    def others_started(self):
        vm = self.vm
        return any(other is not self.vcpu and vm.hart_states[other.hartid] != HSM_STOPPED
                   for other in vm.vcpus)

    def stop(self):
        self.vm.hart_states[self.hartid] = HSM_STOPPED

    def suspend(self, resume_addr, opaque):
        """Retentive: return at once (a wakeup may be spurious; the kernel
        re-checks, as after any WFI). Non-retentive: resume as a cold start."""
        if resume_addr is None:
            return
        vcpu = self.vcpu
        self.vm.policy.set_guest_satp(vcpu, 0)
        vcpu.set_csr("vsstatus", vcpu.get_csr("vsstatus") & ~MSTATUS_SIE)
        vcpu.set_x(REG_A0, self.hartid)
        vcpu.set_x(REG_A1, opaque)
        vcpu.pc = resume_addr
        vcpu.set_priv(PRIV_S, 1)

    def ram_ok(self, addr, n):
        return n >= 0 and self.vm.in_ram(addr, n)

    def read(self, addr, n):
        return self.vm.read(addr, n)

    def write(self, addr, data):
        self.vm.write(addr, data)

    def translate(self, vaddr):
        return self.vm.policy.guest_virt_to_phys(self.vcpu, vaddr)

    def console_write(self, data):
        self.vm.console_write(data)

    def console_read(self):
        return self.vm.console_read()

    def request_stop(self, how, code):
        self.vm.request_stop(how, code)


def for_vcpu(call):
    """An SBI call of pyvmm.machine.sbi_calls as a hypercall handler(vcpu, args)."""
    def handler(vcpu, args):
        return call(VcpuHart(vcpu), args)
    handler.__name__ = call.__name__
    handler.__doc__ = call.__doc__
    handler.__wrapped__ = call
    return handler


def default_hypercalls():
    """A fresh table for one VM (each VM may change its own): the standard
    SBI calls. The hfence calls are left out: the guest has no H extension."""
    return {key: for_vcpu(call) for key, (name, call) in CALLS.items()}

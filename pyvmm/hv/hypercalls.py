"""The SBI a VM's kernel calls: a plain dict {(ext, fid): handler}, where
handler(vcpu, args) gets a0..a5 and returns (error, value), or None when it
has set the VCPU's state itself. Legacy (v0.1) extensions, selected by a7
alone, are keyed (ext, None) and answer in a0 only.

Extending it is a line per call (see docs/hv.md):

    def get_answer(vcpu, args):
        return 0, 42
    vm.hypercalls[(0x0A000000, 0)] = get_answer

Numbers, error codes and the semantics follow pyvmm.machine.sbi (the
board's built-in SBI); what differs is where things live: addresses are
guest-physical (vm.read/vm.write), the timer is vstimecmp (or hvip.VSTIP
without Sstc), an IPI to itself is hvip.VSSIP, fences flush the VM's
translations, and ends of run stop the VM, not the host.
"""

import pyvmm
from pyvmm.machine import sbi
from pyvmm.machine.layout import EXIT_IDLE

MASK64 = (1 << 64) - 1
PRIV_S = 1


def _impl_version():
    parts = [int(p) for p in pyvmm.__version__.split(".")[:3] if p.isdigit()]
    parts += [0] * (3 - len(parts))
    return (parts[0] << 16) | (parts[1] << 8) | parts[2]


def _targets(vcpu, hart_mask, hart_mask_base):
    """The VCPUs an SBI hart mask names (base -1: all), or None if it names
    a hart the VM does not have."""
    vm = vcpu.vm
    if hart_mask_base == MASK64:
        return list(vm.vcpus)
    targets = []
    bit = 0
    while hart_mask >> bit:
        if hart_mask >> bit & 1:
            target = vm.vcpu(hart_mask_base + bit)
            if target is None:
                return None
            targets.append(target)
        bit += 1
    return targets


# -- base -------------------------------------------------------------------------------

def base_get_spec_version(vcpu, args):
    major, minor = sbi.SPEC_VERSION
    return sbi.SBI_SUCCESS, (major << 24) | minor


def base_get_impl_id(vcpu, args):
    return sbi.SBI_SUCCESS, sbi.IMPL_ID


def base_get_impl_version(vcpu, args):
    return sbi.SBI_SUCCESS, _impl_version()


def base_probe_extension(vcpu, args):
    eid = args[0]
    return sbi.SBI_SUCCESS, int(any(key[0] == eid for key in vcpu.vm.hypercalls))


def _machine_id(csr):
    def handler(vcpu, args):
        return sbi.SBI_SUCCESS, vcpu.core.read_csr(csr)
    return handler


# -- time and IPI ---------------------------------------------------------------------

def time_set_timer(vcpu, args):
    vcpu.set_timer(args[0])
    return sbi.SBI_SUCCESS, 0


def ipi_send_ipi(vcpu, args):
    targets = _targets(vcpu, args[0], args[1])
    if targets is None:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    for target in targets:
        target.set_software_interrupt(True)
        vcpu.vm.wake(target)
    return sbi.SBI_SUCCESS, 0


# -- RFENCE ---------------------------------------------------------------------------

def _rfence(vcpu, args, flush):
    """Every VCPU of a VM runs on the one host hart, whose TLB tags the VM's
    translations by VMID and whose decode cache is shared: one flush on the
    caller's behalf covers every target."""
    targets = _targets(vcpu, args[0], args[1])
    if targets is None:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    if targets:
        flush()
    return sbi.SBI_SUCCESS, 0


def rfence_fence_i(vcpu, args):
    return _rfence(vcpu, args, vcpu.core.flush_decode_cache)


def rfence_sfence_vma(vcpu, args):
    return _rfence(vcpu, args, lambda: vcpu.vm.policy.guest_sfence(vcpu, None, None))


def rfence_sfence_vma_asid(vcpu, args):
    return _rfence(vcpu, args, lambda: vcpu.vm.policy.guest_sfence(vcpu, None, args[4]))


# -- HSM ------------------------------------------------------------------------------

def hsm_hart_start(vcpu, args):
    """Start a stopped VCPU in VS-mode at start_addr with a0 = its hart id,
    a1 = opaque, translation and interrupts off."""
    hartid, start_addr, opaque = args[0], args[1], args[2]
    vm = vcpu.vm
    target = vm.vcpu(hartid)
    if target is None:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    if vm.hart_states[hartid] != sbi.HSM_STOPPED:
        return sbi.SBI_ERR_ALREADY_AVAILABLE, 0
    if not vm.in_ram(start_addr, 2):
        return sbi.SBI_ERR_INVALID_ADDRESS, 0
    target.reset(start_addr, a0=hartid, a1=opaque)
    target.waiting_for_interrupt = False
    target.blocked_until = None
    vm.hart_states[hartid] = sbi.HSM_STARTED
    return sbi.SBI_SUCCESS, 0


def hsm_hart_stop(vcpu, args):
    """The calling VCPU stops until another starts it again; the VM's last
    running VCPU stopping leaves nothing that could, so the VM is over."""
    vm = vcpu.vm
    if not any(other is not vcpu and vm.hart_states[other.hartid] == sbi.HSM_STARTED
               for other in vm.vcpus):
        vm.request_stop("idle", EXIT_IDLE)
        return sbi.SBI_ERR_FAILED, 0
    vm.hart_states[vcpu.hartid] = sbi.HSM_STOPPED
    return None         # no return: the hart does not come back from the call


def hsm_hart_get_status(vcpu, args):
    state = vcpu.vm.hart_states.get(args[0])
    if state is None:
        return sbi.SBI_ERR_INVALID_PARAM, 0
    return sbi.SBI_SUCCESS, state


def hsm_hart_suspend(vcpu, args):
    suspend_type, resume_addr, opaque = args[0] & 0xFFFF_FFFF, args[1], args[2]
    if suspend_type == sbi.HSM_SUSPEND_RETENTIVE:
        return sbi.SBI_SUCCESS, 0        # a spurious wakeup, which the caller must allow
    if suspend_type == sbi.HSM_SUSPEND_NON_RETENTIVE:
        if not vcpu.vm.in_ram(resume_addr, 2):
            return sbi.SBI_ERR_INVALID_ADDRESS, 0
        vcpu.vm.policy.set_guest_satp(vcpu, 0)
        vcpu.set_csr("vsstatus", vcpu.get_csr("vsstatus") & ~sbi.MSTATUS_SIE)
        vcpu.set_x(10, vcpu.hartid)
        vcpu.set_x(11, opaque)
        vcpu.pc = resume_addr
        vcpu.set_priv(PRIV_S, 1)
        return None
    return sbi.SBI_ERR_INVALID_PARAM, 0


# -- SRST -----------------------------------------------------------------------------

def srst_system_reset(vcpu, args):
    reset_type, reason = args[0] & 0xFFFF_FFFF, args[1] & 0xFFFF_FFFF
    if reset_type not in (sbi.SRST_SHUTDOWN, sbi.SRST_COLD_REBOOT, sbi.SRST_WARM_REBOOT):
        return sbi.SBI_ERR_INVALID_PARAM, 0
    if reason not in (sbi.SRST_REASON_NONE, sbi.SRST_REASON_FAILURE):
        return sbi.SBI_ERR_INVALID_PARAM, 0
    how = "sbi-shutdown" if reset_type == sbi.SRST_SHUTDOWN else "sbi-reboot"
    vcpu.vm.request_stop(how, 0 if reason == sbi.SRST_REASON_NONE else 1)
    return sbi.SBI_SUCCESS, 0


# -- DBCN (addresses are guest-physical) ---------------------------------------------------

def dbcn_console_write(vcpu, args):
    num_bytes, base_lo, base_hi = args[0], args[1], args[2]
    vm = vcpu.vm
    if base_hi != 0 or not vm.in_ram(base_lo, num_bytes):
        return sbi.SBI_ERR_INVALID_PARAM, 0
    vm.console_write(vm.read(base_lo, num_bytes))
    return sbi.SBI_SUCCESS, num_bytes


def dbcn_console_read(vcpu, args):
    num_bytes, base_lo, base_hi = args[0], args[1], args[2]
    vm = vcpu.vm
    if base_hi != 0 or not vm.in_ram(base_lo, num_bytes):
        return sbi.SBI_ERR_INVALID_PARAM, 0
    data = bytearray()
    while len(data) < num_bytes:
        ch = vm.console_read()
        if ch < 0:
            break
        data.append(ch & 0xFF)
    if data:
        vm.write(base_lo, bytes(data))
    return sbi.SBI_SUCCESS, len(data)


def dbcn_console_write_byte(vcpu, args):
    vcpu.vm.console_write(bytes([args[0] & 0xFF]))
    return sbi.SBI_SUCCESS, 0


# -- legacy (answer in a0 only) --------------------------------------------------------------

def legacy_set_timer(vcpu, args):
    vcpu.set_timer(args[0])
    return sbi.SBI_SUCCESS, 0


def legacy_console_putchar(vcpu, args):
    vcpu.vm.console_write(bytes([args[0] & 0xFF]))
    return sbi.SBI_SUCCESS, 0


def legacy_console_getchar(vcpu, args):
    return vcpu.vm.console_read(), 0


def legacy_clear_ipi(vcpu, args):
    vcpu.set_software_interrupt(False)
    return sbi.SBI_SUCCESS, 0


def legacy_shutdown(vcpu, args):
    vcpu.vm.request_stop("sbi-shutdown", 0)
    return sbi.SBI_SUCCESS, 0


def _legacy_mask(vcpu, mask_gpa):
    """Legacy calls pass a pointer to the hart mask (0: all harts). The
    pointer is a guest-virtual address; the VCPU translates it."""
    if mask_gpa == 0:
        return MASK64, MASK64
    gpa = vcpu.vm.policy.guest_virt_to_phys(vcpu, mask_gpa)
    if gpa is None or not vcpu.vm.in_ram(gpa, 8):
        return None
    return int.from_bytes(vcpu.vm.read(gpa, 8), "little"), 0


def _legacy_remote(action):
    def handler(vcpu, args):
        mask = _legacy_mask(vcpu, args[0])
        if mask is None:
            return sbi.SBI_ERR_INVALID_ADDRESS, 0
        return action(vcpu, mask + tuple(args[1:]))
    return handler


def default_hypercalls():
    """A fresh table for one VM (each VM may change its own)."""
    table = {
        (sbi.EID_BASE, 0): base_get_spec_version,
        (sbi.EID_BASE, 1): base_get_impl_id,
        (sbi.EID_BASE, 2): base_get_impl_version,
        (sbi.EID_BASE, 3): base_probe_extension,
        (sbi.EID_BASE, 4): _machine_id(sbi.CSR_MVENDORID),
        (sbi.EID_BASE, 5): _machine_id(sbi.CSR_MARCHID),
        (sbi.EID_BASE, 6): _machine_id(sbi.CSR_MIMPID),
        (sbi.EID_TIME, 0): time_set_timer,
        (sbi.EID_IPI, 0): ipi_send_ipi,
        (sbi.EID_RFENCE, 0): rfence_fence_i,
        (sbi.EID_RFENCE, 1): rfence_sfence_vma,
        (sbi.EID_RFENCE, 2): rfence_sfence_vma_asid,
        (sbi.EID_HSM, 0): hsm_hart_start,
        (sbi.EID_HSM, 1): hsm_hart_stop,
        (sbi.EID_HSM, 2): hsm_hart_get_status,
        (sbi.EID_HSM, 3): hsm_hart_suspend,
        (sbi.EID_SRST, 0): srst_system_reset,
        (sbi.EID_DBCN, 0): dbcn_console_write,
        (sbi.EID_DBCN, 1): dbcn_console_read,
        (sbi.EID_DBCN, 2): dbcn_console_write_byte,
        (sbi.EID_LEGACY_SET_TIMER, None): legacy_set_timer,
        (sbi.EID_LEGACY_CONSOLE_PUTCHAR, None): legacy_console_putchar,
        (sbi.EID_LEGACY_CONSOLE_GETCHAR, None): legacy_console_getchar,
        (sbi.EID_LEGACY_CLEAR_IPI, None): legacy_clear_ipi,
        (sbi.EID_LEGACY_SEND_IPI, None): _legacy_remote(ipi_send_ipi),
        (sbi.EID_LEGACY_REMOTE_FENCE_I, None): _legacy_remote(rfence_fence_i),
        (sbi.EID_LEGACY_REMOTE_SFENCE_VMA, None): _legacy_remote(rfence_sfence_vma),
        (sbi.EID_LEGACY_REMOTE_SFENCE_VMA_ASID, None): _legacy_remote(rfence_sfence_vma_asid),
        (sbi.EID_LEGACY_SHUTDOWN, None): legacy_shutdown,
    }
    return table

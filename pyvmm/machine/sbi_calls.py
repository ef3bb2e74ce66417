"""The SBI calls, written once for every place that answers them: the
board's built-in firmware (`pyvmm.machine.sbi.BuiltinSBI`, a hart's ecall
from S-mode) and a hypervisor's VMs (`pyvmm.hv.hypercalls`, a VCPU's ecall
from VS-mode).

Each call is a function `call(hart, args)`: `args` holds a0..a5 and the
result is (error, value) for a0/a1 (legacy calls answer in a0 only), or None
when the call has set the hart's state itself (a hart that stops or resumes
elsewhere). `hart` is the caller seen through the small interface below;
where things live differs (physical or guest-physical memory, stimecmp or
vstimecmp, sip or hvip), what the calls mean does not.

The interface a caller provides (`BoardHart`, `VcpuHart`):

    hartid                        the caller's hart id
    probe(eid)                    is extension eid answered for this caller?
    machine_id(csr)               mvendorid / marchid / mimpid
    set_timer(deadline)           the S-level timer (absolute time; all ones: none)
    targets(mask, base)           the harts a hart mask names, or None if it names one
                                  that does not exist (base all ones: every hart)
    send_software_interrupt()     on a target: its supervisor software interrupt pending
    clear_software_interrupt()
    fence_i(), sfence_vma(asid)   on a target: its decoded code / translations (asid None: all)
    hfence()                      on a target: its guest translations (only where H is offered)
    hart_state(hartid)            HSM state of a hart, or None if there is none
    start_hart(hartid, addr, opaque)   a cold start of a STOPPED hart in S-mode
    others_started()              is any other hart started or suspended?
    stop()                        the caller stops (HSM STOPPED) until started again
    suspend(addr, opaque)         sleep until an interrupt; addr None: retentive, else
                                  resume as a cold start at addr with a1 = opaque
    ram_ok(addr, n), read(addr, n), write(addr, data)   (guest-)physical RAM
    translate(vaddr)              an S-mode data address to (guest-)physical, or None
    console_write(data), console_read() -> byte or -1
    request_stop(how, code)       end the run (the board's, or the VM's)
"""

import pyvmm
from pyvmm.machine.sbi_defs import (CSR_MARCHID, CSR_MIMPID, CSR_MVENDORID, EID_BASE, EID_DBCN,
                                    EID_HSM, EID_IPI, EID_LEGACY_CLEAR_IPI,
                                    EID_LEGACY_CONSOLE_GETCHAR, EID_LEGACY_CONSOLE_PUTCHAR,
                                    EID_LEGACY_REMOTE_FENCE_I, EID_LEGACY_REMOTE_SFENCE_VMA,
                                    EID_LEGACY_REMOTE_SFENCE_VMA_ASID, EID_LEGACY_SEND_IPI,
                                    EID_LEGACY_SET_TIMER, EID_LEGACY_SHUTDOWN, EID_RFENCE,
                                    EID_SRST, EID_TIME, HSM_STOPPED, HSM_SUSPEND_NON_RETENTIVE,
                                    HSM_SUSPEND_RETENTIVE, IMPL_ID, MASK64, SBI_ERR_ALREADY_AVAILABLE,
                                    SBI_ERR_FAILED, SBI_ERR_INVALID_ADDRESS, SBI_ERR_INVALID_PARAM,
                                    SBI_SUCCESS, SPEC_VERSION, SRST_COLD_REBOOT,
                                    SRST_REASON_FAILURE, SRST_REASON_NONE, SRST_SHUTDOWN,
                                    SRST_WARM_REBOOT)
from pyvmm.machine.layout import EXIT_IDLE


def impl_version():
    """pyvmm's version as SBI get_impl_version encodes it (major.minor.patch in bytes)."""
    parts = [int(p) for p in pyvmm.__version__.split(".")[:3] if p.isdigit()]
    parts += [0] * (3 - len(parts))
    return (parts[0] << 16) | (parts[1] << 8) | parts[2]


# -- base -------------------------------------------------------------------------------

def base_get_spec_version(hart, args):
    major, minor = SPEC_VERSION
    return SBI_SUCCESS, (major << 24) | minor


def base_get_impl_id(hart, args):
    return SBI_SUCCESS, IMPL_ID


def base_get_impl_version(hart, args):
    return SBI_SUCCESS, impl_version()


def base_probe_extension(hart, args):
    return SBI_SUCCESS, 1 if hart.probe(args[0]) else 0


def base_get_mvendorid(hart, args):
    return SBI_SUCCESS, hart.machine_id(CSR_MVENDORID)


def base_get_marchid(hart, args):
    return SBI_SUCCESS, hart.machine_id(CSR_MARCHID)


def base_get_mimpid(hart, args):
    return SBI_SUCCESS, hart.machine_id(CSR_MIMPID)


# -- time and IPI ---------------------------------------------------------------------

def time_set_timer(hart, args):
    hart.set_timer(args[0] & MASK64)
    return SBI_SUCCESS, 0


def ipi_send_ipi(hart, args):
    targets = hart.targets(args[0], args[1])
    if targets is None:
        return SBI_ERR_INVALID_PARAM, 0
    for target in targets:
        target.send_software_interrupt()
    return SBI_SUCCESS, 0


# -- RFENCE ---------------------------------------------------------------------------

def _rfence(hart, args, flush):
    targets = hart.targets(args[0], args[1])
    if targets is None:
        return SBI_ERR_INVALID_PARAM, 0
    for target in targets:
        flush(target)
    return SBI_SUCCESS, 0


def rfence_fence_i(hart, args):
    return _rfence(hart, args, lambda target: target.fence_i())


def rfence_sfence_vma(hart, args):
    # Flushing more than the range asked for is always allowed.
    return _rfence(hart, args, lambda target: target.sfence_vma(None))


def rfence_sfence_vma_asid(hart, args):
    return _rfence(hart, args, lambda target: target.sfence_vma(args[4]))


def rfence_hfence(hart, args):
    return _rfence(hart, args, lambda target: target.hfence())


# -- HSM ------------------------------------------------------------------------------

def hsm_hart_start(hart, args):
    hartid, start_addr, opaque = args[0], args[1], args[2]
    state = hart.hart_state(hartid)
    if state is None:
        return SBI_ERR_INVALID_PARAM, 0
    if state != HSM_STOPPED:
        return SBI_ERR_ALREADY_AVAILABLE, 0
    if not hart.ram_ok(start_addr, 2):
        return SBI_ERR_INVALID_ADDRESS, 0
    hart.start_hart(hartid, start_addr, opaque)
    return SBI_SUCCESS, 0


def hsm_hart_stop(hart, args):
    if not hart.others_started():
        # The last running hart stops: nothing is left that could start it
        # again, so the run ends (the error it would see never is).
        hart.request_stop("idle", EXIT_IDLE)
        return SBI_ERR_FAILED, 0
    hart.stop()
    return None


def hsm_hart_get_status(hart, args):
    state = hart.hart_state(args[0])
    if state is None:
        return SBI_ERR_INVALID_PARAM, 0
    return SBI_SUCCESS, state


def hsm_hart_suspend(hart, args):
    suspend_type, resume_addr, opaque = args[0] & 0xFFFF_FFFF, args[1], args[2]
    if suspend_type == HSM_SUSPEND_RETENTIVE:
        hart.suspend(None, opaque)
        return SBI_SUCCESS, 0
    if suspend_type == HSM_SUSPEND_NON_RETENTIVE:
        if not hart.ram_ok(resume_addr, 2):
            return SBI_ERR_INVALID_ADDRESS, 0
        hart.suspend(resume_addr, opaque)
        return None
    return SBI_ERR_INVALID_PARAM, 0


# -- SRST -----------------------------------------------------------------------------

def srst_system_reset(hart, args):
    reset_type, reason = args[0] & 0xFFFF_FFFF, args[1] & 0xFFFF_FFFF
    if reset_type not in (SRST_SHUTDOWN, SRST_COLD_REBOOT, SRST_WARM_REBOOT):
        return SBI_ERR_INVALID_PARAM, 0
    if reason not in (SRST_REASON_NONE, SRST_REASON_FAILURE):
        return SBI_ERR_INVALID_PARAM, 0
    how = "sbi-shutdown" if reset_type == SRST_SHUTDOWN else "sbi-reboot"
    hart.request_stop(how, 0 if reason == SRST_REASON_NONE else 1)
    return SBI_SUCCESS, 0


# -- DBCN (addresses are physical: guest-physical in a VM) ---------------------------------

def dbcn_console_write(hart, args):
    num_bytes, base_lo, base_hi = args[0], args[1], args[2]
    if base_hi != 0 or not hart.ram_ok(base_lo, num_bytes):
        return SBI_ERR_INVALID_PARAM, 0
    hart.console_write(hart.read(base_lo, num_bytes))
    return SBI_SUCCESS, num_bytes


def dbcn_console_read(hart, args):
    num_bytes, base_lo, base_hi = args[0], args[1], args[2]
    if base_hi != 0 or not hart.ram_ok(base_lo, num_bytes):
        return SBI_ERR_INVALID_PARAM, 0
    data = bytearray()
    while len(data) < num_bytes:
        ch = hart.console_read()
        if ch < 0:
            break
        data.append(ch & 0xFF)
    if data:
        hart.write(base_lo, bytes(data))
    return SBI_SUCCESS, len(data)


def dbcn_console_write_byte(hart, args):
    hart.console_write(bytes([args[0] & 0xFF]))
    return SBI_SUCCESS, 0


# -- legacy (v0.1: a7 alone selects, the answer is a0) -------------------------------------

def legacy_set_timer(hart, args):
    return time_set_timer(hart, args)


def legacy_console_putchar(hart, args):
    return dbcn_console_write_byte(hart, args)


def legacy_console_getchar(hart, args):
    return hart.console_read(), 0


def legacy_clear_ipi(hart, args):
    hart.clear_software_interrupt()
    return SBI_SUCCESS, 0


def legacy_shutdown(hart, args):
    hart.request_stop("sbi-shutdown", 0)
    return SBI_SUCCESS, 0


def _legacy_remote(call):
    """Legacy remote calls pass a pointer (an S-mode virtual address) to the
    hart mask; NULL means every hart."""
    def legacy(hart, args):
        pointer = args[0]
        if pointer == 0:
            mask, base = MASK64, MASK64
        else:
            paddr = hart.translate(pointer)
            if paddr is None or not hart.ram_ok(paddr, 8):
                return SBI_ERR_INVALID_ADDRESS, 0
            mask, base = int.from_bytes(hart.read(paddr, 8), "little"), 0
        return call(hart, (mask, base) + tuple(args[1:]))
    return legacy


# (EID, FID) -> ("extension.function", call); legacy calls have FID None.
CALLS = {
    (EID_BASE, 0): ("base.get_spec_version", base_get_spec_version),
    (EID_BASE, 1): ("base.get_impl_id", base_get_impl_id),
    (EID_BASE, 2): ("base.get_impl_version", base_get_impl_version),
    (EID_BASE, 3): ("base.probe_extension", base_probe_extension),
    (EID_BASE, 4): ("base.get_mvendorid", base_get_mvendorid),
    (EID_BASE, 5): ("base.get_marchid", base_get_marchid),
    (EID_BASE, 6): ("base.get_mimpid", base_get_mimpid),
    (EID_TIME, 0): ("time.set_timer", time_set_timer),
    (EID_IPI, 0): ("ipi.send_ipi", ipi_send_ipi),
    (EID_RFENCE, 0): ("rfence.remote_fence_i", rfence_fence_i),
    (EID_RFENCE, 1): ("rfence.remote_sfence_vma", rfence_sfence_vma),
    (EID_RFENCE, 2): ("rfence.remote_sfence_vma_asid", rfence_sfence_vma_asid),
    (EID_HSM, 0): ("hsm.hart_start", hsm_hart_start),
    (EID_HSM, 1): ("hsm.hart_stop", hsm_hart_stop),
    (EID_HSM, 2): ("hsm.hart_get_status", hsm_hart_get_status),
    (EID_HSM, 3): ("hsm.hart_suspend", hsm_hart_suspend),
    (EID_SRST, 0): ("srst.system_reset", srst_system_reset),
    (EID_DBCN, 0): ("dbcn.console_write", dbcn_console_write),
    (EID_DBCN, 1): ("dbcn.console_read", dbcn_console_read),
    (EID_DBCN, 2): ("dbcn.console_write_byte", dbcn_console_write_byte),
    (EID_LEGACY_SET_TIMER, None): ("legacy.set_timer", legacy_set_timer),
    (EID_LEGACY_CONSOLE_PUTCHAR, None): ("legacy.console_putchar", legacy_console_putchar),
    (EID_LEGACY_CONSOLE_GETCHAR, None): ("legacy.console_getchar", legacy_console_getchar),
    (EID_LEGACY_CLEAR_IPI, None): ("legacy.clear_ipi", legacy_clear_ipi),
    (EID_LEGACY_SEND_IPI, None): ("legacy.send_ipi", _legacy_remote(ipi_send_ipi)),
    (EID_LEGACY_REMOTE_FENCE_I, None): ("legacy.remote_fence_i", _legacy_remote(rfence_fence_i)),
    (EID_LEGACY_REMOTE_SFENCE_VMA, None):
        ("legacy.remote_sfence_vma", _legacy_remote(rfence_sfence_vma)),
    (EID_LEGACY_REMOTE_SFENCE_VMA_ASID, None):
        ("legacy.remote_sfence_vma_asid", _legacy_remote(rfence_sfence_vma_asid)),
    (EID_LEGACY_SHUTDOWN, None): ("legacy.shutdown", legacy_shutdown),
}

# The RFENCE calls for a hart with the H extension (OpenSBI offers them only then).
HFENCE_CALLS = {
    (EID_RFENCE, fid): ("rfence.remote_" + name, rfence_hfence)
    for fid, name in ((3, "hfence_gvma_vmid"), (4, "hfence_gvma"), (5, "hfence_vvma_asid"),
                      (6, "hfence_vvma"))
}

"""Several VMs on one host hart: round-robin time slices.

Each runnable VCPU in turn runs for a slice of guest instructions; the exits
inside a slice are completed by its VM's policy and the VCPU goes on until
the slice is used up, it blocks in WFI, or its VM stops. A VCPU blocked in
WFI until its timer is passed over while others can run; when every VCPU is
blocked, time skips to the earliest deadline (time on this host is one
clock, as on hardware, so every VM sees the skip). A slice that max_insns
cuts short is finished first on the next run (the VCPU's slice_left, which
a VM snapshot carries), so run(n) then run() interleaves VCPUs as one
run() does.
"""

import time

from pyvmm.machine.layout import EXIT_IDLE
from pyvmm.machine.machine import RX_BYTE_INSNS

SLICE = 1 << 20


def _blocked_until(vcpu):
    # VCPUs of other techniques need not block (they may idle their own way).
    return getattr(vcpu, "blocked_until", None)


class RoundRobin:
    def __init__(self, host, vms=None, slice_insns=None):
        self.host = host
        self.vms = list(host.vms if vms is None else vms)
        self.slice_insns = slice_insns or SLICE
        self.slices = 0

    def run(self, max_insns=None):
        """Until every VM has stopped, or `max_insns` guest instructions have
        retired in all (the VMs still running then stop with how "budget")."""
        if max_insns is not None and max_insns < 0:
            raise ValueError("max_insns must not be negative")
        for vm in self.vms:
            vm.boot()
            vm.resume()
        total = 0
        try:
            while True:
                vcpus = [vcpu for vm in self.vms if not vm.stopped for vcpu in vm.vcpus
                         if vm.runnable(vcpu)]
                if not vcpus:
                    live = [vm for vm in self.vms if not vm.stopped]
                    if not live:
                        break
                    # Every started VCPU waits for an interrupt no VCPU can send:
                    # only console input still can (the wait delivers it), else idle.
                    for vm in live:
                        if not vm.input_can_wake():
                            vm.request_stop("idle", EXIT_IDLE)
                    continue
                now = self.host.core.mtime
                ready = [v for v in vcpus if _blocked_until(v) is None or _blocked_until(v) <= now]
                if not ready:
                    # Every VCPU waits for its timer: the earliest runs, time skips to it.
                    ready = [min(vcpus, key=_blocked_until)]
                last = self.host.current_vcpu
                if last in ready:
                    # Turns go on after the VCPU that ran last, also across run()
                    # calls with small budgets, so none is starved; a slice that
                    # max_insns cut short is finished first.
                    at = ready.index(last) + (0 if getattr(last, "slice_left", None) else 1)
                    ready = ready[at:] + ready[:at]
                for vcpu in ready:
                    if vcpu.vm.stopped:
                        continue
                    budget = getattr(vcpu, "slice_left", None) or self.slice_insns
                    if vcpu.vm.input_pending():
                        # Console bytes reach the guest a byte time apart, as on the board.
                        budget = min(budget, RX_BYTE_INSNS)
                    whole = budget
                    if max_insns is not None:
                        budget = min(budget, max_insns - total)
                        if budget <= 0:
                            for vm in self.vms:
                                vm.request_stop("budget", 0)
                            break
                    vcpu.slice_left = None
                    used = self.run_slice(vcpu, budget)
                    total += used
                    if budget < whole and used >= budget and not vcpu.vm.stopped:
                        # The rest of this slice is the VCPU's next turn, so that
                        # run(n) then run() interleaves VCPUs as one run() does.
                        vcpu.slice_left = whole - used
        finally:
            for vm in self.vms:
                vm.flush_console()
        return {vm: vm.result for vm in self.vms}

    def run_slice(self, vcpu, budget):
        """Run one VCPU for up to `budget` units, completing its exits;
        returns the units used. A unit is an instruction retired, a trap the
        core took, or an exit during which none retired (a guest caught in a
        loop of faults the hypervisor reflects still uses its slice up), so
        every slice ends and a budget bounds any guest. A budget exit with
        nothing retired spent the whole run on traps taken inside the core
        (a guest's handler faulting into itself): it uses the rest of the slice."""
        vm = vcpu.vm
        start = vcpu.instret
        stalled = 0
        started = time.perf_counter()
        self.slices += 1
        vm.poll_input()
        # Once per exit, so the methods are looked up once per slice.
        run, handle, runnable = vcpu.run, vm.handle, vm.runnable
        # A VCPU whose core completes some exits itself (trap-emulate's CSR
        # accesses) counts those that retired nothing in quiet_units: they
        # use the slice as the same exits completed here would. One that
        # completes exits itself and enters its core again (bt) says where
        # that last entry began (entry_instret): the exit it returns is
        # judged from there, as if the entry had been a run of its own.
        in_core = hasattr(vcpu, "quiet_units")
        reenters = hasattr(vcpu, "entry_instret")
        blocks = hasattr(vcpu, "blocked_until")     # (see _blocked_until)
        if in_core:
            quiet = vcpu.quiet_units
            vcpu.complete_in_core = True
        try:
            while not vm.stopped:
                before = vcpu.instret
                left = budget - (before - start) - stalled
                if left <= 0:
                    break
                exit = run(left)
                if in_core and vcpu.quiet_units != quiet:
                    # As if each had come back here: a unit each, off what is left.
                    done = vcpu.quiet_units - quiet
                    quiet += done
                    stalled += done
                    left -= done
                if reenters and vcpu.entry_instret != before:
                    left -= vcpu.entry_instret - before
                    before = vcpu.entry_instret
                handle(vcpu, exit)
                kind = exit.kind
                if kind == "budget":
                    if vcpu.instret == before:
                        stalled += left
                    break
                if (blocks and vcpu.blocked_until is not None) or not runnable(vcpu):
                    break
                if kind == "mmio" and budget > RX_BYTE_INSNS and vm.input_pending():
                    break       # the guest reads its console: the next slice is a byte time long
                if vcpu.instret == before:
                    stalled += 1
        finally:
            if in_core:
                vcpu.complete_in_core = False
        vm.flush_console()
        vm.run_seconds += time.perf_counter() - started
        return vcpu.instret - start + stalled

"""Scheduling policies: which VCPU a host hart runs next, and for how long.

The dispatcher (pyvmm/hv/dispatch.py) owns the harts, the clock and the
VCPUs' states; a policy only decides. It is told what happens through
these calls, all with `now`, the host's clock in instructions:

    attach(dispatcher)              once, before the first decision
    add_vcpu(vcpu, now)             a VCPU of a VM that runs from now on
    remove_vcpu(vcpu)               its VM was destroyed
    wake(vcpu, now)                 it became runnable (timer, IPI, device, HSM start)
    block(vcpu, now)                it waits (WFI, HSM stop, its VM stopped)
    pick(hart, candidates, now)     -> (vcpu, slice_insns) or None: who runs on `hart`;
                                    `candidates` are the VCPUs that could run there now
    ran(vcpu, hart, insns, now)     it ran `insns` (instructions and stalled exits)
    descheduled(vcpu, hart, now)    its slice ended while it could still run
    preempt(hart, vcpu, candidates, now) -> bool: end `vcpu`'s slice early
    advance(now)                    the host's clock moved (periodic accounting)
    next_event(now)                 when a VCPU it holds back may run again, or None
    entitlement(vms, harts, demand) {vm: harts of time the policy promises it}
    vcpu_stats(vcpu), stats()       the policy's own figures

New policies register by name in pyvmm.hv (register_scheduler), as
techniques do, and `Host(scheduler=NAME)` / `pyvmm host --scheduler NAME`
then use them.
"""

import abc

from pyvmm.hv.host import HvError

# The classic loop's slice: the same round-robin turns on several harts.
ROUND_ROBIN_SLICE = 1 << 20


class SchedulerPolicy(abc.ABC):
    """The interface, with the notifications a policy may ignore; pick is
    the one every policy defines."""

    name = None
    weighted = False        # does it honour the VMs' weights and caps (set_sched_params)?

    def attach(self, dispatcher):
        self.dispatcher = dispatcher

    def add_vcpu(self, vcpu, now):
        """A VCPU joins the host's runnable set (a policy keeping per-VCPU
        state sets it up here)."""

    def remove_vcpu(self, vcpu):
        """A VCPU leaves the host (its VM stopped or was destroyed)."""

    def wake(self, vcpu, now):
        """A blocked VCPU became runnable (credit boosts it here)."""

    def block(self, vcpu, now):
        """A VCPU blocked (WFI, or waiting for an event)."""

    @abc.abstractmethod
    def pick(self, hart, candidates, now):
        """(vcpu, slice_insns) to run on `hart`, or None to leave it idle."""

    def ran(self, vcpu, hart, insns, now):
        """`vcpu` retired `insns` on `hart` (credit debits it here)."""

    def descheduled(self, vcpu, hart, now):
        """`vcpu` left `hart` at the end of its turn (a queueing policy
        puts it back here)."""

    def preempt(self, hart, vcpu, candidates, now):
        return False

    def advance(self, now):
        """The clock moved to `now` (credit's accounting periods and ticks
        happen here)."""

    def next_event(self, now):
        """The clock at which the policy may run a VCPU it holds back now
        (None: it holds none back)."""
        return None

    def entitlement(self, vms, harts, demand):
        """{vm: harts of time} the policy promises each VM, given `demand`
        ({vm: harts of time its VCPUs were runnable}): here every VCPU alike,
        the shared harts split evenly, no VM beyond its demand."""
        return max_min_share({vm: len(vm.vcpus) for vm in vms},
                             {vm: min(len(vm.vcpus), demand.get(vm, 0.0)) for vm in vms}, harts)

    def vcpu_stats(self, vcpu):
        return {}

    def stats(self):
        return {"policy": self.name}


class RoundRobinPolicy(SchedulerPolicy):
    """One queue for all harts: the VCPU that has waited longest runs next,
    for a slice of `slice_insns`, and goes to the back of the queue when the
    slice ends or it wakes. Weights and caps mean nothing here."""

    name = "round-robin"

    def __init__(self, slice_insns=ROUND_ROBIN_SLICE):
        if slice_insns < 1:
            raise HvError(f"round-robin slice must be at least one instruction, not {slice_insns}")
        self.slice_insns = slice_insns
        self._queued = {}           # vcpu -> its place in the queue (lower goes first)
        self._seq = 0

    def _enqueue(self, vcpu):
        self._seq += 1
        self._queued[vcpu] = self._seq

    def add_vcpu(self, vcpu, now):
        self._enqueue(vcpu)

    def wake(self, vcpu, now):
        self._enqueue(vcpu)

    def descheduled(self, vcpu, hart, now):
        self._enqueue(vcpu)

    def remove_vcpu(self, vcpu):
        self._queued.pop(vcpu, None)

    def pick(self, hart, candidates, now):
        if not candidates:
            return None
        vcpu = min(candidates, key=lambda v: self._queued.get(v, 0))
        return vcpu, self.slice_insns

    def stats(self):
        return {"policy": self.name, "slice_insns": self.slice_insns}


def max_min_share(weights, limits, capacity):
    """Split `capacity` among the keys of `weights` in proportion to weight,
    none above its limit, what a limited one leaves going to the others
    (max-min fairness): {key: share}."""
    shares = {}
    pending = [key for key in weights if weights[key] > 0]
    left = float(capacity)
    while pending and left > 0:
        total = sum(weights[key] for key in pending)
        full = [key for key in pending if left * weights[key] / total >= limits[key]]
        if not full:
            for key in pending:
                shares[key] = left * weights[key] / total
            pending = []
            break
        for key in full:
            shares[key] = float(limits[key])
            left -= limits[key]
            pending.remove(key)
    for key in weights:
        shares.setdefault(key, 0.0)
    return shares


def scheduler_policy(spec):
    """A policy from a name registered in pyvmm.hv (a new instance) or a
    policy object itself."""
    if isinstance(spec, SchedulerPolicy):
        return spec
    if isinstance(spec, str):
        from pyvmm.hv import scheduler_entry
        return scheduler_entry(spec)()
    raise HvError(f"a scheduler is a name or a SchedulerPolicy, not {spec!r}")

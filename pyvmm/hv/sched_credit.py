"""Xen's credit scheduler (xen/common/sched_credit.c; Cherkasova, Gupta and
Vahdat, "Comparison of the three CPU schedulers in Xen", 2007), in modeled
time: milliseconds are the host's instructions at its instruction rate
(insns_per_tick x the 10 MHz timebase: 100 000 instructions a millisecond
by default), so every run gives the same decisions.

* Every VM has a weight (default 256) and a cap (percent of one hart, 0 for
  none), set with host.set_sched_params(vm, weight=, cap=) as with
  `xl sched-credit -d VM -w W -c C`.
* Every accounting period (30 ms) the shared harts' time of the period is
  handed out as credit to the VMs with active VCPUs, in proportion to weight
  times active VCPUs, at most a hart per active VCPU and at most the cap;
  each VM's share is split evenly among its active VCPUs. A VCPU with credit
  left is UNDER, one in debt OVER (its debt bounded by one time slice);
  one that piled up more than a time slice of credit stops earning (it is
  not active until it runs again) and keeps half of it.
* Running debits credit instruction by instruction (Xen burns credit by
  the time run); a VCPU is active while it runs or waits to run.
* A VCPU woken from blocking (its timer, an IPI, a device interrupt) while
  UNDER is BOOSTed: it goes before UNDER and OVER VCPUs and preempts an
  UNDER or OVER VCPU running on its hart at the next turn. A 10 ms tick that
  finds it running ends the boost.
* Each hart has a run queue: the VCPUs that last ran there (new VCPUs are
  spread over the harts). A hart runs the best of its own queue (BOOST,
  UNDER, OVER; first come first served within one), for a 30 ms slice. If
  its best is OVER, or it has none, it steals the best VCPU of a higher
  priority from the other harts' queues (work conserving: an idle hart
  takes even an OVER VCPU).
* A capped VM's credit per period is at most its cap; the accounting parks
  a VCPU of it whose debt exceeds its part of the cap, and unparks it when
  an accounting leaves it credit: a capped VM runs no more than its cap
  even on otherwise idle harts (over a few periods: it runs in slices).
* What a VM cannot use (its VCPUs' whole period, or its cap) goes to the VMs
  after it in the accounting, and a host in debt (the credit of all active
  VCPUs negative) hands out that much more, as Xen's csched_acct does.
"""


from pyvmm.hv.host import DEFAULT_WEIGHT, HvError
from pyvmm.hv.sched_policy import SchedulerPolicy, max_min_share

BOOST, UNDER, OVER = 0, -1, -2
PRIORITY_NAMES = {BOOST: "boost", UNDER: "under", OVER: "over"}

TICK_MS = 10
TSLICE_MS = 30
TICKS_PER_ACCT = 3
CREDITS_PER_MSEC = 10


def _ceil_div(a, b):
    return -(-a // b)


class _VcpuCredit:
    __slots__ = ("credit", "pri", "parked", "active", "home", "queued", "boosts")

    def __init__(self, home):
        self.credit = 0               # in instructions of modeled time
        self.pri = UNDER
        self.parked = False
        self.active = False
        self.home = home              # index of the hart whose run queue holds it
        self.queued = 0
        self.boosts = 0


class CreditScheduler(SchedulerPolicy):
    name = "credit"
    weighted = True

    def __init__(self, tslice_ms=TSLICE_MS, tick_ms=TICK_MS, ticks_per_acct=TICKS_PER_ACCT):
        for label, value in (("tslice_ms", tslice_ms), ("tick_ms", tick_ms),
                             ("ticks_per_acct", ticks_per_acct)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise HvError(f"credit scheduler: {label} must be a positive integer, not {value!r}")
        self.tslice_ms = tslice_ms
        self.tick_ms = tick_ms
        self.ticks_per_acct = ticks_per_acct
        self._state = {}
        self._seq = 0
        self._next_home = 0
        self.periods = 0
        self.boosts = 0
        self.steals = 0
        self.parks = 0
        self.preemptions = 0
        self.balance = 0              # the credit all active VCPUs held after the last accounting
        self._order = []              # active VMs in Xen's active-domain list order

    def attach(self, dispatcher):
        super().attach(dispatcher)
        per_ms = dispatcher.insns_per_second // 1000
        self.ms_insns = per_ms
        self.tick_insns = self.tick_ms * per_ms
        self.tslice_insns = self.tslice_ms * per_ms
        self.acct_insns = self.ticks_per_acct * self.tick_insns
        self.next_acct = dispatcher.now + self.acct_insns

    # -- parameters ------------------------------------------------------------------------

    def params(self, vm):
        params = self.dispatcher.host.sched_params.get(vm, {})
        return params.get("weight", DEFAULT_WEIGHT), params.get("cap", 0)

    def _credits(self, insns):
        """Instructions of credit as Xen's credits (10 a millisecond)."""
        return round(insns * CREDITS_PER_MSEC / self.ms_insns, 1)

    # -- notifications ---------------------------------------------------------------------

    def _enqueue(self, state):
        self._seq += 1
        state.queued = self._seq

    def add_vcpu(self, vcpu, now):
        harts = [hart.index for hart in self.dispatcher.harts if hart.partition is None]
        rec = self.dispatcher.records[vcpu]
        if rec.movable and harts:
            home = harts[self._next_home % len(harts)]
            self._next_home += 1
        else:
            home = 0
        state = _VcpuCredit(home)
        self._state[vcpu] = state
        self._enqueue(state)

    def wake(self, vcpu, now):
        state = self._state[vcpu]
        if state.pri == UNDER and not state.parked:
            state.pri = BOOST
            state.boosts += 1
            self.boosts += 1
        state.active = True
        self._enqueue(state)

    def remove_vcpu(self, vcpu):
        self._state.pop(vcpu, None)

    def descheduled(self, vcpu, hart, now):
        self._enqueue(self._state[vcpu])

    def ran(self, vcpu, hart, insns, now):
        state = self._state[vcpu]
        state.credit -= insns
        state.active = True
        state.home = hart.index
        if state.pri == BOOST and (now - insns) // self.tick_insns != now // self.tick_insns:
            state.pri = UNDER               # a tick found it running

    # -- decisions -------------------------------------------------------------------------

    def _key(self, vcpu):
        state = self._state[vcpu]
        return (-state.pri, state.queued)

    def pick(self, hart, candidates, now):
        runnable = [v for v in candidates if not self._state[v].parked]
        if not runnable:
            return None
        local = [v for v in runnable if self._state[v].home == hart.index]
        best = min(local, key=self._key) if local else None
        if best is None or self._state[best].pri == OVER:
            floor = OVER if best is not None else OVER - 1
            remote = [v for v in runnable if self._state[v].home != hart.index
                      and self._state[v].pri > floor]
            if remote:
                best = min(remote, key=self._key)
                self._state[best].home = hart.index
                self.steals += 1
        return best, self.tslice_insns

    def preempt(self, hart, vcpu, candidates, now):
        state = self._state[vcpu]
        if state.parked:
            return True
        for other in candidates:
            other_state = self._state[other]
            if (other_state.pri == BOOST and other_state.pri > state.pri
                    and other_state.home == hart.index and not other_state.parked):
                self.preemptions += 1
                return True
        return False

    def next_event(self, now):
        if any(state.parked for state in self._state.values()):
            return self.next_acct
        return None

    # -- accounting ------------------------------------------------------------------------

    def advance(self, now):
        while now >= self.next_acct:
            self._account()
            self.next_acct += self.acct_insns

    def _account(self):
        """csched_acct: hand the period's credit out, recompute priorities,
        park and unpark capped VCPUs."""
        self.periods += 1
        dispatcher = self.dispatcher
        active = {}
        for vcpu, state in self._state.items():
            rec = dispatcher.records.get(vcpu)
            if rec is None or rec.vm.stopped or rec.vm not in dispatcher.running:
                continue            # only the VMs of this run compete for its harts
            if rec.ready:
                state.active = True
            if state.active:
                active.setdefault(vcpu.vm, []).append(vcpu)
        # Xen keeps active domains in a list; those left with credit to spare
        # move to its head, so the others see unused credit first next time.
        self._order = [vm for vm in self._order if vm in active]
        self._order += [vm for vm in active if vm not in self._order]
        if not active:
            self.balance = 0
            return
        shared = sum(1 for hart in dispatcher.harts if hart.partition is None)
        credit_total = shared * self.acct_insns
        if self.balance < 0:
            credit_total -= self.balance        # converge the balance towards 0
        weight_total = sum(self.params(vm)[0] * len(vcpus) for vm, vcpus in active.items())
        weight_left = weight_total
        extra = False
        balance = 0
        for vm in list(self._order):
            vcpus = active[vm]
            count = len(vcpus)
            weight, cap = self.params(vm)
            weight_left -= weight * count
            # at most all its active VCPUs for a whole period (more only while
            # the host is in debt)
            peak = count * self.tslice_insns
            if self.balance < 0:
                peak += _ceil_div(-self.balance * weight * count, weight_total)
            vcpu_cap = None
            if cap:
                vm_cap = _ceil_div(cap * self.tslice_insns, 100)
                peak = min(peak, vm_cap)
                vcpu_cap = _ceil_div(vm_cap, count)
            fair = _ceil_div(credit_total * weight * count, weight_total)
            if fair < peak:
                extra = True
            else:
                if weight_left:
                    # what it cannot use goes to the domains after it
                    credit_total += _ceil_div((fair - peak) * weight_total, weight_left)
                if extra:
                    self._order.remove(vm)
                    self._order.insert(0, vm)
                fair = peak
            each = _ceil_div(fair, count)
            for vcpu in vcpus:
                state = self._state[vcpu]
                credit = state.credit + each
                if credit < 0:
                    state.pri = OVER
                    if vcpu_cap is not None and credit < -vcpu_cap and not state.parked:
                        state.parked = True
                        self.parks += 1
                    credit = max(credit, -self.tslice_insns)
                else:
                    state.pri = UNDER
                    state.parked = False
                    if credit > self.tslice_insns:
                        state.active = False        # stops earning until it runs again
                        credit //= 2
                state.credit = credit
                balance += credit
        self.balance = balance

    # -- figures ---------------------------------------------------------------------------

    def entitlement(self, vms, harts, demand):
        """Weight x VCPUs shares of the shared harts (as the accounting hands
        out credit), none above a hart per VCPU, its cap or its demand, what
        those leave going to the others."""
        weights, limits = {}, {}
        for vm in vms:
            weight, cap = self.params(vm)
            weights[vm] = weight * len(vm.vcpus)
            most = min(len(vm.vcpus), demand.get(vm, 0.0))
            limits[vm] = min(most, cap / 100) if cap else most
        return max_min_share(weights, limits, harts)

    def vcpu_stats(self, vcpu):
        state = self._state.get(vcpu)
        if state is None:
            return {}
        return {"credit": self._credits(state.credit), "priority": PRIORITY_NAMES[state.pri],
                "parked": state.parked, "home_hart": state.home, "boosts": state.boosts}

    def stats(self):
        return {"policy": self.name, "tslice_ms": self.tslice_ms, "tick_ms": self.tick_ms,
                "accounting_ms": self.tick_ms * self.ticks_per_acct, "periods": self.periods,
                "boosts": self.boosts, "steals": self.steals, "parks": self.parks,
                "preemptions": self.preemptions}

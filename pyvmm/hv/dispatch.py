"""The host's harts taking turns on one clock, and the VCPUs of its VMs
placed on them by a scheduling policy (pyvmm/hv/sched_policy.py).

Time is modeled in instructions, as on the board (pyvmm/machine/harts.py):
each host hart has its own clock, the instructions it has lived (guest
instructions it ran, exits that retired none, and time it stood idle); the
harts run in parallel in modeled time, so the hart that is furthest behind
takes the next turn (lowest index first on a tie), for at most TURN_INSNS.
Its core is put on its clock before it runs (`core.clock_insns`), so the
guest's mtime is the hart's. Every run therefore repeats exactly.

A VCPU ready to run is a candidate for a hart when its VM runs on, it is
started (SBI HSM) and not waiting in WFI, and it is not still running
elsewhere in modeled time (its last turn ended at or before this hart's
clock). The policy picks among the candidates and gives a slice; the slice
goes on turn after turn until it is used up, the VCPU blocks, or the policy
preempts it at a turn's end. A hart with no candidate idles to the next
event: another hart's clock, a VCPU's timer, a VCPU becoming free.

Migration: a VCPU loaded on another core is saved there and loaded here
(`vcpu.core` is the core of the hart it is loaded on, or was last). The
TLB and decoded-instruction cache of a hart may hold a VM's translations
and code from VCPUs that ran there before; the guest only fences the harts
it knows its VCPUs are on. So before a VCPU is loaded on a hart where it
did not run last, or where another VCPU of its VM ran since, the hart's TLB
and decode cache are flushed (as KVM sanitizes a VMID's TLB on a VCPU
moving between physical CPUs). A one-hart host shares one TLB among all
VCPUs, which every fence reaches, and needs none of this.

VCPUs of techniques other than hw with nested paging (their VCPU classes
and the shadow pager work on `host.core`) run on hart 0 only. A
partition's VCPUs run on their own harts only, and nothing else runs there.
"""

import math
import time

from pyvmm.hv.host import DEFAULT_WEIGHT, HvError
from pyvmm.machine.layout import EXIT_IDLE, TIMEBASE_FREQ
from pyvmm.machine.machine import RX_BYTE_INSNS

# Instructions a hart runs per turn before the others catch up: short enough
# that VCPUs of one VM spinning on each other's locks on different harts
# make progress, and that a policy's preemption (a boosted VCPU waking)
# takes effect within 0.2 ms of modeled time; long enough that the Python
# between turns is a few percent.
TURN_INSNS = 20_000

# A partition's VCPU keeps its hart: its slice never ends.
FOREVER = 1 << 62

WAKING_EXITS = frozenset(("sbi", "mmio"))


def _blocked_until(vcpu):
    return getattr(vcpu, "blocked_until", None)


class VcpuRecord:
    """What the dispatcher knows of one VCPU, and its figures."""

    __slots__ = ("vcpu", "vm", "ready", "ready_since", "blocked_at", "available_at", "running_on",
                 "slice_left", "last_hart", "pinned", "movable", "insns", "units", "slices",
                 "migrations", "wakeups", "latencies", "ready_from", "ready_insns")

    def __init__(self, vcpu, pinned, movable, now):
        self.vcpu = vcpu
        self.vm = vcpu.vm
        self.ready = False
        self.ready_since = None       # clock when it last became runnable, until it runs
        self.blocked_at = now
        self.available_at = now       # clock at which its last turn ended
        self.running_on = None        # the hart whose slice it holds
        self.slice_left = 0
        self.last_hart = None
        self.pinned = pinned          # the partition hart it owns, or None
        self.movable = movable
        self.insns = 0                # guest instructions retired under the dispatcher
        self.units = 0                # hart time used: instructions and stalled exits
        self.slices = 0
        self.migrations = 0
        self.wakeups = 0
        self.latencies = []           # instructions from runnable to running, per wakeup
        self.ready_from = None        # clock since which it is runnable (running or waiting)
        self.ready_insns = 0          # clock it spent runnable before that


def latency_summary(latencies, insns_per_second):
    """count, mean, p99 and max of latencies (instructions), in microseconds
    of modeled time."""
    if not latencies:
        return {"count": 0, "mean_us": None, "p99_us": None, "max_us": None}
    ordered = sorted(latencies)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    scale = 1e6 / insns_per_second
    return {"count": len(ordered), "mean_us": round(sum(ordered) / len(ordered) * scale, 1),
            "p99_us": round(p99 * scale, 1), "max_us": round(ordered[-1] * scale, 1)}


class Dispatcher:
    def __init__(self, host, policy):
        self.host = host
        self.harts = host.harts
        self.policy = policy
        core = host.core
        self.insns_per_tick = core.insns_per_tick
        self.insns_per_second = self.insns_per_tick * TIMEBASE_FREQ
        self.start_clock = core.clock_insns
        for hart in self.harts:
            hart.clock = self.start_clock
        self.records = {}             # vcpu -> VcpuRecord, in the order VCPUs came
        self._slice = {hart.index: None for hart in self.harts}
        self._running = ()            # the VMs of the current run()
        self.turns = 0
        self.idle_steps = 0
        self.tlb_sanitizes = 0
        policy.attach(self)

    @property
    def running(self):
        """The VMs of the run in progress (the others wait)."""
        return self._running

    # -- time ------------------------------------------------------------------------------

    @property
    def now(self):
        """The host's clock: the hart furthest behind."""
        return min(hart.clock for hart in self.harts)

    def _mtime_offset(self):
        core = self.host.core
        return core.mtime - core.clock_insns // self.insns_per_tick

    def mtime_to_clock(self, mtime):
        """The clock (instructions) at which mtime reaches `mtime`."""
        return max(0, (mtime - self._mtime_offset()) * self.insns_per_tick)

    def seconds(self, insns):
        return insns / self.insns_per_second

    # -- VCPUs -----------------------------------------------------------------------------

    def _add(self, vm, now):
        partition = getattr(vm, "partition", None)
        movable = vm.technique == "hw" and vm.paging == "nested"
        for index, vcpu in enumerate(vm.vcpus):
            if vcpu in self.records:
                continue
            pinned = partition.harts[index] if partition is not None else None
            self.records[vcpu] = VcpuRecord(vcpu, pinned, movable, now)
            if pinned is None:
                self.policy.add_vcpu(vcpu, now)

    def forget(self, vm):
        """A destroyed VM's VCPUs are no one's to run."""
        for vcpu in vm.vcpus:
            rec = self.records.pop(vcpu, None)
            if rec is None:
                continue
            if rec.running_on is not None:
                self._slice[rec.running_on.index] = None
            if rec.pinned is None:
                self.policy.remove_vcpu(vcpu)

    def _allowed(self, rec, hart):
        if rec.pinned is not None:
            return rec.pinned is hart
        if hart.partition is not None:
            return False
        return rec.movable or hart.index == 0

    def _refresh(self, now):
        """Notice VCPUs that became runnable (a timer due, an IPI, a device's
        interrupt, an HSM start) by `now`."""
        for rec in self.records.values():
            if rec.ready or rec.vm not in self._running or rec.vm.stopped:
                continue
            vcpu = rec.vcpu
            if not rec.vm.runnable(vcpu):
                continue
            deadline = _blocked_until(vcpu)
            if deadline is None:
                woke = now
            else:
                due = self.mtime_to_clock(deadline)
                if due > now:
                    continue
                woke = max(due, rec.blocked_at)
            rec.ready = True
            rec.ready_from = woke
            rec.available_at = max(rec.available_at, woke)
            if rec.slices:
                rec.ready_since = woke
                rec.wakeups += 1
            # else its first start (power-on or HSM start): not a wake-up from blocking
            if rec.pinned is None:
                self.policy.wake(vcpu, woke)

    def _block(self, rec, now):
        rec.ready = False
        if rec.ready_from is not None:
            rec.ready_insns += max(0, now - rec.ready_from)
            rec.ready_from = None
        rec.ready_since = None
        rec.blocked_at = now
        if rec.pinned is None:
            self.policy.block(rec.vcpu, now)

    def _eligible(self, rec, hart, now):
        return (rec.ready and not rec.vm.stopped and rec.vm in self._running
                and rec.available_at <= now and rec.running_on in (None, hart)
                and self._allowed(rec, hart))

    def _candidates(self, hart, now, exclude=None):
        return [rec for rec in self.records.values()
                if rec is not exclude and self._eligible(rec, hart, now)]

    # -- turns -----------------------------------------------------------------------------

    def run(self, vms, max_insns=None):
        """Run these VMs until they stop, or `max_insns` guest instructions
        have retired in all (the VMs still running then stop with how "budget")."""
        if max_insns is not None and max_insns < 0:
            raise ValueError("max_insns must not be negative")
        vms = list(vms)
        for vm in vms:
            vm.boot()
            vm.resume()
        self._running = frozenset(vms)
        now = self.now
        for vm in vms:
            self._add(vm, now)
        total = 0
        try:
            while True:
                live = [vm for vm in vms if not vm.stopped]
                if not live:
                    break
                left = None if max_insns is None else max_insns - total
                if left is not None and left <= 0:
                    for vm in live:
                        vm.request_stop("budget", 0)
                    break
                used = self._step(left)
                if used is None:
                    # Nothing can run and no timer is armed: only console input
                    # can still wake a VCPU (the wait delivers it), else idle.
                    for vm in live:
                        if not vm.input_can_wake():
                            vm.request_stop("idle", EXIT_IDLE)
                    continue
                total += used
        finally:
            for vm in vms:
                vm.flush_console()
            self._running = ()
        return {vm: vm.result for vm in vms}

    def _step(self, left):
        """One turn of the hart furthest behind (or of the first of them that
        has work); the units it used, 0 if harts only idled, None if nothing
        can ever run again without outside input."""
        now = self.now
        self.policy.advance(now)
        self._refresh(now)
        behind = [hart for hart in self.harts if hart.clock == now]
        for hart in behind:
            rec = self._choose(hart, now)
            if rec is not None:
                return self._turn(hart, rec, left)
        upcoming = self._next_event(now)
        if upcoming is None:
            return None
        for hart in behind:
            hart.idle_insns += upcoming - now
            hart.clock = upcoming
        self.idle_steps += 1
        return 0

    def _next_event(self, now):
        times = [hart.clock for hart in self.harts if hart.clock > now]
        for rec in self.records.values():
            if rec.vm not in self._running or rec.vm.stopped:
                continue
            if rec.ready:
                if rec.available_at > now:
                    times.append(rec.available_at)
            elif rec.vm.runnable(rec.vcpu) and _blocked_until(rec.vcpu) is not None:
                times.append(max(now + 1, self.mtime_to_clock(_blocked_until(rec.vcpu))))
        if any(rec.ready and rec.vm in self._running and not rec.vm.stopped
               for rec in self.records.values()):
            # a VCPU the policy holds back (a capped VM parked) runs again then
            decision = self.policy.next_event(now)
            if decision is not None and decision > now:
                times.append(decision)
        return min(times) if times else None

    def _choose(self, hart, now):
        rec = self._slice[hart.index]
        if rec is not None:
            if rec.slice_left > 0 and self._eligible(rec, hart, now):
                if rec.pinned is not None:
                    return rec
                others = [r.vcpu for r in self._candidates(hart, now, exclude=rec)]
                if not self.policy.preempt(hart, rec.vcpu, others, now):
                    return rec
            self._end_slice(hart, now)
        candidates = self._candidates(hart, now)
        if hart.partition is not None:
            if not candidates:
                return None
            rec, slice_insns = candidates[0], FOREVER
        else:
            choice = self.policy.pick(hart, [r.vcpu for r in candidates], now)
            if choice is None:
                return None
            vcpu, slice_insns = choice
            rec = self.records.get(vcpu)
            if rec not in candidates:
                raise HvError(f"scheduler {self.policy.name} picked {vcpu.vm.name} VCPU "
                              f"{vcpu.hartid}, which cannot run on hart {hart.index} now")
        rec.running_on = hart
        rec.slice_left = max(1, int(slice_insns))
        rec.slices += 1
        self._slice[hart.index] = rec
        if rec.ready_since is not None:
            rec.latencies.append(now - rec.ready_since)
            rec.ready_since = None
        return rec

    def _end_slice(self, hart, now):
        rec = self._slice[hart.index]
        self._slice[hart.index] = None
        if rec is None:
            return
        rec.running_on = None
        rec.slice_left = 0
        if rec.ready and rec.pinned is None and not rec.vm.stopped:
            self.policy.descheduled(rec.vcpu, hart, now)

    def _place(self, hart, rec):
        """Load the VCPU on this hart's core, moving it from another if need be."""
        vcpu = rec.vcpu
        core = hart.core
        if vcpu.core is not core:
            if vcpu.loaded:
                vcpu.save()
            vcpu.core = core
            rec.migrations += 1
        if not vcpu.loaded:
            if len(self.harts) > 1 and (rec.last_hart is not hart
                                        or hart.last_tenant.get(rec.vm) not in (None, vcpu)):
                core.flush_tlb()
                core.flush_decode_cache()
                self.tlb_sanitizes += 1
            vcpu.activate()
        hart.last_tenant[rec.vm] = vcpu
        rec.last_hart = hart
        # WFI leaves the core: the time it waits is the dispatcher's to give away.
        core.wfi_exit = True

    def _turn(self, hart, rec, left):
        vcpu, vm = rec.vcpu, rec.vm
        budget = min(TURN_INSNS, rec.slice_left)
        if vm.input_pending():
            # Console bytes reach the guest a byte time apart, as on the board.
            budget = min(budget, RX_BYTE_INSNS)
        if left is not None:
            budget = min(budget, left)
        self._place(hart, rec)
        hart.core.clock_insns = hart.clock
        if hart.index:
            # Device models read time from host.core (hart 0): the running hart's.
            self.host.core.clock_insns = hart.clock
        self.turns += 1
        start = vcpu.instret
        stalled = 0
        started = time.perf_counter()
        vm.poll_input()
        while not vm.stopped:
            done = vcpu.instret - start + stalled
            chunk = budget - done
            if chunk <= 0:
                break
            before = vcpu.instret
            exit = vcpu.run(chunk)
            vm.handle(vcpu, exit)
            if exit.kind == "budget" and vcpu.instret == before:
                # the whole run went on traps the guest took inside the core
                stalled += chunk
                break
            if exit.kind in WAKING_EXITS:
                self._refresh(hart.clock + vcpu.instret - start + stalled)
            if exit.kind == "budget" or _blocked_until(vcpu) is not None or not vm.runnable(vcpu):
                break
            if exit.kind == "mmio" and budget > RX_BYTE_INSNS and vm.input_pending():
                break       # the guest reads its console: its next turn is a byte time long
            if vcpu.instret == before:
                stalled += 1
        vm.flush_console()
        vm.run_seconds += time.perf_counter() - started
        retired = vcpu.instret - start
        used = retired + stalled
        hart.clock += used
        hart.busy_insns += used
        rec.insns += retired
        rec.units += used
        rec.available_at = hart.clock
        rec.slice_left -= used
        if rec.pinned is None:
            self.policy.ran(vcpu, hart, used, hart.clock)
        deadline = _blocked_until(vcpu)
        if (vm.stopped or not vm.runnable(vcpu)
                or (deadline is not None and self.mtime_to_clock(deadline) > hart.clock)):
            self._block(rec, hart.clock)
            self._end_slice(hart, hart.clock)
        elif rec.slice_left <= 0:
            self._end_slice(hart, hart.clock)
        return used

    # -- report ----------------------------------------------------------------------------

    def _elapsed(self):
        return max(hart.clock for hart in self.harts) - self.start_clock

    def _demand(self, rec, end):
        """Clock the VCPU was runnable (running or waiting to run) up to `end`."""
        open_interval = max(0, end - rec.ready_from) if rec.ready_from is not None else 0
        return rec.ready_insns + open_interval

    def _vm_entitlements(self):
        vms = []
        for rec in self.records.values():
            if rec.vm not in vms:
                vms.append(rec.vm)
        elapsed = self._elapsed()
        end = self.start_clock + elapsed
        demand = {}
        for rec in self.records.values():
            demand[rec.vm] = demand.get(rec.vm, 0) + (self._demand(rec, end) / elapsed if elapsed else 0.0)
        shared = [vm for vm in vms if getattr(vm, "partition", None) is None]
        shared_harts = sum(1 for hart in self.harts if hart.partition is None)
        entitled = dict(self.policy.entitlement(shared, shared_harts, demand))
        for vm in vms:
            if vm not in entitled:
                entitled[vm] = float(len(vm.vcpus))      # a partition: a hart per VCPU
        return vms, entitled, demand

    def vm_report(self, vm):
        """One VM's share of host hart time against its entitlement, and its
        VCPUs' figures; shares are in harts (1.0 = one hart all the time)."""
        vms, entitled, demand = self._vm_entitlements()
        if vm not in vms:
            return {}
        elapsed = self._elapsed()
        records = [self.records[vcpu] for vcpu in vm.vcpus if vcpu in self.records]
        units = sum(rec.units for rec in records)
        params = self.host.sched_params.get(vm, {})
        partition = getattr(vm, "partition", None)
        report = {
            "scheduler": "partition" if partition is not None else self.policy.name,
            "weight": params.get("weight", DEFAULT_WEIGHT), "cap": params.get("cap", 0),
            "insns": sum(rec.insns for rec in records),
            "hart_insns": units,
            "modeled_seconds": round(self.seconds(units), 6),
            "share_harts": round(units / elapsed, 4) if elapsed else None,
            "entitled_harts": round(entitled[vm], 4),
            "demand_harts": round(demand[vm], 4),
            "vcpus": [self._vcpu_report(rec, elapsed, entitled[vm] / max(1, len(vm.vcpus)))
                      for rec in records],
        }
        if partition is not None:
            report["harts"] = [hart.index for hart in partition.harts]
        all_latencies = [lat for rec in records for lat in rec.latencies]
        report["latency"] = latency_summary(all_latencies, self.insns_per_second)
        return report

    def _vcpu_report(self, rec, elapsed, entitled):
        report = {"vcpu": rec.vcpu.hartid, "insns": rec.insns, "hart_insns": rec.units,
                  "modeled_seconds": round(self.seconds(rec.units), 6),
                  "share_harts": round(rec.units / elapsed, 4) if elapsed else None,
                  "entitled_harts": round(entitled, 4), "slices": rec.slices,
                  "migrations": rec.migrations, "wakeups": rec.wakeups,
                  "latency": latency_summary(rec.latencies, self.insns_per_second)}
        if rec.pinned is None:
            report.update(self.policy.vcpu_stats(rec.vcpu))
        return report

    def _hart_report(self, hart):
        core = hart.core.stats()
        return {"hart": hart.index, "busy_insns": hart.busy_insns, "idle_insns": hart.idle_insns,
                "partition": hart.partition.name if hart.partition is not None else None,
                # the core's own counters: a VM's vm.stats()["core"] is hart 0's
                "core": {key: core[key] for key in ("instret", "tlb_hits", "tlb_misses", "tlb_flushes")
                         if key in core}}

    def report(self):
        """The host's view: each hart's busy and idle time, the policy, and
        every VM's vm_report."""
        vms, _, _ = self._vm_entitlements()
        elapsed = self._elapsed()
        return {
            "harts": len(self.harts),
            "modeled_seconds": round(self.seconds(elapsed), 6),
            "elapsed_insns": elapsed,
            "insns_per_second": self.insns_per_second,
            "turns": self.turns, "idle_steps": self.idle_steps,
            "tlb_sanitizes": self.tlb_sanitizes,
            "hart_time": [self._hart_report(hart) for hart in self.harts],
            "policy": self.policy.stats(),
            "vms": {vm.name: self.vm_report(vm) for vm in vms},
        }

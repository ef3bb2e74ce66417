"""How a Host sets its VMs' balloon targets from its own memory pressure.

A BalloonPolicy looks at the host's free frames whenever it is polled
(between scheduler slices, or by whoever runs the host) and decides:

* below `low_frames` free: inflate. The frames still missing to reach
  `high_frames` free, less what is already asked for and not yet given
  (target above the driver's `actual`), are shared out over the VMs with a
  balloon in proportion to their RAM size; no VM is asked for more than
  `max_fraction` of its RAM.
* above `high_frames` free: the pressure is gone; deflate every balloon by
  the surplus above `high_frames`, shared the same way, down to 0.
* in between: hold (hysteresis, so targets do not flap).

What a VM gives back reaches the host through its balloon's `discard`
hook (pyvmm.machine.devices.DeviceSet.set_balloon_hooks). Subclasses change
the decision by overriding `share` (who gives how much) or `free_frames`
(what pressure is); every decision is counted. Whoever runs the host calls
`poll()` between slices, or lets `run()` run the VMs round-robin and poll
every `poll_insns` guest instructions.
"""

from pyvmm.hv.vm import PAGE_SIZE

_COUNTERS = ("polls", "inflate_decisions", "deflate_decisions", "holds",
             "pages_requested", "pages_returned")


class BalloonPolicy:
    def __init__(self, host, low_frames, high_frames, max_fraction=0.5):
        if not 0 <= low_frames <= high_frames:
            raise ValueError(f"balloon policy: need 0 <= low ({low_frames}) <= high ({high_frames}) frames")
        if not 0.0 < max_fraction <= 1.0:
            raise ValueError(f"balloon policy: max_fraction {max_fraction} is not in (0, 1]")
        self.host = host
        self.low_frames = low_frames
        self.high_frames = high_frames
        self.max_fraction = max_fraction
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.last_decision = None

    # -- what the policy sees -----------------------------------------------

    def free_frames(self):
        return self.host.frames.free_frames

    def balloons(self):
        """[(vm, balloon)] for every VM of the host that has one and has not
        stopped for good (a VM paused at the end of a budget still counts)."""
        out = []
        for vm in self.host.vms:
            if vm.result is not None and vm.result.how != "budget":
                continue
            if getattr(vm, "shareable", True) is False:
                continue        # a partition's memory is its own: never ballooned
            for balloon in vm.device_set.balloons():
                out.append((vm, balloon))
        return out

    def ceiling(self, vm):
        """The most pages `vm` is ever asked for."""
        return int(vm.ram_size // PAGE_SIZE * self.max_fraction)

    # -- deciding -----------------------------------------------------------

    def share(self, pages, balloons):
        """Split `pages` over [(vm, balloon)] by RAM size: {vm: pages}. The
        largest remainders get the leftover pages, in VM order on ties, so
        the split is the same every time."""
        total = sum(vm.ram_size for vm, _ in balloons)
        if not total or pages <= 0:
            return {vm: 0 for vm, _ in balloons}
        shares = {vm: pages * vm.ram_size // total for vm, _ in balloons}
        left = pages - sum(shares.values())
        by_remainder = sorted(balloons, key=lambda item: -(pages * item[0].ram_size % total))
        for vm, _ in by_remainder[:left]:
            shares[vm] += 1
        return shares

    def poll(self):
        """Look at the pressure once and set targets; returns the decision:
        "inflate", "deflate" or "hold"."""
        self.counters["polls"] += 1
        balloons = self.balloons()
        free = self.free_frames()
        decision = "hold"
        if balloons and free < self.low_frames:
            in_flight = sum(max(0, b.num_pages - b.actual) for _, b in balloons)
            missing = self.high_frames - free - in_flight
            if missing > 0 and self._inflate(missing, balloons):
                decision = "inflate"
        elif balloons and free > self.high_frames:
            if self._deflate(free - self.high_frames, balloons):
                decision = "deflate"
        self.counters[f"{decision}_decisions" if decision != "hold" else "holds"] += 1
        self.last_decision = decision
        return decision

    def _inflate(self, pages, balloons):
        changed = False
        shares = self.share(pages, balloons)
        for vm, balloon in balloons:
            want = min(self.ceiling(vm), balloon.num_pages + shares[vm])
            if want > balloon.num_pages:
                self.counters["pages_requested"] += want - balloon.num_pages
                balloon.set_target(want)
                changed = True
        return changed

    def _deflate(self, pages, balloons):
        changed = False
        shares = self.share(pages, balloons)
        for vm, balloon in balloons:
            want = max(0, balloon.num_pages - shares[vm])
            if want < balloon.num_pages:
                self.counters["pages_returned"] += balloon.num_pages - want
                balloon.set_target(want)
                changed = True
        return changed

    def run(self, max_insns=None, poll_insns=1 << 20):
        """Run the host's VMs round-robin and poll between pieces of
        `poll_insns` guest instructions, until every VM has stopped or
        `max_insns` have retired in all; returns {vm: vm.result}."""
        from pyvmm.hv.scheduler import RoundRobin
        if poll_insns <= 0:
            raise ValueError("balloon policy: poll_insns must be positive")
        scheduler = RoundRobin(self.host)
        done = 0
        while True:
            self.poll()
            piece = poll_insns if max_insns is None else min(poll_insns, max_insns - done)
            before = self._retired()
            if self.host.dispatched:
                # several harts or a policy: the host's dispatcher runs them
                results = self.host.run_vms(self.host.vms, piece)
            else:
                results = scheduler.run(piece)
            done += self._retired() - before
            if all(result is not None and result.how != "budget" for result in results.values()):
                return results
            if max_insns is not None and done >= max_insns:
                return results

    def _retired(self):
        return sum(vcpu.instret for vm in self.host.vms for vcpu in vm.vcpus)

    def stats(self):
        return dict(self.counters, free_frames=self.free_frames(),
                    targets={vm.name: balloon.num_pages for vm, balloon in self.balloons()})

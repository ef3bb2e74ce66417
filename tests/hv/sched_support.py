"""Shared by the scheduler, host-harts and partition tests: guests and a
host of several VMs."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIN = os.path.join(ROOT, "guests", "sched", "spin.S")
TICKER = os.path.join(ROOT, "guests", "sched", "ticker.S")
SMP_TOUR = os.path.join(ROOT, "guests", "smp", "smp_tour.S")
TICKER_OUTPUT = b"ticker: 100 wake-ups\n"


def make_host(harts, scheduler, vms, ram_size=256 << 20):
    """A host and its VMs: `vms` is a list of (image, vcpus, weight, cap)."""
    from pyvmm.hv import Host
    host = Host(ram_size=ram_size, harts=harts, scheduler=scheduler)
    made = []
    for image, vcpus, weight, cap in vms:
        vm = host.create_vm(ram_size=16 << 20, vcpus=vcpus)
        vm.load(image)
        host.set_sched_params(vm, weight=weight, cap=cap)
        made.append(vm)
    return host, made


def within(share, entitled, bound=0.05):
    """Is `share` within `bound` (relative) of `entitled`?"""
    return abs(share - entitled) <= bound * entitled

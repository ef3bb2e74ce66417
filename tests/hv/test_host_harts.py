"""A host of several harts: SMP VMs with more VCPUs than host harts print
what they print with a hart each, VCPUs move between cores with their state,
every run repeats exactly, and a one-hart host keeps its classic loop."""

import pytest

from hv_support import needs_h
from sched_support import SMP_TOUR, SPIN, TICKER, TICKER_OUTPUT, make_host
from support.smp_tour import tour_output

pytestmark = needs_h


def run_tour(harts, scheduler, vcpus=4):
    host, (vm,) = make_host(harts, scheduler, [(SMP_TOUR, vcpus, None, None)])
    result = vm.run(max_insns=50_000_000)
    return host, vm, result


@pytest.mark.parametrize("harts,scheduler", [(4, "round-robin"), (2, "round-robin"),
                                             (3, "credit"), (2, "credit"), (1, "credit")])
def test_smp_vm_with_more_vcpus_than_harts_prints_what_it_prints_with_enough(harts, scheduler):
    host, vm, result = run_tour(harts, scheduler)
    assert (result.how, result.status) == ("sbi-shutdown", 0)
    assert vm.console_output == tour_output(4)
    stats = vm.stats()["sched"]
    assert stats["scheduler"] == scheduler and len(stats["vcpus"]) == 4
    assert sum(v["insns"] for v in stats["vcpus"]) == stats["insns"] == vm.stats()["instret"]
    if harts > 1:
        assert sum(hart["busy_insns"] > 0 for hart in host.sched_report()["hart_time"]) >= 2


def test_vcpus_migrate_and_their_harts_are_sanitized():
    host, vm, _ = run_tour(2, "round-robin")
    assert vm.console_output == tour_output(4)
    records = host.dispatcher.records
    assert sum(records[vcpu].migrations for vcpu in vm.vcpus) > 0
    assert host.sched_report()["tlb_sanitizes"] > 0
    # a VCPU's core is the one of the hart it was loaded on last
    assert {id(vcpu.core) for vcpu in vm.vcpus} <= {id(core) for core in host.cores}


def test_harts_share_ram_and_hart_zero_is_host_core():
    from pyvmm.hv import Host
    host = Host(ram_size=16 << 20, harts=3)
    assert host.core is host.harts[0].core and len(host.cores) == 3
    host.cores[2].write_mem(host.ram_base + 0x1000, b"shared")
    assert bytes(host.core.read_mem(host.ram_base + 0x1000, 6)) == b"shared"
    assert [core.hartid for core in host.cores] == [0, 1, 2]


@pytest.mark.parametrize("harts", [0, 9, "2", True])
def test_bad_hart_counts_are_refused(harts):
    from pyvmm.hv import Host, HvError
    with pytest.raises(HvError, match="1..8 harts"):
        Host(ram_size=16 << 20, harts=harts)


def test_unknown_scheduler_is_refused():
    from pyvmm.hv import Host, HvError
    with pytest.raises(HvError, match="unknown scheduler 'fifo'"):
        Host(ram_size=16 << 20, scheduler="fifo")


def test_one_hart_host_without_a_scheduler_keeps_the_classic_loop():
    host, (vm,) = make_host(1, None, [(TICKER, 1, None, None)])
    result = vm.run()
    assert (result.how, result.status) == ("sbi-shutdown", 0)
    assert vm.console_output == TICKER_OUTPUT
    assert host.dispatcher is None and "sched" not in vm.stats()
    assert host.sched_report() == {}


def _mixed_run():
    host, vms = make_host(2, "credit", [(SPIN, 2, 512, None), (TICKER, 1, None, None),
                                        (SMP_TOUR, 3, None, 50)])
    host.run(max_insns=60_000_000)
    counters = []
    for vm in vms:
        stats = vm.stats()
        counters.append((vm.console_output, vm.result, stats["instret"], stats["exits"],
                         stats["sched"], [vcpu.get_x(i) for vcpu in vm.vcpus for i in range(32)]))
    return host.sched_report(), counters


def test_two_identical_runs_give_identical_counters_and_output():
    first, second = _mixed_run(), _mixed_run()
    assert first == second
    report, counters = first
    assert counters[1][0] == TICKER_OUTPUT and counters[2][0] == tour_output(3)


def test_vcpus_of_other_techniques_and_shadow_paging_stay_on_hart_zero():
    from pyvmm.hv import Host
    host = Host(ram_size=128 << 20, harts=2, scheduler="credit")
    shadow = host.create_vm(ram_size=16 << 20, paging="shadow")
    shadow.load(TICKER)
    spin = host.create_vm(ram_size=16 << 20, vcpus=2)
    spin.load(SPIN)
    host.run(max_insns=40_000_000)
    assert shadow.console_output == TICKER_OUTPUT
    assert host.dispatcher.records[shadow.vcpus[0]].last_hart is host.harts[0]
    assert shadow.vcpus[0].core is host.core
    assert host.dispatcher.records[shadow.vcpus[0]].migrations == 0


def test_a_vm_destroyed_between_runs_leaves_the_others_running():
    host, (gone, stays) = make_host(2, "credit", [(SPIN, 2, None, None), (TICKER, 1, None, None)])
    host.run(max_insns=10_000_000)
    free_before = host.frames.free_frames
    host.destroy_vm(gone)
    assert host.frames.free_frames > free_before
    assert all(vcpu not in host.dispatcher.records for vcpu in gone.vcpus)
    host.run()
    assert stays.console_output == TICKER_OUTPUT and stays.result.status == 0
    assert gone.name not in host.sched_report()["vms"]


def test_running_one_vm_leaves_the_others_waiting():
    host, (first, second) = make_host(2, "credit", [(TICKER, 1, None, None), (SPIN, 2, None, None)])
    first.run()
    assert first.console_output == TICKER_OUTPUT
    assert second.console_output == b"" and second.result is None
    assert set(host.sched_report()["vms"]) == {first.name}


def test_a_hart_is_flushed_before_a_vcpu_that_may_find_stale_translations_there():
    """A hart's TLB and decode cache may hold what other VCPUs of the VM, or
    this one before it moved away, left there; the guest fences only the
    harts it knows of, so the dispatcher flushes on those loads, not others."""
    from pyvmm.hv.dispatch import Dispatcher
    from pyvmm.hv.sched_policy import scheduler_policy
    host, (vm, other) = make_host(2, "round-robin", [(SMP_TOUR, 2, None, None), (SPIN, 1, None, None)])
    dispatcher = host.dispatcher = Dispatcher(host, scheduler_policy("round-robin"))
    dispatcher._add(vm, 0)
    dispatcher._add(other, 0)
    records = dispatcher.records
    hart0, hart1 = host.harts

    def flushes(hart):
        return hart.core.stats()["tlb_flushes"]

    def place(hart, vcpu):
        before = flushes(hart)
        dispatcher._place(hart, records[vcpu])
        assert vcpu.loaded and vcpu.core is hart.core
        return flushes(hart) - before

    a, b = vm.vcpus
    assert place(hart0, a) == 1          # first time on hart 0
    assert place(hart0, a) == 0          # still loaded
    assert place(hart0, other.vcpus[0]) == 1   # another VM's VCPU: its first time here
    assert place(hart0, a) == 0          # back on its hart, no VCPU of its VM ran there since
    assert place(hart0, b) == 1          # a sibling ran there: its entries are stale for b
    assert place(hart0, a) == 1          # and b's for a
    assert place(hart1, a) == 1          # moved: hart 1 may hold a's old entries
    assert records[a].migrations == 1
    assert place(hart0, a) == 1          # moved back: a fenced on hart 1 only


def test_an_smp_vm_saved_on_several_harts_restores_and_finishes(tmp_path):
    from pyvmm.hv import Host
    host, (vm,) = make_host(2, "credit", [(SMP_TOUR, 4, None, None)])
    result = vm.run(max_insns=150_000)
    assert result.how == "budget"
    assert sum(vcpu.loaded for vcpu in vm.vcpus) >= 1
    path = str(tmp_path / "tour.vm")
    vm.save(path)
    printed = vm.console_output         # a snapshot carries no console output: the rest follows
    assert printed and not printed.endswith(b"stopped through HSM: 3\n")
    for harts, scheduler in ((2, "credit"), (1, None)):
        other = Host(ram_size=256 << 20, harts=harts, scheduler=scheduler)
        restored = other.restore(path)
        restored.run(max_insns=50_000_000)
        assert printed + restored.console_output == tour_output(4)
    vm.run(max_insns=50_000_000)               # the saved VM goes on where it was
    assert vm.console_output == tour_output(4)

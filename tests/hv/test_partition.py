"""Type-0 partitions: dedicated harts that run the partition's VCPUs and
nothing else, a reserved contiguous RAM range, refused requests named."""

import pytest

from hv_support import needs_h
from sched_support import SMP_TOUR, SPIN, TICKER, TICKER_OUTPUT
from support.smp_tour import tour_output

pytestmark = needs_h


def host_of(harts=3, ram_size=128 << 20, scheduler="credit"):
    from pyvmm.hv import Host
    return Host(ram_size=ram_size, harts=harts, scheduler=scheduler)


def record_turns(host):
    """Every (hart index, VM, VCPU hart id) the dispatcher runs, in order."""
    from pyvmm.hv.dispatch import Dispatcher
    turns = []
    host.dispatcher = Dispatcher(host, host.scheduler)
    real_turn = host.dispatcher._turn

    def turn(hart, rec, left):
        turns.append((hart.index, rec.vm, rec.vcpu.hartid))
        return real_turn(hart, rec, left)

    host.dispatcher._turn = turn
    return turns


def test_partition_harts_run_only_the_partition_and_it_runs_only_there():
    host = host_of()
    hog = host.create_vm(ram_size=16 << 20, vcpus=3)
    hog.load(SPIN)
    part = host.partition(harts=[1, 2], ram_size=16 << 20, image=SMP_TOUR)
    turns = record_turns(host)
    host.run(max_insns=40_000_000)
    assert part.console_output == tour_output(2) and part.result.status == 0
    assert hog.result.how == "budget"
    assert {(hart, vm, vcpu) for hart, vm, vcpu in turns if vm is part} == {(1, part, 0), (2, part, 1)}
    assert {hart for hart, vm, _ in turns if vm is hog} == {0}
    report = host.sched_report()
    assert report["vms"][part.name]["scheduler"] == "partition"
    assert report["vms"][part.name]["harts"] == [1, 2]
    # the hog's three VCPUs share hart 0; the partition's harts idle once it is done
    assert report["vms"][hog.name]["share_harts"] == pytest.approx(1.0, abs=0.01)
    assert report["hart_time"][1]["partition"] == part.name


def test_partition_ram_is_one_reserved_range_given_back_on_destroy():
    host = host_of()
    free_before = host.frames.free_frames
    part = host.partition(harts=[2], ram_size=8 << 20, image=TICKER)
    base = part.partition.ram_hpa
    pages = (8 << 20) // 4096
    assert [part.gpa_to_hpa(part.ram_base + i * 4096) for i in range(pages)] == \
        [base + i * 4096 for i in range(pages)]
    assert all(host.frames.is_allocated(base + i * 4096) for i in range(pages))
    assert part.shareable is False
    result = part.run()
    assert part.console_output == TICKER_OUTPUT and result.status == 0
    host.destroy_vm(part)
    assert host.frames.free_frames == free_before
    assert host.harts[2].partition is None and host.partitions == []
    again = host.partition(harts=[2], ram_size=8 << 20)      # the hart is free again
    assert again.partition.harts == [host.harts[2]]


@pytest.mark.parametrize("harts,options,message", [
    ([3], {}, r"partition hart 3 does not exist \(the host has harts 0..2\)"),
    ([0], {}, "hart 0 stays the host's"),
    ([1, 1], {}, "name a hart twice"),
    ([], {}, "at least one hart"),
    ([1], {"vcpus": 2}, "partition of 2 VCPUs needs 2 dedicated harts, given 1"),
    ([1], {"ram_size": 1 << 30}, "partition needs 1073741824 bytes of contiguous host RAM"),
    ([1], {"technique": "trap-emulate"}, "a partition runs technique hw with nested paging"),
    ([1], {"ram_size": 12345}, "positive number of 4 KiB pages"),
])
def test_bad_requests_name_the_problem(harts, options, message):
    from pyvmm.hv import HvError
    host = host_of()
    free_before = host.frames.free_frames
    options.setdefault("ram_size", 8 << 20)
    with pytest.raises(HvError, match=message):
        host.partition(harts=harts, **options)
    assert host.frames.free_frames == free_before and host.partitions == []


def test_a_dedicated_hart_cannot_be_dedicated_twice():
    from pyvmm.hv import HvError
    host = host_of()
    first = host.partition(harts=[1], ram_size=8 << 20)
    with pytest.raises(HvError, match=f"partition hart 1 is already dedicated to {first.name}"):
        host.partition(harts=[2, 1], ram_size=8 << 20)
    assert host.harts[2].partition is None


def test_the_balloon_policy_leaves_a_partition_alone():
    from pyvmm.hv.balloon_policy import BalloonPolicy
    from pyvmm.machine.devices import DeviceConfig
    host = host_of(ram_size=96 << 20)
    balloon = DeviceConfig(devices=["virtio-balloon-device"])
    shared = host.create_vm(ram_size=16 << 20, devices=balloon)
    part = host.partition(harts=[1], ram_size=16 << 20, devices=balloon)
    assert part.device_set.balloons()                     # its own device, as asked
    free = host.frames.free_frames
    policy = BalloonPolicy(host, low_frames=free, high_frames=free + 10_000)
    hog = host.frames.alloc(1)
    assert policy.poll() == "inflate"
    assert [vm for vm, _ in policy.balloons()] == [shared]
    assert part.device_set.balloons()[0].num_pages == 0
    assert shared.device_set.balloons()[0].num_pages > 0
    host.frames.free(hog, 1)

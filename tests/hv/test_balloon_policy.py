"""The host's balloon policy: targets from host memory pressure, shared by
VM size, capped, with hysteresis, and every decision counted."""

import os

import pytest

from pyvmm.hv.balloon_policy import BalloonPolicy
from pyvmm.hv.host import Host
from pyvmm.machine.devices import DeviceConfig

MIB = 1 << 20
PAGES_PER_MIB = MIB >> 12


def balloon_vm(host, mib, balloon=True):
    devices = DeviceConfig(devices=["virtio-balloon-device"] if balloon else [])
    return host.create_vm(ram_size=mib * MIB, devices=devices)


@pytest.fixture
def host():
    return Host(ram_size=64 * MIB)


def targets(vms):
    return [vm.device_set.balloons()[0].num_pages for vm in vms]


def test_inflates_in_proportion_to_vm_size_under_pressure(host):
    small, large = balloon_vm(host, 8), balloon_vm(host, 24)
    plain = balloon_vm(host, 4, balloon=False)
    free = host.frames.free_frames
    policy = BalloonPolicy(host, low_frames=free - 1000, high_frames=free - 200)
    assert policy.poll() == "hold"                       # no pressure yet
    hog = host.frames.alloc(1200)                        # free drops 200 below the low mark
    assert policy.poll() == "inflate"
    # 1000 frames missing to the high mark, shared 8:24 between the balloons.
    assert targets([small, large]) == [250, 750]
    assert plain.device_set.balloons() == []
    # Asked and not yet given: no more requests while the guests have not answered.
    assert policy.poll() == "hold"
    assert targets([small, large]) == [250, 750]
    stats = policy.stats()
    assert (stats["polls"], stats["inflate_decisions"], stats["holds"]) == (3, 1, 2)
    assert stats["pages_requested"] == 1000
    assert stats["targets"] == {small.name: 250, large.name: 750}
    host.frames.free(hog, 1200)


def test_no_vm_is_asked_for_more_than_its_share_cap(host):
    vm = balloon_vm(host, 8)
    free = host.frames.free_frames
    policy = BalloonPolicy(host, low_frames=free, high_frames=free + 10_000, max_fraction=0.25)
    host.frames.alloc(1)
    assert policy.poll() == "inflate"
    assert targets([vm]) == [8 * PAGES_PER_MIB // 4]


def test_deflates_when_the_pressure_is_gone_and_holds_in_between(host):
    small, large = balloon_vm(host, 8), balloon_vm(host, 24)
    free = host.frames.free_frames
    policy = BalloonPolicy(host, low_frames=free - 1000, high_frames=free - 200)
    hog = host.frames.alloc(1200)
    policy.poll()
    for vm in (small, large):                            # the drivers gave what was asked
        balloon = vm.device_set.balloons()[0]
        balloon.actual = balloon.num_pages
    host.frames.free(hog, 600)                           # between the marks: hold
    assert policy.poll() == "hold"
    host.frames.free(hog + 600 * 4096, 600)              # free is now 200 above the high mark
    assert policy.poll() == "deflate"
    assert targets([small, large]) == [200, 600]
    policy.high_frames = 0                               # everything is surplus: all the way down
    assert policy.poll() == "deflate"
    assert targets([small, large]) == [0, 0]
    assert policy.poll() == "hold"                       # nothing left to give back
    stats = policy.stats()
    assert (stats["inflate_decisions"], stats["deflate_decisions"]) == (1, 2)
    assert stats["pages_returned"] == 1000


def test_the_split_is_exact_and_repeatable(host):
    vms = [balloon_vm(host, 4), balloon_vm(host, 4), balloon_vm(host, 8)]
    policy = BalloonPolicy(host, 0, 0)
    shares = policy.share(7, policy.balloons())
    assert sum(shares.values()) == 7
    assert [shares[vm] for vm in vms] == [2, 2, 3]     # floors 1, 1, 3; the remainders 12, 12, 8
    assert policy.share(7, policy.balloons()) == shares


def test_a_stopped_vm_is_left_alone(host):
    vm = balloon_vm(host, 8)
    vm.request_stop("destroyed", 0)
    policy = BalloonPolicy(host, low_frames=host.frames.free_frames + 1, high_frames=10**6)
    assert policy.poll() == "hold" and policy.balloons() == []


@pytest.mark.parametrize("low,high,fraction", [(10, 5, 0.5), (-1, 5, 0.5), (1, 5, 0.0), (1, 5, 1.5)])
def test_bad_settings_are_refused(host, low, high, fraction):
    with pytest.raises(ValueError):
        BalloonPolicy(host, low, high, fraction)


def test_a_vm_balloon_drops_the_host_frame_behind_an_inflated_page(host):
    vm = balloon_vm(host, 8)
    balloon = vm.device_set.balloons()[0]
    gpa = vm.ram_base + 5 * 4096
    vm.guest_memory.write(gpa, b"\xee" * 4096)
    hpa = vm.gpa_to_hpa(gpa)
    ram = memoryview(host.core.ram_buffer)
    assert ram[hpa - host.ram_base:hpa - host.ram_base + 4096].tobytes() == b"\xee" * 4096
    balloon.discard(gpa)
    assert ram[hpa - host.ram_base:hpa - host.ram_base + 4096].tobytes() == bytes(4096)
    assert vm.guest_memory.read(gpa, 4096) == bytes(4096)


# ------------------------------------------------------------------ a guest driver under the policy

GUEST = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "guests", "devices", "balloon_smode.S")


class LedgerPolicy(BalloonPolicy):
    """Counts the pages the VMs hold in their balloons as free host frames:
    a host whose VMs hand ballooned frames back."""

    def __init__(self, host, *args, **kwargs):
        super().__init__(host, *args, **kwargs)
        self.given = set()

    def free_frames(self):
        return super().free_frames() + len(self.given)

    def hooks(self, vm):
        def discard(gpa):
            vm.guest_memory.discard(gpa, 4096)
            self.given.add(gpa)

        def reuse(gpa):
            self.given.discard(gpa)
        vm.device_set.set_balloon_hooks(discard, reuse)


def test_the_guest_driver_follows_the_policy_in_a_vm():
    host = Host(ram_size=96 * MIB)
    vm = balloon_vm(host, 64)
    vm.load(GUEST)
    free = host.frames.free_frames
    policy = LedgerPolicy(host, low_frames=free - 500, high_frames=free - 100)
    policy.hooks(vm)
    policy.run(max_insns=2_000_000, poll_insns=1 << 18)
    assert vm.console_output.endswith(b"ready: target 0\n")
    hog = host.frames.alloc(600)                         # pressure: 100 frames below the low mark
    policy.run(max_insns=8_000_000, poll_insns=1 << 18)
    assert vm.console_output.endswith(b"target 500: inflated 500 pages, actual 500\n")
    assert len(policy.given) == 500 and policy.last_decision == "hold"
    host.frames.free(hog, 600)                           # the pressure is gone
    results = policy.run(max_insns=20_000_000, poll_insns=1 << 18)
    assert results[vm].how == "sbi-shutdown"
    assert vm.console_output.endswith(b"target 0: deflated 500 pages, actual 0, read back zero: 500\n"
                                      b"virtio-balloon: done\n")
    assert policy.given == set()
    stats = policy.stats()
    assert (stats["inflate_decisions"], stats["deflate_decisions"]) == (1, 1)
    assert (stats["pages_requested"], stats["pages_returned"]) == (500, 500)

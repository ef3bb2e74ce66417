"""The scheduling policies: Xen's credit scheduler gives CPU-bound VMs hart
time by weight and cap (within 5 % of their entitlement over a run),
boosts VCPUs that wake, and parks capped VMs; round robin splits time per
VCPU whatever the weights; policies plug in by name."""

import pytest

from hv_support import needs_h
from sched_support import SPIN, TICKER, TICKER_OUTPUT, make_host, within

pytestmark = needs_h


def shares(host, vms):
    report = host.sched_report()["vms"]
    return [(report[vm.name]["share_harts"], report[vm.name]["entitled_harts"]) for vm in vms]


def test_weights_one_to_two_on_one_hart():
    host, vms = make_host(1, "credit", [(SPIN, 1, 256, None), (SPIN, 1, 512, None)])
    host.run(max_insns=150_000_000)
    (low, low_entitled), (high, high_entitled) = shares(host, vms)
    assert low_entitled == pytest.approx(1 / 3, abs=1e-3)
    assert high_entitled == pytest.approx(2 / 3, abs=1e-3)
    assert within(low, low_entitled) and within(high, high_entitled)
    assert all(vm.result.how == "budget" for vm in vms)


def test_weights_one_to_two_with_smp_vms_on_two_harts():
    host, vms = make_host(2, "credit", [(SPIN, 2, 256, None), (SPIN, 2, 512, None)])
    host.run(max_insns=200_000_000)
    (low, low_entitled), (high, high_entitled) = shares(host, vms)
    assert low_entitled == pytest.approx(2 / 3, abs=1e-3)
    assert high_entitled == pytest.approx(4 / 3, abs=1e-3)
    assert within(low, low_entitled) and within(high, high_entitled)
    assert host.sched_report()["policy"]["steals"] > 0       # idle harts took VCPUs


def test_cap_holds_a_vm_below_its_share_and_the_others_get_the_rest():
    host, vms = make_host(2, "credit", [(SPIN, 1, 256, 30), (SPIN, 2, 256, None)])
    host.run(max_insns=150_000_000)
    (capped, capped_entitled), (other, other_entitled) = shares(host, vms)
    assert capped_entitled == pytest.approx(0.3) and other_entitled == pytest.approx(1.7)
    assert within(capped, capped_entitled) and within(other, other_entitled)
    policy = host.sched_report()["policy"]
    assert policy["parks"] > 0
    # work conserving for the uncapped, but the capped VM does not use idle time
    alone, (solo,) = make_host(2, "credit", [(SPIN, 1, 256, 30)])
    alone.run(max_insns=90_000_000)          # 3 s modeled: a capped VM runs in 30 ms slices
    share, entitled = shares(alone, [solo])[0]
    assert within(share, 0.3) and entitled == pytest.approx(0.3)


def test_round_robin_ignores_weights():
    host, vms = make_host(1, "round-robin", [(SPIN, 1, 256, None), (SPIN, 1, 512, None)])
    host.run(max_insns=60_000_000)
    for share, entitled in shares(host, vms):
        assert entitled == pytest.approx(0.5) and within(share, 0.5)


def _latency(scheduler):
    host, (hog, ticker) = make_host(1, scheduler, [(SPIN, 1, None, None), (TICKER, 1, None, None)])
    host.run(max_insns=120_000_000)     # 1.2 s of modeled time: every wake-up, even under round robin
    assert ticker.console_output == TICKER_OUTPUT and ticker.result.status == 0
    return host.sched_report()["vms"][ticker.name]["latency"]


def test_a_waking_vcpu_waits_less_under_credit_than_under_round_robin():
    round_robin, credit = _latency("round-robin"), _latency("credit")
    assert round_robin["count"] == credit["count"] == 100
    assert credit["mean_us"] < round_robin["mean_us"] / 10
    assert credit["p99_us"] < round_robin["p99_us"] / 10
    # round robin: behind the hog's slice (about 10 ms); credit: the next turn (0.2 ms)
    assert round_robin["p99_us"] > 5000 and credit["p99_us"] <= 200


def test_boost_preempts_the_hog():
    host, (hog, ticker) = make_host(1, "credit", [(SPIN, 1, None, None), (TICKER, 1, None, None)])
    host.run(max_insns=60_000_000)
    report = host.sched_report()
    assert report["policy"]["preemptions"] >= 90
    assert report["vms"][ticker.name]["vcpus"][0]["boosts"] >= 1


def test_bad_credit_parameters():
    from pyvmm.hv import HvError
    from pyvmm.hv.sched_credit import CreditScheduler
    with pytest.raises(HvError, match="tslice_ms must be a positive integer"):
        CreditScheduler(tslice_ms=0)
    host, (vm,) = make_host(1, "credit", [(SPIN, 2, None, None)])
    with pytest.raises(HvError, match="weight must be 1..65535"):
        host.set_sched_params(vm, weight=70000)
    with pytest.raises(HvError, match=r"cap must be 0..200"):
        host.set_sched_params(vm, cap=201)
    assert host.set_sched_params(vm, cap=200) == {"weight": 256, "cap": 200}


def test_a_policy_given_as_an_object_and_one_registered_by_name():
    from pyvmm.hv import Host, SCHEDULERS, register_scheduler
    from pyvmm.hv.sched_credit import CreditScheduler
    from pyvmm.hv.sched_policy import SchedulerPolicy

    class LowestFirst(SchedulerPolicy):
        """Always the first VM's VCPU when it can run: a policy of four lines."""
        name = "lowest-first"

        def pick(self, hart, candidates, now):
            return (candidates[0], 1_000_000) if candidates else None

    policy = CreditScheduler(tslice_ms=10)
    assert Host(ram_size=16 << 20, scheduler=policy).scheduler is policy
    register_scheduler("lowest-first", LowestFirst)
    try:
        host, (first, second) = make_host(1, "lowest-first", [(SPIN, 1, None, None),
                                                              (TICKER, 1, None, None)])
        host.run(max_insns=5_000_000)
        report = host.sched_report()["vms"]
        assert report[first.name]["insns"] == 5_000_000 and report[second.name]["insns"] == 0
    finally:
        del SCHEDULERS["lowest-first"]


def test_max_min_share():
    from pyvmm.hv.sched_policy import max_min_share
    assert max_min_share({"a": 1, "b": 2}, {"a": 5, "b": 5}, 3) == pytest.approx({"a": 1, "b": 2})
    # a limited one's leftover goes to the others in proportion
    assert max_min_share({"a": 1, "b": 1, "c": 2}, {"a": 0.2, "b": 9, "c": 9}, 2) == \
        pytest.approx({"a": 0.2, "b": 0.6, "c": 1.2})
    assert max_min_share({"a": 1}, {"a": 0.5}, 2) == {"a": 0.5}

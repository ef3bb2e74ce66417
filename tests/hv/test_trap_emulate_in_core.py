"""Trap-and-emulate with the guest kernel's mechanical CSR accesses completed
inside the core (Core.run_vcsr): the guest, the counters and the slices are
exactly what completing every exit in Python gives."""

import pytest
from hv_support import KERNEL

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.trap_emulate import TrapEmulatePolicy, TrapEmulateVCPU  # noqa: E402

RAM = 64 << 20


def boot(bootargs, max_insns=None):
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="trap-emulate", paging="shadow", bootargs=bootargs)
    vm.load(KERNEL)
    result = vm.run(max_insns)
    stats = vm.stats()
    for timing in ("host_seconds", "mips", "run_seconds", "exits_per_second"):
        stats.pop(timing, None)
    stats["core"] = host.core.stats()
    vcpu = vm.vcpus[0]
    figures = {"instret": vcpu.instret, "emulated": vcpu.emulated_insns, "runs": vcpu.runs,
               "time": host.core.mtime, "pc": vcpu.pc}
    return (result.status, result.how), vm.console_output, stats, figures


def python_only(monkeypatch):
    """Every exit completed by the policy in Python: the reference."""
    monkeypatch.setattr(TrapEmulateVCPU, "_enter_completing_csrs",
                        lambda self, budget: self.enter(budget))


def count_completions(monkeypatch):
    completed = []
    original = TrapEmulatePolicy.count_in_core

    def count(self, vcpu, n, words):
        completed.append(n)
        original(self, vcpu, n, words)
    monkeypatch.setattr(TrapEmulatePolicy, "count_in_core", count)
    return completed


@pytest.mark.parametrize("bootargs, max_insns", [
    ("", None),                                   # the demo: syscalls, faults, timer, intruder
    ("mode=syscall iterations=200", None),
    ("mode=trap iterations=200", None),
    ("mode=ctxsw iterations=50", None),
    ("mode=csrwr iterations=200", None),
    ("", 300_000),                                # a budget ending mid-run
])
def test_same_guest_counters_and_slices_as_python(bootargs, max_insns, monkeypatch):
    completed = count_completions(monkeypatch)
    in_core = boot(bootargs, max_insns)
    assert sum(completed) > 0                     # the core did complete accesses itself
    with monkeypatch.context() as m:
        python_only(m)
        reference = boot(bootargs, max_insns)
    # the one figure that tells the two apart: how many exits never left the core
    assert in_core[2]["trap_emulate"].pop("completed_in_core") == sum(completed)
    assert reference[2]["trap_emulate"].pop("completed_in_core") == 0
    assert in_core[0] == reference[0]
    assert in_core[1] == reference[1]
    assert in_core[2] == reference[2]
    assert in_core[3] == reference[3]


def test_counted_as_the_exits_they_replace(monkeypatch):
    completed = count_completions(monkeypatch)
    _, _, stats, _ = boot("mode=syscall iterations=100")
    te = stats["trap_emulate"]
    assert sum(completed) < te["exits"]["privileged"]
    # Every trap exit the core counted is one the monitor counted.
    exits = stats["exits"]
    assert stats["core"]["exits"]["trap"] == exits["trap"] + exits["sbi"] + exits.get("interrupt", 0)
    assert te["csr_accesses"]["csrrw sscratch"] > 0


def test_a_manual_run_loop_completes_every_exit_in_python():
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="trap-emulate", paging="shadow",
                        bootargs="mode=syscall iterations=20")
    vm.load(KERNEL)
    vm.boot()
    vcpu = vm.vcpus[0]
    kinds = []
    while not vm.stopped and len(kinds) < 5000:
        exit = vcpu.run(100_000)
        vm.handle(vcpu, exit)
        kinds.append(exit.kind)
    assert vcpu.quiet_units == 0 and not vcpu.complete_in_core
    assert kinds.count("trap") == vm.stats()["exits"]["trap"]


def test_a_traced_vm_sees_every_exit():
    import io
    from pyvmm.hv.trace_exits import ExitTracer
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="trap-emulate", paging="shadow",
                        bootargs="mode=csrwr iterations=50")
    vm.load(KERNEL)
    out = io.StringIO()
    vm.tracer = ExitTracer(["exit"], out)
    vm.run()
    traced = out.getvalue().splitlines()
    assert sum(" trap " in line for line in traced) == vm.stats()["exits"]["trap"]
    assert vm.vcpus[0].quiet_units == 0

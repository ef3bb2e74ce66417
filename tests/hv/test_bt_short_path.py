"""The bt VCPU's short path: under a scheduler that counts them, BTVCPU.run
completes the cheap exits itself (ptstore, csr and sret callouts, guest
page faults) and enters the core again, rather than returning each to the
scheduler. Everything observable is what the long way gives: the guest's
output and state, the exits, callouts and emulated instructions counted,
the core's runs, the slices and where they end, time."""

import json

import pytest
from hv_support import KERNEL
from test_bt_adaptive import PTE_LOOP_KERNEL, SV39_SETUP

pytest.importorskip("pyvmm._core")

from pyvmm.cli import main  # noqa: E402
from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.bt.runtime import PTSTORE_TRAPS, BTVCPU  # noqa: E402
from pyvmm.hv.scheduler import RoundRobin  # noqa: E402

RAM = 64 << 20
# Host time: the only figures allowed to differ.
TIMING = {"host_seconds", "run_seconds", "exits_per_second", "mips"}


# Sv39: 0x8000_0000.. identity-mapped by one gigapage; 0xC000_0000 through
# l1/l0 onto the UART's page. Each round rewrites that PTE (a software bit
# toggled: the shadow entry goes), prints a letter through SBI right after
# the store (a ptstore callout once adapted, then an ecall that retires
# nothing before its exit), fences, and stores a letter to the UART: a page
# fault the pager fills with the device's window, then the store's MMIO exit.
UART_REMAP_KERNEL = """        .text
        .globl _start
_start: la      s0, root
""" + SV39_SETUP + """        li      s2, 0x040000C7          # the UART's page, V R W A D
        li      s3, 0x040001C7          # the same, a software bit set
        li      s4, 0xC0000000
        li      s5, 40
loop:   andi    a0, s5, 15
        addi    a0, a0, 'a'
        li      a7, 1
        sd      s2, 0(s1)
        ecall                           # SBI putchar, right after the store
        sfence.vma s4, zero
        andi    t0, s5, 15
        addi    t0, t0, 'A'
        sb      t0, 0(s4)
        mv      t0, s2
        mv      s2, s3
        mv      s3, t0
        addi    s5, s5, -1
        bnez    s5, loop
        li      t0, '\\n'
        sb      t0, 0(s4)
        li      a7, 8
        ecall
        .data
        .balign 4096
root:   .zero   4096
l1:     .zero   4096
l0:     .zero   4096
"""
UART_REMAP_OUTPUT = b"".join(bytes((ord("a") + (n & 15), ord("A") + (n & 15))) for n in range(40, 0, -1)) \
    + b"\n"


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    return value


class ReturnCount:
    """BTVCPU.run, counting the exits it returns to its caller."""

    def __init__(self, monkeypatch):
        self.returned = 0
        run = BTVCPU.run

        def counting_run(vcpu, budget):
            self.returned += 1
            return run(vcpu, budget)
        monkeypatch.setattr(BTVCPU, "run", counting_run)


def observed(vm, scheduler=None):
    """Everything a user or the guest can tell about a finished run."""
    vcpu = vm.vcpus[0]
    core = vm.host.core
    ram = core.read_mem(vm.gpa_to_hpa(vm.ram_base), 4 << 20)
    return {"result": (vm.result.status, vm.result.how), "console": vm.console_output,
            "stats": without_timing(vm.stats()), "x": [vcpu.get_x(i) for i in range(32)],
            "pc": vcpu.pc, "priv": vcpu.state.priv, "csrs": vcpu.export_runtime_state(),
            "instret": vcpu.instret, "emulated": vcpu.emulated_insns, "runs": vcpu.runs,
            "mtime": core.mtime, "clock": core.clock_insns, "ram": ram,
            "slices": scheduler.slices if scheduler is not None else None}


def run_guest(monkeypatch, image, short, bootargs="", max_insns=None, slice_insns=None):
    monkeypatch.setattr(BTVCPU, "short_path", short)
    count = ReturnCount(monkeypatch)
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="bt", paging="shadow", bootargs=bootargs)
    vm.load(image)
    scheduler = RoundRobin(host, vms=[vm], slice_insns=slice_insns)
    scheduler.run(max_insns)
    monkeypatch.undo()
    return observed(vm, scheduler), count.returned


@pytest.mark.parametrize("bootargs", ["mode=ptemod iterations=300", "mode=forkwait iterations=8"])
def test_page_table_stores_take_the_short_path_and_change_nothing(monkeypatch, bootargs):
    short, short_returns = run_guest(monkeypatch, KERNEL, True, bootargs)
    long, long_returns = run_guest(monkeypatch, KERNEL, False, bootargs)
    assert short["result"] == (0, "sbi-shutdown")
    assert short == long
    stats = short["stats"]
    callouts = stats["bt"]["callouts"]
    assert callouts["ptstore"] > 50
    # The long way returns every exit; the short one none of the callouts
    # and page faults it completes.
    assert long_returns == short["runs"]
    completed = callouts["ptstore"] + callouts.get("csr", 0) + callouts.get("sret", 0)
    assert short_returns <= long_returns - completed


@pytest.mark.parametrize("bootargs", ["mode=pgfault iterations=30", "mode=demo iterations=30"])
def test_data_faults_of_translated_code_take_the_short_path_alike(monkeypatch, bootargs):
    """Load and store page faults of translated kernel code are completed
    without an exit object when the pager hides them: the same counts, the
    same reflected faults, the same guest."""
    short, short_returns = run_guest(monkeypatch, KERNEL, True, bootargs)
    long, long_returns = run_guest(monkeypatch, KERNEL, False, bootargs)
    assert short["result"] == (0, "sbi-shutdown")
    assert short == long
    exits = short["stats"]["trap_emulate"]["exits"]
    assert exits["page_fault_hidden"] > 0
    assert short_returns < long_returns


def test_forkwait_takes_its_timer_interrupts_where_the_long_way_does(monkeypatch):
    short, _ = run_guest(monkeypatch, KERNEL, True, "mode=forkwait iterations=8")
    long, _ = run_guest(monkeypatch, KERNEL, False, "mode=forkwait iterations=8")
    reflected = short["stats"]["trap_emulate"]["reflected"]
    assert reflected.get("interrupt 5", 0) > 0 and short["stats"]["bt"]["callouts"]["sret"] > 0
    assert reflected == long["stats"]["trap_emulate"]["reflected"]
    assert short["stats"]["bt"]["interrupt_steps"] == long["stats"]["bt"]["interrupt_steps"]


@pytest.mark.parametrize("slice_insns", [2, 5, 97, 1001])
def test_slices_end_where_they_end_the_long_way(monkeypatch, slice_insns):
    """Tiny slices: a budget that runs out between two completed exits, or
    right after one, ends the slice at the same unit either way (a unit is
    an instruction retired or an exit that retired none)."""
    bootargs = "mode=forkwait iterations=2"
    short, _ = run_guest(monkeypatch, KERNEL, True, bootargs, max_insns=150_000,
                         slice_insns=slice_insns)
    long, _ = run_guest(monkeypatch, KERNEL, False, bootargs, max_insns=150_000,
                        slice_insns=slice_insns)
    assert short["result"] == (124, "budget")
    assert short == long


def test_page_table_store_faults_and_fallbacks_take_the_short_path_alike(monkeypatch, tmp_path):
    """ptstore callouts that reflect the guest's own fault, fall back to an
    ordinary store (MMIO) or are copied again, as test_bt_adaptive checks
    them on the long way."""
    source = tmp_path / "pteloop.S"
    source.write_text(PTE_LOOP_KERNEL)
    short, short_returns = run_guest(monkeypatch, str(source), True)
    long, long_returns = run_guest(monkeypatch, str(source), False)
    bt = short["stats"]["bt"]
    assert bt["ptstore_fallbacks"] == 1 and bt["ptstore_reverts"] == 1
    assert short["stats"]["trap_emulate"]["reflected"] == {"15": 1}
    assert short == long
    assert short_returns < long_returns


def test_off_outside_a_counting_scheduler(monkeypatch):
    """A caller that handles every exit itself (KVM_RUN by hand) gets each one."""
    count = ReturnCount(monkeypatch)
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="bt", paging="shadow",
                        bootargs="mode=ptemod iterations=100")
    vm.load(KERNEL)
    vm.boot()
    vm.resume()
    vcpu = vm.vcpus[0]
    kinds = []
    while not vm.stopped:
        exit = vcpu.run(100_000)
        kinds.append(exit.kind)
        vm.handle(vcpu, exit)
    assert count.returned == vcpu.runs == len(kinds)
    assert vm.stats()["bt"]["callouts"]["ptstore"] >= 97


def cli_stats(monkeypatch, capsys, tmp_path, short):
    monkeypatch.setattr(BTVCPU, "short_path", short)
    stats_file = tmp_path / f"stats-{short}.json"
    status = main(["run", "--technique", "bt", "--paging", "shadow", "--bootargs",
                   "mode=forkwait iterations=4", "--max-insns", "400000", "--stats",
                   "--stats-file", str(stats_file), KERNEL])
    out, err = capsys.readouterr()
    monkeypatch.undo()
    shown = [line for line in err.splitlines() if not any(name in line for name in TIMING)]
    return status, out, shown, without_timing(json.loads(stats_file.read_text()))


def test_the_cli_stats_are_the_same(monkeypatch, capsys, tmp_path):
    short = cli_stats(monkeypatch, capsys, tmp_path, True)
    long = cli_stats(monkeypatch, capsys, tmp_path, False)
    assert short[0] == 0 and short[3]["bt"]["callouts"]["ptstore"] > 0
    assert short == long


@pytest.mark.parametrize("slice_insns", [3, 4, 7, 11])
def test_an_exit_after_completed_ones_that_retired_nothing_uses_its_unit(monkeypatch, tmp_path,
                                                                          slice_insns):
    """The SBI call's exit comes right after the ptstore callout completed
    on the short path, from an entry that retired nothing: the slice counts
    it as the unit it is on the long way (slices this short end around it)."""
    source = tmp_path / "uart_remap.S"
    source.write_text(UART_REMAP_KERNEL)
    short, short_returns = run_guest(monkeypatch, str(source), True, slice_insns=slice_insns)
    long, long_returns = run_guest(monkeypatch, str(source), False, slice_insns=slice_insns)
    assert short["console"] == UART_REMAP_OUTPUT and short["result"] == (0, "sbi-shutdown")
    assert short["stats"]["trap_emulate"]["exits"]["page_fault_mmio"] >= 40
    assert short["stats"]["bt"]["callouts"]["ptstore"] >= 40 - 1 - PTSTORE_TRAPS
    assert short == long
    assert short_returns < long_returns

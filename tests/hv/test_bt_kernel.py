"""Guests under binary translation (technique "bt"): guests/kernel prints
byte-for-byte what it prints on the board (--bios builtin) in every mode,
classic_probe sees no virtualization (also under the classic CPU profile,
where trap-and-emulate is caught), self-modifying kernel code is seen, and
the kernel's sensitive instructions never trap: they are callouts or inline."""

import json
import subprocess
import sys

import pytest
from hv_support import KERNEL, ROOT, assert_chains_consistent, native_run

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host, available_techniques  # noqa: E402

MODES = ["demo", "syscall", "mmio", "csrwr", "callret", "pgfault", "trap", "ptemod", "ctxsw",
         "compute", "forkwait", "console"]
SMALL_N = {"compute": 1, "forkwait": 5, "console": 5}
RAM = 128 << 20
PROBE = f"{ROOT}/guests/virt/classic_probe.S"
PROBE_CLEAN = [
    "classic-probe: can this kernel tell it is virtualized?",
    "  sstatus.SIE written then read back: ok",
    "  satp with paging off reads 0: ok",
    "  timer interrupt held while sstatus.SIE = 0, taken once set: ok",
    "classic-probe: no virtualization visible",
]

# An S-mode kernel that rewrites one of its own instructions after running it.
SMC_KERNEL = """
        .text
        .globl _start
_start: call    f
        mv      s0, a0
        la      t0, f
        li      t1, 0x00200513          # addi a0, zero, 2
        sw      t1, 0(t0)
        fence.i
        call    f
        mv      s1, a0
        addi    a0, s0, '0'
        li      a7, 1
        ecall
        addi    a0, s1, '0'
        li      a7, 1
        ecall
        li      a0, '\\n'
        li      a7, 1
        ecall
        li      a7, 8
        ecall
        .balign 4
f:      .word   0x00100513              # addi a0, zero, 1
        .word   0x00008067              # ret
"""

# An S-mode kernel taking timer interrupts (sstatus.SIE = 1) in a loop of
# inline-rewritten CSR accesses: each must arrive with sepc at one of the
# loop's guest instructions. Prints how many of 5 did.
IRQ_KERNEL = """        .text
        .globl _start
_start: la      t0, handler
        csrw    stvec, t0
        li      t0, 1 << 5
        csrs    sie, t0
        li      s2, 0                   # timer interrupts taken
        li      s3, 0                   # of which with sepc inside the loop
        li      s4, 5                   # how many to take
arm:    rdtime  a0
        addi    a0, a0, 777
        li      a7, 0                   # legacy set_timer
        ecall
        csrsi   sstatus, 2
loop:   csrrw   t1, sscratch, t0        # rewritten inline: interrupts land mid-rewrite
l1:     addi    t0, t0, 1
l2:     csrrs   t2, sepc, t0
l3:     blt     s2, s4, loop
loop_end:
        csrci   sstatus, 2
        addi    a0, s3, '0'
        li      a7, 1
        ecall
        li      a0, '\\n'
        li      a7, 1
        ecall
        li      a7, 8
        ecall
        .balign 4
handler:
        csrr    t3, sepc                # must be one of the loop's instructions
        la      t4, loop
        beq     t3, t4, 3f
        la      t4, l1
        beq     t3, t4, 3f
        la      t4, l2
        beq     t3, t4, 3f
        la      t4, l3
        bne     t3, t4, 1f
3:      addi    s3, s3, 1
1:      addi    s2, s2, 1
        bge     s2, s4, 2f
        rdtime  a0
        addi    a0, a0, 777
        li      a7, 0
        ecall
        sret
2:      li      a0, -1
        li      a7, 0
        ecall
        sret
"""

# The kernel's own exceptions from callouts: ebreak, c.ebreak, an illegal
# mret; the handler folds scause, stval = 0 or not, and sepc-relative
# stepping into one printed letter ('s' natively).
EXCEPTIONS_KERNEL = """        .text
        .globl _start
_start: la      t0, handler
        csrw    stvec, t0
        li      s2, 0
        ebreak
        c.ebreak
        .word   0x30200073              # mret: illegal in S
        addi    a0, s2, 'a'
        li      a7, 1
        ecall
        li      a7, 8
        ecall
        .balign 4
handler:
        csrr    t0, scause
        csrr    t1, stval
        csrr    t2, sepc
        add     s2, s2, t0              # causes 3 + 3 + 2
        la      t3, 1f
        beqz    t1, 2f
        addi    s2, s2, 10              # only mret's stval (its bits) is non-zero
2:      li      t3, 2
        lhu     t4, 0(t2)
        andi    t4, t4, 3
        li      t5, 3
        bne     t4, t5, 3f
        li      t3, 4
3:      add     t2, t2, t3
        csrw    sepc, t2
        sret
1:
"""


def bootargs(mode):
    return f"mode={mode} iterations={SMALL_N.get(mode, 30)}"


def bt_run(image, bootargs="", max_insns=None, ram_size=RAM, profile=None):
    host = Host(ram_size=ram_size + (32 << 20))
    if profile is not None:
        if not hasattr(host.core, "cpu_profile"):
            pytest.skip("this build of pyvmm._core has no cpu_profile (the classic profile)")
        host.core.cpu_profile = profile
    vm = host.create_vm(ram_size=ram_size, technique="bt", paging="shadow", bootargs=bootargs)
    vm.load(image)
    result = vm.run(max_insns)
    return result, vm


def test_bt_is_a_registered_technique():
    assert "bt" in available_techniques()


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_matches_the_board(mode):
    status, how, output = native_run(KERNEL, bootargs(mode), ram_size=RAM)
    result, vm = bt_run(KERNEL, bootargs(mode))
    assert vm.error is None
    assert vm.console_output == output
    assert (result.status, result.how) == (status, how) == (0, "sbi-shutdown")
    assert f"bench {mode}".encode() in output or mode == "demo"
    bt = vm.stats()["bt"]
    assert bt["blocks_translated"] > 0 and bt["callouts"]["ecall"] > 0
    assert_chains_consistent(vm.vcpus[0].tc)


def test_a_kernel_panic_matches_the_board():
    status, how, output = native_run(KERNEL, "mode=nonsense", ram_size=RAM)
    result, vm = bt_run(KERNEL, "mode=nonsense")
    assert (vm.console_output, result.status) == (output, status) == (output, 1)


def test_demo_figures_no_sensitive_instruction_traps():
    result, vm = bt_run(KERNEL)
    stats = vm.stats()
    bt, te = stats["bt"], stats["trap_emulate"]
    assert result.status == 0 and stats["technique"] == "bt"
    # Nothing the kernel executes traps as an illegal instruction: every
    # privileged operation went through a callout or the state page.
    assert "privileged" not in te["exits"] and not te["csr_accesses"].keys() - {
        "csrrs sip", "csrrw sstatus", "csrrs sstatus", "csrrc sstatus", "csrrw sie", "csrrs sie",
        "csrrc sie", "csrrw satp", "csrrw stvec", "csrrsi sstatus", "csrrci sstatus"}
    # The timer arming's rdtime runs in translated code: the hart lets it read time.
    assert "csrrs time" not in te["csr_accesses"]
    for kind in ("sret", "sfence", "wfi", "ecall", "jalr", "exit", "csr"):
        assert bt["callouts"][kind] > 0, kind
    # Inline CSR accesses: the kernel's trap entry/exit CSR traffic (sscratch,
    # sepc, scause, stval) costs no callout, so there are fewer csr callouts
    # than sret + traps would need.
    assert bt["callouts"]["csr"] < bt["callouts"]["sret"]
    assert bt["chained"] > 0 and bt["tc_bytes_used"] > 0 and bt["lookups"] >= bt["lookup_misses"]
    # The TC and state pages never fault: the VCPU's runtime tables hold their
    # leaves (a TC page's as its first block is written) and every kernel
    # tree links them, after sfence.vma and address-space switches too.
    assert "tc_map" not in te["exits"] and "state_map" not in te["exits"]
    assert "interrupt 5" in te["reflected"]            # timer preemption reached the guest
    assert "flushes" not in bt                         # 1 MiB is plenty for this kernel


def test_budget_runs_out_like_the_board():
    status, how, output = native_run(KERNEL, max_insns=200_000, ram_size=RAM)
    result, vm = bt_run(KERNEL, max_insns=200_000)
    assert (result.status, result.how) == (status, how) == (124, "budget")
    assert output.startswith(vm.console_output[:40])


def test_self_modifying_kernel_code_is_retranslated(tmp_path):
    source = tmp_path / "smc.S"
    source.write_text(SMC_KERNEL)
    status, how, output = native_run(str(source), ram_size=16 << 20)
    assert output == b"12\n"
    result, vm = bt_run(str(source), ram_size=16 << 20, max_insns=1_000_000)
    assert vm.console_output == output and result.status == status == 0
    bt = vm.stats()["bt"]
    assert bt["invalidations"] >= 1 and vm.stats()["trap_emulate"]["exits"]["code_page_writes"] == 1


def test_classic_probe_sees_nothing_under_the_standard_profile():
    result, vm = bt_run(PROBE, ram_size=16 << 20, max_insns=20_000_000)
    assert result.status == 0
    assert vm.console_output.decode().splitlines() == PROBE_CLEAN
    assert vm.stats()["trap_emulate"]["reflected"]["interrupt 5"] == 1


def test_classic_probe_sees_nothing_under_the_classic_profile():
    # Under `classic`, real U-mode reads of sstatus/satp do not trap and
    # writes of sstatus are dropped: trap-and-emulate is caught
    # (test_trap_emulate_kernel.py). BT never lets the kernel execute them:
    # reads come from the state page, writes are callouts.
    result, vm = bt_run(PROBE, ram_size=16 << 20, max_insns=20_000_000, profile=1)
    assert result.status == 0
    assert vm.console_output.decode().splitlines() == PROBE_CLEAN


def run_cli(*argv):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *argv], cwd=ROOT,
                          capture_output=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def test_cli_run_matches_the_board_and_reports_bt_figures():
    native = run_cli("--bios", "builtin", KERNEL)
    status, out, err = run_cli("--technique", "bt", "--stats", KERNEL)
    assert (status, out) == (native[0], native[1]) == (0, native[1])
    stats = json.loads(err)
    assert stats["technique"] == "bt" and stats["paging"] == "shadow"
    assert stats["bt"]["blocks_translated"] > 0


def test_cli_nested_paging_is_one_usage_line():
    status, out, err = run_cli("--technique", "bt", "--paging", "nested", KERNEL)
    assert status == 2 and err.count(b"\n") == 1 and b"shadow paging only" in err


def test_interrupts_in_rewritten_code_arrive_at_guest_instruction_boundaries(tmp_path):
    source = tmp_path / "irq.S"
    source.write_text(IRQ_KERNEL)
    status, how, output = native_run(str(source), ram_size=16 << 20)
    assert output == b"5\n"
    result, vm = bt_run(str(source), ram_size=16 << 20, max_insns=5_000_000)
    assert vm.console_output == output and result.status == status == 0
    stats = vm.stats()
    assert stats["trap_emulate"]["reflected"]["interrupt 5"] == 5
    assert stats["bt"]["interrupt_steps"] > 0        # some arrived mid-rewrite and were stepped


def test_bt_vms_share_a_hart_with_trap_emulate():
    host = Host(ram_size=300 << 20)
    vms = []
    for technique, mode in (("bt", "demo"), ("bt", "syscall"), ("trap-emulate", "callret")):
        vm = host.create_vm(ram_size=96 << 20, technique=technique, paging="shadow",
                            bootargs=f"mode={mode} iterations=50")
        vm.load(KERNEL)
        vms.append(vm)
    host.run(slice_insns=20_000)
    for vm, mode in zip(vms, ("demo", "syscall", "callret")):
        status, how, output = native_run(KERNEL, f"mode={mode} iterations=50", ram_size=96 << 20)
        assert (vm.console_output, vm.result.status, vm.error) == (output, status, None)
    assert host.vcpu_switches > 3


def test_a_small_translation_cache_flushes_and_the_output_holds():
    from pyvmm.hv.bt.cache import TranslationCache
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="bt", paging="shadow")
    vm.vcpus[0].tc = TranslationCache(host.core, host.frames, vm.vcpus[0].tc.table, size=16 << 10)
    vm.load(KERNEL)
    result = vm.run()
    status, how, output = native_run(KERNEL, ram_size=RAM)
    assert (vm.console_output, result.status) == (output, status)
    bt = vm.stats()["bt"]
    assert bt["flushes"] >= 1 and bt["tc_bytes_used"] <= 16 << 10
    assert_chains_consistent(vm.vcpus[0].tc)


def test_kernel_exceptions_from_callouts_match_the_board(tmp_path):
    source = tmp_path / "brk.S"
    source.write_text(EXCEPTIONS_KERNEL)
    status, how, output = native_run(str(source), ram_size=16 << 20)
    assert output == b"s"
    result, vm = bt_run(str(source), ram_size=16 << 20, max_insns=1_000_000)
    assert (vm.console_output, result.status) == (output, status)
    callouts = vm.stats()["bt"]["callouts"]
    assert callouts["ebreak"] == 2 and callouts["illegal"] == 1

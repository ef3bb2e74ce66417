"""Exits of Core.run: budget, MMIO loads/stores and their completion, traps
handed to Python, watches, idle WFI."""

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak, RAM_BASE

EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP = core_mod.EXIT_BUDGET, core_mod.EXIT_MMIO, core_mod.EXIT_TRAP
EXIT_WFI, EXIT_WATCH = core_mod.EXIT_WFI, core_mod.EXIT_WATCH
DEV = 0x1000_0000


def test_exit_codes_are_the_documented_numbers():
    assert (EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP, EXIT_WFI, EXIT_WATCH) == (1, 2, 3, 4, 5)


def test_budget_is_exact_across_runs():
    core, _ = load("1: addi a0, a0, 1\n j 1b\n")
    assert core.run(0) == EXIT_BUDGET and core.stats()["instret"] == 0
    total = 0
    for budget in (1, 2, 3, 1000, 7):
        assert core.run(budget) == EXIT_BUDGET
        total += budget
        assert core.stats()["instret"] == total
    # a0 counts the addi's: every other retired instruction
    assert reg(core, "a0") == (total + 1) // 2


@pytest.mark.parametrize("insn,value,expected", [
    ("lb", 0x80, 0xFFFF_FFFF_FFFF_FF80), ("lbu", 0x80, 0x80),
    ("lh", 0x8001, 0xFFFF_FFFF_FFFF_8001), ("lhu", 0x8001, 0x8001),
    ("lw", 0x8000_0001, 0xFFFF_FFFF_8000_0001), ("lwu", 0x8000_0001, 0x8000_0001),
    ("ld", 0x8000_0000_0000_0001, 0x8000_0000_0000_0001),
])
def test_mmio_load_exits_before_retiring_and_completes(insn, value, expected):
    core, prog = load(f"li t0, {DEV}\nat: {insn} a0, 4(t0)\naddi a1, a0, 0\nebreak\n")
    assert core.run(100) == EXIT_MMIO
    size = {"b": 1, "h": 2, "w": 4, "d": 8}[insn[1]]
    assert (core.exit_addr, core.exit_size, core.exit_is_write) == (DEV + 4, size, False)
    assert core.exit_pc == prog["at"] and core.pc == prog["at"]
    retired = core.stats()["instret"]
    core.complete_mmio(value | (0xAB << 8 * size if size < 8 else 0))   # junk above the access size
    run_to_ebreak(core)
    assert reg(core, "a0") == expected and reg(core, "a1") == expected
    assert core.stats()["instret"] == retired + 2


def test_mmio_load_without_completion_exits_again():
    core, prog = load(f"li t0, {DEV}\nat: lw a0, 0(t0)\nebreak\n")
    assert core.run(100) == EXIT_MMIO
    assert core.run(100) == EXIT_MMIO and core.exit_pc == prog["at"]


def test_mmio_store_retires_then_exits():
    core, prog = load(f"li t0, {DEV}\nli t1, 0x1234\nat: sh t1, 6(t0)\nafter: ebreak\n")
    assert core.run(100) == EXIT_MMIO
    assert (core.exit_addr, core.exit_size, core.exit_is_write, core.exit_data) == (DEV + 6, 2, True, 0x1234)
    assert core.exit_pc == prog["at"] and core.pc == prog["after"]
    run_to_ebreak(core)


MTRAP = """
    la t0, handler
    csrw mtvec, t0
    {body}
    ebreak
.balign 4
handler:
    csrr s2, mcause
    csrr s3, mepc
    csrr s4, mtval
    ebreak
"""


@pytest.mark.parametrize("insn,cause", [("lw a0, 8(t0)", 5), ("sw a0, 8(t0)", 7)])
def test_mmio_fault_completion_is_a_precise_access_fault(insn, cause):
    core, prog = load(MTRAP.format(body=f"li t0, {DEV}\nli a0, 5\nat: {insn}\nli a0, 9"))
    assert core.run(100) == EXIT_MMIO
    before = core.stats()["instret"]
    core.complete_mmio_fault()
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (cause, prog["at"], DEV + 8)
    assert reg(core, "a0") == 5
    # the faulting access never retired: only the handler's three csrr ran
    assert core.stats()["instret"] == before + 3 - (1 if cause == 7 else 0)


def test_complete_without_a_pending_access_is_an_error():
    core, _ = load("ebreak\n")
    with pytest.raises(RuntimeError):
        core.complete_mmio(1)
    with pytest.raises(RuntimeError):
        core.complete_mmio_fault()


def test_amo_to_mmio_is_an_access_fault_not_an_exit():
    core, prog = load(MTRAP.format(body=f"li t0, {DEV}\nat: amoadd.w a0, a1, (t0)"))
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (7, prog["at"], DEV)


def test_fetch_outside_ram_is_an_instruction_access_fault():
    core, prog = load(MTRAP.format(body=f"li t0, {DEV}\nat: jalr t0"))
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3"), reg(core, "s4")) == (1, DEV, DEV)


def test_exit_on_exception_hands_ecall_to_python_undelivered():
    core, prog = load(MTRAP.format(body="li a7, 42\nat: ecall\nli a1, 7"))
    core.exit_on_exception |= 1 << 11
    mepc_before = core.read_csr(0x341)
    assert core.run(100) == EXIT_TRAP
    assert (core.exit_cause, core.exit_pc, core.exit_tval, core.exit_insn) == (11, prog["at"], 0, 0x73)
    assert core.pc == prog["at"] and core.read_csr(0x341) == mepc_before and core.priv == 3
    core.x[10] = 99            # the handler's answer, as an SBI would
    core.pc += 4
    run_to_ebreak(core)
    assert reg(core, "a0") == 99 and reg(core, "a1") == 7
    assert core.stats()["traps"] == {11: 1, 3: 1}


def test_exit_on_exception_reports_illegal_instruction_bits():
    core, prog = load(".option norvc\nat: .word 0xFFFFFFFF\n")
    core.exit_on_exception |= 1 << 2
    assert core.run(10) == EXIT_TRAP
    assert (core.exit_cause, core.exit_tval, core.exit_insn, core.exit_pc) == (2, 0xFFFFFFFF, 0xFFFFFFFF, prog["at"])


def test_watch_exits_after_the_store_completes():
    core, prog = load("la t0, tohost\nli t1, 0x55\nsd t1, 8(t0)\nat: sd t1, 0(t0)\nafter: ebreak\n"
                      ".balign 8\ntohost: .dword 0\nother: .dword 0\n")
    core.add_watch(prog["tohost"], 8)
    assert core.run(100) == EXIT_WATCH
    assert (core.exit_addr, core.exit_size, core.exit_data) == (prog["tohost"], 8, 0x55)
    assert core.pc == prog["after"]
    assert core.read_mem(prog["tohost"], 8) == (0x55).to_bytes(8, "little")
    run_to_ebreak(core)


def test_watch_sees_amo_and_byte_stores_inside_the_range():
    core, prog = load("la t0, tohost\nli t1, 3\namoor.d zero, t1, (t0)\nsb t1, 5(t0)\nebreak\n"
                      ".balign 8\ntohost: .dword 0\n")
    core.add_watch(prog["tohost"], 8)
    assert core.run(100) == EXIT_WATCH and core.exit_size == 8
    assert core.run(100) == EXIT_WATCH and (core.exit_addr, core.exit_size) == (prog["tohost"] + 5, 1)
    run_to_ebreak(core)


def test_wfi_with_nothing_to_wake_retires_and_exits_idle():
    core, prog = load("li t0, 0x800\ncsrs mie, t0\nat: wfi\nafter: ebreak\n")
    assert core.run(100) == EXIT_WFI and core.exit_pc == prog["at"] and core.pc == prog["after"]
    run_to_ebreak(core)
    assert core.exit_pc == prog["after"]


def test_interrupt_raised_during_idle_wfi_returns_after_the_wfi():
    core, prog = load("la t0, handler\n csrw mtvec, t0\n li t0, 0x800\n csrs mie, t0\n csrsi mstatus, 8\n"
                      "1: wfi\nafter: j 1b\n.balign 4\nhandler: csrr s2, mcause\n csrr s3, mepc\n ebreak\n")
    assert core.run(100) == EXIT_WFI
    core.set_irq(True, False)
    run_to_ebreak(core)
    assert (reg(core, "s2"), reg(core, "s3")) == ((1 << 63) | 11, prog["after"])


def test_wfi_completes_when_an_enabled_interrupt_is_pending_even_if_masked_globally():
    core, prog = load("li t0, 0x800\ncsrs mie, t0\nat: wfi\nafter: ebreak\n")
    core.set_irq(True, False)           # MEIP pending, MIE=0: WFI completes, no trap
    run_to_ebreak(core)
    assert core.exit_pc == prog["after"] and core.read_csr(0x342) == 0


def test_stats_count_exits_by_name():
    core, _ = load(f"li t0, {DEV}\nsw zero, 0(t0)\nsw zero, 0(t0)\n1: j 1b\n")
    assert core.run(100) == EXIT_MMIO
    assert core.run(100) == EXIT_MMIO
    assert core.run(10) == EXIT_BUDGET
    assert core.stats()["exits"] == {"mmio": 2, "budget": 1}


def test_run_from_two_threads_at_once_is_refused():
    import threading
    import time
    core, _ = load("1: j 1b\n")
    errors = []
    started = threading.Event()

    def spin():
        started.set()
        core.run(300_000_000)

    worker = threading.Thread(target=spin)
    worker.start()
    started.wait()
    while worker.is_alive() and not errors:  # the worker holds run() for ~a second without the GIL
        try:
            core.run(1)
        except RuntimeError as exc:
            errors.append(str(exc))
        time.sleep(0.001)
    worker.join()
    assert errors and "already in progress" in errors[0]


def test_the_python_exit_vocabulary_is_the_cores():
    from pyvmm.machine import core_exits
    names = {"BUDGET", "MMIO", "TRAP", "WFI", "WATCH", "DEBUG"}
    for name in names:
        assert getattr(core_exits, "CORE_EXIT_" + name) == getattr(core_mod, "EXIT_" + name)
    assert core_exits.CORE_EXIT_NAMES == core_mod.EXIT_NAMES
    assert len(core_mod.EXIT_NAMES) == len(names)

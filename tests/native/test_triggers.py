"""Sdtrig trigger CSRs (debug spec 1.0, types 2 and 6 as QEMU 7.2 offers them)
and the debugger's breakpoints and watchpoints (EXIT_DEBUG)."""

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak, RAM_BASE

TSELECT, TDATA1, TDATA2, TDATA3, TINFO = 0x7A0, 0x7A1, 0x7A2, 0x7A3, 0x7A4
MCAUSE, MEPC, MTVAL = 0x342, 0x341, 0x343
TYPE2, TYPE6, TYPE15 = 2 << 60, 6 << 60, 15 << 60
LOAD, STORE, EXEC, U, S, M = 1, 2, 4, 1 << 3, 1 << 4, 1 << 6
VU, VS = 1 << 23, 1 << 24
ECALL_M = 1 << 11


def test_reset_values_match_qemu():
    core = core_mod.Core(ram_size=1 << 16)
    assert core.read_csr(TSELECT) == 0
    for i in range(core_mod.TRIGGERS):
        core.write_csr(TSELECT, i)
        assert core.read_csr(TSELECT) == i
        assert core.read_csr(TDATA1) == TYPE2
        assert core.read_csr(TDATA2) == 0
        assert core.read_csr(TDATA3) == 0
    assert core.read_csr(TINFO) & ((1 << 2) | (1 << 6)) == (1 << 2) | (1 << 6)


def test_tselect_past_the_last_trigger_is_ignored():
    core = core_mod.Core(ram_size=1 << 16)
    core.write_csr(TSELECT, 1)
    core.write_csr(TSELECT, core_mod.TRIGGERS)
    assert core.read_csr(TSELECT) == 1


def test_tdata1_warl():
    core = core_mod.Core(ram_size=1 << 16)
    # dmode, action, chain, timing, select, hit read 0; the enables stay
    core.write_csr(TDATA1, TYPE6 | (1 << 59) | (0xF << 12) | (1 << 11) | (1 << 21) | (1 << 22) | VS | M | EXEC)
    assert core.read_csr(TDATA1) == TYPE6 | VS | M | EXEC
    core.write_csr(TDATA1, TYPE2 | (2 << 7) | U | STORE)
    assert core.read_csr(TDATA1) == TYPE2 | (2 << 7) | U | STORE
    core.write_csr(TDATA1, 0)       # disable: type 15
    assert core.read_csr(TDATA1) == TYPE15
    core.write_csr(TDATA1, 4 << 60)     # icount: not offered
    assert core.read_csr(TDATA1) == TYPE15
    core.write_csr(TDATA1, TYPE6 | (9 << 7) | M | LOAD)     # match 9 is not offered: 0
    assert core.read_csr(TDATA1) == TYPE6 | M | LOAD


def test_trigger_csrs_are_m_only():
    core, _ = load("""
        li t0, 0x1800
        csrc mstatus, t0
        li t0, 0x800
        csrs mstatus, t0
        la t1, smode
        csrw mepc, t1
        mret
    smode:
        csrr a0, tselect
    """)
    core.exit_on_exception = (1 << 2) | (1 << 3)
    core.run(1000)
    assert core.exit_cause == 2 and core.priv == 1


def test_execute_trigger_raises_breakpoint_with_tval_pc():
    core, prog = load("""
        nop
    target:
        addi a0, a0, 1
        ebreak
    """)
    core.write_csr(TDATA2, prog["target"])
    core.write_csr(TDATA1, TYPE2 | M | EXEC)
    assert core.run(100) == core_mod.EXIT_TRAP
    assert core.exit_cause == 3 and core.exit_tval == prog["target"] and core.exit_pc == prog["target"]
    assert reg(core, "a0") == 0          # before the instruction


def test_load_store_triggers_fire_before_the_access_and_deliver_to_m():
    core, prog = load("""
        la t0, handler
        csrw mtvec, t0
        la t1, data
        li t2, 7
        sd t2, 0(t1)
    after_store:
        ld a1, 8(t1)
        ecall
    .balign 4
    handler:
        csrr s2, mcause
        csrr s3, mepc
        csrr s4, mtval
        csrr t3, mepc
        addi t3, t3, 4
        csrw mepc, t3
        addi s5, s5, 1
        mret
    .balign 8
    data:
        .dword 0, 0x1234
    """)
    core.exit_on_exception = ECALL_M
    core.write_csr(TDATA2, prog["data"])
    core.write_csr(TDATA1, TYPE6 | M | STORE)
    core.write_csr(TSELECT, 1)
    core.write_csr(TDATA2, prog["data"] + 8)
    core.write_csr(TDATA1, TYPE6 | M | LOAD)
    assert core.run(1000) == core_mod.EXIT_TRAP and core.exit_cause == 11
    assert reg(core, "s5") == 2
    assert reg(core, "s2") == 3 and reg(core, "s4") == prog["data"] + 8
    assert reg(core, "s3") == prog["after_store"]
    assert core.read_mem(prog["data"], 8) == bytes(8)       # the store did not happen
    assert reg(core, "a1") == 0                             # nor the load


def test_mode_bits_select_where_a_trigger_fires():
    src = """
        la t0, target
        jalr zero, 0(t0)
    target:
        addi a0, a0, 1
        ebreak
    """
    core, prog = load(src)
    core.write_csr(TDATA2, prog["target"])
    core.write_csr(TDATA1, TYPE6 | S | U | VS | VU | EXEC)      # not M
    run_to_ebreak(core)
    assert core.exit_pc != prog["target"] and reg(core, "a0") == 1


def test_napot_and_range_match():
    core, prog = load("""
        la t1, data
        sw zero, 4(t1)
        ebreak
    .balign 16
    data:
        .dword 0, 0
    """)
    core.write_csr(TDATA2, prog["data"] | 0x7)      # NAPOT 16 bytes
    core.write_csr(TDATA1, TYPE6 | (1 << 7) | M | STORE)
    assert core.run(100) == core_mod.EXIT_TRAP and core.exit_tval == prog["data"] + 4
    core2, prog2 = load("sd zero, 0(sp)\n ebreak\n")
    core2.set_x(2, RAM_BASE + 0x1000)
    core2.write_csr(TDATA2, RAM_BASE + 0x2000)
    core2.write_csr(TDATA1, TYPE6 | (2 << 7) | M | STORE)       # >= : no match
    run_to_ebreak(core2)
    assert core2.read_mem(RAM_BASE + 0x1000, 8) == bytes(8)


def test_disarmed_triggers_restore_the_fast_path():
    core, prog = load("""
        li a0, 1000
    loop:
        addi a0, a0, -1
        bnez a0, loop
        ebreak
    """)
    core.write_csr(TDATA2, 0)
    core.write_csr(TDATA1, TYPE6 | M | EXEC)
    core.write_csr(TDATA1, 0)
    run_to_ebreak(core)
    assert reg(core, "a0") == 0


def test_debugger_breakpoint_exits_before_the_instruction():
    core, prog = load("""
        li a0, 3
    target:
        addi a0, a0, 1
        ebreak
    """)
    core.debug_breakpoints = [prog["target"]]
    assert core.run(100) == core_mod.EXIT_DEBUG
    assert core.exit_cause == core_mod.DEBUG_BREAK and core.pc == prog["target"] and reg(core, "a0") == 3
    assert core.run(1) == core_mod.EXIT_DEBUG and core.pc == prog["target"]     # still there
    core.debug_breakpoints = []
    run_to_ebreak(core)
    assert reg(core, "a0") == 4
    assert core.stats()["exits"]["debug"] == 2


def test_debugger_watchpoint_exits_after_the_access():
    core, prog = load("""
        la t1, data
        ld a1, 0(t1)
        li t2, 9
    store:
        sw t2, 4(t1)
    after:
        ebreak
    .balign 8
    data:
        .dword 5
    """)
    core.debug_watchpoints = [(prog["data"] + 4, 4, 2)]      # writes only
    assert core.run(100) == core_mod.EXIT_DEBUG
    assert core.exit_cause == core_mod.DEBUG_WATCH and core.exit_is_write
    assert core.exit_addr == prog["data"] + 4 and core.exit_pc == prog["store"] and core.pc == prog["after"]
    assert core.read_mem(prog["data"] + 4, 4) == (9).to_bytes(4, "little")
    run_to_ebreak(core)
    core2, prog2 = load("la t1, data\n ld a1, 0(t1)\n after: ebreak\n .balign 8\n data: .dword 5\n")
    core2.debug_watchpoints = [(prog2["data"], 8, 1)]
    assert core2.run(100) == core_mod.EXIT_DEBUG and not core2.exit_is_write
    assert reg(core2, "a1") == 5 and core2.pc == prog2["after"]


def test_bad_watchpoints_are_refused():
    core = core_mod.Core(ram_size=1 << 16)
    with pytest.raises(ValueError):
        core.debug_watchpoints = [(0x8000_0000, 0, 2)]
    with pytest.raises(ValueError):
        core.debug_watchpoints = [(0x8000_0000, 4, 7)]

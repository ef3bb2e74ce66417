"""The Machine's run loop against a scripted stand-in for pyvmm._core.

The stand-in returns the exits a script lists (as the real core would for a
guest doing those accesses), so the loop's servicing is checked exactly:
MMIO to devices and faults, budget accounting, idle detection and console
input, stops, stats. Guests on the real core are in test_run_cli.py.
"""

import sys
import types

import numpy as np
import pytest

from board_helpers import make_elf
from pyvmm.machine.layout import PLIC_BASE, RAM_BASE, TEST_BASE, UART0_BASE

MiB = 1 << 20
EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP, EXIT_WFI, EXIT_WATCH = 1, 2, 3, 4, 5


class ScriptedCore:
    """Runs a script of events: ("exec", n), ("load", addr, size),
    ("store", addr, size, value), ("wfi",), ("trap", cause); after the
    script, the hart sits in WFI."""

    script = []

    def __init__(self, ram_size, ram_base, hartid):
        self.ram_base = ram_base
        self.ram = np.zeros(ram_size, dtype=np.uint8)
        self.invalidated = []           # what device DMA wrote behind the hart
        self.x = np.zeros(32, dtype=np.uint64)
        self.ram_buffer = self.ram         # the core's RAM as a buffer
        self.regs = memoryview(self.x)
        self.pc = 0
        self.priv = 3
        self.realtime = False
        self.exit_on_exception = 0
        self.exit_on_interrupt = 0
        self.csrs = {}
        self.instret = 0
        self.events = list(type(self).script)
        self.loads = []             # values completed to MMIO loads, or "fault"
        self.faults = 0
        self.irq_calls = []
        self.watches = []
        self.pending_load = False

    def get_x(self, i):
        return int(self.x[i]) if i else 0

    def set_x(self, i, value):
        if i:
            self.x[i] = value & 0xFFFF_FFFF_FFFF_FFFF

    def release_ram(self):
        self.ram[:] = 0

    def read_csr(self, n):
        return self.csrs.get(n, 0)

    def write_csr(self, n, v):
        self.csrs[n] = v

    def read_mem(self, paddr, n):
        off = paddr - self.ram_base
        return self.ram[off:off + n].tobytes()

    def write_mem(self, paddr, data):
        off = paddr - self.ram_base
        self.ram[off:off + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def invalidate_code(self, paddr, n):
        self.invalidated.append((paddr, n))

    def set_irq(self, meip, seip):
        self.irq_calls.append((meip, seip))

    def add_watch(self, paddr, size):
        self.watches.append((paddr, size))

    def complete_mmio(self, value):
        assert self.pending_load
        self.pending_load = False
        self.loads.append(value)
        self.instret += 1

    def complete_mmio_fault(self):
        self.pending_load = False
        self.faults += 1
        self.loads.append("fault")

    def stats(self):
        return {"instret": self.instret, "traps": {}, "interrupts": {}, "tlb_hits": 0,
                "tlb_misses": 0, "page_walks": 0, "walk_mem_refs": 0}

    def run(self, budget):
        assert not self.pending_load, "run() before the MMIO load was completed"
        retired = 0
        while self.events:
            event = self.events[0]
            kind = event[0]
            if kind == "exec":
                take = min(event[1], budget - retired)
                retired += take
                self.instret += take
                if take < event[1]:
                    self.events[0] = ("exec", event[1] - take)
                    return EXIT_BUDGET
                self.events.pop(0)
                continue
            if retired == budget:
                return EXIT_BUDGET
            self.events.pop(0)
            if kind == "load":
                self.exit_addr, self.exit_size, self.exit_is_write = event[1], event[2], False
                self.pending_load = True
                return EXIT_MMIO
            if kind == "store":
                self.exit_addr, self.exit_size, self.exit_is_write = event[1], event[2], True
                self.exit_data = event[3]
                self.instret += 1
                return EXIT_MMIO
            if kind == "trap":
                self.exit_cause, self.exit_pc, self.exit_tval = event[1], 0x8000_0000, 0
                return EXIT_TRAP
            if kind == "wfi":
                self.exit_pc = 0x8000_0000
                return EXIT_WFI
        if retired == budget:
            return EXIT_BUDGET
        self.exit_pc = 0x8000_0000
        return EXIT_WFI


@pytest.fixture
def machine_with(monkeypatch, tmp_path):
    fake = types.ModuleType("pyvmm._core")
    fake.Core = ScriptedCore
    monkeypatch.setitem(sys.modules, "pyvmm._core", fake)
    image = tmp_path / "image.bin"
    image.write_bytes(bytes(16))

    def make(script, **kw):
        from pyvmm.machine.machine import Machine
        ScriptedCore.script = script
        kw.setdefault("ram_size", 4 * MiB)
        m = Machine(**kw)
        m.load(image)
        return m
    return make


def test_boot_registers_and_device_tree(machine_with):
    m = machine_with([("store", TEST_BASE, 4, 0x5555)])
    result = m.run()
    assert tuple(result) == (0, "finisher-pass", 0)
    core = m.core
    assert core.priv == 3 and core.pc == RAM_BASE
    assert int(core.x[10]) == 0 and int(core.x[11]) == m.dtb_addr
    assert m.dtb_addr == RAM_BASE + 2 * MiB     # 2 MiB-aligned below the top of 4 MiB
    assert core.read_mem(m.dtb_addr, 4) == bytes.fromhex("d00dfeed")


def test_uart_output_and_finisher_fail_code(machine_with):
    script = []
    for ch in b"ok\n":
        script += [("exec", 3), ("load", UART0_BASE + 5, 1), ("store", UART0_BASE, 1, ch)]
    script += [("store", TEST_BASE, 4, 0x3333 | 42 << 16)]
    m = machine_with(script)
    assert tuple(m.run()) == (42, "finisher-fail", 42)
    assert m.uart_output == b"ok\n"
    assert m.core.loads == [0x60, 0x60, 0x60]
    stats = m.stats()
    assert stats["mmio"] == {"test": 1, "uart0": 6}
    assert stats["machine_exits"]["mmio"] == 7
    assert stats["how"] == "finisher-fail" and stats["status"] == 42


def test_unmapped_and_wrong_size_accesses_fault(machine_with):
    m = machine_with([("load", 0x2000_0000, 4), ("store", TEST_BASE, 1, 0x5555),
                      ("load", PLIC_BASE, 8), ("load", 0x1000_1000, 4),
                      ("store", TEST_BASE, 4, 0x5555)])
    assert m.run().how == "finisher-pass"
    assert m.core.loads == ["fault", "fault", "fault", 0x7472_6976]
    assert m.core.faults == 3 and m.stats()["mmio_faults"] == 3
    assert m.stats()["mmio"]["unmapped"] == 1


def test_budget_stops_exactly_and_run_continues(machine_with):
    m = machine_with([("exec", 2500), ("load", UART0_BASE + 5, 1), ("exec", 5000),
                      ("store", TEST_BASE, 4, 0x5555)])
    assert tuple(m.run(max_insns=1000)) == (124, "budget", 0)
    assert m.core.instret == 1000
    assert m.run(max_insns=1600).how == "budget"
    assert m.core.instret == 2600           # the MMIO load counts as one instruction
    assert m.run().how == "finisher-pass"
    assert m.core.instret == 7502           # 2500 + load + 5000 + store
    assert m.run().how == "finisher-pass"   # a finished machine stays finished


def test_zero_budget(machine_with):
    m = machine_with([("exec", 10)])
    assert m.run(max_insns=0).how == "budget" and m.core.instret == 0


def test_idle_without_input(machine_with):
    m = machine_with([("exec", 10), ("wfi",)])
    assert tuple(m.run()) == (125, "idle", 0)


UART_RX_TO_S_CONTEXT = [("store", UART0_BASE + 1, 1, 1),          # IER = RDI
                        ("store", PLIC_BASE + 40, 4, 1),            # priority of source 10
                        ("store", PLIC_BASE + 0x2080, 4, 1 << 10)]  # enabled for context 1 (S)


def test_console_input_raises_seip_through_the_plic(machine_with):
    m = machine_with(UART_RX_TO_S_CONTEXT + [("load", PLIC_BASE + 0x201004, 4),
                                             ("load", UART0_BASE, 1), ("load", UART0_BASE, 1)],
                     stdin=b"Z")
    m.core.csrs[0x304] = 1 << 9                 # mie.SEIE
    assert m.run().how == "idle"
    assert m.core.loads == [10, ord("Z"), 0]
    assert m.core.irq_calls[-2:] == [(False, True), (False, False)]   # raised, then claimed


def test_bytes_arrive_one_byte_time_apart(machine_with):
    from pyvmm.machine.machine import RX_BYTE_INSNS
    polls = [("exec", RX_BYTE_INSNS // 4), ("load", UART0_BASE + 5, 1), ("load", UART0_BASE, 1)]
    m = machine_with(polls * 8, stdin=b"ab")
    m.run()
    received = m.core.loads[1::2]
    # "a" as soon as the guest has touched the UART (its first LSR read, at
    # instret 2501); "b" one byte time later, at instret 12501 exactly (the
    # run is sliced there), so the fifth poll reads it.
    assert received == [ord("a"), 0, 0, 0, ord("b"), 0, 0, 0]


def test_idle_hart_waits_for_console_input(machine_with):
    import os
    import threading
    read_end, write_end = os.pipe()

    def type_later():
        os.write(write_end, b"Q")
        os.close(write_end)
    with os.fdopen(read_end, "rb", buffering=0) as stdin:
        m = machine_with(UART_RX_TO_S_CONTEXT + [("wfi",), ("load", PLIC_BASE + 0x201004, 4),
                                                 ("load", UART0_BASE, 1), ("wfi",)],
                         stdin=stdin)
        m.core.csrs[0x304] = 1 << 9
        timer = threading.Timer(0.2, type_later)
        timer.start()
        result = m.run()
        timer.join()
    assert result.how == "idle"                 # after "Q", the pipe ended
    assert m.core.loads == [10, ord("Q")]


@pytest.mark.parametrize("mie,ier", [(0, 1), (1 << 9, 0)])
def test_idle_hart_that_input_cannot_wake(machine_with, mie, ier):
    setup = [("store", UART0_BASE + 1, 1, ier), ("store", PLIC_BASE + 40, 4, 1),
             ("store", PLIC_BASE + 0x2080, 4, 1 << 10)]
    m = machine_with(setup + [("wfi",)], stdin=b"ZZ")
    m.core.csrs[0x304] = mie
    assert m.run().how == "idle"
    # The first byte reached the UART, the second waits: nobody will read them.
    assert m.input.buffered == 1 and list(m.uart.rx_fifo) == [ord("Z")]


def test_unexpected_trap_exit_is_an_internal_error(machine_with):
    from pyvmm.machine.machine import MachineError
    m = machine_with([("trap", 2)])
    with pytest.raises(MachineError, match="cause 0x2"):
        m.run()


def test_htif_watch_is_set_from_the_tohost_symbol(machine_with, tmp_path):
    from pyvmm.machine.machine import Machine
    ScriptedCore.script = []
    elf = tmp_path / "t.elf"
    elf.write_bytes(make_elf([(RAM_BASE, bytes(0x1010), 0x1010)], RAM_BASE,
                             symbols={"tohost": RAM_BASE + 0x1000, "fromhost": RAM_BASE + 0x1008}))
    m = Machine(ram_size=4 * MiB)
    m.load(elf)
    m.boot()
    assert m.core.watches == [(RAM_BASE + 0x1000, 8)]
    off = Machine(ram_size=4 * MiB, htif="off")
    off.load(elf)
    off.boot()
    assert off.core.watches == []


def test_second_image_and_overlaps_are_refused(machine_with, tmp_path):
    from pyvmm.machine.loader import ImageError
    m = machine_with([])
    other = tmp_path / "other.bin"
    other.write_bytes(bytes(8))
    with pytest.raises(ImageError, match="already loaded"):
        m.load(other)
    from pyvmm.machine.machine import Machine
    k = Machine(ram_size=4 * MiB, bios="builtin", kernel=str(other))
    with pytest.raises(ImageError, match="kernel is already loaded"):
        k.load(other)

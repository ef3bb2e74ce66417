"""Test support for the firmware modules (fdt, sbi, htif) and their guests.

FakeCore and FakeMachine are small stand-ins, enough to drive the firmware
modules by hand: they model only what the contract (docs/architecture.md)
promises and the firmware uses (registers, pc, priv, CSRs with a few WARL
masks, physical RAM, the flush calls, the EXIT_TRAP payload). The runners
build guests with GNU binutils and run them under `python -m pyvmm run` and
under QEMU, skipping with a reason when a tool is missing.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from support import oracles

MASK64 = (1 << 64) - 1
RAM_BASE = 0x8000_0000

MISA_RV64 = 2 << 62


def misa_of(letters):
    return MISA_RV64 | sum(1 << (ord(c) - ord("a")) for c in letters)


class FakeCore:
    def __init__(self, ram_size=1 << 20, ram_base=RAM_BASE, misa=misa_of("imacsu"), sstc=True):
        self.ram_base = ram_base
        self.ram = np.zeros(ram_size, dtype=np.uint8)
        self.x = np.zeros(32, dtype=np.uint64)
        self.ram_buffer = self.ram         # the core's RAM as a buffer
        self.regs = memoryview(self.x)
        self.pc = ram_base
        self.priv = 3
        self.csrs = {0x301: misa, 0xF11: 0x489, 0xF12: 0x5, 0xF13: 0x1234}
        self.sstc = sstc
        self.exit_on_exception = 0
        self.exit_on_interrupt = 0
        self.exit_cause = 0
        self.exit_pc = 0
        self.exit_tval = 0
        self.tlb_flushes = 0
        self.decode_flushes = 0
        self.watches = []

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
        v &= MASK64
        if n == 0x30A and not self.sstc:
            v &= ~(1 << 63)
        if n == 0x302:
            v &= ~(1 << 11)           # ecall from M cannot be delegated
        self.csrs[n] = v

    def _offset(self, paddr, n):
        off = paddr - self.ram_base
        if off < 0 or off + n > len(self.ram):
            raise IndexError("physical 0x%x+%d is not RAM" % (paddr, n))
        return off

    def read_mem(self, paddr, n):
        off = self._offset(paddr, n)
        return self.ram[off:off + n].tobytes()

    def write_mem(self, paddr, data):
        off = self._offset(paddr, len(data))
        self.ram[off:off + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def flush_tlb(self):
        self.tlb_flushes += 1

    def flush_decode_cache(self):
        self.decode_flushes += 1

    def add_watch(self, paddr, size):
        self.watches.append((paddr, size))

    def u64(self, paddr):
        return int.from_bytes(self.read_mem(paddr, 8), "little")

    def set_u64(self, paddr, value):
        self.write_mem(paddr, (value & MASK64).to_bytes(8, "little"))


class FakeMachine:
    def __init__(self, core=None, console_input=b"", hartid=0):
        self.core = core or FakeCore()
        self.ram_base = self.core.ram_base
        self.ram_size = len(self.core.ram)
        self.hartid = hartid
        self.bootargs = ""
        self.dtb_addr = self.ram_base + self.ram_size - 0x1000
        self.symbols = {}
        self.output = bytearray()
        self.input = bytearray(console_input)
        self.stops = []

    def console_write(self, data):
        self.output += data

    def console_read(self):
        if not self.input:
            return -1
        return self.input.pop(0)

    def request_stop(self, how, code):
        self.stops.append((how, code))


# ------------------------------------------------------------------ guests and runners
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = os.path.join(REPO, "guests")
OPENSBI_DIR = "/usr/lib/riscv64-linux-gnu/opensbi/generic"
FW_JUMP_BIN = os.path.join(OPENSBI_DIR, "fw_jump.bin")
FW_JUMP_ELF = os.path.join(OPENSBI_DIR, "fw_jump.elf")
KERNEL_ADDR = RAM_BASE + 0x20_0000

# What sbi_tour prints under any conforming SBI: built-in, or OpenSBI on pyvmm or on QEMU.
TOUR_OUTPUT = b"""\
sbi_tour: S-mode at 0x80200000
probe TIME 1 IPI 1 RFNC 1 HSM 1 SRST 1 0x0A5A5A5A 0
base function 99: -2
hsm status/error: 0/0, start self: -6
rfence fence_i, sfence_vma: 0 0
software interrupt taken after send_ipi: 0
timer interrupt taken after set_timer: 0
illegal instruction redirected to S-mode: scause 2, stval 0x340022f3
user illegal instruction: scause 2, stval 0x140022f3, SPP 0; user ecall: scause 8
legacy getchar without input: -1
debug console line
sbi_tour: done, shutting down
"""


def need_tool(name, why):
    path = shutil.which(name)
    if not path:
        pytest.skip("%s is not installed (%s)" % (name, why))
    return path


def need_opensbi():
    if not os.path.exists(FW_JUMP_BIN):
        pytest.skip("Debian's OpenSBI (package opensbi) is not installed: no %s" % FW_JUMP_BIN)
    return FW_JUMP_BIN


def gnu_build(source, out_dir, text_addr):
    """Assemble and link a guest with GNU binutils; returns the ELF path."""
    need_tool(oracles.GNU_AS, "GNU binutils build the reference ELF")
    need_tool(oracles.GNU_LD, "GNU binutils build the reference ELF")
    return oracles.build_with_gnu(source, out_dir, text_addr=text_addr)


def pyvmm_run(*args, stdin=b"", timeout=300):
    """`python -m pyvmm run ARGS`: (exit status, stdout bytes, stderr text)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], input=stdin,
                          capture_output=True, timeout=timeout, cwd=REPO, env=env)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def qemu_run(kernel, machine="virt", bios="none", cpu=None, timeout=60):
    """QEMU with -nographic and 128 MiB: (exit status, stdout bytes)."""
    need_tool(oracles.QEMU, "QEMU is the differential reference")
    return oracles.run_qemu(kernel, machine, bios, cpu=cpu, timeout=timeout)


def machine_run(bios, image, max_insns=200_000_000, stdin=None):
    """Run in-process on the real Machine: (RunResult, console bytes, Machine)."""
    try:
        from pyvmm.machine.machine import Machine
        import pyvmm._core  # noqa: F401
    except ImportError as e:
        pytest.skip("the compiled core is not built (%s)" % e)
    machine = Machine(bios=bios, stdin=stdin)
    machine.load(image)
    result = machine.run(max_insns=max_insns)
    return result, machine.uart_output, machine

"""Running benchmark images on pyvmm and timing only the execution.

Start-up (building the Machine, allocating RAM, loading the image, the device
tree) happens before the clock starts: the wall time is the Machine's own
host_seconds, which covers the run loop, core.run slices and the few device
exits at the end; the CPU time is this thread's over machine.run(). The
instruction count is the core's instret.
"""

import time
from dataclasses import dataclass, field

from pyvmm.machine import Machine
from pyvmm.machine.core_exits import CORE_EXIT_TRAP

EXC_ECALL_M = 11
REG_A0 = 10
REG_S0 = 8          # traps.S keeps the final count there while it prints
# Instructions per core.run() call in the exit loop: far more than the one
# the guest retires between two ecalls, so each run() returns on the ecall.
EXIT_LOOP_BUDGET = 1 << 20
# A run that retires more than this many instructions per iteration (plus a
# fixed allowance for set-up) has gone wrong: stop it rather than hang.
# compute retires about 0.71 million per iteration, traps about 8.
LIMIT_PER_ITERATION = 2_000_000
LIMIT_FIXED = 10_000_000


def instruction_limit(iterations):
    return LIMIT_FIXED + LIMIT_PER_ITERATION * iterations


class BenchRunError(Exception):
    """A benchmark guest did not end the way a correct run ends."""


@dataclass
class PyvmmRun:
    instret: int
    seconds: float           # wall time of the run loop
    cpu_seconds: float       # this thread's CPU time over the same span
    output: str
    stats: dict = field(default_factory=dict)

    @property
    def mips(self):
        return self.instret / self.seconds / 1e6 if self.seconds > 0 else None


def load_machine(path, htif=None):
    """A booted Machine with `path` loaded: everything before the clock starts.
    `htif` is the Machine's HTIF mode (None: its default)."""
    machine = Machine(console=None, htif=htif)
    machine.load(str(path))
    machine.boot()
    return machine


def run_loaded(machine, max_insns=None):
    """Run a loaded machine to its finisher; the run must pass."""
    cpu_started = time.thread_time()
    result = machine.run(max_insns=max_insns)
    cpu_seconds = time.thread_time() - cpu_started
    output = machine.uart_output.decode("ascii", "replace")
    if result.how != "finisher-pass":
        image = machine.boot_image.path if machine.boot_image is not None else "image"
        raise BenchRunError(f"{image}: pyvmm run ended {result.how} (status {result.status}), "
                            f"output {output!r}")
    stats = machine.stats()
    return PyvmmRun(instret=stats["instret"], seconds=machine.host_seconds,
                    cpu_seconds=cpu_seconds, output=output, stats=stats)


def run_image(path, max_insns=None, htif=None):
    """Load and run an image to its finisher, timing only the run."""
    return run_loaded(load_machine(path, htif), max_insns)


@dataclass
class ExitRun:
    exits: int
    seconds: float
    cpu_seconds: float
    instret: int

    @property
    def exits_per_second(self):
        return self.exits / self.seconds if self.seconds > 0 else None


def load_exit_machine(path):
    """The traps image loaded, with ecalls from M-mode set to leave core.run."""
    machine = load_machine(path)
    machine.core.exit_on_exception |= 1 << EXC_ECALL_M
    return machine


def run_exit_loop(path, iterations):
    """The traps image with every ecall from M-mode leaving core.run for a
    Python handler that does the guest handler's work: read a0, write it back
    incremented, step pc past the ecall. Times only the loop."""
    return run_exit_loaded(load_exit_machine(path), iterations)


def run_exit_loaded(machine, iterations):
    core = machine.core
    get_x, set_x = core.get_x, core.set_x
    run = core.run
    exits = 0
    cpu_started = time.thread_time()
    started = time.perf_counter()
    while True:
        reason = run(EXIT_LOOP_BUDGET)
        if reason != CORE_EXIT_TRAP or core.exit_cause != EXC_ECALL_M:
            break
        set_x(REG_A0, get_x(REG_A0) + 1)
        core.pc = core.exit_pc + 4
        exits += 1
    seconds = time.perf_counter() - started
    cpu_seconds = time.thread_time() - cpu_started
    counted = get_x(REG_S0)
    if exits != iterations or counted != iterations:
        raise BenchRunError(f"{machine.boot_image.path}: expected {iterations} ecall exits, the "
                            f"handler saw {exits} and the guest counted {counted} "
                            f"(last exit reason {reason})")
    return ExitRun(exits=exits, seconds=seconds, cpu_seconds=cpu_seconds,
                   instret=core.stats()["instret"])

"""The harts of one machine and how they take turns.

Several harts (pyvmm._core.Core objects sharing one RAM and CLINT, see
`Core(peer=...)`) run one at a time, in hart-id order, each for a fixed
quantum of QUANTUM retired instructions, so a run repeats exactly: same
image and options, same interleaving, same output and counters.

Time is the machine's: `clock` counts the instructions all harts have
retired, and mtime is clock / insns_per_tick (plus what the guest wrote to
mtime). Each hart is put on that clock before it runs (`core.clock_insns`),
so a hart's mtime moves on while it runs and stands still while others do;
mtime never goes backwards for anyone. A WFI that would stall exits the
core (`core.wfi_exit`) and the hart sleeps: it is skipped until an
interrupt it enables in mie is pending (mip & mie, which includes a timer
that came due on the machine clock, an IPI another hart sent, or a PLIC
output). When every started hart sleeps, the clock jumps to the earliest
timer any of them waits for; with no timer left, nothing inside the machine
can wake any hart (`pick` returns None) and the board decides (console
input, or the run is idle).

Hart states follow SBI HSM where the built-in SBI drives them: STOPPED harts
never run until `start`; a hart in a retentive or non-retentive suspend
sleeps like WFI and is SUSPENDED until an interrupt wakes it.

A single hart runs in slices as long as the caller asks for, and its WFI
skips time to its own next timer inside the core, as before: with no one
else to run, that is the same machine time, only faster.
"""

import time

from pyvmm.machine.core_exits import CORE_EXIT_BUDGET, CORE_EXIT_WFI
from pyvmm.machine.layout import TIMEBASE_FREQ

# Harts of one machine (pyvmm._core.MAX_HARTS_PER_MACHINE; QEMU's virt allows 8 per socket).
MAX_HARTS = 8

# Retired instructions per turn. Short enough that harts exchanging IPIs or
# spinning on each other's locks make progress every few hundred
# microseconds of host time; long enough that the Python between turns costs
# a few percent at most. Changing it changes every multi-hart run's
# interleaving (deterministically).
QUANTUM = 10_000

RUNNING = "running"         # runnable: started and awake
SLEEPING = "sleeping"       # stalled in WFI until an interrupt is pending
SUSPENDED = "suspended"     # in an SBI HSM suspend until an interrupt is pending
STOPPED = "stopped"         # SBI HSM STOPPED: runs only after hart_start

# A realtime machine whose harts all sleep waits on the host's clock in steps
# of at most this many seconds, so a timer is not overslept by much.
REALTIME_STEP = 0.01



class Harts:
    """The harts of one machine: `cores[i]` has hart id i."""

    def __init__(self, cores, quantum=QUANTUM, started=None):
        self.cores = list(cores)
        if not self.cores:
            raise ValueError("a machine needs at least one hart")
        self.smp = len(self.cores) > 1
        if self.smp:
            for i, core in enumerate(self.cores):
                if core.hartid != i:
                    raise ValueError(f"cores[{i}] has hart id {core.hartid}: harts must be 0..n-1")
        if quantum < 1:
            raise ValueError("quantum must be >= 1")
        self.quantum = quantum
        self.realtime = bool(self.cores[0].realtime)
        started = range(len(self.cores)) if started is None else set(started)
        self.state = [RUNNING if i in started else STOPPED for i in range(len(self.cores))]
        self.current = 0
        self._left = quantum
        self.clock = self.cores[0].clock_insns if self.smp else 0
        if self.smp:
            for core in self.cores:
                core.wfi_exit = True
                core.clock_insns = self.clock
        self.turns = 0
        self.clock_skips = 0        # times every hart slept and the clock jumped to a timer

    def __len__(self):
        return len(self.cores)

    @property
    def now(self):
        """The machine clock in instructions (a single hart's instret)."""
        return self.clock if self.smp else self.cores[0].instret

    # -- HSM ---------------------------------------------------------------------------

    def start(self, i):
        self.state[i] = RUNNING
        if self.smp:
            self.cores[i].clock_insns = self.clock

    def stop(self, i):
        self.state[i] = STOPPED

    def suspend(self, i):
        self.state[i] = SUSPENDED

    def any_started(self):
        return any(s != STOPPED for s in self.state)

    # -- turns -------------------------------------------------------------------------

    def _wakes(self, i):
        core = self.cores[i]
        core.clock_insns = self.clock
        if core.interrupt_pending:
            self.state[i] = RUNNING
            return True
        return False

    def _runnable(self, i):
        state = self.state[i]
        return state == RUNNING or (state != STOPPED and self._wakes(i))

    def pick(self, limit):
        """The hart to run next and how many instructions it may retire (at
        most `limit`), or None when no hart can run: all are stopped, or
        all sleep with no timer that could wake them."""
        if not self.smp:
            if self.state[0] == RUNNING:
                return 0, self.cores[0], limit
            if self.state[0] == STOPPED:
                return None
            # a single hart suspended through the SBI: its own timer decides
            if self._wakes(0):
                return 0, self.cores[0], limit
            wake = self.cores[0].wake_time
            if wake is None:
                return None
            self.cores[0].mtime = max(wake, self.cores[0].mtime)
            self.state[0] = RUNNING
            return 0, self.cores[0], limit
        n = len(self.cores)
        if self._left > 0 and self.state[self.current] == RUNNING:
            return self._turn(limit)
        skipped = False
        while True:
            for step in range(1, n + 1):
                i = (self.current + step) % n
                if self._runnable(i):
                    self.current = i
                    self._left = self.quantum
                    self.turns += 1
                    return self._turn(limit)
            # on the instruction clock one skip reaches the earliest timer;
            # on the host's clock (realtime) it only waits a step towards it
            if (skipped and not self.realtime) or not self._skip_to_next_timer():
                return None
            skipped = True

    def _turn(self, limit):
        core = self.cores[self.current]
        core.clock_insns = self.clock
        return self.current, core, min(self._left, limit)

    def _skip_to_next_timer(self):
        """Every started hart sleeps: move the clock to the earliest timer
        one of them waits for (realtime: sleep towards it). False if none
        waits for any."""
        ticks = None
        for i, state in enumerate(self.state):
            if state == STOPPED:
                continue
            core = self.cores[i]
            wake = core.wake_time
            if wake is None:
                continue
            core.clock_insns = self.clock
            wait = max(0, wake - core.mtime)
            if ticks is None or wait < ticks:
                ticks = wait
        if ticks is None:
            return False
        if self.realtime:
            time.sleep(min(max(ticks, 1) / TIMEBASE_FREQ, REALTIME_STEP))
        else:
            tick = self.cores[0].insns_per_tick
            self.clock = max(self.clock, (self.clock // tick + ticks) * tick)
        self.clock_skips += 1
        return True

    def ran(self, i, before, budget, reason):
        """Account a core.run(budget) of hart i that started at instret
        `before` and returned `reason`; returns the instructions retired."""
        core = self.cores[i]
        retired = core.instret - before
        if self.smp:
            self.clock += retired
            self._left -= budget if reason == CORE_EXIT_BUDGET else max(retired, 1)
        if reason == CORE_EXIT_WFI and self.smp:
            self.state[i] = SLEEPING
            self._left = 0
        return retired

    def end_turn(self):
        """The current hart gives up the rest of its quantum (it stopped or
        suspended itself)."""
        self._left = 0

    def snapshot(self):
        """Whose turn it is, how much of it is left, the machine clock and
        each hart's HSM state (the harts' registers are the cores')."""
        return {"state": list(self.state), "current": self.current, "left": self._left,
                "clock": self.clock, "turns": self.turns, "clock_skips": self.clock_skips}

    def restore(self, state):
        states = list(state["state"])
        if len(states) != len(self.cores) or not set(states) <= {RUNNING, SLEEPING, SUSPENDED, STOPPED}:
            raise ValueError(f"hart states {states!r} for {len(self.cores)} harts")
        if not 0 <= state["current"] < len(self.cores):
            raise ValueError(f"current hart {state['current']!r} out of range")
        self.state = states
        self.current = state["current"]
        self._left = int(state["left"])
        self.clock = int(state["clock"])
        self.turns = int(state["turns"])
        self.clock_skips = int(state["clock_skips"])

    def stats(self):
        return {"harts": len(self.cores), "quantum": self.quantum, "turns": self.turns,
                "clock_skips": self.clock_skips, "clock_insns": self.now,
                "states": list(self.state)}

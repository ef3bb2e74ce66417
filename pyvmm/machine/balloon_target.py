"""The host's control of a guest's balloon, as QEMU's user knows it.

QEMU's `balloon SIZE` (HMP, in MiB; QMP `balloon` in bytes) asks the guest
to leave itself SIZE of its RAM, i.e. sets the balloon's target to
RAM - SIZE in 4 KiB pages, and `info balloon` prints what the guest has
left (`balloon: actual=MiB`). The monitor of a Machine or a VM uses
`set_memory_target` and `info_text` here; `pyvmm run --balloon-target
SIZE@INSNS` sets the same target once INSNS instructions have retired, so a
scripted run repeats exactly (a BalloonSchedule runs the machine in pieces
up to each instant).
"""

import re

NO_BALLOON = "No balloon device has been activated"
BAD_TARGET = "Parameter 'target' expects a size"


class BalloonError(Exception):
    """A target that cannot be set; the message is QEMU's."""


def find_balloon(target):
    """The virtio-balloon of a Machine or VM (BalloonError if it has none)."""
    balloons = target.device_set.balloons()
    if not balloons:
        raise BalloonError(NO_BALLOON)
    return balloons[0]


def set_memory_target(target, size):
    """QEMU's `balloon`: leave the guest `size` bytes of RAM."""
    balloon = find_balloon(target)
    if size <= 0:
        raise BalloonError(BAD_TARGET)
    balloon.set_memory_target(size)


def info_text(target):
    """QEMU's `info balloon` line."""
    return f"balloon: actual={find_balloon(target).memory_size() >> 20}\n"


_CHANGE = re.compile(r"^([^@]+)@(.+)$")


def parse_change(text, parse_size, parse_count, usage_error):
    """'SIZE@INSNS' (SIZE as --ram spells it, a bare number in MiB; INSNS as
    --max-insns) -> (size in bytes, instructions)."""
    match = _CHANGE.match(text.strip())
    if not match:
        raise usage_error(f"--balloon-target {text!r}: expected SIZE@INSNS, e.g. 126M@2000000")
    size = parse_size(match.group(1))
    if size <= 0:
        raise usage_error(f"--balloon-target {text!r}: the target must be a positive size")
    at = parse_count(match.group(2), "instruction count")
    if at < 0:
        raise usage_error(f"--balloon-target {text!r}: the instruction count must not be negative")
    return size, at


class BalloonSchedule:
    """Targets to set at given instants of a run: [(size, instructions)].

    run(machine_run, retired, max_insns) runs `machine_run(budget)` (a
    Machine's or VM's run) in pieces that end at each instant, sets the
    target there, and goes on to `max_insns` (None: until the guest stops).
    `retired()` counts what the run's budget counts."""

    def __init__(self, target, changes):
        self.target = target
        self.changes = sorted(changes, key=lambda change: change[1])
        self.applied = 0
        find_balloon(target)

    def run(self, machine_run, retired, max_insns=None):
        start = retired()
        result = None
        for size, at in self.changes[self.applied:]:
            while retired() - start < at:
                done = retired() - start
                budget = at - done
                if max_insns is not None:
                    if done >= max_insns:
                        return result
                    budget = min(budget, max_insns - done)
                result = machine_run(budget)
                if result.how != "budget":
                    return result
            set_memory_target(self.target, size)
            self.applied += 1
        done = retired() - start
        if max_insns is not None and done >= max_insns and result is not None:
            return result
        return machine_run(None if max_insns is None else max_insns - done)

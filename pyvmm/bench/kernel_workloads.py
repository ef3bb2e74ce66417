"""The nano and macro workloads of the technique comparison: modes of the one
guest kernel (guests/kernel), chosen by bootargs "mode=NAME iterations=N".

Each is run twice per technique, at a baseline size and at baseline + N
iterations; the difference divided by N is the cost of one iteration with
the kernel's boot and shutdown subtracted. Sizes are multiples of 16 for the
nanobenchmarks because pgfault releases its heap window every 16 pages and
ptemod/ctxsw alternate between two frames: a whole number of periods in the
difference keeps the per-iteration figure exact.
"""

from dataclasses import dataclass

NANO, MACRO = "nano", "macro"
SUITES = (NANO, MACRO)


@dataclass(frozen=True)
class KernelWorkload:
    name: str                # the kernel's mode name
    suite: str               # "nano" | "macro"
    baseline: int            # iterations of the baseline run
    iterations: int          # default N: iterations beyond the baseline
    insns_per_iteration: int  # about what one iteration retires natively (for run limits)
    what: str
    period: int = 1          # N is rounded up to a multiple of this

    def sizes(self, iterations=None):
        """(baseline, baseline + N) for a requested N (default: this workload's)."""
        n = self.iterations if iterations is None else iterations
        if n < 1:
            raise ValueError(f"{self.name}: iterations must be at least 1, not {n}")
        n = -(-n // self.period) * self.period
        return self.baseline, self.baseline + n

    def instruction_limit(self, iterations):
        """A guard against a run that has gone wrong: far more than a correct
        run of `iterations` retires under any technique."""
        return 1_000_000 + 4 * self.insns_per_iteration * iterations


WORKLOADS = (
    KernelWorkload("syscall", NANO, 16, 256, 144, "user ecall to a null system call and sret back",
                   16),
    KernelWorkload("mmio", NANO, 16, 256, 4, "a byte load from the UART scratch register (their in)",
                   16),
    KernelWorkload("csrwr", NANO, 16, 256, 7, "csrrw of sie, nothing pending (their cr8wr)", 16),
    KernelWorkload("callret", NANO, 16, 256, 6, "jal to a leaf and ret", 16),
    KernelWorkload("pgfault", NANO, 16, 256, 2005, "a demand page fault the kernel services", 16),
    KernelWorkload("trap", NANO, 16, 256, 236, "ebreak the kernel counts and skips (their divzero)",
                   16),
    KernelWorkload("ptemod", NANO, 16, 256, 14, "PTE write, sfence.vma, a load through it", 16),
    KernelWorkload("ctxsw", NANO, 16, 256, 11, "satp switch between two address spaces + a load",
                   16),
    KernelWorkload("compute", MACRO, 1, 2, 707_000, "sieve, CRC-32, matrix multiply (user mode)"),
    KernelWorkload("forkwait", MACRO, 2, 16, 41_000, "fork; child faults one page and exits; wait"),
    KernelWorkload("console", MACRO, 4, 64, 633, "one write system call of a short line"),
)
BY_NAME = {w.name: w for w in WORKLOADS}
NANO_NAMES = tuple(w.name for w in WORKLOADS if w.suite == NANO)
MACRO_NAMES = tuple(w.name for w in WORKLOADS if w.suite == MACRO)


def workloads_of(suite):
    if suite == "all":
        return WORKLOADS
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}")
    return tuple(w for w in WORKLOADS if w.suite == suite)


def default_kernel():
    """The shipped guests/kernel/kernel.elf (installed with pyvmm, or the checkout's)."""
    from pyvmm.resources import guest
    return guest("kernel/kernel.elf")


def bootargs(workload, iterations):
    return f"mode={workload.name} iterations={iterations}"

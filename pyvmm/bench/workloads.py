"""The core suite's workloads and the goals it checks them against: pyvmm's
speed as a fraction of QEMU's, Sv39 paging's cost, exits to Python per second."""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Workload:
    name: str
    image: str               # file in guests/bench/
    small: int               # iterations of the short run (N)
    large: int               # iterations of the measured run (k*N)
    description: str
    bare: str = None         # report pyvmm's speed as a percentage of this workload's
    event: str = None        # what one iteration is, to report per second ("traps")
    patches: tuple = ()      # further (symbol, 32-bit value) pairs to set in the image
    htif: str = None         # the Machine's htif mode on pyvmm (None: its default, auto)

    def scaled(self, scale):
        """The same workload with both sizes multiplied by `scale` (at least
        1 and 2 iterations, so the two sizes still differ)."""
        small = max(1, round(self.small * scale))
        large = max(small + 1, round(self.large * scale))
        return replace(self, small=small, large=large)


# 416 iterations of compute retire about 295 million instructions, the size
# of the goal's workload; 52 (N = large / 8) is the short run QEMU's start-up
# is removed with.
CORE_WORKLOADS = (
    Workload("compute", "compute.elf", 52, 416,
             "sieve, CRC-32, matrix multiply, heapsort, list walk; M-mode, no translation"),
    Workload("compute-sv39", "compute-sv39.elf", 52, 416,
             "the same in U-mode under Sv39, 4 KiB identity pages", bare="compute"),
    # The list dealt over 512 pages, twice a 256-entry TLB's reach, in the
    # same cache lines: what translation costs when the pages outgrow the TLB.
    Workload("compute-sparse", "compute.elf", 26, 208,
             "compute with the list dealt over 512 pages; M-mode",
             patches=(("bench_list_pages", 512),)),
    Workload("compute-sv39-sparse", "compute-sv39.elf", 26, 208,
             "the same in U-mode under Sv39: most list steps miss the TLB",
             bare="compute-sparse", patches=(("bench_list_pages", 512),)),
    # Watching tohost (HTIF) must leave compute's speed alone. The image
    # defines tohost/fromhost and never stores there; the Machine watches it.
    Workload("compute-htif", "compute-htif.elf", 52, 416,
             "compute with riscv-tests' tohost/fromhost, HTIF watching on; M-mode",
             bare="compute", htif="on"),
    # F and D at interpreter speed: about 105 thousand instructions an
    # iteration, a fifth of them floating-point
    Workload("fp", "fp.elf", 300, 2400,
             "double/single matrix multiply (fma), Horner, Newton sqrt/reciprocal, stencil; M-mode"),
    Workload("traps", "traps.elf", 250_000, 2_000_000,
             "ecall from M-mode taken by a guest M-mode handler that returns", event="traps"),
)

# The exit benchmark: the traps image with every ecall sent to Python.
EXIT_IMAGE = "traps.elf"
EXIT_ITERATIONS = 1_000_000

# The core suite's goals: compute at least a quarter of QEMU's MIPS (aiming
# at half), Sv39 paging at least 70% of bare speed, a million exits to a
# Python handler per second.
GOAL_QEMU_RATIO = 0.25
GOAL_QEMU_RATIO_AIM = 0.5
GOAL_PAGING_FRACTION = 0.70
GOAL_EXITS_PER_SECOND = 1_000_000

"""The arithmetic of the measurements, kept apart from the runners so it can
be checked on fabricated timings.

QEMU is timed from outside, as a process, so its wall time includes start-up
(process, machine and image set-up) that has nothing to do with how fast it
runs guest code. The same image is therefore run at two sizes, N and k*N
iterations: start-up is the same in both and cancels in the difference, and
the difference of retired instructions (pyvmm's instret for the same images,
which is deterministic) divided by the difference of wall times is the speed.
"""

from statistics import median


class MeasurementError(Exception):
    """Timings from which no rate can be computed."""


def median_seconds(samples):
    if not samples:
        raise MeasurementError("no timing samples")
    if any(s < 0 for s in samples):
        raise MeasurementError("negative timing sample")
    return median(samples)


def mips(instructions, seconds):
    """Millions of instructions per second."""
    if seconds <= 0:
        raise MeasurementError(f"{instructions} instructions in {seconds} s: no time elapsed")
    return instructions / seconds / 1e6


def mips_without_startup(small_insns, small_seconds, large_insns, large_seconds):
    """MIPS from two runs of one image at two sizes: each *_seconds is a list
    of wall times (the median of each is used), each *_insns the exact
    instruction count of that size. Start-up cancels in the difference."""
    if large_insns <= small_insns:
        raise MeasurementError(f"the large run ({large_insns} instructions) must retire more "
                               f"than the small one ({small_insns})")
    t_small = median_seconds(small_seconds)
    t_large = median_seconds(large_seconds)
    if t_large <= t_small:
        raise MeasurementError(f"the large run took no longer than the small one "
                               f"({t_large:.4f} s vs {t_small:.4f} s): timings too noisy, "
                               "use a larger size")
    return mips(large_insns - small_insns, t_large - t_small)


def startup_seconds(small_insns, small_seconds, large_insns, large_seconds):
    """The fixed cost the two-size method removed: the large run's median
    time less what its instructions take at the difference rate."""
    rate = mips_without_startup(small_insns, small_seconds, large_insns, large_seconds) * 1e6
    return median_seconds(large_seconds) - large_insns / rate


def ratio(numerator, denominator):
    """numerator / denominator, or None when either is missing or zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator

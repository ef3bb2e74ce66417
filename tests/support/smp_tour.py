"""What guests/smp/smp_tour.S prints, for the board's tests (tests/machine)
and the hypervisor's (tests/hv)."""


def tour_output(n):
    """smp_tour's output with n harts: every other hart stopped at entry,
    started and stopped through HSM, three IPI round trips each, and the
    LR/SC counter whole."""
    others = n - 1
    return (f"smp_tour: {n} harts, stopped at entry: {others}\n"
            "hart_start of the boot hart: -6\n"
            f"started through HSM: {others}\n"
            f"IPI round trips: {3 * others}\n"
            "patched code seen by every hart after remote fence.i: 2\n"
            f"LR/SC counter: {5000 * n} of {5000 * n}\n"
            f"stopped through HSM: {others}\n").encode()

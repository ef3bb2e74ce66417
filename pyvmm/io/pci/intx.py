"""Legacy INTx interrupts: the four shared lines of the root bus and the
swizzle that spreads devices' pins over them.

As QEMU's gpex (pci_swizzle_map_irq_fn) and the virt board's interrupt-map
do, pin P (1 = INTA .. 4 = INTD) of device D drives line (P - 1 + D) mod 4,
and line L is PLIC source 32 + L. Lines are level-triggered and shared: a
line is high while any function asserts a pin routed to it.
"""

from pyvmm.io.pci.memmap import INTX_IRQ_FIRST, NUM_INTX


def swizzle(device, pin):
    """The INTx line (0..3) pin `pin` (1..4) of device `device` drives."""
    if not 1 <= pin <= NUM_INTX:
        raise ValueError(f"INTx pin {pin} is not 1..4")
    return (pin - 1 + device) % NUM_INTX


def plic_source(device, pin):
    """The PLIC source that pin `pin` of device `device` raises."""
    return INTX_IRQ_FIRST + swizzle(device, pin)


class IntxRouter:
    """Counts the asserted pins on each line and drives the PLIC source of
    the line to "any asserted" (QEMU's per-bus irq_count)."""

    def __init__(self, plic):
        self.plic = plic
        self.counts = [0] * NUM_INTX
        self.changes = 0

    def change(self, device, pin, delta):
        """A function's pin went up (delta 1) or down (delta -1)."""
        line = swizzle(device, pin)
        before = self.counts[line] > 0
        self.counts[line] += delta
        if self.counts[line] < 0:
            raise AssertionError(f"INTx line {line} deasserted more often than asserted")
        after = self.counts[line] > 0
        if before != after:
            self.changes += 1
            self.plic.set_level(INTX_IRQ_FIRST + line, after)

    def rebuild(self, asserted):
        """Recount from (device, pin) of every asserting function (after a
        restore) and drive all four lines."""
        self.counts = [0] * NUM_INTX
        for device, pin in asserted:
            self.counts[swizzle(device, pin)] += 1
        for line, count in enumerate(self.counts):
            self.plic.set_level(INTX_IRQ_FIRST + line, count > 0)

    def level(self, line):
        return self.counts[line] > 0

"""Platform-level interrupt controller, laid out like QEMU's `sifive_plic`
on the virt machine.

Every update of a device's interrupt line sets or clears the source's
pending bit, as QEMU's `sifive_plic_irq_request` does. A claim clears the
pending bit and hides the source from every context until it is completed.
As in QEMU 7.2 (checked by tests/machine's PLIC_CLAIMS guest), completing a
source whose line is still high does not make it pending again by itself:
the device's next line update does. (The PLIC specification's level gateway
would re-pend at once; drivers that drain their device before completing,
as Linux's 8250 driver does, see no difference.)
"""

from pyvmm.machine.bus import BusFault
from pyvmm.machine.layout import PLIC_NUM_PRIORITIES, PLIC_NUM_SOURCES

PRIORITY_BASE = 0x0
PENDING_BASE = 0x1000
ENABLE_BASE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT_BASE = 0x20_0000
CONTEXT_STRIDE = 0x1000
CONTEXT_THRESHOLD = 0x0
CONTEXT_CLAIM = 0x4

# virt's hart config "MS": hart 0 owns context 0 (M-mode) and context 1 (S-mode).
CONTEXT_M = 0
CONTEXT_S = 1


class PLIC:
    """`on_change(outputs)` is called with a tuple of booleans, one per
    context, whenever any context's interrupt output may have changed."""

    def __init__(self, num_sources=PLIC_NUM_SOURCES, num_priorities=PLIC_NUM_PRIORITIES,
                 num_contexts=2, on_change=None):
        self.num_sources = num_sources
        self.num_priorities = num_priorities
        self.num_contexts = num_contexts
        self._words = (num_sources + 31) // 32
        # Enable words are stored whole (bit 0 too, as QEMU does: source 0
        # never pends, so its enable bit is inert).
        self._enable_mask = (1 << (32 * self._words)) - 1
        self.priority = [0] * num_sources
        self.levels = 0
        self.pending = 0
        self.claimed = 0
        self.enable = [0] * num_contexts
        self.threshold = [0] * num_contexts
        self.outputs = (False,) * num_contexts
        self._on_change = on_change

    # -- device side ------------------------------------------------------------

    def set_level(self, source, level):
        if not 0 < source < self.num_sources:
            raise ValueError(f"PLIC source {source} out of range 1..{self.num_sources - 1}")
        bit = 1 << source
        if level:
            self.levels |= bit
            self.pending |= bit
        else:
            self.levels &= ~bit
            self.pending &= ~bit
        self._update()

    def _best(self, context):
        """The source a claim by `context` would get: highest priority above
        the threshold, lowest id on ties; 0 if none."""
        candidates = self.pending & ~self.claimed & self.enable[context]
        best, best_priority = 0, self.threshold[context]
        while candidates:
            low = candidates & -candidates
            source = low.bit_length() - 1
            if self.priority[source] > best_priority:
                best, best_priority = source, self.priority[source]
            candidates ^= low
        return best

    def _update(self):
        outputs = tuple(self._best(c) != 0 for c in range(self.num_contexts))
        self.outputs = outputs
        if self._on_change is not None:
            self._on_change(outputs)

    def claim(self, context):
        source = self._best(context)
        if source:
            bit = 1 << source
            self.pending &= ~bit
            self.claimed |= bit
            self._update()
        return source

    def complete(self, context, source):
        # The specification ignores a completion for a source the context has
        # not enabled; the claim stays outstanding.
        if not 0 < source < self.num_sources or not self.enable[context] >> source & 1:
            return
        self.claimed &= ~(1 << source)
        self._update()

    # -- snapshots ----------------------------------------------------------------

    def state(self):
        """Priorities, line levels, pending and claimed sources, enables and
        thresholds; the outputs follow from them."""
        return {"priority": list(self.priority), "levels": self.levels, "pending": self.pending,
                "claimed": self.claimed, "enable": list(self.enable),
                "threshold": list(self.threshold)}

    def restore(self, state):
        for name, n in (("priority", self.num_sources), ("enable", self.num_contexts),
                        ("threshold", self.num_contexts)):
            if len(state[name]) != n:
                raise ValueError(f"PLIC state: {name} has {len(state[name])} entries, not {n}")
        self.priority = [int(v) & self.num_priorities for v in state["priority"]]
        self.enable = [int(v) & self._enable_mask for v in state["enable"]]
        self.threshold = [int(v) & self.num_priorities for v in state["threshold"]]
        mask = (1 << self.num_sources) - 2      # source 0 never pends
        self.levels = int(state["levels"]) & mask
        self.pending = int(state["pending"]) & mask
        self.claimed = int(state["claimed"]) & mask
        self._update()

    # -- register file ----------------------------------------------------------

    def _check_size(self, offset, size):
        if size != 4 or offset & 3:
            raise BusFault(f"PLIC accepts aligned 4-byte accesses only ({size} bytes at +{offset:#x})")

    def read(self, offset, size):
        self._check_size(offset, size)
        if offset < PENDING_BASE:
            source = (offset - PRIORITY_BASE) >> 2
            return self.priority[source] if source < self.num_sources else 0
        if offset < ENABLE_BASE:
            word = (offset - PENDING_BASE) >> 2
            return (self.pending >> (32 * word)) & 0xFFFF_FFFF if word < self._words else 0
        if offset < CONTEXT_BASE:
            context, word = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            word >>= 2
            if context < self.num_contexts and word < self._words:
                return (self.enable[context] >> (32 * word)) & 0xFFFF_FFFF
            return 0
        context, register = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if context >= self.num_contexts:
            return 0
        if register == CONTEXT_THRESHOLD:
            return self.threshold[context]
        if register == CONTEXT_CLAIM:
            return self.claim(context)
        return 0

    def write(self, offset, size, value):
        self._check_size(offset, size)
        if offset < PENDING_BASE:
            source = (offset - PRIORITY_BASE) >> 2
            if 0 < source < self.num_sources:
                # WARL: num_priorities + 1 is a power of two, keep the low bits.
                self.priority[source] = value & self.num_priorities
                self._update()
        elif offset < ENABLE_BASE:
            pass    # pending bits are read-only
        elif offset < CONTEXT_BASE:
            context, word = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            word >>= 2
            if context < self.num_contexts and word < self._words:
                shift = 32 * word
                enable = self.enable[context] & ~(0xFFFF_FFFF << shift)
                self.enable[context] = (enable | (value << shift)) & self._enable_mask
                self._update()
        else:
            context, register = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
            if context >= self.num_contexts:
                return
            if register == CONTEXT_THRESHOLD:
                self.threshold[context] = value & self.num_priorities
                self._update()
            elif register == CONTEXT_CLAIM:
                self.complete(context, value)

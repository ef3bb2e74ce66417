"""The PLIC driven directly: priorities, pending, enables, threshold, claim/complete."""

import pytest

from pyvmm.machine.bus import BusFault
from pyvmm.machine.plic import (CONTEXT_BASE, CONTEXT_CLAIM, CONTEXT_STRIDE, ENABLE_BASE,
                                ENABLE_STRIDE, PENDING_BASE, PLIC)


class Harness:
    def __init__(self):
        self.changes = []
        self.plic = PLIC(on_change=self.changes.append)

    def w(self, offset, value):
        self.plic.write(offset, 4, value)

    def r(self, offset):
        return self.plic.read(offset, 4)

    def enable(self, context, *sources):
        words = {}
        for s in sources:
            words[s // 32] = words.get(s // 32, 0) | 1 << (s % 32)
        for word, bits in words.items():
            self.w(ENABLE_BASE + context * ENABLE_STRIDE + 4 * word, bits)

    def claim(self, context):
        return self.r(CONTEXT_BASE + context * CONTEXT_STRIDE + CONTEXT_CLAIM)

    def complete(self, context, source):
        self.w(CONTEXT_BASE + context * CONTEXT_STRIDE + CONTEXT_CLAIM, source)

    def threshold(self, context, value):
        self.w(CONTEXT_BASE + context * CONTEXT_STRIDE, value)

    @property
    def outputs(self):
        return self.plic.outputs


def test_priority_is_warl_three_bits_and_source_zero_is_hardwired():
    h = Harness()
    h.w(4 * 10, 0xFF)
    assert h.r(4 * 10) == 7
    h.w(0, 5)
    assert h.r(0) == 0
    h.w(4 * 95, 3)
    assert h.r(4 * 95) == 3


def test_pending_follows_the_line_and_is_read_only():
    h = Harness()
    h.plic.set_level(10, True)
    h.plic.set_level(33, True)
    assert h.r(PENDING_BASE) == 1 << 10
    assert h.r(PENDING_BASE + 4) == 1 << 1
    h.w(PENDING_BASE, 0)
    assert h.r(PENDING_BASE) == 1 << 10
    h.plic.set_level(10, False)
    assert h.r(PENDING_BASE) == 0


def test_no_output_until_priority_and_enable():
    h = Harness()
    h.plic.set_level(10, True)
    assert h.outputs == (False, False)
    h.enable(1, 10)
    assert h.outputs == (False, False)      # priority 0 never interrupts
    h.w(4 * 10, 1)
    assert h.outputs == (False, True)       # S context only
    assert h.changes[-1] == (False, True)


def test_claim_picks_highest_priority_then_lowest_id():
    h = Harness()
    for source, priority in ((3, 2), (5, 6), (7, 6), (9, 1)):
        h.w(4 * source, priority)
        h.plic.set_level(source, True)
    h.enable(0, 3, 5, 7, 9)
    assert h.claim(0) == 5
    assert h.claim(0) == 7
    assert h.claim(0) == 3
    assert h.claim(0) == 9
    assert h.claim(0) == 0
    assert h.outputs[0] is False


def test_threshold_masks_equal_or_lower_priorities():
    h = Harness()
    h.w(4 * 10, 3)
    h.plic.set_level(10, True)
    h.enable(0, 10)
    h.threshold(0, 3)
    assert h.r(CONTEXT_BASE) == 3
    assert h.outputs[0] is False and h.claim(0) == 0
    h.threshold(0, 2)
    assert h.outputs[0] is True
    h.threshold(0, 9)
    assert h.r(CONTEXT_BASE) == 1           # WARL: low three bits


def test_claimed_source_is_hidden_until_completed_and_line_updates_repend_it():
    h = Harness()
    h.w(4 * 10, 1)
    h.enable(0, 10)
    h.enable(1, 10)
    h.plic.set_level(10, True)
    assert h.claim(1) == 10
    assert h.outputs == (False, False)      # hidden from both contexts
    assert h.r(PENDING_BASE) == 0
    h.complete(0, 10)                       # another context's completion also frees it
    assert h.outputs == (False, False)      # QEMU: no re-pend until the line is updated
    h.plic.set_level(10, True)
    assert h.outputs == (True, True)
    assert h.claim(0) == 10
    h.plic.set_level(10, True)              # asserted again while claimed: pending, hidden
    assert h.outputs == (False, False) and h.r(PENDING_BASE) == 1 << 10
    h.complete(0, 10)
    assert h.outputs == (True, True)
    h.plic.set_level(10, False)
    assert h.outputs == (False, False)


def test_completion_for_a_disabled_source_is_ignored():
    h = Harness()
    h.w(4 * 4, 1)
    h.enable(0, 4)
    h.plic.set_level(4, True)
    assert h.claim(0) == 4
    h.enable(0)                              # disable everything
    h.w(ENABLE_BASE, 0)
    h.complete(0, 4)
    h.enable(0, 4)
    assert h.claim(0) == 0                   # still claimed


def test_enable_bits_outside_the_sources_read_zero():
    h = Harness()
    h.w(ENABLE_BASE, 0xFFFF_FFFF)
    assert h.r(ENABLE_BASE) == 0xFFFF_FFFF   # bit 0 kept, as QEMU does; source 0 never pends
    h.w(ENABLE_BASE + 8, 0xFFFF_FFFF)
    assert h.r(ENABLE_BASE + 8) == 0xFFFF_FFFF   # sources 64..95
    h.w(ENABLE_BASE + 12, 0xFFFF_FFFF)
    assert h.r(ENABLE_BASE + 12) == 0            # no sources 96..127
    assert h.r(ENABLE_BASE + 2 * ENABLE_STRIDE) == 0   # no third context


@pytest.mark.parametrize("size,offset", [(1, 0x28), (2, 0x28), (8, 0x28), (4, 0x2A)])
def test_only_aligned_word_accesses(size, offset):
    h = Harness()
    with pytest.raises(BusFault):
        h.plic.read(offset, size)
    with pytest.raises(BusFault):
        h.plic.write(offset, size, 1)


def test_set_level_rejects_source_zero():
    with pytest.raises(ValueError):
        PLIC().set_level(0, True)

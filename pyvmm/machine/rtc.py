"""Goldfish RTC ("google,goldfish-rtc") at 0x101000, PLIC source 11, as on
QEMU's virt board.

The clock reads nanoseconds since the Unix epoch. By default it is derived
from the machine's own time (mtime at 10 MHz plus a fixed epoch), so a run
repeats exactly; with --realtime it is the host's clock. Reading TIME_LOW
latches the high half, as QEMU's model does, so a 64-bit read in two 32-bit
halves is consistent. One alarm: when enabled and the clock passes it, the
interrupt line rises until CLEAR_INTERRUPT.
"""

import time

from pyvmm.machine.bus import BusFault
from pyvmm.machine.layout import TIMEBASE_FREQ

TIME_LOW = 0x00
TIME_HIGH = 0x04
ALARM_LOW = 0x08
ALARM_HIGH = 0x0C
IRQ_ENABLED = 0x10
CLEAR_ALARM = 0x14
ALARM_STATUS = 0x18
CLEAR_INTERRUPT = 0x1C

NS_PER_TICK = 1_000_000_000 // TIMEBASE_FREQ
# 2024-01-01T00:00:00Z: the deterministic clock's start, a date a guest's
# certificate or filesystem checks accept.
DETERMINISTIC_EPOCH_NS = 1_704_067_200 * 1_000_000_000
MASK32 = 0xFFFF_FFFF


class GoldfishRTC:
    """`mtime()` returns the machine's timer ticks; `set_irq(level)` drives PLIC source 11."""

    def __init__(self, mtime, set_irq=None, realtime=False):
        self._mtime = mtime
        self._set_irq = set_irq
        self.realtime = realtime
        self.offset_ns = 0          # what the guest's writes of the time added
        self.time_high_latch = 0
        self.alarm_ns = 0
        self.alarm_armed = False
        self.irq_enabled = False
        self.irq_pending = False

    def now_ns(self):
        if self.realtime:
            base = time.time_ns()
        else:
            base = DETERMINISTIC_EPOCH_NS + self._mtime() * NS_PER_TICK
        return (base + self.offset_ns) & ((1 << 64) - 1)

    def _update_irq(self):
        if self._set_irq is not None:
            self._set_irq(self.irq_pending and self.irq_enabled)

    def poll(self):
        """Between slices: fire the alarm once its time has come."""
        if self.alarm_armed and self.now_ns() >= self.alarm_ns:
            self.alarm_armed = False
            self.irq_pending = True
            self._update_irq()

    def read(self, offset, size):
        if size != 4 or offset & 3:
            raise BusFault(f"the RTC accepts aligned 4-byte accesses only ({size} bytes at +{offset:#x})")
        if offset == TIME_LOW:
            now = self.now_ns()
            self.time_high_latch = now >> 32
            return now & MASK32
        if offset == TIME_HIGH:
            return self.time_high_latch
        if offset == ALARM_LOW:
            return self.alarm_ns & MASK32
        if offset == ALARM_HIGH:
            return self.alarm_ns >> 32
        if offset == IRQ_ENABLED:
            return int(self.irq_enabled)
        if offset == ALARM_STATUS:
            return int(self.alarm_armed)
        return 0

    def write(self, offset, size, value):
        if size != 4 or offset & 3:
            raise BusFault(f"the RTC accepts aligned 4-byte accesses only ({size} bytes at +{offset:#x})")
        if offset in (TIME_LOW, TIME_HIGH):
            # Each half replaces that half of the current time (QEMU's model).
            now = self.now_ns()
            shift = 0 if offset == TIME_LOW else 32
            wanted = (now & ~(MASK32 << shift)) | (value << shift)
            self.offset_ns += wanted - now
        elif offset == ALARM_HIGH:
            self.alarm_ns = (value << 32) | (self.alarm_ns & MASK32)
        elif offset == ALARM_LOW:
            # Writing the low half arms the alarm, as in the Android emulator's device.
            self.alarm_ns = (self.alarm_ns & ~MASK32) | value
            self.alarm_armed = True
            self.poll()
        elif offset == IRQ_ENABLED:
            self.irq_enabled = bool(value & 1)
            self._update_irq()
        elif offset == CLEAR_ALARM:
            self.alarm_armed = False
        elif offset == CLEAR_INTERRUPT:
            self.irq_pending = False
            self._update_irq()

    def state(self):
        return {"offset_ns": self.offset_ns, "time_high_latch": self.time_high_latch,
                "alarm_ns": self.alarm_ns, "alarm_armed": self.alarm_armed,
                "irq_enabled": self.irq_enabled, "irq_pending": self.irq_pending}

    def restore(self, state):
        for key, value in state.items():
            setattr(self, key, value)
        self._update_irq()

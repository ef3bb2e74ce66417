"""SiFive test finisher ("sifive,test0") at 0x10_0000: the guest ends the run
by writing a status word.

A write's low 16 bits select the action: 0x5555 pass, 0x3333 fail with the
code in bits 31:16, 0x7777 reset. QEMU resets the machine on 0x7777; pyvmm
stops instead, like QEMU run with `-no-reboot` (status 0, how
"finisher-reset"), because a board reset would silently restart a test
guest forever. Other values are ignored, as in QEMU. Reads return 0.
"""

from pyvmm.machine.bus import BusFault

FINISHER_FAIL = 0x3333
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777


class SiFiveTest:
    """`request_stop(how, code)` is called when the guest finishes."""

    def __init__(self, request_stop):
        self._request_stop = request_stop

    def state(self):
        """The finisher holds nothing between accesses: a write acts at once."""
        return {}

    def restore(self, state):
        if state:
            raise ValueError("the test finisher has no state to restore")

    @staticmethod
    def _check_size(size):
        if not 2 <= size <= 4:
            raise BusFault(f"the test finisher accepts 2- to 4-byte accesses, not {size}")

    def read(self, offset, size):
        self._check_size(size)
        return 0

    def write(self, offset, size, value):
        self._check_size(size)
        if offset != 0:
            return
        status = value & 0xFFFF
        code = (value >> 16) & 0xFFFF
        if status == FINISHER_PASS:
            self._request_stop("finisher-pass", 0)
        elif status == FINISHER_FAIL:
            self._request_stop("finisher-fail", code)
        elif status == FINISHER_RESET:
            self._request_stop("finisher-reset", 0)

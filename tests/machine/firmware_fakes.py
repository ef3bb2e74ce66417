"""Small stand-ins for the core and the Machine, enough to drive the firmware modules by hand.

They model only what the contract (docs/architecture.md) promises and the
firmware uses: registers, pc, priv, CSRs with a few WARL masks, physical RAM,
the flush calls and the EXIT_TRAP payload.
"""

import numpy as np

MASK64 = (1 << 64) - 1
RAM_BASE = 0x8000_0000

MISA_RV64 = 2 << 62


def misa_of(letters):
    return MISA_RV64 | sum(1 << (ord(c) - ord("a")) for c in letters)


class FakeCore:
    def __init__(self, ram_size=1 << 20, ram_base=RAM_BASE, misa=misa_of("imacsu"), sstc=True):
        self.ram_base = ram_base
        self.ram = np.zeros(ram_size, dtype=np.uint8)
        self.x = np.zeros(32, dtype=np.uint64)
        self.pc = ram_base
        self.priv = 3
        self.csrs = {0x301: misa, 0xF11: 0x489, 0xF12: 0x5, 0xF13: 0x1234}
        self.sstc = sstc
        self.exit_on_exception = 0
        self.exit_on_interrupt = 0
        self.exit_cause = 0
        self.exit_pc = 0
        self.exit_tval = 0
        self.tlb_flushes = 0
        self.decode_flushes = 0
        self.watches = []

    def read_csr(self, n):
        return self.csrs.get(n, 0)

    def write_csr(self, n, v):
        v &= MASK64
        if n == 0x30A and not self.sstc:
            v &= ~(1 << 63)
        if n == 0x302:
            v &= ~(1 << 11)           # ecall from M cannot be delegated
        self.csrs[n] = v

    def _offset(self, paddr, n):
        off = paddr - self.ram_base
        if off < 0 or off + n > len(self.ram):
            raise IndexError("physical 0x%x+%d is not RAM" % (paddr, n))
        return off

    def read_mem(self, paddr, n):
        off = self._offset(paddr, n)
        return self.ram[off:off + n].tobytes()

    def write_mem(self, paddr, data):
        off = self._offset(paddr, len(data))
        self.ram[off:off + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def flush_tlb(self):
        self.tlb_flushes += 1

    def flush_decode_cache(self):
        self.decode_flushes += 1

    def add_watch(self, paddr, size):
        self.watches.append((paddr, size))

    def u64(self, paddr):
        return int.from_bytes(self.read_mem(paddr, 8), "little")

    def set_u64(self, paddr, value):
        self.write_mem(paddr, (value & MASK64).to_bytes(8, "little"))


class FakeMachine:
    def __init__(self, core=None, console_input=b"", hartid=0):
        self.core = core or FakeCore()
        self.ram_base = self.core.ram_base
        self.ram_size = len(self.core.ram)
        self.hartid = hartid
        self.bootargs = ""
        self.dtb_addr = self.ram_base + self.ram_size - 0x1000
        self.symbols = {}
        self.output = bytearray()
        self.input = bytearray(console_input)
        self.stops = []

    def console_write(self, data):
        self.output += data

    def console_read(self):
        if not self.input:
            return -1
        return self.input.pop(0)

    def request_stop(self, how, code):
        self.stops.append((how, code))

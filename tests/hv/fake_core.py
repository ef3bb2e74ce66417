"""A stand-in for pyvmm._core.Core's H-extension surface (docs/architecture.md
"The H extension"), for unit tests of pyvmm.hv that script the exits a guest
would cause. It keeps CSRs in a dict and RAM in a bytearray; `run` returns the
next scripted exit after setting its payload, as the real core does."""

import numpy as np

from pyvmm.isa.csrs import CSRS

MASK64 = (1 << 64) - 1
EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP, EXIT_WFI = 1, 2, 3, 4


class FakeCore:
    def __init__(self, ram_size=16 << 20, ram_base=0x8000_0000):
        self.ram_base = ram_base
        self.ram_size = ram_size
        self.mem = bytearray(ram_size)
        self.ram = np.frombuffer(self.mem, dtype=np.uint8)    # a view, as the core's is
        self.ram_buffer = self.mem
        self.x = np.zeros(32, dtype=np.uint64)
        self.regs = memoryview(self.x)
        self.f = np.zeros(32, dtype=np.uint64)       # f0..f31 and fcsr (F/D)
        self.fcsr = 0
        self.pc = 0
        self.priv = 3
        self.virt = 0
        self.csrs = {CSRS["hstatus"]: 2 << 32, CSRS["misa"]: (2 << 62) | 0x1411AD | 0x28}
        self.exit_on_exception = 0
        self.exit_on_interrupt = 0
        self.mtime = 0
        self.instret = 0
        self.insns_per_tick = 10
        self.realtime = False
        self.invalidated = []        # ranges device DMA wrote behind the hart
        self.guest_mmio = []
        self.script = []             # (reason, {attribute: value}, instructions retired)
        self.completed = []          # ("mmio", value) / ("fault",) in order
        self.injected = []           # (cause, tval)
        self.tlb_flushes = 0
        self.exit_virt = 1
        self.exit_priv = 1

    def invalidate_code(self, paddr, n):
        self.invalidated.append((paddr, n))

    def read_csr(self, n):
        if n == CSRS["time"]:
            return self.mtime
        return self.csrs.get(n, 0)

    def write_csr(self, n, v):
        self.csrs[n] = v & MASK64

    def get_x(self, i):
        return int(self.x[i])

    def set_x(self, i, v):
        if i:
            self.x[i] = v & MASK64

    def _offset(self, paddr, n):
        offset = paddr - self.ram_base
        if offset < 0 or offset + n > self.ram_size:
            raise ValueError(f"{paddr:#x}+{n} outside RAM")
        return offset

    def read_mem(self, paddr, n):
        offset = self._offset(paddr, n)
        return bytes(self.mem[offset:offset + n])

    def write_mem(self, paddr, data):
        offset = self._offset(paddr, len(data))
        self.mem[offset:offset + len(data)] = data

    def add_guest_mmio(self, gpa, size):
        self.guest_mmio.append((gpa, size))

    def clear_guest_mmio(self):
        self.guest_mmio = []

    def run(self, budget):
        reason, payload, retired = self.script.pop(0)
        for name, value in payload.items():
            setattr(self, name, value)
        self.instret += min(retired, budget)
        return reason

    def complete_mmio(self, value):
        self.completed.append(("mmio", value))

    def complete_mmio_fault(self):
        self.completed.append(("fault",))

    def inject_vs_exception(self, cause, tval):
        self.injected.append((cause, tval))
        vsstatus = self.csrs.get(CSRS["vsstatus"], 0)
        sie = vsstatus >> 1 & 1
        vsstatus = (vsstatus & ~((1 << 8) | (1 << 5) | 2)) | (self.priv << 8) | (sie << 5)
        self.csrs[CSRS["vsstatus"]] = vsstatus
        self.csrs[CSRS["vsepc"]] = self.pc
        self.csrs[CSRS["vscause"]] = cause
        self.csrs[CSRS["vstval"]] = tval
        self.pc = self.csrs.get(CSRS["vstvec"], 0) & ~3
        self.virt, self.priv = 1, 1

    def flush_tlb(self):
        self.tlb_flushes += 1

    def flush_decode_cache(self):
        """The fake decodes nothing ahead, so there is nothing to drop."""

    def stats(self):
        return {"instret": self.instret}

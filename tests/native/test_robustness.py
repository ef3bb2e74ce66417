"""Random words as code never crash the core: runs end only in delivered
traps, exits or the budget. Identical runs give identical results."""

import hashlib
import random

import pytest

from .helpers import core_mod, load, reg, RAM_BASE

CSR_MTVEC, CSR_SATP, CSR_MSTATUS, CSR_MEDELEG, CSR_STVEC = 0x305, 0x180, 0x300, 0x302, 0x105
V, R, W, X, U, A, D = 1, 2, 4, 8, 16, 64, 128
RAM_SIZE = 1 << 21
CODE = RAM_BASE + 0x10_0000

# M-mode handler: step over the trapping parcel (2 bytes, so a 32-bit
# instruction's second half is tried as code too) and return to the mode that
# trapped; a fetch fault restarts at the entry. It lives in the first page,
# which random code may overwrite; that is allowed: the property is only that
# nothing breaks.
HANDLER = """
.option norvc
handler:
    csrr t6, mepc
    addi t6, t6, 2
    csrr t5, mcause
    li t4, 12
    beq t5, t4, restart
    li t4, 1
    bne t5, t4, 1f
restart:
    csrr t6, mscratch
1:  csrw mepc, t6
    mret
"""


def random_code(rng, n_bytes):
    words = []
    for _ in range(n_bytes // 4):
        kind = rng.random()
        if kind < 0.5:
            words.append(rng.getrandbits(32))
        elif kind < 0.8:       # valid-looking 32-bit opcodes with random operands
            words.append((rng.getrandbits(25) << 7) | rng.choice(
                [0x03, 0x13, 0x1B, 0x23, 0x33, 0x3B, 0x37, 0x17, 0x63, 0x67, 0x6F, 0x2F, 0x73, 0x0F]))
        else:                  # two compressed parcels
            words.append(rng.getrandbits(32) & ~0x00030003 | rng.choice([0, 1, 2]) | (rng.choice([0, 1, 2]) << 16))
    return b"".join(w.to_bytes(4, "little") for w in words)


def fuzz_core(seed, mode, paging):
    rng = random.Random(seed)
    core, prog = load(HANDLER, ram_size=RAM_SIZE)
    core.exit_on_exception = 0
    core.write_csr(CSR_MTVEC, prog["handler"])
    core.write_mem(CODE, random_code(rng, 0x4000))
    for i in range(1, 32):
        core.x[i] = rng.choice([0, RAM_BASE + rng.randrange(RAM_SIZE), rng.getrandbits(64),
                                rng.randrange(0x4000), 0x1000_0000, 0x0200_0000 + rng.randrange(0x10000)])
    start = CODE
    if paging:
        root = RAM_BASE + 0x1F_0000
        l1, l0 = root + 0x1000, root + 0x2000
        wr = lambda addr, v: core.write_mem(addr, v.to_bytes(8, "little"))
        wr(root + 2 * 8, ((RAM_BASE >> 12) << 10) | V | R | W | X | A | D)        # kernel gigapage
        wr(root, ((l1 >> 12) << 10) | V)
        wr(l1, ((l0 >> 12) << 10) | V)
        for page in range(16):                                                  # user code/data at VA 0
            flags = rng.choice([V | R | X | U, V | R | W | X | U, V | R | W | U | A | D, V | X | U, 0])
            if mode == 1 and rng.random() < 0.8:
                flags &= ~U                      # supervisor pages, plus a few user ones (SUM)
            wr(l0 + 8 * page, (((CODE + page * 0x1000 % 0x4000) >> 12) << 10) | flags)
        wr(l0, (((CODE) >> 12) << 10) | V | R | X | (U if mode == 0 else 0))
        core.write_csr(CSR_SATP, (8 << 60) | (root >> 12))
        start = 0
    core.write_csr(0x340, start)          # mscratch: where the handler restarts
    core.priv = mode
    core.pc = start
    return core


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mode,paging", [(3, False), (0, False), (0, True), (1, True)])
def test_random_code_only_ends_in_exits_or_budget(seed, mode, paging):
    core = fuzz_core(seed * 7919 + mode, mode, paging)
    budget = 20_000
    for _ in range(200):
        reason = core.run(budget)
        assert reason in (core_mod.EXIT_BUDGET, core_mod.EXIT_MMIO, core_mod.EXIT_WFI, core_mod.EXIT_TRAP)
        assert core.priv in (0, 1, 3)
        if reason == core_mod.EXIT_BUDGET:
            break
        if reason == core_mod.EXIT_MMIO and not core.exit_is_write:
            if core.exit_addr & 1:
                core.complete_mmio_fault()
            else:
                core.complete_mmio(core.exit_addr * 0x9E3779B97F4A7C15 & (1 << 64) - 1)
        elif reason == core_mod.EXIT_WFI:
            core.pc += 4
    assert core.x[0] == 0
    stats = core.stats()
    assert stats["instret"] + sum(stats["traps"].values()) + sum(stats["interrupts"].values()) > 0


def snapshot(core):
    return (core.stats(), tuple(int(v) for v in core.x), core.pc, core.priv,
            hashlib.sha256(core.read_mem(core.ram_base, core.ram_size)).hexdigest(),
            core.read_csr(0x342), core.read_csr(0xB02), core.mtime)


def test_identical_runs_are_identical():
    runs = []
    for _ in range(2):
        core = fuzz_core(1234, 0, True)
        core.write_csr(0x304, 0x80)                  # MTIE: timer interrupts during the run
        core.mtimecmp = 500
        for _ in range(50):
            reason = core.run(5000)
            if reason == core_mod.EXIT_MMIO and not core.exit_is_write:
                core.complete_mmio(7)
            core.mtimecmp = core.mtime + 300
        runs.append(snapshot(core))
    assert runs[0] == runs[1]

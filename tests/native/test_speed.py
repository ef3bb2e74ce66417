"""Throughput of the run loop on two simple guests. The MIPS figures are
printed (pytest -s shows them), never asserted: only the results are."""

import time

from .helpers import load, reg, run_to_ebreak

ITERATIONS = 2_000_000

ALU_LOOP = f"""
    li a0, 0
    li a1, {ITERATIONS}
1:  addi a0, a0, 3
    xor a2, a0, a1
    addi a1, a1, -1
    bnez a1, 1b
    ebreak
"""

MEMORY_LOOP = f"""
    la s0, buf
    li a1, {ITERATIONS}
1:  ld t0, 0(s0)
    addi t0, t0, 1
    sd t0, 0(s0)
    sw t0, 12(s0)
    addi a1, a1, -1
    bnez a1, 1b
    ld a0, 0(s0)
    ebreak
.balign 4096
buf: .dword 0, 0
"""


def measure(source):
    core, _ = load(source)
    start, cpu_start = time.perf_counter(), time.process_time()
    run_to_ebreak(core, budget=50_000_000)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    instret = core.stats()["instret"]
    # wall-clock MIPS, and per CPU second (steadier on a busy machine)
    return core, f"{instret / seconds / 1e6:.0f} MIPS ({instret / cpu_seconds / 1e6:.0f} per CPU second)"


def test_alu_loop_speed():
    core, mips = measure(ALU_LOOP)
    assert reg(core, "a0") == 3 * ITERATIONS
    assert core.stats()["instret"] == 3 + 4 * ITERATIONS     # li a0 (1) and li a1 (lui+addiw)
    print(f"\nALU/branch loop: {mips}")


def test_load_store_loop_speed():
    core, mips = measure(MEMORY_LOOP)
    assert reg(core, "a0") == ITERATIONS
    assert core.stats()["tlb_misses"] <= 4
    print(f"\nload/store loop: {mips}")

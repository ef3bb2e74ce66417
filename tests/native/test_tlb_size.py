"""core.tlb_entries: a smaller direct-mapped TLB misses where a larger one hits."""

import pytest

from pyvmm._core import Core, EXIT_BUDGET
from pyvmm.asm import assemble

RAM = 0x8000_0000

# S-mode under Sv39 (a gigapage identity map): loads alternate between two
# pages whose page numbers differ by 16, so they share a slot in a TLB of 16
# entries or fewer and not in one of 32 or more.
PROGRAM = """
    li   t0, 0x80100000
    li   t1, 0x80110000
    li   t2, 200
1:  ld   t3, 0(t0)
    ld   t3, 0(t1)
    addi t2, t2, -1
    bnez t2, 1b
2:  j    2b
"""


def run(entries):
    core = Core(ram_size=4 << 20, ram_base=RAM)
    core.tlb_entries = entries
    prog = assemble(PROGRAM)
    for addr, data in prog.segments():
        core.write_mem(addr, data)
    root = RAM + 0x200000
    core.write_mem(root + 2 * 8, ((RAM >> 12) << 10 | 0xCF).to_bytes(8, "little"))   # VRWXAD gigapage
    core.write_csr(0x180, 8 << 60 | root >> 12)
    core.write_csr(0x3B0, (1 << 54) - 1)       # PMP: everything, so S-mode may run
    core.write_csr(0x3A0, 0x1F)
    core.pc = prog.entry
    core.priv = 1
    assert core.run(1000) == EXIT_BUDGET
    return core.stats()["tlb_misses"]


def test_default_is_256_entries():
    assert Core(ram_size=1 << 20).tlb_entries == 256


def test_conflicting_pages_miss_in_a_small_tlb_and_hit_in_a_large_one():
    small, large = run(16), run(32)
    assert large <= 4                # the code page and the two data pages, once each
    assert small >= 400              # every load evicts the other page's entry
    assert run(256) == large


@pytest.mark.parametrize("bad", [0, 3, 100, 512, -1])
def test_only_powers_of_two_up_to_256(bad):
    core = Core(ram_size=1 << 20)
    with pytest.raises(ValueError, match="power of two"):
        core.tlb_entries = bad
    assert core.tlb_entries == 256

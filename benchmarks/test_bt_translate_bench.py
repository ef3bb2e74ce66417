"""translate_block's host cost per block, over the blocks guests/kernel
translates under bt (every mode): each block's code pages and ptstores are
recorded as the runtime handed them to the translator, then all of them are
translated again at their TC addresses, with the core's scan of copied runs
(the default) and with the instruction-at-a-time loop (scan=False).
`extra_info` holds the blocks, their guest instructions and µs per block.

    pytest benchmarks/test_bt_translate_bench.py --benchmark-json bt-translate.json
"""

import array
import os

import pytest

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.bt import cache  # noqa: E402
from pyvmm.hv.bt.translator import translate_block  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = os.path.join(ROOT, "guests", "kernel", "kernel.elf")
MODES = ("demo", "syscall", "mmio", "csrwr", "callret", "pgfault", "trap", "ptemod", "ctxsw",
         "compute", "forkwait", "console")
PAGE = 4096


class Recorder:
    """cache.translate_block, keeping a copy of what each block was translated from."""

    def __init__(self):
        self.blocks = []           # (guest pc, TC address, ptstores, {page gva: parcels})

    def __call__(self, fetch, guest_pc, tc_addr, ptstores=frozenset(), code_page=None, **options):
        pages = {}

        def recording(gva):
            parcels, first = code_page(gva)
            pages[gva & ~(PAGE - 1)] = array.array("H", parcels[first:first + PAGE // 2])
            return parcels, first
        block = translate_block(fetch, guest_pc, tc_addr, ptstores=ptstores, code_page=recording,
                                **options)
        self.blocks.append((guest_pc, tc_addr, frozenset(ptstores), pages))
        return block


def replay_page(pages):
    views = {gva: memoryview(parcels) for gva, parcels in pages.items()}

    def code_page(gva):
        return views[gva & ~(PAGE - 1)], 0
    return code_page


@pytest.fixture(scope="module")
def kernel_blocks():
    recorder = Recorder()
    original = cache.translate_block
    cache.translate_block = recorder
    try:
        for mode in MODES:
            host = Host(ram_size=160 << 20)
            vm = host.create_vm(ram_size=128 << 20, technique="bt", paging="shadow",
                                bootargs=f"mode={mode}")
            vm.load(KERNEL)
            vm.run()
    finally:
        cache.translate_block = original
    return [(pc, tc, ptstores, replay_page(pages)) for pc, tc, ptstores, pages in recorder.blocks]


def translate_all(blocks, scan):
    insns = 0
    for guest_pc, tc_addr, ptstores, code_page in blocks:
        insns += translate_block(None, guest_pc, tc_addr, ptstores=ptstores, code_page=code_page,
                                 scan=scan).guest_insns
    return insns


@pytest.mark.parametrize("scan", [True, False], ids=["scan", "loop"])
def test_translate_block(benchmark, kernel_blocks, scan):
    translate_all(kernel_blocks, scan)               # the scan's table learns the kernel's words
    insns = benchmark(translate_all, kernel_blocks, scan)
    benchmark.extra_info.update(blocks=len(kernel_blocks), guest_insns=insns,
                                us_per_block=benchmark.stats.stats.median * 1e6 / len(kernel_blocks))

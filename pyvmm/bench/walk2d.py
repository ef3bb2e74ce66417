"""The two-dimensional page walk microbenchmark: page-table references per
TLB-missing access natively (n) and under hw with nested paging, where every
guest page-table read and the final guest-physical address are themselves
translated by the G-stage: (n+1)(m+1)-1 references with no walk cache (15
for Sv39 over Sv39x4), fewer with the core's walk cache or guest megapages.

The guest is guests/walk2d.S beside this module, assembled by pyvmm.asm in
two variants (4 KiB pages, one 2 MiB megapage). Each configuration runs at
ROUNDS and 2 x ROUNDS rounds and the figure is the difference of the core's
walk_mem_refs over the difference of its page_walks: every reference the
hart made for the loop's walks, boot and shutdown subtracted, as the other
benchmarks subtract them. Under nested paging the core's own 2D counters
(walk_2d_mem_refs / walks_2d) are reported beside it, as a check on them.
"""

import tempfile
from pathlib import Path

from pyvmm.bench import techniques

SOURCE = Path(__file__).resolve().parent / "guests" / "walk2d.S"
SV39_LEVELS = 3
SV39X4_LEVELS = 3
PAGES = 64
ROUNDS = 8
VM_RAM = 64 << 20
HOST_OVERHEAD = 32 << 20

# config -> (guest megapages?, walk cache on?)
NESTED_CONFIGS = (("4k-nocache", False, False), ("4k-cache", False, True),
                  ("2m-nocache", True, False), ("2m-cache", True, True))


def expected_refs(n, m):
    """Page-table references of a two-dimensional walk with no caching."""
    return (n + 1) * (m + 1) - 1


def build_image(directory, megapage, pages=PAGES, rounds=ROUNDS):
    """Assemble the guest into `directory`; returns the ELF's path."""
    from pyvmm.asm import assemble
    text = SOURCE.read_text()
    header = f".equ MEGAPAGE, {int(megapage)}\n.equ PAGES, {pages}\n.equ ROUNDS, {rounds}\n"
    program = assemble(header + text, filename=str(SOURCE),
                       section_starts={".text": 0x8020_0000})
    path = Path(directory) / f"walk2d-{'2m' if megapage else '4k'}-{pages}x{rounds}.elf"
    path.write_bytes(program.to_elf())
    return path


def _native_stats(image):
    from pyvmm.machine import Machine
    machine = Machine(ram_size=VM_RAM, bios="builtin", console=None)
    machine.load(str(image))
    result = machine.run(max_insns=50_000_000)
    if result.how != "sbi-shutdown":
        raise _RunFailed(f"native run ended {result.how}")
    return machine.core.stats()


def _nested_stats(image, walk_cache):
    from pyvmm.hv import Host
    host = Host(ram_size=VM_RAM + HOST_OVERHEAD)
    if not hasattr(host.core, "walk_cache"):
        raise _RunFailed("this build of the core has no walk_cache switch")
    host.core.walk_cache = walk_cache
    vm = host.create_vm(ram_size=VM_RAM, paging="nested", technique="hw")
    vm.load(str(image))
    result = vm.run(50_000_000)
    if result is None or result.how != "sbi-shutdown":
        raise _RunFailed(f"hw-nested run ended {result.how if result else 'without a result'}"
                         + (f": {vm.error}" if vm.error else ""))
    return host.core.stats()


class _RunFailed(Exception):
    """The walk guest did not finish as expected."""


def _difference(short, long):
    """Walks and references of the extra rounds: the long run less the short."""
    walks = long["page_walks"] - short["page_walks"]
    refs = long["walk_mem_refs"] - short["walk_mem_refs"]
    out = {"walks": walks, "walk_refs": refs, "refs_per_walk": refs / walks if walks else None}
    if "walks_2d" in long and "walk_2d_mem_refs" in long:
        walks_2d = long["walks_2d"] - short["walks_2d"]
        refs_2d = long["walk_2d_mem_refs"] - short["walk_2d_mem_refs"]
        out.update({"walks_2d": walks_2d, "walk_2d_refs": refs_2d,
                    "counter_refs_per_walk": refs_2d / walks_2d if walks_2d else None,
                    "walk_cache_hits": long.get("walk_cache_hits", 0)
                    - short.get("walk_cache_hits", 0),
                    "gstage_walks": long.get("gstage_walks", 0) - short.get("gstage_walks", 0)})
    return out


def _measure(run, images):
    try:
        return _difference(run(images[0]), run(images[1]))
    except _RunFailed as exc:
        return {"reason": str(exc)}


def run(pages=PAGES, rounds=ROUNDS):
    """The microbenchmark's result as plain data (the report's `walk2d`)."""
    out = {"guest": "Sv39 over Sv39x4", "levels": SV39_LEVELS, "gstage_levels": SV39X4_LEVELS,
           "expected_2d": expected_refs(SV39_LEVELS, SV39X4_LEVELS),
           "expected_2d_megapage": expected_refs(SV39_LEVELS - 1, SV39X4_LEVELS),
           "accesses": pages * rounds, "native": None, "native_megapage": None, "nested": []}
    with tempfile.TemporaryDirectory(prefix="pyvmm-walk2d-") as scratch:
        images = {}
        for mega in (False, True):
            images[mega] = (build_image(scratch, mega, pages, rounds),
                            build_image(scratch, mega, pages, 2 * rounds))
        out["native"] = _measure(_native_stats, images[False])
        out["native_megapage"] = _measure(_native_stats, images[True])
        reason = techniques.unavailable_reason(techniques.column("hw-nested"))
        if reason is not None:
            out["reason"] = f"hw-nested: technique not available ({reason})"
            return out
        for config, mega, cache in NESTED_CONFIGS:
            entry = _measure(lambda image, cache=cache: _nested_stats(image, cache), images[mega])
            out["nested"].append({"config": config, "megapage": mega, "walk_cache": cache,
                                  **entry})
    return out

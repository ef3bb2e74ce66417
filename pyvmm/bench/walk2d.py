"""The two-dimensional page walk microbenchmark: page-table references per
TLB-missing access natively (n) and under hw with nested paging, where every
guest page-table read and the final guest-physical address are themselves
translated by the G-stage: (n+1)(m+1)-1 references with no walk cache (15
for Sv39 over Sv39x4), fewer with the core's walk cache or guest megapages.

The guest is guests/walk2d.S beside this module, assembled by pyvmm.asm in
two variants (4 KiB pages, one 2 MiB megapage); the counts come from the
core's counters (page_walks/walk_mem_refs natively, walks_2d and
walk_2d_mem_refs under nested paging).
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
    path = Path(directory) / f"walk2d-{'2m' if megapage else '4k'}.elf"
    path.write_bytes(program.to_elf())
    return path


def _native(image):
    from pyvmm.machine import Machine
    machine = Machine(ram_size=VM_RAM, bios="builtin", console=None)
    machine.load(str(image))
    result = machine.run(max_insns=50_000_000)
    stats = machine.core.stats()
    if result.how != "sbi-shutdown":
        return {"reason": f"native run ended {result.how}"}
    walks, refs = stats["page_walks"], stats["walk_mem_refs"]
    return {"walks": walks, "walk_refs": refs, "refs_per_walk": refs / walks if walks else None,
            "tlb_misses": stats["tlb_misses"]}


def _nested(image, walk_cache):
    from pyvmm.hv import Host
    host = Host(ram_size=VM_RAM + HOST_OVERHEAD)
    if not hasattr(host.core, "walk_cache"):
        return {"reason": "this build of the core has no walk_cache switch"}
    host.core.walk_cache = walk_cache
    vm = host.create_vm(ram_size=VM_RAM, paging="nested", technique="hw")
    vm.load(str(image))
    result = vm.run(50_000_000)
    if result is None or result.how != "sbi-shutdown":
        return {"reason": f"hw-nested run ended {result.how if result else 'without a result'}"
                          + (f": {vm.error}" if vm.error else "")}
    stats = host.core.stats()
    walks, refs = stats.get("walks_2d"), stats.get("walk_2d_mem_refs")
    if walks is None or refs is None:
        return {"reason": "this build of the core does not count walks_2d / walk_2d_mem_refs"}
    return {"walks_2d": walks, "walk_2d_refs": refs,
            "refs_per_walk": refs / walks if walks else None,
            "walk_cache_hits": stats.get("walk_cache_hits"),
            "gstage_walks": stats.get("gstage_walks")}


def run(pages=PAGES, rounds=ROUNDS):
    """The microbenchmark's result as plain data (the report's `walk2d`)."""
    out = {"guest": "Sv39 over Sv39x4", "levels": SV39_LEVELS, "gstage_levels": SV39X4_LEVELS,
           "expected_2d": expected_refs(SV39_LEVELS, SV39X4_LEVELS),
           "expected_2d_megapage": expected_refs(SV39_LEVELS - 1, SV39X4_LEVELS),
           "accesses": pages * rounds, "native": None, "native_megapage": None, "nested": []}
    with tempfile.TemporaryDirectory(prefix="pyvmm-walk2d-") as scratch:
        images = {mega: build_image(scratch, mega, pages, rounds) for mega in (False, True)}
        try:
            out["native"] = _native(images[False])
            out["native_megapage"] = _native(images[True])
        except Exception as exc:
            out["native"] = {"reason": f"{type(exc).__name__}: {exc}"}
        reason = techniques.unavailable_reason(techniques.column("hw-nested"))
        if reason is not None:
            out["reason"] = f"hw-nested: technique not available ({reason})"
            return out
        for config, mega, cache in NESTED_CONFIGS:
            try:
                entry = _nested(images[mega], cache)
            except Exception as exc:
                entry = {"reason": f"{type(exc).__name__}: {exc}".splitlines()[0]}
            out["nested"].append({"config": config, "megapage": mega, "walk_cache": cache,
                                  **entry})
    return out

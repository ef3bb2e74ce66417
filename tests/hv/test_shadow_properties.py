"""Property: through the shadow, every access lands where the guest's own
tables composed with the VM's GPA->HPA map say, or is the guest's own fault.

Random guest page tables (4 KiB pages and 2 MiB superpages, random
permissions and A/D bits, Sv39 or Sv48), random loads and stores from guest
S and guest U (with and without SUM, with and without ring compression),
random remaps of guest PTEs in between; each access really runs on the core
under pager.root_satp(). The reference is a plain dictionary of the mappings.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from test_shadow import (
    A0, A1, CODE_GVA, GUEST_BASE, PAGE, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X,
    SV39, SV48, FakeVM, Guest, Host, Run, shadow_walk,
)
from pyvmm.hv.shadow import ShadowPager

DATA_CHUNK = GUEST_BASE + (2 << 20)      # the second 2 MiB of guest RAM: data only
REGION = 2 << 20
LEAF_PERMS = [PTE_R, PTE_R | PTE_W, PTE_X, PTE_R | PTE_X, PTE_R | PTE_W | PTE_X]
PROBE_CODE = ".option norvc\n ld a1, 0(a0)\n ecall\n sd a1, 0(a0)\n ecall\n"
LOAD_PC, STORE_PC = 0, 8


def region_base(index, mode):
    high = 1 << 45 if mode == SV48 and index % 2 else 0
    return high + (4 << 30) + index * REGION


mapping = st.fixed_dictionaries({
    "region": st.integers(0, 2),
    "superpage": st.booleans(),
    "slot": st.integers(0, 1),                      # which 4 KiB page of the region
    "frame": st.integers(0, 511),                   # which data page of DATA_CHUNK
    "perms": st.sampled_from(LEAF_PERMS),
    "user": st.booleans(),
    "ad": st.sampled_from([0, PTE_A, PTE_A | PTE_D]),
})

probe = st.fixed_dictionaries({
    "target": st.sampled_from(["mapped", "mapped", "same", "same", "any"]),
    "which": st.integers(0, 7),                     # which mapping, for "mapped"
    "region": st.integers(0, 2),                    # for "any"
    "slot": st.integers(0, 2),                      # 2: a page never mapped at 4 KiB
    "offset": st.integers(0, 511).map(lambda n: n * 8),
    "store": st.booleans(),
    "user": st.booleans(),
    "sum": st.booleans(),
    "value": st.integers(0, (1 << 64) - 1),
    "remap_frame": st.none() | st.integers(0, 511),
    "remap_by_store": st.booleans(),                # the guest kernel's sd, or behind the pager
})

TABLE_WINDOW = 0x5000_0000                          # where the guest kernel maps its leaf tables


def expected(mappings, gva, store, user, sum_):
    """(gpa, None) or (None, cause) from the reference mappings."""
    for (base, size), (gpa_base, flags) in mappings.items():
        if base <= gva < base + size:
            if flags & PTE_U:
                allowed = user or sum_
            else:
                allowed = not user
            allowed = allowed and bool(flags & (PTE_W if store else PTE_R))
            if not allowed:
                return None, 15 if store else 13
            return gpa_base + (gva - base), None
    return None, 15 if store else 13


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from([SV39, SV48]), user_split=st.booleans(),
       maps=st.lists(mapping, min_size=1, max_size=8), probes=st.lists(probe, min_size=1, max_size=16))
def test_shadow_translation_is_guest_walk_composed_with_gpa_to_hpa(mode, user_split, maps, probes):
    host = Host()
    vm = FakeVM(host, seed=len(maps))
    guest = Guest(vm, mode)
    for frame in range(512):                        # every data word holds its own GPA
        gpa = DATA_CHUNK + frame * PAGE
        vm.write(gpa, np.arange(gpa, gpa + PAGE, 8, dtype=np.uint64).tobytes())
    guest.code(PROBE_CODE, gva=CODE_GVA, flags=PTE_R | PTE_X | PTE_A)
    guest.code(PROBE_CODE, gva=CODE_GVA + PAGE, flags=PTE_R | PTE_X | PTE_A | PTE_U)
    reference = {}                                  # (gva base, size) -> (gpa base, leaf flags)
    leaf_of = {}                                    # (gva base, size) -> PTE GPA
    taken_regions = set()
    for m in maps:
        base = region_base(m["region"], mode)
        flags = m["perms"] | m["ad"] | (PTE_U if m["user"] else 0)
        if m["superpage"]:
            if m["region"] in taken_regions:
                continue
            taken_regions.add(m["region"])
            reference = {k: v for k, v in reference.items() if not base <= k[0] < base + REGION}
            leaf_of = {k: v for k, v in leaf_of.items() if not base <= k[0] < base + REGION}
            leaf_of[(base, REGION)] = guest.map(base, DATA_CHUNK, flags, level=1)
            reference[(base, REGION)] = (DATA_CHUNK, flags)
        else:
            if m["region"] in taken_regions:
                continue
            gva, gpa = base + m["slot"] * PAGE, DATA_CHUNK + m["frame"] * PAGE
            leaf_of[(gva, PAGE)] = guest.map(gva, gpa, flags)
            reference[(gva, PAGE)] = (gpa, flags)
    pager = ShadowPager(vm, user_split=user_split)
    pager.set_guest_satp(guest.satp())
    done = []
    windows = {}                                    # leaf table GPA -> its guest-virtual window
    page = region_base(0, mode)
    for p in probes:
        # probes revisit pages: after fills, remaps and other privileges
        if p["target"] == "mapped":
            m = maps[p["which"] % len(maps)]
            page = region_base(m["region"], mode) + m["slot"] * PAGE
        elif p["target"] == "any":
            page = region_base(p["region"], mode) + p["slot"] * PAGE
        gva = page + p["offset"]
        user = p["user"]
        run = Run(host, pager, guest_priv=0 if user else 1,
                  real_priv=0 if user or user_split else 1, sum=p["sum"])
        want_gpa, want_cause = expected(reference, gva, p["store"], user, p["sum"])
        before = vm.read(want_gpa, 8) if want_gpa is not None else None
        pc = CODE_GVA + (PAGE if user else 0) + (STORE_PC if p["store"] else LOAD_PC)
        outcome = run(pc=pc, regs={A0: gva, A1: p["value"]})
        if want_gpa is None:
            assert outcome == "guest"
            assert (pager.fault_cause, pager.fault_tval) == (want_cause, gva)
        else:
            assert outcome == "ecall", (hex(gva), pager.fault_cause)
            if p["store"]:
                assert int.from_bytes(vm.read(want_gpa, 8), "little") == p["value"]
            else:
                assert host.core.get_x(A1) == int.from_bytes(before, "little")
            leaf = guest.read64(next(pte for (b, s), pte in leaf_of.items() if b <= gva < b + s))
            assert leaf & PTE_A and (leaf & PTE_D or not p["store"])
            done.append((gva, want_gpa, user))
        # now and then the guest remaps a 4 KiB page behind the pager, then tells it
        key = next(((b, s) for (b, s) in reference if s == PAGE and b <= gva < b + s), None)
        if p["remap_frame"] is not None and key is not None:
            gpa, flags = reference[key]
            new_gpa = DATA_CHUNK + p["remap_frame"] * PAGE
            new_pte = ((new_gpa >> 12) << 10) | flags | PTE_V
            if p["remap_by_store"]:
                table = leaf_of[key] & ~0xFFF
                window = windows.setdefault(table, TABLE_WINDOW + len(windows) * PAGE)
                guest.map(window, table, PTE_R | PTE_W | PTE_A | PTE_D)
                kernel = Run(host, pager, guest_priv=1, real_priv=0 if user_split else 1, sum=p["sum"])
                pager.set_guest_status(sum=p["sum"])
                traps = pager.counters["wp_traps"]
                # write-protected (an emulated store) exactly when a shadow entry came from it
                protected = any(pager.shadow_leaf(b, priv) is not None
                                for (b, size), pte in leaf_of.items()
                                if size == PAGE and pte & ~0xFFF == table for priv in (0, 1))
                assert kernel(pc=CODE_GVA + STORE_PC,
                              regs={A0: window + (leaf_of[key] & 0xFFF), A1: new_pte}) == "ecall"
                assert pager.counters["wp_traps"] == traps + protected
                assert guest.read64(leaf_of[key]) & ~(PTE_A | PTE_D) == new_pte & ~(PTE_A | PTE_D)
            else:
                guest.write64(leaf_of[key], new_pte)
                pager.invalidate_gpa(leaf_of[key], 8)
            reference[key] = (new_gpa, flags)
            done = [d for d in done if not key[0] <= d[0] < key[0] + PAGE]
    for gva, gpa, user in done:
        translated = shadow_walk(host.core, pager.root_satp(0 if user else 1), gva)
        if translated is not None:                  # a Bare-like U-bit flip may have taken it
            assert translated[0] == vm.gpa_to_hpa(gpa)
    pager.close()
    assert host.frames.used == set(vm.page_hpa)

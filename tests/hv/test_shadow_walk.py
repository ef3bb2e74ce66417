"""The shadow pager's walk of the guest's tables runs in the core
(pyvmm._core.GuestTables over the VM's page map): it must give exactly what
the Python walk (ShadowPager.guest_walk_python, PTE by PTE) gives, for any
guest page tables, address, access, privilege, SUM and MXR, and never read
outside the guest's RAM."""

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hv_support import KERNEL, needs_h
from pyvmm._core import GuestTables, GuestWalk
from pyvmm.hv import Host
from pyvmm.hv.shadow import (
    FETCH, LOAD, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, SATP_MODE_SV39, SATP_MODE_SV48,
    STORE, ShadowPager,
)

PAGE = 4096
GUEST_RAM = 4 << 20
TABLE_PAGES = 6                       # guest pages 1..6 hold the random tables (page 1 the root)
INDEXES = (0, 1, 2, 255, 256, 511)    # the table entries the random addresses use


@pytest.fixture(scope="module")
def machine():
    host = Host(ram_size=16 << 20)
    vm = host.create_vm(ram_size=GUEST_RAM)
    # Guest pages on frames out of order, as a copy-on-write clone's are.
    order = list(range(len(vm.pagemap.offsets)))
    random.Random(5).shuffle(order)
    vm.pagemap.offsets[:] = [vm.pagemap.offsets[i] for i in order]
    vm.pagemap.hpa[:] = [vm.pagemap.hpa[i] for i in order]
    return host, vm


def table_gpa(vm, n):
    return vm.ram_base + (1 + n) * PAGE


LEAF_RIGHTS = [PTE_R, PTE_R | PTE_W, PTE_X, PTE_X, PTE_R | PTE_X, PTE_R | PTE_W | PTE_X, PTE_W, PTE_W | PTE_X]


def random_pte(vm, rng):
    """A guest PTE, weighted towards walks that go somewhere: pointers to the
    random tables, leaves with any rights, and now and then every other kind."""
    kind = rng.choices(["table", "leaf", "empty", "odd-table", "outside", "high"],
                       [45, 45, 3, 3, 2, 2])[0]
    if kind == "table":
        return ((table_gpa(vm, rng.randrange(TABLE_PAGES)) >> 12) << 10) | PTE_V
    if kind == "odd-table":     # a pointer with A, D, U or without V: reserved there
        flags = rng.choice([PTE_A, PTE_D, PTE_U, PTE_A | PTE_D]) | (PTE_V if rng.random() < 0.8 else 0)
        return ((table_gpa(vm, rng.randrange(TABLE_PAGES)) >> 12) << 10) | flags
    if kind == "empty":
        return rng.choice([0, rng.randrange(1 << 64) & ~PTE_V])
    if kind == "outside":       # a table, or a leaf, out of guest RAM
        gpa = rng.choice([0, 0x1000, vm.ram_base + GUEST_RAM, 1 << 40])
        return ((gpa >> 12) << 10) | PTE_V | rng.choice([0, PTE_R])
    flags = PTE_V | rng.choice(LEAF_RIGHTS) | (rng.randrange(16) << 4)      # U, G, A, D at random
    place = rng.choice(["ram", "aligned", "aligned", "any"])
    if place == "ram":
        ppn = (vm.ram_base >> 12) + rng.randrange(GUEST_RAM >> 12)
    elif place == "aligned":    # a superpage at any level
        ppn = vm.ram_base >> 12
    else:
        ppn = rng.randrange(1 << 44)
    pte = (ppn << 10) | flags
    if kind == "high":          # bits pyvmm implements none of
        pte |= rng.randrange(1, 0x400) << 54
    return pte


walk_probe = st.fixed_dictionaries({
    "indexes": st.lists(st.sampled_from(INDEXES), min_size=5, max_size=5),
    "offset": st.integers(0, PAGE - 1),
    "high": st.sampled_from(["sign", "zero", "bad"]),
    "access": st.sampled_from([FETCH, LOAD, STORE]),
    "priv": st.integers(0, 1),
    "sum": st.booleans(),
    "mxr": st.booleans(),
})


def probe_gva(p, levels):
    va_bits = 12 + 9 * levels
    gva = p["offset"]
    for level in range(levels):
        gva |= p["indexes"][level] << (12 + 9 * level)
    if p["high"] == "sign" and gva >> (va_bits - 1):
        gva |= ((1 << 64) - 1) ^ ((1 << va_bits) - 1)       # canonical
    elif p["high"] == "bad":
        gva |= 1 << 62                                      # never canonical
    return gva      # "zero" with the top bit set: not canonical either


def as_tuple(result):
    walk, cause = result
    if walk is None:
        return None, cause
    return (walk.gpa, walk.leaf_gpa, walk.leaf, tuple(walk.pte_gpas)), cause


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from([SATP_MODE_SV39, SATP_MODE_SV48]), seed=st.integers(0, 1 << 30),
       probes=st.lists(walk_probe, min_size=1, max_size=48))
def test_core_walk_is_the_python_walk(machine, mode, seed, probes):
    host, vm = machine
    rng = random.Random(seed)
    for n in range(TABLE_PAGES):
        table = bytearray(PAGE)
        for index in INDEXES:
            table[8 * index:8 * index + 8] = random_pte(vm, rng).to_bytes(8, "little")
        vm.write(table_gpa(vm, n), bytes(table))
    pager = ShadowPager(vm)
    assert pager._guest_tables is not None        # the core's walk serves this VM
    pager.set_guest_satp((mode << 60) | (table_gpa(vm, 0) >> 12))
    levels = 3 if mode == SATP_MODE_SV39 else 4
    try:
        for p in probes:
            gva = probe_gva(p, levels)
            args = (gva, p["access"], p["priv"], p["sum"], p["mxr"])
            assert as_tuple(pager.guest_walk(*args)) == as_tuple(pager.guest_walk_python(*args)), args
    finally:
        pager.close()


def test_leaf_found_through_every_level(machine):
    host, vm = machine
    root, mid, low = (table_gpa(vm, n) for n in range(3))
    for n in range(3):
        vm.write(table_gpa(vm, n), bytes(PAGE))
    data = vm.ram_base + (100 << 12)
    vm.write(root + 8 * 2, (((mid >> 12) << 10) | PTE_V).to_bytes(8, "little"))
    vm.write(mid + 8 * 3, (((low >> 12) << 10) | PTE_V).to_bytes(8, "little"))
    leaf = ((data >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    vm.write(low + 8 * 4, leaf.to_bytes(8, "little"))
    pager = ShadowPager(vm)
    pager.set_guest_satp((SATP_MODE_SV39 << 60) | (root >> 12))
    gva = (2 << 30) | (3 << 21) | (4 << 12) | 0x123
    walk, cause = pager.guest_walk(gva, STORE, 1)
    assert cause is None and isinstance(walk, GuestWalk)
    assert (walk.gpa, walk.leaf_gpa, walk.leaf) == (data | 0x123, low + 32, leaf)
    assert walk.pte_gpas == (root + 16, mid + 24, low + 32)
    assert pager.guest_walk(gva, FETCH, 1) == (None, 12)            # not executable
    assert pager.guest_walk(gva, LOAD, 0) == (None, 13)             # a supervisor page
    # A table pointer outside guest RAM is the access's access fault, not a read there.
    vm.write(mid + 8 * 3, (((vm.ram_base + GUEST_RAM) >> 12) << 10 | PTE_V).to_bytes(8, "little"))
    assert pager.guest_walk(gva, LOAD, 1) == (None, 5)
    assert pager.guest_walk(gva, STORE, 1) == (None, 7)
    assert pager.guest_walk(gva, FETCH, 1) == (None, 1)
    pager.close()


def test_walk_follows_the_page_map_in_place(machine):
    """A guest page moved to another frame (copy-on-write broken, a restore)
    is walked in its new frame at once: the walk reads the page map's list."""
    host, vm = machine
    root = table_gpa(vm, 0)
    vm.write(root, bytes(PAGE))
    giga = ((vm.ram_base >> 12) << 10) | PTE_V | PTE_R | PTE_A
    vm.write(root + 8 * 2, giga.to_bytes(8, "little"))
    pager = ShadowPager(vm)
    pager.set_guest_satp((SATP_MODE_SV39 << 60) | (root >> 12))
    assert pager.guest_walk((2 << 30) + 8, LOAD, 1)[0].gpa == vm.ram_base + 8
    index = (root - vm.ram_base) >> 12
    spare = host.frames.alloc(1)
    host.core.write_mem(spare, bytes(PAGE))         # the same table, emptied, in another frame
    old_hpa, old_offset = vm.pagemap.hpa[index], vm.pagemap.offsets[index]
    vm.pagemap.hpa[index], vm.pagemap.offsets[index] = spare, spare - host.ram_base
    try:
        assert pager.guest_walk((2 << 30) + 8, LOAD, 1) == (None, 13)
    finally:
        vm.pagemap.hpa[index], vm.pagemap.offsets[index] = old_hpa, old_offset
        host.frames.free(spare, 1)
        pager.close()


def test_guest_tables_reject_a_frame_outside_the_buffer():
    """The page map names host frames; one past the RAM buffer is a host
    bug, raised, never read."""
    root_entry = (((0x8000_1000 >> 12) << 10) | PTE_V).to_bytes(8, "little")   # -> guest page 1
    tables = GuestTables(bytearray(root_entry + bytes(2 * PAGE - 8)), [0, 8 * PAGE], 0x8000_0000)
    with pytest.raises(IndexError):
        tables.walk(0, 3, 0x8000_0000 >> 12, 1, 1, False, False)
    assert tables.walk(1 << 30, 3, 0x8000_0000 >> 12, 1, 1, False, False) == (None, 13)  # V clear
    assert tables.walk(0, 3, 0x9000_0000 >> 12, 1, 1, False, False) == (None, 5)    # not guest RAM
    with pytest.raises(ValueError):
        tables.walk(0, 2, 0x8000_0000 >> 12, 1, 1, False, False)


def kernel_shadow(technique, bootargs, in_core):
    """Run the guest kernel with the pager's walk, group fill and store in
    the core or (in_core False) in Python; what the run and the pager end with."""
    host = Host(ram_size=(64 << 20) + (32 << 20))
    vm = host.create_vm(ram_size=64 << 20, technique=technique, paging="shadow", bootargs=bootargs)
    pager = vm.pager
    if technique == "hw":             # as trap-emulate and bt run their pager
        pager.drop_on_sfence, pager.fill_superpages = False, True
    if not in_core:
        pager._guest_tables, pager._store_in_core = None, False
    vm.load(KERNEL)
    result = vm.run()
    words = pager._ram_words
    leaves = {slot: words[(slot - pager._ram_base) >> 3] for slot in pager._slots}
    return (result.status, vm.console_output, vm.vcpus[0].instret, dict(pager.counters), dict(pager._slots),
            {gpa: sorted(slots) for gpa, slots in pager._rmap.items()}, dict(pager._pt_refs),
            {gpa: sorted(slots) for gpa, slots in pager._data_rmap.items()}, leaves)


@pytest.mark.parametrize("technique", [pytest.param("hw", marks=needs_h), "trap-emulate", "bt"])
@pytest.mark.parametrize("bootargs", ["mode=ptemod iterations=100", "mode=forkwait iterations=5"])
def test_core_and_python_paths_leave_the_same_shadow(technique, bootargs):
    """The guest kernel's page-table stress, once with the pager's walk,
    superpage group fill and performed stores in the core and once in
    Python: the same output, instructions, counters and shadow maps, entry
    for entry."""
    in_core = kernel_shadow(technique, bootargs, True)
    in_python = kernel_shadow(technique, bootargs, False)
    counters = in_core[3]
    assert counters["shadow_fills"] > counters["hidden_faults"] > 0     # groups were filled
    assert in_core == in_python


SD_A1_0_A0 = 0x00B53023               # sd a1, 0(a0)


def three_level_map(vm, gva, leaf_gpa_target, flags):
    root, mid, low = (table_gpa(vm, n) for n in range(3))
    for n in range(3):
        vm.write(table_gpa(vm, n), bytes(PAGE))
    vm.write(root + 8 * ((gva >> 30) & 0x1FF), (((mid >> 12) << 10) | PTE_V).to_bytes(8, "little"))
    vm.write(mid + 8 * ((gva >> 21) & 0x1FF), (((low >> 12) << 10) | PTE_V).to_bytes(8, "little"))
    leaf_gpa = low + 8 * ((gva >> 12) & 0x1FF)
    vm.write(leaf_gpa, (((leaf_gpa_target >> 12) << 10) | flags).to_bytes(8, "little"))
    return root, leaf_gpa


def read64(vm, gpa):
    return int.from_bytes(vm.read(gpa, 8), "little")


def test_emulate_store_in_the_core_sets_a_d_and_stores(machine):
    host, vm = machine
    gva, data = (2 << 30) | (3 << 21) | (4 << 12) | 0x18, vm.ram_base + (200 << 12)
    root, leaf_gpa = three_level_map(vm, gva, data, PTE_V | PTE_R | PTE_W)
    pager = ShadowPager(vm)
    assert pager._store_in_core
    pager.set_guest_satp((SATP_MODE_SV39 << 60) | (root >> 12))
    host.core.set_x(10, gva)
    host.core.set_x(11, 0x1122_3344_5566_7788)
    try:
        assert pager.emulate_store(SD_A1_0_A0, 1, False, False) == "stored"
        assert read64(vm, data | 0x18) == 0x1122_3344_5566_7788
        assert read64(vm, leaf_gpa) & (PTE_A | PTE_D) == PTE_A | PTE_D
        # a guest U page from guest S without SUM: the guest's store page fault, nothing written
        vm.write(leaf_gpa, (((data >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_U).to_bytes(8, "little"))
        host.core.set_x(11, 5)
        assert pager.emulate_store(SD_A1_0_A0, 1, False, False) == "guest"
        assert (pager.fault_cause, pager.fault_tval) == (15, gva)
        assert read64(vm, data | 0x18) == 0x1122_3344_5566_7788
        assert read64(vm, leaf_gpa) & PTE_A == 0
    finally:
        pager.close()


def test_store_in_the_core_leaves_the_unusual_to_the_pager(machine):
    """GuestTables.store does nothing and says so (None) for a target
    outside guest RAM, a frame shared copy-on-write or a watched page: the
    pager's general path takes those."""
    host, vm = machine
    gva, data = (2 << 30) | (3 << 21) | (4 << 12), vm.ram_base + (200 << 12)
    root, leaf_gpa = three_level_map(vm, gva, data, PTE_V | PTE_R | PTE_W)
    pager = ShadowPager(vm)
    tables, readonly = pager._guest_tables, vm.pagemap.readonly
    before = read64(vm, data)
    args = (pager._maps, gva, 3, root >> 12, 1, False, False, 8, 0xABCD)
    try:
        assert tables.store(*args, readonly, {data: None}) is None                  # watched
        index = (data - vm.ram_base) >> 12
        readonly[index] = 1
        try:
            assert tables.store(*args, readonly, {}) is None                        # shared
        finally:
            readonly[index] = 0
        assert (read64(vm, data), read64(vm, leaf_gpa) & PTE_A) == (before, 0)     # nothing done
        outside = vm.ram_base + GUEST_RAM
        vm.write(leaf_gpa, (((outside >> 12) << 10) | PTE_V | PTE_R | PTE_W).to_bytes(8, "little"))
        assert tables.store(*args, readonly, {}) is None                            # not guest RAM
        assert read64(vm, leaf_gpa) & PTE_A == 0
        vm.write(leaf_gpa, (((data >> 12) << 10) | PTE_V | PTE_R | PTE_W).to_bytes(8, "little"))
        assert tables.store(*args, readonly, {}) == (False, 0, [], 0)
        assert read64(vm, data) == 0xABCD
        with pytest.raises(ValueError):
            tables.store(pager._maps, gva | 0xFFC, 3, root >> 12, 1, False, False, 8, 0, readonly, {})
        # A PTE written for the pager's A/D update: only to a frame of this VM alone.
        leaf = read64(vm, leaf_gpa)
        readonly[(leaf_gpa - vm.ram_base) >> 12] = 1
        try:
            assert tables.write_pte(leaf_gpa, leaf | PTE_A, readonly) is False
            assert read64(vm, leaf_gpa) == leaf
        finally:
            readonly[(leaf_gpa - vm.ram_base) >> 12] = 0
        assert tables.write_pte(leaf_gpa, leaf | PTE_A, readonly) is True
        assert read64(vm, leaf_gpa) == leaf | PTE_A
        assert tables.write_pte(vm.ram_base + GUEST_RAM, 0, readonly) is False     # not guest RAM
    finally:
        pager.close()


AMO_FUNCT5 = {"swap": 0x01, "add": 0x00, "xor": 0x04, "and": 0x0C, "or": 0x08, "min": 0x10, "max": 0x14,
              "minu": 0x18, "maxu": 0x1C, "sc": 0x03}


@pytest.mark.parametrize("name", sorted(AMO_FUNCT5))
@pytest.mark.parametrize("size", [4, 8])
def test_amo_in_the_core_is_the_pagers_amo(machine, name, size):
    """An AMO (or sc) emulate_store performs in the core stores and returns
    in rd what the pager's Python path does, for operands of either sign."""
    host, vm = machine
    gva, data = (2 << 30) | (3 << 21) | (4 << 12) | 0x40, vm.ram_base + (200 << 12)
    insn = (AMO_FUNCT5[name] << 27) | (11 << 20) | (10 << 15) | ((2 if size == 4 else 3) << 12) | (12 << 7) | 0x2F
    values = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_2345_6789, (1 << 63) | 5, (1 << 64) - 1]
    for old in values:
        for operand in values[::3]:
            outcomes = []
            for in_core in (True, False):
                root, leaf_gpa = three_level_map(vm, gva, data, PTE_V | PTE_R | PTE_W)
                vm.write(data | 0x40, old.to_bytes(8, "little"))
                pager = ShadowPager(vm)
                pager._store_in_core = in_core
                pager.set_guest_satp((SATP_MODE_SV39 << 60) | (root >> 12))
                host.core.set_x(10, gva)
                host.core.set_x(11, operand)
                host.core.set_x(12, 0xDEAD)
                try:
                    outcome = pager.emulate_store(insn, 1, False, False)
                finally:
                    pager.close()
                outcomes.append((outcome, read64(vm, data | 0x40), host.core.get_x(12), read64(vm, leaf_gpa)))
            assert outcomes[0] == outcomes[1], (name, size, hex(old), hex(operand))
            assert outcomes[0][0] == "stored"


@pytest.mark.parametrize("user_split", [False, True])
def test_hidden_faults_in_the_core_fill_as_the_pager_does(machine, user_split):
    """Load, fetch and store faults under a leaf table the tree has already
    (what the core handles itself): the guest's A and D bits, the shadow
    leaves and the counters as the pager's Python path leaves them."""
    host, vm = machine
    base, data = (2 << 30) | (3 << 21), vm.ram_base + (200 << 12)
    results = []
    for in_core in (True, False):
        root, _ = three_level_map(vm, base, data, PTE_V | PTE_R | PTE_W)
        low = table_gpa(vm, 2)
        for n, flags in enumerate([PTE_R | PTE_W, PTE_R | PTE_W, PTE_R | PTE_X | PTE_A, PTE_R | PTE_W | PTE_U,
                                   PTE_X]):
            pte = (((data + n * PAGE) >> 12) << 10) | PTE_V | flags
            vm.write(low + 8 * n, pte.to_bytes(8, "little"))
        pager = ShadowPager(vm, user_split=user_split)
        pager._store_in_core = in_core
        pager.set_guest_satp((SATP_MODE_SV39 << 60) | (root >> 12))
        def store(gva, sum_=False):    # sd a1, 0(a0) faulting at gva
            host.core.set_x(10, gva)
            return pager.handle_page_fault(15, gva, 1, sum_, False, SD_A1_0_A0)
        try:
            outcomes = [pager.handle_page_fault(13, base, 1, False, False),       # makes the leaf table
                        store(base + PAGE),                                        # D clear: set
                        pager.handle_page_fault(12, base + 2 * PAGE, 1, False, False),
                        store(base + 3 * PAGE, True),                              # U page, SUM
                        pager.handle_page_fault(13, base + 4 * PAGE, 1, False, True),  # MXR
                        store(base + 2 * PAGE)]                                    # not writable
            results.append((outcomes, pager.fault_cause,
                            [read64(vm, low + 8 * n) for n in range(5)],
                            [pager.shadow_leaf(base + n * PAGE) for n in range(5)], dict(pager.counters)))
        finally:
            pager.close()
    assert results[0] == results[1]
    outcomes, _, guest_ptes, leaves, _ = results[0]
    assert outcomes == ["hidden"] * 5 + ["guest"]
    assert guest_ptes[1] & (PTE_A | PTE_D) == PTE_A | PTE_D
    assert leaves[1][1] & PTE_W                                   # the store's page writable

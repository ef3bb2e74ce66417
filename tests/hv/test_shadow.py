"""pyvmm.hv.shadow: shadow page tables on the real core at V=0.

A fake VM holds "guest memory" in host frames deliberately out of order (GPA
page n is not host page n), the guest's page tables are built there by the
test, and small snippets run in S- or U-mode on a real pyvmm._core.Core with
satp = pager.root_satp(). Page faults leave the loop (exit_on_exception) and
go to the pager, as a hypervisor would send them.
"""

import random

import pytest

from pyvmm._core import Core
from pyvmm.asm import assemble
from pyvmm.hv.shadow import (
    PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, SUPERPAGE_FILL_PAGES, ShadowPager,
)

HOST_BASE = 0x8000_0000
HOST_SIZE = 16 << 20
GUEST_BASE = 0x8000_0000
GUEST_PAGES = 1024                     # 4 MiB: room for one 2 MiB guest superpage
UART_GPA = 0x1000_0000
PAGE = 4096

CSR_SSTATUS, CSR_SATP = 0x100, 0x180
SSTATUS_SUM, SSTATUS_MXR = 1 << 18, 1 << 19
EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP = 1, 2, 3
ECALL_CAUSES = (8, 9)
RWX = PTE_R | PTE_W | PTE_X
SV39, SV48 = 8, 9

CODE_GVA = 0x4000_0000                 # where every snippet runs (guest-virtual)


class Frames:
    """The host's frame allocator contract: alloc(n, align) -> HPA, free(hpa, n)."""

    def __init__(self, base, size):
        self.free_list = list(range(base, base + size, PAGE))
        self.used = set()

    def alloc(self, n=1, align=1):
        assert n == 1 and align == 1
        hpa = self.free_list.pop(0)
        self.used.add(hpa)
        return hpa

    def free(self, hpa, n=1):
        assert hpa in self.used, f"{hpa:#x} freed but not allocated"
        self.used.remove(hpa)
        self.free_list.insert(0, hpa)


class Host:
    def __init__(self):
        self.core = Core(ram_size=HOST_SIZE, ram_base=HOST_BASE)
        self.frames = Frames(HOST_BASE, HOST_SIZE)
        core = self.core
        core.write_csr(0x3B0, (1 << 54) - 1)          # pmpaddr0: everything
        core.write_csr(0x3A0, 0x1F)                   # pmpcfg0: NAPOT RWX
        core.exit_on_exception = (1 << 24) - 1


class FakeVM:
    def __init__(self, host, seed=7):
        self.host = host
        hpas = [host.frames.alloc() for _ in range(GUEST_PAGES)]
        random.Random(seed).shuffle(hpas)
        self.page_hpa = hpas
        self.mmio_accesses = []

    def gpa_to_hpa(self, gpa):
        index = (gpa - GUEST_BASE) // PAGE
        if gpa < GUEST_BASE or index >= GUEST_PAGES:
            return None
        return self.page_hpa[index] | (gpa & (PAGE - 1))

    def read(self, gpa, n):
        assert (gpa & (PAGE - 1)) + n <= PAGE
        return bytes(self.host.core.read_mem(self.gpa_to_hpa(gpa), n))

    def write(self, gpa, data):
        assert (gpa & (PAGE - 1)) + len(data) <= PAGE
        self.host.core.write_mem(self.gpa_to_hpa(gpa), bytes(data))

    def is_mmio(self, gpa):
        return UART_GPA <= gpa < UART_GPA + PAGE

    def mmio_window(self, gpa):
        assert self.is_mmio(gpa)
        return gpa                     # no host RAM nor native device there


class Guest:
    """A guest's memory and its page tables, built the way a guest kernel would."""

    def __init__(self, vm, mode=SV39):
        self.vm = vm
        self.mode = mode
        self.levels = 3 if mode == SV39 else 4
        self.next_page = GUEST_BASE + 16 * PAGE      # GPAs below are for the test's fixed uses
        self.root = self.page()

    def page(self):
        gpa = self.next_page
        self.next_page += PAGE
        self.vm.write(gpa, bytes(PAGE))
        return gpa

    def satp(self, asid=0, root=None):
        return (self.mode << 60) | (asid << 44) | ((root or self.root) >> 12)

    def pte_gpa(self, gva, level=0, root=None, create=True):
        table = root or self.root
        for lv in range(self.levels - 1, level, -1):
            entry = table + ((gva >> (12 + 9 * lv)) & 0x1FF) * 8
            pte = self.read64(entry)
            if not pte & PTE_V:
                if not create:
                    return None
                child = self.page()
                self.write64(entry, ((child >> 12) << 10) | PTE_V)
                pte = self.read64(entry)
            table = ((pte >> 10) & ((1 << 44) - 1)) << 12
        return table + ((gva >> (12 + 9 * level)) & 0x1FF) * 8

    def map(self, gva, gpa, flags, level=0, root=None):
        entry = self.pte_gpa(gva, level, root)
        self.write64(entry, ((gpa >> 12) << 10) | flags | PTE_V)
        return entry

    def read64(self, gpa):
        return int.from_bytes(self.vm.read(gpa, 8), "little")

    def write64(self, gpa, value):
        self.vm.write(gpa, value.to_bytes(8, "little"))

    def code(self, source, gva=CODE_GVA, flags=PTE_R | PTE_X, gpa=None):
        data = b"".join(s.data for s in assemble(source).sections if s.name == ".text")
        gpa = gpa or self.page()
        self.vm.write(gpa, data)
        self.map(gva, gpa, flags)
        return gpa


class Run:
    """Run the core under the pager until an ecall, a guest fault or an MMIO exit."""

    def __init__(self, host, pager, guest_priv=1, real_priv=None, sum=False, mxr=False):
        self.core = host.core
        self.pager = pager
        self.guest_priv = guest_priv
        self.real_priv = guest_priv if real_priv is None else real_priv
        self.sum, self.mxr = sum, mxr
        self.outcomes = []

    def __call__(self, pc=CODE_GVA, regs=None, budget=10_000):
        core = self.core
        core.write_csr(CSR_SATP, self.pager.root_satp(self.guest_priv))
        status = core.read_csr(CSR_SSTATUS) & ~(SSTATUS_SUM | SSTATUS_MXR)
        if self.real_priv == self.guest_priv:       # real VS-like modes: the guest's SUM/MXR apply
            status |= (SSTATUS_SUM if self.sum else 0) | (SSTATUS_MXR if self.mxr else 0)
        core.write_csr(CSR_SSTATUS, status)
        core.priv = self.real_priv
        core.pc = pc
        # what a trap-emulate policy does when the guest writes sstatus
        self.pager.set_guest_status(sum=self.sum, mxr=self.mxr)
        for reg, value in (regs or {}).items():
            core.set_x(reg, value)
        for _ in range(100):
            reason = core.run(budget)
            if reason == EXIT_MMIO:
                return "mmio"
            assert reason == EXIT_TRAP, f"exit {reason} at pc {core.pc:#x}"
            cause = core.exit_cause
            if cause in ECALL_CAUSES:
                return "ecall"
            assert cause in (12, 13, 15), f"unexpected trap {cause} at {core.exit_pc:#x}"
            outcome = self.pager.handle_page_fault(cause, core.exit_tval, self.guest_priv,
                                                   self.sum, self.mxr, core.exit_insn)
            self.outcomes.append(outcome)
            if outcome == "guest":
                return "guest"
            assert outcome in ("hidden", "emulated", "mmio")
        raise AssertionError("no progress")


A0, A1, A2, A3, T0, T1, S1 = 10, 11, 12, 13, 5, 6, 9


@pytest.fixture
def host():
    return Host()


@pytest.fixture
def vm(host):
    return FakeVM(host)


def shadow_walk(core, satp, gva):
    """The shadow's translation of gva read straight from host memory (an
    independent Sv39/Sv48 reader): (hpa, leaf PTE) or None."""
    levels = 4 if satp >> 60 == SV48 else 3
    table = (satp & ((1 << 44) - 1)) << 12
    for level in range(levels - 1, -1, -1):
        pte = int.from_bytes(core.read_mem(table + ((gva >> (12 + 9 * level)) & 0x1FF) * 8, 8),
                             "little")
        if not pte & PTE_V:
            return None
        table = ((pte >> 10) & ((1 << 44) - 1)) << 12
        if pte & RWX:
            assert level == 0, "the pager fills 4 KiB leaves only"
            return table | (gva & 0xFFF), pte
    return None


LOAD_ADD_STORE = """
    ld a1, 0(a0)
    addi a1, a1, 5
    sd a1, 8(a0)
    ecall
"""


def test_lazy_fills_translate_through_out_of_order_frames(host, vm):
    guest = Guest(vm)
    guest.code(LOAD_ADD_STORE)
    data_gpa = guest.page()
    data_pte = guest.map(0x4000_5000, data_gpa, PTE_R | PTE_W)
    guest.write64(data_gpa, 37)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    assert run(regs={A0: 0x4000_5000}) == "ecall"
    assert guest.read64(data_gpa + 8) == 42
    # fetch, load (read-only: D clear), then the store faults again to set D
    assert run.outcomes == ["hidden", "hidden", "hidden"]
    c = pager.counters
    assert (c["hidden_faults"], c["shadow_fills"], c["guest_faults"], c["wp_traps"]) == (3, 3, 0, 0)
    assert c["shadow_pages"] == 3                    # Sv39: root + two lower tables
    hpa, leaf = shadow_walk(host.core, pager.root_satp(), 0x4000_5008)
    assert hpa == vm.gpa_to_hpa(data_gpa + 8)
    assert leaf & PTE_W and not leaf & PTE_U
    # run again: everything is filled, no more faults
    run.outcomes.clear()
    assert run(regs={A0: 0x4000_5000}) == "ecall"
    assert run.outcomes == []
    assert guest.read64(data_gpa + 8) == 42
    assert guest.read64(data_pte) & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_shadow_frames_are_never_guest_memory(host, vm):
    guest = Guest(vm)
    guest.code(LOAD_ADD_STORE)
    guest.map(0x4000_5000, guest.page(), PTE_R | PTE_W | PTE_D | PTE_A)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    Run(host, pager)(regs={A0: 0x4000_5000})
    guest_frames = set(vm.page_hpa)
    shadow_frames = host.frames.used - guest_frames
    assert len(shadow_frames) == pager.counters["shadow_pages"] == 3
    assert (pager.root_satp() & ((1 << 44) - 1)) << 12 in shadow_frames
    pager.close()
    assert host.frames.used == guest_frames


def test_accessed_and_dirty_bits_as_hardware_sets_them(host, vm):
    guest = Guest(vm)
    code_pte = guest.pte_gpa(CODE_GVA)
    guest.code("ld a1, 0(a0)\n ecall\n")
    clean = guest.map(0x4000_6000, guest.page(), PTE_R | PTE_W)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    assert run(regs={A0: 0x4000_6000}) == "ecall"
    assert guest.read64(code_pte) & (PTE_A | PTE_D) == PTE_A
    assert guest.read64(clean) & (PTE_A | PTE_D) == PTE_A        # a load: A only
    _, leaf = shadow_walk(host.core, pager.root_satp(), 0x4000_6000)
    assert not leaf & PTE_W                                        # until the guest's D is set


def test_dirty_writable_page_is_filled_writable_on_a_load(host, vm):
    guest = Guest(vm)
    guest.code("ld a1, 0(a0)\n sd a1, 8(a0)\n ecall\n")
    guest.map(0x4000_6000, guest.page(), PTE_R | PTE_W | PTE_A | PTE_D)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    assert run(regs={A0: 0x4000_6000}) == "ecall"
    assert run.outcomes == ["hidden", "hidden"]                  # fetch and load; the store did not fault


@pytest.mark.parametrize("source, cause, gva", [
    ("ld a1, 0(a0)\n ecall", 13, 0x4000_7000),                   # unmapped
    ("sd a1, 0(a0)\n ecall", 15, 0x4000_8000),                   # read-only
    ("jalr a0\n ecall", 12, 0x4000_9000),                        # not executable
    ("ld a1, 0(a0)\n ecall", 13, 0x0000_0040_0000_0000),         # not canonical in Sv39
])
def test_true_guest_faults(host, vm, source, cause, gva):
    guest = Guest(vm)
    guest.code(source)
    guest.map(0x4000_8000, guest.page(), PTE_R | PTE_A | PTE_D)
    guest.map(0x4000_9000, guest.page(), PTE_R | PTE_W | PTE_A | PTE_D)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    assert run(regs={A0: gva}) == "guest"
    assert (pager.fault_cause, pager.fault_tval) == (cause, gva)
    assert pager.counters["guest_faults"] == 1
    assert host.core.exit_tval == gva


def test_guest_user_cannot_touch_guest_kernel_pages_without_split(host, vm):
    guest = Guest(vm)
    guest.code("ld a1, 0(a0)\n ecall", flags=PTE_R | PTE_X | PTE_U)
    guest.map(0x4000_5000, guest.page(), PTE_R | PTE_W)          # kernel page
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager, guest_priv=0)
    assert run(regs={A0: 0x4000_5000}) == "guest"
    assert pager.fault_cause == 13
    _, leaf = shadow_walk(host.core, pager.root_satp(0), CODE_GVA)
    assert leaf & PTE_U                                            # the guest's own U bit


PTE_STORES = {
    "sd": ".option norvc\n sd s1, 0(a2)\n",
    "c.sd": "c.sd s1, 0(a2)\n",
    "sw": ".option norvc\n sw s1, 0(a2)\n",                      # low word of the PTE
    "amoswap.d": "amoswap.d t0, s1, (a2)\n",
    "amoor.d": "amoor.d t0, s1, (a2)\n",
}


@pytest.mark.parametrize("store", sorted(PTE_STORES))
def test_guest_pte_store_is_emulated_and_keeps_the_shadow_coherent(host, vm, store):
    guest = Guest(vm)
    first, second = GUEST_BASE + 0x40 * PAGE, GUEST_BASE + 0x41 * PAGE   # one PPN bit apart
    guest.write64(first, 111)
    guest.write64(second, 222)
    target = 0x4000_5000
    target_pte = guest.map(target, first, PTE_R | PTE_A)
    # the kernel maps its own page table (the leaf table holding target_pte) writable
    guest.map(0x4010_0000, target_pte & ~0xFFF, PTE_R | PTE_W | PTE_A | PTE_D)
    pte_gva = 0x4010_0000 + (target_pte & 0xFFF)
    guest.code("ld a1, 0(a0)\n" + PTE_STORES[store] + "ld a0, 0(a0)\n ecall\n")
    new_pte = ((second >> 12) << 10) | PTE_V | PTE_R | PTE_A
    if store == "amoor.d":
        new_pte = ((first ^ second) >> 12) << 10                 # or-ing turns first into second
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    old_pte = guest.read64(target_pte)
    assert run(regs={A0: target, A2: pte_gva, S1: new_pte}) == "ecall"
    assert host.core.get_x(A1) == 111
    assert host.core.get_x(A0) == 222                              # no sfence needed: coherent at once
    assert "emulated" in run.outcomes
    assert pager.counters["wp_traps"] == 1
    assert pager.counters["invalidations"] >= 1
    if store.startswith("amo"):
        assert host.core.get_x(T0) == old_pte                       # rd gets the old PTE
    assert guest.read64(target_pte) & ~(PTE_A | PTE_D) == ((second >> 12) << 10) | PTE_V | PTE_R
    pte_of_table = guest.pte_gpa(0x4010_0000)
    assert guest.read64(pte_of_table) & PTE_D                         # the emulated store dirtied it


def test_a_dropped_leaf_leaves_the_tlb_only_for_its_own_page(host, vm):
    guest = Guest(vm)
    first, second, other = guest.page(), guest.page(), guest.page()
    for gpa, value in ((first, 111), (second, 222), (other, 333)):
        guest.write64(gpa, value)
    target, other_gva = 0x4000_5000, 0x4000_6000
    target_pte = guest.map(target, first, PTE_R | PTE_A)
    guest.map(other_gva, other, PTE_R | PTE_A)
    guest.code("ld a1, 0(a0)\n ld a2, 0(a2)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)

    def walks_of_a_run(expected):
        walks = host.core.stats()["page_walks"]
        assert run(regs={A0: target, A2: other_gva}) == "ecall"
        assert (host.core.get_x(A1), host.core.get_x(A2)) == expected
        return host.core.stats()["page_walks"] - walks

    walks_of_a_run((111, 333))              # the code, target and other in the TLB
    flushes = pager.counters["tlb_flushes"]
    guest.write64(target_pte, ((second >> 12) << 10) | PTE_V | PTE_R | PTE_A)
    assert pager.invalidate_gpa(target_pte, 8) == 1
    assert pager.counters["tlb_flushes"] == flushes + 1
    page_flush = walks_of_a_run((222, 333))
    # the same change again, then everything flushed: the code page and
    # other_gva are walked again too
    guest.write64(target_pte, ((first >> 12) << 10) | PTE_V | PTE_R | PTE_A)
    assert pager.invalidate_gpa(target_pte, 8) == 1
    host.core.flush_tlb()
    assert walks_of_a_run((111, 333)) == page_flush + 2


def test_a_page_flush_names_the_canonical_address_of_an_aliased_leaf_table(host, vm):
    guest = Guest(vm)
    guest.code("ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    Run(host, pager)()
    tree = next(iter(pager._trees.values()))
    # bit 38 set without the bits above: not an Sv39 address, but it indexes
    # the root as 0xffffffc000000000 does, so both keys name one leaf table
    alias, canonical = 0x40_0020_0000, 0xFFFF_FFC0_0020_0000
    slot = pager._leaf_slot(tree, canonical, create=True)
    assert pager._leaf_slot(tree, alias, create=True) == slot     # named last
    assert tree.leaf_tables[alias >> 21] == tree.leaf_tables[canonical >> 21]
    assert pager._maps.gvas_of([slot + 8]) == [canonical + PAGE]


def target_and_its_table(guest, target_gpa):
    """A read-only page at 0x4000_5000 on target_gpa, and the leaf table
    holding its PTE mapped writable at 0x4010_0000 (a kernel mapping its own
    page tables): (the target's address, its PTE's GPA, the table's address)."""
    target, table_gva = 0x4000_5000, 0x4010_0000
    target_pte = guest.map(target, target_gpa, PTE_R | PTE_A)
    guest.map(table_gva, target_pte & ~0xFFF, PTE_R | PTE_W | PTE_A | PTE_D)
    return target, target_pte, table_gva


def test_page_table_page_mapped_writable_earlier_is_write_protected(host, vm):
    guest = Guest(vm)
    target, _, table_gva = target_and_its_table(guest, guest.page())
    guest.code("ld a1, 0(a2)\n ld a1, 0(a0)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    # first the table page is touched as data (filled writable), then used by a walk
    assert run(regs={A0: target, A2: table_gva}) == "ecall"
    _, leaf = shadow_walk(host.core, pager.root_satp(), table_gva)
    assert not leaf & PTE_W


def test_a_page_becoming_a_page_table_loses_its_store_entry_in_the_tlb(host, vm):
    guest = Guest(vm)
    first, second = guest.page(), guest.page()
    guest.write64(first, 111)
    guest.write64(second, 222)
    target, target_pte, table_gva = target_and_its_table(guest, first)
    # a store to the table page while it is plain data (a writable TLB
    # entry), a walk through it, then a store of target's PTE through the
    # same page, which the pager must see
    guest.code("sd zero, 0x7f8(a2)\n ld a1, 0(a0)\n sd s1, 0(a3)\n ld a0, 0(a0)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    new_pte = ((second >> 12) << 10) | PTE_V | PTE_R | PTE_A
    assert run(regs={A0: target, A2: table_gva, A3: table_gva + (target_pte & 0xFFF),
                     S1: new_pte}) == "ecall"
    assert (host.core.get_x(A1), host.core.get_x(A0)) == (111, 222)
    assert "emulated" in run.outcomes


def test_unknown_store_to_a_page_table_unprotects_the_page(host, vm):
    guest = Guest(vm)
    target = 0x4000_5000
    target_pte = guest.map(target, guest.page(), PTE_R | PTE_A)
    table_gva = 0x4060_0000                     # its own PTE is in another table page
    guest.map(table_gva, target_pte & ~0xFFF, PTE_R | PTE_W | PTE_A | PTE_D)
    guest.code("ld a1, 0(a0)\n ld a1, 0(a2)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    assert Run(host, pager)(regs={A0: target, A2: table_gva}) == "ecall"
    # a store the pager cannot decode (the code at pc is no store either):
    # the shadow stops depending on that page instead
    core = host.core
    core.pc = CODE_GVA
    assert pager.handle_page_fault(15, table_gva + 0xFF8, 1, False, False, 0x0000_0013) == "hidden"
    assert pager.counters["unprotects"] == 1
    assert shadow_walk(core, pager.root_satp(), target) is None
    _, leaf = shadow_walk(core, pager.root_satp(), table_gva)
    assert leaf & PTE_W


def test_unknown_store_to_a_self_mapped_table_is_a_store_access_fault(host, vm):
    guest = Guest(vm)
    target_pte = guest.map(0x4000_5000, guest.page(), PTE_R | PTE_A)
    table_gva = 0x4010_0000                     # same leaf table as its own PTE
    guest.map(table_gva, target_pte & ~0xFFF, PTE_R | PTE_W | PTE_A | PTE_D)
    guest.code("ld a1, 0(a2)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    assert Run(host, pager)(regs={A2: table_gva}) == "ecall"
    host.core.pc = CODE_GVA
    assert pager.handle_page_fault(15, table_gva + 0xFF8, 1, False, False, 0x0000_0013) == "guest"
    assert (pager.fault_cause, pager.fault_tval) == (7, table_gva + 0xFF8)


def test_misaligned_store_across_into_a_page_table_page(host, vm):
    guest = Guest(vm)
    target = 0x4000_5000
    target_pte = guest.map(target, guest.page(), PTE_R | PTE_A)
    table = target_pte & ~0xFFF
    before = guest.page()
    guest.map(0x4060_0000, before, PTE_R | PTE_W | PTE_A | PTE_D)
    guest.map(0x4060_1000, table, PTE_R | PTE_W | PTE_A | PTE_D)
    guest.code("ld a1, 0(a0)\n sd s1, 0(a2)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    pager.handle_page_fault(15, 0x4060_0FFC, 1, False, False, 0)   # fill the first half's page
    Run(host, pager)(regs={A0: target})
    insn = 0x00963023                                                # sd s1, 0(a2)
    host.core.set_x(S1, 0x1122_3344_5566_7788)
    host.core.set_x(A2, 0x4060_0FFC)
    host.core.pc = CODE_GVA + 4
    # the hart reports the half that faulted: the page-table page
    assert pager.handle_page_fault(15, 0x4060_1000, 1, False, False, insn) == "emulated"
    assert vm.read(before + 0xFFC, 4) == bytes.fromhex("88776655")
    assert vm.read(table, 4) == bytes.fromhex("44332211")
    assert host.core.pc == CODE_GVA + 8


def test_sfence_drops_entries(host, vm):
    guest = Guest(vm)
    first, second = guest.page(), guest.page()
    guest.write64(first, 1)
    guest.write64(second, 2)
    target_pte = guest.map(0x4000_5000, first, PTE_R | PTE_A)
    guest.code("ld a1, 0(a0)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    run(regs={A0: 0x4000_5000})
    assert host.core.get_x(A1) == 1
    # changed behind the pager's back (a DMA, a debugger): only the sfence makes it visible
    host.core.write_mem(vm.gpa_to_hpa(target_pte),
                        ((((second >> 12) << 10) | PTE_V | PTE_R | PTE_A)).to_bytes(8, "little"))
    run(regs={A0: 0x4000_5000})
    assert host.core.get_x(A1) == 1
    pager.sfence(0x4000_5000)
    assert shadow_walk(host.core, pager.root_satp(), CODE_GVA) is not None    # only that page
    run(regs={A0: 0x4000_5000})
    assert host.core.get_x(A1) == 2
    fills = pager.counters["shadow_fills"]
    pager.sfence()
    assert shadow_walk(host.core, pager.root_satp(), CODE_GVA) is None
    assert pager.counters["shadow_pages"] == 1                      # the root stays
    run(regs={A0: 0x4000_5000})
    assert pager.counters["shadow_fills"] == fills + 2
    assert pager.counters["flushes"] == 2


def test_sfence_with_another_asid_keeps_this_space(host, vm):
    guest = Guest(vm)
    guest.code("ld a1, 0(a0)\n ecall\n")
    guest.map(0x4000_5000, guest.page(), PTE_R | PTE_A)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp(asid=3))
    Run(host, pager)(regs={A0: 0x4000_5000})
    pager.sfence(asid=4)
    assert shadow_walk(host.core, pager.root_satp(), CODE_GVA) is not None
    pager.sfence(asid=3)
    assert shadow_walk(host.core, pager.root_satp(), CODE_GVA) is None


def test_ring_compression_under_user_split(host, vm):
    guest = Guest(vm)
    secret_gpa, user_gpa = guest.page(), guest.page()
    guest.write64(secret_gpa, 0x5EC2E7)
    guest.write64(user_gpa, 0x05E2)
    guest.map(0x4000_5000, secret_gpa, PTE_R | PTE_W | PTE_A | PTE_D)       # guest kernel data
    guest.map(0x4000_6000, user_gpa, PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)  # guest user data
    guest.code("ld a1, 0(a0)\n ecall\n", gva=CODE_GVA)
    guest.code("ld a1, 0(a0)\n ecall\n", gva=0x4000_1000, flags=PTE_R | PTE_X | PTE_U)
    pager = ShadowPager(vm, user_split=True)
    pager.set_guest_satp(guest.satp())
    assert pager.root_satp(0) != pager.root_satp(1)
    kernel = Run(host, pager, guest_priv=1, real_priv=0)             # guest S in real U-mode
    user = Run(host, pager, guest_priv=0, real_priv=0)
    assert kernel(regs={A0: 0x4000_5000}) == "ecall"
    assert host.core.get_x(A1) == 0x5EC2E7
    # the guest kernel's translation is in its tree, yet guest user code cannot use it
    assert user(pc=0x4000_1000, regs={A0: 0x4000_5000}) == "guest"
    assert pager.fault_cause == 13
    assert shadow_walk(host.core, pager.root_satp(0), 0x4000_5000) is None
    assert user(pc=0x4000_1000, regs={A0: 0x4000_6000}) == "ecall"
    assert host.core.get_x(A1) == 0x05E2
    # guest kernel to guest user page: only with SUM, and never executing it
    assert kernel(regs={A0: 0x4000_6000}) == "guest"
    kernel.sum = True
    assert kernel(regs={A0: 0x4000_6000}) == "ecall"
    assert host.core.get_x(A1) == 0x05E2
    kernel.sum = False
    assert kernel(regs={A0: 0x4000_6000}) == "guest"                 # SUM cleared: the entry went
    assert kernel(pc=0x4000_1000) == "guest"
    assert pager.fault_cause == 12


def test_mxr_under_user_split(host, vm):
    guest = Guest(vm)
    guest.code("ld a1, 0(a0)\n ecall\n")
    exec_only = guest.code("nop\n", gva=0x4000_3000, flags=PTE_X | PTE_A)
    pager = ShadowPager(vm, user_split=True)
    pager.set_guest_satp(guest.satp())
    kernel = Run(host, pager, guest_priv=1, real_priv=0)
    assert kernel(regs={A0: 0x4000_3000}) == "guest"
    kernel.mxr = True
    assert kernel(regs={A0: 0x4000_3000}) == "ecall"
    assert host.core.get_x(A1) & 0xFFFF == int.from_bytes(vm.read(exec_only, 2), "little")
    kernel.mxr = False
    assert kernel(regs={A0: 0x4000_3000}) == "guest"


def test_bare_guest_maps_gpa_to_hpa_and_mmio_windows(host, vm):
    code_gpa = GUEST_BASE + 3 * PAGE
    source = "ld a1, 0(a0)\n sd a1, 8(a0)\n sb a1, 0(a2)\n ecall\n"
    vm.write(code_gpa, b"".join(s.data for s in assemble(source).sections if s.name == ".text"))
    data_gpa = GUEST_BASE + 5 * PAGE
    vm.write(data_gpa, (77).to_bytes(8, "little"))
    pager = ShadowPager(vm)
    pager.set_guest_satp(0)
    assert pager.root_satp() >> 60 == SV39
    run = Run(host, pager)
    assert run(pc=code_gpa, regs={A0: data_gpa, A2: UART_GPA + 5}) == "mmio"
    assert int.from_bytes(vm.read(data_gpa + 8, 8), "little") == 77
    assert run.outcomes == ["hidden", "hidden", "mmio"]
    core = host.core
    assert (core.exit_addr, core.exit_data & 0xFF) == (UART_GPA + 5, 77)
    assert pager.counters["mmio_fills"] == 1
    # guest-physical addresses that are neither RAM nor device: the guest's access fault
    assert run(pc=code_gpa, regs={A0: 0x2000_0000}) == "guest"
    assert pager.fault_cause == 5


@pytest.mark.parametrize("user_split", [False, True])
def test_bare_guest_page_follows_the_privilege_that_uses_it(host, vm, user_split):
    code_gpa = GUEST_BASE + 3 * PAGE
    vm.write(code_gpa, b"".join(s.data for s in assemble("ecall\n").sections if s.name == ".text"))
    pager = ShadowPager(vm, user_split=user_split)
    pager.set_guest_satp(0)
    assert pager.root_satp(0) == pager.root_satp(1)                 # one tree: Bare protects nothing
    kernel = Run(host, pager, guest_priv=1, real_priv=0 if user_split else 1)
    user = Run(host, pager, guest_priv=0, real_priv=0)
    for _ in range(2):
        assert kernel(pc=code_gpa) == "ecall"
        assert user(pc=code_gpa) == "ecall"
    _, leaf = shadow_walk(host.core, pager.root_satp(), code_gpa)
    assert leaf & PTE_U
    expected_faults = 1 if user_split else 4                         # without split the U bit flips
    assert pager.counters["hidden_faults"] == expected_faults


def test_superpage_is_shadowed_with_4k_leaves(host, vm):
    guest = Guest(vm)
    big_gpa = GUEST_BASE + (2 << 20)                                  # 2 MiB aligned
    vm.write(big_gpa + 0x1000, (0xAA).to_bytes(8, "little"))
    vm.write(big_gpa + 0x1F_F000, (0xBB).to_bytes(8, "little"))
    big_pte = guest.map(0x4020_0000, big_gpa, PTE_R | PTE_W, level=1)
    guest.code("ld a1, 0(a0)\n ld a2, 0(a2)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    assert run(regs={A0: 0x4020_1000, A2: 0x403F_F000}) == "ecall"
    assert (host.core.get_x(A1), host.core.get_x(A2)) == (0xAA, 0xBB)
    assert pager.counters["shadow_fills"] == 3
    assert guest.read64(big_pte) & PTE_A
    assert shadow_walk(host.core, pager.root_satp(), 0x4020_2000) is None   # lazily, page by page


def test_misaligned_superpage_is_a_guest_fault(host, vm):
    guest = Guest(vm)
    guest.map(0x4020_0000, GUEST_BASE + (2 << 20) + PAGE, PTE_R, level=1)
    guest.code("ld a1, 0(a0)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    assert Run(host, pager)(regs={A0: 0x4020_0000}) == "guest"
    assert pager.fault_cause == 13


def test_sv48_guest(host, vm):
    guest = Guest(vm, mode=SV48)
    high = 0x0000_5000_0000_3000                                      # beyond Sv39's reach
    data = guest.page()
    guest.write64(data, 48)
    guest.map(high, data, PTE_R | PTE_A)
    guest.code("ld a1, 0(a0)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    assert pager.root_satp() >> 60 == SV48
    assert Run(host, pager)(regs={A0: high}) == "ecall"
    assert host.core.get_x(A1) == 48
    assert pager.counters["shadow_pages"] == 1 + 3 + 3               # root, the code path, the data path


def test_shadow_roots_are_cached_per_guest_satp(host, vm):
    guest = Guest(vm)
    guest.code("ld a1, 0(a0)\n ecall\n")
    guest.map(0x4000_5000, guest.page(), PTE_R | PTE_A)
    other_root = guest.page()
    guest.write64(other_root + 8 * 1, guest.read64(guest.root + 8 * 1))   # share the 1 GiB slot
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp(asid=1))
    run = Run(host, pager)
    run(regs={A0: 0x4000_5000})
    first_root = pager.root_satp()
    pager.set_guest_satp(guest.satp(asid=2, root=other_root))
    assert pager.root_satp() != first_root
    run(regs={A0: 0x4000_5000})
    fills = pager.counters["shadow_fills"]
    pager.set_guest_satp(guest.satp(asid=1))
    assert pager.root_satp() == first_root
    run(regs={A0: 0x4000_5000})
    assert pager.counters["shadow_fills"] == fills                     # nothing rebuilt
    assert pager.counters["spaces"] == 3                               # with the Bare one of boot


def test_old_spaces_are_evicted_and_their_frames_freed(host, vm):
    guest = Guest(vm)
    pager = ShadowPager(vm, max_spaces=2)
    roots = [guest.page() for _ in range(3)]
    for root in roots:
        pager.set_guest_satp(guest.satp(root=root))
        pager.root_satp()
    assert pager.counters["spaces"] == 2
    assert pager.counters["evictions"] == 2                          # the Bare space of boot, then roots[0]
    assert pager.counters["shadow_pages"] == 2
    pager.close()
    assert pager.counters["shadow_pages"] == 0
    assert host.frames.used == set(vm.page_hpa)


def test_unsupported_satp_mode_is_ignored(host, vm):
    guest = Guest(vm)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    pager.set_guest_satp((10 << 60) | 5)                                # Sv57: not implemented
    assert pager.guest_satp == guest.satp()


def test_two_pagers_on_one_host_never_share_an_asid(host, vm):
    other = FakeVM(host, seed=8)
    a, b = ShadowPager(vm), ShadowPager(other)
    asid = lambda satp: (satp >> 44) & 0xFFFF                           # noqa: E731
    assert asid(a.root_satp()) != asid(b.root_satp())
    assert 0 not in (asid(a.root_satp()), asid(b.root_satp()))


def test_handle_page_fault_rejects_other_causes(host, vm):
    with pytest.raises(ValueError):
        ShadowPager(vm).handle_page_fault(2, 0, 1, False, False, 0)


@pytest.mark.parametrize("source, size, base, offset, rs2", [
    ("sb a5, -3(a4)", 1, 14, -3, 15),
    ("sh a5, 2046(a4)", 2, 14, 2046, 15),
    ("sw t6, -2048(sp)", 4, 2, -2048, 31),
    ("sd s1, 0(a2)", 8, 12, 0, 9),
    ("c.sw a5, 124(a4)", 4, 14, 124, 15),
    ("c.sw s0, 4(s1)", 4, 9, 4, 8),
    ("c.sd a5, 248(a4)", 8, 14, 248, 15),
    ("c.sd a0, 8(s0)", 8, 8, 8, 10),
    ("c.swsp t1, 252(sp)", 4, 2, 252, 6),
    ("c.sdsp ra, 504(sp)", 8, 2, 504, 1),
    ("c.sdsp s1, 8(sp)", 8, 2, 8, 9),
])
def test_store_decoding_matches_the_assembler(source, size, base, offset, rs2):
    from pyvmm.hv.shadow import _decode_store
    data = b"".join(s.data for s in assemble(".option norvc\n" + source if not source.startswith("c.")
                                              else source).sections if s.name == ".text")
    kind, got_size, got_base, got_offset, got_rs2, _, _, length = _decode_store(
        int.from_bytes(data, "little"))
    assert (kind, got_size, got_base, got_offset, got_rs2, length) == (
        "store", size, base, offset, rs2, len(data))


@pytest.mark.parametrize("source, old, operand, new, rd_value", [
    ("amoadd.w t0, s1, (a2)", 0x7FFF_FFFF, 1, 0x8000_0000, 0x7FFF_FFFF),
    ("amoxor.d t0, s1, (a2)", 0b1100, 0b1010, 0b0110, 0b1100),
    ("amoand.d t0, s1, (a2)", 0b1100, 0b1010, 0b1000, 0b1100),
    ("amomin.w t0, s1, (a2)", 0xFFFF_FFFF, 5, 0xFFFF_FFFF, (1 << 64) - 1),
    ("amomaxu.w t0, s1, (a2)", 0xFFFF_FFFF, 5, 0xFFFF_FFFF, (1 << 64) - 1),
    ("amominu.d t0, s1, (a2)", 3, 9, 3, 3),
    ("amomax.d t0, s1, (a2)", (1 << 64) - 1, 2, 2, (1 << 64) - 1),
    ("lr.d t2, (a2)\n sc.d t0, s1, (a2)", 0, 0xABC, 0xABC, 0),   # reserved: SC succeeds
])
def test_amos_on_page_tables_compute_as_the_spec_says(host, vm, source, old, operand, new, rd_value):
    guest = Guest(vm)
    target_pte = guest.map(0x4000_5000, guest.page(), PTE_R | PTE_A)
    table = target_pte & ~0xFFF
    guest.map(0x4060_0000, table, PTE_R | PTE_W | PTE_A | PTE_D)
    guest.code("ld a1, 0(a0)\n" + source + "\n ecall\n")
    spare = table + 0x800                                             # an invalid PTE slot
    vm.write(spare, old.to_bytes(8, "little"))
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    assert run(regs={A0: 0x4000_5000, A2: 0x4060_0800, S1: operand}) == "ecall"
    assert "emulated" in run.outcomes
    size = 4 if ".w" in source else 8
    assert int.from_bytes(vm.read(spare, size), "little") == new
    assert host.core.get_x(T0) == rd_value


def test_sfence_keeps_coherent_trees_when_asked(host, vm):
    guest = Guest(vm)
    first, second = guest.page(), guest.page()
    guest.write64(first, 1)
    guest.write64(second, 2)
    target_pte = guest.map(0x4000_5000, first, PTE_R | PTE_A)
    guest.map(0x4060_0000, target_pte & ~0xFFF, PTE_R | PTE_W | PTE_A | PTE_D)
    guest.code("ld a1, 0(a0)\n sd s1, 0(a2)\n ld a1, 0(a0)\n sfence.vma\n ecall\n")
    pager = ShadowPager(vm, drop_on_sfence=False)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    new_pte = ((second >> 12) << 10) | PTE_V | PTE_R | PTE_A
    assert run(regs={A0: 0x4000_5000, A2: 0x4060_0000 + (target_pte & 0xFFF), S1: new_pte}) == "ecall"
    assert host.core.get_x(A1) == 2                         # write protection made it coherent
    pager.sfence()
    assert shadow_walk(host.core, pager.root_satp(), CODE_GVA) is not None
    assert pager.counters["flushes"] == 1


def test_watched_page_reports_the_first_store_then_becomes_writable(host, vm):
    guest = Guest(vm)
    code_gpa = guest.code(".option norvc\n ld a1, 0(a0)\n sd s1, 0(a0)\n sd s1, 8(a0)\n ecall\n")
    data = guest.page()
    guest.map(0x4000_5000, data, PTE_R | PTE_W | PTE_A | PTE_D)
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    seen = []
    Run(host, pager)(regs={A0: 0x4000_5000, S1: 0})              # filled writable
    pager.watch_page(data + 0x123, seen.append)
    _, leaf, page = pager.shadow_leaf(0x4000_5000)
    assert page == data and not leaf & PTE_W
    run = Run(host, pager)
    assert run(regs={A0: 0x4000_5000, S1: 9}) == "ecall"
    assert seen == [data]                                          # once: the watch ended
    assert guest.read64(data + 8) == 9
    assert pager.counters["watch_traps"] == 1
    assert pager.shadow_leaf(0x4000_5000)[1] & PTE_W
    assert pager.shadow_leaf(CODE_GVA)[2] == code_gpa


def test_host_page_is_mapped_for_the_kernel_tree_only(host, vm):
    guest = Guest(vm)
    guest.code("ld a1, 0(a0)\n ecall\n")
    host_page = host.frames.alloc()
    host.core.write_mem(host_page, (0x7C).to_bytes(8, "little"))
    pager = ShadowPager(vm, user_split=True)
    pager.set_guest_satp(guest.satp())
    pager.map_host_page(0x7000_0000, host_page, PTE_R | PTE_U, guest_priv=1)
    assert pager.shadow_leaf(0x7000_0000) == (host_page, pager.shadow_leaf(0x7000_0000)[1], None)
    assert pager.shadow_leaf(0x7000_0000, guest_priv=0) is None
    kernel = Run(host, pager, guest_priv=1, real_priv=0)
    assert kernel(regs={A0: 0x7000_0000}) == "ecall"
    assert host.core.get_x(A1) == 0x7C
    pager.sfence()
    assert pager.shadow_leaf(0x7000_0000) is None


def test_linked_host_table_keeps_address_sfence_exact_without_walks(host, vm):
    guest = Guest(vm)
    first, second = guest.page(), guest.page()
    guest.write64(first, 1)
    guest.write64(second, 2)
    guest.map(0x4000_5000, first, PTE_R | PTE_A)
    guest.map(0x4000_6000, second, PTE_R | PTE_A)
    guest.code("ld a1, 0(a0)\n ld t0, 0(s1)\n ecall\n")
    pager = ShadowPager(vm, shadow_levels=5)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    run(regs={A0: 0x4000_5000, S1: 0x4000_6000})
    # A table of the hypervisor's own under a root entry no Sv39 address reaches.
    runtime_gva = 1 << 55
    table = host.frames.alloc()
    host.core.write_mem(table, bytes(PAGE))
    pager.link_host_table(runtime_gva, table)
    tree = pager._tree(pager._space, 1)
    assert tree.leaf_tables_complete          # sfence.vma with an address needs no walk
    pager.sfence(0x4000_5000)
    assert pager.shadow_leaf(0x4000_5000) is None
    assert pager.shadow_leaf(0x4000_6000)[2] == second
    pager.sfence(0x4000_9000)                 # nothing there: nothing dropped
    assert pager.shadow_leaf(0x4000_6000)[2] == second
    assert pager.shadow_leaf(CODE_GVA) is not None
    run(regs={A0: 0x4000_5000, S1: 0x4000_6000})
    assert (host.core.get_x(A1), host.core.get_x(T0)) == (1, 2)


def test_link_epoch_moves_whenever_a_linked_table_may_be_gone(host, vm):
    guest = Guest(vm)
    guest.code("ecall\n")
    pager = ShadowPager(vm, shadow_levels=5)
    pager.set_guest_satp(guest.satp())
    table = host.frames.alloc()
    host.core.write_mem(table, bytes(PAGE))
    pager.link_host_table(1 << 55, table)
    linked = pager.link_epoch
    pager.link_host_table(1 << 55, table)             # already there: nothing moved
    assert pager.link_epoch == linked
    pager.sfence(CODE_GVA)                            # an address: the root entry stays
    assert pager.link_epoch == linked
    pager.sfence()                                    # a tree reset unlinks it
    assert pager.link_epoch != linked
    pager.link_host_table(1 << 55, table)
    linked = pager.link_epoch
    pager.set_guest_satp(guest.satp(asid=1))          # satp written: maybe another space
    assert pager.link_epoch != linked


def test_page_that_stops_holding_page_tables_gets_its_store_right_back(host, vm):
    # A kernel's fixmap: the PTE of a window page lives in a page the kernel
    # also writes as data. While some shadow entry comes from that PTE the
    # page is read-only; once none does (the window's mapping was cleared
    # by an emulated store), its entries are writable again at once.
    guest = Guest(vm)
    window = 0x4040_5000                        # its leaf table holds no other PTE in use
    window_pte = guest.map(window, guest.page(), PTE_R | PTE_W | PTE_A | PTE_D)
    table_gva = 0x4060_0000                     # that leaf table, mapped as data
    guest.map(table_gva, window_pte & ~0xFFF, PTE_R | PTE_W | PTE_A | PTE_D)
    pte_gva = table_gva + (window_pte & 0xFFF)
    guest.code(".option norvc\n ld a1, 0(a2)\n ld a1, 0(a0)\n sd zero, 0(a2)\n"
               " sd s1, 0(a2)\n ecall\n")
    pager = ShadowPager(vm)
    pager.set_guest_satp(guest.satp())
    run = Run(host, pager)
    # the table page is filled writable, protected when the window's walk
    # uses it; the store clearing the window's PTE is emulated, and the
    # next store to the page (setting the window again) runs in the core
    assert run(regs={A0: window, A2: pte_gva, S1: window_pte}) == "ecall"
    assert run.outcomes == ["hidden", "hidden", "hidden", "emulated"]
    assert guest.read64(window_pte) == window_pte
    assert not pager.is_page_table(window_pte)
    assert pager.shadow_leaf(table_gva)[1] & PTE_W


def test_superpage_fill_maps_the_group_around_the_fault_when_asked(host, vm):
    guest = Guest(vm)
    big_gpa = GUEST_BASE + (2 << 20)                                  # 2 MiB aligned
    for page in range(512):
        vm.write(big_gpa + page * PAGE, (page + 1).to_bytes(8, "little"))
    big_pte = guest.map(0x4020_0000, big_gpa, PTE_R | PTE_W | PTE_A | PTE_D, level=1)
    guest.code("ld a1, 0(a0)\n ld a2, 0(a2)\n sd a1, 0(t0)\n ecall\n")
    pager = ShadowPager(vm, fill_superpages=True)
    pager.set_guest_satp(guest.satp())
    watched = big_gpa + 0x5000
    pager.watch_page(watched)                   # (as bt watches the code it translated)
    run = Run(host, pager)
    group = SUPERPAGE_FILL_PAGES
    # the first load fills its group, whose pages the store then finds
    # writable; the second load is in another group
    assert run(regs={A0: 0x4020_1000, A2: 0x4020_0000 + (group + 3) * PAGE,
                     T0: 0x4020_3008}) == "ecall"
    assert (host.core.get_x(A1), host.core.get_x(A2)) == (2, group + 4)
    assert run.outcomes == ["hidden", "hidden", "hidden"]   # the code page, then two groups
    assert pager.counters["shadow_fills"] == 1 + 2 * group
    assert int.from_bytes(vm.read(big_gpa + 0x3008, 8), "little") == 2
    for page in (0, group - 1, group, 2 * group - 1):
        hpa, leaf = shadow_walk(host.core, pager.root_satp(), 0x4020_0000 + page * PAGE)
        assert hpa == vm.gpa_to_hpa(big_gpa + page * PAGE) and leaf & PTE_W
    assert not shadow_walk(host.core, pager.root_satp(), 0x4020_5000)[1] & PTE_W
    assert shadow_walk(host.core, pager.root_satp(), 0x4020_0000 + 2 * group * PAGE) is None
    # the guest's superpage PTE changes: every page filled from it is dropped
    pager.invalidate_gpa(big_pte, 8)
    assert shadow_walk(host.core, pager.root_satp(), 0x4020_0000) is None
    assert pager.counters["invalidations"] == 2 * group

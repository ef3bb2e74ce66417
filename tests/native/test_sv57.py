"""Sv57 (satp MODE 10) and, under H, vsatp Sv57 over hgatp Sv57x4: five-level
walks, leaves at every level, non-canonical addresses, misaligned superpages,
and a two-stage walk with its guest-page fault."""

import pytest

from .h_helpers import GVA, SPV, Guest
from .test_h_mmu import GUEST_PA, GUEST_VA, LOAD_GPF, two_stage
from .test_mmu import A, D, DATA, R, RAM_BASE, U, W, m_trap, reg, run_to_ebreak, user_program

LOAD_PF, STORE_PF = 13, 15
MARKER = 0x5737_0000_00C0_FFEE


def sv57_user(body):
    core, prog, pt = user_program(body, levels=5)
    core.write_mem(DATA + 0x128, MARKER.to_bytes(8, "little"))
    return core, prog, pt


def test_satp_takes_mode_10():
    core, _, pt = sv57_user("")
    assert core.read_csr(0x180) >> 60 == 10


@pytest.mark.parametrize("level,va", [
    (0, 0x2000),                         # 4 KiB
    (1, 0x20_0000),                      # 2 MiB
    (2, 0x4000_0000),                    # 1 GiB
    (3, 0x80_0000_0000),                 # 512 GiB
    (4, 0x1_0000_0000_0000),             # 256 TiB: a leaf in the root, bit 48 set (not Sv48-canonical)
])
def test_a_leaf_at_every_level(level, va):
    # the leaf maps the largest aligned region holding DATA; the marker is read through it
    size = 1 << (12 + 9 * level)
    base = DATA & ~(size - 1)
    core, _, pt = sv57_user("li t0, %d\n ld a0, 0(t0)\n" % (va + (DATA - base) + 0x128))
    pt.map(va, base, U | R | W | A | D, level=level)
    run_to_ebreak(core)
    assert reg(core, "a0") == MARKER
    assert core.stats()["walk_mem_refs"] >= 5 - level


def test_upper_half_is_canonical():
    va = 0xFF00_0000_0000_0000            # bits 63:57 copy bit 56
    core, _, pt = sv57_user("li t0, %d\n ld a0, 0(t0)\n" % (va + DATA + 0x128))
    pt.map(va, 0, U | R | W | A | D, level=4)
    run_to_ebreak(core)
    assert reg(core, "a0") == MARKER


@pytest.mark.parametrize("va", [0x0100_0000_0000_0000, 0x8000_0000_0000_0000, 0xFE00_0000_0000_0000])
def test_non_canonical_addresses_fault(va):
    core, _, pt = sv57_user("li t0, %d\n ld a0, 0(t0)\n" % va)
    if (va >> 48) & 0x1FF:
        pt.map(va & ((1 << 57) - 1), 0, U | R | W | A | D, level=4)     # what bits 56:0 alone would hit
    run_to_ebreak(core)
    assert m_trap(core)[0] == LOAD_PF and m_trap(core)[2] == va


def test_misaligned_superpage_faults():
    core, _, pt = sv57_user("li t0, 0x40000000\n sd zero, 0(t0)\n")
    pt.map(0x4000_0000, DATA, U | R | W | A | D, level=2)       # DATA is not 1 GiB aligned
    run_to_ebreak(core)
    assert m_trap(core)[0] == STORE_PF and m_trap(core)[2] == 0x4000_0000


def test_two_stage_sv57_over_sv57x4():
    g = two_stage("li t0, 0x1234\n sd t0, 8(a1)\n ld a0, 8(a1)\n", levels=5)
    assert g.csr("hgatp") >> 60 == 10 and g.csr("vsatp") >> 60 == 10
    g.core.walk_cache = False
    g.run()
    assert g.stopped_at() == "guest"
    assert reg(g.core, "a0") == 0x1234
    assert int.from_bytes(g.core.read_mem(DATA + 8, 8), "little") == 0x1234
    # a 5-level VS walk, each of its 5 PTE reads and the final GPA through a 5-level G walk:
    # (n+1)(m+1)-1 = 35 references per data walk
    stats = g.core.stats()
    assert stats["walk_2d_mem_refs"] % 35 == 0 and stats["walk_2d_mem_refs"] >= 70


def test_two_stage_guest_page_fault_and_gstage_megapage():
    g = two_stage("ld a0, 16(a1)\n", levels=5, map_data=False, medeleg=1 << LOAD_GPF)
    g.run()
    assert g.stopped_at() == "hs_handler"
    assert (g.csr("scause"), g.csr("stval"), g.csr("htval")) == (LOAD_GPF, GUEST_VA + 16, (GUEST_PA + 16) >> 2)
    assert g.csr("hstatus") & (GVA | SPV) == GVA | SPV
    # now a 2 MiB G-stage leaf maps the guest page
    g2 = two_stage("ld a0, 16(a1)\n", levels=5, map_data=False)
    g2.map(g2.groot, GUEST_PA, DATA, R | W | U | A | D, 5, gstage=True, leaf_level=1)
    g2.core.write_mem(DATA + 16, MARKER.to_bytes(8, "little"))
    g2.run()
    assert g2.stopped_at() == "guest" and reg(g2.core, "a0") == MARKER


def test_gpa_beyond_sv57x4_is_a_guest_page_fault():
    # Sv57x4 takes 59-bit guest-physical addresses; bit 59 set faults
    g = Guest("li t0, 1\n slli t0, t0, 59\n ld a0, 0(t0)\n", virt=1, priv=1)
    g.set("medeleg", 1 << LOAD_GPF)
    root = g.gstage_root(5)
    g.identity_gstage(root, 5)
    g.set_hgatp(root, 5)
    g.run()
    assert g.stopped_at() == "hs_handler"
    assert (g.csr("scause"), g.csr("htval")) == (LOAD_GPF, (1 << 59) >> 2)

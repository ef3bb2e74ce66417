"""Two-stage translation: VS-stage over G-stage (Sv39/Sv39x4, Sv48/Sv48x4),
guest-page faults with htval/htinst/GVA, G-stage permission rules, walk
reference counts, the TLB tagged by (V, VMID, ASID), SFENCE/HFENCE scope,
HLV/HLVX/HSV, and the V=1 exit controls (guest MMIO, trap masks)."""

import pytest

from .h_helpers import (A, D, DATA, GVA, GVA_M, MPV, RAM_BASE, SPV, U, Guest, R, W, X,
                        core_mod, reg)

LOAD_GPF, STORE_GPF, FETCH_GPF = 21, 23, 20
GUEST_VA = 0x4000_0000          # where the guest's data page appears (VS-stage)
GUEST_PA = 0x1_0000_0000        # its guest-physical address (G-stage maps it to DATA)


def two_stage(body, levels=3, vs=True, priv=1, data_gflags=R | W | U | A | D, vs_flags=R | W | A | D,
              map_data=True, **kw):
    """A guest whose code runs at GPA = HPA = VA and whose data page is
    GUEST_VA -(VS)-> GUEST_PA -(G)-> DATA."""
    g = Guest(body, virt=1, priv=priv)
    for name, value in kw.items():
        g.set(name, value)
    groot = g.gstage_root(levels)
    g.identity_gstage(groot, levels, skip=range(DATA, DATA + 0x10_0000, 4096))
    if map_data:
        g.map(groot, GUEST_PA, DATA, data_gflags, levels, gstage=True)
    g.set_hgatp(groot, levels)
    g.groot = groot
    if vs:
        vroot = g.alloc()
        for off in range(0, 0x4000, 4096):
            # the handlers' page (the first) is VS's own; the guest's code is VU's at priv 0
            user = U if (priv == 0 and off) else 0
            g.map(vroot, RAM_BASE + off, RAM_BASE + off, R | W | X | A | D | user, levels)
        g.map(vroot, GUEST_VA, GUEST_PA, vs_flags | (U if priv == 0 else 0), levels)
        g.set_vsatp(vroot, levels)
        g.vroot = vroot
    g.core.x[11] = GUEST_VA if vs else GUEST_PA
    return g


def test_guest_load_and_store_through_both_stages():
    g = two_stage("li t0, 0x1234\n sd t0, 8(a1)\n ld a0, 8(a1)\n")
    g.run()
    assert g.stopped_at() == "guest"
    assert reg(g.core, "a0") == 0x1234
    assert int.from_bytes(g.core.read_mem(DATA + 8, 8), "little") == 0x1234
    st = g.core.stats()
    assert st["walks_2d"] >= 2 and st["gstage_walks"] >= 2


@pytest.mark.parametrize("levels", [3, 4])
def test_guest_page_fault_reports_gpa_and_gva(levels):
    g = two_stage("ld a0, 16(a1)\n", levels=levels, map_data=False, medeleg=1 << LOAD_GPF)
    g.run()
    assert g.stopped_at() == "hs_handler"
    assert g.csr("scause") == LOAD_GPF
    assert g.csr("stval") == GUEST_VA + 16
    assert g.csr("htval") == (GUEST_PA + 16) >> 2
    assert g.csr("htinst") == 0
    assert g.csr("hstatus") & (GVA | SPV) == GVA | SPV


def test_guest_page_fault_to_m_sets_mtval2_and_gva():
    g = two_stage("sd a0, 0(a1)\n", map_data=False)
    g.run()
    assert g.stopped_at() == "m_handler"
    assert g.csr("mcause") == STORE_GPF
    assert g.csr("mtval") == GUEST_VA and g.csr("mtval2") == GUEST_PA >> 2
    assert g.csr("mstatus") & (MPV | GVA_M) == MPV | GVA_M


def test_fault_in_the_vs_walk_is_a_guest_page_fault_with_the_pte_pseudo_instruction():
    g = two_stage("nop\n ld a0, 0(a1)\n", medeleg=1 << LOAD_GPF)
    g.run(1)                                       # the code's translation is in the TLB now
    # unmap, in the G-stage, the page holding the VS root: the walk's first read faults
    g.map(g.groot, g.vroot, 0, 0, 3, gstage=True)
    g.core.walk_cache = False
    g.run()
    assert g.csr("scause") == LOAD_GPF
    assert g.csr("htinst") == 0x3000
    assert g.csr("htval") << 2 == g.vroot + 8 * ((GUEST_VA >> 30) & 0x1FF)
    assert g.csr("stval") == GUEST_VA


def test_g_stage_leaf_without_u_is_a_guest_page_fault():
    g = two_stage("ld a0, 0(a1)\n", data_gflags=R | W | A | D, medeleg=1 << LOAD_GPF)
    g.run()
    assert g.csr("scause") == LOAD_GPF


def test_g_stage_read_only_page_faults_stores():
    g = two_stage("ld a0, 0(a1)\n sd a0, 0(a1)\n", data_gflags=R | U | A | D, medeleg=1 << STORE_GPF)
    g.run()
    assert g.csr("scause") == STORE_GPF and g.csr("sepc") == g["guest"] + _insn_len(g, g["guest"])


def test_vs_stage_fault_is_an_ordinary_page_fault_delegable_to_vs():
    g = two_stage("ld a0, 0(a1)\n", vs_flags=W | X | A | D, medeleg=1 << 13, hedeleg=1 << 13)
    g.core.x[11] = GUEST_VA
    g.map(g.vroot, GUEST_VA, GUEST_PA, X | A, 3)          # execute-only
    g.run()
    assert g.stopped_at() == "vs_handler"
    assert g.csr("vscause") == 13 and g.csr("vstval") == GUEST_VA


def test_vsstatus_mxr_makes_execute_only_readable_in_the_vs_stage():
    g = two_stage("ld a0, 0(a1)\n", vsstatus=1 << 19)
    g.map(g.vroot, GUEST_VA, GUEST_PA, X | A, 3)
    g.core.write_mem(DATA, (77).to_bytes(8, "little"))
    g.run()
    assert g.stopped_at() == "guest" and reg(g.core, "a0") == 77


def test_gpa_beyond_sv39x4_is_a_guest_page_fault():
    g = two_stage("ld a0, 0(a1)\n", vs=False, medeleg=1 << LOAD_GPF)
    g.core.x[11] = 1 << 41
    g.run()
    assert g.csr("scause") == LOAD_GPF and g.csr("htval") == (1 << 41) >> 2


def test_gpa_in_the_extra_two_bits_translates():
    g = two_stage("ld a0, 0(a1)\n", vs=False)
    g.map(g.groot, 0x1FF_0000_0000, DATA, R | U | A, 3, gstage=True)
    g.core.write_mem(DATA, (5).to_bytes(8, "little"))
    g.core.x[11] = 0x1FF_0000_0000
    g.run()
    assert g.stopped_at() == "guest" and reg(g.core, "a0") == 5


def test_fetch_guest_page_fault():
    g = two_stage("jr a1\n", medeleg=1 << FETCH_GPF, map_data=False)
    g.map(g.vroot, GUEST_VA, GUEST_PA, X | A, 3)
    g.run()
    assert g.csr("scause") == FETCH_GPF and g.csr("stval") == GUEST_VA


def test_g_stage_sets_accessed_and_dirty():
    g = two_stage("sd a0, 0(a1)\n", data_gflags=R | W | U)
    g.run()
    # find the G-stage leaf for GUEST_PA and check A/D
    leaf = None
    table = g.groot
    for level, bits in ((2, 11), (1, 9), (0, 9)):
        pte = g.read64(table + 8 * ((GUEST_PA >> (12 + 9 * level)) & ((1 << bits) - 1)))
        leaf = pte
        table = (pte >> 10) << 12
    assert leaf & (A | D) == A | D


@pytest.mark.parametrize("levels, refs", [(3, 15), (4, 24)])
def test_two_stage_walk_costs_nm_references_without_the_walk_cache(levels, refs):
    g = two_stage("nop\n ld a0, 0(a1)\n", levels=levels)
    g.core.walk_cache = False
    # run the guest code's fetch walk first, then measure the data access alone
    g.run(1)
    before = g.core.stats()
    g.run()
    after = g.core.stats()
    assert after["walks_2d"] - before["walks_2d"] == 1
    assert after["walk_2d_mem_refs"] - before["walk_2d_mem_refs"] == refs
    assert after["walk_mem_refs"] - before["walk_mem_refs"] == refs


def test_walk_cache_saves_the_g_stage_walks_of_page_table_pages():
    g = two_stage("nop\n ld a0, 0(a1)\n ld a0, 0(a2)\n")
    g.map(g.vroot, GUEST_VA + 0x1000, GUEST_PA, R | A, 3)
    g.core.x[12] = GUEST_VA + 0x1000
    g.run(1)
    before = g.core.stats()
    g.run(1)
    mid = g.core.stats()
    g.run(1)
    after = g.core.stats()
    first = mid["walk_2d_mem_refs"] - before["walk_2d_mem_refs"]
    second = after["walk_2d_mem_refs"] - mid["walk_2d_mem_refs"]
    assert second < first and second == 3 + 3          # 3 VS PTEs + the final G-stage walk
    assert after["walk_cache_hits"] > mid["walk_cache_hits"]


def _insn_len(g, pc):
    return 2 if g.core.read_mem(pc, 1)[0] & 3 != 3 else 4


def _continue(g, budget=1000):
    """Resume after the ebreak the run stopped at (it exited undelivered)."""
    g.core.pc = g.core.exit_pc + _insn_len(g, g.core.exit_pc)
    return g.core.run(budget)


def test_tlb_entries_survive_a_vmid_switch():
    g = two_stage("ld a0, 0(a1)\n ebreak\n ld a0, 0(a1)\n ebreak\n ld a0, 0(a1)\n")
    hg = g.csr("hgatp")
    g.run()
    flushes = g.core.stats()["tlb_flushes"]
    misses0 = g.core.stats()["tlb_misses"]
    g.set("hgatp", hg | (5 << 44))
    _continue(g)
    misses1 = g.core.stats()["tlb_misses"]
    assert misses1 > misses0                      # a new VMID walks again
    g.set("hgatp", hg)
    _continue(g)
    assert g.core.stats()["tlb_misses"] == misses1   # back to VMID 0: every access hits
    assert g.core.stats()["tlb_flushes"] == flushes


def _fence_case(fence_body):
    """A guest that loads, lets HS change the G-stage mapping, runs fence_body, loads again."""
    g = two_stage("ld a0, 0(a1)\n ebreak\n" + fence_body + "\n ld a0, 0(a1)\n")
    g.core.write_mem(DATA, (1).to_bytes(8, "little"))
    g.core.write_mem(DATA + 0x1000, (2).to_bytes(8, "little"))
    g.run()
    assert reg(g.core, "a0") == 1
    g.map(g.groot, GUEST_PA, DATA + 0x1000, R | W | U | A | D, 3, gstage=True)
    return g


def _hs_exec(g, *words):
    """Run instruction words in HS-mode (from DATA + 0x3000), then return to the guest."""
    resume_pc = g.core.exit_pc + _insn_len(g, g.core.exit_pc)
    code = DATA + 0x3000
    g.core.write_mem(code, b"".join(w.to_bytes(4, "little") for w in words + (0x00100073,)))
    g.core.priv = 1
    g.core.virt = 0
    g.core.pc = code
    assert g.core.run(100) == core_mod.EXIT_TRAP and g.core.exit_pc == code + 4 * len(words)
    g.core.virt = 1
    g.core.pc = resume_pc
    g.core.run(1000)


def test_stale_g_stage_mapping_without_fence():
    g = _fence_case("nop")
    _continue(g)
    assert reg(g.core, "a0") == 1


def test_hfence_gvma_drops_g_stage_mappings():
    g = _fence_case("nop")
    _hs_exec(g, 0x62000073)                        # hfence.gvma zero, zero
    assert reg(g.core, "a0") == 2


def test_hfence_gvma_for_another_vmid_leaves_this_one():
    g = _fence_case("nop")
    g.core.x[5] = 7                                # t0: VMID 7
    _hs_exec(g, 0x62500073)                        # hfence.gvma zero, t0
    assert reg(g.core, "a0") == 1


def test_hfence_vvma_drops_the_current_vmid_entries():
    g = _fence_case("nop")
    _hs_exec(g, 0x22000073)                        # hfence.vvma zero, zero
    assert reg(g.core, "a0") == 2


def test_guest_sfence_vma_refreshes_its_own_entries():
    g = _fence_case("sfence.vma")
    _continue(g)
    assert reg(g.core, "a0") == 2


def test_hs_sfence_vma_leaves_guest_entries():
    g = _fence_case("nop")
    _hs_exec(g, 0x12000073)                        # sfence.vma zero, zero
    assert reg(g.core, "a0") == 1


# ------------------------------------------------------------ HLV / HSV

def hyp(body, spvp=1, **kw):
    """HS code accessing a guest address space (the two_stage guest's tables)."""
    g = two_stage(body, **kw)
    g.virt, g.priv = 0, 1
    g.set("hstatus", spvp << 8)
    return g


@pytest.mark.parametrize("insn, value", [
    ("hlv.b", 0xFFFF_FFFF_FFFF_FF88), ("hlv.bu", 0x88), ("hlv.h", 0xFFFF_FFFF_FFFF_8788),
    ("hlv.hu", 0x8788), ("hlv.w", 0xFFFF_FFFF_8586_8788), ("hlv.wu", 0x8586_8788),
    ("hlv.d", 0x8182_8384_8586_8788)])
def test_hlv_sizes_and_extension(insn, value):
    g = hyp(f"{insn} a0, (a1)\n")
    g.core.write_mem(DATA, (0x8182_8384_8586_8788).to_bytes(8, "little"))
    g.run()
    assert g.stopped_at() == "guest" and reg(g.core, "a0") == value


@pytest.mark.parametrize("insn, size", [("hsv.b", 1), ("hsv.h", 2), ("hsv.w", 4), ("hsv.d", 8)])
def test_hsv_sizes(insn, size):
    g = hyp(f"li a0, -1\n {insn} a0, (a1)\n")
    g.run()
    assert g.core.read_mem(DATA, 8) == b"\xff" * size + b"\0" * (8 - size)


def test_hlv_uses_spvp_for_user_pages():
    g = hyp("hlv.d a0, (a1)\n", spvp=1, medeleg=1 << 13)
    g.map(g.vroot, GUEST_VA, GUEST_PA, R | U | A, 3)
    g.run()
    assert g.csr("scause") == 13                   # S-level access to a user page, no SUM
    g = hyp("hlv.d a0, (a1)\n", spvp=0)
    g.map(g.vroot, GUEST_VA, GUEST_PA, R | U | A, 3)
    g.run()
    assert g.stopped_at() == "guest"


def test_hlvx_reads_execute_only_pages_and_hlv_does_not():
    g = hyp("hlvx.wu a0, (a1)\n", data_gflags=X | U | A)
    g.map(g.vroot, GUEST_VA, GUEST_PA, X | A, 3)
    g.core.write_mem(DATA, (0x12345678).to_bytes(4, "little"))
    g.run()
    assert g.stopped_at() == "guest" and reg(g.core, "a0") == 0x12345678
    g = hyp("hlv.wu a0, (a1)\n", data_gflags=X | U | A, medeleg=1 << 13)
    g.map(g.vroot, GUEST_VA, GUEST_PA, X | A, 3)
    g.run()
    assert g.csr("scause") == 13


def test_hlv_guest_page_fault_from_hs_sets_gva_and_not_spv():
    g = hyp("hlv.d a0, (a1)\n", map_data=False, medeleg=1 << LOAD_GPF)
    g.run()
    assert g.csr("scause") == LOAD_GPF and g.csr("htval") == GUEST_PA >> 2
    assert g.csr("hstatus") & (GVA | SPV) == GVA


# ------------------------------------------------------------ exit controls

def test_guest_mmio_exit_reports_the_gpa_and_completes():
    g = two_stage("ld a0, 8(a1)\n sw a0, 16(a1)\n", map_data=False)
    g.core.add_guest_mmio(GUEST_PA, 0x1000)
    assert g.run().exit_reason == core_mod.EXIT_MMIO
    assert (g.core.exit_addr, g.core.exit_size, g.core.exit_is_write) == (GUEST_PA + 8, 8, False)
    g.core.complete_mmio(0xABCD)
    assert g.core.run(100) == core_mod.EXIT_MMIO
    assert (g.core.exit_addr, g.core.exit_data, g.core.exit_is_write) == (GUEST_PA + 16, 0xABCD, True)
    g.core.clear_guest_mmio()
    g.core.exit_on_exception |= 1 << STORE_GPF
    g.core.pc = g.core.exit_pc
    assert g.core.run(100) == core_mod.EXIT_TRAP and g.core.exit_cause == STORE_GPF


def test_guest_mmio_fault_completion_is_an_access_fault_with_gva():
    g = two_stage("ld a0, 8(a1)\n", map_data=False, medeleg=1 << 5)
    g.core.add_guest_mmio(GUEST_PA, 0x1000)
    g.run()
    g.core.complete_mmio_fault()
    g.core.run(100)
    assert g.csr("scause") == 5 and g.csr("stval") == GUEST_VA + 8
    assert g.csr("hstatus") & GVA


def test_exit_payload_of_a_guest_page_fault():
    g = two_stage("ld a0, 16(a1)\n", map_data=False)
    g.core.exit_on_exception |= 1 << LOAD_GPF
    g.run()
    assert g.reason == core_mod.EXIT_TRAP and g.core.exit_cause == LOAD_GPF
    assert (g.core.exit_virt, g.core.exit_priv) == (1, 1)
    assert g.core.exit_gpa == GUEST_PA + 16 and g.core.exit_tval == GUEST_VA + 16
    assert g.core.exit_htinst == 0
    assert g.csr("scause") == 0 and g.core.virt == 1            # not delivered


def test_exit_masks_ignore_traps_the_guest_takes_itself():
    g = two_stage("ecall\n", priv=0, medeleg=1 << 8, hedeleg=1 << 8)
    g.core.exit_on_exception |= 1 << 8
    g.run()
    assert g.stopped_at() == "vs_handler"            # delivered to VS, no exit
    g = two_stage("ecall\n", priv=0, medeleg=1 << 8)
    g.core.exit_on_exception |= 1 << 8
    g.run()
    assert g.reason == core_mod.EXIT_TRAP and g.core.exit_cause == 8 and g.core.exit_virt == 1


def test_interrupt_exit_mask_at_v1():
    g = two_stage("nop\n nop\n", hie=0x4, hvip=0x4)
    g.core.exit_on_interrupt = 1 << 2
    g.run()
    assert g.reason == core_mod.EXIT_TRAP and g.core.exit_cause == (1 << 63) | 2
    g = two_stage("nop\n nop\n", hie=0x4, hvip=0x4, hideleg=0x4, vsstatus=2)
    g.core.exit_on_interrupt = 1 << 2
    g.run()
    assert g.stopped_at() == "vs_handler"


def test_add_guest_mmio_rejects_bad_ranges():
    core = core_mod.Core(ram_size=1 << 20)
    with pytest.raises(ValueError):
        core.add_guest_mmio(0x1000, 0)
    for i in range(16):
        core.add_guest_mmio(0x1000 * i, 0x1000)
    with pytest.raises(ValueError):
        core.add_guest_mmio(0x100000, 0x1000)


def _vs_leaf_table(g, va, levels=3):
    table = g.vroot
    for level in range(levels - 1, 0, -1):
        pte = g.read64(table + 8 * ((va >> (12 + 9 * level)) & 0x1FF))
        table = (pte >> 10) << 12
    return table


def test_vs_accessed_bit_update_needs_g_stage_write_permission():
    g = two_stage("nop\n ld a0, 0(a1)\n", vs_flags=R | W, medeleg=1 << LOAD_GPF)
    leaf_table = _vs_leaf_table(g, GUEST_VA)
    g.map(g.groot, leaf_table, leaf_table, R | U | A | D, 3, gstage=True)     # read-only for the guest
    g.run(1)
    g.core.walk_cache = False
    g.run()
    assert g.csr("scause") == LOAD_GPF
    assert g.csr("htinst") == 0x3020 and g.csr("htval") << 2 == leaf_table + 8 * ((GUEST_VA >> 12) & 0x1FF)


def test_vs_accessed_bit_is_set_through_a_writable_g_stage():
    g = two_stage("ld a0, 0(a1)\n", vs_flags=R | W)
    g.run()
    leaf_table = _vs_leaf_table(g, GUEST_VA)
    assert g.read64(leaf_table + 8 * ((GUEST_VA >> 12) & 0x1FF)) & (A | D) == A


def test_mprv_with_mpv_makes_m_mode_accesses_go_through_the_guest_stages():
    g = two_stage("li t0, 1 << 17\n csrs mstatus, t0\n ld a0, 0(a1)\n csrc mstatus, t0\n ld a2, 0(a3)\n")
    g.virt, g.priv = 0, 3
    g.set("mstatus", MPV | (1 << 11))           # MPP = S, MPV = 1
    g.core.x[13] = DATA
    g.core.write_mem(DATA, (0x77).to_bytes(8, "little"))
    g.run()
    assert g.stopped_at() == "guest"
    assert reg(g.core, "a0") == 0x77 == reg(g.core, "a2")     # GUEST_VA through both stages, then DATA bare
    assert g.core.stats()["walks_2d"] >= 1


def test_mprv_guest_page_fault_from_m_sets_gva_and_mpv_keeps_target():
    g = two_stage("li t0, 1 << 17\n csrs mstatus, t0\n ld a0, 0(a1)\n", map_data=False)
    g.virt, g.priv = 0, 3
    g.set("mstatus", MPV | (1 << 11))
    g.run()
    assert g.stopped_at() == "m_handler"
    assert g.csr("mcause") == LOAD_GPF and g.csr("mtval2") == GUEST_PA >> 2
    assert g.csr("mstatus") & GVA_M and not g.csr("mstatus") & MPV      # the trap came from M (V=0)


def test_wfi_at_v1_returns_at_once_with_a_pending_hvip_interrupt():
    g = two_stage("wfi\n nop\n", hie=0x4, hvip=0x4, hideleg=0x4, vsstatus=0)
    g.run()
    assert g.stopped_at() == "guest"                # not taken (SIE=0), but WFI did not idle


def test_exit_htinst_of_a_fault_in_the_vs_walk():
    g = two_stage("nop\n ld a0, 0(a1)\n")
    g.run(1)
    g.map(g.groot, g.vroot, 0, 0, 3, gstage=True)
    g.core.walk_cache = False
    g.core.exit_on_exception |= 1 << LOAD_GPF
    g.run()
    assert g.core.exit_cause == LOAD_GPF and g.core.exit_htinst == 0x3000
    assert g.core.exit_gpa == g.vroot + 8 * ((GUEST_VA >> 30) & 0x1FF)


def test_satp_asid_switch_at_v0_keeps_each_address_space_cached():
    # HS paging: two satp values (ASIDs 1 and 2) over one table; switching back hits
    g = Guest("ld a0, 0(a1)\n csrw satp, s2\n ld a0, 0(a1)\n csrw satp, s3\n ld a0, 0(a1)\n", virt=0, priv=1)
    root = g.alloc()
    for off in range(0, 0x4000, 4096):
        g.map(root, RAM_BASE + off, RAM_BASE + off, R | W | X | A | D)
    g.map(root, GUEST_VA, DATA, R | W | A | D)
    s1 = (8 << 60) | (1 << 44) | (root >> 12)
    s2 = (8 << 60) | (2 << 44) | (root >> 12)
    g.set("satp", s1)
    g.core.x[18], g.core.x[19] = s2, s1
    g.core.x[11] = GUEST_VA
    flushes = g.core.stats()["tlb_flushes"]
    g.run()
    assert g.stopped_at() == "guest"
    st = g.core.stats()
    assert st["tlb_flushes"] == flushes
    # code + data under ASID 1, code + data under ASID 2, nothing on the way back
    assert st["page_walks"] == 4


def test_hlv_and_hsv_across_a_page_boundary():
    g = hyp("hlv.d a0, (a2)\n li a3, 0x1122334455667788\n hsv.d a3, (a2)\n")
    g.map(g.groot, GUEST_PA + 0x1000, DATA + 0x5000, R | W | U | A | D, 3, gstage=True)
    g.map(g.vroot, GUEST_VA + 0x1000, GUEST_PA + 0x1000, R | W | A | D, 3)
    g.core.write_mem(DATA + 0xFFC, bytes([1, 2, 3, 4]))
    g.core.write_mem(DATA + 0x5000, bytes([5, 6, 7, 8]))
    g.core.x[12] = GUEST_VA + 0xFFC
    g.run()
    assert g.stopped_at() == "guest"
    assert reg(g.core, "a0") == 0x0807060504030201
    assert g.core.read_mem(DATA + 0xFFC, 4) + g.core.read_mem(DATA + 0x5000, 4) == \
        (0x1122334455667788).to_bytes(8, "little")


def test_hlv_across_into_an_unmapped_guest_page_faults_at_the_second_page():
    g = hyp("hlv.d a0, (a2)\n", medeleg=1 << LOAD_GPF)
    g.map(g.vroot, GUEST_VA + 0x1000, GUEST_PA + 0x1000, R | W | A | D, 3)
    g.core.x[12] = GUEST_VA + 0xFFC
    g.run()
    assert g.csr("scause") == LOAD_GPF
    assert g.csr("stval") == GUEST_VA + 0x1000 and g.csr("htval") == (GUEST_PA + 0x1000) >> 2

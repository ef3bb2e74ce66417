"""Sv39/Sv48 translation: permissions, A/D updates, superpages, faults and
their delegation, SUM/MXR/MPRV, and the TLB and walk counters."""

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak, RAM_BASE

V, R, W, X, U, G, A, D = 1, 2, 4, 8, 16, 32, 64, 128
SV39, SV48 = 8, 9
CSR_SATP, CSR_MSTATUS, CSR_MEDELEG, CSR_STVEC, CSR_MTVEC = 0x180, 0x300, 0x302, 0x105, 0x305
CSR_MCAUSE, CSR_MEPC, CSR_MTVAL, CSR_SCAUSE, CSR_SEPC, CSR_STVAL = 0x342, 0x341, 0x343, 0x142, 0x141, 0x143
SUM, MXR, MPRV = 1 << 18, 1 << 19, 1 << 17
TABLES = RAM_BASE + 0x10_0000
DATA = RAM_BASE + 0x20_0000


class PageTables:
    """Builds page tables in the core's RAM, allocating table pages upwards."""

    def __init__(self, core, levels=3, root=TABLES):
        self.core, self.levels, self.root = core, levels, root
        self.free = root + 0x1000

    def _rd(self, addr):
        return int.from_bytes(self.core.read_mem(addr, 8), "little")

    def _wr(self, addr, value):
        self.core.write_mem(addr, value.to_bytes(8, "little"))

    def pte_addr(self, va, level=0):
        table = self.root
        for lvl in range(self.levels - 1, level, -1):
            slot = table + ((va >> (12 + 9 * lvl)) & 0x1FF) * 8
            pte = self._rd(slot)
            if not pte & V:
                pte = ((self.free >> 12) << 10) | V
                self.free += 0x1000
                self._wr(slot, pte)
            table = (pte >> 10) << 12
        return table + ((va >> (12 + 9 * level)) & 0x1FF) * 8

    def map(self, va, pa, flags, level=0):
        self._wr(self.pte_addr(va, level), ((pa >> 12) << 10) | flags | V)

    def pte(self, va, level=0):
        return self._rd(self.pte_addr(va, level))

    def satp(self):
        return ((self.levels + 5) << 60) | (self.root >> 12)       # Sv39 8, Sv48 9, Sv57 10


HANDLERS = """
    ebreak
.balign 4096
mhandler:
    csrr s2, mcause
    csrr s3, mepc
    csrr s4, mtval
    ebreak
.balign 4
shandler:
    csrr s5, scause
    csrr s6, sepc
    csrr s7, stval
    ebreak
.balign 4096
ucode:
{user}
    ebreak
"""


def user_program(user, levels=3, kernel_flags=R | W | X | A | D):
    """A core in U-mode at VA 0x1000 running `user`; the kernel image is
    identity-mapped by a gigapage (Sv39) so handlers run with paging on."""
    core, prog = load(HANDLERS.format(user=user), ram_size=8 << 20)
    pt = PageTables(core, levels)
    if levels == 3:
        pt.map(RAM_BASE, RAM_BASE, kernel_flags, level=2)
    else:
        pt.map(RAM_BASE, RAM_BASE, kernel_flags, level=2)    # 1 GiB page inside the Sv48 tree
    pt.map(0x1000, prog["ucode"], U | R | X | A)
    core.write_csr(CSR_MTVEC, prog["mhandler"])
    core.write_csr(CSR_STVEC, prog["shandler"])
    core.write_csr(CSR_SATP, pt.satp())
    core.priv = 0
    core.pc = 0x1000
    return core, prog, pt


def m_trap(core):
    return reg(core, "s2"), reg(core, "s3"), reg(core, "s4")


def s_trap(core):
    return reg(core, "s5"), reg(core, "s6"), reg(core, "s7")


@pytest.mark.parametrize("levels", [3, 4])
def test_user_load_store_through_page_tables_sets_a_and_d(levels):
    core, prog, pt = user_program("li t0, 0x2000\n li t1, 0x1234\n sd t1, 8(t0)\n ld a0, 8(t0)\n", levels)
    pt.map(0x2000, DATA, U | R | W)
    run_to_ebreak(core)
    assert reg(core, "a0") == 0x1234
    assert core.read_mem(DATA + 8, 8) == (0x1234).to_bytes(8, "little")
    assert pt.pte(0x2000) & (A | D) == A | D
    stats = core.stats()
    assert stats["page_walks"] >= 3 and stats["walk_mem_refs"] >= levels * 3
    assert stats["walk_mem_refs"] % levels == 0 or levels == 4   # Sv48's kernel gigapage walk is 3 deep


def test_load_sets_only_accessed():
    core, prog, pt = user_program("li t0, 0x2000\n ld a0, 0(t0)\n")
    pt.map(0x2000, DATA, U | R | W)
    run_to_ebreak(core)
    assert pt.pte(0x2000) & (A | D) == A


def test_unmapped_load_is_a_page_fault_to_m_with_the_address():
    core, prog, pt = user_program("li t0, 0x5008\nat: ld a0, 0(t0)\n")
    run_to_ebreak(core)
    assert m_trap(core) == (13, 0x1000 + 4, 0x5008)
    assert core.read_csr(CSR_MSTATUS) >> 11 & 3 == 0      # MPP = U


def test_store_to_read_only_page_is_a_store_page_fault():
    core, prog, pt = user_program("li t0, 0x3000\n sd t0, 16(t0)\n")
    pt.map(0x3000, DATA, U | R | A)
    run_to_ebreak(core)
    assert m_trap(core)[0::2] == (15, 0x3010)
    assert pt.pte(0x3000) & D == 0


def test_delegated_page_fault_goes_to_s_mode():
    core, prog, pt = user_program("li t0, 0x7000\n lw a0, 0(t0)\n")
    core.write_csr(CSR_MEDELEG, 1 << 13)
    run_to_ebreak(core)
    assert s_trap(core)[0::2] == (13, 0x7000)
    assert core.priv == 1 and core.read_csr(CSR_MSTATUS) >> 8 & 1 == 0    # SPP = U


def test_fetch_from_non_executable_page_is_an_instruction_page_fault():
    core, prog, pt = user_program("li t0, 0x2000\n jalr t0\n")
    pt.map(0x2000, DATA, U | R | W | A)
    run_to_ebreak(core)
    assert m_trap(core) == (12, 0x2000, 0x2000)


def test_user_cannot_touch_supervisor_pages():
    core, prog, pt = user_program(f"li t0, {DATA:#x}\n ld a0, 0(t0)\n")
    run_to_ebreak(core)
    assert m_trap(core)[0::2] == (13, DATA)


def test_misaligned_superpage_is_a_page_fault():
    core, prog, pt = user_program("li t0, 0x40000000\n ld a0, 0(t0)\n")
    pt.map(0x4000_0000, RAM_BASE + 0x1000, U | R | A, level=1)   # 2 MiB page, PPN not 2 MiB aligned
    run_to_ebreak(core)
    assert m_trap(core)[0::2] == (13, 0x4000_0000)


def test_megapage_maps_its_whole_range():
    core, prog, pt = user_program("li t0, 0x40000000\n li t1, 0x1ff000\n add t0, t0, t1\n ld a0, 8(t0)\n")
    pt.map(0x4000_0000, RAM_BASE + 0x20_0000, U | R | A, level=1)
    core.write_mem(RAM_BASE + 0x20_0000 + 0x1FF008, (77).to_bytes(8, "little"))
    run_to_ebreak(core)
    assert reg(core, "a0") == 77


@pytest.mark.parametrize("bits", [1 << 54, 1 << 61, 1 << 63, W])
def test_reserved_pte_encodings_fault(bits):
    core, prog, pt = user_program("li t0, 0x2000\n ld a0, 0(t0)\n")
    pt.map(0x2000, DATA, (U | A | bits) if bits == W else (U | R | A | bits))
    run_to_ebreak(core)
    assert m_trap(core)[0::2] == (13, 0x2000)


def test_non_canonical_address_faults():
    core, prog, pt = user_program("li t0, 0x0000004000000000\n ld a0, 0(t0)\n")
    run_to_ebreak(core)
    assert m_trap(core)[0::2] == (13, 0x40_0000_0000)


def test_page_table_outside_ram_is_an_access_fault():
    core, prog, pt = user_program("li t0, 0x200000\n ld a0, 0(t0)\n")
    # the level-0 table of VA 2 MiB would sit in a hole of the address map
    pt._wr(pt.pte_addr(0x20_0000, 1), ((0x0800_0000 >> 12) << 10) | V)
    run_to_ebreak(core)
    assert m_trap(core)[0::2] == (5, 0x20_0000)


def test_mxr_makes_execute_only_pages_readable():
    user = "li t0, 0x2000\n ld a0, 0(t0)\n"
    core, prog, pt = user_program(user)
    pt.map(0x2000, DATA, U | X | A)
    run_to_ebreak(core)
    assert m_trap(core)[0] == 13
    core, prog, pt = user_program(user)
    pt.map(0x2000, DATA, U | X | A)
    core.write_mem(DATA, (5).to_bytes(8, "little"))
    core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) | MXR)
    run_to_ebreak(core)
    assert reg(core, "a0") == 5 and reg(core, "s2") == 0


@pytest.mark.parametrize("sum_bit", [0, SUM])
def test_supervisor_access_to_user_pages_needs_sum(sum_bit):
    core, prog, pt = user_program("")
    pt.map(0x2000, DATA, U | R | W | A | D)
    core.write_mem(DATA, (9).to_bytes(8, "little"))
    s_code = RAM_BASE + 0x3000
    core.write_mem(s_code, (0x00003503).to_bytes(4, "little")   # ld a0, 0(zero)
                   + (0x00100073).to_bytes(4, "little"))       # ebreak
    core.x[0] = 0
    core.write_mem(s_code, (0x0002B503).to_bytes(4, "little"))  # ld a0, 0(t0)
    core.x[5] = 0x2000
    core.priv = 1
    core.pc = s_code
    core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) | sum_bit)
    run_to_ebreak(core)
    if sum_bit:
        assert reg(core, "a0") == 9
    else:
        assert m_trap(core) == (13, s_code, 0x2000)


def test_supervisor_never_executes_user_pages():
    core, prog, pt = user_program("")
    core.priv = 1
    core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) | SUM)
    core.pc = 0x1000
    run_to_ebreak(core)
    assert m_trap(core) == (12, 0x1000, 0x1000)


def test_mprv_translates_m_mode_loads_as_mpp():
    core, prog, pt = user_program("")
    pt.map(0x2000, DATA, U | R | W | A | D)
    core.write_mem(DATA + 16, (31).to_bytes(8, "little"))
    m_code = RAM_BASE + 0x3000
    core.write_mem(m_code, (0x0102B503).to_bytes(4, "little") + (0x00100073).to_bytes(4, "little"))  # ld a0,16(t0)
    core.x[5] = 0x2000
    core.priv = 3
    core.pc = m_code
    core.write_csr(CSR_MSTATUS, (core.read_csr(CSR_MSTATUS) & ~(3 << 11)) | MPRV)   # MPP = U
    run_to_ebreak(core)
    assert reg(core, "a0") == 31


def test_tlb_hits_avoid_walks_and_sfence_vma_flushes():
    loop = "li t0, 0x2000\n li t1, 50\n1: ld a0, 0(t0)\n addi t1, t1, -1\n bnez t1, 1b\n"
    core, prog, pt = user_program(loop)
    pt.map(0x2000, DATA, U | R | A)
    run_to_ebreak(core)
    stats = core.stats()
    assert stats["page_walks"] == 2               # one fetch page, one data page
    assert stats["tlb_hits"] >= 49
    walks = stats["page_walks"]
    core.flush_tlb()
    core.priv, core.pc = 0, 0x1000
    run_to_ebreak(core)
    assert core.stats()["page_walks"] == walks + 2


def _two_page_reader(megapage=False):
    # a user loop loading 0x2000 into a0 and 0x3000 into a1 (and, with
    # megapage, 0x200000 from a 2 MiB page into a2), run once to fill the TLB
    loads = "li t0, 0x2000\n ld a0, 0(t0)\n li t0, 0x3000\n ld a1, 0(t0)\n"
    if megapage:
        loads += "li t0, 0x200000\n ld a2, 0(t0)\n"
    core, prog, pt = user_program(loads)
    for i, va in enumerate((0x2000, 0x3000)):
        pt.map(va, DATA + 0x1000 * i, U | R | A)
    if megapage:
        pt.map(0x200000, RAM_BASE + 0x400000, U | R | A, level=1)
    for i in range(4):
        core.write_mem(DATA + 0x1000 * i, (i + 1).to_bytes(8, "little"))
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a1")) == (1, 2)
    # both leaves now name other pages, behind the TLB's back
    for i, va in enumerate((0x2000, 0x3000)):
        pt.map(va, DATA + 0x1000 * (i + 2), U | R | A)
    return core


def test_flush_tlb_pages_drops_only_the_pages_named():
    core = _two_page_reader()
    walks = core.stats()["page_walks"]
    flushes = core.stats()["tlb_flushes"]
    core.flush_tlb_pages([0x2008])              # any address in the page
    core.priv, core.pc = 0, 0x1000
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a1")) == (3, 2)     # 0x3000 still cached
    assert core.stats()["page_walks"] == walks + 1
    assert core.stats()["tlb_flushes"] == flushes + 1       # one flush, however many pages
    core.flush_tlb_pages([])
    assert core.stats()["tlb_flushes"] == flushes + 1


def test_flush_tlb_pages_after_a_superpage_entry_flushes_everything():
    core = _two_page_reader(megapage=True)
    walks = core.stats()["page_walks"]
    core.flush_tlb_pages([0x2000])
    core.priv, core.pc = 0, 0x1000
    run_to_ebreak(core)
    assert (reg(core, "a0"), reg(core, "a1")) == (3, 4)
    assert core.stats()["page_walks"] == walks + 4          # code, both pages, the megapage


def test_satp_write_with_unsupported_mode_is_ignored():
    core, _ = load("ebreak\n")
    core.write_csr(CSR_SATP, (SV39 << 60) | 0x123)
    core.write_csr(CSR_SATP, (11 << 60) | 0x456)      # Sv64 is reserved: keeps the old value
    assert core.read_csr(CSR_SATP) == (SV39 << 60) | 0x123
    core.write_csr(CSR_SATP, (10 << 60) | 0x456)      # Sv57, as QEMU 7.2's rv64
    assert core.read_csr(CSR_SATP) == (10 << 60) | 0x456


def test_sfence_vma_with_an_address_flushes_only_that_page():
    core, prog, pt = user_program("")
    for i, va in enumerate((0x2000, 0x3000)):
        pt.map(va, DATA + 0x1000 * i, R | W | A | D)
    for i in range(4):
        core.write_mem(DATA + 0x1000 * i, (i + 1).to_bytes(8, "little"))
    s_code = RAM_BASE + 0x3000
    # ld a0,0(t0); ld a1,0(t1); sd s2,0(s0); sd s3,0(s1); ld a2,0(t0); ld a3,0(t1);
    # sfence.vma t0; ld a4,0(t0); ld a5,0(t1); sfence.vma; ld a6,0(t1); ebreak
    words = (0x0002B503, 0x00033583, 0x01243023, 0x0134B023, 0x0002B603, 0x00033683,
             0x12028073, 0x0002B703, 0x00033783, 0x12000073, 0x00033803, 0x00100073)
    core.write_mem(s_code, b"".join(w.to_bytes(4, "little") for w in words))
    # 4 KiB mappings only (a cached superpage would make every fence flush all)
    pt.map(0x5000, s_code, R | X | A)
    l0_table = pt.pte_addr(0x2000) & ~0xFFF
    pt.map(0x6000, l0_table, R | W | A | D)
    core.x[5], core.x[6] = 0x2000, 0x3000                                   # t0, t1
    core.x[8] = 0x6000 + (pt.pte_addr(0x2000) & 0xFFF)                      # s0
    core.x[9] = 0x6000 + (pt.pte_addr(0x3000) & 0xFFF)                      # s1
    core.x[18] = ((DATA + 0x2000) >> 12) << 10 | V | R | W | A | D         # s2
    core.x[19] = ((DATA + 0x3000) >> 12) << 10 | V | R | W | A | D         # s3
    core.priv, core.pc = 1, 0x5000
    run_to_ebreak(core)
    loaded = [reg(core, r) for r in ("a0", "a1", "a2", "a3", "a4", "a5", "a6")]
    assert loaded == [1, 2, 1, 2, 3, 2, 4]    # cached until the fence that names the page


def test_sfence_vma_with_an_address_flushes_everything_once_a_superpage_is_cached():
    core, prog, pt = user_program("")
    for i, va in enumerate((0x2000, 0x3000)):
        pt.map(va, DATA + 0x1000 * i, R | W | A | D)
    for i in range(4):
        core.write_mem(DATA + 0x1000 * i, (i + 1).to_bytes(8, "little"))
    s_code = RAM_BASE + 0x3000                 # runs through the kernel gigapage
    words = (0x0002B503, 0x00033583, 0x01243023, 0x0134B023, 0x12028073, 0x0002B703, 0x00033783, 0x00100073)
    core.write_mem(s_code, b"".join(w.to_bytes(4, "little") for w in words))
    core.x[5], core.x[6] = 0x2000, 0x3000
    core.x[8], core.x[9] = pt.pte_addr(0x2000), pt.pte_addr(0x3000)
    core.x[18] = ((DATA + 0x2000) >> 12) << 10 | V | R | W | A | D
    core.x[19] = ((DATA + 0x3000) >> 12) << 10 | V | R | W | A | D
    core.priv, core.pc = 1, s_code
    run_to_ebreak(core)
    assert [reg(core, r) for r in ("a0", "a1", "a4", "a5")] == [1, 2, 3, 4]

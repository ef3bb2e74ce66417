"""Zicbom/Zicboz in the core, as QEMU implements them: the menvcfg/henvcfg/
senvcfg permission checks and the exception each refusal raises, cbo.zero's
64-byte zeroing (coherent with decoded code), and the faults: store page
faults with the block's address, access faults for PMP and devices, guest-page
faults at V=1. The Zicbop/Zihintpause hints execute as no-ops."""

import pytest

from .h_helpers import DATA, Guest, R, RAM_BASE, U, A, D, W, X, reg
from .test_mmu import m_trap, run_to_ebreak, user_program

CBIE_FLUSH, CBIE_INVAL, CBCFE, CBZE = 1 << 4, 3 << 4, 1 << 6, 1 << 7
ILLEGAL, VIRTUAL, STORE_ACCESS, STORE_PF, STORE_GPF = 2, 22, 7, 15, 23
FIELD = {"cbo.zero": CBZE, "cbo.clean": CBCFE, "cbo.flush": CBCFE, "cbo.inval": CBIE_INVAL}


def expected(virt, priv, menv, henv, senv):
    """QEMU's order: menvcfg below M (illegal), henvcfg or VU's senvcfg at V=1
    (virtual instruction), U's senvcfg (illegal)."""
    if priv < 3 and not menv:
        return "m_handler", ILLEGAL
    if virt and (not henv or (priv == 0 and not senv)):
        return "m_handler", VIRTUAL
    if priv == 0 and not senv:
        return "m_handler", ILLEGAL
    return "guest", None


CASES = [(virt, priv, menv, henv, senv)
         for virt, priv in ((0, 3), (0, 1), (0, 0), (1, 1), (1, 0))
         for menv in (0, 1) for henv in (0, 1) for senv in (0, 1)]


@pytest.mark.parametrize("insn", sorted(FIELD))
@pytest.mark.parametrize("virt,priv,menv,henv,senv", CASES)
def test_envcfg_permissions(insn, virt, priv, menv, henv, senv):
    g = Guest("mv a1, a0\n %s (a0)\n li a2, 1\n" % insn, virt=virt, priv=priv)
    field = FIELD[insn]
    g.set("menvcfg", field if menv else 0)
    g.set("henvcfg", field if henv else 0)
    g.core.write_csr(0x10A, field if senv else 0)          # senvcfg
    g.core.x[10] = DATA + 0x40
    g.run()
    where, cause = expected(virt, priv, menv, henv, senv)
    assert g.stopped_at() == where
    if cause is not None:
        assert g.csr("mcause") == cause
        assert g.csr("mtval") == int.from_bytes(g.core.read_mem(g.csr("mepc"), 4), "little")


def test_cbo_inval_needs_cbie_01_or_11():
    for cbie, ok in ((0, False), (CBIE_FLUSH, True), (CBIE_INVAL, True)):
        g = Guest("cbo.inval (a0)\n", virt=0, priv=1)
        g.set("menvcfg", cbie)
        g.core.x[10] = DATA
        g.run()
        assert (g.stopped_at() == "guest") == ok


def test_envcfg_fields_are_writable():
    g = Guest("", virt=0, priv=3)
    for name, csr in (("menvcfg", None), ("henvcfg", None), ("senvcfg", 0x10A)):
        if csr is None:
            g.set(name, 0xFF)
            assert g.csr(name) == 0xF1
        else:
            g.core.write_csr(csr, 0xFF)
            assert g.core.read_csr(csr) == 0xF1


def test_cbo_zero_zeroes_the_aligned_block_only():
    g = Guest("cbo.zero (a0)\n", virt=0, priv=3)
    g.core.write_mem(DATA, bytes([0xAA]) * 256)
    g.core.x[10] = DATA + 0x40 + 0x27
    g.run()
    assert g.stopped_at() == "guest"
    data = g.core.read_mem(DATA, 256)
    assert data[:0x40] == b"\xaa" * 0x40 and data[0x40:0x80] == bytes(64) and data[0x80:] == b"\xaa" * 0x80


def test_cbo_zero_of_executed_code_is_seen_by_the_next_fetch():
    # the block held code that ran (and was decoded); zeroed, it is c.unimp: illegal
    g = Guest("la t0, block\n jalr t0\n la a0, block\n cbo.zero (a0)\n jalr t0\n j done\n"
              ".balign 64\nblock:\n addi a3, a3, 1\n ret\n.balign 64\ndone:\n", virt=0, priv=3)
    g.run()
    assert g.stopped_at() == "m_handler"
    assert (g.csr("mcause"), g.csr("mepc")) == (ILLEGAL, g["block"])
    assert reg(g.core, "a3") == 1


def test_cbo_zero_page_fault_reports_the_block_address():
    core, prog, pt = user_program("li t0, 0x2047\n cbo.zero (t0)\n")
    core.write_csr(0x30A, CBZE)
    core.write_csr(0x10A, CBZE)
    pt.map(0x2000, DATA, U | R | A)                       # read-only
    run_to_ebreak(core)
    assert m_trap(core)[0] == STORE_PF and m_trap(core)[2] == 0x2040


def test_cbo_clean_needs_read_or_write_and_faults_as_a_store():
    core, prog, pt = user_program("li t0, 0x2010\n cbo.clean (t0)\n li t0, 0x3010\n cbo.flush (t0)\n")
    core.write_csr(0x30A, CBCFE)
    core.write_csr(0x10A, CBCFE)
    pt.map(0x2000, DATA, U | R | A)                       # readable: allowed
    run_to_ebreak(core)                                   # 0x3000 unmapped: a store page fault
    assert m_trap(core)[0] == STORE_PF and m_trap(core)[2] == 0x3000


def test_cbo_zero_on_a_device_or_denied_by_pmp_is_a_store_access_fault():
    g = Guest("cbo.zero (a0)\n", virt=0, priv=3)
    g.core.x[10] = 0x1000_0000                            # the UART
    g.run()
    assert g.stopped_at() == "m_handler"
    assert (g.csr("mcause"), g.csr("mtval")) == (STORE_ACCESS, 0x1000_0000)
    g = Guest("cbo.zero (a0)\n", virt=0, priv=1)
    g.set("menvcfg", CBZE)
    g.core.write_csr(0x3B0, (DATA >> 2) | 0x1FF)          # pmpaddr0: NAPOT, DATA's 4 KiB page
    g.core.write_csr(0x3B1, (1 << 54) - 1)
    g.core.write_csr(0x3A0, 0x19 | 0x1F << 8)             # pmpcfg0: entry 0 read only, entry 1 RWX
    g.core.x[10] = DATA + 0x80
    g.run()
    assert (g.stopped_at(), g.csr("mcause"), g.csr("mtval")) == ("m_handler", STORE_ACCESS, DATA + 0x80)


def test_cbo_zero_at_v1_takes_a_guest_page_fault_with_the_block_gpa():
    g = Guest("cbo.zero (a0)\n", virt=1, priv=1)
    g.set("menvcfg", CBZE)
    g.set("henvcfg", CBZE)
    g.set("medeleg", 1 << STORE_GPF)
    root = g.gstage_root(3)
    g.identity_gstage(root, 3, skip=[DATA])
    g.set_hgatp(root, 3)
    g.core.x[10] = DATA + 0x99
    g.run()
    assert g.stopped_at() == "hs_handler"
    assert (g.csr("scause"), g.csr("stval"), g.csr("htval")) == (STORE_GPF, DATA + 0x80, (DATA + 0x80) >> 2)


def test_hints_execute_as_nothing():
    g = Guest("li a0, 0x08000000\n prefetch.i 0(a0)\n prefetch.r 32(a0)\n prefetch.w -64(a0)\n pause\n"
              "li a1, 7\n", virt=1, priv=0)
    g.run()
    assert g.stopped_at() == "guest" and reg(g.core, "a1") == 7

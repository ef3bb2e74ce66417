"""The harness's two backends agree: the same program on pyvmm's core and on QEMU
gives the same registers, trap log and signature (the UART dump parsed back).

This checks the harness itself (its QEMU path is how the expected values in the
other files were validated: PYVMM_CONFORMANCE_BACKEND=qemu runs them all on QEMU)."""

import pytest

from . import harness
from .test_paging import A, D, R, TEST_VA, V, W, fill, in_s, kernel_map, page, set_pte
from .test_traps import ARM_TIMER, DISARM_TIMER, MIP_MTIP, MSTATUS_MIE, WAIT_MTIP

PROGRAMS = {
    "alu": "    li a0, -7\n    li a1, 3\n    div a2, a0, a1\n    rem a3, a0, a1\n    mulh a4, a0, a0\n"
           "    sraw a5, a0, a1\n    c.addi a0, 5\n",
    "memory": "    la a0, __sig\n    li a1, -2\n    sd a1, 0(a0)\n    sh a1, 9(a0)\n    lw a2, 8(a0)\n"
              "    amoadd.d a3, a1, (a0)\n    lr.w a4, (a0)\n    sc.w a5, a1, (a0)\n",
    "traps": "    csrw cycle, zero\n    ebreak\n    li a0, 0x08000000\n    lw a1, 0(a0)\n    ecall\n",
    "timer": ARM_TIMER + f"    li t0, {MIP_MTIP}\n    csrs mie, t0\n" + WAIT_MTIP
             + f"    csrsi mstatus, {MSTATUS_MIE}\n    nop\n    csrci mstatus, {MSTATUS_MIE}\n" + DISARM_TIMER,
    "paging": in_s(kernel_map() + set_pte(2, 0, page(8), V | R | W | A | D) + fill(8, 0, 0x1234),
                   f"    li a1, {TEST_VA}\n    ld a0, 0(a1)\n    sd a0, 8(a1)\n    li a2, {TEST_VA + 0x5000}\n"
                   "    ld a3, 0(a2)\n"),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_core_and_qemu_agree(name):
    for reason in (harness.qemu_missing(), harness.gnu_tools_missing()):
        if reason:
            pytest.skip(reason)
    image = harness.build(harness.program_source(PROGRAMS[name]), "gnu")
    on_qemu = harness.run_qemu(image)
    on_core = harness.run_core(image)
    assert on_core.x == on_qemu.x
    assert [(t.cause, t.epc, t.tval, t.mode) for t in on_core.traps] == \
        [(t.cause, t.epc, t.tval, t.mode) for t in on_qemu.traps]
    assert on_core.sig == on_qemu.sig

"""The same H-extension programs on pyvmm's core and on QEMU 7.2 (-cpu rv64 has H):
registers at the exit point and every trap record (cause, epc, tval, status,
handler, htval/mtval2, hstatus) must agree. One GNU-built image runs on both.

The programs stay inside what QEMU 7.2 gets right (the other files mark its
deviations); status words are compared without FS/XS/VS/SD, since QEMU's rv64
has F and D and pyvmm's hart is IMAC; htinst/mtinst are left out, since for
explicit accesses the spec lets an implementation write 0 or a transformed
instruction.
"""

import pytest

from . import harness
from . import h_support as h
from .h_support import A, D, GSTAGE_RWX, R, U, V, W, gpool, gpte

FP_VECTOR_BITS = (3 << 13) | (3 << 15) | (3 << 9) | (1 << 63)
GPF_TO_HS = (1 << 20) | (1 << 21) | (1 << 23)
EBREAK = "    .option push\n    .option norvc\n    ebreak\n    .option pop\n"


def _gstage():
    return (h.gstage_identity_ram() + gpte("__h_groot", 1, gpool(0), V) + gpte(gpool(0), 0, gpool(1), V)
            + gpte(gpool(1), 0, gpool(2), GSTAGE_RWX) + h.gstage_on(vmid=3)
            + f"    la t0, {gpool(2)}\n    li t1, 0x1234\n    sd t1, 0(t0)\n")


PROGRAMS = {
    "ecalls-every-mode": "".join(h.enter(m, f"e_{m}") + f"e_{m}:\n    ecall\n" + h.to_m()
                                 for m in ("HS", "U", "VS", "VU")),
    "delegation-chain": (f"    li t0, {(1 << 3) | (1 << 10)}\n    csrw medeleg, t0\n    li t0, 1 << 3\n"
                         "    csrw hedeleg, t0\n" + h.enter("VU", "vu") + "vu:\n" + EBREAK
                         + "    csrr a0, cycle\n" + h.to_m() + h.enter("VS", "vs") + "vs:\n" + EBREAK
                         + "    ecall\n    csrr a1, hstatus\n" + h.to_m()
                         + "    csrr a2, vscause\n    csrr a3, vsepc\n    csrr a4, scause\n"),
    "guest-page-faults": (_gstage() + f"    li t0, {GPF_TO_HS}\n    csrw medeleg, t0\n" + h.enter("VS", "vs")
                          + "vs:\n    li a1, 0x40000000\n    ld a0, 8(a1)\n    li a2, 0x40001000\n"
                          "    sd a0, 16(a2)\n    lw a3, 4(a2)\n" + h.to_m() + "    csrr a5, htval\n    csrr a6, stval\n"),
    "gpf-to-m": (_gstage() + h.enter("VU", "vu") + "vu:\n    li a1, 0x40001000\n    ld a0, 16(a1)\n"
                 + h.to_m() + "    csrr a2, mtval2\n"),
    "hvip-interrupts": ("    li t0, 0x44\n    csrw hideleg, t0\n    csrw hvip, t0\n    li t0, 0x22\n    csrw vsie, t0\n"
                        + h.enter("VS", "vs") + "vs:\n    csrsi sstatus, 2\n    nop\n    nop\n    csrci sstatus, 2\n"
                        + h.to_m() + "    csrw hvip, zero\n    li t0, 4\n    csrw hie, t0\n    csrw hvip, t0\n"
                        "    csrw hideleg, zero\n" + h.enter("VS", "vs2") + "vs2:\n    nop\n" + h.to_m()
                        + "    csrw hvip, zero\n    csrw hie, zero\n"),
    "virtual-instructions": ("    li t0, 1\n    csrw mcounteren, t0\n    csrw hcounteren, zero\n"
                             f"    li t0, {h.HSTATUS_VTW | h.HSTATUS_VTSR}\n    csrs hstatus, t0\n"
                             + h.enter("VS", "vs") + "vs:\n    .option push\n    .option norvc\n"
                             "    csrr a0, hstatus\n    csrr a1, vsatp\n    csrr a2, cycle\n    wfi\n    sret\n"
                             "    .option pop\n" + h.to_m()),
    "hlv-hsv": (_gstage() + "    csrw vsatp, zero\n" + h.enter("HS", "hs") + "hs:\n    li a1, 0x40000000\n"
                "    hlv.d a0, (a1)\n    hlv.b a2, (a1)\n    li t0, -5\n    hsv.w t0, (a1)\n"
                + "    hlv.wu a3, (a1)\n    hlv.d a4, (a1)\n    li a5, 0x40001008\n    hlv.d a6, (a5)\n" + h.to_m()),
    "mret-sret-v": (h.enter("HS", "hs") + "hs:\n    la t0, vs\n    csrw sepc, t0\n"
                    f"    li t0, {h.HSTATUS_SPV}\n    csrs hstatus, t0\n    li t0, 1 << 8\n    csrs sstatus, t0\n"
                    "    sret\nvs:\n    la t0, vu\n    csrw sepc, t0\n    li t0, 1 << 8\n    csrc sstatus, t0\n"
                    "    sret\nvu:\n    ecall\n" + h.to_m() + "    csrr a0, hstatus\n"),
}


def _comparable(result):
    # QEMU 7.2 sets mstatus.GVA for any trap from V=1 into M with a nonzero mtval (an
    # instruction, too): GVA is compared by test_h_traps/test_h_gstage instead.
    traps = [(t.cause, t.epc, t.tval, t.status & ~FP_VECTOR_BITS & ~(h.MSTATUS_GVA if t.mode == 3 else 0),
              t.mode, t.tval2, t.hstatus) for t in result.traps]
    return result.raw.x, traps


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_core_and_qemu_agree(name):
    for reason in (harness.qemu_missing(), harness.gnu_tools_missing()):
        if reason:
            pytest.skip(reason)
    image = h.build(PROGRAMS[name], assembler="gnu")
    on_qemu = h.run_image(image, "qemu")
    on_core = h.run_image(image, "core")
    regs_core, traps_core = _comparable(on_core)
    regs_qemu, traps_qemu = _comparable(on_qemu)
    assert traps_core == traps_qemu
    assert regs_core == regs_qemu
    assert traps_core, "each program exercises at least one trap"

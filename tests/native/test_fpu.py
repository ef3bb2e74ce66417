"""F and D in the core: the FS state machine and what it guards, rounding-mode
checks, NaN-boxing, the spec's corner cases of conversions, fmin/fmax,
comparisons and fclass, RMM's halfway cases, and the host FPU left as Python
had it. (QEMU agreement on random programs: tests/differential/test_fuzz_fp.py.)"""

import struct

import pytest

from .helpers import core_mod, load, reg, run_to_ebreak

MSTATUS, VSSTATUS, SSTATUS, MEDELEG = 0x300, 0x200, 0x100, 0x302
FS_INITIAL, FS_DIRTY = 1 << 13, 3 << 13
SD = 1 << 63
NV, DZ, OF, UF, NX = 16, 8, 4, 2, 1
QNAN64, QNAN32 = 0x7FF8000000000000, 0x7FC00000
BOX = 0xFFFFFFFF00000000
ILLEGAL = 2
EXIT_ON_ILLEGAL = 1 << ILLEGAL | 1 << 3          # and ebreak


def d(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def s(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def run(body, fs=FS_INITIAL, **fregs):
    """Run `body` in M-mode with mstatus.FS = fs and f registers preset (sp
    points at a scratch doubleword); a trap other than the final ebreak
    leaves with its cause in exit_cause."""
    core, prog = load("la sp, scratch\n" + body + "\n ebreak\n.balign 8\nscratch: .dword 0x12345678\n")
    core.write_csr(MSTATUS, (core.read_csr(MSTATUS) & ~FS_DIRTY) | fs)
    for name, value in fregs.items():
        core.set_f(int(name[1:]), value)
    core.exit_on_exception = EXIT_ON_ILLEGAL
    assert core.run(100_000) == core_mod.EXIT_TRAP
    return core, prog


def test_fs_off_makes_fp_instructions_and_fp_csrs_illegal():
    for insn in ("fadd.d fa0, fa1, fa2", "flw fa0, 0(sp)", "fsd fa0, 0(sp)", "fmv.x.d a0, fa0",
                 "csrr a0, fflags", "fsrmi 1", "c.fldsp fa0, 8(sp)"):
        core, prog = run("at: " + insn, fs=0)
        assert core.exit_cause == ILLEGAL, insn
        assert core.exit_pc == prog["at"], insn
        assert core.read_csr(MSTATUS) & FS_DIRTY == 0, insn


def test_writing_an_f_register_or_fflags_makes_fs_dirty_and_sd_follows():
    core, _ = run("fmv.x.d a0, fa0\n fsd fa0, 0(sp)\n feq.d a1, fa0, fa0\n csrr a2, mstatus",
                  f10=d(1.0))
    status = reg(core, "a2")
    assert status & FS_DIRTY == FS_INITIAL and not status & SD       # reads and stores leave it
    core, _ = run("fadd.d fa0, fa1, fa1\n csrr a0, mstatus\n csrr a1, sstatus", f11=d(1.0))
    assert reg(core, "a0") & FS_DIRTY == FS_DIRTY and reg(core, "a0") & SD
    assert reg(core, "a1") & FS_DIRTY == FS_DIRTY and reg(core, "a1") & SD
    core, _ = run("csrwi fflags, 0\n csrr a0, mstatus")
    assert reg(core, "a0") & FS_DIRTY == FS_DIRTY
    core, _ = run("flt.d a0, fa0, fa0\n csrr a1, mstatus", f10=QNAN64)       # raises NV
    assert reg(core, "a1") & FS_DIRTY == FS_DIRTY and reg(core, "a0") == 0


@pytest.mark.parametrize("body", ["at: .insn r 0x53, 5, 0, fa0, fa1, fa2",     # fadd.s, rm 5
                                  "at: .insn r 0x53, 6, 1, fa0, fa1, fa2",     # fadd.d, rm 6
                                  "fsrmi 5\nat: fadd.d fa0, fa1, fa2",         # dyn, frm 5
                                  "fsrmi 7\nat: fcvt.w.d a0, fa1"])
def test_reserved_rounding_modes_are_illegal(body):
    core, prog = run(body)
    assert core.exit_cause == ILLEGAL and core.exit_pc == prog["at"]
    assert core.get_f(10) == 0


def test_frm_holds_every_value_and_fcsr_combines():
    core, _ = run("fsrmi a0, 6\n frrm a1\n li t0, 0xff\n fscsr a2, t0\n frcsr a3\n frflags a4")
    assert (reg(core, "a1"), reg(core, "a2"), reg(core, "a3"), reg(core, "a4")) == (6, 6 << 5, 0xFF, 0x1F)
    assert (core.frm, core.fflags, core.fcsr) == (7, 0x1F, 0xFF)


def test_nan_boxing():
    core, _ = run("fadd.s fa0, fa1, fa2\n fmv.x.w a0, fa3\n fsgnjn.s fa4, fa1, fa1\n"
                  "flw fa5, 0(sp)\n fmv.w.x fa6, a1\n fcvt.d.s fa7, fa1",
                  f11=0x3F800000, f12=BOX | s(1.0), f13=0x00000000_80000001)
    assert core.get_f(10) == BOX | QNAN32            # an unboxed operand is the canonical NaN
    assert reg(core, "a0") == 0xFFFFFFFF80000001     # fmv.x.w: the low bits, sign-extended
    assert core.get_f(14) == BOX | 0xFFC00000        # fsgnjn of the canonical NaN
    assert core.get_f(15) == BOX | 0x12345678        # flw boxes
    assert core.get_f(16) == BOX                     # fmv.w.x of 0
    assert core.get_f(17) == QNAN64


@pytest.mark.parametrize("insn, value, result, flags", [
    ("fcvt.w.d", float("nan"), 0x7FFFFFFF, NV),
    ("fcvt.w.d", float("inf"), 0x7FFFFFFF, NV),
    ("fcvt.w.d", float("-inf"), 0xFFFFFFFF80000000, NV),
    ("fcvt.w.d", 2147483647.5, 0x7FFFFFFF, NX),        # rtz: in range after rounding
    ("fcvt.w.d", -2147483649.0, 0xFFFFFFFF80000000, NV),
    ("fcvt.wu.d", -1.0, 0, NV),
    ("fcvt.wu.d", -0.5, 0, NX),
    ("fcvt.wu.d", 4294967295.0, 0xFFFFFFFFFFFFFFFF, 0),   # sign-extended
    ("fcvt.wu.d", float("nan"), 0xFFFFFFFFFFFFFFFF, NV),
    ("fcvt.l.d", 2.0 ** 63, 0x7FFFFFFFFFFFFFFF, NV),
    ("fcvt.l.d", -(2.0 ** 63), 1 << 63, 0),
    ("fcvt.lu.d", 2.0 ** 64, 0xFFFFFFFFFFFFFFFF, NV),
    ("fcvt.lu.d", -0.0, 0, 0),
])
def test_conversions_to_integers_saturate_with_nv_not_nx(insn, value, result, flags):
    core, _ = run(f"{insn} a0, fa1, rtz\n frflags a1", f11=d(value))
    assert (reg(core, "a0"), reg(core, "a1")) == (result, flags)


@pytest.mark.parametrize("rm, expect", [("rne", 2), ("rmm", 3), ("rtz", 2), ("rdn", 2), ("rup", 3)])
def test_rounding_modes_of_a_conversion(rm, expect):
    core, _ = run(f"fcvt.w.d a0, fa1, {rm}\n fcvt.w.d a1, fa2, {rm}", f11=d(2.5), f12=d(-2.5))
    assert reg(core, "a0") == expect
    assert reg(core, "a1") == {"rne": -2, "rmm": -3, "rtz": -2, "rdn": -3, "rup": -2}[rm] & (2 ** 64 - 1)


def test_rmm_rounds_halfway_cases_away_from_zero():
    # 1 + 2**-53 is halfway between 1 and 1 + 2**-52; (1 + 3 * 2**-52) * 1.5 is
    # 1.5 + 4.5 ulp, halfway between an even (RNE's) and an odd (RMM's) neighbour
    core, _ = run("fadd.d fa0, fa1, fa2, rmm\n fadd.d fa3, fa1, fa2, rne\n"
                  "fmul.d fa4, fa5, fa6, rmm\n fmul.d fa7, fa5, fa6\n"
                  "fsub.d ft0, ft1, fa2, rmm\n frflags a0",
                  f11=d(1.0), f12=d(2.0 ** -53), f15=d(1 + 3 * 2.0 ** -52), f16=d(1.5), f1=d(-1.0))
    assert core.get_f(10) == d(1 + 2.0 ** -52) and core.get_f(13) == d(1.0)
    assert core.get_f(14) == d(1.5 + 5 * 2.0 ** -52) and core.get_f(17) == d(1.5 + 4 * 2.0 ** -52)
    assert core.get_f(0) == d(-1 - 2.0 ** -52)
    assert reg(core, "a0") == NX


def test_fmin_fmax_signed_zeros_and_nans():
    snan = 0x7FF0000000000001
    core, _ = run("fmin.d fa0, fa1, fa2\n fmax.d fa3, fa1, fa2\n fmin.d fa4, fa5, fa6\n frflags a0\n"
                  "fmin.d fa7, ft0, fa6\n frflags a1\n fmax.d ft1, fa5, fa5",
                  f11=d(0.0), f12=d(-0.0), f15=QNAN64 | 0x123, f16=d(1.0), f0=snan)
    assert core.get_f(10) == d(-0.0) and core.get_f(13) == d(0.0)
    assert core.get_f(14) == d(1.0) and reg(core, "a0") == 0          # a quiet NaN yields the other
    assert core.get_f(17) == d(1.0) and reg(core, "a1") == NV         # a signalling one raises NV
    assert core.get_f(1) == QNAN64                                    # two NaNs: the canonical one


def test_comparisons_quiet_and_signalling():
    core, _ = run("feq.d a0, fa1, fa1\n frflags a1\n csrwi fflags, 0\n feq.d a2, fa2, fa2\n frflags a3\n"
                  "csrwi fflags, 0\n fle.d a4, fa1, fa1\n frflags a5\n fle.d a6, fa3, fa4",
                  f11=QNAN64, f12=0x7FF4000000000000, f13=d(-0.0), f14=d(0.0))
    assert (reg(core, "a0"), reg(core, "a1")) == (0, 0)
    assert (reg(core, "a2"), reg(core, "a3")) == (0, NV)
    assert (reg(core, "a4"), reg(core, "a5")) == (0, NV)
    assert reg(core, "a6") == 1


def test_fclass_every_class():
    values = [d(float("-inf")), d(-1.0), 0x800FFFFFFFFFFFFF, d(-0.0), d(0.0), 1, d(1.0),
              d(float("inf")), 0x7FF0000000000001, QNAN64]
    body = "\n".join(f"fclass.d x{18 + i}, f{i}" for i in range(10))
    core, _ = run(body, **{f"f{i}": v for i, v in enumerate(values)})
    assert [reg(core, r) for r in "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11".split()] == [1 << i for i in range(10)]


def test_exceptions_flags_of_arithmetic():
    core, _ = run("fdiv.d fa0, fa1, fa2\n frflags a0\n csrwi fflags, 0\n"
                  "fmul.d fa3, fa4, fa4\n frflags a1\n csrwi fflags, 0\n"
                  "fmul.d fa5, fa6, fa6\n frflags a2\n csrwi fflags, 0\n"
                  "fsqrt.d fa7, ft0\n frflags a3\n csrwi fflags, 0\n"
                  "fmadd.d ft1, ft2, ft3, ft4\n frflags a4",
                  f11=d(1.0), f12=d(0.0), f14=d(1e300), f16=d(1e-300), f0=d(-1.0),
                  f2=d(float("inf")), f3=d(0.0), f4=QNAN64)
    assert reg(core, "a0") == DZ and core.get_f(10) == d(float("inf"))
    assert reg(core, "a1") == OF | NX
    assert reg(core, "a2") == UF | NX and core.get_f(15) == 0
    assert reg(core, "a3") == NV and core.get_f(17) == QNAN64
    assert reg(core, "a4") == NV and core.get_f(1) == QNAN64       # inf * 0 + qNaN is invalid


def test_virtualized_fp_needs_both_fs_and_dirties_both():
    core, prog = load("at: fadd.d fa0, fa1, fa1\n ebreak\n")
    core.write_csr(MSTATUS, core.read_csr(MSTATUS) | FS_INITIAL)
    core.exit_on_exception = EXIT_ON_ILLEGAL
    core.priv = 1
    core.virt = 1
    core.pc = prog["at"]
    core.write_csr(VSSTATUS, 0)
    assert core.run(10) == core_mod.EXIT_TRAP and core.exit_cause == ILLEGAL
    core.priv, core.virt, core.pc = 1, 1, prog["at"]
    core.write_csr(VSSTATUS, FS_INITIAL)
    core.write_csr(MSTATUS, core.read_csr(MSTATUS) & ~FS_DIRTY)
    assert core.run(10) == core_mod.EXIT_TRAP and core.exit_cause == ILLEGAL
    core.priv, core.virt, core.pc = 1, 1, prog["at"]
    core.write_csr(MSTATUS, core.read_csr(MSTATUS) | FS_INITIAL)
    assert core.run(10) == core_mod.EXIT_TRAP and core.exit_cause == 3
    assert core.read_csr(MSTATUS) & FS_DIRTY == FS_DIRTY
    assert core.read_csr(VSSTATUS) & FS_DIRTY == FS_DIRTY and core.read_csr(VSSTATUS) & SD


def test_the_host_rounding_mode_is_python_s_again_after_a_run():
    third = (1.0 / 3.0).hex()
    core, _ = run("fsrmi 3\n fdiv.d fa0, fa1, fa2\n fdiv.d fa3, fa1, fa2, rtz", f11=d(1.0), f12=d(3.0))
    assert core.get_f(10) != core.get_f(13)           # RUP and RTZ differ for 1/3
    x = 1.0
    assert (x / 3.0).hex() == third


def test_core_face_of_the_f_registers():
    core = core_mod.Core(ram_size=1 << 16)
    core.set_f(31, 2 ** 64 + 5)
    assert core.get_f(31) == 5 and int(core.f[31]) == 5
    core.f[0] = 7
    assert core.get_f(0) == 7
    core.fcsr = 0x1E5
    assert (core.frm, core.fflags, core.read_csr(3)) == (7, 5, 0xE5)
    with pytest.raises(IndexError):
        core.get_f(32)
    assert core.read_csr(MSTATUS) & FS_DIRTY == 0       # none of this is the guest's doing

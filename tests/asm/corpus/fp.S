# Every F and D instruction of pyvmm.isa with a few operand and rounding-mode
# choices, the pseudo-instructions GNU as accepts for them, and the loads and
# stores that compress to c.fld/c.fsd/c.fldsp/c.fsdsp, with and without RVC.
    .attribute arch, "rv64imafdc_zicsr_zifencei"
    .text
    .globl _start
_start:
    .option norvc
    flw fs4, -8(a0)
    flw ft3, -2048(sp)
    flw ft6, 12(s1)
    fld ft3, 248(t0)
    fld ft2, -8(sp)
    fld fs10, 248(sp)
    fsw ft5, -8(t0)
    fsw ft3, 8(t0)
    fsw fa4, 12(zero)
    fsd ft3, 12(t0)
    fsd fs9, 248(sp)
    fsd ft2, 16(t0)
    fmadd.s fs2, fs10, fs1, f7
    fmadd.s fs3, fs1, fa1, ft6, rup
    fmadd.s fa2, fs7, ft6, fs1, rmm
    fmsub.s ft4, ft3, fa3, ft11, rmm
    fmsub.s f7, fs11, fs4, ft9, rup
    fmsub.s ft9, fs7, fs3, fa5, dyn
    fnmsub.s fa1, fa5, ft5, fs3, rup
    fnmsub.s ft11, fs5, ft8, fs2, rup
    fnmsub.s ft4, ft7, f0, fs10, rne
    fnmadd.s fs5, fs1, ft11, fs10
    fnmadd.s ft4, fs1, fs4, fs5, rmm
    fnmadd.s fs6, ft11, ft9, ft4, dyn
    fadd.s ft5, fa7, ft10, rmm
    fadd.s ft4, ft3, fs3, rmm
    fadd.s ft8, fs2, fs8, rmm
    fsub.s fs6, ft1, ft9, rtz
    fsub.s fa0, ft7, ft11
    fsub.s fa3, fs2, fs0, rmm
    fmul.s fa5, fs9, fs9, dyn
    fmul.s ft11, ft5, fa0, rdn
    fmul.s fs9, fs1, fa7, rne
    fdiv.s fs11, fs1, fa7, rmm
    fdiv.s fs10, fs6, fs8, rne
    fdiv.s fs1, ft5, fa1, rne
    fsqrt.s fa4, fa4
    fsqrt.s ft11, fa1, rtz
    fsqrt.s fs2, ft0, rne
    fsgnj.s fs10, f7, fs7
    fsgnj.s fs4, fs0, f0
    fsgnj.s ft3, ft9, fs1
    fsgnjn.s fs9, fs9, fs9
    fsgnjn.s fs9, ft6, ft10
    fsgnjn.s fs9, ft3, fa2
    fsgnjx.s ft4, fa3, ft8
    fsgnjx.s fa0, ft7, fs5
    fsgnjx.s ft3, ft6, ft0
    fmin.s fs1, f7, ft6
    fmin.s fs7, ft1, ft4
    fmin.s fa3, fs8, fs1
    fmax.s fa6, fs6, fs7
    fmax.s ft10, ft7, ft7
    fmax.s ft11, ft9, ft10
    fle.s t6, fs3, ft5
    fle.s a0, ft6, fs5
    fle.s a7, ft10, fa0
    flt.s sp, fa3, f31
    flt.s s8, fs1, f7
    flt.s sp, f31, fs3
    feq.s t1, fa6, f31
    feq.s s8, fa0, fs6
    feq.s a5, f7, f7
    fcvt.w.s zero, fs5, rmm
    fcvt.w.s a5, fa2, dyn
    fcvt.w.s a6, fs9, rmm
    fcvt.s.w fa4, a3, rup
    fcvt.s.w ft11, s7, rmm
    fcvt.s.w ft1, sp, dyn
    fcvt.wu.s s2, ft10, rtz
    fcvt.wu.s a3, fs6, rdn
    fcvt.wu.s s7, fs7
    fcvt.s.wu fa4, t2, rne
    fcvt.s.wu ft10, a3, rtz
    fcvt.s.wu fa3, t6, rup
    fcvt.l.s ra, ft10, rmm
    fcvt.l.s s7, ft5, dyn
    fcvt.l.s s0, fs8, dyn
    fcvt.s.l fa2, t6, rne
    fcvt.s.l fs11, s6
    fcvt.s.l fs9, t5, rdn
    fcvt.lu.s t1, fa0, rne
    fcvt.lu.s s1, ft1, rne
    fcvt.lu.s t5, fs1, rup
    fcvt.s.lu ft10, s7, rne
    fcvt.s.lu fs1, s1
    fcvt.s.lu ft0, t2, rup
    fclass.s s1, fs11
    fclass.s a3, fa3
    fclass.s sp, fa6
    fmadd.d fa3, fs2, f0, fa5, dyn
    fmadd.d fs4, fa6, f7, fs10, dyn
    fmadd.d fs0, ft3, fs6, ft9, rmm
    fmsub.d f31, fs10, f0, fs0, rup
    fmsub.d fs1, f31, f0, ft1, dyn
    fmsub.d ft8, fa1, ft0, fs1, rne
    fnmsub.d fs1, ft10, ft7, fs1
    fnmsub.d fs4, f31, f31, fs1, rdn
    fnmsub.d ft6, fs1, ft3, fa5, rne
    fnmadd.d fa7, ft2, ft6, f0, rdn
    fnmadd.d fs1, ft1, ft4, ft8, rtz
    fnmadd.d f0, f0, fa2, fa7, rdn
    fadd.d f0, f7, ft10, rup
    fadd.d fa5, f31, fa6, rup
    fadd.d fa2, ft8, fs0, rdn
    fsub.d ft7, fs9, ft8, rtz
    fsub.d ft4, fa5, fs11
    fsub.d fa3, fs3, ft7, dyn
    fmul.d fs1, fs7, fs1, rtz
    fmul.d fs0, ft9, fa4, rmm
    fmul.d ft6, fs9, ft11, rne
    fdiv.d fa4, fa0, fs11, rup
    fdiv.d fs9, fs5, fs10, rne
    fdiv.d fs6, fs4, ft5, rmm
    fsqrt.d fs7, ft1, rtz
    fsqrt.d fs1, ft9, rdn
    fsqrt.d ft1, fs8, rtz
    fsgnj.d f31, fs2, f0
    fsgnj.d ft4, ft7, fa4
    fsgnj.d ft6, ft5, fa6
    fsgnjn.d fa7, ft2, fa1
    fsgnjn.d fa7, fs0, fs11
    fsgnjn.d fa6, fs9, fs1
    fsgnjx.d f7, f0, ft11
    fsgnjx.d fs4, ft5, fa7
    fsgnjx.d ft3, fa1, fs11
    fmin.d ft4, fa7, ft1
    fmin.d ft5, fa6, ft5
    fmin.d fa4, ft4, fa6
    fmax.d ft7, ft9, ft0
    fmax.d fs5, fs1, fs10
    fmax.d fa7, fs0, ft2
    fle.d a6, ft7, fa0
    fle.d a7, ft3, fa1
    fle.d a3, fs3, fs3
    flt.d a4, fs2, ft8
    flt.d zero, fa1, fa7
    flt.d s7, ft1, fa6
    feq.d gp, ft0, ft1
    feq.d zero, fs1, fa2
    feq.d zero, ft10, fa5
    fcvt.w.d t4, ft6, rmm
    fcvt.w.d t3, ft11, rup
    fcvt.w.d s10, f0, rtz
    fcvt.d.w fa3, a5
    fcvt.d.w fs5, a3
    fcvt.d.w fs0, s10
    fcvt.wu.d s7, ft3, dyn
    fcvt.wu.d s1, ft0
    fcvt.wu.d a7, fs11, rne
    fcvt.d.wu ft3, t1
    fcvt.d.wu fs8, zero
    fcvt.d.wu fs2, a6
    fcvt.l.d s3, ft2, rdn
    fcvt.l.d a2, fa0, rtz
    fcvt.l.d t4, ft0, rtz
    fcvt.d.l fs7, s6, rup
    fcvt.d.l fs4, a6
    fcvt.d.l fs3, a4, rtz
    fcvt.lu.d a2, ft0, rtz
    fcvt.lu.d s9, ft5, rdn
    fcvt.lu.d s2, f0, rmm
    fcvt.d.lu fa2, a6, rup
    fcvt.d.lu ft0, t1, rtz
    fcvt.d.lu ft5, a0, rdn
    fclass.d gp, fs9
    fclass.d sp, fs3
    fclass.d s4, fa4
    fcvt.s.d ft5, f31, dyn
    fcvt.s.d fs1, fs8, dyn
    fcvt.s.d fs4, ft11, rne
    fcvt.d.s fs2, fs1
    fcvt.d.s ft2, f0
    fcvt.d.s fs11, f0
    fmv.x.w s1, f31
    fmv.x.w zero, ft1
    fmv.x.w a5, ft5
    fmv.w.x ft1, gp
    fmv.w.x fs0, s8
    fmv.w.x ft6, s9
    fmv.x.d t4, fs1
    fmv.x.d tp, ft1
    fmv.x.d a6, ft11
    fmv.d.x fa6, ra
    fmv.d.x ft9, t0
    fmv.d.x f0, t1
    fmv.s fa0, fa1
    fneg.s ft0, ft11
    fabs.s fs0, f31
    fgt.s a0, fa0, fa1
    fge.s t1, ft3, ft4
    fmv.d fa0, fa1
    fneg.d ft0, ft11
    fabs.d fs0, f31
    fgt.d a0, fa0, fa1
    fge.d t1, ft3, ft4
    fmv.x.s a0, fa0
    fmv.s.x fa0, a0
    frcsr a0
    fscsr a0, a1
    fscsr a2
    frrm t0
    fsrm t0, t1
    fsrm t2
    frflags a5
    fsflags a4, a3
    fsflags s0
    fsrmi a0, 4
    fsrmi 1
    fsflagsi a1, 31
    fsflagsi 0
    csrr a0, fcsr
    csrw frm, a1
    csrs fflags, 1
    fld fa0, 8(sp)
    fld f0, 0(sp)
    fld fs1, 504(sp)
    fld fa1, 512(sp)
    fld fa2, 248(a0)
    fld fa3, 256(a0)
    fld ft0, 8(a0)
    fsd fa0, 8(sp)
    fsd f0, 0(sp)
    fsd fs1, 504(sp)
    fsd fa1, 512(sp)
    fsd fa2, 248(a0)
    fsd fa3, 256(a0)
    fsd ft0, 8(a0)
    fsd fa5, 12(a1)
    flw fa0, 8(sp)
    fsw fa0, 8(a0)
    flw fa0, 1f, t0
    fld fa1, 1f, t1
    fsw fa0, 1f, t2
    fsd fa1, 1f, a0
    .option rvc
    flw f31, 2047(sp)
    flw fa6, 504(sp)
    flw fa5, 248(zero)
    fld fa4, 2047(zero)
    fld ft11, 8(a5)
    fld ft10, 504(zero)
    fsw ft2, 248(t0)
    fsw ft4, 16(t0)
    fsw fs5, 504(s1)
    fsd fs0, 2047(sp)
    fsd ft3, 504(a5)
    fsd ft6, 248(zero)
    fmadd.s ft11, fs2, f31, fs2, rdn
    fmadd.s ft9, ft9, ft7, fs1, rne
    fmadd.s fs3, ft5, ft10, ft1, rtz
    fmsub.s ft9, ft4, f0, ft8, rtz
    fmsub.s fs8, fa3, fa3, ft4, rup
    fmsub.s ft5, fs1, f31, fa6, rtz
    fnmsub.s fs0, f0, fa7, ft7, rmm
    fnmsub.s fs7, fa4, ft11, ft11, rdn
    fnmsub.s ft1, fa0, ft0, ft11, rmm
    fnmadd.s ft8, fs9, fs3, fs1, rdn
    fnmadd.s fs6, fs8, fs4, ft7, dyn
    fnmadd.s fs5, ft0, fs4, fs5, dyn
    fadd.s fs9, ft7, fa2, rmm
    fadd.s ft0, fs2, fa6, rtz
    fadd.s ft4, fs9, fs8, dyn
    fsub.s ft4, fs7, fs11, dyn
    fsub.s fa7, ft3, fa7
    fsub.s ft3, fs2, fs1, rne
    fmul.s fa7, fs11, f0, rtz
    fmul.s fa2, fs7, fs11
    fmul.s fs9, fs1, fs1, rne
    fdiv.s ft5, ft3, fs10, rdn
    fdiv.s fs0, fs2, ft11
    fdiv.s fs1, fs0, fa0, rdn
    fsqrt.s fs10, fs5, rtz
    fsqrt.s fs3, fa6, rmm
    fsqrt.s fa6, fs9, rmm
    fsgnj.s fa5, fs3, ft10
    fsgnj.s fs1, fs9, ft7
    fsgnj.s fa0, fa0, ft4
    fsgnjn.s fa3, f0, ft11
    fsgnjn.s fs1, fa4, ft8
    fsgnjn.s fs5, ft8, fs11
    fsgnjx.s fs0, fs1, fa2
    fsgnjx.s fa5, ft5, fa1
    fsgnjx.s fs5, fs1, ft5
    fmin.s fs4, fa5, fs7
    fmin.s fa6, fa2, ft1
    fmin.s fs10, fs8, fs10
    fmax.s f31, fa3, fs8
    fmax.s fa7, fs5, ft3
    fmax.s ft11, fa7, fs7
    fle.s s1, f0, f31
    fle.s a4, ft5, fa7
    fle.s a6, fs8, fs9
    flt.s t4, fs11, fs3
    flt.s sp, fs0, ft2
    flt.s t3, ft10, ft11
    feq.s ra, ft4, fs9
    feq.s t5, ft8, fa5
    feq.s t2, fa4, fs1
    fcvt.w.s a0, f31, rmm
    fcvt.w.s t2, ft9
    fcvt.w.s gp, ft0, dyn
    fcvt.s.w fs0, a5, rup
    fcvt.s.w ft2, s4, rne
    fcvt.s.w fa6, t3, rmm
    fcvt.wu.s s0, ft6
    fcvt.wu.s s4, f31, rup
    fcvt.wu.s a3, fs8, rtz
    fcvt.s.wu fa4, ra
    fcvt.s.wu f7, s4, rdn
    fcvt.s.wu fa7, s5, rmm
    fcvt.l.s a6, ft10, rup
    fcvt.l.s a6, fs1, rne
    fcvt.l.s sp, fs10, rmm
    fcvt.s.l fs3, tp
    fcvt.s.l fa2, x5, rmm
    fcvt.s.l fs10, t1, rtz
    fcvt.lu.s a5, fs11, rtz
    fcvt.lu.s a5, ft11
    fcvt.lu.s s6, fs10, rtz
    fcvt.s.lu fs9, a3
    fcvt.s.lu fs2, zero
    fcvt.s.lu fa3, x5, rne
    fclass.s s4, fa2
    fclass.s a5, ft9
    fclass.s a5, fa6
    fmadd.d fs2, ft6, ft11, fa1, rne
    fmadd.d ft11, fs10, ft3, fs1, rdn
    fmadd.d ft3, fa3, ft1, fs1, rdn
    fmsub.d ft3, ft3, fa1, fs9, rdn
    fmsub.d fs4, ft7, ft5, fa0, rtz
    fmsub.d fa2, fa1, f31, ft9
    fnmsub.d fs3, fs8, fs7, fs5, rdn
    fnmsub.d fa0, ft6, ft0, ft5, rtz
    fnmsub.d ft5, fs6, fs10, ft7, rup
    fnmadd.d fa3, fs8, fs6, fs3, dyn
    fnmadd.d fs11, ft5, ft3, ft10, rne
    fnmadd.d fs7, f7, ft8, fa2, rtz
    fadd.d fs7, ft10, ft1, rmm
    fadd.d fs10, fa5, fs9
    fadd.d fs8, ft2, ft9
    fsub.d ft3, fa6, fa2, rmm
    fsub.d ft4, fs5, fs7, rtz
    fsub.d fs5, ft2, fa6, rmm
    fmul.d fs4, fa7, fs3
    fmul.d ft4, ft1, fa4
    fmul.d ft10, ft9, fs8, dyn
    fdiv.d fa6, fs11, ft11, rne
    fdiv.d ft11, fa1, ft0, dyn
    fdiv.d fs3, fs1, fa5, rtz
    fsqrt.d fs4, ft9, rtz
    fsqrt.d ft5, f0, rne
    fsqrt.d fs9, fa0, rne
    fsgnj.d fs10, ft4, ft2
    fsgnj.d ft10, fs1, f7
    fsgnj.d fs4, fa0, fs11
    fsgnjn.d ft6, ft4, fa6
    fsgnjn.d ft5, fa3, ft6
    fsgnjn.d fs10, ft11, ft8
    fsgnjx.d fa1, fa4, fs0
    fsgnjx.d fs10, ft9, fa5
    fsgnjx.d f7, ft7, fs2
    fmin.d fs2, fa7, fa7
    fmin.d fs7, fa6, fa6
    fmin.d fa2, ft8, fa5
    fmax.d fa1, fa5, fa5
    fmax.d fs1, fs2, fa2
    fmax.d fs4, ft4, fs9
    fle.d a7, fa5, f0
    fle.d a5, ft6, ft9
    fle.d gp, ft6, ft0
    flt.d t6, fa4, ft8
    flt.d s8, ft2, fs2
    flt.d a5, ft7, ft3
    feq.d a3, fa2, ft4
    feq.d s8, f0, fa1
    feq.d t4, fa6, ft0
    fcvt.w.d t2, fs6, rne
    fcvt.w.d gp, fs7, rtz
    fcvt.w.d a0, ft2, rne
    fcvt.d.w fa6, gp
    fcvt.d.w fa3, ra
    fcvt.d.w fs4, s11
    fcvt.wu.d s8, fa1, rup
    fcvt.wu.d s4, ft4, rne
    fcvt.wu.d gp, ft11, rup
    fcvt.d.wu ft10, t0
    fcvt.d.wu fs10, t2
    fcvt.d.wu fs9, a0
    fcvt.l.d t1, fa0, rdn
    fcvt.l.d s2, fs10, rtz
    fcvt.l.d s4, fs10
    fcvt.d.l fs3, s7, rdn
    fcvt.d.l fs10, sp, dyn
    fcvt.d.l fs7, a3, rdn
    fcvt.lu.d s10, fa3
    fcvt.lu.d t3, fa0, rdn
    fcvt.lu.d s0, ft5, rdn
    fcvt.d.lu fs7, t5, dyn
    fcvt.d.lu fa0, s1
    fcvt.d.lu ft3, a0, rmm
    fclass.d s10, ft5
    fclass.d s8, f0
    fclass.d a1, fs1
    fcvt.s.d fs6, fs2, rne
    fcvt.s.d f31, fa0
    fcvt.s.d ft6, fs8, rdn
    fcvt.d.s fa2, fs3
    fcvt.d.s fs0, ft2
    fcvt.d.s ft10, fs4
    fmv.x.w tp, fs8
    fmv.x.w t1, fa0
    fmv.x.w a5, fs9
    fmv.w.x fa2, t6
    fmv.w.x fa1, a4
    fmv.w.x ft2, s10
    fmv.x.d a1, fs8
    fmv.x.d s7, ft7
    fmv.x.d a0, fa5
    fmv.d.x fa2, gp
    fmv.d.x fs1, gp
    fmv.d.x fs4, s0
    fmv.s fa0, fa1
    fneg.s ft0, ft11
    fabs.s fs0, f31
    fgt.s a0, fa0, fa1
    fge.s t1, ft3, ft4
    fmv.d fa0, fa1
    fneg.d ft0, ft11
    fabs.d fs0, f31
    fgt.d a0, fa0, fa1
    fge.d t1, ft3, ft4
    fmv.x.s a0, fa0
    fmv.s.x fa0, a0
    frcsr a0
    fscsr a0, a1
    fscsr a2
    frrm t0
    fsrm t0, t1
    fsrm t2
    frflags a5
    fsflags a4, a3
    fsflags s0
    fsrmi a0, 4
    fsrmi 1
    fsflagsi a1, 31
    fsflagsi 0
    csrr a0, fcsr
    csrw frm, a1
    csrs fflags, 1
    fld fa0, 8(sp)
    fld f0, 0(sp)
    fld fs1, 504(sp)
    fld fa1, 512(sp)
    fld fa2, 248(a0)
    fld fa3, 256(a0)
    fld ft0, 8(a0)
    fsd fa0, 8(sp)
    fsd f0, 0(sp)
    fsd fs1, 504(sp)
    fsd fa1, 512(sp)
    fsd fa2, 248(a0)
    fsd fa3, 256(a0)
    fsd ft0, 8(a0)
    fsd fa5, 12(a1)
    flw fa0, 8(sp)
    fsw fa0, 8(a0)
    flw fa0, 1f, t0
    fld fa1, 1f, t1
    fsw fa0, 1f, t2
    fsd fa1, 1f, a0
    .option rvc
    c.fld fs0, 8(a0)
    c.fsd fa5, 248(s1)
    c.fldsp f0, 504(sp)
    c.fsdsp ft11, 0(sp)
    .data
    .balign 8
1:  .dword 0

# The F and D extensions: IEEE 754 binary32/binary64 arithmetic with the
# RISC-V rules for NaNs (one canonical quiet NaN), NaN-boxing of singles in
# the 64-bit f registers, the five rounding modes and the accrued exception
# flags (fflags), exact for every operation.
#
# The host FPU (x86-64 SSE, reached through C) does the arithmetic under
# RNE, RTZ, RDN and RUP: its rounding control is set only when the mode
# differs from the current one, and its sticky flags are cleared before and
# read after each operation. Where the host differs from RISC-V it is
# corrected here: NaN operands never reach it (the result is the canonical
# NaN, NV for a signalling one), NaN results of invalid operations are made
# canonical, conversions to integers, comparisons, fmin/fmax and fclass are
# computed without it (x86's "integer indefinite" and its compare flags are
# not RISC-V's).
#
# RMM (round to nearest, ties to max magnitude) has no host mode. It differs
# from RNE only when the exact result lies exactly halfway between two
# neighbours, and its flags are RNE's even then (the two choose the same
# overflow, and tininess after rounding agrees because a halfway case at the
# subnormal precision is representable at full precision). So an RMM
# operation runs in RNE on the host and then asks whether the exact result
# was a tie: the exact result, or the exact result rounded to odd, is formed
# in binary128 (113 bits: products of two binary64 or binary32 operands are
# exact there; sums, quotients and the fused sum are computed rounding toward
# zero with the lowest bit forced to one when inexact, so an inexact value is
# never a midpoint of the 53- or 24-bit grid), and the midpoint of the RNE
# result and its neighbour is exact in binary128 too. Square roots are never
# halfway cases (the square of a (p+1)-bit odd significand needs 2p+1 bits),
# so RMM's square root is RNE's.

cdef extern from *:
    """
    #include <math.h>
    #include <fenv.h>
    #include <stdint.h>
    #include <string.h>

    /* RISC-V fflags */
    #define PYVMM_FF_NX 1u
    #define PYVMM_FF_UF 2u
    #define PYVMM_FF_OF 4u
    #define PYVMM_FF_DZ 8u
    #define PYVMM_FF_NV 16u
    #define PYVMM_F32_QNAN 0x7fc00000u
    #define PYVMM_F64_QNAN 0x7ff8000000000000ull

    /* rounding modes (the rm field's values) */
    enum { PYVMM_RNE = 0, PYVMM_RTZ = 1, PYVMM_RDN = 2, PYVMM_RUP = 3, PYVMM_RMM = 4 };

    #if defined(__x86_64__)
    /* MXCSR: exception masks set, FTZ/DAZ off (IEEE behaviour), the
       rounding-control field for RNE RTZ RDN RUP */
    static const unsigned pyvmm_mxcsr[4] = {0x1F80u, 0x1F80u | (3u << 13), 0x1F80u | (1u << 13),
                                            0x1F80u | (2u << 13)};
    /* volatile asm, not the _mm_getcsr builtin: GCC would merge two reads of
       MXCSR around an operation into one */
    static inline unsigned pyvmm_getcsr(void) { unsigned c; __asm__ __volatile__("stmxcsr %0" : "=m"(c)); return c; }
    static inline void pyvmm_setcsr(unsigned c) { __asm__ __volatile__("ldmxcsr %0" : : "m"(c)); }
    static inline unsigned pyvmm_host_save(void) { return pyvmm_getcsr(); }
    static inline void pyvmm_host_restore(unsigned c) { if (pyvmm_getcsr() != c) pyvmm_setcsr(c); }
    /* rounding mode rm (0..3) and no flags raised; written only when that changes something */
    static inline void pyvmm_fp_begin(int rm) {
        unsigned want = pyvmm_mxcsr[rm];
        if (pyvmm_getcsr() != want) pyvmm_setcsr(want);
    }
    /* the flags raised since pyvmm_fp_begin, as fflags: IE->NV ZE->DZ OE->OF
       UE->UF PE->NX (DE, a denormal operand, is no IEEE exception) */
    static inline unsigned pyvmm_fp_end(void) {
        unsigned c = pyvmm_getcsr();
        return ((c & 1u) << 4) | ((c & 4u) << 1) | ((c & 8u) >> 1) | ((c & 16u) >> 3) | ((c & 32u) >> 5);
    }
    /* keep the compiler from moving a value's computation across the
       rounding-mode and flag accesses: the value passes through an opaque
       register-to-register step */
    #define PYVMM_FPBAR(v) __asm__ __volatile__("" : "+x"(v))
    #else
    static const int pyvmm_fenv_rm[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
    static inline unsigned pyvmm_host_save(void) { return (unsigned)fegetround(); }
    static inline void pyvmm_host_restore(unsigned c) { fesetround((int)c); feclearexcept(FE_ALL_EXCEPT); }
    static inline void pyvmm_fp_begin(int rm) {
        if (fegetround() != pyvmm_fenv_rm[rm]) fesetround(pyvmm_fenv_rm[rm]);
        feclearexcept(FE_ALL_EXCEPT);
    }
    static inline unsigned pyvmm_fp_end(void) {
        int e = fetestexcept(FE_ALL_EXCEPT);
        return ((e & FE_INVALID) ? PYVMM_FF_NV : 0) | ((e & FE_DIVBYZERO) ? PYVMM_FF_DZ : 0)
             | ((e & FE_OVERFLOW) ? PYVMM_FF_OF : 0) | ((e & FE_UNDERFLOW) ? PYVMM_FF_UF : 0)
             | ((e & FE_INEXACT) ? PYVMM_FF_NX : 0);
    }
    #define PYVMM_FPBAR(v) __asm__ __volatile__("" : "+m"(v))
    #endif

    static inline float pyvmm_f32(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
    static inline uint32_t pyvmm_f32_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
    static inline double pyvmm_f64(uint64_t b) { double f; memcpy(&f, &b, 8); return f; }
    static inline uint64_t pyvmm_f64_bits(double f) { uint64_t b; memcpy(&b, &f, 8); return b; }
    static inline int pyvmm_f32_isnan(uint32_t a) { return (a & 0x7fffffffu) > 0x7f800000u; }
    static inline int pyvmm_f64_isnan(uint64_t a) { return (a & 0x7fffffffffffffffull) > 0x7ff0000000000000ull; }
    static inline int pyvmm_f32_issnan(uint32_t a) { return pyvmm_f32_isnan(a) && !(a & 0x00400000u); }
    static inline int pyvmm_f64_issnan(uint64_t a) { return pyvmm_f64_isnan(a) && !(a & 0x0008000000000000ull); }
    static inline int pyvmm_isnan(int dbl, uint64_t a) { return dbl ? pyvmm_f64_isnan(a) : pyvmm_f32_isnan((uint32_t)a); }
    static inline int pyvmm_issnan(int dbl, uint64_t a) { return dbl ? pyvmm_f64_issnan(a) : pyvmm_f32_issnan((uint32_t)a); }
    static inline int pyvmm_isinf(int dbl, uint64_t a) {
        return dbl ? (a & 0x7fffffffffffffffull) == 0x7ff0000000000000ull : (a & 0x7fffffffu) == 0x7f800000u;
    }
    static inline int pyvmm_iszero(int dbl, uint64_t a) {
        return dbl ? (a & 0x7fffffffffffffffull) == 0 : (a & 0x7fffffffu) == 0;
    }
    static inline uint64_t pyvmm_qnan(int dbl) { return dbl ? PYVMM_F64_QNAN : PYVMM_F32_QNAN; }

    /* ---- RMM: the tie test in binary128 ---- */
    typedef __float128 pyvmm_quad;
    /* set the lowest significand bit of an inexact value: rounding to odd */
    static inline pyvmm_quad pyvmm_q_odd(pyvmm_quad q, unsigned flags) {
        if (flags & PYVMM_FF_NX) {
            uint64_t w[2];
            memcpy(w, &q, 16);
            w[0] |= 1;               /* little-endian: w[0] holds the low significand bits */
            memcpy(&q, w, 16);
        }
        return q;
    }
    /* r: the RNE result; q: the exact result or its round-to-odd. The RMM result. */
    static uint64_t pyvmm_rmm_fix(int dbl, uint64_t r, pyvmm_quad q) {
        if (dbl) {
            double rd = pyvmm_f64(r), nb;
            pyvmm_quad mid;
            if (!isfinite(rd) || (pyvmm_quad)rd == q) return r;
            nb = nextafter(rd, q > (pyvmm_quad)rd ? INFINITY : -INFINITY);
            if (isinf(nb)) return r;    /* RNE rounds a tie above the largest finite up as well */
            mid = ((pyvmm_quad)rd + (pyvmm_quad)nb) * (pyvmm_quad)0.5;    /* exact: 54 bits */
            if (q != mid) return r;
            return fabs(nb) > fabs(rd) ? pyvmm_f64_bits(nb) : r;
        } else {
            float rf = pyvmm_f32((uint32_t)r), nb;
            pyvmm_quad mid;
            if (!isfinite(rf) || (pyvmm_quad)rf == q) return r;
            nb = nextafterf(rf, q > (pyvmm_quad)rf ? INFINITY : -INFINITY);
            if (isinf(nb)) return r;
            mid = ((pyvmm_quad)rf + (pyvmm_quad)nb) * (pyvmm_quad)0.5;
            if (q != mid) return r;
            return fabsf(nb) > fabsf(rf) ? pyvmm_f32_bits(nb) : r;
        }
    }
    static inline pyvmm_quad pyvmm_to_quad(int dbl, uint64_t a) {
        return dbl ? (pyvmm_quad)pyvmm_f64(a) : (pyvmm_quad)pyvmm_f32((uint32_t)a);
    }

    /* ---- arithmetic ---- */
    enum { PYVMM_FADD = 0, PYVMM_FSUB, PYVMM_FMUL, PYVMM_FDIV, PYVMM_FSQRT,
           PYVMM_FMADD, PYVMM_FMSUB, PYVMM_FNMSUB, PYVMM_FNMADD };

    /* the exact result of a non-NaN operation in binary128, rounded to odd */
    static pyvmm_quad pyvmm_quad_op(int dbl, int op, uint64_t a, uint64_t b, uint64_t c) {
        pyvmm_quad qa = pyvmm_to_quad(dbl, a), qb = pyvmm_to_quad(dbl, b), qc = pyvmm_to_quad(dbl, c), r;
        unsigned fl;
        if (op == PYVMM_FNMSUB || op == PYVMM_FNMADD) qa = -qa;
        if (op == PYVMM_FMSUB || op == PYVMM_FNMADD) qc = -qc;
        pyvmm_fp_begin(PYVMM_RTZ);
        PYVMM_FPBAR(qa); PYVMM_FPBAR(qb); PYVMM_FPBAR(qc);
        switch (op) {
        case PYVMM_FADD: r = qa + qb; break;
        case PYVMM_FSUB: r = qa - qb; break;
        case PYVMM_FMUL: r = qa * qb; break;
        case PYVMM_FDIV: r = qa / qb; break;
        default: r = qa * qb + qc; break;     /* the product is exact: one rounding */
        }
        PYVMM_FPBAR(r);
        fl = pyvmm_fp_end();
        return pyvmm_q_odd(r, fl);
    }

    /* one arithmetic instruction: a, b, c are binary64 bits, or binary32 bits
       (already unboxed) when !dbl; rm is 0..4 */
    static uint64_t pyvmm_fp_arith(int dbl, int op, uint64_t a, uint64_t b, uint64_t c, int rm, unsigned *flags) {
        uint64_t r;
        unsigned fl;
        int nan_in = pyvmm_isnan(dbl, a) || (op != PYVMM_FSQRT && pyvmm_isnan(dbl, b))
                     || (op >= PYVMM_FMADD && pyvmm_isnan(dbl, c));
        if (nan_in) {
            int snan = pyvmm_issnan(dbl, a) || (op != PYVMM_FSQRT && pyvmm_issnan(dbl, b))
                       || (op >= PYVMM_FMADD && pyvmm_issnan(dbl, c));
            /* inf * 0 is invalid even when the addend is a quiet NaN */
            if (op >= PYVMM_FMADD && ((pyvmm_isinf(dbl, a) && pyvmm_iszero(dbl, b))
                                      || (pyvmm_iszero(dbl, a) && pyvmm_isinf(dbl, b))))
                snan = 1;
            if (snan) *flags |= PYVMM_FF_NV;
            return pyvmm_qnan(dbl);
        }
        pyvmm_fp_begin(rm == PYVMM_RMM ? PYVMM_RNE : rm);
        if (dbl) {
            double x = pyvmm_f64(a), y = pyvmm_f64(b), z = pyvmm_f64(c), res;
            PYVMM_FPBAR(x); PYVMM_FPBAR(y); PYVMM_FPBAR(z);
            switch (op) {
            case PYVMM_FADD: res = x + y; break;
            case PYVMM_FSUB: res = x - y; break;
            case PYVMM_FMUL: res = x * y; break;
            case PYVMM_FDIV: res = x / y; break;
            case PYVMM_FSQRT: res = sqrt(x); break;
            case PYVMM_FMADD: res = fma(x, y, z); break;
            case PYVMM_FMSUB: res = fma(x, y, -z); break;
            case PYVMM_FNMSUB: res = fma(-x, y, z); break;
            default: res = fma(-x, y, -z); break;
            }
            PYVMM_FPBAR(res);
            fl = pyvmm_fp_end();
            r = pyvmm_f64_bits(res);
        } else {
            float x = pyvmm_f32((uint32_t)a), y = pyvmm_f32((uint32_t)b), z = pyvmm_f32((uint32_t)c), res;
            PYVMM_FPBAR(x); PYVMM_FPBAR(y); PYVMM_FPBAR(z);
            switch (op) {
            case PYVMM_FADD: res = x + y; break;
            case PYVMM_FSUB: res = x - y; break;
            case PYVMM_FMUL: res = x * y; break;
            case PYVMM_FDIV: res = x / y; break;
            case PYVMM_FSQRT: res = sqrtf(x); break;
            case PYVMM_FMADD: res = fmaf(x, y, z); break;
            case PYVMM_FMSUB: res = fmaf(x, y, -z); break;
            case PYVMM_FNMSUB: res = fmaf(-x, y, z); break;
            default: res = fmaf(-x, y, -z); break;
            }
            PYVMM_FPBAR(res);
            fl = pyvmm_fp_end();
            r = pyvmm_f32_bits(res);
        }
        if (pyvmm_isnan(dbl, r)) {
            /* an invalid operation (inf - inf, 0 * inf, 0 / 0, sqrt of a negative) */
            *flags |= fl;
            return pyvmm_qnan(dbl);
        }
        if (rm == PYVMM_RMM && (fl & PYVMM_FF_NX) && op != PYVMM_FSQRT)
            r = pyvmm_rmm_fix(dbl, r, pyvmm_quad_op(dbl, op, a, b, c));
        *flags |= fl;
        return r;
    }

    /* ---- conversions ---- */
    /* x (finite) rounded to an integral value by rm; exact C operations only */
    static double pyvmm_round_integral(double x, int rm) {
        double f, d;
        switch (rm) {
        case PYVMM_RTZ: return trunc(x);
        case PYVMM_RDN: return floor(x);
        case PYVMM_RUP: return ceil(x);
        case PYVMM_RMM: return round(x);     /* C's round: halfway cases away from zero */
        default:
            f = floor(x);
            d = x - f;                       /* exact: the fraction bits of x */
            if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0.0)) f += 1.0;
            return f;
        }
    }
    /* fcvt.{w,wu,l,lu}.{s,d}: kind 0 w, 1 wu, 2 l, 3 lu. NaN gives the largest
       positive value, out-of-range (after rounding) the nearer bound, both with
       NV and without NX; 32-bit results are sign-extended. */
    static uint64_t pyvmm_fcvt_to_int(int dbl, int kind, uint64_t a, int rm, unsigned *flags) {
        static const double lo[4] = {-2147483648.0, 0.0, -9223372036854775808.0, 0.0};
        static const double hi[4] = {2147483648.0, 4294967296.0, 9223372036854775808.0, 18446744073709551616.0};
        static const uint64_t max[4] = {0x7fffffffull, 0xffffffffffffffffull, 0x7fffffffffffffffull,
                                        0xffffffffffffffffull};
        static const uint64_t min[4] = {0xffffffff80000000ull, 0, 0x8000000000000000ull, 0};
        double x, r;
        if (pyvmm_isnan(dbl, a)) {
            *flags |= PYVMM_FF_NV;
            return max[kind];
        }
        x = dbl ? pyvmm_f64(a) : (double)pyvmm_f32((uint32_t)a);
        r = isinf(x) ? x : pyvmm_round_integral(x, rm);
        /* -0.0 and the integers above -1 that round to it are in range of the unsigned kinds */
        if (r < lo[kind]) { *flags |= PYVMM_FF_NV; return min[kind]; }
        if (r >= hi[kind]) { *flags |= PYVMM_FF_NV; return max[kind]; }
        if (r != x) *flags |= PYVMM_FF_NX;
        switch (kind) {
        case 0: return (uint64_t)(int64_t)(int32_t)r;
        case 1: return (uint64_t)(int64_t)(int32_t)(uint32_t)r;
        case 2: return (uint64_t)(int64_t)r;
        default: return (uint64_t)r;
        }
    }
    /* fcvt.{s,d}.{w,wu,l,lu}: v is the integer register, kind as above */
    static uint64_t pyvmm_fcvt_from_int(int dbl, int kind, uint64_t v, int rm, unsigned *flags) {
        uint64_t r;
        unsigned fl;
        pyvmm_quad q;
        int64_t s = kind == 0 ? (int64_t)(int32_t)v : (int64_t)v;
        uint64_t u = kind == 1 ? (uint64_t)(uint32_t)v : v;
        int is_signed = kind == 0 || kind == 2;
        pyvmm_fp_begin(rm == PYVMM_RMM ? PYVMM_RNE : rm);
        PYVMM_FPBAR(s); PYVMM_FPBAR(u);
        if (dbl) {
            double d = is_signed ? (double)s : (double)u;
            PYVMM_FPBAR(d);
            fl = pyvmm_fp_end();
            r = pyvmm_f64_bits(d);
        } else {
            float f = is_signed ? (float)s : (float)u;
            PYVMM_FPBAR(f);
            fl = pyvmm_fp_end();
            r = pyvmm_f32_bits(f);
        }
        if (rm == PYVMM_RMM && (fl & PYVMM_FF_NX)) {
            q = is_signed ? (pyvmm_quad)s : (pyvmm_quad)u;     /* exact: 64 bits fit in 113 */
            r = pyvmm_rmm_fix(dbl, r, q);
        }
        *flags |= fl;
        return r;
    }
    /* fcvt.s.d: a binary64, result binary32 bits */
    static uint32_t pyvmm_fcvt_s_d(uint64_t a, int rm, unsigned *flags) {
        double x;
        float f;
        unsigned fl;
        uint32_t r;
        if (pyvmm_f64_isnan(a)) {
            if (pyvmm_f64_issnan(a)) *flags |= PYVMM_FF_NV;
            return PYVMM_F32_QNAN;
        }
        x = pyvmm_f64(a);
        pyvmm_fp_begin(rm == PYVMM_RMM ? PYVMM_RNE : rm);
        PYVMM_FPBAR(x);
        f = (float)x;
        PYVMM_FPBAR(f);
        fl = pyvmm_fp_end();
        r = pyvmm_f32_bits(f);
        if (rm == PYVMM_RMM && (fl & PYVMM_FF_NX))
            r = (uint32_t)pyvmm_rmm_fix(0, r, (pyvmm_quad)pyvmm_f64(a));
        *flags |= fl;
        return r;
    }
    /* fcvt.d.s: exact for every number */
    static uint64_t pyvmm_fcvt_d_s(uint32_t a, unsigned *flags) {
        if (pyvmm_f32_isnan(a)) {
            if (pyvmm_f32_issnan(a)) *flags |= PYVMM_FF_NV;
            return PYVMM_F64_QNAN;
        }
        return pyvmm_f64_bits((double)pyvmm_f32(a));
    }

    /* ---- sign-free operations ---- */
    static inline int pyvmm_sign(int dbl, uint64_t a) { return dbl ? (int)(a >> 63) : (int)((a >> 31) & 1); }
    static inline int pyvmm_lt(int dbl, uint64_t a, uint64_t b) {      /* neither is NaN */
        return dbl ? pyvmm_f64(a) < pyvmm_f64(b) : pyvmm_f32((uint32_t)a) < pyvmm_f32((uint32_t)b);
    }
    static inline int pyvmm_eq(int dbl, uint64_t a, uint64_t b) {      /* neither is NaN */
        return dbl ? pyvmm_f64(a) == pyvmm_f64(b) : pyvmm_f32((uint32_t)a) == pyvmm_f32((uint32_t)b);
    }
    /* fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber, as the F spec 2.2):
       -0 < +0; a NaN operand yields the other; two NaNs the canonical NaN;
       NV only for a signalling NaN */
    static uint64_t pyvmm_fminmax(int dbl, int is_max, uint64_t a, uint64_t b, unsigned *flags) {
        int an = pyvmm_isnan(dbl, a), bn = pyvmm_isnan(dbl, b);
        if (pyvmm_issnan(dbl, a) || pyvmm_issnan(dbl, b)) *flags |= PYVMM_FF_NV;
        if (an && bn) return pyvmm_qnan(dbl);
        if (an) return b;
        if (bn) return a;
        if (pyvmm_iszero(dbl, a) && pyvmm_iszero(dbl, b))
            return (pyvmm_sign(dbl, a) != is_max) ? a : b;
        return (pyvmm_lt(dbl, a, b) != is_max) ? a : b;
    }
    /* feq (quiet: NV for a signalling NaN), flt and fle (signalling: NV for any NaN) */
    static uint64_t pyvmm_fcmp(int dbl, int kind, uint64_t a, uint64_t b, unsigned *flags) {
        if (pyvmm_isnan(dbl, a) || pyvmm_isnan(dbl, b)) {
            if (kind != 2 || pyvmm_issnan(dbl, a) || pyvmm_issnan(dbl, b)) *flags |= PYVMM_FF_NV;
            return 0;
        }
        if (kind == 0) return pyvmm_lt(dbl, a, b) || pyvmm_eq(dbl, a, b);      /* fle */
        if (kind == 1) return pyvmm_lt(dbl, a, b);                             /* flt */
        return pyvmm_eq(dbl, a, b);                                            /* feq */
    }
    /* fclass: one bit of ten */
    static uint64_t pyvmm_fclass(int dbl, uint64_t a) {
        int neg = pyvmm_sign(dbl, a);
        uint64_t expo = dbl ? (a >> 52) & 0x7ff : (a >> 23) & 0xff;
        uint64_t emax = dbl ? 0x7ff : 0xff;
        uint64_t frac = dbl ? a & 0xfffffffffffffull : a & 0x7fffffull;
        if (expo == emax) {
            if (frac == 0) return neg ? 1u << 0 : 1u << 7;
            return pyvmm_issnan(dbl, a) ? 1u << 8 : 1u << 9;
        }
        if (expo == 0) {
            if (frac == 0) return neg ? 1u << 3 : 1u << 4;
            return neg ? 1u << 2 : 1u << 5;
        }
        return neg ? 1u << 1 : 1u << 6;
    }
    """
    unsigned pyvmm_host_save() nogil
    void pyvmm_host_restore(unsigned c) nogil
    uint64_t pyvmm_fp_arith(int dbl, int op, uint64_t a, uint64_t b, uint64_t c, int rm, unsigned* flags) nogil
    uint64_t pyvmm_fcvt_to_int(int dbl, int kind, uint64_t a, int rm, unsigned* flags) nogil
    uint64_t pyvmm_fcvt_from_int(int dbl, int kind, uint64_t v, int rm, unsigned* flags) nogil
    uint32_t pyvmm_fcvt_s_d(uint64_t a, int rm, unsigned* flags) nogil
    uint64_t pyvmm_fcvt_d_s(uint32_t a, unsigned* flags) nogil
    uint64_t pyvmm_fminmax(int dbl, int is_max, uint64_t a, uint64_t b, unsigned* flags) nogil
    uint64_t pyvmm_fcmp(int dbl, int kind, uint64_t a, uint64_t b, unsigned* flags) nogil
    uint64_t pyvmm_fclass(int dbl, uint64_t a) nogil
    enum:
        PYVMM_FADD
        PYVMM_FSUB
        PYVMM_FMUL
        PYVMM_FDIV
        PYVMM_FSQRT
        PYVMM_FMADD
        PYVMM_FMSUB
        PYVMM_FNMSUB
        PYVMM_FNMADD


# NaN-boxing: a single in a 64-bit f register has the upper 32 bits all ones;
# anything else read as a single is the canonical NaN.
cdef uint64_t NAN_BOX = 0xFFFFFFFF00000000ULL
cdef uint32_t F32_CANONICAL_NAN = 0x7FC00000


cdef inline uint64_t box32(uint64_t v) noexcept nogil:
    return NAN_BOX | (v & 0xFFFFFFFFULL)


cdef inline uint64_t unbox32(uint64_t v) noexcept nogil:
    if (v & NAN_BOX) == NAN_BOX:
        return v & 0xFFFFFFFFULL
    return F32_CANONICAL_NAN


# mstatus.FS / sstatus.FS / vsstatus.FS: Off, Initial, Clean, Dirty
cdef inline bint fp_enabled(Hart* h) noexcept nogil:
    # at V=1 both the guest's vsstatus.FS and the hypervisor's mstatus.FS must allow it
    return (h.mstatus & MSTATUS_FS) != 0 and (not h.virt or (h.vsstatus & MSTATUS_FS) != 0)


cdef inline void fp_dirty(Hart* h) noexcept nogil:
    h.mstatus |= MSTATUS_FS
    if h.virt:
        h.vsstatus |= MSTATUS_FS


cdef inline uint64_t status_sd(uint64_t status) noexcept nogil:
    # SD summarises a Dirty FS (XS and VS are always Off here)
    return (1ULL << 63) if (status & MSTATUS_FS) == MSTATUS_FS else 0


cdef inline void fp_accrue(Hart* h, unsigned flags) noexcept nogil:
    if flags:
        h.fflags |= flags
        fp_dirty(h)


cdef inline void write_fd(Hart* h, int rd, uint64_t v) noexcept nogil:
    h.f[rd] = v
    fp_dirty(h)


cdef int exec_fp(Hart* h, DecodedInsn* d) noexcept nogil:
    # One OP-FP or fused multiply-add instruction. Checks come first, so an
    # illegal instruction changes nothing (the fast run may try, then leave
    # the instruction to the general path, which takes the trap).
    cdef int fop = d.imm
    cdef int kind = fop >> 1
    cdef int dbl = fop & 1
    cdef int rm = (d.raw >> 12) & 7
    cdef unsigned fl = 0
    cdef uint64_t a, b, c, r
    cdef uint64_t* f = h.f
    if not fp_enabled(h):
        return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)
    if kind <= FK_LAST_ROUNDED:
        if rm == 7:
            rm = <int>h.frm
        if rm >= 5:
            return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)
    if dbl:
        a = f[d.rs1]
        b = f[d.rs2]
    else:
        a = unbox32(f[d.rs1])
        b = unbox32(f[d.rs2])
    if kind <= FK_FNMADD:
        # fadd fsub fmul fdiv fsqrt fmadd fmsub fnmsub fnmadd: rounded once
        c = f[d.raw >> 27] if dbl else unbox32(f[d.raw >> 27])
        r = pyvmm_fp_arith(dbl, kind, a, b, c, rm, &fl)
        write_fd(h, d.rd, r if dbl else box32(r))
    elif kind == FK_FCVT_INT_FROM_FP:
        # fcvt.{w,wu,l,lu}.{s,d}: the integer kind is rs2
        h.x[d.rd] = pyvmm_fcvt_to_int(dbl, d.rs2, a, rm, &fl)
    elif kind == FK_FCVT_FP_FROM_INT:
        # fcvt.{s,d}.{w,wu,l,lu}
        r = pyvmm_fcvt_from_int(dbl, d.rs2, h.x[d.rs1], rm, &fl)
        write_fd(h, d.rd, r if dbl else box32(r))
    elif kind == FK_FCVT_FP_FROM_FP:
        # fcvt.s.d (dbl = 0) and fcvt.d.s (dbl = 1)
        if dbl:
            write_fd(h, d.rd, pyvmm_fcvt_d_s(<uint32_t>unbox32(f[d.rs1]), &fl))
        else:
            write_fd(h, d.rd, box32(pyvmm_fcvt_s_d(f[d.rs1], rm, &fl)))
    elif kind == FK_FSGNJ:
        # fsgnj / fsgnjn / fsgnjx: the sign bit from rs2, its inverse, or the xor
        c = (1ULL << 63) if dbl else (1ULL << 31)
        if rm == 0:
            r = (a & ~c) | (b & c)
        elif rm == 1:
            r = (a & ~c) | (~b & c)
        else:
            r = a ^ (b & c)
        write_fd(h, d.rd, r if dbl else box32(r))
    elif kind == FK_FMINMAX:
        r = pyvmm_fminmax(dbl, rm, a, b, &fl)
        write_fd(h, d.rd, r if dbl else box32(r))
    elif kind == FK_FCMP:
        # fle (rm 0), flt (1), feq (2)
        h.x[d.rd] = pyvmm_fcmp(dbl, rm, a, b, &fl)
    elif kind == FK_FCLASS:
        h.x[d.rd] = pyvmm_fclass(dbl, a)
    elif kind == FK_FMV_X_F:
        # fmv.x.w moves the register's low 32 bits as they are, sign-extended
        h.x[d.rd] = f[d.rs1] if dbl else <uint64_t><int64_t><int32_t><uint32_t>f[d.rs1]
    else:
        # FK_FMV_F_X: fmv.w.x boxes the low 32 bits, fmv.d.x moves all 64
        write_fd(h, d.rd, h.x[d.rs1] if dbl else box32(h.x[d.rs1]))
    fp_accrue(h, fl)
    return ST_OK


cdef int exec_fp_load(Hart* h, DecodedInsn* d, int size) noexcept nogil:
    # flw boxes the loaded single; fld loads all 64 bits
    cdef uint64_t v
    cdef uint64_t addr = h.x[d.rs1] + <uint64_t><int64_t>d.imm
    cdef int st
    if not fp_enabled(h):
        return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)
    st = load(h, addr, size, &v)
    if st == ST_OK:
        write_fd(h, d.rd, box32(v) if size == 4 else v)
    elif st == ST_EXIT_BEFORE:
        h.mmio_state = MMIO_LOAD_WAITING
        h.mmio_rd = d.rd
        h.mmio_size = <uint8_t>size
        h.mmio_signed = 0
        h.mmio_fp = 1
        h.mmio_ilen = insn_len(d)
        h.mmio_vaddr = addr
    return st


cdef int exec_fp_store(Hart* h, DecodedInsn* d, int size) noexcept nogil:
    # fsw stores the register's low 32 bits as they are (no unboxing)
    if not fp_enabled(h):
        return raise_exc(h, CAUSE_ILLEGAL_INSN, d.raw)
    return store(h, h.x[d.rs1] + <uint64_t><int64_t>d.imm, size, h.f[d.rs2])

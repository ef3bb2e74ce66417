/* fp.c -- the floating-point workload of `pyvmm bench --suite core`.
 *
 * Four kernels in double and single precision over data regenerated every
 * iteration from an LCG seeded by the iteration number: a 16x16 matrix
 * multiply (fused multiply-adds), Horner evaluation of a polynomial, Newton
 * iterations for square roots and reciprocals (divisions, square roots,
 * comparisons), and a heat-diffusion stencil in single precision with
 * conversions between the precisions and to integers. The results fold into
 * one checksum of their bits, printed on the UART, so QEMU and pyvmm must
 * agree to the last bit.
 *
 * `bench_iterations` sizes the run (patched in the ELF file, as compute.c's).
 */
#include <stdint.h>
#include "bench.h"

#define MAT_N     16
#define POLY_N    64
#define NEWTON_N  256
#define HEAT_N    512
#define HEAT_STEPS 8

static double mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];
static double poly[16];
static double newton_in[NEWTON_N];
static float heat[2][HEAT_N];

static uint64_t lcg_state;

static uint64_t lcg_next(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lcg_state >> 11;
}

/* a double in [-1, 1) with 53 random bits */
static double lcg_double(void)
{
    return (double)(int64_t)(lcg_next() - (1ULL << 52)) * 0x1p-52;
}

static uint64_t bits_of(double d)
{
    union { double d; uint64_t u; } v = { .d = d };
    return v.u;
}

static uint64_t fold(uint64_t h, uint64_t v)
{
    return ((h << 7) | (h >> 57)) ^ v;
}

static uint64_t matmul(void)
{
    uint64_t h = 0;
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            mat_a[i][j] = lcg_double();
            mat_b[i][j] = lcg_double() * 4.0;
        }
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            double sum = 0.0;
            for (int k = 0; k < MAT_N; k++)
                sum = __builtin_fma(mat_a[i][k], mat_b[k][j], sum);
            mat_c[i][j] = sum;
        }
    for (int i = 0; i < MAT_N; i++)
        h = fold(h, bits_of(mat_c[i][(i * 7) % MAT_N]));
    return h;
}

static uint64_t horner(void)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++)
        poly[i] = lcg_double() / (double)(i + 1);
    for (int n = 0; n < POLY_N; n++) {
        double x = lcg_double() * 1.5;
        double y = poly[15];
        float yf = (float)poly[15];
        for (int i = 14; i >= 0; i--) {
            y = y * x + poly[i];
            yf = yf * (float)x + (float)poly[i];
        }
        h = fold(h, bits_of(y) ^ (uint64_t)(int64_t)(yf * 1e6f));
    }
    return h;
}

static uint64_t newton(void)
{
    uint64_t h = 0;
    for (int i = 0; i < NEWTON_N; i++)
        newton_in[i] = lcg_double() * 1000.0 + 1000.5;
    for (int i = 0; i < NEWTON_N; i++) {
        double a = newton_in[i];
        double r = a * 0.5;                     /* sqrt by Newton */
        for (int k = 0; k < 6; k++)
            r = 0.5 * (r + a / r);
        double inv = 1.0 / (float)a;            /* reciprocal refined */
        for (int k = 0; k < 3; k++)
            inv = inv * (2.0 - a * inv);
        double s = __builtin_sqrt(a);
        h = fold(h, bits_of(r - s) ^ bits_of(inv) ^ (uint64_t)(r > s) ^ (uint64_t)(int64_t)(s * 1e9));
    }
    return h;
}

static uint64_t stencil(void)
{
    uint64_t h = 0;
    for (int i = 0; i < HEAT_N; i++)
        heat[0][i] = (float)lcg_double();
    for (int t = 0; t < HEAT_STEPS; t++) {
        float *src = heat[t & 1], *dst = heat[(t + 1) & 1];
        dst[0] = src[0];
        dst[HEAT_N - 1] = src[HEAT_N - 1];
        for (int i = 1; i < HEAT_N - 1; i++)
            dst[i] = src[i] + 0.25f * (src[i - 1] - 2.0f * src[i] + src[i + 1]);
    }
    for (int i = 0; i < HEAT_N; i += 37)
        h = fold(h, (uint64_t)(int32_t)(heat[HEAT_STEPS & 1][i] * 65536.0f));
    return h;
}

static uint64_t bench_fp(void)
{
    uint64_t checksum = 0;
    uint32_t iterations = bench_iterations;
    for (uint32_t it = 0; it < iterations; it++) {
        lcg_state = it * 0x9E3779B97F4A7C15ULL + 1;
        checksum = fold(checksum, matmul());
        checksum = fold(checksum, horner());
        checksum = fold(checksum, newton());
        checksum = fold(checksum, stencil());
    }
    return checksum;
}

void bench_main(void)
{
    uint64_t checksum = bench_fp();
    uart_puts("fp iterations=");
    uart_put_dec(bench_iterations);
    uart_puts(" checksum=");
    uart_put_hex(checksum);
    uart_puts("\n");
    finisher_pass();
}

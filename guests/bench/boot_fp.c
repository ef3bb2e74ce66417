/* boot_fp.c -- turn the F/D state on (mstatus.FS = Initial) before the
 * floating-point workload runs: M-mode, no translation. Kept apart from
 * fp.c so no floating-point instruction can come before it. */
#include "bench.h"

void bench_start(void)
{
    __asm__ volatile("csrs mstatus, %0" : : "r"(1UL << 13));
    bench_main();
}

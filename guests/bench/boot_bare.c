/* boot_bare.c -- run the workload where crt0 left us: M-mode, no translation. */
#include "bench.h"

void bench_start(void)
{
    bench_main();
}

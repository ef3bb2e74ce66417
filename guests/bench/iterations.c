/* iterations.c -- the run's parameters, in .data with symbols of their own so
 * pyvmm.bench.elfpatch can rewrite them in the ELF file. */
#include "bench.h"

volatile uint32_t bench_iterations = 1;

/* How many pages compute.c spreads its list over (a power of two, 64..512). */
volatile uint32_t bench_list_pages = 64;

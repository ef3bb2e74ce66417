/* iterations.c -- the run's parameters, in .data with symbols of their own so
 * pyvmm.bench.elfpatch can rewrite them in the ELF file. */
#include "bench.h"

volatile uint32_t bench_iterations = 1;

/* compute.c's list node spacing in bytes (16..128, a multiple of 8). */
volatile uint32_t bench_list_stride = 16;

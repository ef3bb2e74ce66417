/* iterations.c -- the run's size, alone in .data with a symbol of its own so
 * pyvmm.bench.elfpatch can rewrite it in the ELF file. */
#include "bench.h"

volatile uint32_t bench_iterations = 1;

# rng_dump.S -- rng.S that also prints the 32 bytes in hex, to check that
# pyvmm's entropy is reproducible from run to run. See rng.inc.

    .equ DUMP, 1
    .include "rng.inc"

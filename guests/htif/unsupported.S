# An HTIF command no host serves: device 2. pyvmm names it in one line on
# stderr and stops with status 126 (layout.EXIT_GUEST_ERROR).
        .text
        .globl _start
_start:
        li      t0, 0x0200000000000041          # device 2, command 0, payload 'A'
        la      t1, tohost
        sd      t0, 0(t1)
1:      j       1b

        .include "htif.inc"

# Without Zbb and Zba, GNU as builds sext.b, sext.h, zext.h and zext.w from a
# left shift and a right shift (compressed where the registers allow).
    .text
    .globl _start
_start:
    sext.b a0, a1
    sext.b a0, a0
    sext.h s0, s1
    sext.h t3, t3
    zext.h a5, a5
    zext.h a0, t0
    zext.w a0, a1
    zext.w s1, s1
    ret

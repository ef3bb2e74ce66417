# _start for the raw-syscall test programs: the kernel leaves sp at argc.
        .text
        .globl _start
_start:
        .option push
        .option norelax
        la      gp, __global_pointer$
        .option pop
        mv      a0, sp
        call    cstart
1:      j       1b

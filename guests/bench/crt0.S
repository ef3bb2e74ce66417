# crt0.S -- entry at the RAM base in M-mode (QEMU virt -bios none, pyvmm run):
# global pointer, stack, zeroed .bss, then bench_start (boot_*.c, traps.S).
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack_top
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  call    bench_start
3:  j       3b

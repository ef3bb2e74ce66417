/* entry.S -- where the firmware enters the kernel: S-mode at 0x8020_0000,
 * a0 = hart id, a1 = device tree, paging off, interrupts off. */
    .option norelax
    .section .text.entry, "ax"
    .globl _start
_start:
    la      sp, kstack_top
    mv      s0, a0
    mv      s1, a1
    /* The loader zeroes .bss on pyvmm and QEMU alike, but the boot protocol
     * does not promise it. */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  mv      a0, s0
    mv      a1, s1
    call    kmain
3:  j       3b              /* kmain never returns */

    .section .bss.stack, "aw", @nobits
    .balign 16
    .globl kstack_top
kstack:
    .space  16384
kstack_top:

/* crt0.S -- the user image's header (read by the kernel's loader) and entry:
 * a0 = program id, a1 = its argument, sp = top of the demand-paged stack. */
    .option norelax
    .section .header, "a"
    .word   0x52455355              /* USER_MAGIC */
    .word   0
    .dword  _start
    .dword  __text_end              /* [USER_BASE, text_end): read + execute */
    .dword  __data_end
    .dword  __bss_end               /* [text_end, bss_end): read + write, zeroed */

    .section .text.start, "ax"
    .globl _start
_start:
    call    umain
    li      a7, 1                   /* SYS_exit with umain's result */
    ecall
1:  j       1b

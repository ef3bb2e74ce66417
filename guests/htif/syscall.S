# HTIF syscall proxy as the RISC-V proxy kernel (pk) uses it: tohost = the
# address of magic_mem, eight doublewords (syscall number, arguments). The
# host runs write(1, buf, len), stores the result in magic_mem[0] and answers
# fromhost = 1; then exit(7) through the same proxy ends the run with status 7.
# (Spike and pyvmm serve it; QEMU 7.2's HTIF has no syscall proxy.)
        .equ    SYS_WRITE, 64
        .equ    SYS_EXIT, 93
        .text
        .globl _start
_start:
        la      s0, magic_mem
        la      s1, tohost
        la      s2, fromhost
        li      t0, SYS_WRITE
        sd      t0, 0(s0)
        li      t0, 1
        sd      t0, 8(s0)
        la      t0, text
        sd      t0, 16(s0)
        la      t1, text_end
        sub     s3, t1, t0                      # the length
        sd      s3, 24(s0)
        fence
        sd      s0, 0(s1)
1:      ld      t1, 0(s2)
        beqz    t1, 1b
        sd      zero, 0(s2)
        li      t2, 1
        bne     t1, t2, bad
        ld      t1, 0(s0)                       # write() returned the byte count
        bne     t1, s3, bad
        li      t0, SYS_EXIT
        sd      t0, 0(s0)
        li      t0, 7
        sd      t0, 8(s0)
        fence
        sd      s0, 0(s1)
2:      j       2b
bad:
        li      t0, (3 << 1) | 1
        sd      t0, 0(s1)
3:      j       3b

        .section .rodata
text:
        .ascii  "pk-style write through the HTIF syscall proxy\n"
text_end:

        .data
        .align 6
magic_mem:
        .zero   64

        .include "htif.inc"

# Section placement as GNU ld's default script does it: .text.* into .text,
# orphan sections after the output section of their kind, the data segment
# moved to the same offset in the next page, .sdata/.sbss/.bss after .data.
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    la a0, rodata_start
    la a1, custom_ro
    la a2, custom_rw
    la a3, custom_bss
    la a4, small
    la gp, __global_pointer$
    la t0, __bss_start
    la t1, _end
    j main
    .section .rodata.cst8, "aM", @progbits, 8
rodata_start:
    .dword 0x1122334455667788
    .section .custom_ro, "a"
custom_ro:
    .byte 1, 2, 3
    .text
main:
    ret
    .section .text.unlikely, "ax"
    ebreak
    .section .custom_rw, "aw", @progbits
custom_rw:
    .word 5
    .data
    .byte 0x42
    .section .sdata, "aw"
small:
    .dword 9
    .section .custom_bss, "aw", @nobits
custom_bss:
    .zero 24
    .section .sbss, "aw", @nobits
    .zero 3
    .bss
    .zero 5
    .section .comment_like
    .ascii "not loaded"

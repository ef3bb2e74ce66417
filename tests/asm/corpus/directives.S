# Data, alignment, symbols, sections, macros, repetition, conditionals,
# expressions and the %hi/%lo/%pcrel_hi/%pcrel_lo operators.
    .file "directives.S"
    .ident "pyvmm corpus"
    .attribute stack_align, 16
    .option nopic
    .equ UART, 0x10000000
    .set COUNT, 3
    SIX = COUNT * 2
    .equ EXPR, (1 + 2 & 3) | 4 << 1 ^ ~0 + -5 % 3 / 1 - (7 >> 1)
    .equiv LIMIT, 100

    .macro push reg, slot=0
        sd \reg, (\slot * 8)(sp)
    .endm
    .macro pair a b
        add \a, \a, \b
        sub \b, \b, \a
    .endm
    .macro counted name:req, n=2
    \name\()_label\@:
        .rept \n
        addi a0, a0, \n
        .endr
    .endm
    .macro early
        nop
        .exitm
        ebreak
    .endm

    .text
    .globl _start
    .type _start, @function
_start:
    push ra
    push s0, 1
    push reg=s1, slot=2
    pair a0 a1
    pair a2, a3
    counted first
    counted second, 3
    early
    lui a0, %hi(UART + 0x7ff)
    addi a0, a0, %lo(table)
    ld a1, %lo(table)(a0)
    sd a1, %lo(table + 8)(a0)
    lui a2, %hi(UART)
    addi a2, a2, %lo(UART)
    addi a3, a3, %lo(0x12345)
.Lpc:
    auipc a4, %pcrel_hi(message)
    addi a4, a4, %pcrel_lo(.Lpc)
2:  auipc a5, %pcrel_hi(table + 16)
    ld a5, %pcrel_lo(2b)(a5)
    li a0, EXPR
    li a1, SIX
    li a2, LIMIT
    li a3, SIX + 1
    li a4, 'A'
    li a5, '\n'
    li a6, 0x10 + 010 + 0b10 + 10
    li a7, (1 << 63) >> 63
    li t0, -1 == -1
    li t1, 3 > 4 || 1 && 2
    li t2, 5 <> 5
    .irp r, t3, t4, t5
        mv \r, zero
    .endr
    .irpc c, 123
        addi a0, a0, \c
    .endr
    .if COUNT > 2
        addi a0, a0, 1
    .elseif COUNT > 1
        addi a0, a0, 2
    .else
        addi a0, a0, 3
    .endif
    .ifdef UART
        nop
    .endif
    .ifndef NOT_DEFINED
        nop
    .else
        ebreak
    .endif
    .if 0
        .if 1
            ebreak
        .endif
    .endif
    .align 3
    ret
    .size _start, . - _start
    .balign 16
    .p2align 2
    .align 5, 0
    .p2align 4,,2
    nop

    .section .rodata
    .type message, @object
message:
    .ascii "ab\tc\"", "\101\x42"
    .asciz "nul-terminated\n"
    .string "also"
    .size message, . - message
    .align 3
    .byte 1, 2, -1, 255, 'z
    .half 0x1234, -2
    .short 7
    .2byte 8
    .word 0xdeadbeef, message
    .long message - table
    .int 5
    .4byte 6
    .dword 0x0123456789abcdef, _start
    .quad -1
    .8byte message + 3
    .zero 3
    .space 5, 0xaa
    .skip 2
    .fill 3, 2, 0x1234
    .fill 2, 8, -1
    .fill 4
    .balign 8, 0xee

    .data
    .globl table
table:
    .dword 1, 2, 3
    .org table + 32
    .dword 4
end_of_table:
    .section .data.more, "aw", @progbits
    .byte 9
    .section .sdata, "aw"
small:
    .word 10
    .pushsection .rodata.extra, "a"
    .byte 11
    .popsection
    .word 12
    .text
    .word 0x13
    .previous
    .word 14

    .bss
    .align 4
buffer:
    .zero 64
    .section .sbss, "aw", @nobits
flag:
    .space 4
    .section .bss.tail, "aw", @nobits
    .skip 1

    .text
# .set in a loop, \@ labels, forward .equ in data, label differences, %pcrel_lo
# of an earlier label, alignment with a maximum skip, raw .insn
    .set i, 0
    .rept 4
    .set i, i + 1
    addi a0, a0, i
    .endr
    .macro loop n
    li t0, \n
1:  addi t0, t0, -1
    bnez t0, 1b
    j .Lend\@
.Lend\@:
    .endm
    loop 3
    loop 100
    .word end_marker - _start
    .byte end_marker - _start
    .2byte FORWARD
    .equ FORWARD, 0x1234
label_before:
    auipc a0, %pcrel_hi(table)
    nop
    addi a0, a0, %pcrel_lo(label_before)
    .option norvc
    .byte 1, 2
    .align 3
    .option rvc
    .p2align 5,,4
    nop
    .p2align 6,,100
end_marker:
    .insn 0x00000013
    .insn 2, 0x0001

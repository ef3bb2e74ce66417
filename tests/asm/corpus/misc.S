# Cross-section branches (far by definition), nested .option push/pop, .org and
# .fill in code, string and character escapes, expression operators.
    .text
    .globl _start
_start:
    beqz a0, other
    j other
    beqz a0, _start
    bnez a0, 1f
    .option push
    .option norvc
    nop
    .option push
    .option rvc
    nop
    .option pop
    nop
    .option pop
    nop
1:  .org 0x40, 0xff
    .fill 2, 3, 0x11223344
    .fill 1, 5, 0x11223344
    .ascii "\x41\102\e\a\v\f\b\r\\\""
    .byte 'a', '\n', '\\
    .balign 4
    li a0, 'A' + 1
    li a1, ~0x0f & 0xff
    li a2, -(3 - 5) * 2
    li a3, 7 / -2
    li a4, -7 % 3
    li a5, 1 << 40
    li a6, 0x7fffffff + 1
    .section .other, "ax"
other:
    j _start
    beqz a0, _start

# label differences inside one frag are constants in assignments and directive
# operands when both labels are defined (gas folds them): `.equ LEN, . - msg`
    .text
1:  nop
    addi a0, a0, 1
2:  .equ CODE_LEN, 2b - 1b
    li a5, CODE_LEN
    .space 2b - 1b
    .data
msg: .ascii "hello"
    .equ MSG_LEN, . - msg
    .text
    li a4, MSG_LEN
    addi a4, a4, MSG_LEN - 1
    .rept MSG_LEN
    nop
    .endr

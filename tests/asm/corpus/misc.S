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

# .insn in its format forms (never compressed)
    .text
3:
.insn r 0x33, 0, 0, a0, a1, a2
.insn r OP, 0, 1, a0, a1, a2
.insn r SYSTEM, 0, 0x31, x0, a0, a1
.insn i 0x13, 0, a0, a1, -5
.insn i LOAD, 3, a0, 8(sp)
.insn s 0x23, 3, a0, 16(sp)
.insn s STORE, 2, a0, -4(a1)
.insn b BRANCH, 0, a0, a1, 3b
.insn sb 0x63, 1, a0, a1, 4f
.insn u LUI, a0, 0x12345
.insn j JAL, ra, 3b
.insn uj 0x6f, x0, 4f
.insn i JALR, 0, ra, 0(a0)
4:

# sbi_loop.S -- an S-mode kernel that makes ITERATIONS SBI calls in a row
# (base.get_spec_version), checks every answer, prints one line and powers
# off through SBI SRST: a measure of exits per second to a Python handler.
# Run: pyvmm run --technique hw guests/hv/sbi_loop.S
#      pyvmm run --bios builtin guests/hv/sbi_loop.S   (the same output)
    .equ ITERATIONS, 100000
    .equ EID_BASE, 0x10
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_SRST, 0x53525354

    .section .text
    .globl _start
_start:
    li      s0, ITERATIONS
    li      s1, 0                   # calls whose answer was wrong
1:  li      a7, EID_BASE
    li      a6, 0                   # get_spec_version
    ecall
    bnez    a0, 2f                  # error must be SBI_SUCCESS
    srli    t0, a1, 24
    bnez    t0, 3f                  # major version must be at least 1
2:  addi    s1, s1, 1
3:  addi    s0, s0, -1
    bnez    s0, 1b
    la      a0, ok_text
    beqz    s1, 4f
    la      a0, bad_text
4:  call    puts
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0                   # shutdown
    mv      a1, s1                  # reason: none (0) if all answers were right, else failure
    snez    a1, a1
    ecall
5:  j       5b

puts:                               # a0: NUL-terminated string, via legacy putchar
    mv      t1, a0
1:  lbu     a0, 0(t1)
    beqz    a0, 2f
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    addi    t1, t1, 1
    j       1b
2:  ret

    .section .data
ok_text:
    .asciz  "sbi_loop: 100000 calls answered\n"
bad_text:
    .asciz  "sbi_loop: wrong answers\n"

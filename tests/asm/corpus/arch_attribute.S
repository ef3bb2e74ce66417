# `.attribute arch` before any instruction sets the ISA as -march does: no C
# here, so nothing is compressed and code alignment pads with 4-byte nops.
    .attribute arch, "rv64ima_zicsr_zifencei"
    .text
    .globl _start
_start:
    addi a0, a0, 1
    li a1, 0x12345678
    beqz a0, 1f
    mv a2, a3
    csrr a0, mhartid
    .align 4
1:  ret
    .option rvc
    addi a0, a0, 1
    .option norvc
    j _start

# Branch and jump relaxation as GNU as does it with -mno-relax: compressible
# branches start as c.beqz/c.bnez/c.j and grow to 4 bytes, then to an inverted
# branch over a jal (6 bytes from RVC, 8 bytes otherwise) when out of range.
    .text
    .globl _start
_start:
    beqz a0, near          # c.beqz
    bnez s1, mid           # beyond 256 bytes: bne
    beq a0, zero, far      # beyond 4 KiB: c.bnez +6 ; jal
    blt a0, a1, far        # bge +8 ; jal
    bgeu t0, t1, mid
    j near                 # c.j
    j mid
    j far                  # jal x0 (jumps never become auipc/jalr)
    jal far
    jal t0, near
    beqz t0, near          # t0 is not x8..x15: beq
near:
    nop
    .space 300
mid:
    bnez a5, _start        # backward, beyond 256 bytes
    beqz a5, near
    j _start
    .option norvc
    beqz a0, near          # no RVC: 4 bytes, or 8 when far
    beqz a0, far
    j mid
    .option rvc
    .space 4096
far:
    beqz a2, _start        # backward, beyond 4 KiB
    bltu a2, a3, _start
    j _start
    bnez a2, 1f
    .space 250
1:  bnez a2, 1b
    ret

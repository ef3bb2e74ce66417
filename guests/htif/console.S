# HTIF console: each byte goes out as device 1 / command 1 (putchar). The
# guest then polls fromhost for the host's answer, checks it is
# (1 << 56) | (1 << 48) | 0x100 | byte, clears fromhost and goes on. A wrong
# answer fails with test number 2; the end reports pass.
        .text
        .globl _start
_start:
        la      s0, message
        la      s1, tohost
        la      s2, fromhost
        li      s3, 0x0101000000000000          # device 1, command 1
next:
        lbu     a0, 0(s0)
        beqz    a0, done
        or      t0, s3, a0
        sd      t0, 0(s1)
wait:
        ld      t1, 0(s2)
        beqz    t1, wait
        sd      zero, 0(s2)
        ori     t2, t0, 0x100                   # the expected answer
        bne     t1, t2, bad_answer
        addi    s0, s0, 1
        j       next
done:
        li      t0, 1
        sd      t0, 0(s1)
1:      j       1b
bad_answer:
        li      t0, (2 << 1) | 1
        sd      t0, 0(s1)
2:      j       2b

        .section .rodata
message:
        .string "htif console: hello through device 1\nfromhost answered every byte\n"

        .include "htif.inc"

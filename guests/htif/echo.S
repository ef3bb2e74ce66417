# HTIF console input: asks for a byte with device 1 / command 0 (getchar),
# polls fromhost for the answer (1 << 56) | 0x100 | byte, echoes it with
# putchar (waiting for that answer too) and stops after a newline: pass.
# Without input the host keeps the read pending and the guest keeps polling.
        .text
        .globl _start
_start:
        la      s1, tohost
        la      s2, fromhost
        la      a0, prompt
        call    puts
next:
        li      t0, 0x0100000000000000          # device 1, command 0: getchar
        sd      t0, 0(s1)
        call    wait_answer
        srli    t1, a0, 48
        li      t2, 0x100
        bne     t1, t2, bad                     # device 1, command 0 in the answer
        andi    s3, a0, 0xff
        mv      a0, s3
        call    putc
        li      t0, '\n'
        bne     s3, t0, next
        li      t0, 1
        sd      t0, 0(s1)
1:      j       1b
bad:
        li      t0, (4 << 1) | 1
        sd      t0, 0(s1)
2:      j       2b

# wait_answer() -> a0 = fromhost once nonzero, fromhost cleared
wait_answer:
        ld      a0, 0(s2)
        beqz    a0, wait_answer
        sd      zero, 0(s2)
        ret

# putc(a0 = byte) through device 1 / command 1, waiting for the answer
putc:
        li      t0, 0x0101000000000000
        or      t0, t0, a0
        sd      t0, 0(s1)
1:      ld      t1, 0(s2)
        beqz    t1, 1b
        sd      zero, 0(s2)
        ret

# puts(a0 = NUL-terminated string)
puts:
        mv      t3, ra
        mv      t4, a0
1:      lbu     a0, 0(t4)
        beqz    a0, 2f
        call    putc
        addi    t4, t4, 1
        j       1b
2:      mv      ra, t3
        ret

        .section .rodata
prompt: .string "echo: "

        .include "htif.inc"

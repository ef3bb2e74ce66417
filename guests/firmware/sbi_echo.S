# Console input through SBI: reads bytes with the Debug Console extension
# (console_read into a buffer, polling while nothing has arrived) or, when the
# firmware lacks DBCN, with legacy console_getchar; echoes each line back with
# a prefix until a line "quit", then SRST shutdown. Linked at 0x80200000.
        .include "sbi_defs.inc"

        .text
        .globl _start
_start:
        la      sp, stack_top
        li      a0, EID_DBCN
        SBI_CALL EID_BASE, 3
        mv      s3, a1                          # 1 when DBCN is there
line:
        la      s0, buffer                      # s0: next free byte of the line
read_byte:
        beqz    s3, legacy_read
        li      a0, 1
        mv      a1, s0
        li      a2, 0
        SBI_CALL EID_DBCN, 1                    # console_read(1 byte, s0)
        bnez    a0, fail
        beqz    a1, read_byte                   # nothing yet: ask again
        lbu     t0, 0(s0)
        j       got_byte
legacy_read:
        li      a7, 0x02
        ecall
        bltz    a0, legacy_read
        mv      t0, a0
        sb      t0, 0(s0)
got_byte:
        addi    s0, s0, 1
        li      t1, '\n'
        bne     t0, t1, read_byte
        # A whole line: is it "quit\n"?
        la      t0, buffer
        sub     t1, s0, t0
        li      t2, 5
        bne     t1, t2, echo
        lwu     t1, 0(t0)
        li      t2, 0x74697571                  # "quit", little-endian
        beq     t1, t2, done
echo:
        la      a0, msg_prefix
        call    puts
        la      t0, buffer
        sub     s1, s0, t0                      # bytes in the line
        beqz    s3, 2f
        mv      a0, s1
        la      a1, buffer
        li      a2, 0
        SBI_CALL EID_DBCN, 0                    # console_write(line)
        j       line
2:      la      s2, buffer
3:      lbu     a0, 0(s2)
        call    putc
        addi    s2, s2, 1
        addi    s1, s1, -1
        bnez    s1, 3b
        j       line
done:
        la      a0, msg_bye
        call    puts
        call    shutdown
fail:
        la      a0, msg_fail
        call    puts
        call    shutdown

        .include "sbi_lib.inc"

        .section .rodata
msg_prefix: .string "echo: "
msg_bye:    .string "bye\n"
msg_fail:   .string "console_read failed\n"

        .bss
        .align 4
buffer: .zero   256
stack:  .zero   4096
stack_top:

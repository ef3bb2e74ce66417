# An S-mode payload for SBI firmware (OpenSBI's fw_jump, or pyvmm's built-in
# SBI), linked at 0x80200000 where fw_jump and the Linux boot convention put
# the kernel. Entered in S-mode with a0 = hart id and a1 = the device tree, it
# prints one line through SBI (legacy console_putchar) naming the hart, the
# SBI specification version and implementation, and whether a1 points at a
# flattened device tree; then it powers off through SRST. Exit status 0.
        .include "sbi_defs.inc"

        .text
        .globl _start
_start:
        mv      s0, a0                          # hart id
        mv      s1, a1                          # device tree
        la      sp, stack_top

        la      a0, msg_hart
        call    puts
        mv      a0, s0
        call    putdec

        la      a0, msg_sbi
        call    puts
        SBI_CALL EID_BASE, 0                    # get_spec_version
        mv      s2, a1
        srli    a0, s2, 24
        andi    a0, a0, 0x7f
        call    putdec
        li      a0, '.'
        call    putc
        li      t0, 0xffffff
        and     a0, s2, t0
        call    putdec

        la      a0, msg_impl
        call    puts
        SBI_CALL EID_BASE, 1                    # get_impl_id
        mv      a0, a1
        call    puthex

        la      a0, msg_fdt
        call    puts
        lwu     t0, 0(s1)                       # the FDT magic, stored big-endian
        li      t1, 0xedfe0dd0
        la      a0, msg_ok
        beq     t0, t1, 1f
        la      a0, msg_bad
1:      call    puts

        call    shutdown

        .include "sbi_lib.inc"

        .section .rodata
msg_hart: .string "sbi_payload: S-mode on hart "
msg_sbi:  .string ", SBI spec "
msg_impl: .string ", implementation "
msg_fdt:  .string ", device tree "
msg_ok:   .string "ok\n"
msg_bad:  .string "missing\n"

        .bss
        .align 4
stack:  .zero   4096
stack_top:

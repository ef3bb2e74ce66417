# console.S -- output through virtio-console (device id 3).
#
# Negotiates VERSION_1 only (one port, no MULTIPORT), sets up receiveq (0)
# with one empty buffer posted and transmitq (1), then sends two lines
# through the transmitq: the first in one descriptor, the second split
# over a chain of two. After each it waits for the used entry and prints
# its length on the UART (0: the device writes nothing into output
# buffers). On a board whose virtio console and UART share one output
# stream, the lines interleave in program order:
#
#   virtio-console: slot 7
#   features: VERSION_1 1
#   line 1 through the virtio-console transmitq
#   transmitq used len 0
#   line 2 in a chain of two descriptors
#   transmitq used len 0
#   virtio-console: done
#
# Run:  pyvmm run --device virtio-serial-device --device virtconsole,chardev=c0 guests/devices/console.S
# QEMU: -chardev stdio,mux=on,id=c0 -serial chardev:c0 -monitor none
#       -device virtio-serial-device -device virtconsole,chardev=c0

    .include "virtio_defs.inc"

    .equ USE_IRQ,       0
    .equ STACK_TOP,     0x80200000
    .equ QMEM_RX,       0x80100000
    .equ QMEM_TX,       0x80101000
    .equ RXBUF,         0x80110000

    .section .text
    .globl _start
_start:
    li      sp, STACK_TOP
    li      a0, 3
    la      a1, name_console
    call    virtio_find_or_fail
    mv      s0, a0
    li      a1, 0
    li      a2, F_HI_VERSION_1
    call    virtio_negotiate
    mv      s1, a1
    la      a0, msg_features
    call    puts
    andi    a0, s1, F_HI_VERSION_1
    call    putdec
    call    putnl

    mv      a0, s0
    li      a1, 0
    li      a2, QMEM_RX
    call    virtq_setup
    mv      a0, s0
    li      a1, 1
    li      a2, QMEM_TX
    call    virtq_setup
    li      a0, QMEM_RX             # one buffer for console input, never used here
    li      a1, 0
    li      a2, RXBUF
    li      a3, 64
    li      a4, DESC_WRITE
    call    virtq_desc
    li      a0, QMEM_RX
    li      a1, 0
    call    virtq_post
    mv      a0, s0
    call    virtio_driver_ok
    mv      a0, s0
    li      a1, 0
    call    virtq_notify

    # line 1: one descriptor
    la      a0, line1
    call    strlen
    mv      a3, a0
    li      a0, QMEM_TX
    li      a1, 0
    la      a2, line1
    li      a4, 0
    call    virtq_desc
    call    send

    # line 2: a chain of two descriptors
    la      a0, line2a
    call    strlen
    mv      a3, a0
    li      a0, QMEM_TX
    li      a1, 0
    la      a2, line2a
    li      a4, DESC_NEXT
    call    virtq_desc
    la      a0, line2b
    call    strlen
    mv      a3, a0
    li      a0, QMEM_TX
    li      a1, 1
    la      a2, line2b
    li      a4, 0
    call    virtq_desc
    call    send

    la      a0, msg_done
    call    puts
    call    finish_pass

# send(): submits the chain at descriptor 0 of transmitq, waits for it and
# prints the used length
send:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    mv      a0, s0
    li      a1, 1
    li      a2, QMEM_TX
    li      a3, 0
    call    virtq_submit
    li      a0, QMEM_TX
    call    virtq_wait
    beqz    a1, 1f
    la      a0, msg_bad_head
    call    fail
1:  mv      s1, a2
    la      a0, msg_used
    call    puts
    mv      a0, s1
    call    putdec
    call    putnl
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    addi    sp, sp, 16
    ret

# strlen(a0 = string) -> a0 = its length; clobbers t0, t1
strlen:
    mv      t0, a0
1:  lbu     t1, 0(t0)
    beqz    t1, 2f
    addi    t0, t0, 1
    j       1b
2:  sub     a0, t0, a0
    ret

    .include "virtio.inc"

    .section .rodata
name_console:   .asciz "virtio-console"
msg_features:   .asciz "features: VERSION_1 "
msg_used:       .asciz "transmitq used len "
msg_done:       .asciz "virtio-console: done\n"
msg_bad_head:   .asciz "used ring returned another head"
line1:          .asciz "line 1 through the virtio-console transmitq\n"
line2a:         .asciz "line 2 in a chain "
line2b:         .asciz "of two descriptors\n"

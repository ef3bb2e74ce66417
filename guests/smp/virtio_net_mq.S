# virtio_net_mq.S -- one virtio-net queue pair per hart (net_mq.inc):
# hart i drives receiveq i and transmitq i, and the device's receive
# steering brings each echo back to the queue of the hart that sent it.
#
# mq_init (the boot hart) finds the first version-2 virtio-net among the
# eight virtio-mmio slots and negotiates VERSION_1, MAC, CTRL_VQ and MQ (so
# every frame carries the 12-byte virtio_net_hdr_v1 and no offload); it
# reads the MAC and max_virtqueue_pairs (at least 2) from the config space,
# gives the device the addresses of receiveq0/transmitq0, receiveq1/
# transmitq1 (8 entries each, in the owning hart's memory; used rings
# polled, no interrupts) and the control queue, sets DRIVER_OK and enables
# two pairs with VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, checking the ack. The
# queue registers go through one shared QueueSel, so the boot hart programs
# them all before the other hart runs; from then on each hart alone fills
# its pair's rings and rings its pair's doorbells (QueueNotify with the
# queue's index): mq_pair_init posts its 8 receive buffers of 2 KiB.
#
# Run:  pyvmm run --bios builtin --smp 2 --netdev echo,id=n0,queues=2 \
#           --device virtio-net-device,netdev=n0,mq=on guests/smp/virtio_net_mq.S
#       pyvmm run --technique hw --smp 2 --netdev echo,id=n0,queues=2 \
#           --device virtio-net-device,netdev=n0,mq=on guests/smp/virtio_net_mq.S

    .include "../devices/virtio_defs.inc"
    .include "../include/virtio_mmio.inc"
    .equ NET_DEVICE_ID, 1
    .equ F_LO_WANTED,   (1 << 5) | (1 << 17) | (1 << 22)   # MAC, CTRL_VQ, MQ
    .equ CFG_MAX_PAIRS, 8
    .equ HDR,           12              # virtio_net_hdr_v1
    .equ SLOT,          2048            # bytes per receive buffer
    .equ RXQ,           0x1000          # in the hart's area: receiveq i (one page)
    .equ TXQ,           0x2000          # transmitq i
    .equ RXBUF,         0x4000          # QSZ buffers of SLOT bytes
    .equ CTRL_CLASS_MQ, 4
    .equ CTRL_VQ_PAIRS_SET, 0
    .equ CTRL_OK,       0

    .include "net_mq.inc"

    .equ CTRLQ,         AREA_SHARED             # the control queue's page
    .equ CTRL_CMD,      AREA_SHARED + 0x1000    # class, command, pairs (4 bytes)
    .equ CTRL_ACK,      AREA_SHARED + 0x1010    # the device's ack byte

    .section .text
    virtio_mmio_setup_queue_routine

# mq_init: a0 = the device's window, two queue pairs enabled (uses s7, s8,
# which mq_pair_init sets afresh)
mq_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    virtio_mmio_find NET_DEVICE_ID
    virtio_mmio_start
    sw      zero, VM_DEV_FSEL(s7)
    lw      t1, VM_DEV_FEAT(s7)
    li      t2, F_LO_WANTED
    and     t1, t1, t2
    beq     t1, t2, 6f
    la      a0, msg_no_mq
    j       fail
6:  virtio_mmio_features t2
    la      t2, nic_mac             # the MAC, bytewise from the config space
    virtio_net_read_mac
    lhu     s8, VM_CONFIG + CFG_MAX_PAIRS(s7)
    li      t0, HARTS
    bgeu    s8, t0, 9f
    la      a0, msg_few_pairs
    j       fail
9:  li      t3, 0                   # every queue page starts zeroed
10: li      t0, AREA_STRIDE
    mul     t0, t0, t3
    li      t1, AREA + RXQ
    add     t0, t0, t1
    li      t1, TXQ - RXQ + 0x1000
    add     t1, t1, t0
11: sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 11b
    addi    t3, t3, 1
    li      t0, HARTS
    bltu    t3, t0, 10b
    li      t0, CTRLQ
    li      t1, CTRLQ + 0x1000
12: sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 12b
    li      t3, 0                   # receiveq i and transmitq i in hart i's area
13: li      t0, AREA_STRIDE
    mul     t0, t0, t3
    li      t1, AREA
    add     t0, t0, t1
    slli    a0, t3, 1
    li      a1, RXQ
    add     a1, a1, t0
    call    setup_queue
    srli    t3, a0, 1
    li      t0, AREA_STRIDE
    mul     t0, t0, t3
    li      t1, AREA + TXQ
    add     a1, t0, t1
    addi    a0, a0, 1
    call    setup_queue
    srli    t3, a0, 1
    addi    t3, t3, 1
    li      t0, HARTS
    bltu    t3, t0, 13b
    slli    a0, s8, 1               # the control queue follows every pair
    li      a1, CTRLQ
    call    setup_queue
    lw      t0, VM_STATUS(s7)
    ori     t0, t0, ST_DRIVER_OK
    sw      t0, VM_STATUS(s7)

    # VQ_PAIRS_SET(HARTS): command readable, ack writable
    li      t0, CTRL_CMD
    li      t1, CTRL_CLASS_MQ | (CTRL_VQ_PAIRS_SET << 8) | (HARTS << 16)
    sw      t1, 0(t0)
    li      t2, CTRL_ACK
    li      t1, 0xff
    sb      t1, 0(t2)
    li      t3, CTRLQ
    sd      t0, 0(t3)               # descriptor 0: the command
    li      t1, 4
    sw      t1, 8(t3)
    li      t1, DESC_NEXT
    sh      t1, 12(t3)
    li      t1, 1
    sh      t1, 14(t3)
    sd      t2, 16(t3)              # descriptor 1: the ack
    li      t1, 1
    sw      t1, 24(t3)
    li      t1, DESC_WRITE
    sh      t1, 28(t3)
    sh      zero, Q_AVAIL + 4(t3)   # avail ring[0] = head 0
    fence   w, w
    li      t1, 1
    sh      t1, Q_AVAIL + 2(t3)
    fence   w, o
    slli    t0, s8, 1
    sw      t0, VM_QNOTIFY(s7)
    li      t6, POLL_LIMIT
    li      t3, CTRLQ + Q_USED
14: lhu     t1, 2(t3)
    li      t0, 1
    beq     t1, t0, 15f
    addi    t6, t6, -1
    bnez    t6, 14b
    la      a0, msg_no_ctrl
    j       fail
15: fence   r, r
    li      t2, CTRL_ACK
    lbu     t1, 0(t2)
    li      t0, CTRL_OK
    beq     t1, t0, 16f
    la      a0, msg_ctrl_refused
    j       fail
16: mv      a0, s7
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# mq_pair_init: receiveq s0's QSZ buffers posted and kicked. s6 = transmit
# avail index, s7 = receive used entries consumed, s8 = receive avail
# index, s9 = the head mq_receive returned last
mq_pair_init:
    li      t2, RXQ
    add     t2, t2, s2
    li      t1, 0
1:  slli    t0, t1, 4               # descriptor i: buffer i, device-writable
    add     t0, t0, t2
    li      t3, SLOT
    mul     t3, t3, t1
    li      t4, RXBUF
    add     t3, t3, t4
    add     t3, t3, s2
    sd      t3, 0(t0)
    li      t3, SLOT
    sw      t3, 8(t0)
    li      t3, DESC_WRITE
    sh      t3, 12(t0)
    slli    t0, t1, 1
    add     t0, t0, t2
    sh      t1, Q_AVAIL + 4(t0)     # avail ring[i] = head i
    addi    t1, t1, 1
    li      t0, QSZ
    bltu    t1, t0, 1b
    li      s6, 0
    li      s7, 0
    li      s8, QSZ
    li      s9, 0
    j       rx_kick

# mq_send: one descriptor holding a zeroed header and the frame, on
# transmitq s0; returns when the device has used it
mq_send:
    addi    t2, s2, TXBUF - HDR     # the header: zero, no offload
    sd      zero, 0(t2)
    sw      zero, 8(t2)
    li      t3, TXQ
    add     t3, t3, s2
    andi    t1, s6, QSZ - 1
    slli    t0, t1, 4
    add     t0, t0, t3
    sd      t2, 0(t0)
    addi    t4, s10, HDR
    sw      t4, 8(t0)
    sh      zero, 12(t0)
    slli    t0, t1, 1
    add     t0, t0, t3
    sh      t1, Q_AVAIL + 4(t0)
    addi    s6, s6, 1
    fence   w, w                    # the ring entry before the index
    sh      s6, Q_AVAIL + 2(t3)
    fence   w, o                    # the index before the doorbell
    slli    t0, s0, 1
    addi    t0, t0, 1
    sw      t0, VM_QNOTIFY(s1)      # transmitq s0
    li      t6, POLL_LIMIT
    slli    t2, s6, 48
    srli    t2, t2, 48
    li      t0, Q_USED
    add     t3, t3, t0
1:  lhu     t1, 2(t3)
    beq     t1, t2, 2f
    addi    t6, t6, -1
    bnez    t6, 1b
    la      a0, msg_no_tx
    j       fail
2:  ret

# mq_receive: the next used entry of receiveq s0
mq_receive:
    li      t3, RXQ + Q_USED
    add     t3, t3, s2
    virtio_net_take_rx s7, s9
    li      a0, SLOT
    mul     a0, a0, s9
    li      t4, RXBUF + HDR
    add     a0, a0, t4
    add     a0, a0, s2
    addi    s7, s7, 1
    ret

# mq_rx_done: head s9 back on receiveq s0's avail ring, and its doorbell
mq_rx_done:
    li      t3, RXQ
    add     t3, t3, s2
    andi    t1, s8, QSZ - 1
    slli    t1, t1, 1
    add     t1, t1, t3
    sh      s9, Q_AVAIL + 4(t1)
    addi    s8, s8, 1
rx_kick:
    li      t3, RXQ
    add     t3, t3, s2
    fence   w, w
    sh      s8, Q_AVAIL + 2(t3)
    fence   w, o
    slli    t0, s0, 1
    sw      t0, VM_QNOTIFY(s1)      # receiveq s0
    ret

    .section .rodata
msg_name:               .asciz "virtio_net_mq"
msg_no_device:          .asciz "no virtio-net (version 2) in the virtio-mmio slots"
msg_no_version_1:       .asciz "device does not offer VERSION_1"
msg_no_mq:              .asciz "device does not offer MAC, CTRL_VQ and MQ"
msg_features_refused:   .asciz "device cleared FEATURES_OK"
msg_few_pairs:          .asciz "max_virtqueue_pairs is below 2"
msg_queue_small:        .asciz "QueueNumMax below QSZ"
msg_no_ctrl:            .asciz "no answer on the control queue"
msg_ctrl_refused:       .asciz "VQ_PAIRS_SET refused"
msg_no_tx:              .asciz "no transmit completion"
msg_no_rx:              .asciz "no reply on this hart's receive queue"
msg_bad_head:           .asciz "used ring returned an unknown head"
msg_short:              .asciz "received buffer shorter than the header"

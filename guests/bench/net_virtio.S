# net_virtio.S -- the net_bench workloads (net_workload.inc) over
# virtio-net on virtio-mmio: an S-mode kernel that finds the first version-2
# virtio-net among the eight virtio-mmio slots, negotiates VERSION_1 and MAC
# (so every frame carries the 12-byte virtio_net_hdr_v1 and no offload),
# reads the MAC from the config space, sets up receiveq0 and transmitq0 (8
# entries each, used rings polled in memory, no interrupts), and posts 8
# receive buffers of 2 KiB. A frame goes out as one descriptor holding a
# zeroed header and the frame (the header sits in the workload's headroom);
# a received frame follows its header in the buffer. The register accesses
# per request are the transmitq0 and receiveq0 QueueNotify doorbells (one
# each per batch in bulk).
#
# Run:  pyvmm run --bios builtin --netdev echo,id=n0 --device virtio-net-device,netdev=n0 \
#           guests/bench/net_virtio.S
#       (a VM: --technique hw)

    .include "../devices/virtio_defs.inc"
    .include "../include/virtio_mmio.inc"
    .equ NET_DEVICE_ID, 1
    .equ F_LO_MAC,      1 << 5
    .equ HDR,           12              # virtio_net_hdr_v1
    .equ RXQ,           0x80400000      # receiveq0 (one page, virtio_defs layout)
    .equ TXQ,           0x80401000      # transmitq0
    .equ POLL_LIMIT,    50000000

    .include "net_workload.inc"

    .section .text
    virtio_mmio_setup_queue_routine

# net_init: s7 = the device's window, s8 = transmit avail index, s9 =
# transmit used entries consumed, s10 = receive avail index, s11 = receive
# used entries consumed
net_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    virtio_mmio_find NET_DEVICE_ID
    virtio_mmio_start
    sw      zero, VM_DEV_FSEL(s7)
    lw      t1, VM_DEV_FEAT(s7)
    andi    t1, t1, F_LO_MAC
    bnez    t1, 6f
    la      a0, msg_no_mac
    j       fail
6:  li      t2, F_LO_MAC
    virtio_mmio_features t2
    li      t2, NET_MAC             # the MAC, bytewise from the config space
    virtio_net_read_mac
    li      t0, RXQ                 # both queue pages start zeroed
    li      t1, TXQ + 0x1000
9:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 9b
    li      a0, 0
    li      a1, RXQ
    call    setup_queue
    li      a0, 1
    li      a1, TXQ
    call    setup_queue
    lw      t0, VM_STATUS(s7)
    ori     t0, t0, ST_DRIVER_OK
    sw      t0, VM_STATUS(s7)
    # receive descriptor i: buffer i, 2 KiB, device-writable; all posted
    li      t2, RXQ
    li      t1, 0
10: slli    t0, t1, 4
    add     t0, t0, t2
    li      t3, NET_SLOT
    mul     t3, t3, t1
    li      t4, NET_RXBUF
    add     t3, t3, t4
    sd      t3, 0(t0)
    li      t3, NET_SLOT
    sw      t3, 8(t0)
    li      t3, DESC_WRITE
    sh      t3, 12(t0)
    slli    t0, t1, 1
    add     t0, t0, t2
    sh      t1, Q_AVAIL + 4(t0)     # avail ring[i] = head i
    addi    t1, t1, 1
    li      t0, QSZ
    bltu    t1, t0, 10b
    li      s8, 0
    li      s9, 0
    li      s10, QSZ
    li      s11, 0
    call    net_rx_kick
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# net_tx_queue: descriptor (s8 % QSZ) holds header + frame and is put on the
# avail ring (published to the device by net_tx_kick)
net_tx_queue:
    addi    t2, a0, -HDR            # the header: zero, no offload
    sd      zero, 0(t2)
    sw      zero, 8(t2)
    li      t3, TXQ
    andi    t1, s8, QSZ - 1
    slli    t0, t1, 4
    add     t0, t0, t3
    sd      t2, 0(t0)
    addi    t4, a1, HDR
    sw      t4, 8(t0)
    sh      zero, 12(t0)
    slli    t0, t1, 1
    add     t0, t0, t3
    sh      t1, Q_AVAIL + 4(t0)
    addi    s8, s8, 1
    ret

net_tx_kick:
    li      t3, TXQ
    fence   w, w                    # the ring entries before the index
    sh      s8, Q_AVAIL + 2(t3)
    fence   w, o                    # the index before the doorbell
    li      t0, 1
    sw      t0, VM_QNOTIFY(s7)      # transmitq0
    li      t6, POLL_LIMIT
    slli    t2, s8, 48
    srli    t2, t2, 48
    li      t3, TXQ + Q_USED
1:  lhu     t1, 2(t3)               # every queued frame used
    beq     t1, t2, 2f
    addi    t6, t6, -1
    bnez    t6, 1b
    la      a0, msg_no_tx
    j       fail
2:  mv      s9, s8
    ret

net_rx:
    li      t3, RXQ + Q_USED
    virtio_net_take_rx s11, t0
    la      t4, rx_head
    sd      t0, 0(t4)
    li      a0, NET_SLOT
    mul     a0, a0, t0
    li      t4, NET_RXBUF + HDR
    add     a0, a0, t4
    addi    s11, s11, 1
    ret

# net_rx_done: the descriptor net_rx returned back on the avail ring
net_rx_done:
    la      t4, rx_head
    ld      t0, 0(t4)
    li      t3, RXQ
    andi    t1, s10, QSZ - 1
    slli    t1, t1, 1
    add     t1, t1, t3
    sh      t0, Q_AVAIL + 4(t1)
    addi    s10, s10, 1
    ret

net_rx_kick:
    li      t3, RXQ
    fence   w, w
    sh      s10, Q_AVAIL + 2(t3)
    fence   w, o
    sw      zero, VM_QNOTIFY(s7)    # receiveq0
    ret

    .section .data
    .balign 8
rx_head:                .dword 0

    .section .rodata
msg_no_device:          .asciz "no virtio-net (version 2) in the virtio-mmio slots"
msg_no_version_1:       .asciz "device does not offer VERSION_1"
msg_no_mac:             .asciz "device does not offer MAC"
msg_features_refused:   .asciz "device cleared FEATURES_OK"
msg_queue_small:        .asciz "QueueNumMax below QSZ"
msg_no_tx:              .asciz "no transmit completion"
msg_no_rx:              .asciz "no reply received"
msg_bad_head:           .asciz "used ring returned an unknown head"
msg_short:              .asciz "received buffer shorter than the header"

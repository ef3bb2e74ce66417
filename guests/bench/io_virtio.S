# io_virtio.S -- the io_bench workload (io_workload.inc) over virtio-blk on
# virtio-mmio: an S-mode kernel that finds the first version-2 virtio-blk
# among the eight virtio-mmio slots, negotiates VERSION_1 and nothing else,
# sets up request queue 0 and serves each request as one chain of three
# descriptors (the 16-byte header, the 4 KiB buffer, the status byte) posted
# on the available ring, with the used ring polled in memory. The one
# register access per request is the QueueNotify doorbell.
#
# Run:  pyvmm run --bios builtin --drive file=disk.img,format=raw guests/bench/io_virtio.S
#       pyvmm run --technique hw --drive file=disk.img,format=raw guests/bench/io_virtio.S

    .include "../devices/virtio_defs.inc"
    .include "../include/virtio_mmio.inc"
    .equ BLK_DEVICE_ID, 2
    .equ T_IN,          0
    .equ T_OUT,         1
    .equ VQ_MEM,        0x80400000      # request queue 0 (one page, virtio_defs layout)
    .equ VQ_REQ,        0x80401000      # request header (16 bytes)
    .equ VQ_STATUS,     0x80401010      # status byte written by the device

    .include "io_workload.inc"

    .section .text
# io_init: s7 = the device's window, s8 = the avail index, s9 = used entries
# consumed
io_init:
    virtio_mmio_find BLK_DEVICE_ID
    virtio_mmio_start
    virtio_mmio_features zero
    sw      zero, VM_QSEL(s7)
    lw      t0, VM_QNUM_MAX(s7)
    li      t1, QSZ
    bgeu    t0, t1, 7f
    la      a0, msg_queue_small
    j       fail
7:  li      t0, VQ_MEM
    li      t1, VQ_MEM + 0x2000
8:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 8b
    li      t0, QSZ
    sw      t0, VM_QNUM(s7)
    li      t0, VQ_MEM
    sw      t0, VM_QDESC_LO(s7)
    srli    t0, t0, 32
    sw      t0, VM_QDESC_HI(s7)
    li      t0, VQ_MEM + Q_AVAIL
    sw      t0, VM_QAVAIL_LO(s7)
    srli    t0, t0, 32
    sw      t0, VM_QAVAIL_HI(s7)
    li      t0, VQ_MEM + Q_USED
    sw      t0, VM_QUSED_LO(s7)
    srli    t0, t0, 32
    sw      t0, VM_QUSED_HI(s7)
    li      t0, 1
    sw      t0, VM_QREADY(s7)
    lw      t0, VM_STATUS(s7)
    ori     t0, t0, ST_DRIVER_OK
    sw      t0, VM_STATUS(s7)
    # the one chain: header -> data -> status (descriptors 0, 1, 2)
    li      t2, VQ_MEM
    li      t0, VQ_REQ
    sd      t0, 0(t2)
    li      t0, 16
    sw      t0, 8(t2)
    li      t0, DESC_NEXT
    sh      t0, 12(t2)
    li      t0, 1
    sh      t0, 14(t2)
    li      t0, IO_BLOCK
    sw      t0, 24(t2)
    li      t0, 2
    sh      t0, 30(t2)
    li      t0, VQ_STATUS
    sd      t0, 32(t2)
    li      t0, 1
    sw      t0, 40(t2)
    li      t0, DESC_WRITE
    sh      t0, 44(t2)
    sh      zero, 46(t2)
    li      s8, 0
    li      s9, 0
    ret

# io_rw(a0 = 0 read | 1 write, a1 = block, a2 = buffer)
io_rw:
    li      t2, VQ_MEM
    sd      a2, 16(t2)              # the data descriptor: the buffer,
    li      t0, DESC_WRITE | DESC_NEXT
    beqz    a0, 1f
    li      t0, DESC_NEXT           # device-readable for a write
1:  sh      t0, 28(t2)
    li      t0, VQ_REQ
    sw      a0, 0(t0)               # type: T_IN 0 / T_OUT 1
    sw      zero, 4(t0)
    slli    t1, a1, 3               # sector = block * 8
    sd      t1, 8(t0)
    li      t1, 0xff
    sb      t1, 16(t0)              # VQ_STATUS: the device overwrites it
    li      t0, VQ_MEM + Q_AVAIL
    andi    t1, s8, QSZ - 1
    slli    t1, t1, 1
    add     t1, t0, t1
    sh      zero, 4(t1)             # ring[avail_idx % QSZ] = head 0
    fence   w, w                    # the ring entry before the index
    addi    s8, s8, 1
    sh      s8, 2(t0)
    fence   w, o                    # the avail index before the doorbell
    sw      zero, VM_QNOTIFY(s7)    # queue 0
    li      t0, VQ_MEM + Q_USED
2:  lhu     t1, 2(t0)               # used->idx
    slli    t3, s9, 48
    srli    t3, t3, 48
    beq     t1, t3, 2b
    fence   r, r                    # the index before the entry and the data
    andi    t1, s9, QSZ - 1
    slli    t1, t1, 3
    add     t1, t0, t1
    lwu     t3, 4(t1)               # id
    lwu     t4, 8(t1)               # len
    addi    s9, s9, 1
    beqz    t3, 3f
    la      a0, msg_bad_head
    j       fail
3:  li      t5, 1                   # a write: the status byte alone
    bnez    a0, 4f
    li      t5, IO_BLOCK + 1        # a read: the data and the status byte
4:  beq     t4, t5, 5f
    la      a0, msg_bad_len
    j       fail
5:  li      t0, VQ_STATUS
    lbu     t1, 0(t0)
    beqz    t1, 6f
    la      a0, msg_bad_status
    j       fail
6:  ret

    .section .rodata
msg_no_device:          .asciz "no virtio-blk (version 2) in the virtio-mmio slots"
msg_no_version_1:       .asciz "device does not offer VERSION_1"
msg_features_refused:   .asciz "device cleared FEATURES_OK"
msg_queue_small:        .asciz "QueueNumMax below QSZ"
msg_bad_head:           .asciz "used ring returned another head"
msg_bad_len:            .asciz "used length is not what the request wrote"
msg_bad_status:         .asciz "request status not OK"

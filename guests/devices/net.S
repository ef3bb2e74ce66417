# net.S -- ping-pong between two instances over virtio-net (device id 1).
#
# Negotiates VERSION_1 and MAC, reads its MAC address from the config
# space and sets up receiveq (0) with QSZ buffers posted and transmitq (1).
# Every frame carries the 12-byte virtio_net_hdr (VERSION_1 size) with no
# offloads, then 60 bytes of Ethernet: destination, source, EtherType
# 0x88b5 (local experimental), "ping" or "pong", a round counter, zeros.
#
# The instance whose MAC ends in an odd byte pings: it broadcasts "ping k"
# and waits for "pong k", sending the ping again every RETRY_TICKS of mtime
# until the answer comes (frames sent before the peer is connected may be
# lost), for ROUNDS rounds. The other answers every ping with a pong of the
# same counter to the sender's address and prints each round once, so
# repeated pings change nothing in either output. Each side prints the
# frames it accepted with source, destination and used length:
#
#   virtio-net: slot 7
#   features: VERSION_1 1 MAC 1
#   mac 52:54:00:12:34:01
#   role: ping
#   rx pong 0 from 52:54:00:12:34:02 to 52:54:00:12:34:01 len 72
#   ...
#   virtio-net: done
#
# Run (the ponger listens, the pinger connects):
#   pyvmm run --netdev socket,id=n0,listen=127.0.0.1:PORT \
#       --device virtio-net-device,netdev=n0,mac=52:54:00:12:34:02 guests/devices/net.S
#   pyvmm run --netdev socket,id=n0,connect=127.0.0.1:PORT \
#       --device virtio-net-device,netdev=n0,mac=52:54:00:12:34:01 guests/devices/net.S

    .include "virtio_defs.inc"

    .equ USE_IRQ,       0
    .equ F_MAC,         1 << 5
    .equ ROUNDS,        4
    .equ RETRY_TICKS,   2000000         # 0.2 s at the virt board's 10 MHz
    .equ NET_HDR,       12
    .equ FRAME_LEN,     60
    .equ ETH_TYPE,      12              # offsets in the Ethernet frame
    .equ ETH_PAYLOAD,   14
    .equ RXBUF_SIZE,    2048

    .ifndef SMODE
    .equ SMODE,         0               # net_smode.S sets 1: the S-mode kernel build
    .endif
    .if SMODE
    # Entered at 0x80200000 under an SBI firmware: memory 2 MiB above the
    # kernel, clear of the firmware below it and of the device tree.
    .equ EID_SRST,      0x53525354
    .equ SRST_SHUTDOWN, 0
    .equ SRST_REASON_NONE, 0
    .equ QMEM_RX,       0x80400000
    .equ QMEM_TX,       0x80401000
    .equ MAC_ADDR,      0x80402000      # our MAC (6 bytes)
    .equ PEER_ADDR,     0x80402008      # destination of the next frame
    .equ TXBUF,         0x80403000
    .equ RXBUF,         0x80410000      # QSZ buffers of RXBUF_SIZE
    .equ STACK_TOP,     0x80420000
    .else
    .equ STACK_TOP,     0x80200000
    .equ QMEM_RX,       0x80100000
    .equ QMEM_TX,       0x80101000
    .equ MAC_ADDR,      0x80102000      # our MAC (6 bytes)
    .equ PEER_ADDR,     0x80102008      # destination of the next frame
    .equ TXBUF,         0x80103000
    .equ RXBUF,         0x80110000      # QSZ buffers of RXBUF_SIZE
    .endif

    # now() -> a0: the board's time; M-mode reads the CLINT's mtime, S-mode
    # the time CSR (the CLINT belongs to M-mode: OpenSBI guards it with PMP)
    .macro NOW
    .if SMODE
    rdtime  a0
    .else
    call    mtime
    .endif
    .endm

    .section .text
    .globl _start
_start:
    li      sp, STACK_TOP
    li      a0, 1
    la      a1, name_net
    call    virtio_find_or_fail
    mv      s0, a0
    li      a1, F_MAC
    li      a2, F_HI_VERSION_1
    call    virtio_negotiate
    mv      s1, a0
    mv      s2, a1
    la      a0, msg_features
    call    puts
    andi    a0, s2, F_HI_VERSION_1
    call    putdec
    la      a0, msg_mac_feature
    call    puts
    srli    a0, s1, 5
    andi    a0, a0, 1
    call    putdec
    call    putnl

    li      t0, MAC_ADDR            # the MAC from the config space, bytewise
    li      t1, 0
1:  add     t2, s0, t1
    lbu     t3, VM_CONFIG(t2)
    add     t2, t0, t1
    sb      t3, 0(t2)
    addi    t1, t1, 1
    li      t2, 6
    blt     t1, t2, 1b
    la      a0, msg_mac
    call    puts
    li      a0, MAC_ADDR
    call    putmac
    call    putnl

    mv      a0, s0
    li      a1, 0
    li      a2, QMEM_RX
    call    virtq_setup
    mv      a0, s0
    li      a1, 1
    li      a2, QMEM_TX
    call    virtq_setup
    li      s1, 0                   # post every receive buffer
2:  li      a0, QMEM_RX
    mv      a1, s1
    slli    a2, s1, 11
    li      t0, RXBUF
    add     a2, a2, t0
    li      a3, RXBUF_SIZE
    li      a4, DESC_WRITE
    call    virtq_desc
    li      a0, QMEM_RX
    mv      a1, s1
    call    virtq_post
    addi    s1, s1, 1
    li      t0, QSZ
    blt     s1, t0, 2b
    mv      a0, s0
    call    virtio_driver_ok
    mv      a0, s0
    li      a1, 0
    call    virtq_notify

    li      t0, MAC_ADDR
    lbu     t0, 5(t0)
    andi    t0, t0, 1
    beqz    t0, ponger

# ------------------------------------------------------------------ the pinger
pinger:
    la      a0, msg_role_ping
    call    puts
    li      s2, 0                   # round
3:  li      t0, PEER_ADDR           # broadcast: the pinger does not know its peer
    li      t1, -1
    sw      t1, 0(t0)
    sh      t1, 4(t0)
    la      a0, kind_ping
    mv      a1, s2
    call    send_frame
    NOW
    li      t0, RETRY_TICKS
    add     s3, a0, t0              # when to send this ping again
4:  NOW
    bgeu    a0, s3, 3b
    li      a0, QMEM_RX
    call    virtq_poll
    beqz    a0, 4b
    mv      s4, a1                  # head
    mv      s5, a2                  # used length
    la      a0, kind_pong
    mv      a1, s4
    call    match_frame
    bne     a0, s2, 5f              # not this round's pong: drop it
    la      a0, msg_rx_pong
    mv      a1, s4
    mv      a2, s5
    call    print_frame
    mv      a0, s4
    call    repost
    addi    s2, s2, 1
    li      t0, ROUNDS
    blt     s2, t0, 3b
    j       done
5:  mv      a0, s4
    call    repost
    j       4b

# ------------------------------------------------------------------ the ponger
ponger:
    la      a0, msg_role_pong
    call    puts
    li      s2, 0                   # next round to print
6:  li      a0, QMEM_RX
    call    virtq_poll
    beqz    a0, 6b
    mv      s4, a1
    mv      s5, a2
    la      a0, kind_ping
    mv      a1, s4
    call    match_frame
    bltz    a0, 8f
    mv      s6, a0                  # the ping's counter
    slli    t0, s4, 11              # answer to its source address
    li      t1, RXBUF + NET_HDR + 6
    add     t0, t0, t1
    li      t1, PEER_ADDR
    li      t2, 0
7:  add     t3, t0, t2
    lbu     t3, 0(t3)
    add     t4, t1, t2
    sb      t3, 0(t4)
    addi    t2, t2, 1
    li      t3, 6
    blt     t2, t3, 7b
    la      a0, kind_pong
    mv      a1, s6
    call    send_frame
    bne     s6, s2, 8f              # a repeated ping: answered, not printed
    la      a0, msg_rx_ping
    mv      a1, s4
    mv      a2, s5
    call    print_frame
    addi    s2, s2, 1
8:  mv      a0, s4
    call    repost
    li      t0, ROUNDS
    blt     s2, t0, 6b

done:
    la      a0, msg_done
    call    puts
    .if SMODE
    li      a7, EID_SRST            # SBI SRST shutdown (reason: none)
    li      a6, 0
    li      a0, SRST_SHUTDOWN
    li      a1, SRST_REASON_NONE
    ecall
    la      a0, msg_srst_returned   # the firmware refused: say so and fail
    call    fail
    .else
    call    finish_pass
    .endif

# send_frame(a0 = kind (4 bytes), a1 = counter): a frame from MAC_ADDR to
# PEER_ADDR through transmitq; waits until the device has used it
send_frame:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    mv      s1, a0
    mv      s2, a1
    li      a0, TXBUF
    li      a1, 80                  # the header and frame, rounded up to 8 bytes
    call    memzero
    li      t0, TXBUF + NET_HDR
    li      t1, PEER_ADDR
    li      t2, MAC_ADDR
    li      t3, 0
1:  add     t4, t1, t3              # destination, then source
    lbu     t4, 0(t4)
    add     t5, t0, t3
    sb      t4, 0(t5)
    add     t4, t2, t3
    lbu     t4, 0(t4)
    sb      t4, 6(t5)
    addi    t3, t3, 1
    li      t4, 6
    blt     t3, t4, 1b
    li      t4, 0x88
    sb      t4, ETH_TYPE(t0)
    li      t4, 0xb5
    sb      t4, ETH_TYPE + 1(t0)
    li      t3, 0
2:  add     t4, s1, t3
    lbu     t4, 0(t4)
    add     t5, t0, t3
    sb      t4, ETH_PAYLOAD(t5)
    addi    t3, t3, 1
    li      t4, 4
    blt     t3, t4, 2b
    sb      s2, ETH_PAYLOAD + 4(t0)
    li      a0, QMEM_TX
    li      a1, 0
    li      a2, TXBUF
    li      a3, NET_HDR + FRAME_LEN
    li      a4, 0
    call    virtq_desc
    mv      a0, s0
    li      a1, 1
    li      a2, QMEM_TX
    li      a3, 0
    call    virtq_submit
    li      a0, QMEM_TX
    call    virtq_wait
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    addi    sp, sp, 32
    ret

# match_frame(a0 = kind (4 bytes), a1 = receive buffer index) -> a0 = the
# frame's counter if it is ours (EtherType 0x88b5) and of that kind, else -1
match_frame:
    slli    t0, a1, 11
    li      t1, RXBUF + NET_HDR
    add     t0, t0, t1
    lbu     t1, ETH_TYPE(t0)
    li      t2, 0x88
    bne     t1, t2, 2f
    lbu     t1, ETH_TYPE + 1(t0)
    li      t2, 0xb5
    bne     t1, t2, 2f
    li      t3, 0
1:  add     t1, t0, t3
    lbu     t1, ETH_PAYLOAD(t1)
    add     t2, a0, t3
    lbu     t2, 0(t2)
    bne     t1, t2, 2f
    addi    t3, t3, 1
    li      t1, 4
    blt     t3, t1, 1b
    lbu     a0, ETH_PAYLOAD + 4(t0)
    ret
2:  li      a0, -1
    ret

# print_frame(a0 = label, a1 = receive buffer index, a2 = used length):
# "LABEL COUNTER from SRC to DST len LEN"
print_frame:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    slli    s1, a1, 11
    li      t0, RXBUF + NET_HDR
    add     s1, s1, t0
    mv      s2, a2
    call    puts
    lbu     a0, ETH_PAYLOAD + 4(s1)
    call    putdec
    la      a0, msg_from
    call    puts
    addi    a0, s1, 6
    call    putmac
    la      a0, msg_to
    call    puts
    mv      a0, s1
    call    putmac
    la      a0, msg_len
    call    puts
    mv      a0, s2
    call    putdec
    call    putnl
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    addi    sp, sp, 32
    ret

# repost(a0 = receive buffer index): gives the buffer back to the device
repost:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a1, a0
    li      a0, QMEM_RX
    call    virtq_post
    mv      a0, s0
    li      a1, 0
    call    virtq_notify
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .include "virtio.inc"

    .section .rodata
name_net:       .asciz "virtio-net"
msg_features:   .asciz "features: VERSION_1 "
msg_mac_feature: .asciz " MAC "
msg_mac:        .asciz "mac "
msg_role_ping:  .asciz "role: ping\n"
msg_role_pong:  .asciz "role: pong\n"
msg_rx_ping:    .asciz "rx ping "
msg_rx_pong:    .asciz "rx pong "
msg_from:       .asciz " from "
msg_to:         .asciz " to "
msg_len:        .asciz " len "
msg_done:       .asciz "virtio-net: done\n"
msg_srst_returned: .asciz "SBI SRST shutdown returned"
kind_ping:      .ascii "ping"
kind_pong:      .ascii "pong"

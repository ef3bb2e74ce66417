# nic_mq.S -- one pyvmm-nic ring pair per hart (net_mq.inc): hart i programs
# and drives ring pair i of the controller, and the controller's receive
# steering brings each echo back to the ring of the hart that sent it.
#
# mq_init (the boot hart) finds the controller (1b36:00f0) on PCI bus 0
# through the ECAM window, places its BAR0 at the start of the 32-bit MMIO
# window with memory decode and bus mastering, checks it has two ring
# pairs, reads its MAC, resets it, has the steering use both receive rings
# (MQ_ACTIVE = 2) and enables it. mq_pair_init (each hart) sets up its own
# pair's transmit and receive rings (8 descriptors each, no interrupts:
# completion is the descriptor's DD bit, polled) and posts 7 receive
# buffers; nothing else touches that pair's registers.
#
# Run:  pyvmm run --bios builtin --smp 2 --netdev echo,id=n0 \
#           --device pyvmm-nic,netdev=n0,queues=2 guests/smp/nic_mq.S
#       pyvmm run --technique hw --smp 2 --netdev echo,id=n0 \
#           --device pyvmm-nic,netdev=n0,queues=2 guests/smp/nic_mq.S

    .include "../pci/pci.inc"
    .equ NIC_IDS,       0x00f01b36

    .equ CTRL,          0x04
    .equ QUEUES,        0x0c
    .equ MAC_LO,        0x10
    .equ MAC_HI,        0x14
    .equ MQ_ACTIVE,     0x20
    .equ PAIR0,         0x100       # ring pair q at PAIR0 + PAIR_STRIDE * q:
    .equ PAIR_STRIDE,   0x40
    .equ TX_BASE_LO,    0x00        #   the transmit ring ...
    .equ TX_BASE_HI,    0x04
    .equ TX_LEN,        0x08
    .equ TX_TAIL,       0x10
    .equ RX_BASE_LO,    0x20        #   ... and the receive ring
    .equ RX_BASE_HI,    0x24
    .equ RX_LEN,        0x28
    .equ RX_TAIL,       0x30
    .equ CTRL_EN,       1
    .equ CTRL_RST,      2

    .equ RING,          8
    .equ SLOT,          2048        # bytes per receive buffer
    .equ TXRING,        0x0000      # in the hart's area: 8 descriptors of 16 bytes
    .equ RXRING,        0x0100
    .equ RXBUF,         0x2000      # RING buffers of SLOT bytes

    .include "net_mq.inc"
    .include "../include/pyvmm_nic.inc"

    .section .text
# mq_init: a0 = BAR0 of the controller, set up and enabled
mq_init:
    li      t2, 0
1:  PROBE_SLOT NIC_IDS, 2f, 1b, base=t3, dev=t2
    la      a0, msg_no_nic
    j       fail
2:  sh      zero, CFG_COMMAND(t3)
    PLACE_BAR64 base=t3, bar=a0
    lw      t0, QUEUES(a0)
    li      t1, HARTS
    bgeu    t0, t1, 3f
    la      a0, msg_few_queues
    j       fail
3:  la      t1, nic_mac
    NIC_READ_MAC a0
    li      t0, CTRL_RST
    sw      t0, CTRL(a0)
    li      t0, HARTS               # steer over one receive ring per hart
    sw      t0, MQ_ACTIVE(a0)
    li      t0, CTRL_EN
    sw      t0, CTRL(a0)
    ret

# mq_pair_init: s9 = the registers of pair s0, s6 = transmit tail,
# s7 = receive head, s8 = receive tail
mq_pair_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      s9, PAIR_STRIDE
    mul     s9, s9, s0
    addi    s9, s9, PAIR0
    add     s9, s9, s1
    mv      t0, s2                  # both rings start zeroed
    addi    t1, s2, 0x200
1:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 1b
    addi    t0, s2, TXRING
    sw      t0, TX_BASE_LO(s9)
    srli    t0, t0, 32
    sw      t0, TX_BASE_HI(s9)
    li      t0, RING
    sw      t0, TX_LEN(s9)
    addi    t0, s2, RXRING
    sw      t0, RX_BASE_LO(s9)
    srli    t0, t0, 32
    sw      t0, RX_BASE_HI(s9)
    li      t0, RING
    sw      t0, RX_LEN(s9)
    li      s6, 0
    li      s7, 0
    li      s8, 0
2:  call    rx_post                 # RING - 1 buffers: a full ring keeps one slot empty
    li      t0, RING - 1
    bltu    s8, t0, 2b
    fence   w, o
    sw      s8, RX_TAIL(s9)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# mq_send: the frame on the transmit ring, its doorbell, its completion
mq_send:
    addi    t3, s2, TXRING
    slli    t1, s6, 4
    add     t3, t3, t1
    addi    t0, s2, TXBUF
    sd      t0, 0(t3)
    sh      s10, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    s6, s6, 1
    andi    s6, s6, RING - 1
    fence   w, o                    # the descriptor before the doorbell
    sw      s6, TX_TAIL(s9)
    NIC_TX_DONE

# mq_receive: the next frame on this hart's own receive ring
mq_receive:
    addi    t3, s2, RXRING
    slli    t1, s7, 4
    add     t3, t3, t1
    NIC_RX_TAKE s7

# mq_rx_done: the buffer back at the receive tail, behind its doorbell
mq_rx_done:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    rx_post
    fence   w, o
    sw      s8, RX_TAIL(s9)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# rx_post: the slot at the receive tail gets its buffer back
rx_post:
    addi    t3, s2, RXRING
    slli    t1, s8, 4
    add     t3, t3, t1
    li      t4, SLOT
    mul     t4, t4, s8
    add     t4, t4, s2
    li      t1, RXBUF
    add     t4, t4, t1
    sd      t4, 0(t3)
    li      t1, SLOT
    sh      t1, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    s8, s8, 1
    andi    s8, s8, RING - 1
    ret

    .section .rodata
msg_name:           .asciz "nic_mq"
msg_no_nic:         .asciz "no pyvmm-nic (1b36:00f0) on bus 0"
msg_few_queues:     .asciz "the controller has fewer than 2 ring pairs"
msg_no_tx:          .asciz "no transmit completion"
msg_tx_error:       .asciz "transmit descriptor reports an error"
msg_no_rx:          .asciz "no reply on this hart's receive ring"
msg_rx_error:       .asciz "receive descriptor reports an error"

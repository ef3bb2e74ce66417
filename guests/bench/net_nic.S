# net_nic.S -- the net_bench workloads (net_workload.inc) over pyvmm-nic
# (docs/network.md): an S-mode kernel that finds the controller (1b36:00f0)
# on PCI bus 0 through the ECAM window, places its 64-bit BAR0 at the start
# of the 32-bit MMIO window with memory decode and bus mastering, reads its
# MAC, resets it and sets up queue pair 0 (a transmit and a receive ring of
# 8 descriptors, no interrupts: completions are found by the descriptor's
# DD bit, polled), posts 7 receive buffers and enables it. The register
# accesses per request are the transmit tail doorbell and the receive tail
# doorbell (one each per batch in bulk).
#
# Run:  pyvmm run --bios builtin --netdev echo,id=n0 --device pyvmm-nic,netdev=n0 \
#           guests/bench/net_nic.S
#       (a VM: --technique hw; the host's NIC assigned: docs/network.md)

    .include "../pci/pci.inc"
    .equ NIC_IDS,       0x00f01b36

    .equ CTRL,          0x04
    .equ MAC_LO,        0x10
    .equ MAC_HI,        0x14
    .equ TX_BASE_LO,    0x100       # queue pair 0: the transmit ring ...
    .equ TX_BASE_HI,    0x104
    .equ TX_LEN,        0x108
    .equ TX_TAIL,       0x110
    .equ RX_BASE_LO,    0x120       # ... and the receive ring
    .equ RX_BASE_HI,    0x124
    .equ RX_LEN,        0x128
    .equ RX_TAIL,       0x130
    .equ CTRL_EN,       1
    .equ CTRL_RST,      2
    .equ RING,          8
    .equ POLL_LIMIT,    50000000
    .equ TXRING,        0x80400000
    .equ RXRING,        0x80400100

    .include "net_workload.inc"
    .include "../include/pyvmm_nic.inc"

    .section .text
# net_init: s7 = the function's ECAM base, s8 = BAR0, s9 = transmit tail,
# s10 = receive head, s11 = receive tail
net_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      t2, 0
1:  PROBE_SLOT NIC_IDS, 2f, 1b, base=s7, dev=t2
    la      a0, msg_no_nic
    j       fail
2:  sh      zero, CFG_COMMAND(s7)
    PLACE_BAR64 base=s7, bar=s8
    li      t1, NET_MAC
    NIC_READ_MAC s8
    li      t0, CTRL_RST
    sw      t0, CTRL(s8)
    li      t0, TXRING              # both rings start zeroed
    li      t1, TXRING + 0x200
3:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 3b
    li      t0, TXRING
    sw      t0, TX_BASE_LO(s8)
    srli    t0, t0, 32
    sw      t0, TX_BASE_HI(s8)
    li      t0, RING
    sw      t0, TX_LEN(s8)
    li      t0, RXRING
    sw      t0, RX_BASE_LO(s8)
    srli    t0, t0, 32
    sw      t0, RX_BASE_HI(s8)
    li      t0, RING
    sw      t0, RX_LEN(s8)
    li      t0, CTRL_EN
    sw      t0, CTRL(s8)
    li      s9, 0
    li      s10, 0
    li      s11, 0
4:  call    rx_post                 # RING - 1 buffers: a full ring keeps one slot empty
    li      t0, RING - 1
    bltu    s11, t0, 4b
    call    net_rx_kick
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# rx_post: the slot at the receive tail gets its 2 KiB buffer back
rx_post:
    li      t3, RXRING
    slli    t1, s11, 4
    add     t3, t3, t1
    li      t4, NET_SLOT
    mul     t4, t4, s11
    li      t1, NET_RXBUF
    add     t4, t4, t1
    sd      t4, 0(t3)
    li      t1, NET_SLOT
    sh      t1, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    s11, s11, 1
    andi    s11, s11, RING - 1
    ret

net_tx_queue:
    li      t3, TXRING
    slli    t1, s9, 4
    add     t3, t3, t1
    sd      a0, 0(t3)
    sh      a1, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    s9, s9, 1
    andi    s9, s9, RING - 1
    ret

net_tx_kick:
    fence   w, o                    # the descriptors before the doorbell
    sw      s9, TX_TAIL(s8)
    addi    t2, s9, RING - 1        # the last queued slot
    andi    t2, t2, RING - 1
    li      t3, TXRING
    slli    t1, t2, 4
    add     t3, t3, t1
    NIC_TX_DONE

net_rx:
    li      t3, RXRING
    slli    t1, s10, 4
    add     t3, t3, t1
    NIC_RX_TAKE s10

net_rx_done:
    j       rx_post

net_rx_kick:
    fence   w, o
    sw      s11, RX_TAIL(s8)
    ret

    .section .rodata
msg_no_nic:             .asciz "no pyvmm-nic (1b36:00f0) on bus 0"
msg_no_tx:              .asciz "no transmit completion"
msg_tx_error:           .asciz "transmit descriptor reports an error"
msg_no_rx:              .asciz "no reply received"
msg_rx_error:           .asciz "receive descriptor reports an error"

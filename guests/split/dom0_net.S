# dom0_net.S -- a service VM for networking: it owns the host's pyvmm-nic
# (assigned to it, docs/iommu.md) and serves its frontend's network ring
# (netif.inc, docs/service-vm.md), after Xen's netback.
#
#   1. the NIC up: found on bus 0, BAR0 placed, reset, one transmit and one
#      receive ring of NIC_RING descriptors in this VM's RAM, enabled;
#   2. block until the frontend publishes its ring (BACKEND_CONNECTION),
#      map the ring's grant at RING_GPA, bind to its event port, write the
#      NIC's MAC into the ring and mark it ready;
#   3. then, on every event: each receive request's page mapped (a grant,
#      at RX_GPA + 4 KiB per NIC slot) and posted to the NIC's receive
#      ring; the transmit requests' pages mapped (TX_GPA + 4 KiB per slot),
#      their frames put on the transmit ring at the mapped address and one
#      doorbell rung for them all, so the NIC's DMA reads the frontend's
#      page through this VM's G-stage table in the host IOMMU; each
#      completion unmapped and answered; each frame the NIC wrote into a
#      frontend page unmapped and answered with its length; one
#      notification for the responses of a pass. Nothing is copied: the
#      device reads and writes the frontend's frames where they are. A
#      grant that cannot be mapped, or a malformed request, is an error
#      response (the SBI error, or NETIF_BAD_REQUEST); the NIC's error bits
#      come back as the detail of theirs;
#   4. on NETIF_CLOSE: the NIC reset (no DMA after it), every mapping
#      undone, the close answered, and exit.
#
# The NIC is polled: received frames are taken after each transmit (the
# echo peer answers before the doorbell's access ends), whenever an event
# wakes this VM, and every POLL_TICKS of guest time while it waits (its
# timer ends EVTCHN_BLOCK: no trap, sstatus.SIE stays 0), so frames a
# socket peer sends later still reach the frontend.
#
# Run:  pyvmm host --netdev echo,id=n0 --device pyvmm-nic,netdev=n0 \
#           --vm guests/split/dom0_net.S,name=dom0,service=nic \
#           --vm guests/split/domu_net.S,name=domu,backend=dom0
# Exit: 0; 3..5 for a NIC failure, 11 for a refused hypercall this VM had
# to succeed, 12 for an unexpected trap, 13 when the frontend stopped
# without closing, 14 when its ring overflowed (a producer index more than
# NETIF_SLOTS ahead: it is served no more).

    .include "interdomain.inc"
    .include "netif.inc"
    .include "../include/pyvmm_nic.inc"     # DD, NIC_READ_MAC
    .equ RING_GPA,      0x100000000     # outside RAM and every device window
    .equ TX_GPA,        0x100010000     # + 4 KiB per transmit slot of the NIC
    .equ RX_GPA,        0x100020000     # + 4 KiB per receive slot of the NIC

    .equ ECAM,          0x30000000
    .equ MMIO_WINDOW,   0x40000000
    .equ CFG_COMMAND,   0x04
    .equ CFG_BAR0,      0x10
    .equ CFG_BAR1,      0x14
    .equ NIC_IDS,       0x00f01b36
    .equ CTRL,          0x04
    .equ MAC_LO,        0x10
    .equ MAC_HI,        0x14
    .equ TX_BASE_LO,    0x100
    .equ TX_BASE_HI,    0x104
    .equ TX_LEN,        0x108
    .equ TX_TAIL,       0x110
    .equ RX_BASE_LO,    0x120
    .equ RX_BASE_HI,    0x124
    .equ RX_LEN,        0x128
    .equ RX_TAIL,       0x130
    .equ CTRL_EN,       1
    .equ CTRL_RST,      2
    .equ NIC_RING,      16              # descriptors per ring; NIC_RING - 1 usable
    .equ POLL_LIMIT,    1000000
    .equ PAGE,          4096
    .equ POLL_TICKS,    100000          # 10 ms of the 10 MHz timebase
    .equ SBI_TIME,      0x54494D45
    .equ SIE_STIE,      0x20

# State (at `state`): the NIC's rings' indices, what a pass did, counts.
    .equ ST_RX_HEAD,    0               # the next receive slot the NIC fills
    .equ ST_RX_TAIL,    8               # the next receive slot to post
    .equ ST_PROGRESS,   16              # a pass consumed or answered something
    .equ ST_NOTIFY,     24              # a pass wrote a response
    .equ ST_CLOSE,      32              # 1 + the close request's id, once it came
    .equ ST_QUEUED,     40              # transmit descriptors behind the next doorbell
    .equ ST_SENT,       48              # frames the NIC sent for the frontend
    .equ ST_RECEIVED,   56              # frames the NIC received into its pages
    .equ ST_POSTED,     64              # receive descriptors posted in this pass

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    call    nic_init
    call    say
    .asciz  "dom0: nic ready\n"
    .balign 4

    # The frontend's connection: (domain id, ring ref, event port).
    BACKEND_CONNECT                 # s3: the frontend's domain id, s4: our port
    li      s6, 0                   # s6: the NIC's transmit tail
    li      s7, 0                   # s7: transmit requests consumed
    li      s8, 0                   # s8: transmit responses produced
    li      s9, 0                   # s9: receive requests consumed
    li      s10, 0                  # s10: receive responses produced
    li      t0, RING_GPA            # the address to send from, then ready
    la      t1, mac
    lwu     t2, 0(t1)
    sw      t2, NETIF_MAC(t0)
    lhu     t2, 4(t1)
    sh      t2, NETIF_MAC + 4(t0)
    fence   w, w
    li      t1, 1
    sw      t1, NETIF_READY(t0)
    mv      a0, s4
    HCALL   EVTCHN_SEND
    bnez    a0, refused
    call    say
    .asciz  "dom0: frontend connected\n"
    .balign 4
    li      t0, SIE_STIE
    csrs    sie, t0
    call    arm_poll

serve:
    call    rx_requests
    call    tx_requests
    call    rx_harvest
    la      t0, state
    ld      t1, ST_NOTIFY(t0)
    beqz    t1, 1f
    sd      zero, ST_NOTIFY(t0)
    mv      a0, s4
    HCALL   EVTCHN_SEND
    bnez    a0, refused
1:  la      t0, state
    ld      t1, ST_CLOSE(t0)
    bnez    t1, close
    ld      t1, ST_PROGRESS(t0)
    sd      zero, ST_PROGRESS(t0)
    bnez    t1, serve               # freed slots may take requests left waiting
    HCALL   EVTCHN_BLOCK
    li      t0, -1                  # SBI_ERR_FAILED: nobody left to wake us
    beq     a0, t0, frontend_gone
    bnez    a0, refused
    bnez    a1, serve               # an event
    call    arm_poll                # the poll timer ended the wait
    j       serve

# arm_poll: the timer POLL_TICKS from now (which also clears its interrupt)
arm_poll:
    csrr    a0, time
    li      t0, POLL_TICKS
    add     a0, a0, t0
    li      a7, SBI_TIME
    li      a6, 0
    ecall
    bnez    a0, refused
    ret

# rx_requests: receive requests into free NIC receive slots, each page mapped
rx_requests:
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  li      t0, RING_GPA
    lwu     t1, NETIF_RX_REQ_PROD(t0)
    beq     t1, s9, 9f
    sub     t2, t1, s9
    slli    t2, t2, 32
    srli    t2, t2, 32
    li      t3, NETIF_SLOTS
    bgtu    t2, t3, overflow        # more requests than the ring holds
    la      t2, state               # a free slot: tail + 1 is not head
    ld      t3, ST_RX_TAIL(t2)
    ld      t4, ST_RX_HEAD(t2)
    addi    t5, t3, 1
    andi    t5, t5, NIC_RING - 1
    beq     t5, t4, 9f
    fence   r, r                    # the request after its index
    andi    t5, s9, NETIF_SLOTS - 1
    slli    t5, t5, 4
    add     t5, t5, t0
    addi    t5, t5, NETIF_RX_REQS
    la      t6, request             # copied out: the frontend may change the slot under us
    ld      t1, 0(t5)
    sd      t1, 0(t6)
    ld      t1, 8(t5)
    sd      t1, 8(t6)
    addi    s9, s9, 1
    slli    s9, s9, 32
    srli    s9, s9, 32
    li      t1, 1
    sd      t1, ST_PROGRESS(t2)
    mv      a0, s3
    lwu     a1, RXREQ_GREF(t6)
    li      a2, RX_GPA
    slli    t1, t3, 12
    add     a2, a2, t1
    HCALL   GRANT_MAP
    beqz    a0, 2f
    mv      a2, a0                  # refused: the answer carries the SBI error
    la      t6, request
    lwu     a0, RXREQ_ID(t6)
    li      a1, -1
    li      a3, 0
    call    rx_respond
    j       1b
2:  la      t2, state
    ld      t3, ST_RX_TAIL(t2)
    la      t5, rxring
    slli    t1, t3, 4
    add     t5, t5, t1
    li      t1, RX_GPA
    slli    t4, t3, 12
    add     t1, t1, t4
    sd      t1, 0(t5)               # the frontend's page, as this VM maps it
    li      t1, PAGE
    sh      t1, 8(t5)
    sh      zero, 10(t5)
    sw      zero, 12(t5)
    la      t6, request
    lwu     t1, RXREQ_ID(t6)
    la      t5, rx_ids
    slli    t4, t3, 2
    add     t5, t5, t4
    sw      t1, 0(t5)
    addi    t3, t3, 1
    andi    t3, t3, NIC_RING - 1
    sd      t3, ST_RX_TAIL(t2)
    li      t1, 1
    sd      t1, ST_POSTED(t2)
    j       1b
9:  la      t2, state
    ld      t1, ST_POSTED(t2)
    beqz    t1, 10f
    sd      zero, ST_POSTED(t2)
    ld      t3, ST_RX_TAIL(t2)
    fence   w, o                    # the descriptors before the doorbell
    sw      t3, RX_TAIL(s2)
10: ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# tx_requests: the transmit requests' frames on the NIC's transmit ring
# behind one doorbell, each answered once the NIC is done with it
tx_requests:
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  li      t0, RING_GPA
    lwu     t1, NETIF_TX_REQ_PROD(t0)
    beq     t1, s7, 5f
    sub     t2, t1, s7
    slli    t2, t2, 32
    srli    t2, t2, 32
    li      t3, NETIF_SLOTS
    bgtu    t2, t3, overflow
    la      t2, state
    ld      t3, ST_QUEUED(t2)
    li      t4, NIC_RING - 1
    bgeu    t3, t4, 5f              # the NIC's ring is full: the rest next pass
    fence   r, r
    andi    t5, s7, NETIF_SLOTS - 1
    slli    t5, t5, 4
    add     t5, t5, t0
    addi    t5, t5, NETIF_TX_REQS
    la      t6, request
    ld      t1, 0(t5)
    sd      t1, 0(t6)
    ld      t1, 8(t5)
    sd      t1, 8(t6)
    addi    s7, s7, 1
    slli    s7, s7, 32
    srli    s7, s7, 32
    li      t1, 1
    sd      t1, ST_PROGRESS(t2)
    lwu     t1, TXREQ_OP(t6)
    li      t3, NETIF_CLOSE
    bne     t1, t3, 2f
    lwu     t1, TXREQ_ID(t6)        # what comes after a close is not looked at
    addi    t1, t1, 1
    sd      t1, ST_CLOSE(t2)
    j       5f
2:  bnez    t1, bad_tx              # neither NETIF_SEND nor NETIF_CLOSE
    lhu     t1, TXREQ_OFFSET(t6)
    lhu     t3, TXREQ_SIZE(t6)
    beqz    t3, bad_tx
    add     t1, t1, t3
    li      t3, PAGE
    bgtu    t1, t3, bad_tx          # a frame beyond its page
    mv      a0, s3
    lwu     a1, TXREQ_GREF(t6)
    li      a2, TX_GPA
    slli    t1, s6, 12
    add     a2, a2, t1
    HCALL   GRANT_MAP
    beqz    a0, 3f
    mv      a2, a0
    la      t6, request
    lwu     a0, TXREQ_ID(t6)
    li      a1, -1
    call    tx_respond
    j       1b
bad_tx:
    la      t6, request
    lwu     a0, TXREQ_ID(t6)
    li      a1, -1
    li      a2, NETIF_BAD_REQUEST
    call    tx_respond
    j       1b
3:  la      t6, request
    la      t5, txring
    slli    t1, s6, 4
    add     t5, t5, t1
    li      t1, TX_GPA
    slli    t4, s6, 12
    add     t1, t1, t4
    lhu     t4, TXREQ_OFFSET(t6)
    add     t1, t1, t4
    sd      t1, 0(t5)               # the frame in the frontend's page, as this VM maps it
    lhu     t4, TXREQ_SIZE(t6)
    sh      t4, 8(t5)
    sh      zero, 10(t5)
    sw      zero, 12(t5)
    lwu     t1, TXREQ_ID(t6)
    la      t5, tx_ids
    slli    t4, s6, 2
    add     t5, t5, t4
    sw      t1, 0(t5)
    addi    s6, s6, 1
    andi    s6, s6, NIC_RING - 1
    la      t2, state
    ld      t3, ST_QUEUED(t2)
    addi    t3, t3, 1
    sd      t3, ST_QUEUED(t2)
    j       1b
5:  la      t2, state
    ld      t3, ST_QUEUED(t2)
    beqz    t3, 9f
    fence   w, o
    sw      s6, TX_TAIL(s2)
    # Completions in ring order: each unmapped and answered.
6:  la      t2, state
    ld      t3, ST_QUEUED(t2)
    beqz    t3, 9f
    addi    t3, t3, -1
    sd      t3, ST_QUEUED(t2)
    sub     s5, s6, t3
    addi    s5, s5, -1
    andi    s5, s5, NIC_RING - 1    # s5: the slot
    la      t3, txring
    slli    t1, s5, 4
    add     t3, t3, t1
    li      t6, POLL_LIMIT
7:  fence   i, r
    lbu     t0, 13(t3)
    andi    t1, t0, DD
    bnez    t1, 8f
    addi    t6, t6, -1
    bnez    t6, 7b
    li      a0, 5
    call    say_fail
    .asciz  "dom0: nic: no transmit completion\n"
    .balign 4
8:  la      t1, request
    sd      t0, 0(t1)               # the status byte, across the unmap
    li      a0, TX_GPA
    slli    t1, s5, 12
    add     a0, a0, t1
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    la      t1, request
    ld      t0, 0(t1)
    la      t5, tx_ids
    slli    t4, s5, 2
    add     t5, t5, t4
    lwu     a0, 0(t5)
    li      a1, 0
    li      a2, 0
    li      t1, DD
    beq     t0, t1, 4f
    li      a1, -1                  # the NIC's error bits
    mv      a2, t0
    j       10f
4:  la      t2, state
    ld      t3, ST_SENT(t2)
    addi    t3, t3, 1
    sd      t3, ST_SENT(t2)
10: call    tx_respond
    j       6b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# rx_harvest: every frame the NIC wrote into a frontend page: unmapped, answered
rx_harvest:
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  la      t2, state
    ld      t3, ST_RX_HEAD(t2)
    ld      t4, ST_RX_TAIL(t2)
    beq     t3, t4, 9f
    la      t5, rxring
    slli    t1, t3, 4
    add     t5, t5, t1
    fence   i, r
    lbu     t0, 13(t5)
    andi    t1, t0, DD
    beqz    t1, 9f
    fence   r, r                    # the status before the length
    lhu     t1, 8(t5)
    la      t6, request
    sd      t0, 0(t6)
    sd      t1, 8(t6)
    li      a0, RX_GPA
    slli    t1, t3, 12
    add     a0, a0, t1
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    la      t2, state
    ld      t3, ST_RX_HEAD(t2)
    la      t5, rx_ids
    slli    t4, t3, 2
    add     t5, t5, t4
    lwu     a0, 0(t5)
    addi    t3, t3, 1
    andi    t3, t3, NIC_RING - 1
    sd      t3, ST_RX_HEAD(t2)
    la      t6, request
    ld      t0, 0(t6)
    li      t1, DD
    bne     t0, t1, 2f
    ld      t3, ST_RECEIVED(t2)
    addi    t3, t3, 1
    sd      t3, ST_RECEIVED(t2)
    li      a1, 0
    li      a2, 0
    ld      a3, 8(t6)
    call    rx_respond
    j       1b
2:  li      a1, -1                  # the NIC's error bits; no frame
    mv      a2, t0
    li      a3, 0
    call    rx_respond
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# tx_respond(a0 = id, a1 = status, a2 = detail) / rx_respond(..., a3 = size):
# the next response of that ring, its index, a notification owed
tx_respond:
    li      t0, RING_GPA
    andi    t1, s8, NETIF_SLOTS - 1
    slli    t1, t1, 4
    add     t1, t1, t0
    addi    t1, t1, NETIF_TX_RSPS
    sw      a0, NETRSP_ID(t1)
    sw      a1, NETRSP_STATUS(t1)
    sw      a2, NETRSP_DETAIL(t1)
    sw      zero, NETRSP_SIZE(t1)
    fence   w, w                    # the response before its index
    addi    s8, s8, 1
    slli    s8, s8, 32
    srli    s8, s8, 32
    sw      s8, NETIF_TX_RSP_PROD(t0)
    j       responded
rx_respond:
    li      t0, RING_GPA
    andi    t1, s10, NETIF_SLOTS - 1
    slli    t1, t1, 4
    add     t1, t1, t0
    addi    t1, t1, NETIF_RX_RSPS
    sw      a0, NETRSP_ID(t1)
    sw      a1, NETRSP_STATUS(t1)
    sw      a2, NETRSP_DETAIL(t1)
    sw      a3, NETRSP_SIZE(t1)
    fence   w, w
    addi    s10, s10, 1
    slli    s10, s10, 32
    srli    s10, s10, 32
    sw      s10, NETIF_RX_RSP_PROD(t0)
responded:
    la      t0, state
    li      t1, 1
    sd      t1, ST_NOTIFY(t0)
    sd      t1, ST_PROGRESS(t0)
    ret

# stop_nic: the NIC reset (its rings stop: no DMA after it), every
# transmit page queued but not sent and every receive page still posted
# unmapped
stop_nic:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      t0, CTRL_RST
    sw      t0, CTRL(s2)
3:  la      t2, state
    ld      t3, ST_QUEUED(t2)
    beqz    t3, 1f
    sub     t1, s6, t3              # the oldest queued slot
    andi    t1, t1, NIC_RING - 1
    addi    t3, t3, -1
    sd      t3, ST_QUEUED(t2)
    li      a0, TX_GPA
    slli    t1, t1, 12
    add     a0, a0, t1
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    j       3b
1:  la      t2, state
    ld      t3, ST_RX_HEAD(t2)
    ld      t4, ST_RX_TAIL(t2)
    beq     t3, t4, 2f
    li      a0, RX_GPA
    slli    t1, t3, 12
    add     a0, a0, t1
    addi    t3, t3, 1
    andi    t3, t3, NIC_RING - 1
    sd      t3, ST_RX_HEAD(t2)
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    j       1b
2:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

close:
    call    stop_nic
    la      t0, state
    ld      a0, ST_CLOSE(t0)
    addi    a0, a0, -1
    li      a1, 0
    li      a2, 0
    call    tx_respond
    mv      a0, s4
    HCALL   EVTCHN_SEND
    bnez    a0, refused
    li      a0, RING_GPA
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    call    report
    call    say
    .asciz  ", closed\n"
    .balign 4
    j       pass

# A producer index more than a ring ahead of what was consumed: the frontend
# is broken; it is served no more (Xen's netback shuts the vif down).
overflow:
    call    stop_nic
    li      a0, RING_GPA
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    call    report
    li      a0, 14
    call    say_fail
    .asciz  ", the frontend's ring overflowed\n"
    .balign 4

frontend_gone:
    call    stop_nic
    li      a0, RING_GPA
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    call    report
    li      a0, 13
    call    say_fail
    .asciz  ", the frontend stopped without closing\n"
    .balign 4

# report: "dom0: sent 0x.. frames, received 0x.."
report:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    say
    .asciz  "dom0: sent "
    .balign 4
    la      t0, state
    ld      a0, ST_SENT(t0)
    li      a1, 4
    call    puthexn
    call    say
    .asciz  " frames, received "
    .balign 4
    la      t0, state
    ld      a0, ST_RECEIVED(t0)
    li      a1, 4
    call    puthexn
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

refused:
    mv      s5, a0
    call    say
    .asciz  "dom0: hypercall refused: "
    .balign 4
    mv      a0, s5
    li      a1, 16
    call    puthexn
    li      a0, 11
    call    say_fail
    .asciz  "\n"
    .balign 4

# nic_init: s2 = BAR0 of the NIC, reset, rings set, enabled; its MAC at `mac`
nic_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      t5, 0
1:  li      s0, ECAM
    slli    t0, t5, 15
    add     s0, s0, t0
    lw      t0, 0(s0)
    li      t1, NIC_IDS
    beq     t0, t1, 2f
    addi    t5, t5, 1
    li      t0, 32
    blt     t5, t0, 1b
    li      a0, 3
    call    say_fail
    .asciz  "dom0: no pyvmm-nic (1b36:00f0) on bus 0\n"
    .balign 4
2:  sh      zero, CFG_COMMAND(s0)
    li      s2, MMIO_WINDOW
    sw      s2, CFG_BAR0(s0)
    sw      zero, CFG_BAR1(s0)
    li      t0, 6                   # memory decode, bus master
    sh      t0, CFG_COMMAND(s0)
    li      t0, CTRL_RST
    sw      t0, CTRL(s2)
    la      t1, mac
    NIC_READ_MAC s2
    la      t0, txring
    sw      t0, TX_BASE_LO(s2)
    srli    t0, t0, 32
    sw      t0, TX_BASE_HI(s2)
    li      t0, NIC_RING
    sw      t0, TX_LEN(s2)
    la      t0, rxring
    sw      t0, RX_BASE_LO(s2)
    srli    t0, t0, 32
    sw      t0, RX_BASE_HI(s2)
    li      t0, NIC_RING
    sw      t0, RX_LEN(s2)
    li      t0, CTRL_EN
    sw      t0, CTRL(s2)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .include "common.inc"

    .bss
    .balign 64
connection: .space 24
    .balign 64
request:    .space 16
mac:        .space 8
state:      .space 72
tx_ids:     .space 4 * NIC_RING
rx_ids:     .space 4 * NIC_RING
    .balign 64
txring:     .space 16 * NIC_RING
rxring:     .space 16 * NIC_RING
    .balign 4096
            .space 4096
stack_top:

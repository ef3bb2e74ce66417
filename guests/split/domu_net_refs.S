# domu_net_refs.S -- a network frontend that hands its service VM
# (guests/split/dom0_net.S) bad grants and bad requests (docs/service-vm.md):
# each must come back as an error response -- the backend's refused
# GRANT_MAP, its NETIF_BAD_REQUEST, or the NIC's own error bits -- and
# reach no page this VM did not grant.
#
#   rx never granted:     a receive request naming reference 0x3ff
#   good frame:           a 60-byte frame from the read-only transmit grant
#   rx read-only grant:   its echo, which the NIC would write into a page
#                         granted read-only (the IOMMU refuses: DD | ERR_DMA)
#   tx never granted, tx revoked, tx foreign (reference 7, which this VM
#   never made; another VM's is 7): transmit requests the backend cannot map
#   tx beyond the page:   offset 4090, 60 bytes
#   tx unknown op:        op 5
#   tx runt:              5 bytes (the NIC: DD | ERR_LEN)
#   echo received:        a good receive page and a good frame: the echo,
#                         addressed to this VM's MAC
#
# Exit: 0 once every request gave what it must; 9 otherwise, 11 for a
# refused hypercall, 12 for an unexpected trap.

    .include "interdomain.inc"
    .include "netif.inc"
    .equ NEVER_REF,     0x3ff
    .equ FOREIGN_REF,   7
    .equ FRAME,         60
    .equ ETH_TYPE,      0xb588          # 0x88b5, big-endian

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    li      a0, 1
    HCALL   DOMAIN_INFO
    bnez    a0, refused
    mv      s1, a1                  # s1: the backend
    mv      a0, s1
    la      a1, ring
    li      a2, 0
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    mv      s2, a1                  # s2: the ring's grant
    mv      a0, s1
    la      a1, txpage
    li      a2, 1
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    mv      s3, a1                  # s3: the transmit page's (read-only)
    mv      a0, s1
    la      a1, rxpage
    li      a2, 0
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    mv      s4, a1                  # s4: the receive page's
    mv      a0, s1
    la      a1, ropage
    li      a2, 1
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    mv      s5, a1                  # s5: a receive page granted read-only
    mv      a0, s1
    la      a1, spare
    li      a2, 0
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    mv      s6, a1                  # s6: granted, then revoked
    mv      a0, s6
    HCALL   GRANT_REVOKE
    bnez    a0, refused
    mv      a0, s1
    HCALL   EVTCHN_ALLOC_UNBOUND
    bnez    a0, refused
    mv      s7, a1                  # s7: our port
    mv      a0, s2
    mv      a1, s7
    HCALL   FRONTEND_CONNECT
    bnez    a0, refused
1:  la      t0, ring
    lwu     t1, NETIF_READY(t0)
    bnez    t1, 2f
    HCALL   EVTCHN_BLOCK
    bnez    a0, refused
    j       1b
2:  fence   r, r
    call    build_frame

    li      a0, NEVER_REF
    call    rx_request
    call    rx_wait
    call    say
    .asciz  "refs: rx never granted: "
    .balign 4
    call    report_error
    li      t0, -3                  # SBI_ERR_INVALID_PARAM
    bne     s9, t0, wrong

    mv      a0, s5
    call    rx_request              # posted: it waits for a frame
    mv      a0, s3
    li      a1, 64
    li      a2, FRAME
    li      a3, NETIF_SEND
    call    tx_request
    call    say
    .asciz  "refs: good frame: "
    .balign 4
    call    report_error
    bnez    s9, wrong
    call    rx_wait
    call    say
    .asciz  "refs: rx read-only grant: "
    .balign 4
    call    report_error
    li      t0, 0x03                # DD | ERR_DMA
    bne     s9, t0, wrong

    li      a0, NEVER_REF
    li      a1, 64
    li      a2, FRAME
    li      a3, NETIF_SEND
    call    tx_request
    call    say
    .asciz  "refs: tx never granted: "
    .balign 4
    call    report_error
    li      t0, -3
    bne     s9, t0, wrong
    mv      a0, s6
    li      a1, 64
    li      a2, FRAME
    li      a3, NETIF_SEND
    call    tx_request
    call    say
    .asciz  "refs: tx revoked: "
    .balign 4
    call    report_error
    li      t0, -3
    bne     s9, t0, wrong
    li      a0, FOREIGN_REF
    li      a1, 64
    li      a2, FRAME
    li      a3, NETIF_SEND
    call    tx_request
    call    say
    .asciz  "refs: tx foreign: "
    .balign 4
    call    report_error
    li      t0, -3
    bne     s9, t0, wrong
    mv      a0, s3
    li      a1, 4090
    li      a2, FRAME
    li      a3, NETIF_SEND
    call    tx_request
    call    say
    .asciz  "refs: tx beyond the page: "
    .balign 4
    call    report_error
    li      t0, NETIF_BAD_REQUEST
    bne     s9, t0, wrong
    mv      a0, s3
    li      a1, 64
    li      a2, FRAME
    li      a3, 5
    call    tx_request
    call    say
    .asciz  "refs: tx unknown op: "
    .balign 4
    call    report_error
    li      t0, NETIF_BAD_REQUEST
    bne     s9, t0, wrong
    mv      a0, s3
    li      a1, 64
    li      a2, 5
    li      a3, NETIF_SEND
    call    tx_request
    call    say
    .asciz  "refs: tx runt: "
    .balign 4
    call    report_error
    li      t0, 0x05                # DD | ERR_LEN
    bne     s9, t0, wrong

    mv      a0, s4
    call    rx_request
    mv      a0, s3
    li      a1, 64
    li      a2, FRAME
    li      a3, NETIF_SEND
    call    tx_request
    bnez    s9, wrong
    call    rx_wait
    bnez    s9, wrong
    li      t0, FRAME
    bne     s10, t0, wrong
    la      t0, rxpage              # the echo: to us, from the peer, our payload
    la      t1, mymac
    lwu     t2, 0(t0)
    lwu     t3, 0(t1)
    bne     t2, t3, wrong
    lhu     t2, 4(t0)
    lhu     t3, 4(t1)
    bne     t2, t3, wrong
    la      t1, txpage + 64 + 12
    li      t4, FRAME - 12
3:  lbu     t2, 12(t0)
    lbu     t3, 0(t1)
    bne     t2, t3, wrong
    addi    t0, t0, 1
    addi    t1, t1, 1
    addi    t4, t4, -1
    bnez    t4, 3b
    call    say
    .asciz  "refs: echo received: "
    .balign 4
    mv      a0, s10
    li      a1, 4
    call    puthexn
    call    say
    .asciz  " bytes\n"
    .balign 4

    mv      a0, s3
    li      a1, 0
    li      a2, 0
    li      a3, NETIF_CLOSE
    call    tx_request
    bnez    s9, wrong
    call    say
    .asciz  "done\n"
    .balign 4
    j       pass

wrong:
    li      a0, 9
    call    say_fail
    .asciz  "refs: not the answer documented\n"
    .balign 4

refused:
    mv      s9, a0
    call    say
    .asciz  "frontend: refused: "
    .balign 4
    mv      a0, s9
    li      a1, 16
    call    puthexn
    li      a0, 11
    call    say_fail
    .asciz  "\n"
    .balign 4

# report_error: "status 0", or "error 0x<detail>", and a newline (s9 = detail, 0 for none)
report_error:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    bnez    s9, 1f
    call    say
    .asciz  "status 0\n"
    .balign 4
    j       2f
1:  call    say
    .asciz  "error "
    .balign 4
    mv      a0, s9
    li      a1, 8
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4
2:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# build_frame: FRAME bytes at txpage + 64: broadcast, from the MAC the
# backend gave, EtherType 0x88b5, payload byte i = i * 7 + 3
build_frame:
    la      t0, ring
    la      t1, mymac
    lwu     t2, NETIF_MAC(t0)
    sw      t2, 0(t1)
    lhu     t2, NETIF_MAC + 4(t0)
    sh      t2, 4(t1)
    la      t0, txpage + 64
    li      t2, -1
    sw      t2, 0(t0)
    sh      t2, 4(t0)
    lwu     t2, 0(t1)
    sw      t2, 6(t0)
    lhu     t2, 4(t1)
    sh      t2, 10(t0)
    li      t2, ETH_TYPE
    sh      t2, 12(t0)
    li      t3, 14
1:  li      t2, 7
    mul     t2, t2, t3
    addi    t2, t2, 3
    add     t4, t0, t3
    sb      t2, 0(t4)
    addi    t3, t3, 1
    li      t4, FRAME
    blt     t3, t4, 1b
    ret

# tx_request(a0 = gref, a1 = offset, a2 = size, a3 = op): one transmit
# request, notified, its response waited for -> s9 = detail (0: done)
tx_request:
    la      t0, ring
    la      t5, counts
    lwu     t1, 0(t5)               # transmit requests made
    andi    t2, t1, NETIF_SLOTS - 1
    slli    t2, t2, 4
    add     t2, t2, t0
    addi    t2, t2, NETIF_TX_REQS
    sw      t1, TXREQ_ID(t2)
    sw      a3, TXREQ_OP(t2)
    sw      a0, TXREQ_GREF(t2)
    sh      a1, TXREQ_OFFSET(t2)
    sh      a2, TXREQ_SIZE(t2)
    fence   w, w
    addi    t1, t1, 1
    sw      t1, 0(t5)
    sw      t1, NETIF_TX_REQ_PROD(t0)
    mv      a0, s7
    HCALL   EVTCHN_SEND
    bnez    a0, refused
1:  la      t0, ring
    la      t5, counts
    lwu     t1, 4(t5)               # transmit responses taken
    lwu     t2, NETIF_TX_RSP_PROD(t0)
    bne     t1, t2, 2f
    HCALL   EVTCHN_BLOCK
    bnez    a0, refused
    j       1b
2:  fence   r, r
    andi    t2, t1, NETIF_SLOTS - 1
    slli    t2, t2, 4
    add     t2, t2, t0
    addi    t2, t2, NETIF_TX_RSPS
    addi    t1, t1, 1
    sw      t1, 4(t5)
    lw      s9, NETRSP_DETAIL(t2)
    lw      t3, NETRSP_STATUS(t2)
    beqz    t3, 3f
    bnez    s9, 3f
    li      s9, -1
3:  ret

# rx_request(a0 = gref): one receive request, notified
rx_request:
    la      t0, ring
    la      t5, counts
    lwu     t1, 8(t5)               # receive requests made
    andi    t2, t1, NETIF_SLOTS - 1
    slli    t2, t2, 4
    add     t2, t2, t0
    addi    t2, t2, NETIF_RX_REQS
    sw      t1, RXREQ_ID(t2)
    sw      a0, RXREQ_GREF(t2)
    fence   w, w
    addi    t1, t1, 1
    sw      t1, 8(t5)
    sw      t1, NETIF_RX_REQ_PROD(t0)
    mv      a0, s7
    HCALL   EVTCHN_SEND
    bnez    a0, refused
    ret

# rx_wait: the next receive response -> s9 = detail (0: a frame), s10 = its size
rx_wait:
1:  la      t0, ring
    la      t5, counts
    lwu     t1, 12(t5)              # receive responses taken
    lwu     t2, NETIF_RX_RSP_PROD(t0)
    bne     t1, t2, 2f
    HCALL   EVTCHN_BLOCK
    bnez    a0, refused
    j       1b
2:  fence   r, r
    andi    t2, t1, NETIF_SLOTS - 1
    slli    t2, t2, 4
    add     t2, t2, t0
    addi    t2, t2, NETIF_RX_RSPS
    addi    t1, t1, 1
    sw      t1, 12(t5)
    lw      s9, NETRSP_DETAIL(t2)
    lwu     s10, NETRSP_SIZE(t2)
    lw      t3, NETRSP_STATUS(t2)
    beqz    t3, 3f
    bnez    s9, 3f
    li      s9, -1
3:  ret

    .include "common.inc"

    .bss
    .balign 8
counts:     .space 16
mymac:      .space 8
    .balign 4096
ring:       .space 4096
txpage:     .space 4096
rxpage:     .space 4096
ropage:     .space 4096
spare:      .space 4096
            .space 4096
stack_top:

# nic.S -- a driver for pyvmm-nic (docs/network.md) on the virt board's PCI
# host, bare metal.
#
# Shows: bus 0 scanned through the ECAM window for the controller
# (1b36:00f0, class 02.00.00); its 64-bit BAR0 sized and placed at the
# start of the 32-bit MMIO window; memory decode and bus mastering; then the
# controller: version, queue pairs, MAC and link; a reset; two transmit and
# two receive rings of 8 descriptors; every interrupt cause enabled; both
# pairs steering (MQ_ACTIVE = 2); receive buffers posted; CTRL.EN. Then a
# request/response loop of 32 IPv4/UDP frames (64..344 bytes) to a peer
# that echoes each frame back with the MAC addresses swapped: frame k goes
# out on pair k % 2 from a UDP port whose flow the controller steers back
# to the same pair's receive ring, and each reply must come back there,
# addressed to this MAC, with the payload that was sent. Receive buffers are
# reposted as they are used, so every ring wraps. Per receive ring: frames,
# bytes and an FNV-1a 32 over the replies. Then a bulk transfer: 8 batches
# of 6 full-size frames (1514 bytes) queued on each transmit ring behind a
# single doorbell, and their 96 echoes checked and summed the same way.
# Then two frames the
# controller must refuse in their descriptors (length 5: ERR_LEN; a buffer
# outside RAM: ERR_DMA), the interrupt cause register, INTx (PCI status
# bit 3) before and after the causes are cleared, and the controller's
# STATUS. Every completion is found by its descriptor's DD bit, polled.
#
# Run:   pyvmm run --netdev socket,id=n0,connect=127.0.0.1:PORT \
#                  --device pyvmm-nic,netdev=n0,queues=2 guests/pci/nic.S
#        with an echoing peer listening on PORT (tests/io/test_nic.py has one).
# Exit:  0 when every step gave what docs/network.md says; otherwise the
#        finisher's failure code after a line saying why (3..9), or 12 after
#        an unexpected trap.
#
# Registers kept across the program: s0 ECAM base of the controller,
# s1 device number, s2 BAR0 address, s3 frame number.

    .include "pci.inc"         # board addresses, config registers, HEX, SAY, BAR0 steps

    .equ NIC_IDS,       0x00f01b36  # device 0x00f0, vendor 0x1b36

    # controller registers (BAR0)
    .equ VERSION,       0x00
    .equ CTRL,          0x04
    .equ STATUS,        0x08
    .equ QUEUES,        0x0c
    .equ MAC_LO,        0x10
    .equ MAC_HI,        0x14
    .equ ICR,           0x18
    .equ IMS,           0x1c
    .equ MQ_ACTIVE,     0x20
    .equ QREGS,         0x100       # pair q at 0x100 + 0x40q: TX ring, RX ring at +0x20
    .equ R_BASE_LO,     0x00
    .equ R_BASE_HI,     0x04
    .equ R_LEN,         0x08
    .equ R_TAIL,        0x10
    .equ RX_OFF,        0x20
    # the PF's SR-IOV capability (nic_vf.S)
    .equ SRIOV_CAP,     0x100
    .equ SRIOV_CONTROL, 0x108
    .equ SRIOV_TOTAL_VFS, 0x10e
    .equ SRIOV_NUM_VFS, 0x110
    .equ SRIOV_FIRST_OFFSET, 0x114
    .equ SRIOV_VF_BAR0, 0x124

    .equ RING,          8           # descriptors per ring
    .equ BUF,           2048        # bytes per buffer
    .equ FRAMES,        32
    .equ BATCH,         6           # bulk frames per ring and doorbell
    .equ BATCHES,       8
    .equ POLL_LIMIT,    50000000
    .equ DD,            1

# SAME_PAYLOAD sent, len: the reply at s8 carries the bytes from 12 (past
# the MAC addresses) up to len of the frame at `sent`, else bad_reply;
# clobbers t0-t2, t4
.macro SAME_PAYLOAD sent, len
    li      t4, 12
4:  add     t0, \sent, t4
    lbu     t1, 0(t0)
    add     t0, s8, t4
    lbu     t2, 0(t0)
    bne     t1, t2, bad_reply
    addi    t4, t4, 1
    blt     t4, \len, 4b
.endm

# ACCOUNT_REPLY: count the reply at s8 (s9 bytes) in the stats record at s10
# (frames 8, bytes 4, FNV-1a 4 over every reply); clobbers a0-a2, t0-t3
.macro ACCOUNT_REPLY
    ld      t0, 0(s10)
    addi    t0, t0, 1
    sd      t0, 0(s10)
    lw      t0, 8(s10)
    add     t0, t0, s9
    sw      t0, 8(s10)
    mv      a0, s8
    mv      a1, s9
    lwu     a2, 12(s10)
    call    fnv1a
    sw      a0, 12(s10)
.endm

# RETURN_WHEN_SENT: poll the transmit descriptor at t3 until its DD bit is
# set, then return with its status byte in a0; fail with 7 if it never is
.macro RETURN_WHEN_SENT
    li      t6, POLL_LIMIT
1:  fence   i, r
    lbu     a0, 13(t3)
    andi    t1, a0, DD
    bnez    t1, 2f
    addi    t6, t6, -1
    bnez    t6, 1b
    li      a0, 7
    call    say_fail
    .asciz  "no transmit completion\n"
    .balign 4
2:  ret
.endm

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
.ifdef SMODE
    csrw    stvec, t0
.else
    csrw    mtvec, t0
.endif
    li      s1, 0
scan:
    PROBE_SLOT NIC_IDS, found, scan
    li      a0, 3
    call    say_fail
    .asciz  "nic: none\n"
    .balign 4

found:
    SAY     "nic at 00:"
    mv      a0, s1
    li      a1, 2
    call    hexn
    SAY     ".0 class "
    lw      t0, CFG_REVISION(s0)
    srli    a0, t0, 8
    li      a1, 6
    call    hexn
    SAY     " pin "
    lbu     t0, CFG_INT_PIN(s0)
    HEX     t0, 2
    SAY     "\n"
    # BAR0: size it with decoding off, then place it at the window's start.
    SIZE_BAR64
    SAY     "bar0 size "
    HEX     s5, 8
    SAY     "\n"
    PLACE_BAR64
.ifdef SRIOV_VF
    # nic_vf.S: the controller is an SR-IOV physical function; enable one
    # VF through its capability and drive that VF instead (docs/network.md).
    lhu     t0, SRIOV_CAP(s0)
    li      t1, 0x10                # the SR-IOV extended capability ID
    beq     t0, t1, 1f
    li      a0, 3
    call    say_fail
    .asciz  "no SR-IOV capability at 0x100\n"
    .balign 4
1:  li      t0, MMIO_WINDOW
    add     t0, t0, s5              # VF BAR0 right after the PF's BAR0
    sw      t0, SRIOV_VF_BAR0(s0)
    sw      zero, SRIOV_VF_BAR0 + 4(s0)
    li      t0, 1
    sh      t0, SRIOV_NUM_VFS(s0)
    li      t0, 9                   # VF Enable | VF MSE
    sh      t0, SRIOV_CONTROL(s0)
    SAY     "sr-iov total vfs "
    lhu     t0, SRIOV_TOTAL_VFS(s0)
    HEX     t0, 2
    SAY     " vf 0 at function "
    lhu     t3, SRIOV_FIRST_OFFSET(s0)
    HEX     t3, 1
    SAY     "\n"
    slli    t3, t3, 12              # its configuration space: the routing ID's
    add     s0, s0, t3
    li      t0, 4                   # bus master (the VF's memory decode is VF MSE)
    sh      t0, CFG_COMMAND(s0)
    li      s2, MMIO_WINDOW
    add     s2, s2, s5
.endif

    SAY     "version "
    lw      t0, VERSION(s2)
    HEX     t0, 8
    SAY     " queues "
    lw      t0, QUEUES(s2)
    HEX     t0, 2
    SAY     " link "
    lw      t0, STATUS(s2)
    andi    t0, t0, 1
    HEX     t0, 1
    SAY     "\nmac "
    la      t3, mymac
    lw      t0, MAC_LO(s2)
    sw      t0, 0(t3)
    lw      t0, MAC_HI(s2)
    sh      t0, 4(t3)
    li      s4, 0
1:  add     t0, t3, s4
    lbu     a0, 0(t0)
    li      a1, 2
    call    hexn
    addi    s4, s4, 1
    li      t0, 6
    bge     s4, t0, 2f
    li      a0, ':'
    call    putc
    la      t3, mymac
    j       1b
2:  SAY     "\n"
    lw      t0, QUEUES(s2)
    li      t1, 2
    bgeu    t0, t1, 3f
    li      a0, 3
    call    say_fail
    .asciz  "fewer than two queue pairs\n"
    .balign 4

    # Reset, then two ring pairs, every cause, both pairs steering, enable.
3:  li      t0, 2                   # CTRL.RST
    sw      t0, CTRL(s2)
    li      s4, 0
4:  slli    t0, s4, 6
    add     t0, t0, s2
    addi    t0, t0, QREGS
    la      t1, txring
    slli    t2, s4, 7               # RING * 16 bytes per ring
    add     t1, t1, t2
    sw      t1, R_BASE_LO(t0)
    srli    t2, t1, 32
    sw      t2, R_BASE_HI(t0)
    li      t2, RING
    sw      t2, R_LEN(t0)
    la      t1, rxring
    slli    t2, s4, 7
    add     t1, t1, t2
    sw      t1, RX_OFF + R_BASE_LO(t0)
    srli    t2, t1, 32
    sw      t2, RX_OFF + R_BASE_HI(t0)
    li      t2, RING
    sw      t2, RX_OFF + R_LEN(t0)
    addi    s4, s4, 1
    li      t0, 2
    blt     s4, t0, 4b
    li      t0, -1
    sw      t0, IMS(s2)
    li      t0, 2
    sw      t0, MQ_ACTIVE(s2)
    li      t0, 1                   # CTRL.EN
    sw      t0, CTRL(s2)
    SAY     "enabled, status "
    lw      t0, STATUS(s2)
    HEX     t0, 2
    SAY     "\n"
    # RING - 1 receive buffers per ring (a full ring keeps one slot empty).
    li      s4, 0
5:  li      s5, 0
6:  mv      a0, s4
    call    rx_post
    addi    s5, s5, 1
    li      t0, RING - 1
    blt     s5, t0, 6b
    addi    s4, s4, 1
    li      t0, 2
    blt     s4, t0, 5b

    # Request/response: frame k out on pair k % 2, its echo back on the same pair.
    li      s3, 0
exchange:
    mv      a0, s3
    andi    a1, s3, 1               # pair k % 2, payload 22 + 40 * (k % 8)
    andi    a2, s3, 7
    li      t0, 40
    mul     a2, a2, t0
    addi    a2, a2, 22
    la      a3, txbuf
    li      t0, 8 * BUF
    mul     t0, a1, t0
    add     a3, a3, t0              # the first buffer of the pair
    call    build_frame             # a0 = address, a1 = length
    mv      s6, a0
    mv      s7, a1
    andi    a0, s3, 1
    mv      a1, s6
    mv      a2, s7
    call    transmit
    li      t0, DD
    beq     a0, t0, 1f
    mv      s5, a0
    SAY     "tx status "
    HEX     s5, 2
    li      a0, 4
    call    say_fail
    .asciz  " on a good frame\n"
    .balign 4
1:  andi    a0, s3, 1
    call    rx_wait                 # a0 = buffer, a1 = length, a2 = status
    mv      s8, a0
    mv      s9, a1
    li      t0, DD
    beq     a2, t0, 2f
    li      a0, 5
    call    say_fail
    .asciz  "rx error status\n"
    .balign 4
2:  bne     s9, s7, bad_reply
    la      t3, mymac               # the reply is addressed to us ...
    li      t4, 0
3:  add     t0, t3, t4
    lbu     t1, 0(t0)
    add     t0, s8, t4
    lbu     t2, 0(t0)
    bne     t1, t2, bad_reply
    addi    t4, t4, 1
    li      t0, 6
    blt     t4, t0, 3b
    SAME_PAYLOAD s6, s7             # ... and carries what we sent
    # Account the reply to its ring: frames, bytes, FNV-1a over every reply.
    andi    t0, s3, 1
    slli    t0, t0, 4
    la      t1, rxstats
    add     s10, t1, t0
    ACCOUNT_REPLY
    andi    a0, s3, 1
    call    rx_post
    addi    s3, s3, 1
    li      t0, FRAMES
    blt     s3, t0, exchange

    li      s4, 0
7:  SAY     "rx ring "
    HEX     s4, 1
    slli    t0, s4, 4
    la      t1, rxstats
    add     s10, t1, t0
    SAY     " frames "
    ld      t0, 0(s10)
    HEX     t0, 2
    SAY     " bytes "
    lwu     t0, 8(s10)
    HEX     t0, 4
    SAY     " fnv "
    lwu     t0, 12(s10)
    HEX     t0, 8
    SAY     "\n"
    addi    s4, s4, 1
    li      t0, 2
    blt     s4, t0, 7b

    # Bulk: BATCHES rounds of BATCH full-size frames (1514 bytes) queued on
    # each transmit ring behind one doorbell, then their echoes taken from
    # each receive ring and compared.
    li      s3, 0                   # frames sent in bulk
    li      s4, 0                   # batch
bulk_batch:
    li      s5, 0                   # pair
bulk_pair:
    li      s6, 0                   # slot in the batch
1:  addi    a0, s3, FRAMES
    mv      a1, s5
    li      a2, 1472
    slli    t0, s5, 3
    add     t0, t0, s6
    li      t1, BUF
    mul     t0, t0, t1
    la      a3, txbuf
    add     a3, a3, t0
    call    build_frame
    mv      a2, a1
    mv      a1, a0
    mv      a0, s5
    call    tx_queue
    addi    s3, s3, 1
    addi    s6, s6, 1
    li      t0, BATCH
    blt     s6, t0, 1b
    mv      a0, s5
    call    tx_ring
    li      t0, DD
    beq     a0, t0, 2f
    li      a0, 4
    call    say_fail
    .asciz  "bulk transmit error\n"
    .balign 4
2:  addi    s5, s5, 1
    li      t0, 2
    blt     s5, t0, bulk_pair
    li      s5, 0
bulk_rx_pair:
    li      s6, 0
3:  mv      a0, s5
    call    rx_wait
    mv      s8, a0
    mv      s9, a1
    li      t0, DD
    bne     a2, t0, bad_reply
    li      t0, 1514
    bne     s9, t0, bad_reply
    slli    t0, s5, 3               # the frame it echoes: buffer s6 of the pair
    add     t0, t0, s6
    li      t1, BUF
    mul     t0, t0, t1
    la      s7, txbuf
    add     s7, s7, t0
    SAME_PAYLOAD s7, s9
    slli    t0, s5, 4
    la      t1, bulkstats
    add     s10, t1, t0
    ACCOUNT_REPLY
    mv      a0, s5
    call    rx_post
    addi    s6, s6, 1
    li      t0, BATCH
    blt     s6, t0, 3b
    addi    s5, s5, 1
    li      t0, 2
    blt     s5, t0, bulk_rx_pair
    addi    s4, s4, 1
    li      t0, BATCHES
    blt     s4, t0, bulk_batch

    li      s4, 0
5:  SAY     "bulk ring "
    HEX     s4, 1
    slli    t0, s4, 4
    la      t1, bulkstats
    add     s10, t1, t0
    SAY     " frames "
    ld      t0, 0(s10)
    HEX     t0, 2
    SAY     " bytes "
    lwu     t0, 8(s10)
    HEX     t0, 8
    SAY     " fnv "
    lwu     t0, 12(s10)
    HEX     t0, 8
    SAY     "\n"
    addi    s4, s4, 1
    li      t0, 2
    blt     s4, t0, 5b

    # Descriptors the controller must refuse.
    li      a0, 0
    la      a1, txbuf
    li      a2, 5
    call    transmit
    mv      s5, a0
    SAY     "short frame: status "
    HEX     s5, 2
    SAY     "\n"
    li      t0, 0x05                # DD | ERR_LEN
    bne     s5, t0, refused_wrong
    li      a0, 1
    li      a1, 0x1000              # not RAM
    li      a2, 64
    call    transmit
    mv      s5, a0
    SAY     "buffer outside RAM: status "
    HEX     s5, 2
    SAY     "\n"
    li      t0, 0x03                # DD | ERR_DMA
    bne     s5, t0, refused_wrong

    # Interrupt causes, INTx, and the status after all of it.
    SAY     "icr "
    lw      t0, ICR(s2)
    HEX     t0, 8
    SAY     " intx "
    lhu     t0, CFG_STATUS(s0)
    srli    t0, t0, 3
    andi    t0, t0, 1
    HEX     t0, 1
    li      t0, -1
    sw      t0, ICR(s2)             # write 1 to clear
    SAY     " cleared: icr "
    lw      t0, ICR(s2)
    HEX     t0, 8
    SAY     " intx "
    lhu     t0, CFG_STATUS(s0)
    srli    t0, t0, 3
    andi    t0, t0, 1
    HEX     t0, 1
    SAY     "\nstatus "
    lw      t0, STATUS(s2)
    HEX     t0, 2
    SAY     "\n"

pass:
    SAY     "done\n"
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
halt:
    wfi
    j       halt

bad_reply:
    li      a0, 6
    call    say_fail
    .asciz  "the reply is not the echo of the frame sent\n"
    .balign 4

refused_wrong:
    li      a0, 8
    call    say_fail
    .asciz  "the controller did not refuse the descriptor as documented\n"
    .balign 4

# build_frame(a0 = k, a1 = pair, a2 = payload length, a3 = buffer): frame
# k at a3; a0 = address, a1 = length. Ethernet to the peer
# (52:54:00:00:00:02) from our MAC, IPv4 10.0.2.15 -> 10.0.2.2, UDP from the
# port of the pair to port 7, payload byte i = k * 31 + i * 7.
build_frame:
    mv      t6, a2                  # payload length
    mv      t5, a1                  # pair
    mv      a1, a3
    la      t0, template
    li      t1, 0
1:  add     t2, t0, t1
    lbu     t3, 0(t2)
    add     t2, a1, t1
    sb      t3, 0(t2)
    addi    t1, t1, 1
    li      t2, 42
    blt     t1, t2, 1b
    la      t0, mymac
    li      t1, 0
2:  add     t2, t0, t1
    lbu     t3, 0(t2)
    add     t2, a1, t1
    sb      t3, 6(t2)
    addi    t1, t1, 1
    li      t2, 6
    blt     t1, t2, 2b
    addi    t0, t6, 28              # IPv4 total length, big-endian
    srli    t1, t0, 8
    sb      t1, 16(a1)
    sb      t0, 17(a1)
    slli    t0, t5, 1               # UDP source port of the pair
    la      t1, ports
    add     t1, t1, t0
    lhu     t0, 0(t1)
    srli    t1, t0, 8
    sb      t1, 34(a1)
    sb      t0, 35(a1)
    addi    t0, t6, 8               # UDP length
    srli    t1, t0, 8
    sb      t1, 38(a1)
    sb      t0, 39(a1)
    li      t1, 0                   # payload
    li      t3, 31
    mul     t3, a0, t3
3:  slli    t0, t1, 3
    sub     t0, t0, t1              # i * 7
    add     t0, t0, t3
    add     t2, a1, t1
    sb      t0, 42(t2)
    addi    t1, t1, 1
    blt     t1, t6, 3b
    mv      a0, a1
    addi    a1, t6, 42
    ret

# transmit(a0 = pair, a1 = buffer, a2 = length): one frame through the
# pair's transmit ring; waits for DD and returns the descriptor status.
transmit:
    la      t0, txtail
    slli    t1, a0, 3
    add     t0, t0, t1
    ld      t2, 0(t0)               # the slot
    la      t3, txring
    slli    t1, a0, 7
    add     t3, t3, t1
    slli    t1, t2, 4
    add     t3, t3, t1              # its descriptor
    sd      a1, 0(t3)
    sh      a2, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    t2, t2, 1
    li      t1, RING
    remu    t2, t2, t1
    sd      t2, 0(t0)
    fence   w, o                    # the descriptor is in memory before the doorbell
    slli    t1, a0, 6
    add     t1, t1, s2
    sw      t2, QREGS + R_TAIL(t1)
    RETURN_WHEN_SENT

# tx_queue(a0 = pair, a1 = buffer, a2 = length): a descriptor at the
# transmit ring's tail, not yet given to the controller.
tx_queue:
    la      t0, txtail
    slli    t1, a0, 3
    add     t0, t0, t1
    ld      t2, 0(t0)
    la      t3, txring
    slli    t1, a0, 7
    add     t3, t3, t1
    slli    t1, t2, 4
    add     t3, t3, t1
    sd      a1, 0(t3)
    sh      a2, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    t2, t2, 1
    li      t1, RING
    remu    t2, t2, t1
    sd      t2, 0(t0)
    ret

# tx_ring(a0 = pair): one doorbell for every queued descriptor; waits for DD
# on the last and returns its status.
tx_ring:
    la      t0, txtail
    slli    t1, a0, 3
    add     t0, t0, t1
    ld      t2, 0(t0)
    fence   w, o
    slli    t1, a0, 6
    add     t1, t1, s2
    sw      t2, QREGS + R_TAIL(t1)
    addi    t2, t2, RING - 1        # the last queued slot
    li      t1, RING
    remu    t2, t2, t1
    la      t3, txring
    slli    t1, a0, 7
    add     t3, t3, t1
    slli    t1, t2, 4
    add     t3, t3, t1
    RETURN_WHEN_SENT

# rx_post(a0 = pair): give the slot at the receive ring's tail back to the
# controller with its 2 KiB buffer.
rx_post:
    la      t0, rxtail
    slli    t1, a0, 3
    add     t0, t0, t1
    ld      t2, 0(t0)
    la      t3, rxring
    slli    t1, a0, 7
    add     t3, t3, t1
    slli    t1, t2, 4
    add     t3, t3, t1
    slli    t4, a0, 3               # buffer (pair * RING + slot) * BUF
    add     t4, t4, t2
    li      t1, BUF
    mul     t4, t4, t1
    la      t1, rxbuf
    add     t4, t4, t1
    sd      t4, 0(t3)
    li      t1, BUF
    sh      t1, 8(t3)
    sh      zero, 10(t3)
    sw      zero, 12(t3)
    addi    t2, t2, 1
    li      t1, RING
    remu    t2, t2, t1
    sd      t2, 0(t0)
    fence   w, o
    slli    t1, a0, 6
    add     t1, t1, s2
    sw      t2, QREGS + RX_OFF + R_TAIL(t1)
    ret

# rx_wait(a0 = pair): the next received frame of the pair's ring;
# a0 = buffer, a1 = length, a2 = status. The slot is reposted by rx_post.
rx_wait:
    la      t0, rxhead
    slli    t1, a0, 3
    add     t0, t0, t1
    ld      t2, 0(t0)
    la      t3, rxring
    slli    t1, a0, 7
    add     t3, t3, t1
    slli    t1, t2, 4
    add     t3, t3, t1
    li      t6, POLL_LIMIT
1:  fence   i, r
    lbu     a2, 13(t3)
    andi    t1, a2, DD
    bnez    t1, 2f
    addi    t6, t6, -1
    bnez    t6, 1b
    li      a0, 9
    call    say_fail
    .asciz  "no reply received\n"
    .balign 4
2:  addi    t2, t2, 1
    li      t1, RING
    remu    t2, t2, t1
    sd      t2, 0(t0)
    ld      a0, 0(t3)
    lhu     a1, 8(t3)
    ret

# fnv1a(a0 = address, a1 = length, a2 = running hash or 0 to start)
fnv1a:
    li      t0, 0x811c9dc5
    beqz    a2, 1f
    mv      t0, a2
1:  li      t1, 0x01000193
    li      t3, 0xffffffff
2:  beqz    a1, 3f
    lbu     t2, 0(a0)
    xor     t0, t0, t2
    mul     t0, t0, t1
    and     t0, t0, t3
    addi    a0, a0, 1
    addi    a1, a1, -1
    j       2b
3:  mv      a0, t0
    ret

    .include "report.inc"      # trap, say, say_fail
    .include "../include/uart.inc"
    .include "hexn.inc"        # hexn, puthexn

    .section .rodata
# Ethernet, IPv4 and UDP headers; the source MAC, lengths and source port
# are filled in per frame. IPv4 header checksum 0: the peer does not check it.
template:
    .byte   0x52, 0x54, 0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0x08, 0x00
    .byte   0x45, 0x00, 0, 0, 0, 0, 0x40, 0x00, 0x40, 0x11, 0, 0
    .byte   10, 0, 2, 15, 10, 0, 2, 2
    .byte   0, 0, 0x00, 0x07, 0, 0, 0, 0
    .balign 2
# UDP source ports whose flows (10.0.2.15 -> 10.0.2.2, UDP, port -> 7) the
# controller's CRC-32 steering sends to receive ring 0 and ring 1.
ports:
    .half   1001, 1000

    .bss
    .balign 64
mymac:      .space 8
txtail:     .space 16
rxtail:     .space 16
rxhead:     .space 16
rxstats:    .space 32               # per ring: frames (8), bytes (4), fnv (4)
bulkstats:  .space 32
    .balign 4096
txring:     .space 256              # two rings of 8 descriptors
rxring:     .space 256
    .balign 4096
txbuf:      .space 16 * 2048           # 8 per pair
rxbuf:      .space 16 * 2048
            .space 4096
stack_top:
# nic_mq.S -- one pyvmm-nic queue pair per hart: an S-mode kernel for two
# harts (`pyvmm run --bios builtin --smp 2`, or a VM with two VCPUs:
# `--technique hw --smp 2`), against a peer that echoes every frame
# (`--netdev echo,id=n0 --device pyvmm-nic,netdev=n0,queues=2`).
#
# The boot hart finds the controller (1b36:00f0) on PCI bus 0 through the
# ECAM window, places its BAR0 at the start of the 32-bit MMIO window with
# memory decode and bus mastering, reads its MAC, resets it, has the
# receive steering use both rings (MQ_ACTIVE = 2), enables it and starts
# the other hart through SBI HSM. From there hart i alone programs and
# drives ring pair i: it sets up its transmit and receive rings (8
# descriptors each, no interrupts: completion is the descriptor's DD bit,
# polled), posts 7 receive buffers, and sends FRAMES UDP frames one at a
# time, 10.0.2.15 -> 10.0.2.2 port 7, from the source ports in `ports`
# (four per hart), picked so that the controller's CRC-32 steering (mod 2)
# puts the flow -- and so its echo -- on receive ring i. Every reply must
# come back on the hart's own ring (a reply steered elsewhere never shows
# up there, and the wait for it fails), as long as the frame, addressed to
# our MAC, and byte for byte the frame sent past the MAC addresses. Each
# hart folds its replies into h = h * 0x100000001b3 + byte, then the
# length (h from 0xcbf29ce484222325, mod 2^64), and counts frames and bytes.
#
# The second hart stores its figures, raises a flag with an AMO and stops
# itself (HSM); the boot hart waits for the flag (the barrier) and prints
# both harts' lines, hart 0 first, so the output does not depend on how the
# harts interleave:
#
#     nic_mq: 2 harts, one ring pair each
#     hart 0 pair 0: 24 frames, <bytes> bytes, checksum 0x<16 hex digits>
#     hart 1 pair 1: 24 frames, <bytes> bytes, checksum 0x<16 hex digits>
#     nic_mq: done
#
# and powers off through SBI SRST (reason "none"). A failure prints
# "nic_mq: FAIL hart <i>: <what>" and powers off with reason "system
# failure". Console output is the legacy SBI putchar, never inside the loop.
#
# Run:  pyvmm run --bios builtin --smp 2 --netdev echo,id=n0 \
#           --device pyvmm-nic,netdev=n0,queues=2 guests/smp/nic_mq.S
#       pyvmm run --technique hw --smp 2 --netdev echo,id=n0 \
#           --device pyvmm-nic,netdev=n0,queues=2 guests/smp/nic_mq.S

    .equ ECAM,          0x30000000
    .equ MMIO_WINDOW,   0x40000000
    .equ CFG_COMMAND,   0x04
    .equ CFG_BAR0,      0x10
    .equ CFG_BAR1,      0x14
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
    .equ DD,            1

    .equ HARTS,         2
    .equ FRAMES,        24          # per hart
    .equ RING,          8
    .equ SLOT,          2048        # bytes per buffer
    .equ POLL_LIMIT,    50000000
    .equ HEADERS,       42          # Ethernet + IPv4 + UDP

    # hart i's memory: AREA + AREA_STRIDE * i
    .equ AREA,          0x80400000
    .equ AREA_STRIDE,   0x20000
    .equ TXRING,        0x0000      # 8 descriptors of 16 bytes
    .equ RXRING,        0x0100
    .equ TXBUF,         0x0400      # the frame being sent
    .equ RXBUF,         0x2000      # RING buffers of SLOT bytes

    .equ EID_HSM,       0x48534D
    .equ EID_SRST,      0x53525354
    .equ SBI_LEGACY_PUTCHAR, 0x01
    .equ STACK_SIZE,    4096
    .equ CSUM_INIT,     0xcbf29ce484222325
    .equ CSUM_MUL,      0x100000001b3

    .section .text
    .globl _start
# Registers of a hart's driver: s0 its id (= its pair), s1 BAR0, s2 its
# memory area, s3 frame number, s4 checksum, s5 bytes received, s6
# transmit tail, s7 receive head, s8 receive tail, s9 its ring pair's
# registers, s10 frame length, s11 CSUM_MUL.
_start:
    mv      s0, a0
    call    set_stack
    li      t0, HARTS
    bgeu    s0, t0, bad_hart

    li      t1, 0                   # find the controller
1:  li      s7, ECAM
    slli    t0, t1, 15
    add     s7, s7, t0
    lw      t0, 0(s7)
    li      t2, NIC_IDS
    beq     t0, t2, 2f
    addi    t1, t1, 1
    li      t0, 32
    blt     t1, t0, 1b
    la      a0, msg_no_nic
    j       fail
2:  sh      zero, CFG_COMMAND(s7)
    li      s1, MMIO_WINDOW
    sw      s1, CFG_BAR0(s7)
    sw      zero, CFG_BAR1(s7)
    li      t0, 6                   # memory decode, bus master
    sh      t0, CFG_COMMAND(s7)
    lw      t0, QUEUES(s1)
    li      t1, HARTS
    bgeu    t0, t1, 3f
    la      a0, msg_few_queues
    j       fail
3:  la      t1, nic_mac
    lw      t0, MAC_LO(s1)
    sw      t0, 0(t1)
    lw      t0, MAC_HI(s1)
    sh      t0, 4(t1)
    li      t0, CTRL_RST
    sw      t0, CTRL(s1)
    li      t0, HARTS               # steer over one receive ring per hart
    sw      t0, MQ_ACTIVE(s1)
    li      t0, CTRL_EN
    sw      t0, CTRL(s1)
    la      t0, nic_bar
    sd      s1, 0(t0)

    li      a7, EID_HSM             # hart_start(the other, secondary, 0)
    li      a6, 0
    xori    a0, s0, 1
    la      a1, secondary
    li      a2, 0
    ecall
    beqz    a0, drive
    la      a0, msg_no_start
    j       fail

secondary:
    mv      s0, a0
    call    set_stack
    li      t0, HARTS
    bgeu    s0, t0, bad_hart
    fence   r, r                    # the boot hart's stores before hart_start
    la      t0, nic_bar
    ld      s1, 0(t0)

# drive: this hart's pair s0 set up and driven, FRAMES request/responses
drive:
    li      s2, AREA_STRIDE
    mul     s2, s2, s0
    li      t0, AREA
    add     s2, s2, t0
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

    li      s3, 0
    li      s4, CSUM_INIT
    li      s5, 0
    li      s11, CSUM_MUL
3:  call    build
    call    send
    call    receive
    call    check
    call    fold
    call    rx_post                 # the buffer back behind the receive doorbell
    fence   w, o
    sw      s8, RX_TAIL(s9)
    addi    s3, s3, 1
    li      t0, FRAMES
    bltu    s3, t0, 3b

    la      t0, results             # this hart's figures: frames, bytes, checksum
    slli    t1, s0, 5
    add     t0, t0, t1
    sd      s3, 0(t0)
    sd      s5, 8(t0)
    sd      s4, 16(t0)
    bnez    s0, report_in

    la      t0, done                # the barrier: wait for the other hart
4:  lw      t1, 0(t0)
    beqz    t1, 4b
    fence   r, r                    # the flag before its figures
    la      a0, msg_start
    call    puts
    li      s0, 0
5:  call    print_hart
    addi    s0, s0, 1
    li      t0, HARTS
    bltu    s0, t0, 5b
    la      a0, msg_done
    call    puts
    li      a1, 0                   # reason: none
    j       shutdown

report_in:
    la      t0, done
    li      t1, 1
    amoadd.w.rl zero, t1, (t0)      # the figures are visible before the flag
    li      a7, EID_HSM             # hart_stop
    li      a6, 1
    ecall
1:  wfi
    j       1b

bad_hart:
    la      a0, msg_bad_hart
    j       fail

# set_stack: sp at the top of hart s0's stack (clobbers t0, t1)
set_stack:
    la      sp, stacks + STACK_SIZE
    li      t1, 0                   # an unexpected hart id gets hart 0's, to fail on
    li      t0, HARTS
    bgeu    s0, t0, 1f
    mv      t1, s0
1:  li      t0, STACK_SIZE
    mul     t1, t1, t0
    add     sp, sp, t1
    ret

# build: frame s3 in this hart's transmit buffer, its length in s10. Ethernet
# to the peer (52:54:00:00:00:02) from the NIC's MAC, IPv4 10.0.2.15 ->
# 10.0.2.2, UDP from ports[s0][s3 % 4] to port 7; the payload is
# 16 + 8 * (s3 % 16) + 4 * s0 bytes, byte j = s0 * 0x40 + s3 * 31 + j * 7.
build:
    addi    a1, s2, TXBUF
    la      t0, template
    li      t1, 0
1:  add     t2, t0, t1
    lbu     t3, 0(t2)
    add     t2, a1, t1
    sb      t3, 0(t2)
    addi    t1, t1, 1
    li      t2, HEADERS
    bltu    t1, t2, 1b
    la      t0, nic_mac
    lwu     t1, 0(t0)
    sh      t1, 6(a1)               # 6(a1) is only 2-byte aligned: halves
    srli    t1, t1, 16
    sh      t1, 8(a1)
    lhu     t1, 4(t0)
    sh      t1, 10(a1)
    andi    t6, s3, 15              # payload length
    slli    t6, t6, 3
    addi    t6, t6, 16
    slli    t0, s0, 2
    add     t6, t6, t0
    addi    s10, t6, HEADERS
    addi    t0, t6, 28              # IPv4 total length, big-endian
    srli    t1, t0, 8
    sb      t1, 16(a1)
    sb      t0, 17(a1)
    la      t1, ports               # UDP source port
    slli    t0, s0, 3
    add     t1, t1, t0
    andi    t0, s3, 3
    slli    t0, t0, 1
    add     t1, t1, t0
    lhu     t0, 0(t1)
    srli    t1, t0, 8
    sb      t1, 34(a1)
    sb      t0, 35(a1)
    addi    t0, t6, 8               # UDP length
    srli    t1, t0, 8
    sb      t1, 38(a1)
    sb      t0, 39(a1)
    slli    t3, s0, 6               # payload
    li      t0, 31
    mul     t0, t0, s3
    add     t3, t3, t0
    li      t1, 0
2:  slli    t0, t1, 3
    sub     t0, t0, t1              # j * 7
    add     t0, t0, t3
    add     t2, a1, t1
    sb      t0, HEADERS(t2)
    addi    t1, t1, 1
    bltu    t1, t6, 2b
    ret

# send: the frame on the transmit ring, its doorbell, its completion
send:
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
    li      t6, POLL_LIMIT
1:  fence   i, r
    lbu     t0, 13(t3)
    andi    t1, t0, DD
    bnez    t1, 2f
    addi    t6, t6, -1
    bnez    t6, 1b
    la      a0, msg_no_tx
    j       fail
2:  li      t1, DD
    bne     t0, t1, 3f
    ret
3:  la      a0, msg_tx_error
    j       fail

# receive: the next frame on this hart's own receive ring: a0 = its
# address, a1 = its length
receive:
    addi    t3, s2, RXRING
    slli    t1, s7, 4
    add     t3, t3, t1
    li      t6, POLL_LIMIT
1:  fence   i, r
    lbu     t0, 13(t3)
    andi    t1, t0, DD
    bnez    t1, 2f
    addi    t6, t6, -1
    bnez    t6, 1b
    la      a0, msg_no_rx
    j       fail
2:  li      t1, DD
    beq     t0, t1, 3f
    la      a0, msg_rx_error
    j       fail
3:  fence   r, r                    # the status before the frame
    ld      a0, 0(t3)
    lhu     a1, 8(t3)
    addi    s7, s7, 1
    andi    s7, s7, RING - 1
    ret

# check(a0 = reply, a1 = length): the echo of the frame just sent, to us
check:
    bne     a1, s10, 3f
    la      t0, nic_mac
    li      t1, 0
1:  add     t2, t0, t1
    lbu     t3, 0(t2)
    add     t2, a0, t1
    lbu     t4, 0(t2)
    bne     t3, t4, 4f
    addi    t1, t1, 1
    li      t2, 6
    bltu    t1, t2, 1b
    addi    t0, s2, TXBUF
    li      t1, 12
2:  add     t2, t0, t1
    lbu     t3, 0(t2)
    add     t2, a0, t1
    lbu     t4, 0(t2)
    bne     t3, t4, 4f
    addi    t1, t1, 1
    bltu    t1, a1, 2b
    ret
3:  la      a0, msg_bad_length
    j       fail
4:  la      a0, msg_not_echo
    j       fail

# fold(a0 = reply, a1 = length): s4 over its bytes and length, s5 += length
fold:
    mv      t3, a0
    add     t4, a0, a1
1:  lbu     t0, 0(t3)
    mul     s4, s4, s11
    add     s4, s4, t0
    addi    t3, t3, 1
    bltu    t3, t4, 1b
    mul     s4, s4, s11
    add     s4, s4, a1
    add     s5, s5, a1
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

# print_hart: "hart <s0> pair <s0>: <frames> frames, <bytes> bytes,
# checksum 0x<hex>" from results[s0]
print_hart:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      a0, msg_hart
    call    puts
    mv      a0, s0
    call    putdec
    la      a0, msg_pair
    call    puts
    mv      a0, s0
    call    putdec
    la      a0, msg_colon
    call    puts
    la      s1, results
    slli    t0, s0, 5
    add     s1, s1, t0
    ld      a0, 0(s1)
    call    putdec
    la      a0, msg_frames
    call    puts
    ld      a0, 8(s1)
    call    putdec
    la      a0, msg_bytes
    call    puts
    ld      a0, 16(s1)
    call    puthex64
    li      a0, '\n'
    call    putc
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# fail(a0 = message): "nic_mq: FAIL hart <s0>: <message>", then power off
# with reason "system failure"
fail:
    mv      s11, a0
    la      a0, msg_fail
    call    puts
    mv      a0, s0
    call    putdec
    la      a0, msg_colon
    call    puts
    mv      a0, s11
    call    puts
    li      a0, '\n'
    call    putc
    li      a1, 1                   # reason: system failure
shutdown:
    li      a7, EID_SRST
    li      a6, 0
    li      a0, 0                   # type: shutdown
    ecall
1:  wfi
    j       1b

# putc(a0 = byte): the legacy SBI console putchar (clobbers a0, a7)
putc:
    li      a7, SBI_LEGACY_PUTCHAR
    ecall
    ret

# puts(a0 = NUL-terminated string); clobbers a0, a7, t5
puts:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      t5, a0
1:  lbu     a0, 0(t5)
    beqz    a0, 2f
    call    putc
    addi    t5, t5, 1
    j       1b
2:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# putdec(a0 = unsigned value): decimal; clobbers a0, a7, t3-t5
putdec:
    addi    sp, sp, -48
    sd      ra, 0(sp)
    addi    t3, sp, 47              # digits are built backwards in the frame
    sb      zero, 0(t3)
    li      t4, 10
1:  remu    t5, a0, t4
    divu    a0, a0, t4
    addi    t5, t5, '0'
    addi    t3, t3, -1
    sb      t5, 0(t3)
    bnez    a0, 1b
    mv      a0, t3
    call    puts
    ld      ra, 0(sp)
    addi    sp, sp, 48
    ret

# puthex64(a0 = value): "0x" and 16 hex digits; clobbers a0, a7, t3-t5
puthex64:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      t4, a0
    li      a0, '0'
    call    putc
    li      a0, 'x'
    call    putc
    li      t3, 60
1:  srl     a0, t4, t3
    andi    a0, a0, 15
    addi    a0, a0, '0'
    li      t5, '9'
    ble     a0, t5, 2f
    addi    a0, a0, 'a' - '0' - 10
2:  call    putc
    addi    t3, t3, -4
    bgez    t3, 1b
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .section .rodata
# Ethernet, IPv4 and UDP headers; the source MAC, lengths and source port
# are filled in per frame. IPv4 header checksum 0: the peer does not check it.
template:
    .byte   0x52, 0x54, 0x00, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0x08, 0x00
    .byte   0x45, 0x00, 0, 0, 0, 0, 0x40, 0x00, 0x40, 0x11, 0, 0
    .byte   10, 0, 2, 15, 10, 0, 2, 2
    .byte   0, 0, 0x00, 0x07, 0, 0, 0, 0
    .balign 2
# Per hart, four UDP source ports whose flows (10.0.2.15 -> 10.0.2.2, UDP,
# port -> 7) CRC-32 steering over two rings sends to that hart's ring:
# crc32(addresses, 17, ports) mod 2 is 0 for the odd ports, 1 for the even.
ports:
    .half   1001, 1003, 1005, 1007
    .half   1000, 1002, 1004, 1006
msg_start:          .asciz "nic_mq: 2 harts, one ring pair each\n"
msg_hart:           .asciz "hart "
msg_pair:           .asciz " pair "
msg_colon:          .asciz ": "
msg_frames:         .asciz " frames, "
msg_bytes:          .asciz " bytes, checksum "
msg_done:           .asciz "nic_mq: done\n"
msg_fail:           .asciz "nic_mq: FAIL hart "
msg_bad_hart:       .asciz "hart id outside 0..1"
msg_no_nic:         .asciz "no pyvmm-nic (1b36:00f0) on bus 0"
msg_few_queues:     .asciz "the controller has fewer than 2 ring pairs"
msg_no_start:       .asciz "SBI hart_start failed"
msg_no_tx:          .asciz "no transmit completion"
msg_tx_error:       .asciz "transmit descriptor reports an error"
msg_no_rx:          .asciz "no reply on this hart's receive ring"
msg_rx_error:       .asciz "receive descriptor reports an error"
msg_bad_length:     .asciz "a reply is not as long as its frame"
msg_not_echo:       .asciz "a reply is not the echo of the frame sent"

    .section .data
    .balign 8
nic_bar:    .dword 0
nic_mac:    .dword 0
done:       .word 0
    .balign 8
results:    .space 32 * HARTS       # per hart: frames, bytes, checksum, pad

    .section .bss
    .balign 16
stacks:     .space STACK_SIZE * HARTS

# blk_bench.S -- a virtio-blk throughput guest: an S-mode kernel that reads
# the whole disk in requests of REQ_SIZE bytes and prints a checksum of
# everything it read.
#
# Entered at 0x80200000 in S-mode (a0 = hartid, a1 = the device tree, both
# unused), as `pyvmm run --bios builtin` and `pyvmm run --technique NAME`
# start a kernel. It finds the first virtio-mmio slot (0x10001000 + i *
# 0x1000) holding a version-2 virtio-blk (MagicValue "virt", device id 2),
# negotiates VERSION_1 and nothing else, sets up request queue 0 with QSZ
# entries and reads the capacity from the configuration space. Then it reads
# sectors 0 .. capacity-1 in order, one request in flight at a time: each
# request is one chain of three descriptors set up once (the 16-byte header,
# the data buffer, the status byte), with only the header's sector and the
# data length (the last request may be shorter) changed per request. The
# driver posts the head on the available ring, writes QueueNotify once and
# polls the used ring in memory, so the only register access per request is
# the doorbell. Every completion is checked (head 0, used length = data + 1,
# status OK) and the buffer is folded into the checksum before the next
# request reuses it.
#
# The checksum runs over the disk's bytes as little-endian 64-bit words w:
# h = 0xcbf29ce484222325, then h = h * 0x100000001b3 + w (mod 2^64) for each
# word in disk order. The last line is
#
#     blk_bench: <requests> requests of <REQ_SIZE> bytes, <bytes> bytes, checksum 0x<16 hex digits>
#
# and the guest powers off through SBI SRST (reason "none"). A failure prints
# "blk_bench: FAIL <what>" and powers off with reason "system failure".
# Console output goes through the legacy SBI putchar (a7 = 1), one call per
# character, never inside the measured loop.
#
# REQ_SIZE (default 64 KiB) is a multiple of 512 up to 1 MiB; a variant with
# another size defines it before including this file:
#
#     .equ REQ_SIZE, 4096
#     .include "blk_bench.S"
#
# CHECKSUM (default 1) set to 0 leaves the data unread by the guest (the line
# then ends in "checksum off"): the run is then the I/O path alone, the
# folding costs about 3.3 guest instructions per 8 bytes otherwise.
#
# Run:  pyvmm run --bios builtin --drive file=disk.img,format=raw guests/devices/blk_bench.S --stats
#       pyvmm run --technique hw --drive file=disk.img,format=raw guests/devices/blk_bench.S --stats
# benchmarks/test_blk_bench.py times it and turns the counters into MB/s and
# exits per request. On QEMU 7.2 under OpenSBI it prints the same line:
#       riscv64-unknown-elf-as -march=rv64imac_zicsr_zifencei -mno-relax -I guests/devices \
#           -o blk_bench.o guests/devices/blk_bench.S
#       riscv64-unknown-elf-ld -n -Ttext=0x80200000 -o blk_bench.elf blk_bench.o
#       qemu-system-riscv64 -machine virt -nographic -m 128M -global virtio-mmio.force-legacy=false \
#           -drive file=disk.img,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0 \
#           -kernel blk_bench.elf

    .ifndef REQ_SIZE
    .equ REQ_SIZE,      65536
    .endif
    .ifndef CHECKSUM
    .equ CHECKSUM,      1
    .endif
    .if (REQ_SIZE % 512) || (REQ_SIZE == 0) || (REQ_SIZE > 0x100000)
    .error "REQ_SIZE must be a multiple of 512 between 512 and 1 MiB"
    .endif

    .include "virtio_defs.inc"

    .equ SBI_LEGACY_PUTCHAR, 0x01
    .equ SBI_SRST,      0x53525354
    .equ BLK_DEVICE_ID, 2
    .equ T_IN,          0

    .equ STACK_TOP,     0x80400000
    .equ QMEM,          0x80400000      # request queue 0 (one page, virtio_defs layout)
    .equ REQ,           0x80401000      # request header (16 bytes)
    .equ REQ_STATUS,    0x80401010      # status byte written by the device
    .equ BUF,           0x80500000      # the data buffer, REQ_SIZE bytes

    .equ CSUM_INIT,     0xcbf29ce484222325
    .equ CSUM_MUL,      0x100000001b3

    .section .text
    .globl _start
_start:
    li      sp, STACK_TOP

    # --- find the device: s0 = its window
    li      s0, VIRTIO_MMIO
    li      t1, 0
1:  lw      t0, VM_MAGIC(s0)
    li      t2, VIRTIO_MAGIC
    bne     t0, t2, 2f
    lw      t0, VM_VERSION(s0)
    li      t2, 2
    bne     t0, t2, 2f
    lw      t0, VM_DEVICE_ID(s0)
    li      t2, BLK_DEVICE_ID
    beq     t0, t2, 3f
2:  li      t2, VIRTIO_STRIDE
    add     s0, s0, t2
    addi    t1, t1, 1
    li      t2, VIRTIO_SLOTS
    blt     t1, t2, 1b
    la      a0, msg_no_device
    j       fail

    # --- reset, ACKNOWLEDGE, DRIVER, features: VERSION_1 only
3:  sw      zero, VM_STATUS(s0)
4:  lw      t0, VM_STATUS(s0)       # the reset is done when status reads 0
    bnez    t0, 4b
    li      t0, ST_ACK
    sw      t0, VM_STATUS(s0)
    li      t0, ST_ACK | ST_DRIVER
    sw      t0, VM_STATUS(s0)
    li      t0, 1
    sw      t0, VM_DEV_FSEL(s0)
    lw      t1, VM_DEV_FEAT(s0)     # device features 32..63
    andi    t1, t1, F_HI_VERSION_1
    bnez    t1, 5f
    la      a0, msg_no_version_1
    j       fail
5:  sw      zero, VM_DRV_FSEL(s0)
    sw      zero, VM_DRV_FEAT(s0)
    li      t0, 1
    sw      t0, VM_DRV_FSEL(s0)
    li      t0, F_HI_VERSION_1
    sw      t0, VM_DRV_FEAT(s0)
    li      t0, ST_ACK | ST_DRIVER | ST_FEATURES_OK
    sw      t0, VM_STATUS(s0)
    lw      t0, VM_STATUS(s0)
    andi    t0, t0, ST_FEATURES_OK
    bnez    t0, 6f
    la      a0, msg_features_refused
    j       fail

    # --- queue 0 in the page at QMEM
6:  sw      zero, VM_QSEL(s0)
    lw      t0, VM_QREADY(s0)
    beqz    t0, 7f
    la      a0, msg_queue_busy
    j       fail
7:  lw      t0, VM_QNUM_MAX(s0)
    li      t1, QSZ
    bgeu    t0, t1, 8f
    la      a0, msg_queue_small
    j       fail
8:  li      t0, QMEM
    li      t1, QMEM + 0x1000
9:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 9b
    li      t0, QSZ
    sw      t0, VM_QNUM(s0)
    li      t0, QMEM
    sw      t0, VM_QDESC_LO(s0)
    srli    t0, t0, 32
    sw      t0, VM_QDESC_HI(s0)
    li      t0, QMEM + Q_AVAIL
    sw      t0, VM_QAVAIL_LO(s0)
    srli    t0, t0, 32
    sw      t0, VM_QAVAIL_HI(s0)
    li      t0, QMEM + Q_USED
    sw      t0, VM_QUSED_LO(s0)
    srli    t0, t0, 32
    sw      t0, VM_QUSED_HI(s0)
    li      t0, 1
    sw      t0, VM_QREADY(s0)
    lw      t0, VM_STATUS(s0)
    ori     t0, t0, ST_DRIVER_OK
    sw      t0, VM_STATUS(s0)

    # --- s1 = bytes left to read (capacity in sectors * 512)
    lwu     s1, VM_CONFIG(s0)
    lwu     t0, VM_CONFIG + 4(s0)
    slli    t0, t0, 32
    or      s1, s1, t0
    slli    s1, s1, 9
    mv      s7, s1                  # total bytes, for the report

    # --- the one chain: header -> data -> status (descriptors 0, 1, 2)
    li      s2, QMEM
    li      t0, REQ
    sd      t0, 0(s2)
    li      t0, 16
    sw      t0, 8(s2)
    li      t0, DESC_NEXT
    sh      t0, 12(s2)
    li      t0, 1
    sh      t0, 14(s2)
    li      t0, BUF
    sd      t0, 16(s2)
    li      t0, REQ_SIZE
    sw      t0, 24(s2)
    li      t0, DESC_WRITE | DESC_NEXT
    sh      t0, 28(s2)
    li      t0, 2
    sh      t0, 30(s2)
    li      t0, REQ_STATUS
    sd      t0, 32(s2)
    li      t0, 1
    sw      t0, 40(s2)
    li      t0, DESC_WRITE
    sh      t0, 44(s2)
    sh      zero, 46(s2)
    li      t0, REQ
    li      t1, T_IN
    sw      t1, 0(t0)               # type IN, reserved 0
    sw      zero, 4(t0)

    # --- the measured loop
    # s0 window, s1 bytes left, s2 qmem, s3 sector, s4 requests,
    # s5 checksum, s6 this request's length, s7 total bytes,
    # s8 the driver's avail index, s9 used entries consumed
    li      s3, 0
    li      s4, 0
    li      s5, CSUM_INIT
    li      s8, 0
    li      s9, 0
    li      s10, CSUM_MUL
    beqz    s1, done
request:
    li      s6, REQ_SIZE
    bgeu    s1, s6, 1f
    mv      s6, s1                  # the shorter last request
1:  sw      s6, 24(s2)              # data descriptor length
    li      t0, REQ
    sd      s3, 8(t0)               # sector
    li      t1, 0xff
    sb      t1, 16(t0)              # REQ_STATUS: the device overwrites it
    li      t0, QMEM + Q_AVAIL
    andi    t1, s8, QSZ - 1
    slli    t1, t1, 1
    add     t1, t0, t1
    sh      zero, 4(t1)             # ring[avail_idx % QSZ] = head 0
    fence   w, w                    # the ring entry before the index
    addi    s8, s8, 1
    sh      s8, 2(t0)
    fence   w, o                    # the avail index before the doorbell
    sw      zero, VM_QNOTIFY(s0)    # queue 0
    li      t0, QMEM + Q_USED
2:  lhu     t1, 2(t0)               # used->idx
    slli    t2, s9, 48
    srli    t2, t2, 48
    beq     t1, t2, 2b
    fence   r, r                    # the index before the entry and the data
    andi    t1, s9, QSZ - 1
    slli    t1, t1, 3
    add     t1, t0, t1
    lwu     t2, 4(t1)               # id
    lwu     t3, 8(t1)               # len
    addi    s9, s9, 1
    beqz    t2, 3f
    la      a0, msg_bad_head
    j       fail
3:  addi    t4, s6, 1
    beq     t3, t4, 4f
    la      a0, msg_bad_len
    j       fail
4:  li      t0, REQ_STATUS
    lbu     t1, 0(t0)
    beqz    t1, 5f
    la      a0, msg_bad_status
    j       fail

5:
.if CHECKSUM
    # fold the buffer into the checksum, eight words a step
    li      t0, BUF
    add     t1, t0, s6
6:  ld      a0, 0(t0)
    ld      a1, 8(t0)
    ld      a2, 16(t0)
    ld      a3, 24(t0)
    ld      a4, 32(t0)
    ld      a5, 40(t0)
    ld      a6, 48(t0)
    ld      a7, 56(t0)
    mul     s5, s5, s10
    add     s5, s5, a0
    mul     s5, s5, s10
    add     s5, s5, a1
    mul     s5, s5, s10
    add     s5, s5, a2
    mul     s5, s5, s10
    add     s5, s5, a3
    mul     s5, s5, s10
    add     s5, s5, a4
    mul     s5, s5, s10
    add     s5, s5, a5
    mul     s5, s5, s10
    add     s5, s5, a6
    mul     s5, s5, s10
    add     s5, s5, a7
    addi    t0, t0, 64
    bltu    t0, t1, 6b
.endif

    addi    s4, s4, 1
    srli    t0, s6, 9
    add     s3, s3, t0
    sub     s1, s1, s6
    bnez    s1, request

    # --- report and power off
done:
    la      a0, msg_result
    call    puts
    mv      a0, s4
    call    putdec
    la      a0, msg_requests_of
    call    puts
    li      a0, REQ_SIZE
    call    putdec
    la      a0, msg_bytes
    call    puts
    mv      a0, s7
    call    putdec
    la      a0, msg_checksum
    call    puts
.if CHECKSUM
    mv      a0, s5
    call    puthex64
.else
    la      a0, msg_off
    call    puts
.endif
    li      a0, '\n'
    call    putc
    li      a1, 0                   # reason: none
    j       shutdown

# fail(a0 = message): "blk_bench: FAIL <message>", then power off with
# reason "system failure"
fail:
    mv      s11, a0
    la      a0, msg_fail
    call    puts
    mv      a0, s11
    call    puts
    li      a0, '\n'
    call    putc
    li      a1, 1                   # reason: system failure
shutdown:
    li      a7, SBI_SRST
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
msg_result:             .asciz "blk_bench: "
msg_requests_of:        .asciz " requests of "
msg_bytes:              .asciz " bytes, "
msg_checksum:           .asciz " bytes, checksum "
msg_off:                .asciz "off"
msg_fail:               .asciz "blk_bench: FAIL "
msg_no_device:          .asciz "no virtio-blk (version 2) in the virtio-mmio slots"
msg_no_version_1:       .asciz "device does not offer VERSION_1"
msg_features_refused:   .asciz "device cleared FEATURES_OK"
msg_queue_busy:         .asciz "queue 0 already ready"
msg_queue_small:        .asciz "QueueNumMax below QSZ"
msg_bad_head:           .asciz "used ring returned another head"
msg_bad_len:            .asciz "used length is not the request's data + 1"
msg_bad_status:         .asciz "request status not OK"

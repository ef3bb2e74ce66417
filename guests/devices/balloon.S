# balloon.S -- a virtio-balloon (device id 5) driver.
#
# Finds the balloon, prints which of its balloon features the device offers,
# negotiates VERSION_1 and STATS_VQ, sets up the inflate, deflate and stats
# queues (interrupt-driven) and leaves one statistics buffer on the stats
# queue. Then it follows the host's target `num_pages`: whenever it differs
# from the pages it holds, it takes pages from its own 4 MiB pool (filled
# with a pattern) and posts their page frame numbers on the inflate queue,
# or posts the most recently inflated ones on the deflate queue, in batches
# of up to 256 PFNs, writing `actual` after each batch. A deflated page may
# be used again at once (MUST_TELL_HOST is not negotiated); the driver
# counts how many read back as zero: on QEMU and on pyvmm an inflated page's
# memory went back to the host, so all of them do (the spec lets a device
# leave any content). It waits for the next target by watching for a
# configuration-change interrupt, and ends when the target drops to 0 after
# an inflation.
#
# Run:  pyvmm run --device virtio-balloon-device \
#           --balloon-target 126M@2000000 --balloon-target 127M@8000000 \
#           --balloon-target 128M@14000000 guests/devices/balloon.S
# (on QEMU: the monitor's `balloon 126`, `balloon 127`, `balloon 128`,
# each after the guest has printed what it did with the previous target).

    .include "virtio_defs.inc"

    .ifndef SMODE
    .equ SMODE,         0               # balloon_smode.S sets 1: the S-mode kernel build
    .endif
    .if SMODE
    # Entered at 0x80200000 under an SBI firmware: memory 2 MiB above the
    # kernel, clear of the firmware below it and of the device tree.
    .equ USE_IRQ,       0
    .equ EID_SRST,      0x53525354
    .equ STACK_TOP,     0x80420000
    .equ QMEM_INFLATE,  0x80400000
    .equ QMEM_DEFLATE,  0x80401000
    .equ QMEM_STATS,    0x80402000
    .equ PFN_BUF,       0x80403000      # one batch of PFNs (1 KiB)
    .equ STATS_BUF,     0x80404000
    .equ POOL,          0x80600000      # the pages the driver can give
    .else
    .equ USE_IRQ,       1
    .equ STACK_TOP,     0x80200000
    .equ QMEM_INFLATE,  0x80100000
    .equ QMEM_DEFLATE,  0x80101000
    .equ QMEM_STATS,    0x80102000
    .equ PFN_BUF,       0x80103000      # one batch of PFNs (1 KiB)
    .equ STATS_BUF,     0x80104000
    .equ POOL,          0x80400000      # the pages the driver can give
    .endif
    .equ POOL_PAGES,    1024
    .equ BATCH,         256
    .equ CFG_NUM_PAGES, VM_CONFIG + 0
    .equ CFG_ACTUAL,    VM_CONFIG + 4
    .equ F_STATS_VQ,    2
    .equ ISR_CONFIG,    2
    .equ Q_INFLATE,     0
    .equ Q_DEFLATE,     1
    .equ Q_STATS,       2
    .equ PATTERN,       0x5a5a0000a5a50000

    .section .text
    .globl _start
_start:
    li      sp, STACK_TOP
    li      a0, 5
    la      a1, name_balloon
    call    virtio_find_or_fail
    mv      s0, a0                  # s0: the device's registers
    mv      s3, a1                  # s3: its slot

    li      t0, 0                   # the balloon's feature bits the device offers
    sw      t0, VM_DEV_FSEL(s0)
    lw      s1, VM_DEV_FEAT(s0)
    la      a0, msg_offered
    call    puts
    andi    a0, s1, 0x3f
    li      a1, 2
    call    puthexn
    call    putnl

    mv      a0, s0
    li      a1, F_STATS_VQ
    li      a2, F_HI_VERSION_1
    call    virtio_negotiate
    mv      s1, a0
    la      a0, msg_accepted
    call    puts
    andi    a0, s1, 0x3f
    li      a1, 2
    call    puthexn
    call    putnl

    mv      a0, s0
    li      a1, Q_INFLATE
    li      a2, QMEM_INFLATE
    call    virtq_setup
    mv      a0, s0
    li      a1, Q_DEFLATE
    li      a2, QMEM_DEFLATE
    call    virtq_setup
    mv      a0, s0
    li      a1, Q_STATS
    li      a2, QMEM_STATS
    call    virtq_setup
    .if USE_IRQ
    mv      a0, s0
    mv      a1, s3
    call    irq_setup
    .endif
    mv      a0, s0
    call    virtio_driver_ok

    # One statistics buffer: total memory (the pool) and free memory.
    # Each entry is a packed le16 tag and le64 value: stored in halfwords.
    li      t0, STATS_BUF
    li      a0, 20
    mv      t2, t0
    add     t3, t0, a0
1:  sh      zero, 0(t2)
    addi    t2, t2, 2
    bltu    t2, t3, 1b
    li      t1, 5                   # VIRTIO_BALLOON_S_MEMTOT
    sh      t1, 0(t0)
    li      t1, (POOL_PAGES * 4096) >> 16
    sh      t1, 4(t0)               # value bits 16..31 (the rest are 0)
    li      t1, 4                   # VIRTIO_BALLOON_S_MEMFREE
    sh      t1, 10(t0)
    li      t1, (POOL_PAGES * 4096) >> 16
    sh      t1, 14(t0)
    li      a0, QMEM_STATS
    li      a1, 0
    li      a2, STATS_BUF
    li      a3, 20
    li      a4, 0
    call    virtq_desc
    mv      a0, s0
    li      a1, Q_STATS
    li      a2, QMEM_STATS
    li      a3, 0
    call    virtq_submit

    li      s2, 0                   # s2: pages in the balloon
    li      s4, 0                   # s4: 1 once anything was inflated
    la      a0, msg_ready
    call    puts
    lw      a0, CFG_NUM_PAGES(s0)
    call    putdec
    call    putnl

follow:                             # clear the config-change bit seen, then read the target
    .if USE_IRQ
    csrci   mstatus, 8
    la      t0, irq_isr_seen
    lw      t1, 0(t0)
    andi    t1, t1, ~ISR_CONFIG
    sw      t1, 0(t0)
    csrsi   mstatus, 8
    .else
    li      t1, ISR_CONFIG
    sw      t1, VM_ISR_ACK(s0)
    .endif
    lw      s5, CFG_NUM_PAGES(s0)   # s5: the target
    li      t0, POOL_PAGES
    bleu    s5, t0, 1f
    mv      s5, t0                  # more than the pool holds: give the whole pool
1:  beq     s5, s2, 4f
    la      a0, msg_target
    call    puts
    lw      a0, CFG_NUM_PAGES(s0)
    call    putdec
    la      a0, msg_colon
    call    puts
    bltu    s5, s2, 2f
    sub     a0, s5, s2
    call    inflate
    li      s4, 1
    j       3f
2:  sub     a0, s2, s5
    call    deflate
3:  bnez    s2, 4f
    beqz    s4, 4f
    la      a0, msg_done
    call    puts
    .if SMODE
    li      a7, EID_SRST            # SBI SRST shutdown (reason: none)
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
    la      a0, msg_srst_returned   # the firmware refused: say so and fail
    call    fail
    .else
    call    finish_pass
    .endif
    # Wait for the next target (spinning, no WFI, so a run with nothing else
    # to wake the hart goes on): the interrupt handler's record of the
    # configuration-change bit, or, without interrupts, the device's
    # InterruptStatus register.
4:
    .if USE_IRQ
    la      t0, irq_isr_seen
    lw      t1, 0(t0)
    .else
    li      t1, 1000                # a register read is an exit under a hypervisor:
5:  addi    t1, t1, -1              # look only every few thousand instructions
    bnez    t1, 5b
    lw      t1, VM_ISR(s0)
    .endif
    andi    t1, t1, ISR_CONFIG
    beqz    t1, 4b
    j       follow

# inflate(a0 = pages): fills them with the pattern, posts their PFNs in
# batches, updates actual; prints "inflated N pages, actual A"
inflate:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s6, 8(sp)
    sd      s7, 16(sp)
    mv      s6, a0                  # s6: pages left to inflate
    mv      s7, a0
1:  beqz    s6, 5f
    li      t5, BATCH
    bleu    s6, t5, 2f
    j       3f
2:  mv      t5, s6
3:  li      t6, 0                   # t6: index in the batch
    # page i = s2 + t6 at POOL + i * 4096: pattern ^ i in every doubleword
4:  add     t0, s2, t6
    slli    t1, t0, 12
    li      t2, POOL
    add     t1, t1, t2
    li      t2, PATTERN
    xor     t2, t2, t0
    li      t3, 4096
    add     t3, t3, t1
6:  sd      t2, 0(t1)
    addi    t1, t1, 8
    bltu    t1, t3, 6b
    li      t2, POOL
    slli    t1, t0, 12
    add     t1, t1, t2
    srli    t1, t1, 12              # the PFN
    slli    t2, t6, 2
    li      t3, PFN_BUF
    add     t2, t2, t3
    sw      t1, 0(t2)
    addi    t6, t6, 1
    bltu    t6, t5, 4b
    mv      a1, t5
    li      a0, Q_INFLATE
    li      a2, QMEM_INFLATE
    call    post_pfns
    add     s2, s2, t5
    sub     s6, s6, t5
    sw      s2, CFG_ACTUAL(s0)
    j       1b
5:  la      a0, msg_inflated
    call    puts
    mv      a0, s7
    call    putdec
    la      a0, msg_pages_actual
    call    puts
    lw      a0, CFG_ACTUAL(s0)
    call    putdec
    call    putnl
    ld      ra, 0(sp)
    ld      s6, 8(sp)
    ld      s7, 16(sp)
    addi    sp, sp, 32
    ret

# deflate(a0 = pages): posts the PFNs of the most recently inflated pages in
# batches, updates actual, then uses the pages again: counts those that
# read back all zero; prints "deflated N pages, actual A, read back zero: Z"
deflate:
    addi    sp, sp, -48
    sd      ra, 0(sp)
    sd      s6, 8(sp)
    sd      s7, 16(sp)
    sd      s8, 24(sp)
    mv      s6, a0                  # s6: pages left to deflate
    mv      s7, a0
1:  beqz    s6, 5f
    li      t5, BATCH
    bleu    s6, t5, 2f
    li      t5, BATCH
    j       3f
2:  mv      t5, s6
3:  li      t6, 0
4:  addi    t0, s2, -1              # page s2 - 1 - t6
    sub     t0, t0, t6
    li      t2, POOL
    slli    t1, t0, 12
    add     t1, t1, t2
    srli    t1, t1, 12
    slli    t2, t6, 2
    li      t3, PFN_BUF
    add     t2, t2, t3
    sw      t1, 0(t2)
    addi    t6, t6, 1
    bltu    t6, t5, 4b
    mv      a1, t5
    li      a0, Q_DEFLATE
    li      a2, QMEM_DEFLATE
    call    post_pfns
    sub     s2, s2, t5
    sub     s6, s6, t5
    sw      s2, CFG_ACTUAL(s0)
    j       1b
5:  li      s8, 0                   # s8: pages that read back all zero
    mv      t0, s2                  # pages s2 .. s2 + s7 - 1 are back in use
    add     t4, s2, s7
6:  bgeu    t0, t4, 9f
    slli    t1, t0, 12
    li      t2, POOL
    add     t1, t1, t2
    li      t3, 4096
    add     t3, t3, t1
    li      t2, 0
7:  ld      t5, 0(t1)
    or      t2, t2, t5
    addi    t1, t1, 8
    bltu    t1, t3, 7b
    bnez    t2, 8f
    addi    s8, s8, 1
8:  addi    t0, t0, 1
    j       6b
9:  la      a0, msg_deflated
    call    puts
    mv      a0, s7
    call    putdec
    la      a0, msg_pages_actual
    call    puts
    lw      a0, CFG_ACTUAL(s0)
    call    putdec
    la      a0, msg_zero
    call    puts
    mv      a0, s8
    call    putdec
    call    putnl
    ld      ra, 0(sp)
    ld      s6, 8(sp)
    ld      s7, 16(sp)
    ld      s8, 24(sp)
    addi    sp, sp, 48
    ret

# post_pfns(a0 = queue, a1 = count, a2 = qmem): the first a1 PFNs of
# PFN_BUF in one descriptor on queue a0, and waits until the device used
# it; keeps t5
post_pfns:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      t5, 8(sp)
    sd      a0, 16(sp)
    sd      a2, 24(sp)
    mv      a0, a2
    slli    a3, a1, 2
    li      a1, 0
    li      a2, PFN_BUF
    li      a4, 0
    call    virtq_desc
    mv      a0, s0
    ld      a1, 16(sp)
    ld      a2, 24(sp)
    li      a3, 0
    call    virtq_submit
    ld      a0, 24(sp)
    call    virtq_wait
    ld      ra, 0(sp)
    ld      t5, 8(sp)
    addi    sp, sp, 32
    ret

    .include "virtio.inc"

    .section .rodata
name_balloon:       .asciz "virtio-balloon"
msg_offered:        .asciz "balloon features offered: "
msg_accepted:       .asciz "balloon features accepted: "
msg_ready:          .asciz "ready: target "
msg_target:         .asciz "target "
msg_colon:          .asciz ": "
msg_inflated:       .asciz "inflated "
msg_deflated:       .asciz "deflated "
msg_pages_actual:   .asciz " pages, actual "
msg_zero:           .asciz ", read back zero: "
msg_done:           .asciz "virtio-balloon: done\n"
msg_srst_returned:  .asciz "SBI SRST returned"

# io_nvme.S -- the io_bench workload (io_workload.inc) over NVMe: an S-mode
# kernel that finds the NVMe controller (1b36:0010) on PCI bus 0 through the
# ECAM window, places its BAR0 at the start of the 32-bit MMIO window with
# memory decode and bus mastering, resets and enables it with an admin queue
# pair, creates one I/O queue pair (id 1, polled, no interrupts) and serves
# each request as one Read or Write of 8 512-byte LBAs with PRP1 = the
# buffer. Per request the driver touches two registers: the submission
# queue's tail doorbell and, after finding the completion by its phase tag in
# memory, the completion queue's head doorbell.
#
# Run:  pyvmm run --bios builtin --drive if=none,id=d0,file=disk.img,format=raw \
#           --device nvme,drive=d0,serial=io0001 guests/bench/io_nvme.S
#       (a VM: --technique hw; passthrough: docs/iommu.md)

    .equ ECAM,          0x30000000
    .equ MMIO_WINDOW,   0x40000000
    .equ CFG_COMMAND,   0x04
    .equ CFG_BAR0,      0x10
    .equ CFG_BAR1,      0x14
    .equ NVME_IDS,      0x00101b36

    .equ CC,            0x14
    .equ CSTS,          0x1c
    .equ AQA,           0x24
    .equ ASQ,           0x28
    .equ ACQ,           0x30
    .equ DOORBELL,      0x1000      # SQy tail at +8y, CQy head at +8y+4
    .equ QSIZE,         8
    .equ POLL_LIMIT,    50000000
    .equ ADM_CREATE_SQ, 0x01
    .equ ADM_CREATE_CQ, 0x05
    .equ IO_WRITE,      0x01
    .equ IO_READ,       0x02
    .equ LBAS_PER_BLOCK, 8

    # queues in the driver's memory: admin SQ, admin CQ, I/O SQ, I/O CQ (a
    # page each), then one 32-byte record per queue id: tail, head, phase
    .equ NV_ASQ,        0x80400000
    .equ NV_ACQ,        0x80401000
    .equ NV_IOSQ,       0x80402000
    .equ NV_IOCQ,       0x80403000
    .equ NV_QSTATE,     0x80404000
    .equ QS_TAIL,       0
    .equ QS_HEAD,       8
    .equ QS_PHASE,      16

    .include "io_workload.inc"

    .section .text
# io_init: s8 = BAR0, s9 = the last command identifier
io_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      t1, 0
1:  li      s7, ECAM
    slli    t0, t1, 15
    add     s7, s7, t0
    lw      t0, 0(s7)
    li      t2, NVME_IDS
    beq     t0, t2, 2f
    addi    t1, t1, 1
    li      t0, 32
    blt     t1, t0, 1b
    la      a0, msg_no_nvme
    j       fail
2:  sh      zero, CFG_COMMAND(s7)
    li      s8, MMIO_WINDOW
    sw      s8, CFG_BAR0(s7)
    sw      zero, CFG_BAR1(s7)
    li      t0, 6                   # memory decode, bus master
    sh      t0, CFG_COMMAND(s7)
    li      s9, 0
    li      t0, NV_ASQ              # the queues and their records start zeroed
    li      t1, NV_QSTATE + 0x1000
3:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 3b
    li      t0, NV_QSTATE
    li      t1, 1
    sd      t1, QS_PHASE(t0)
    sd      t1, 32 + QS_PHASE(t0)

    sw      zero, CC(s8)
    li      a0, 0
    call    wait_ready
    li      t1, (QSIZE - 1) | (QSIZE - 1) << 16
    sw      t1, AQA(s8)
    li      t1, NV_ASQ
    sd      t1, ASQ(s8)
    li      t1, NV_ACQ
    sd      t1, ACQ(s8)
    li      t1, 1 | 6 << 16 | 4 << 20   # EN, IOSQES 64 bytes, IOCQES 16 bytes
    sw      t1, CC(s8)
    li      a0, 1
    call    wait_ready

    li      a0, 0                   # I/O completion queue 1, contiguous, polled
    li      a1, ADM_CREATE_CQ
    li      a2, 0
    li      a3, NV_IOCQ
    li      a4, 1 | (QSIZE - 1) << 16
    li      a5, 1
    li      a6, 0
    call    command
    li      a0, 0                   # I/O submission queue 1 on completion queue 1
    li      a1, ADM_CREATE_SQ
    li      a2, 0
    li      a3, NV_IOSQ
    li      a4, 1 | (QSIZE - 1) << 16
    li      a5, 1 | 1 << 16
    li      a6, 0
    call    command
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# wait_ready(a0 = the CSTS.RDY value awaited)
wait_ready:
    li      t2, POLL_LIMIT
1:  lw      t0, CSTS(s8)
    andi    t1, t0, 2
    bnez    t1, 2f
    andi    t1, t0, 1
    beq     t1, a0, 3f
    addi    t2, t2, -1
    bnez    t2, 1b
    la      a0, msg_not_ready
    j       fail
2:  la      a0, msg_fatal
    j       fail
3:  ret

# io_rw(a0 = 0 read | 1 write, a1 = block, a2 = buffer)
io_rw:
    li      t0, IO_READ
    sub     t0, t0, a0              # read 2, write 1
    slli    a4, a1, 3               # SLBA = block * LBAS_PER_BLOCK
    mv      a3, a2
    mv      a1, t0
    li      a0, 1
    li      a2, 1                   # namespace 1
    li      a5, 0
    li      a6, LBAS_PER_BLOCK - 1  # NLB, zero-based
    j       command

# command(a0 = queue id, a1 = opcode, a2 = nsid, a3 = PRP1, a4 = CDW10,
# a5 = CDW11, a6 = CDW12): submit, poll the completion queue for the phase
# tag, consume the entry; fails unless the status is 0. Clobbers t0-t6.
command:
    li      t0, NV_QSTATE
    slli    t1, a0, 5
    add     t0, t0, t1              # t0: the queue's record
    li      t1, NV_ASQ
    beqz    a0, 1f
    li      t1, NV_IOSQ
1:  ld      t2, QS_TAIL(t0)
    slli    t3, t2, 6
    add     t1, t1, t3              # t1: the submission entry
    addi    s9, s9, 1
    slli    t3, s9, 48
    srli    t3, t3, 32              # CID in bits 31:16
    or      t3, t3, a1
    sw      t3, 0(t1)
    sw      a2, 4(t1)
    sd      zero, 8(t1)
    sd      zero, 16(t1)
    sd      a3, 24(t1)
    sd      zero, 32(t1)
    sw      a4, 40(t1)
    sw      a5, 44(t1)
    sw      a6, 48(t1)
    sw      zero, 52(t1)
    sd      zero, 56(t1)
    addi    t2, t2, 1
    andi    t2, t2, QSIZE - 1
    sd      t2, QS_TAIL(t0)
    fence   w, o                    # the entry is in memory before the doorbell
    slli    t3, a0, 3
    add     t3, t3, s8
    li      t4, DOORBELL
    add     t3, t3, t4              # t3: the SQ tail doorbell
    sw      t2, 0(t3)
    li      t1, NV_ACQ
    beqz    a0, 2f
    li      t1, NV_IOCQ
2:  ld      t2, QS_HEAD(t0)
    slli    t4, t2, 4
    add     t1, t1, t4              # t1: the completion entry at the head
    ld      t5, QS_PHASE(t0)
    li      t6, POLL_LIMIT
3:  lwu     t4, 12(t1)
    srli    a7, t4, 16
    andi    a7, a7, 1
    beq     a7, t5, 4f
    addi    t6, t6, -1
    bnez    t6, 3b
    la      a0, msg_no_completion
    j       fail
4:  fence   r, r                    # the phase tag before the data
    srli    t4, t4, 17              # status: SCT, SC (and DNR, M)
    andi    t4, t4, 0x7ff
    beqz    t4, 5f
    la      a0, msg_command_failed
    j       fail
5:  addi    t2, t2, 1
    andi    t2, t2, QSIZE - 1
    sd      t2, QS_HEAD(t0)
    bnez    t2, 6f
    xori    t5, t5, 1               # the head wrapped: the phase flips
    sd      t5, QS_PHASE(t0)
6:  sw      t2, 4(t3)               # the CQ head doorbell
    ret

    .section .rodata
msg_no_nvme:            .asciz "no NVMe controller on bus 0"
msg_not_ready:          .asciz "CSTS.RDY did not change"
msg_fatal:              .asciz "controller fatal status"
msg_no_completion:      .asciz "no completion"
msg_command_failed:     .asciz "command failed"

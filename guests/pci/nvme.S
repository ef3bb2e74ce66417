# nvme.S -- an NVMe driver on the virt board's PCI host, bare metal.
#
# Shows: bus 0 scanned through the ECAM window for the NVMe controller
# (1b36:0010, class 01.08.02); its 64-bit BAR0 sized and placed at the
# start of the 32-bit MMIO window; memory decode and bus mastering; then the
# controller: reset (CC.EN = 0, CSTS.RDY = 0), admin queues of 8 entries
# (AQA, ASQ, ACQ), CC.EN with 64-byte submission and 16-byte completion
# entries, Identify controller (vendor, model, serial, MDTS, entry sizes)
# and namespace 1 (size, LBA data size), Set Features (Number of Queues),
# an I/O completion and submission queue pair, a write of 8 sectors at LBA
# 4 from a pattern and their read-back (compared, and an FNV-1a 32
# checksum), a read of sector 0 (checksum), two commands that must fail (a
# read past the end of the namespace: LBA Out of Range; an unknown opcode:
# Invalid Command Opcode), a Flush, the queues deleted and a normal shutdown
# (CC.SHN, CSTS.SHST). Every completion is found by its phase tag, polled.
#
# Run:   pyvmm run --drive if=none,id=d0,file=disk.img,format=raw \
#                  --device nvme,drive=d0,serial=pyvmm0001 guests/pci/nvme.S
#        qemu-system-riscv64 -machine virt -nographic -bios none -m 128M \
#            -drive if=none,id=d0,file=disk.img,format=raw \
#            -device nvme,drive=d0,serial=pyvmm0001 -kernel nvme.elf
# Exit:  0 when every step gave what the specification says; otherwise the
#        finisher's failure code after a line saying why (3..9), or 12 after
#        an unexpected trap.
#
# Registers kept across the program: s0 ECAM base of the controller,
# s1 device number, s2 BAR0 address, s9 the last command identifier.

    .include "pci.inc"         # board addresses, config registers, HEX, SAY, BAR0 steps

    .equ NVME_IDS,      0x00101b36  # device 0x0010, vendor 0x1b36

    # controller registers (BAR0)
    .equ CAP,           0x00
    .equ VS,            0x08
    .equ CC,            0x14
    .equ CSTS,          0x1c
    .equ AQA,           0x24
    .equ ASQ,           0x28
    .equ ACQ,           0x30
    .equ DOORBELL,      0x1000      # SQy tail at +8y, CQy head at +8y+4
    .equ QSIZE,         8
    .equ POLL_LIMIT,    50000000

    # opcodes
    .equ ADM_DELETE_SQ, 0x00
    .equ ADM_CREATE_SQ, 0x01
    .equ ADM_DELETE_CQ, 0x04
    .equ ADM_CREATE_CQ, 0x05
    .equ ADM_IDENTIFY,  0x06
    .equ ADM_SET_FEAT,  0x09
    .equ IO_FLUSH,      0x00
    .equ IO_WRITE,      0x01
    .equ IO_READ,       0x02

# queue state, one 64-byte record per queue id (0 admin, 1 I/O)
    .equ Q_SQ,          0
    .equ Q_CQ,          8
    .equ Q_TAIL,        16
    .equ Q_HEAD,        24
    .equ Q_PHASE,       32

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
    PROBE_SLOT NVME_IDS, found, scan
    SAY     "nvme: none\n"
    j       pass

found:
    SAY     "nvme at 00:"
    mv      a0, s1
    li      a1, 2
    call    hexn
    SAY     ".0 class "
    lw      t0, CFG_REVISION(s0)
    srli    a0, t0, 8
    li      a1, 6
    call    hexn
    SAY     " rev "
    lbu     t0, CFG_REVISION(s0)
    HEX     t0, 2
    SAY     " pin "
    lbu     t0, CFG_INT_PIN(s0)
    HEX     t0, 2
    SAY     "\n"
    # BAR0: size it with decoding off, then place it at the window's start.
    SIZE_BAR64
    lw      s6, CFG_BAR0(s0)
    andi    s6, s6, 0xf             # type bits
    SAY     "bar0 flags "
    HEX     s6, 1
    SAY     " size "
    HEX     s5, 8
    SAY     "\n"
    PLACE_BAR64

    # Reset, then the admin queues.
    lw      t0, CAP(s2)
    li      t1, 0xffff
    and     s5, t0, t1
    SAY     "cap.mqes "
    HEX     s5, 4
    SAY     " vs "
    lw      t0, VS(s2)
    HEX     t0, 8
    SAY     "\n"
    sw      zero, CC(s2)
    li      a0, 0
    call    wait_ready
    la      t0, queues
    la      t1, asq
    sd      t1, Q_SQ(t0)
    la      t1, acq
    sd      t1, Q_CQ(t0)
    li      t1, 1
    sd      t1, Q_PHASE(t0)
    li      t1, (QSIZE - 1) | (QSIZE - 1) << 16
    sw      t1, AQA(s2)
    la      t1, asq
    sd      t1, ASQ(s2)
    la      t1, acq
    sd      t1, ACQ(s2)
    li      t1, 1 | 6 << 16 | 4 << 20   # EN, IOSQES 64 bytes, IOCQES 16 bytes
    sw      t1, CC(s2)
    li      a0, 1
    call    wait_ready
    SAY     "enabled, csts "
    lw      t0, CSTS(s2)
    HEX     t0, 2
    SAY     "\n"

    # Identify controller.
    li      a0, 0
    li      a1, ADM_IDENTIFY
    li      a2, 0
    la      a3, idbuf
    li      a4, 1
    call    command0
    la      s5, idbuf
    SAY     "identify: vid "
    lhu     t0, 0(s5)
    HEX     t0, 4
    SAY     " ssvid "
    lhu     t0, 2(s5)
    HEX     t0, 4
    SAY     " mdts "
    lbu     t0, 77(s5)
    HEX     t0, 2
    SAY     " sqes "
    lbu     t0, 512(s5)
    HEX     t0, 2
    SAY     " cqes "
    lbu     t0, 513(s5)
    HEX     t0, 2
    SAY     "\n  model '"
    addi    a0, s5, 24
    li      a1, 40
    call    put_trimmed
    SAY     "' serial '"
    addi    a0, s5, 4
    li      a1, 20
    call    put_trimmed
    SAY     "'\n"

    # Identify namespace 1.
    li      a0, 0
    li      a1, ADM_IDENTIFY
    li      a2, 1
    la      a3, idbuf
    li      a4, 0
    call    command0
    la      s5, idbuf
    ld      s6, 0(s5)               # NSZE
    lbu     t0, 26(s5)
    andi    t0, t0, 0xf             # FLBAS: the format in use
    slli    t0, t0, 2
    add     t0, t0, s5
    lbu     s7, 130(t0)             # its LBADS
    SAY     "namespace 1: nsze "
    HEX     s6, 8
    SAY     " lbads "
    HEX     s7, 2
    SAY     "\n"

    # Number of Queues: one pair asked for.
    li      a0, 0
    li      a1, ADM_SET_FEAT
    li      a2, 0
    li      a3, 0
    li      a4, 7
    li      a5, 0
    call    command0
    mv      s5, a1
    SAY     "set features: queues "
    HEX     s5, 8
    SAY     "\n"

    # The I/O queue pair (id 1): completion queue first, polled (IEN = 0).
    la      t0, queues + 64
    la      t1, iosq
    sd      t1, Q_SQ(t0)
    la      t1, iocq
    sd      t1, Q_CQ(t0)
    li      t1, 1
    sd      t1, Q_PHASE(t0)
    li      a0, 0
    li      a1, ADM_CREATE_CQ
    li      a2, 0
    la      a3, iocq
    li      a4, 1 | (QSIZE - 1) << 16
    li      a5, 1                   # physically contiguous
    call    command0
    li      a0, 0
    li      a1, ADM_CREATE_SQ
    li      a2, 0
    la      a3, iosq
    li      a4, 1 | (QSIZE - 1) << 16
    li      a5, 1 | 1 << 16         # contiguous, completion queue 1
    call    command0
    SAY     "i/o queues created\n"

    # Write 8 sectors at LBA 4 from a pattern, read them back, compare.
    la      t0, wbuf
    li      t1, 0
1:  li      t2, 13
    mul     t2, t1, t2
    addi    t2, t2, 5
    add     t3, t0, t1
    sb      t2, 0(t3)
    addi    t1, t1, 1
    li      t2, 4096
    blt     t1, t2, 1b
    li      a0, 1
    li      a1, IO_WRITE
    li      a2, 1
    la      a3, wbuf
    li      a4, 4
    li      a5, 0
    li      a6, 7
    li      a7, 0
    call    command0
    li      a0, 1
    li      a1, IO_READ
    li      a2, 1
    la      a3, rbuf
    li      a4, 4
    li      a5, 0
    li      a6, 7
    li      a7, 0
    call    command0
    la      t0, wbuf
    la      t1, rbuf
    li      t2, 4096
1:  lbu     t3, 0(t0)
    lbu     t4, 0(t1)
    bne     t3, t4, mismatch
    addi    t0, t0, 1
    addi    t1, t1, 1
    addi    t2, t2, -1
    bnez    t2, 1b
    SAY     "wrote and read back 8 sectors at lba 4: fnv1a "
    la      a0, rbuf
    li      a1, 4096
    call    fnv1a
    HEX     a0, 8
    SAY     "\n"

    # Sector 0 as the image holds it.
    li      a0, 1
    li      a1, IO_READ
    li      a2, 1
    la      a3, rbuf
    li      a4, 0
    li      a5, 0
    li      a6, 0
    li      a7, 0
    call    command0
    SAY     "sector 0: fnv1a "
    la      a0, rbuf
    li      a1, 512
    call    fnv1a
    HEX     a0, 8
    SAY     "\n"

    # Two commands that must fail, with the status the specification gives.
    li      a0, 1
    li      a1, IO_READ
    li      a2, 1
    la      a3, rbuf
    mv      a4, s6                  # the first LBA past the end
    li      a5, 0
    li      a6, 0
    li      a7, 0
    call    command
    mv      s5, a0
    SAY     "read past the end: status "
    HEX     s5, 3
    SAY     "\n"
    li      a0, 1
    li      a1, 0x7f
    li      a2, 1
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      a6, 0
    li      a7, 0
    call    command
    mv      s5, a0
    SAY     "opcode 0x7f: status "
    HEX     s5, 3
    SAY     "\n"
    li      a0, 1
    li      a1, IO_FLUSH
    li      a2, 1
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      a6, 0
    li      a7, 0
    call    command0
    SAY     "flushed\n"

    # Tear down: the queues, then a normal shutdown.
    li      a0, 0
    li      a1, ADM_DELETE_SQ
    li      a2, 0
    li      a3, 0
    li      a4, 1
    call    command0
    li      a0, 0
    li      a1, ADM_DELETE_CQ
    li      a2, 0
    li      a3, 0
    li      a4, 1
    call    command0
    lw      t0, CC(s2)
    li      t1, 1 << 14             # SHN: normal shutdown
    or      t0, t0, t1
    sw      t0, CC(s2)
    li      t2, POLL_LIMIT
1:  lw      t0, CSTS(s2)
    andi    t1, t0, 0xc
    li      t3, 8                   # SHST: shutdown complete
    beq     t1, t3, 2f
    addi    t2, t2, -1
    bnez    t2, 1b
    li      a0, 8
    call    say_fail
    .asciz  "shutdown did not complete\n"
    .balign 4
2:  SAY     "shutdown complete, csts "
    lw      t0, CSTS(s2)
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

mismatch:
    li      a0, 7
    call    say_fail
    .asciz  "read-back differs from what was written\n"
    .balign 4

# wait_ready(a0 = 0 or 1): poll CSTS until RDY equals a0; a fatal status
# (CFS) or no change within the limit fails.
wait_ready:
    li      t2, POLL_LIMIT
1:  lw      t0, CSTS(s2)
    andi    t1, t0, 2
    bnez    t1, 2f
    andi    t1, t0, 1
    beq     t1, a0, 3f
    addi    t2, t2, -1
    bnez    t2, 1b
    li      a0, 3
    call    say_fail
    .asciz  "CSTS.RDY did not change\n"
    .balign 4
2:  li      a0, 4
    call    say_fail
    .asciz  "controller fatal status\n"
    .balign 4
3:  ret

# command0: command, and fail unless the status is 0 (successful completion).
command0:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    command
    beqz    a0, 1f
    mv      s5, a0
    SAY     "command failed with status "
    HEX     s5, 3
    li      a0, 5
    call    say_fail
    .asciz  "\n"
    .balign 4
1:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# command(a0 = queue id, a1 = opcode, a2 = nsid, a3 = PRP1, a4 = CDW10,
# a5 = CDW11, a6 = CDW12, a7 = PRP2): build the entry in the submission
# queue, ring its doorbell, poll the completion queue for the phase tag,
# consume the entry (head doorbell); returns a0 = status (SCT << 8 | SC)
# and a1 = DW0. Clobbers t0-t6.
command:
    la      t0, queues
    slli    t1, a0, 6
    add     t0, t0, t1              # t0: the queue's record
    ld      t1, Q_SQ(t0)
    ld      t2, Q_TAIL(t0)
    slli    t3, t2, 6
    add     t1, t1, t3              # t1: the entry
    li      t3, 8
    mv      t4, t1
1:  sd      zero, 0(t4)
    addi    t4, t4, 8
    addi    t3, t3, -1
    bnez    t3, 1b
    addi    s9, s9, 1
    slli    t3, s9, 48
    srli    t3, t3, 32              # CID in bits 31:16
    or      t3, t3, a1
    sw      t3, 0(t1)
    sw      a2, 4(t1)
    sd      a3, 24(t1)
    sd      a7, 32(t1)
    sw      a4, 40(t1)
    sw      a5, 44(t1)
    sw      a6, 48(t1)
    addi    t2, t2, 1
    li      t3, QSIZE
    remu    t2, t2, t3
    sd      t2, Q_TAIL(t0)
    fence   w, o                    # the entry is in memory before the doorbell
    slli    t3, a0, 3
    add     t3, t3, s2
    li      t4, DOORBELL
    add     t3, t3, t4
    sw      t2, 0(t3)
    # Poll the completion queue entry at the head for the expected phase.
    ld      t1, Q_CQ(t0)
    ld      t2, Q_HEAD(t0)
    slli    t4, t2, 4
    add     t1, t1, t4
    ld      t5, Q_PHASE(t0)
    li      t6, POLL_LIMIT
2:  fence   i, r
    lw      t4, 12(t1)
    srli    a1, t4, 16
    andi    a1, a1, 1
    beq     a1, t5, 3f
    addi    t6, t6, -1
    bnez    t6, 2b
    li      a0, 6
    call    say_fail
    .asciz  "no completion\n"
    .balign 4
3:  srli    a0, t4, 17
    andi    a0, a0, 0x7ff
    lwu     a1, 0(t1)
    addi    t2, t2, 1
    li      t4, QSIZE
    blt     t2, t4, 4f
    li      t2, 0
    xori    t5, t5, 1
    sd      t5, Q_PHASE(t0)
4:  sd      t2, Q_HEAD(t0)
    addi    t3, t3, 4               # the completion queue's head doorbell
    sw      t2, 0(t3)
    ret

# put_trimmed(a0 = text, a1 = length): the text without trailing spaces
put_trimmed:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s3, 8(sp)
    sd      s4, 16(sp)
    mv      s3, a0
    add     s4, a0, a1
1:  beq     s4, s3, 3f
    lbu     t0, -1(s4)
    li      t1, ' '
    bne     t0, t1, 2f
    addi    s4, s4, -1
    j       1b
2:  beq     s3, s4, 3f
    lbu     a0, 0(s3)
    call    putc
    addi    s3, s3, 1
    j       2b
3:  ld      ra, 0(sp)
    ld      s3, 8(sp)
    ld      s4, 16(sp)
    addi    sp, sp, 32
    ret

# fnv1a(a0 = address, a1 = length): FNV-1a 32 of the bytes in a0
fnv1a:
    li      t0, 0x811c9dc5
    li      t1, 0x01000193
    li      t3, 0xffffffff
1:  beqz    a1, 2f
    lbu     t2, 0(a0)
    xor     t0, t0, t2
    mul     t0, t0, t1
    and     t0, t0, t3
    addi    a0, a0, 1
    addi    a1, a1, -1
    j       1b
2:  mv      a0, t0
    ret

    .include "report.inc"      # trap, say, say_fail
    .include "../include/uart.inc"
    .include "hexn.inc"        # hexn, puthexn

    .bss
    .balign 64
queues:     .space 128              # admin and I/O queue state
    .balign 4096
asq:        .space 4096
acq:        .space 4096
iosq:       .space 4096
iocq:       .space 4096
idbuf:      .space 4096
wbuf:       .space 4096
rbuf:       .space 4096
            .space 4096
stack_top:

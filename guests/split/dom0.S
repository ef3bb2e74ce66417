# dom0.S -- a service VM: it owns the host's NVMe controller (assigned to it,
# docs/iommu.md) and serves its frontend's block ring (docs/service-vm.md).
#
#   1. the controller up (nvme_driver.inc);
#   2. block until the frontend publishes its ring (BACKEND_CONNECTION),
#      map the ring's grant at RING_GPA, bind to the frontend's event port;
#   3. for each request: copy it out of the shared page, map the data
#      page's grant at DATA_GPA, let the controller read or write it there
#      (its DMA walks this VM's G-stage table, where the grant is mapped),
#      unmap, post the response, notify the frontend; block when the ring
#      is empty. A grant that cannot be mapped is an error response
#      carrying the hypercall's SBI error; nothing reaches the disk;
#   4. on BLK_CLOSE: a Flush, the response, a normal shutdown, and exit.
#
# Run:  pyvmm host --drive ... --vm guests/split/dom0.S,name=dom0,service=nvme
#           --vm guests/split/domu.S,name=domu,backend=dom0
# Exit: 0; 3..8 for a controller failure, 11 for a refused hypercall
# this VM had to succeed, 12 for an unexpected trap.

    .include "interdomain.inc"
    .equ RING_GPA,      0x100000000     # outside RAM and every device window
    .equ DATA_GPA,      0x100001000

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    call    nvme_init
    call    say
    .asciz  "dom0: nvme ready\n"
    .balign 4

    # The frontend's connection: (domain id, ring ref, event port).
    BACKEND_CONNECT                 # s3: the frontend's domain id, s4: our port
    li      s7, 0                   # s7: requests consumed
    li      s8, 0                   # s8: responses produced
    li      s10, 0                  # s10: 1 once the frontend closed
    call    say
    .asciz  "dom0: frontend connected\n"
    .balign 4

serve:
    li      t0, RING_GPA
    lwu     t1, RING_REQ_PROD(t0)
    bne     t1, s7, 1f
    bnez    s10, closing
    HCALL   EVTCHN_BLOCK
    bnez    a0, refused
    j       serve
1:  fence   r, r                    # the request after its index
    # Copy the request out: the frontend may change the shared slot under us.
    andi    t1, s7, RING_SLOTS - 1
    slli    t1, t1, 5
    add     t0, t0, t1
    addi    t0, t0, RING_REQS
    la      t2, request
    ld      t3, 0(t0)
    sd      t3, 0(t2)
    ld      t3, 8(t0)
    sd      t3, 8(t2)
    ld      t3, 16(t0)
    sd      t3, 16(t2)
    ld      t3, 24(t0)
    sd      t3, 24(t2)
    addi    s7, s7, 1
    lwu     t3, REQ_OP(t2)
    li      t4, BLK_CLOSE
    beq     t3, t4, op_close
    li      t4, BLK_FLUSH
    beq     t3, t4, op_flush
    li      t4, BLK_WRITE
    bgtu    t3, t4, bad_request
    lwu     t4, REQ_NSECT(t2)
    beqz    t4, bad_request
    li      t5, 8
    bgtu    t4, t5, bad_request
    mv      a0, s3
    lwu     a1, REQ_GREF(t2)
    li      a2, DATA_GPA
    HCALL   GRANT_MAP
    bnez    a0, map_failed
    la      t2, request
    lwu     t3, REQ_OP(t2)
    li      a0, 0x02                # NVMe Read
    beqz    t3, 2f
    li      a0, 0x01                # NVMe Write
2:  ld      a1, REQ_SECTOR(t2)
    li      a2, DATA_GPA
    lwu     a3, REQ_NSECT(t2)
    call    nvme_io
    mv      s5, a0
    li      a0, DATA_GPA
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    mv      a1, s5
    li      a0, 0
    beqz    a1, respond
    li      a0, -1
    j       respond

op_flush:
    li      a0, 0x00                # NVMe Flush
    li      a1, 0
    li      a2, 0
    li      a3, 1
    call    nvme_io
    mv      a1, a0
    li      a0, 0
    beqz    a1, respond
    li      a0, -1
    j       respond

op_close:
    li      s10, 1
    j       op_flush

map_failed:
    mv      a1, a0
    li      a0, -1
    j       respond

bad_request:
    li      a0, -1
    li      a1, -3                  # as SBI_ERR_INVALID_PARAM
    # fall through

# respond(a0 = status, a1 = detail) for the request copied out; notify
respond:
    li      t0, RING_GPA
    andi    t1, s8, RING_SLOTS - 1
    slli    t1, t1, 4
    add     t1, t1, t0
    addi    t1, t1, RING_RSPS
    la      t2, request
    ld      t3, REQ_ID(t2)
    sd      t3, RSP_ID(t1)
    sw      a0, RSP_STATUS(t1)
    sw      a1, RSP_DETAIL(t1)
    fence   w, w                    # the response before its index
    addi    s8, s8, 1
    sw      s8, RING_RSP_PROD(t0)
    mv      a0, s4
    HCALL   EVTCHN_SEND
    bnez    a0, refused
    j       serve

closing:
    li      a0, RING_GPA
    HCALL   GRANT_UNMAP
    bnez    a0, refused
    call    nvme_shutdown
    call    say
    .asciz  "dom0: served "
    .balign 4
    mv      a0, s7
    li      a1, 4
    call    puthexn
    call    say
    .asciz  " requests, controller shut down\n"
    .balign 4
    j       pass

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

    .include "common.inc"
    .include "nvme_driver.inc"

    .bss
    nvme_bss
    .balign 64
connection: .space 24
    .balign 64
request:    .space 32
    .balign 4096
            .space 4096
stack_top:

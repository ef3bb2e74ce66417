# domu.S -- a frontend: the block workload (blk_workload.inc) through the
# ring of its service VM (guests/split/dom0.S, docs/service-vm.md). It has
# no disk of its own.
#
#   1. its backend's domain id (DOMAIN_INFO); the ring page and the data
#      page (iobuf) granted to it; an unbound event port for it; the ring
#      reference and port published (FRONTEND_CONNECT);
#   2. blk_io: a request (id, op, data grant, sector, 8 sectors) in the next
#      slot, the index, a notification; EVTCHN_BLOCK until the response is
#      there; its status;
#   3. BLK_CLOSE, and exit once the backend answered it.
#
# Exit: 0; 9/10 for a workload failure, 11 for a refused hypercall, 12 for
# an unexpected trap.

    .include "interdomain.inc"

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    call    frontend_connect
    call    workload
    li      a0, BLK_CLOSE
    li      a1, 0
    call    blk_io
    bnez    a0, refused
    call    say
    .asciz  "done\n"
    .balign 4
    j       pass

# frontend_connect: grants, the event port, the ring published
frontend_connect:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, 1
    HCALL   DOMAIN_INFO
    bnez    a0, refused
    la      t0, backend
    sd      a1, 0(t0)
    mv      a0, a1
    la      a1, ring
    li      a2, 0
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    la      t0, ring_ref
    sd      a1, 0(t0)
    la      t0, backend
    ld      a0, 0(t0)
    la      a1, iobuf
    li      a2, 0
    HCALL   GRANT_ACCESS
    bnez    a0, refused
    la      t0, data_ref
    sd      a1, 0(t0)
    la      t0, backend
    ld      a0, 0(t0)
    HCALL   EVTCHN_ALLOC_UNBOUND
    bnez    a0, refused
    la      t0, port
    sd      a1, 0(t0)
    la      t0, ring_ref
    ld      a0, 0(t0)
    mv      a1, a1
    HCALL   FRONTEND_CONNECT
    bnez    a0, refused
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# blk_io(a0 = BLK_*, a1 = sector): one request with the data page's grant,
# waited for -> a0 = 0, or the response's detail (nonzero) on an error
blk_io:
    la      t0, data_ref
    ld      a2, 0(t0)
    # fall through

# blk_request(a0 = BLK_*, a1 = sector, a2 = grant ref) -> a0 as blk_io
blk_request:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      t0, ring
    la      t5, next_id
    ld      t6, 0(t5)
    addi    t6, t6, 1
    sd      t6, 0(t5)
    lwu     t1, RING_REQ_PROD(t0)
    andi    t2, t1, RING_SLOTS - 1
    slli    t2, t2, 5
    add     t2, t2, t0
    addi    t2, t2, RING_REQS
    sd      t6, REQ_ID(t2)
    sw      a0, REQ_OP(t2)
    sw      a2, REQ_GREF(t2)
    sd      a1, REQ_SECTOR(t2)
    li      t3, 8
    sw      t3, REQ_NSECT(t2)
    fence   w, w                    # the request before its index
    addi    t1, t1, 1
    sw      t1, RING_REQ_PROD(t0)
    la      t0, port
    ld      a0, 0(t0)
    HCALL   EVTCHN_SEND
    bnez    a0, refused
1:  la      t0, ring
    la      t5, rsp_cons
    ld      t1, 0(t5)
    lwu     t2, RING_RSP_PROD(t0)
    bne     t1, t2, 2f
    HCALL   EVTCHN_BLOCK
    bnez    a0, refused
    j       1b
2:  fence   r, r
    andi    t2, t1, RING_SLOTS - 1
    slli    t2, t2, 4
    add     t2, t2, t0
    addi    t2, t2, RING_RSPS
    addi    t1, t1, 1
    sd      t1, 0(t5)
    ld      t3, RSP_ID(t2)
    la      t5, next_id
    ld      t6, 0(t5)
    bne     t3, t6, 3f
    lw      a0, RSP_STATUS(t2)
    beqz    a0, 4f
    lw      a0, RSP_DETAIL(t2)
    bnez    a0, 4f
    li      a0, -1
4:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret
3:  li      a0, 9
    call    say_fail
    .asciz  "domu: a response for another request\n"
    .balign 4

refused:
    mv      s5, a0
    call    say
    .asciz  "domu: refused: "
    .balign 4
    mv      a0, s5
    li      a1, 16
    call    puthexn
    li      a0, 11
    call    say_fail
    .asciz  "\n"
    .balign 4

    .include "common.inc"
    .include "blk_workload.inc"

    .bss
    .balign 8
backend:    .space 8
ring_ref:   .space 8
data_ref:   .space 8
port:       .space 8
next_id:    .space 8
rsp_cons:   .space 8
    .balign 4096
ring:       .space 4096
iobuf:      .space 4096
            .space 4096
stack_top:

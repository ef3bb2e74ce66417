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
    la      a0, iobuf
    call    frontend_connect
    call    workload
    li      a0, BLK_CLOSE
    li      a1, 0
    call    blk_io
    bnez    a0, frontend_error
    call    say
    .asciz  "done\n"
    .balign 4
    j       pass

# frontend_error(a0 = SBI error, 0: a response to another request): fail (11)
frontend_error:
    mv      s5, a0
    call    say
    .asciz  "frontend: refused: "
    .balign 4
    mv      a0, s5
    li      a1, 16
    call    puthexn
    li      a0, 11
    call    say_fail
    .asciz  "\n"
    .balign 4

    .include "frontend.inc"
    .include "common.inc"
    .include "blk_workload.inc"

    .bss
    frontend_bss
    .balign 4096
iobuf:      .space 4096
            .space 4096
stack_top:

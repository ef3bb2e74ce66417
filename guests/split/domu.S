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
    .include "frontend_vm.inc"

    .section .text
    .globl _start
_start:
    FRONTEND_START
    call    workload
    FRONTEND_CLOSE

    FRONTEND_ERROR_ROUTINE

    .include "frontend.inc"
    .include "common.inc"
    .include "blk_workload.inc"

    .bss
    frontend_bss
    .balign 4096
iobuf:      .space 4096
            .space 4096
stack_top:

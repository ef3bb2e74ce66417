# domu_refs.S -- a frontend that hands its service VM bad data grants
# (docs/service-vm.md): each request must come back with an error status
# carrying the backend's refused GRANT_MAP, and reach neither the disk nor
# any page it was not granted.
#
#   good:      a write through the data page's grant (status 0), for contrast
#   never:     reference 0x3ff, never granted
#   revoked:   a page granted to the backend and revoked before the request
#   readonly:  a read (the controller writes memory) into a read-only grant
#   foreign:   reference 7, which this VM never made (another VM's is 7)
#
# Exit: 0 once every request gave what it must; 9 otherwise.

    .include "interdomain.inc"
    .include "frontend_vm.inc"
    .equ FOREIGN_REF, 7

    .section .text
    .globl _start
_start:
    FRONTEND_START
    li      a0, 42
    call    wl_fill
    li      a0, BLK_WRITE
    li      a1, 320
    call    blk_io
    mv      s3, a0
    call    say
    .asciz  "refs: good: "
    .balign 4
    mv      a0, s3
    call    report

    li      a0, BLK_WRITE
    li      a1, 328
    li      a2, 0x3ff
    call    blk_request
    mv      s3, a0
    call    say
    .asciz  "refs: never granted: "
    .balign 4
    mv      a0, s3
    call    report

    la      t0, backend
    ld      a0, 0(t0)
    la      a1, spare
    li      a2, 0
    HCALL   GRANT_ACCESS
    bnez    a0, frontend_error
    mv      s4, a1
    mv      a0, s4
    HCALL   GRANT_REVOKE
    bnez    a0, frontend_error
    li      a0, BLK_WRITE
    li      a1, 336
    mv      a2, s4
    call    blk_request
    mv      s3, a0
    call    say
    .asciz  "refs: revoked: "
    .balign 4
    mv      a0, s3
    call    report

    la      t0, backend
    ld      a0, 0(t0)
    la      a1, spare
    li      a2, 1
    HCALL   GRANT_ACCESS
    bnez    a0, frontend_error
    mv      a2, a1
    li      a0, BLK_READ
    li      a1, 0
    call    blk_request
    mv      s3, a0
    call    say
    .asciz  "refs: read into a read-only grant: "
    .balign 4
    mv      a0, s3
    call    report

    li      a0, BLK_WRITE
    li      a1, 344
    li      a2, FOREIGN_REF
    call    blk_request
    mv      s3, a0
    call    say
    .asciz  "refs: another VM's reference: "
    .balign 4
    mv      a0, s3
    call    report

    FRONTEND_CLOSE

# report(a0 = blk_request's result): "status 0" or "error 0x<detail>"
report:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    bnez    a0, 1f
    call    say
    .asciz  "status 0\n"
    .balign 4
    j       2f
1:  call    say
    .asciz  "error "
    .balign 4
    ld      a0, 8(sp)
    li      a1, 8
    call    puthexn
    li      a0, '\n'
    call    putc
2:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    FRONTEND_ERROR_ROUTINE

    .include "frontend.inc"
    .include "common.inc"
    .include "blk_workload.inc"

    .bss
    frontend_bss
    .balign 4096
iobuf:      .space 4096
spare:      .space 4096
            .space 4096
stack_top:

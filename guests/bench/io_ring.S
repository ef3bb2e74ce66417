# io_ring.S -- the io_bench workload (io_workload.inc, the one io_nvme.S and
# io_virtio.S run) over a service VM's block ring: a frontend whose every
# request crosses the ring to guests/split/dom0.S, whose NVMe driver serves
# it into this VM's granted page (docs/service-vm.md). Its last line is
# io_nvme.S's for the same disk. `pyvmm bench --suite io` runs it as the
# service-vm model.
#
# Run:  pyvmm host --drive if=none,id=d0,file=disk.img,format=raw \
#           --device nvme,drive=d0,serial=io0001 \
#           --vm guests/split/dom0.S,name=dom0,service=nvme \
#           --vm guests/bench/io_ring.S,name=domu,backend=dom0

    .equ IO_FINISH,     1
    .include "io_workload.inc"
    .include "../split/interdomain.inc"

    .section .text
# io_init: IO_BUF is the data page granted to the backend
io_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, IO_BUF
    call    frontend_connect
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# io_rw(a0 = 0 read | 1 write, a1 = block, a2 = IO_BUF): one ring request of 8 sectors
io_rw:
    li      t0, IO_BUF
    bne     a2, t0, 1f
    addi    sp, sp, -16
    sd      ra, 0(sp)
    slli    a1, a1, 3
    call    blk_io
    ld      ra, 0(sp)
    addi    sp, sp, 16
    bnez    a0, 2f
    ret
1:  la      a0, msg_not_granted
    j       fail
2:  la      a0, msg_request_failed
    j       fail

# io_finish: the ring closed; the backend flushes and shuts the controller down
io_finish:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, BLK_CLOSE
    li      a1, 0
    call    blk_io
    ld      ra, 0(sp)
    addi    sp, sp, 16
    bnez    a0, 2b
    ret

# frontend_error(a0): a refused hypercall or a stray response
frontend_error:
    la      a0, msg_refused
    j       fail

    .include "../split/frontend.inc"

    .section .rodata
msg_not_granted:    .asciz "buffer is not the granted page"
msg_request_failed: .asciz "ring request failed"
msg_refused:        .asciz "interdomain hypercall refused"

    .bss
    frontend_bss

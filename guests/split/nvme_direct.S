# nvme_direct.S -- the block workload (blk_workload.inc) on the NVMe
# controller itself: the reference the split driver's frontend
# (guests/split/domu.S) must match. S-mode kernel at 0x80200000.
#
# Run:  pyvmm run --technique hw --drive if=none,id=d0,file=disk.img,format=raw \
#           --device nvme,drive=d0,serial=pyvmm0001 guests/split/nvme_direct.S
#       or in a VM the host's controller is assigned to (docs/iommu.md).
# Exit: 0; 3..10 after a line saying what failed, 12 after an unexpected trap.

    .include "interdomain.inc"

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    stvec, t0
    call    nvme_init
    call    workload
    call    nvme_shutdown
    call    say
    .asciz  "done\n"
    .balign 4
    j       pass

# blk_io(a0 = BLK_READ/BLK_WRITE, a1 = sector): 8 sectors to/from iobuf
blk_io:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      t0, 0x02                # NVMe Read
    beqz    a0, 1f
    li      t0, 0x01                # NVMe Write
1:  mv      a0, t0
    la      a2, iobuf
    li      a3, 8
    call    nvme_io
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .include "common.inc"
    .include "nvme_driver.inc"
    .include "blk_workload.inc"

    .bss
    nvme_bss
    .balign 4096
iobuf:      .space 4096
            .space 4096
stack_top:

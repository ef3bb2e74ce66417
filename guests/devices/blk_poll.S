# blk_poll.S -- virtio-blk with completion by polling the used ring,
# interrupts off. See blk.inc for what it does and prints.
#
# Run:  pyvmm run --drive file=disk.img,format=raw,if=none,id=d0 \
#           --device virtio-blk-device,drive=d0,serial=pyvmm-disk-0 guests/devices/blk_poll.S

    .equ USE_IRQ, 0
    .include "blk.inc"

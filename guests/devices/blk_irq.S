# blk_irq.S -- virtio-blk with completion by interrupt: the slot's PLIC
# source (1 + slot) enabled in context 0, the M-mode external interrupt
# taken, claimed and completed, the device's InterruptStatus acknowledged.
# Prints what blk_poll.S prints, then the count of interrupts (one per
# request). See blk.inc.

    .equ USE_IRQ, 1
    .include "blk.inc"

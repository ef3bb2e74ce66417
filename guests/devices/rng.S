# rng.S -- 32 bytes from virtio-rng; prints that it got them, not what they
# are (QEMU's are random). See rng.inc.
#
# Run:  pyvmm run --device virtio-rng-device guests/devices/rng.S

    .equ DUMP, 0
    .include "rng.inc"

# balloon_smode.S -- balloon.S as an S-mode kernel: entered at 0x80200000 in
# S-mode under an SBI firmware (pyvmm's --bios builtin, a pyvmm.hv VM,
# OpenSBI on QEMU). It prints the same lines as balloon.S.
#
# What S-mode changes:
#   - no trap vector, no interrupt enabled: the driver polls the used rings,
#     and sees a new target in the device's InterruptStatus (the
#     configuration-change bit), which it acknowledges before reading it;
#   - the end is SBI SRST shutdown (a VM stops with how "sbi-shutdown");
#   - queues, buffers, the stack and the 4 MiB page pool sit 2 MiB and more
#     above the kernel, clear of the firmware and of the device tree.
#
# Run:  pyvmm run --technique hw --device virtio-balloon-device \
#           --balloon-target 126@2000000 --balloon-target 127@8000000 \
#           --balloon-target 128@14000000 guests/devices/balloon_smode.S

    .equ SMODE, 1
    .include "balloon.S"

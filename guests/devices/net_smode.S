# net_smode.S -- net.S's ping-pong over virtio-net as an S-mode kernel: entered
# at 0x80200000 in S-mode (a0 = hartid, a1 = device tree) under an SBI
# firmware (pyvmm's --bios builtin, a pyvmm.hv VM, OpenSBI on QEMU).
#
# The frames, the roles and the printed lines are net.S's: the instance whose
# MAC ends in an odd byte broadcasts "ping k" and waits for "pong k", the
# other answers each ping to its sender and prints each round once, 4 rounds;
# each prints the frames it accepted (counter, source, destination, used
# length), never a time or a loop count:
#
#   virtio-net: slot 7
#   features: VERSION_1 1 MAC 1
#   mac 52:54:00:00:00:01
#   role: ping
#   rx pong 0 from 52:54:00:00:00:02 to 52:54:00:00:00:01 len 72
#   ...
#   virtio-net: done
#
# What S-mode changes:
#   - the pinger's retry deadline is read from the time CSR (rdtime), which
#     the firmware or hypervisor lets S-mode read; the CLINT's mtime belongs
#     to M-mode (OpenSBI guards it with PMP);
#   - completion is polled (virtio.inc with USE_IRQ 0): no trap vector, no
#     interrupt is enabled;
#   - the end is SBI SRST shutdown (reason: none), so the firmware powers the
#     board off (a VM stops with how "sbi-shutdown", status 0); a failure
#     still ends through virtio.inc's fail, which writes the SiFive test
#     finisher (reachable from S-mode on the virt board) with status 1;
#   - queues, buffers and the stack sit 2 MiB above the kernel, clear of the
#     firmware below 0x80200000 and of the device tree near the top of RAM.
# The console is the 16550 UART at 0x10000000, written directly (virtio.inc's
# putc), which the firmware has finished with before it enters the kernel.
#
# Two VMs of one process on a hub (the switch pyvmm.io.net.hub provides):
#   host = pyvmm.hv.Host(); for mac in ("...:01", "...:02"):
#       vm = host.create_vm(devices=DeviceConfig(netdevs=["hub,id=lan"],
#           devices=[f"virtio-net-device,netdev=lan,mac={mac}"])); vm.load(this file)
#   host.run()
# Two QEMU processes (the ponger listens first, then the pinger connects):
#   riscv64-unknown-elf-as -march=rv64imac_zicsr_zifencei -mno-relax -I guests/devices \
#       -o net_smode.o guests/devices/net_smode.S
#   riscv64-unknown-elf-ld -n -Ttext=0x80200000 -o net_smode.elf net_smode.o
#   qemu-system-riscv64 -machine virt -nographic -m 128M -global virtio-mmio.force-legacy=false \
#       -netdev socket,id=n0,listen=127.0.0.1:PORT \
#       -device virtio-net-device,netdev=n0,mac=52:54:00:00:00:02 -kernel net_smode.elf
#   (and connect=127.0.0.1:PORT, mac=52:54:00:00:00:01 for the pinger)

    .equ SMODE, 1
    .include "net.S"

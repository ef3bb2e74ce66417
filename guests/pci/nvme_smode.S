# nvme_smode.S -- nvme.S as an S-mode kernel: entered at 0x80200000 in
# S-mode (a VM of pyvmm.hv, pyvmm's --bios builtin, OpenSBI on QEMU). The
# driver and its output are nvme.S's; only the trap vector and the cause
# registers of its unexpected-trap report are the supervisor's. It ends
# through the SiFive test finisher, which S-mode reaches on the virt board.
#
# Run:  a VM with the host's NVMe controller assigned to it (docs/iommu.md),
#       or pyvmm run --technique hw --drive if=none,id=d0,file=disk.img,format=raw \
#           --device nvme,drive=d0,serial=pyvmm0001 guests/pci/nvme_smode.S

    .equ SMODE, 1
    .include "nvme.S"

# nic_smode.S -- nic.S as an S-mode kernel: entered at 0x80200000 in S-mode
# (a VM of pyvmm.hv, pyvmm's --bios builtin). The driver and its output are
# nic.S's; only the trap vector and the cause registers of its
# unexpected-trap report are the supervisor's. It ends through the SiFive
# test finisher, which S-mode reaches on the virt board.
#
# Run:  a VM with the host's pyvmm-nic assigned to it (docs/network.md),
#       or pyvmm run --technique hw --netdev socket,id=n0,connect=127.0.0.1:PORT \
#           --device pyvmm-nic,netdev=n0,queues=2 guests/pci/nic_smode.S

    .equ SMODE, 1
    .include "nic.S"

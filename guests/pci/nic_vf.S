# nic_vf.S -- nic.S as the host's driver of an SR-IOV pyvmm-nic, bare metal:
# it finds and places the physical function as nic.S does, then programs
# the PF's SR-IOV capability (VF BAR0 after the PF's BAR0, NumVFs 1, VF
# Enable and VF MSE), turns on bus mastering in VF 0's own configuration
# space (PF routing ID + First VF Offset) and runs nic.S's whole exchange on
# VF 0: its MAC (the PF's + 1), its rings, the same echoes.
#
# Run:  pyvmm run --bios builtin --netdev echo,id=n0 \
#           --device pyvmm-nic,netdev=n0,queues=2,sriov_max_vfs=2 guests/pci/nic_vf.S
# Exit: as nic.S; 3 also when the function has no SR-IOV capability.

    .equ SRIOV_VF, 1
    .include "nic.S"

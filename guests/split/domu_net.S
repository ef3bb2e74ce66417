# domu_net.S -- a network frontend: net_bench's request/response workload
# (guests/bench/net_workload.inc) through the network ring of its service VM
# (guests/split/dom0_net.S, docs/service-vm.md); it has no NIC of its own.
# Its last line is guests/bench/net_nic.S's on the host's pyvmm-nic against
# the same echo peer. Set NET_MODE 1 in a wrapper for the bulk workload
# (guests/bench/net_ring.S is the same frontend, for the bench).
#
# Run:  pyvmm host --netdev echo,id=n0 --device pyvmm-nic,netdev=n0 \
#           --vm guests/split/dom0_net.S,name=dom0,service=nic \
#           --vm guests/split/domu_net.S,name=domu,backend=dom0

    .equ NET_FINISH,    1               # net_finish: the close, after the last line
    .include "../bench/net_workload.inc"
    .include "interdomain.inc"
    .include "netif.inc"
    .include "netfront.inc"

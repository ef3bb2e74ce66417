# net_ring.S -- the net_bench workloads (net_workload.inc, the ones
# net_nic.S and net_virtio.S run) over a service VM's network ring: a
# frontend whose every frame crosses the ring to guests/split/dom0_net.S,
# whose pyvmm-nic driver sends it from this VM's granted page and receives
# the echo into another (docs/service-vm.md). Its last line is net_nic.S's
# for the same peer. `pyvmm bench --suite io` runs it as the network
# service-vm model.
#
# Run:  pyvmm host --netdev echo,id=n0 --device pyvmm-nic,netdev=n0 \
#           --vm guests/split/dom0_net.S,name=dom0,service=nic \
#           --vm guests/bench/net_ring.S,name=domu,backend=dom0

    .equ NET_FINISH,    1
    .include "net_workload.inc"
    .include "../split/interdomain.inc"
    .include "../split/netif.inc"
    .include "../split/netfront.inc"

"""Network back-ends (netdevs) for the emulated NICs: pyvmm's in-process
switch (hub), QEMU's TCP socket netdev and an echoing peer
(echo) for benchmarks and tests. They carry Ethernet frames only;
the NIC model (virtio-net) owns everything the guest sees."""

from pyvmm.io.net.echo import EchoNetdev
from pyvmm.io.net.errors import NetdevError
from pyvmm.io.net.factory import build_netdev
from pyvmm.io.net.hub import Hub, HubPort, find_hub, hub_port
from pyvmm.io.net.netdev import MAX_FRAME_LEN, FrameQueue, Netdev
from pyvmm.io.net.socket_netdev import SocketNetdev

__all__ = ["EchoNetdev", "NetdevError", "build_netdev", "Hub", "HubPort", "find_hub",
           "hub_port", "MAX_FRAME_LEN", "FrameQueue", "Netdev", "SocketNetdev"]

"""From a --netdev option (QEMU's spelling, parsed by pyvmm.io.options) to a
back-end:

    hub,id=ID                               a port on this process's hub ID
    socket,id=ID,listen=127.0.0.1:PORT      wait for one peer over TCP
    socket,id=ID,connect=127.0.0.1:PORT     join a listening peer
    echo,id=ID                              an in-process peer echoing every frame
"""

from pyvmm.io.net.echo import EchoNetdev
from pyvmm.io.net.errors import NetdevError
from pyvmm.io.net.hub import hub_port
from pyvmm.io.net.socket_netdev import SocketNetdev
from pyvmm.io.options import parse_netdev


def build_netdev(spec):
    """The back-end a NetdevSpec (or its --netdev string) asks for."""
    if isinstance(spec, str):
        spec = parse_netdev(spec)
    if not spec.id:
        raise NetdevError(f"netdev {spec.kind}: id= is required")
    if spec.kind == "hub":
        return hub_port(spec.id)
    if spec.kind == "socket":
        return SocketNetdev(spec.id, listen=spec.listen, connect=spec.connect)
    if spec.kind == "echo":
        return EchoNetdev(spec.id)
    raise NetdevError(f"netdev type {spec.kind!r} is not supported (hub, socket or echo)")

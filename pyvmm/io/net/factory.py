"""From a --netdev option (QEMU's spelling) to a back-end.

    hub,id=ID                               a port on this process's hub ID
    socket,id=ID,listen=127.0.0.1:PORT      wait for one peer over TCP
    socket,id=ID,connect=127.0.0.1:PORT     join a listening peer
"""

from pyvmm.io.net.errors import NetdevError
from pyvmm.io.net.hub import hub_port
from pyvmm.io.net.socket_netdev import SocketNetdev

_OPTIONS = {"hub": set(), "socket": {"listen", "connect"}}


def parse_netdev(text):
    """'TYPE,id=ID,key=value,...' -> (type, id, {key: value})."""
    kind, *rest = text.split(",")
    options = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise NetdevError(f"--netdev {text}: {item!r} is not key=value")
        if key in options:
            raise NetdevError(f"--netdev {text}: {key} given twice")
        options[key] = value
    netdev_id = options.pop("id", None)
    return kind, netdev_id, options


def build_netdev(spec):
    """A netdev from a --netdev string, or from any object with `kind`, `id`
    and `options` (a mapping of the remaining key=value pairs)."""
    if isinstance(spec, str):
        kind, netdev_id, options = parse_netdev(spec)
    else:
        kind, netdev_id, options = spec.kind, spec.id, dict(spec.options)
    if kind not in _OPTIONS:
        raise NetdevError(f"netdev type {kind!r} is not supported "
                          f"(pyvmm has {', '.join(sorted(_OPTIONS))})")
    if not netdev_id:
        raise NetdevError(f"netdev {kind}: id= is required")
    unknown = sorted(set(options) - _OPTIONS[kind])
    if unknown:
        raise NetdevError(f"netdev {kind},id={netdev_id}: unknown option {unknown[0]!r}")
    if kind == "hub":
        return hub_port(netdev_id)
    return SocketNetdev(netdev_id, listen=options.get("listen"), connect=options.get("connect"))

"""Where a migration goes: tcp:HOST:PORT."""

import socket

from pyvmm.migration.stream import MigrationError


def parse_address(text, option):
    """'tcp:127.0.0.1:4444' -> ('127.0.0.1', 4444); ValueError names `option`."""
    kind, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "tcp" or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{option} {text!r}: expected tcp:HOST:PORT, e.g. tcp:127.0.0.1:4444")
    return host, int(port)


def listen(host, port):
    """A listening socket (port 0: the system picks one)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((host, port))
    except OSError as error:
        server.close()
        raise MigrationError(f"cannot listen on tcp:{host}:{port} ({error.strerror or error})") from None
    server.listen(1)
    return server


def connect(host, port, timeout=10.0):
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise MigrationError(f"cannot connect to tcp:{host}:{port} ({error.strerror or error})") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receiver(sock):
    """recv_exactly(n) over a socket: n bytes, or fewer when the peer closed."""
    def recv_exactly(n):
        parts = []
        while n:
            chunk = sock.recv(min(n, 1 << 20))
            if not chunk:
                break
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)
    return recv_exactly

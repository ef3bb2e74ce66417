"""QEMU's stream `-netdev socket`: two emulators joined over TCP on the
loopback interface.

Frames travel with QEMU's framing for stream sockets (net/socket.c): each
frame is preceded by its length as a 4-byte big-endian number, so a pyvmm can
face another pyvmm or a QEMU started with `-netdev socket,listen=...` or
`connect=...`. Everything after setup is non-blocking: `poll` accepts the
peer, reads whatever bytes are there and writes what the guest sent.

- `listen=127.0.0.1:PORT` accepts one peer at a time; when it leaves, the
  link goes down and the next peer is accepted, as in QEMU. Port 0 picks a
  free port (`address` tells which).
- `connect=127.0.0.1:PORT` retries for `connect_timeout` seconds (5 by
  default) while nobody listens yet, so two processes can start in either
  order; QEMU gives up at once. A peer that leaves is not reconnected.
- Only loopback addresses are accepted: the socket joins emulators on one
  host, never a real network.

Timing decides when a frame arrives, so a run with a socket netdev repeats
exactly only as far as the peer does.
"""

import ipaddress
import socket
import time

from pyvmm.io.net.errors import NetdevError
from pyvmm.io.net.netdev import ETH_HEADER_LEN, MAX_FRAME_LEN, RX_QUEUE_FRAMES, Netdev

LENGTH_BYTES = 4
CONNECT_TIMEOUT = 5.0
CONNECT_RETRY_INTERVAL = 0.05
# Bytes of transmitted frames the kernel has not taken yet; past this the
# peer is not reading and further frames are dropped (a full TX FIFO).
TX_BUFFER_LIMIT = 1 << 20
RECV_CHUNK = 65536
# recv calls per poll: enough for a burst, few enough that a flooding peer
# cannot keep the machine from running its harts.
RECVS_PER_POLL = 16


def parse_loopback(text, option, allow_port_zero=False):
    """'127.0.0.1:PORT' (or 'localhost:PORT') -> ('127.x.y.z', port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise NetdevError(f"socket netdev: {option}={text!r} is not HOST:PORT")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise NetdevError(f"socket netdev: {option}={text!r}: host must be a "
                          f"loopback IPv4 address such as 127.0.0.1") from None
    if not address.is_loopback:
        raise NetdevError(f"socket netdev: {option}={text!r}: only loopback "
                          f"addresses (127.0.0.0/8) are accepted")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise NetdevError(f"socket netdev: {option}={text!r}: bad port {port_text!r}")
    port = int(port_text)
    if port == 0 and not allow_port_zero:
        raise NetdevError(f"socket netdev: {option}={text!r}: port 0 cannot be connected to")
    return str(address), port


class SocketNetdev(Netdev):
    kind = "socket"

    def __init__(self, netdev_id, listen=None, connect=None, rx_limit=RX_QUEUE_FRAMES,
                 connect_timeout=CONNECT_TIMEOUT):
        if (listen is None) == (connect is None):
            raise NetdevError("socket netdev: give exactly one of listen= and connect=")
        super().__init__(netdev_id, rx_limit)
        self._listener = None
        self._conn = None
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        self.peer = None
        self.accepted = 0
        self.disconnects = 0
        self.protocol_errors = 0
        self.runts = 0
        if listen is not None:
            self.mode = "listen"
            self._listen(parse_loopback(listen, "listen", allow_port_zero=True))
        else:
            self.mode = "connect"
            self._connect(parse_loopback(connect, "connect"), connect_timeout)

    # setup

    def _listen(self, address):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen(1)
        except OSError as error:
            listener.close()
            raise NetdevError(f"socket netdev: cannot listen on {address[0]}:{address[1]}: "
                              f"{error.strerror or error}") from None
        listener.setblocking(False)
        self._listener = listener
        self.address = listener.getsockname()

    def _connect(self, address, timeout):
        deadline = time.monotonic() + timeout
        while True:
            conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                conn.settimeout(max(0.1, deadline - time.monotonic()))
                conn.connect(address)
                break
            except (ConnectionRefusedError, socket.timeout):
                conn.close()
                if time.monotonic() >= deadline:
                    raise NetdevError(f"socket netdev: nobody listens on {address[0]}:"
                                      f"{address[1]} (gave up after {timeout:g} s)") from None
                time.sleep(CONNECT_RETRY_INTERVAL)
            except OSError as error:
                conn.close()
                raise NetdevError(f"socket netdev: cannot connect to {address[0]}:"
                                  f"{address[1]}: {error.strerror or error}") from None
        self.address = address
        self._adopt(conn, address)

    def _adopt(self, conn, peer):
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        self.peer = peer
        self._inbuf.clear()
        self._outbuf.clear()

    def _drop_peer(self):
        self._conn.close()
        self._conn = None
        self.peer = None
        self.disconnects += 1
        self._inbuf.clear()
        self._outbuf.clear()

    # the link

    @property
    def link_up(self):
        return self._conn is not None and not self.closed

    @property
    def connected(self):
        return self._conn is not None

    def _transmit(self, frame):
        if self._conn is None:
            return False
        if len(self._outbuf) + LENGTH_BYTES + len(frame) > TX_BUFFER_LIMIT:
            self._flush()
            if self._conn is None or len(self._outbuf) + LENGTH_BYTES + len(frame) > TX_BUFFER_LIMIT:
                return False
        self._outbuf += len(frame).to_bytes(LENGTH_BYTES, "big")
        self._outbuf += frame
        self._flush()
        return True

    def _flush(self):
        while self._outbuf and self._conn is not None:
            try:
                sent = self._conn.send(self._outbuf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop_peer()
                return
            del self._outbuf[:sent]

    def _accept(self):
        try:
            conn, peer = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.accepted += 1
        self._adopt(conn, peer)

    def _read(self):
        for _ in range(RECVS_PER_POLL):
            try:
                data = self._conn.recv(RECV_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop_peer()
                return
            if not data:
                self._drop_peer()
                return
            self._inbuf += data
            if not self._unframe():
                self.protocol_errors += 1
                self._drop_peer()
                return

    def _unframe(self):
        """Queue every complete frame in the input buffer; False when the
        stream cannot be QEMU framing (a length beyond any frame)."""
        buf = self._inbuf
        at = 0
        while len(buf) - at >= LENGTH_BYTES:
            length = int.from_bytes(buf[at:at + LENGTH_BYTES], "big")
            if length > MAX_FRAME_LEN:
                return False
            end = at + LENGTH_BYTES + length
            if end > len(buf):
                break
            if length < ETH_HEADER_LEN:
                self.runts += 1
            else:
                self.deliver(buf[at + LENGTH_BYTES:end])
            at = end
        del buf[:at]
        return True

    def poll(self):
        if self.closed:
            return
        if self._conn is None and self._listener is not None:
            self._accept()
        if self._conn is not None:
            self._read()
        if self._conn is not None:
            self._flush()

    def fileno(self):
        if self.closed:
            return -1
        if self._conn is not None:
            return self._conn.fileno()
        if self._listener is not None:
            return self._listener.fileno()
        return -1

    def close(self):
        if self.closed:
            return
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        super().close()

    def stats(self):
        return {**super().stats(), "mode": self.mode, "accepted": self.accepted,
                "disconnects": self.disconnects, "protocol_errors": self.protocol_errors,
                "runts": self.runts, "tx_unsent_bytes": len(self._outbuf)}

"""The socket netdev over 127.0.0.1: QEMU's stream framing, both ends in one
test process, bounded waits only."""

import socket
import time

import pytest

from pyvmm.io.net import MAX_FRAME_LEN, NetdevError, SocketNetdev
from pyvmm.io.net import socket_netdev

BROADCAST = b"\xff" * 6
DEADLINE = 5.0


def frame(payload=b"data", src=b"\x52\x54\x00\x00\x00\x01"):
    return BROADCAST + src + b"\x88\xb5" + payload


def until(condition, *netdevs):
    """Poll the netdevs until condition() holds or the deadline passes."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        for netdev in netdevs:
            netdev.poll()
        if condition():
            return True
        time.sleep(0.005)
    return False


def drain(netdev):
    out = []
    while netdev.peek() is not None:
        out.append(netdev.pop())
    return out


@pytest.fixture
def pair():
    listener = SocketNetdev("l", listen="127.0.0.1:0")
    port = listener.address[1]
    connector = SocketNetdev("c", connect=f"127.0.0.1:{port}", connect_timeout=DEADLINE)
    assert until(lambda: listener.link_up, listener)
    yield listener, connector
    listener.close()
    connector.close()


@pytest.fixture
def raw_peer():
    """A listening netdev and a plain TCP socket as its peer."""
    listener = SocketNetdev("l", listen="127.0.0.1:0")
    peer = socket.create_connection(listener.address, timeout=DEADLINE)
    assert until(lambda: listener.link_up, listener)
    yield listener, peer
    peer.close()
    listener.close()


def test_frames_cross_in_both_directions(pair):
    listener, connector = pair
    sent = [frame(bytes([i]) * (i + 1)) for i in range(10)]
    for f in sent:
        assert connector.send(f)
    assert until(lambda: listener.pending() == 10, listener, connector)
    assert drain(listener) == sent
    back = frame(b"reply" * 300)
    assert listener.send(back)
    assert until(lambda: connector.pending() == 1, listener, connector)
    assert drain(connector) == [back]
    assert connector.stats()["tx_frames"] == 10 and listener.stats()["rx_frames"] == 10


def test_wire_format_is_qemu_framing(raw_peer):
    listener, peer = raw_peer
    f = frame(b"xyz")
    listener.send(f)
    expected = len(f).to_bytes(4, "big") + f
    got = b""
    while len(got) < len(expected):
        got += peer.recv(4096)
    assert got == expected


def test_frames_split_and_merged_across_reads(raw_peer):
    listener, peer = raw_peer
    frames = [frame(bytes([i]) * 40) for i in range(3)]
    stream = b"".join(len(f).to_bytes(4, "big") + f for f in frames)
    peer.sendall(stream[:2])                    # half a length word
    peer.sendall(stream[2:70])                  # one frame and part of the next
    assert until(lambda: listener.pending() == 1, listener)
    peer.sendall(stream[70:])
    assert until(lambda: listener.pending() == 3, listener)
    assert drain(listener) == frames


def test_runt_frames_are_counted_not_delivered(raw_peer):
    listener, peer = raw_peer
    peer.sendall((5).to_bytes(4, "big") + b"short" + (0).to_bytes(4, "big")
                 + len(frame()).to_bytes(4, "big") + frame())
    assert until(lambda: listener.pending() == 1, listener)
    assert listener.stats()["runts"] == 2


def test_oversized_length_drops_the_peer(raw_peer):
    listener, peer = raw_peer
    peer.sendall((MAX_FRAME_LEN + 1).to_bytes(4, "big") + b"x" * 16)
    assert until(lambda: not listener.link_up, listener)
    stats = listener.stats()
    assert stats["protocol_errors"] == 1 and stats["disconnects"] == 1


def test_receive_queue_is_bounded_and_drops_are_counted():
    listener = SocketNetdev("l", listen="127.0.0.1:0", rx_limit=4)
    connector = SocketNetdev("c", connect=f"127.0.0.1:{listener.address[1]}")
    try:
        assert until(lambda: listener.link_up, listener)
        for i in range(10):
            connector.send(frame(bytes([i])))
        assert until(lambda: listener.stats()["rx_dropped"] == 6, listener, connector)
        assert [f[-1] for f in drain(listener)] == [0, 1, 2, 3]
    finally:
        listener.close()
        connector.close()


def test_peer_disconnect_takes_link_down_and_listener_accepts_again(pair):
    listener, connector = pair
    connector.close()
    assert until(lambda: not listener.link_up, listener)
    assert listener.stats()["disconnects"] == 1
    assert not listener.send(frame())          # link down: dropped, counted
    assert listener.stats()["tx_dropped"] == 1
    second = SocketNetdev("c2", connect=f"127.0.0.1:{listener.address[1]}")
    try:
        assert until(lambda: listener.link_up, listener)
        second.send(frame(b"again"))
        assert until(lambda: listener.pending() == 1, listener, second)
        assert listener.stats()["accepted"] == 2
    finally:
        second.close()


def test_connector_sees_listener_leave(pair):
    listener, connector = pair
    listener.close()
    assert until(lambda: not connector.link_up, connector)
    assert connector.stats()["disconnects"] == 1
    assert connector.fileno() == -1
    assert connector.wait(0.01) is False


def test_connect_retries_until_a_listener_appears():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    start = time.monotonic()
    with pytest.raises(NetdevError, match="nobody listens"):
        SocketNetdev("c", connect=f"127.0.0.1:{port}", connect_timeout=0.3)
    assert 0.25 <= time.monotonic() - start < DEADLINE


def test_wait_sleeps_until_a_frame_arrives(pair):
    listener, connector = pair
    assert listener.fileno() >= 0
    start = time.monotonic()
    assert listener.wait(0.05) is False
    assert time.monotonic() - start >= 0.04
    connector.send(frame())
    assert listener.wait(DEADLINE) is True


def test_listener_waits_for_peer_on_its_descriptor():
    listener = SocketNetdev("l", listen="127.0.0.1:0")
    try:
        assert not listener.link_up
        fd = listener.fileno()
        peer = socket.create_connection(listener.address, timeout=DEADLINE)
        listener.wait(DEADLINE)
        assert listener.link_up and listener.fileno() != fd
        peer.close()
    finally:
        listener.close()


def test_tx_buffer_bound_drops_when_peer_does_not_read(raw_peer, monkeypatch):
    listener, peer = raw_peer
    monkeypatch.setattr(socket_netdev, "TX_BUFFER_LIMIT", 64 * 1024)
    big = frame(b"z" * 60000)
    dropped = 0
    for _ in range(200):
        if not listener.send(big):
            dropped += 1
    assert dropped > 0
    assert listener.stats()["tx_dropped"] == dropped


@pytest.mark.parametrize("option", [
    "listen=0.0.0.0:5555", "listen=10.0.0.1:5555", "connect=192.168.1.1:5555",
    "listen=example.com:5555", "listen=5555", "listen=:5555", "connect=127.0.0.1:0",
    "connect=127.0.0.1:70000", "listen=127.0.0.1:port", "connect=[::1]:5555",
])
def test_non_loopback_or_malformed_addresses_are_refused(option):
    key, value = option.split("=", 1)
    with pytest.raises(NetdevError) as error:
        SocketNetdev("s", **{key: value})
    assert "\n" not in str(error.value)
    assert isinstance(error.value, ValueError)


def test_exactly_one_of_listen_and_connect():
    with pytest.raises(NetdevError):
        SocketNetdev("s")
    with pytest.raises(NetdevError):
        SocketNetdev("s", listen="127.0.0.1:0", connect="127.0.0.1:1")


def test_listen_on_a_busy_port_is_one_line_error():
    first = SocketNetdev("a", listen="127.0.0.1:0")
    try:
        with pytest.raises(NetdevError, match="cannot listen"):
            SocketNetdev("b", listen=f"127.0.0.1:{first.address[1]}")
    finally:
        first.close()


def test_localhost_is_loopback():
    listener = SocketNetdev("l", listen="localhost:0")
    try:
        assert listener.address[0] == "127.0.0.1"
    finally:
        listener.close()

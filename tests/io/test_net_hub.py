"""The hub netdev: a learning switch shared by id within one process."""

import pytest

from pyvmm.io.net import find_hub, hub_port
from pyvmm.io.net import hub as hub_module

BROADCAST = b"\xff" * 6


def mac(n):
    return bytes([0x52, 0x54, 0, 0, 0, n])


def frame(dst, src, payload=b"data"):
    return dst + src + b"\x88\xb5" + payload


@pytest.fixture
def ports():
    opened = [hub_port("hub-test") for _ in range(3)]
    yield opened
    for port in opened:
        port.close()


def drain(port):
    out = []
    while port.peek() is not None:
        out.append(port.pop())
    return out


def test_ports_with_one_id_share_one_hub(ports):
    assert ports[0].hub is ports[1].hub is find_hub("hub-test")
    other = hub_port("hub-test-other")
    assert other.hub is not ports[0].hub
    other.close()


def test_broadcast_floods_every_other_port_in_order(ports):
    a, b, c = ports
    f = frame(BROADCAST, mac(1))
    assert a.send(f)
    assert drain(a) == [] and drain(b) == [f] and drain(c) == [f]


def test_unknown_unicast_floods_then_known_is_forwarded(ports):
    a, b, c = ports
    to_b = frame(mac(2), mac(1))
    a.send(to_b)
    assert drain(b) == [to_b] and drain(c) == [to_b]
    b.send(frame(mac(1), mac(2)))
    assert drain(a) == [frame(mac(1), mac(2))] and drain(c) == []
    a.send(to_b)
    assert drain(b) == [to_b] and drain(c) == []
    assert a.hub.stats()["forwarded"] == 2


def test_multicast_is_flooded_and_never_learned(ports):
    a, b, c = ports
    group = bytes([0x01, 0x00, 0x5e, 0, 0, 1])
    a.send(frame(BROADCAST, group))
    assert group not in a.hub.macs
    b.send(frame(group, mac(2)))
    assert drain(a) and drain(c)


def test_station_moving_ports_is_relearned(ports):
    a, b, c = ports
    a.send(frame(BROADCAST, mac(9)))
    c.send(frame(BROADCAST, mac(9)))
    for port in ports:
        drain(port)
    b.send(frame(mac(9), mac(2)))
    assert drain(c) and not drain(a)


def test_frame_to_own_port_is_filtered(ports):
    a, b, c = ports
    a.send(frame(BROADCAST, mac(1)))
    drain(b), drain(c)
    a.send(frame(mac(1), mac(7)))
    assert not drain(b) and not drain(c)
    assert a.hub.filtered == 1


def test_runt_frames_are_dropped_and_counted(ports):
    a, b, _ = ports
    assert not a.send(b"\x00" * 13)
    assert a.stats()["tx_dropped"] == 1 and drain(b) == []


def test_full_receive_queue_drops_and_counts():
    a, b = hub_port("hub-small"), hub_port("hub-small", rx_limit=2)
    try:
        for i in range(5):
            a.send(frame(BROADCAST, mac(1), bytes([i])))
        assert b.pending() == 2
        assert b.stats()["rx_dropped"] == 3
        assert [f[-1] for f in drain(b)] == [0, 1]
    finally:
        a.close()
        b.close()


def test_closed_port_leaves_hub_and_last_one_removes_it():
    a, b = hub_port("hub-life"), hub_port("hub-life")
    a.send(frame(BROADCAST, mac(1)))
    b.close()
    assert len(a.hub.ports) == 1
    assert not b.send(frame(BROADCAST, mac(2)))
    a.close()
    assert find_hub("hub-life") is None
    fresh = hub_port("hub-life")
    assert fresh.hub.macs == {}
    fresh.close()


def test_mac_table_is_bounded(ports, monkeypatch):
    monkeypatch.setattr(hub_module, "MAC_TABLE_LIMIT", 4)
    a, b, c = ports
    for n in range(10):
        a.send(frame(BROADCAST, mac(n)))
    assert len(a.hub.macs) == 4
    drain(b), drain(c)
    b.send(frame(mac(8), mac(200)))       # never learned: flooded
    assert drain(a) and drain(c)


def test_delivery_is_deterministic():
    def run():
        ports = [hub_port("hub-det") for _ in range(4)]
        log = []
        for step in range(20):
            src = ports[step % 4]
            dst = BROADCAST if step % 3 == 0 else mac((step * 7) % 5)
            src.send(frame(dst, mac(step % 4), bytes([step])))
        for i, port in enumerate(ports):
            log.append((i, drain(port)))
        for port in ports:
            port.close()
        return log
    assert run() == run()


def test_hub_port_has_no_descriptor_and_wait_returns_at_once(ports):
    a, b, _ = ports
    assert a.fileno() == -1
    assert a.wait(5.0) is False
    b.send(frame(BROADCAST, mac(2)))
    assert a.wait(5.0) is True

"""virtio-net driven through its virtqueues by a fake driver: headers in both
layouts, mergeable and single-chain reception, queued frames, the control
queue and multiqueue steering, link status, and broken rings."""

import pytest

from net_driver import FakeDriver
from pyvmm.io.net import Netdev, hub_port
from pyvmm.io.virtio.device import (DEVICE_NEEDS_RESET, DRIVER_OK, INT_CONFIG_CHANGE,
                                    INT_USED_BUFFER, VIRTIO_F_VERSION_1)
from pyvmm.io.virtio.net import (VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                 VIRTIO_NET_ERR, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MAC,
                                 VIRTIO_NET_F_MQ, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS,
                                 VIRTIO_NET_OK, MacError, VirtioNet, flow_key)

MAC_A = bytes.fromhex("525400123456")
MAC_B = bytes.fromhex("525400abcdef")
MODERN = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS
HDR = 12


def frame(dst, src, payload=b"hello", ethertype=0x88B5):
    return dst + src + ethertype.to_bytes(2, "big") + payload


class Wire(Netdev):
    """A netdev whose far side is the test: sent frames are collected and
    frames to receive are injected with deliver()."""
    kind = "wire"

    def __init__(self, rx_limit=256, up=True):
        super().__init__("wire", rx_limit)
        self.sent = []
        self.up = up

    @property
    def link_up(self):
        return self.up

    def _transmit(self, data):
        self.sent.append(data)
        return True


def started(features=MODERN, queue_pairs=1, queue_size=16, legacy=False, rx_limit=256):
    wire = Wire(rx_limit)
    nic = VirtioNet(wire, queue_pairs=queue_pairs)
    driver = FakeDriver(nic)
    driver.start(features, queue_size=queue_size, legacy=legacy)
    return nic, wire, driver


def post_rx(driver, size, queue=0):
    gpa = driver.buffer(size=size)
    head = driver.add_chain(queue, [(gpa, size, True)])
    return head, gpa


# -- identity and configuration ---------------------------------------------


def test_identity_features_and_config():
    nic = VirtioNet(Wire())
    assert nic.device_id == 1
    for bit in (VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS,
                VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_CTRL_VQ):
        assert nic.device_features & bit
    assert not nic.device_features & VIRTIO_NET_F_MQ
    assert len(nic.queues) == 3
    assert bytes(nic.config_read(i, 1) for i in range(6)) == MAC_A    # QEMU's default
    assert nic.config_read(6, 2) == 1                                   # VIRTIO_NET_S_LINK_UP
    assert nic.config_read(8, 2) == 0xFFFF                              # no MQ field


def test_multiqueue_config_and_queue_count():
    nic = VirtioNet(Wire(), mac="02:00:00:00:00:07", queue_pairs=3)
    assert nic.device_features & VIRTIO_NET_F_MQ
    assert len(nic.queues) == 7
    assert nic.config_read(8, 2) == 3
    assert nic.config_read(0, 4) == 0x00_00_00_02


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "52:54:00:12:34:5g", "01:00:5e:00:00:01", ""])
def test_bad_mac_rejected(mac):
    with pytest.raises(MacError):
        VirtioNet(Wire(), mac=mac)


def test_bad_queue_pairs_rejected():
    with pytest.raises(ValueError):
        VirtioNet(Wire(), queue_pairs=0)


def test_legacy_driver_sets_mac_through_config():
    nic, _, _ = started(features=VIRTIO_NET_F_MAC, legacy=True)
    nic.config_write(0, 4, 0x0300_0002)
    nic.config_write(4, 2, 0x0504)
    assert nic.mac == bytes([2, 0, 0, 3, 4, 5])


def test_modern_driver_cannot_write_config():
    nic, _, _ = started()
    nic.config_write(0, 4, 0)
    assert nic.mac == MAC_A


# -- transmit ----------------------------------------------------------------


def test_tx_strips_header_spread_over_descriptors():
    nic, wire, driver = started()
    data = frame(MAC_B, MAC_A, b"x" * 100)
    packet = bytes(HDR) + data
    a = driver.buffer(packet[:5])
    b = driver.buffer(packet[5:30])
    c = driver.buffer(packet[30:])
    head = driver.add_chain(1, [(a, 5, False), (b, 25, False), (c, len(packet) - 30, False)])
    driver.kick(1)
    assert wire.sent == [data]
    assert driver.used(1) == [(head, 0)]
    assert nic.interrupt_status & INT_USED_BUFFER
    assert driver.irq_levels[-1] is True
    assert nic.stats()["tx_frames"] == 1


def test_legacy_tx_header_is_ten_bytes():
    nic, wire, driver = started(features=VIRTIO_NET_F_MAC, legacy=True)
    data = frame(MAC_B, MAC_A)
    gpa = driver.buffer(bytes(10) + data)
    driver.add_chain(1, [(gpa, 10 + len(data), False)])
    driver.kick(1)
    assert wire.sent == [data]


def test_tx_with_link_down_consumes_and_drops():
    nic, wire, driver = started()
    wire.closed = True          # Netdev.send refuses once closed
    gpa = driver.buffer(bytes(HDR) + frame(MAC_B, MAC_A))
    head = driver.add_chain(1, [(gpa, HDR + 19, False)])
    driver.kick(1)
    assert driver.used(1) == [(head, 0)]
    assert wire.sent == [] and wire.tx_dropped == 1
    assert nic.live


def test_tx_frame_beyond_any_netdev_is_dropped_without_copying():
    nic, wire, driver = started()
    size = HDR + 70_000
    gpa = driver.buffer(size=size)
    head = driver.add_chain(1, [(gpa, size, False)])
    driver.kick(1)
    assert driver.used(1) == [(head, 0)]
    assert wire.sent == [] and nic.stats()["tx_too_big"] == 1
    assert nic.live


# -- receive -----------------------------------------------------------------


def test_rx_zeroed_header_with_num_buffers():
    nic, wire, driver = started()
    gpa = driver.buffer(b"\xAA" * 2048)
    head = driver.add_chain(0, [(gpa, 2048, True)])
    data = frame(MAC_A, MAC_B, b"payload")
    wire.deliver(data)
    nic.poll()
    assert driver.used(0) == [(head, HDR + len(data))]
    header = driver.read(gpa, HDR)
    assert header == bytes(10) + (1).to_bytes(2, "little")
    assert driver.read(gpa + HDR, len(data)) == data
    assert nic.interrupt_status & INT_USED_BUFFER


def test_legacy_rx_header_is_ten_bytes():
    nic, wire, driver = started(features=VIRTIO_NET_F_MAC, legacy=True)
    gpa = driver.buffer(b"\xAA" * 256)
    head = driver.add_chain(0, [(gpa, 256, True)])
    data = frame(MAC_A, MAC_B)
    wire.deliver(data)
    nic.poll()
    assert driver.used(0) == [(head, 10 + len(data))]
    assert driver.read(gpa, 10) == bytes(10)
    assert driver.read(gpa + 10, len(data)) == data


def test_legacy_mergeable_header_is_twelve_bytes():
    nic, wire, driver = started(features=VIRTIO_NET_F_MRG_RXBUF, legacy=True)
    post_rx(driver, 256)
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert nic.hdr_len == HDR


def test_mergeable_frame_spreads_over_chains():
    nic, wire, driver = started(features=MODERN | VIRTIO_NET_F_MRG_RXBUF)
    posted = [post_rx(driver, 64) for _ in range(6)]
    data = frame(MAC_A, MAC_B, bytes(range(200)))      # 214 bytes + 12 = 226 -> 4 chains
    wire.deliver(data)
    nic.poll()
    used = driver.used(0)
    assert [h for h, _ in used] == [h for h, _ in posted[:4]]
    assert [n for _, n in used] == [64, 64, 64, 34]
    received = b"".join(driver.read(gpa, n) for (_, gpa), (_, n) in zip(posted, used))
    assert received[10:12] == (4).to_bytes(2, "little")
    assert received[HDR:] == data


def test_mergeable_frame_waits_for_enough_buffers():
    nic, wire, driver = started(features=MODERN | VIRTIO_NET_F_MRG_RXBUF)
    post_rx(driver, 64)
    data = frame(MAC_A, MAC_B, bytes(100))
    wire.deliver(data)
    nic.poll()
    assert driver.used(0) == [] and wire.pending() == 1
    post_rx(driver, 64)
    driver.kick(0)
    assert [n for _, n in driver.used(0)] == [64, HDR + len(data) - 64]
    assert wire.pending() == 0


def test_non_mergeable_frame_too_big_is_dropped_and_chain_reused():
    nic, wire, driver = started()
    head, gpa = post_rx(driver, 40)
    wire.deliver(frame(MAC_A, MAC_B, bytes(100)))
    small = frame(MAC_A, MAC_B, b"ok")
    wire.deliver(small)
    nic.poll()
    assert nic.stats()["rx_too_big"] == 1
    assert driver.used(0) == [(head, HDR + len(small))]
    assert driver.read(gpa + HDR, len(small)) == small


def test_frames_before_buffers_queue_and_overflow_is_counted():
    nic, wire, driver = started(rx_limit=3)
    frames = [frame(MAC_A, MAC_B, bytes([i])) for i in range(5)]
    for f in frames:
        wire.deliver(f)
    nic.poll()
    assert wire.pending() == 3 and wire.rx.dropped == 2
    posted = [post_rx(driver, 128) for _ in range(3)]
    driver.kick(0)
    used = driver.used(0)
    assert len(used) == 3
    assert [driver.read(gpa + HDR, 15) for _, gpa in posted] == frames[:3]


def test_no_delivery_before_driver_ok():
    wire = Wire()
    nic = VirtioNet(wire)
    driver = FakeDriver(nic)
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert wire.pending() == 1


def test_rx_interrupt_suppressed_by_no_interrupt_flag():
    nic, wire, driver = started()
    post_rx(driver, 128)
    driver.memory.write_u16(nic.queues[0].driver_addr, 1)     # VRING_AVAIL_F_NO_INTERRUPT
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert len(driver.used(0)) == 1
    assert not nic.interrupt_status


# -- link status --------------------------------------------------------------


def test_link_change_raises_config_interrupt():
    nic, wire, driver = started()
    wire.up = False
    nic.poll()
    assert nic.config_read(6, 2) == 0
    assert nic.interrupt_status & INT_CONFIG_CHANGE
    nic.ack_interrupt(INT_CONFIG_CHANGE)
    wire.up = True
    nic.poll()
    assert nic.config_read(6, 2) == 1
    assert nic.interrupt_status & INT_CONFIG_CHANGE


# -- control queue and multiqueue ---------------------------------------------


def ctrl(driver, nic, klass, command, data=b""):
    cmd = driver.buffer(bytes([klass, command]) + data)
    ack = driver.buffer(b"\xEE")
    head = driver.add_chain(nic.ctrl_index, [(cmd, 2 + len(data), False), (ack, 1, True)])
    driver.kick(nic.ctrl_index)
    assert driver.used(nic.ctrl_index) == [(head, 1)]
    return driver.read(ack, 1)[0]


MQ = MODERN | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_MQ


def test_ctrl_sets_queue_pairs_within_bounds():
    nic, _, driver = started(features=MQ, queue_pairs=4)
    assert ctrl(driver, nic, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                (3).to_bytes(2, "little")) == VIRTIO_NET_OK
    assert nic.curr_queue_pairs == 3
    for bad in (0, 5):
        assert ctrl(driver, nic, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                    bad.to_bytes(2, "little")) == VIRTIO_NET_ERR
    assert nic.curr_queue_pairs == 3
    assert ctrl(driver, nic, 0, 0, b"\x01") == VIRTIO_NET_ERR      # CTRL_RX is not offered
    assert nic.stats()["ctrl_errors"] == 3


def test_ctrl_mq_refused_without_negotiation():
    nic, _, driver = started(features=MODERN | VIRTIO_NET_F_CTRL_VQ, queue_pairs=2)
    assert ctrl(driver, nic, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                (2).to_bytes(2, "little")) == VIRTIO_NET_ERR


def udp_frame(sport):
    ip = bytearray(20)
    ip[0] = 0x45
    ip[9] = 17
    ip[12:16] = bytes([10, 0, 0, 1])
    ip[16:20] = bytes([10, 0, 0, 2])
    udp = sport.to_bytes(2, "big") + (53).to_bytes(2, "big") + bytes(4)
    return frame(MAC_A, MAC_B, bytes(ip) + udp, ethertype=0x0800)


def test_multiqueue_steers_flows_and_keeps_non_ip_on_queue0():
    nic, wire, driver = started(features=MQ, queue_pairs=2)
    ctrl(driver, nic, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, (2).to_bytes(2, "little"))
    for queue in (0, 2):
        for _ in range(8):
            post_rx(driver, 256, queue)
    flows = [udp_frame(port) for port in range(1000, 1008)]
    for f in flows:
        wire.deliver(f)
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    got0, got1 = driver.used(0), driver.used(2)
    assert len(got0) + len(got1) == 9
    assert got0 and got1                  # eight flows do not all hash to one queue
    assert flow_key(frame(MAC_A, MAC_B)) is None
    assert flow_key(flows[0]) != flow_key(flows[1])


def test_single_pair_before_mq_command():
    nic, wire, driver = started(features=MQ, queue_pairs=2)
    post_rx(driver, 256, 0)
    wire.deliver(udp_frame(1))
    wire.deliver(udp_frame(2))
    post_rx(driver, 256, 0)
    nic.poll()
    assert len(driver.used(0)) == 2


# -- broken rings: DEVICE_NEEDS_RESET, never a host exception ------------------


def broken(nic):
    return nic.status & DEVICE_NEEDS_RESET and not nic.live


def test_tx_chain_shorter_than_header_needs_reset():
    nic, wire, driver = started()
    gpa = driver.buffer(bytes(8))
    driver.add_chain(1, [(gpa, 8, False)])
    driver.kick(1)
    assert broken(nic)
    assert nic.interrupt_status & INT_CONFIG_CHANGE
    assert wire.sent == []


def test_rx_chain_without_writable_buffer_needs_reset():
    nic, wire, driver = started()
    gpa = driver.buffer(bytes(64))
    driver.add_chain(0, [(gpa, 64, False)])
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert broken(nic)
    assert wire.pending() == 1


def test_rx_buffer_outside_ram_needs_reset():
    nic, wire, driver = started()
    driver.add_chain(0, [(0x1000, 256, True)])
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert broken(nic)


def test_descriptor_loop_needs_reset():
    nic, wire, driver = started()
    driver.write_desc(1, 0, driver.buffer(bytes(64)), 64, 1, 1)
    driver.write_desc(1, 1, driver.buffer(bytes(64)), 64, 1, 0)
    driver.publish_head(1, 0)
    driver.kick(1)
    assert broken(nic)


def test_ring_outside_ram_needs_reset():
    nic, wire, driver = started()
    nic.queues[0].device_addr = 0x10
    post_rx(driver, 128)
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert broken(nic)


def test_ctrl_without_ack_byte_needs_reset():
    nic, _, driver = started(features=MODERN | VIRTIO_NET_F_CTRL_VQ)
    cmd = driver.buffer(bytes(2))
    driver.add_chain(nic.ctrl_index, [(cmd, 2, False)])
    driver.kick(nic.ctrl_index)
    assert broken(nic)


def test_mergeable_first_buffer_smaller_than_header_needs_reset():
    nic, wire, driver = started(features=MODERN | VIRTIO_NET_F_MRG_RXBUF)
    post_rx(driver, 4)
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert broken(nic)


def test_reset_recovers_after_needs_reset():
    nic, wire, driver = started()
    gpa = driver.buffer(bytes(8))
    driver.add_chain(1, [(gpa, 8, False)])
    driver.kick(1)
    assert broken(nic)
    nic.set_status(0)
    driver.rings.clear()
    driver.start(MODERN)
    assert nic.live
    head, _ = post_rx(driver, 128)
    wire.deliver(frame(MAC_A, MAC_B))
    nic.poll()
    assert driver.used(0) == [(head, HDR + 19)]


# -- snapshots ------------------------------------------------------------------


def test_state_round_trip_keeps_held_chains():
    nic, wire, driver = started(features=MODERN | VIRTIO_NET_F_MRG_RXBUF)
    first = post_rx(driver, 64)
    wire.deliver(frame(MAC_A, MAC_B, bytes(100)))
    nic.poll()
    state = nic.state()
    assert state["device"]["held"][0]
    clone = VirtioNet(wire)
    clone.attach_memory(driver.memory)
    clone.restore(state)
    driver.device = clone
    second = post_rx(driver, 64)
    clone.notify(0)
    assert [h for h, _ in driver.used(0)] == [first[0], second[0]]
    assert clone.status & DRIVER_OK


# -- two NICs on one hub ----------------------------------------------------------


@pytest.fixture
def hub_nics():
    nics = []
    for i in range(3):
        nic = VirtioNet(hub_port("test-virtio-hub"), mac=f"52:54:00:00:00:0{i + 1}")
        driver = FakeDriver(nic)
        driver.start(MODERN)
        nics.append((nic, driver))
    yield nics
    for nic, _ in nics:
        nic.close()


def send(nic, driver, data):
    gpa = driver.buffer(bytes(HDR) + data)
    driver.add_chain(1, [(gpa, HDR + len(data), False)])
    driver.kick(1)


def received(nic, driver):
    nic.poll()
    out = []
    for head, n in driver.used(0):
        out.append(driver.read(driver.rx_buffers[head] + HDR, n - HDR))
    return out


def test_hub_forwards_between_nics_through_virtqueues(hub_nics):
    for nic, driver in hub_nics:
        driver.rx_buffers = {}
        for _ in range(4):
            head, gpa = post_rx(driver, 1600)
            driver.rx_buffers[head] = gpa
    (a, da), (b, db), (c, dc) = hub_nics
    hello = frame(b"\xff" * 6, a.mac, b"who has")
    send(a, da, hello)
    assert received(b, db) == [hello] and received(c, dc) == [hello]
    assert received(a, da) == []
    reply = frame(a.mac, b.mac, b"i have")
    send(b, db, reply)
    assert received(a, da) == [reply]
    assert received(c, dc) == []              # learned: not flooded
    direct = frame(b.mac, a.mac, b"unicast")
    send(a, da, direct)
    assert received(b, db) == [direct] and received(c, dc) == []
    assert a.stats()["tx_frames"] == 2 and b.stats()["rx_frames"] == 2

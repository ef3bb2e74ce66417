"""Multiqueue virtio-net as the options ask for it (QEMU's spelling: the
device's mq=on, the netdev's queues=N): MQ and max_virtqueue_pairs offered,
the control queue enabling two pairs, frames sent on both transmit queues
reaching the peer and received flows spread over both receive queues."""

import zlib

import pytest

from net_driver import FakeDriver
from pyvmm.io.net import hub_port
from pyvmm.io.options import OptionError, build_devices
from pyvmm.io.virtio.device import VIRTIO_F_VERSION_1
from pyvmm.io.virtio.net import (VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
                                 VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MQ,
                                 VIRTIO_NET_F_STATUS, VIRTIO_NET_OK, flow_key)

FEATURES = (VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS
            | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_MQ)
HDR = 12
PEER = bytes.fromhex("525400000002")
GUEST = bytes.fromhex("525400123456")


def udp(sport):
    ip = bytes([0x45, 0, 0, 40, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    return GUEST + PEER + b"\x08\x00" + ip + sport.to_bytes(2, "big") + b"\x00\x35" + bytes(16)


def built(device, netdev):
    (nic, transport, _), = build_devices([], [device], [netdev])
    return nic, transport


@pytest.mark.parametrize("driver", ["virtio-net-device", "virtio-net-pci"])
def test_mq_on_with_netdev_queues_offers_the_pairs(driver):
    nic, transport = built(f"{driver},netdev=lan,mq=on", "hub,id=lan,queues=4")
    assert transport == ("mmio" if driver.endswith("device") else "pci")
    assert nic.device_features & VIRTIO_NET_F_MQ and nic.max_queue_pairs == 4
    assert len(nic.queues) == 9 and nic.ctrl_index == 8
    assert nic.config_read(8, 2) == 4                        # max_virtqueue_pairs
    nic.close()
    nic, _ = built(f"{driver},netdev=lan", "hub,id=lan,queues=4")   # mq defaults to off, as QEMU
    assert not nic.device_features & VIRTIO_NET_F_MQ and len(nic.queues) == 3
    nic.close()


def test_bad_mq_options():
    for device, netdev, message in (
            ("virtio-net-device,netdev=lan,mq=maybe", "hub,id=lan", "mq='maybe' must be on or off"),
            ("virtio-net-device,netdev=lan,mq=on", "hub,id=lan,queues=0", "queues='0'"),
            ("virtio-net-device,netdev=lan,mq=on", "socket,id=lan,listen=127.0.0.1:0,queues=99",
             "queues='99'")):
        with pytest.raises(OptionError, match=message):
            build_devices([], [device], [netdev])


def test_two_queue_pairs_carry_frames_both_ways():
    nic, _ = built("virtio-net-device,netdev=lan,mq=on", "hub,id=lan,queues=2")
    peer = hub_port("lan")
    driver = FakeDriver(nic)
    driver.start(FEATURES)
    cmd = driver.buffer(bytes([VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET]) + (2).to_bytes(2, "little"))
    ack = driver.buffer(b"\xEE")
    driver.add_chain(nic.ctrl_index, [(cmd, 4, False), (ack, 1, True)])
    driver.kick(nic.ctrl_index)
    assert driver.read(ack, 1)[0] == VIRTIO_NET_OK and nic.curr_queue_pairs == 2

    # Transmit on transmitq0 and transmitq1: both reach the peer, in order.
    sent = []
    for k, txq in enumerate((1, 3, 3, 1)):
        frame = PEER + GUEST + b"\x88\xb5" + bytes([k]) * 50
        gpa = driver.buffer(bytes(HDR) + frame)
        driver.add_chain(txq, [(gpa, HDR + len(frame), False)])
        driver.kick(txq)
        sent.append(frame)
    got = []
    while peer.peek() is not None:
        got.append(peer.pop())
    assert got == sent

    # Receive: flows spread over receiveq0 and receiveq1 by their hash.
    for rxq in (0, 2):
        for _ in range(8):
            driver.add_chain(rxq, [(driver.buffer(size=256), 256, True)])
    flows = [udp(port) for port in range(2000, 2008)]
    for frame in flows:
        peer.send(frame)
    nic.poll()
    rx0, rx1 = driver.used(0), driver.used(2)
    assert len(rx0) + len(rx1) == 8 and rx0 and rx1
    assert len(rx1) == sum(zlib.crc32(flow_key(f)) % 2 for f in flows)
    stats = nic.stats()
    assert stats["tx_frames"] == 4 and stats["rx_frames"] == 8
    peer.close()
    nic.close()

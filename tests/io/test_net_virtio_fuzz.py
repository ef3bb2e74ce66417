"""Random descriptor tables, rings and control commands thrown at virtio-net:
whatever the driver writes ends in used buffers or DEVICE_NEEDS_RESET, never
a host exception, and every frame is delivered, dropped and counted, or still
queued."""

from hypothesis import given, settings
from hypothesis import strategies as st

from net_driver import RAM_BASE, FakeDriver
from support.netdevs import SinkNetdev
from pyvmm.io.virtio.device import DEVICE_NEEDS_RESET, VIRTIO_F_VERSION_1
from pyvmm.io.virtio.net import (VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MQ,
                                 VIRTIO_NET_F_MRG_RXBUF, VirtioNet)

RAM = 1 << 16


# Mostly plausible buffers past the rings, so chains get served as often as
# they break the rules.
in_ram = st.integers(RAM_BASE + RAM // 4, RAM_BASE + RAM - 2048)
addresses = st.one_of(in_ram, in_ram, in_ram, st.integers(RAM_BASE, RAM_BASE + RAM),
                      st.integers(0, 2**64 - 1))
flags = st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 7))
descriptors = st.tuples(addresses, st.integers(0, 2048), flags,
                        st.one_of(st.integers(0, 15), st.integers(0, 17)))
features = st.sets(st.sampled_from([VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ]))


@settings(max_examples=120)
@given(table=st.lists(descriptors, min_size=16, max_size=16),
       heads=st.lists(st.tuples(st.one_of(st.just(0), st.just(1), st.integers(0, 4)), st.one_of(st.integers(0, 15), st.integers(0, 20))),
                      max_size=12),
       frames=st.lists(st.binary(min_size=14, max_size=3000), min_size=1, max_size=4),
       extra=features)
def test_random_rings_end_in_used_buffers_or_needs_reset(table, heads, frames, extra):
    sink = SinkNetdev()
    nic = VirtioNet(sink, queue_pairs=2)
    driver = FakeDriver(nic, ram_size=RAM)
    driver.start(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | sum(extra), queue_size=16)
    for index in range(len(nic.queues)):
        for slot, (addr, length, flags, nxt) in enumerate(table):
            driver.write_desc(index, slot, addr & (2**64 - 1), length, flags, nxt)
    for frame in frames:
        sink.deliver(frame)
    for queue, head in heads:
        driver.publish_head(queue, head)
        driver.kick(queue)
        nic.poll()
    nic.poll()
    stats = nic.stats()
    if not nic.status & DEVICE_NEEDS_RESET:
        assert stats["errors"] == 0
    assert stats["tx_frames"] == len(sink.sent)
    delivered = stats["rx_frames"] + stats["rx_too_big"] + sink.pending()
    assert delivered == len(frames)

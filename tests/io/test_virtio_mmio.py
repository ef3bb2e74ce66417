"""The virtio-mmio register map driven as a guest driver drives it: identity,
feature negotiation, the status machine, reset, interrupts, QEMU's access
rules, the legacy (Version 1) layout, and NEEDS_RESET on a broken ring."""

import pytest

from pyvmm.io.virtio import mmio
from pyvmm.io.virtio.device import (ACKNOWLEDGE, DEVICE_NEEDS_RESET, DRIVER, DRIVER_OK, FEATURES_OK,
                                    INT_CONFIG_CHANGE, INT_USED_BUFFER, VIRTIO_F_EVENT_IDX,
                                    VIRTIO_F_VERSION_1)
from pyvmm.io.virtio.rng import VirtioRng
from pyvmm.machine.bus import BusFault
from virtio_driver import ALL_FEATURES, DATA_AREA, RAM_BASE, RAM_SIZE, Driver


def test_identity_registers():
    driver = Driver(VirtioRng())
    assert driver.r(mmio.MAGIC_VALUE) == 0x74726976
    assert driver.r(mmio.VERSION) == 2
    assert driver.r(mmio.DEVICE_ID) == 4
    assert driver.r(mmio.VENDOR_ID) == 0x554D4551
    assert Driver(VirtioRng(), legacy=True).r(mmio.VERSION) == 1


def test_empty_slot():
    slot = mmio.VirtioMmio()
    assert slot.read(mmio.MAGIC_VALUE, 4) == 0x74726976
    assert slot.read(mmio.VERSION, 4) == 2
    assert slot.read(mmio.VENDOR_ID, 4) == 0x554D4551
    assert slot.read(mmio.DEVICE_ID, 4) == 0
    assert slot.read(0x100, 4) == 0
    slot.write(mmio.STATUS, 4, 1)
    assert slot.read(mmio.STATUS, 4) == 0


def test_access_rules():
    driver = Driver(VirtioRng())
    t = driver.transport
    assert t.read(mmio.MAGIC_VALUE, 2) == 0           # a register takes only 4 bytes
    assert t.read(mmio.MAGIC_VALUE, 8) == 0x74726976 | (2 << 32)
    with pytest.raises(BusFault):
        t.read(0x2, 4)                                 # misaligned
    with pytest.raises(BusFault):
        t.read(0x200, 4)                               # past the 0x200 window
    t.write(mmio.STATUS, 2, ACKNOWLEDGE)               # dropped
    assert driver.r(mmio.STATUS) == 0
    driver.w(mmio.DEVICE_ID, 7)                        # read-only: dropped
    assert driver.r(mmio.DEVICE_ID) == 4
    assert driver.r(mmio.QUEUE_NOTIFY) == 0            # write-only reads 0


def test_feature_negotiation():
    driver = Driver(VirtioRng())
    offered = driver.device_features()
    assert offered & ALL_FEATURES == ALL_FEATURES
    assert driver.negotiate(VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX)
    assert driver.device.driver_features == VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX
    assert not driver.negotiate(VIRTIO_F_VERSION_1 | (1 << 40))    # not offered
    assert not driver.negotiate(VIRTIO_F_EVENT_IDX)                # modern needs VERSION_1


def test_features_fixed_after_features_ok():
    driver = Driver(VirtioRng())
    assert driver.negotiate(VIRTIO_F_VERSION_1)
    driver.w(mmio.DRIVER_FEATURES_SEL, 0)
    driver.w(mmio.DRIVER_FEATURES, VIRTIO_F_EVENT_IDX)
    driver.w(mmio.STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK)
    assert driver.device.driver_features == VIRTIO_F_VERSION_1


def test_legacy_masks_high_features_and_has_no_features_ok():
    driver = Driver(VirtioRng(), legacy=True)
    driver.w(mmio.DEVICE_FEATURES_SEL, 1)
    assert driver.r(mmio.DEVICE_FEATURES) == 0
    driver.w(mmio.DEVICE_FEATURES_SEL, 0)
    assert driver.r(mmio.DEVICE_FEATURES) & VIRTIO_F_EVENT_IDX
    assert driver.r(mmio.CONFIG_GENERATION) == 0


def rng_request(driver, n=16):
    ring = driver.rings[0]
    head = ring.add_chain([(DATA_AREA, n, True)])
    driver.kick(0)
    return head


@pytest.mark.parametrize("legacy", [False, True])
def test_request_interrupt_and_ack(legacy):
    driver = Driver(VirtioRng(), legacy=legacy).start()
    head = rng_request(driver)
    assert driver.rings[0].take_used() == [(head, 16)]
    assert driver.r(mmio.INTERRUPT_STATUS) == INT_USED_BUFFER
    assert driver.irq_levels == [True]
    driver.w(mmio.INTERRUPT_ACK, INT_USED_BUFFER)
    assert driver.r(mmio.INTERRUPT_STATUS) == 0
    assert driver.irq_levels == [True, False]


def test_kick_before_driver_ok_is_ignored_then_served():
    driver = Driver(VirtioRng())
    assert driver.negotiate(ALL_FEATURES)
    driver.setup_queue(0)
    rng_request(driver)
    assert driver.rings[0].used_idx() == 0
    driver.w(mmio.STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
    assert driver.rings[0].used_idx() == 1


def test_reset_clears_queues_features_and_interrupt():
    driver = Driver(VirtioRng()).start()
    rng_request(driver)
    driver.w(mmio.STATUS, 0)
    assert driver.r(mmio.STATUS) == 0
    assert driver.r(mmio.INTERRUPT_STATUS) == 0
    assert driver.irq_levels[-1] is False
    assert driver.device.driver_features == 0
    driver.w(mmio.QUEUE_SEL, 0)
    assert driver.r(mmio.QUEUE_READY) == 0


def test_queue_registers_for_missing_queue():
    driver = Driver(VirtioRng())
    driver.w(mmio.QUEUE_SEL, 5)
    assert driver.r(mmio.QUEUE_NUM_MAX) == 0
    driver.w(mmio.QUEUE_READY, 1)
    assert driver.r(mmio.QUEUE_READY) == 0
    driver.kick(5)                                     # nothing there: ignored


def test_broken_ring_sets_needs_reset_and_config_interrupt():
    driver = Driver(VirtioRng()).start()
    driver.rings[0].add_chain([(RAM_BASE + RAM_SIZE - 4, 64, True)])
    driver.kick(0)
    assert driver.r(mmio.STATUS) & DEVICE_NEEDS_RESET
    assert driver.r(mmio.INTERRUPT_STATUS) & INT_CONFIG_CHANGE
    assert driver.memory.guards_intact()
    rng_request(driver)                                 # ignored until reset
    assert driver.rings[0].used_idx() == 0
    driver.start()
    assert not driver.r(mmio.STATUS) & DEVICE_NEEDS_RESET
    head = rng_request(driver)
    assert driver.rings[0].take_used() == [(head, 16)]


def test_driver_cannot_set_needs_reset():
    driver = Driver(VirtioRng())
    driver.w(mmio.STATUS, ACKNOWLEDGE | DEVICE_NEEDS_RESET)
    assert driver.r(mmio.STATUS) == ACKNOWLEDGE


def test_ready_takes_registers_written_before_it():
    driver = Driver(VirtioRng())
    driver.negotiate(ALL_FEATURES)
    ring = driver.setup_queue(0)
    queue = driver.device.queues[0]
    assert (queue.desc_addr, queue.driver_addr, queue.device_addr) == (ring.desc, ring.avail, ring.used)
    driver.w(mmio.QUEUE_DESC_LOW, 0x1234)              # ignored until the next QueueReady=1
    assert queue.desc_addr == ring.desc


def test_transport_state_round_trip():
    driver = Driver(VirtioRng()).start()
    rng_request(driver)
    state = driver.transport.state()
    other = mmio.VirtioMmio(VirtioRng())
    other.restore(state)
    assert other.state() == state
    assert other.read(mmio.INTERRUPT_STATUS, 4) == INT_USED_BUFFER

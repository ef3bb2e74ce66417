"""The split virtqueue from the device side: chains, indirect tables, event
index both ways, and every malformed ring ending in VirtqueueError without a
byte outside guest RAM touched."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvmm.io.virtio.queue import (VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
                                   VRING_AVAIL_F_NO_INTERRUPT, Virtqueue, VirtqueueError, need_event)
from virtio_driver import DATA_AREA, RAM_BASE, RAM_SIZE, RING_AREA, GuardedMemory, Ring


def make(num=8, indirect=False, event_idx=False):
    memory = GuardedMemory()
    ring = Ring(memory, num, RING_AREA)
    queue = Virtqueue(0, 256)
    queue.num, queue.desc_addr, queue.driver_addr, queue.device_addr = num, ring.desc, ring.avail, ring.used
    queue.ready, queue.indirect, queue.event_idx = True, indirect, event_idx
    return memory, ring, queue


def test_chain_split_into_readable_then_writable_buffers():
    memory, ring, queue = make()
    memory.write(DATA_AREA, b"hello, ")
    memory.write(DATA_AREA + 0x100, b"world")
    head = ring.add_chain([(DATA_AREA, 7, False), (DATA_AREA + 0x100, 5, False), (DATA_AREA + 0x200, 16, True)])
    chain = queue.pop(memory)
    assert chain.head == head
    assert chain.readable_len == 12 and chain.writable_len == 16
    assert chain.read() == b"hello, world"
    assert chain.read(5, 4) == b", wo"
    assert chain.write(2, b"abc") == 3
    assert memory.read(DATA_AREA + 0x202, 3) == b"abc"
    assert chain.written == 5
    assert queue.pop(memory) is None


def test_push_fills_used_ring_and_interrupt_follows_no_interrupt_flag():
    memory, ring, queue = make()
    head = ring.add_chain([(DATA_AREA, 4, True)])
    chain = queue.pop(memory)
    queue.push(memory, chain.head, 4)
    assert ring.take_used() == [(head, 4)]
    assert queue.should_interrupt(memory)
    ring.set_avail_flags(VRING_AVAIL_F_NO_INTERRUPT)
    ring.add_chain([(DATA_AREA, 4, True)])
    queue.push(memory, queue.pop(memory).head, 0)
    assert not queue.should_interrupt(memory)


def test_indirect_table():
    memory, ring, queue = make(indirect=True)
    memory.write(DATA_AREA, b"ABCD")
    table = DATA_AREA + 0x1000
    ring.add_chain([(DATA_AREA, 4, False), (DATA_AREA + 0x10, 8, True)], indirect_at=table)
    chain = queue.pop(memory)
    assert chain.buffers == [(DATA_AREA, 4, False), (DATA_AREA + 0x10, 8, True)]
    assert chain.read() == b"ABCD"


def test_indirect_without_feature_is_an_error():
    memory, ring, queue = make(indirect=False)
    ring.add_chain([(DATA_AREA, 4, False)], indirect_at=DATA_AREA + 0x1000)
    with pytest.raises(VirtqueueError, match="INDIRECT"):
        queue.pop(memory)


def test_event_idx_suppresses_until_used_event_crossed_and_writes_avail_event():
    memory, ring, queue = make(event_idx=True)
    for _ in range(3):
        ring.add_chain([(DATA_AREA, 1, True)])
    ring.set_used_event(2)       # interrupt when used idx passes 2
    chain = queue.pop(memory)
    assert ring.avail_event() == 1
    queue.push(memory, chain.head, 1)
    assert queue.should_interrupt(memory)        # the first signal always goes
    queue.push(memory, queue.pop(memory).head, 1)   # used idx 2: event 2 not crossed
    assert not queue.should_interrupt(memory)
    queue.push(memory, queue.pop(memory).head, 1)   # used idx 3 crosses 2
    assert queue.should_interrupt(memory)
    assert ring.avail_event() == 3


@pytest.mark.parametrize("event,new,old,expected", [
    (0, 1, 0, True), (5, 5, 4, False), (4, 5, 4, True), (0xFFFF, 0, 0xFFFF, True), (10, 3, 1, False)])
def test_need_event_formula(event, new, old, expected):
    assert need_event(event, new, old) is expected


# -- malformed rings ----------------------------------------------------------

def bad(memory, queue, match):
    with pytest.raises(VirtqueueError, match=match):
        queue.pop(memory)
    assert memory.guards_intact()


def test_size_not_power_of_two():
    memory, ring, queue = make()
    ring.add_chain([(DATA_AREA, 1, True)])
    queue.num = 6
    bad(memory, queue, "power of two")


def test_ring_outside_ram():
    memory, ring, queue = make()
    queue.desc_addr = RAM_BASE + RAM_SIZE - 16
    bad(memory, queue, "outside guest RAM")


def test_head_past_table():
    memory, ring, queue = make()
    ring.publish(8)
    bad(memory, queue, "past")


def test_avail_index_jumps_too_far():
    memory, ring, queue = make()
    memory.write_u16(ring.avail + 2, 9)
    bad(memory, queue, "ahead")


def test_loop_in_chain():
    memory, ring, queue = make()
    ring.write_desc(0, DATA_AREA, 1, VIRTQ_DESC_F_NEXT, 1)
    ring.write_desc(1, DATA_AREA, 1, VIRTQ_DESC_F_NEXT, 0)
    ring.publish(0)
    bad(memory, queue, "loops")


def test_buffer_running_past_ram():
    memory, ring, queue = make()
    ring.add_chain([(RAM_BASE + RAM_SIZE - 8, 16, True)])
    bad(memory, queue, "outside guest RAM")


def test_buffer_length_wraps_address_space():
    memory, ring, queue = make()
    ring.add_chain([(0xFFFF_FFFF_FFFF_FFF0, 0x20, False)])
    bad(memory, queue, "outside guest RAM")


def test_nested_indirect():
    memory, ring, queue = make(indirect=True)
    inner = DATA_AREA + 0x2000
    ring.write_desc(0, inner, 16, VIRTQ_DESC_F_INDIRECT, table=DATA_AREA + 0x1000)
    ring.write_desc(0, DATA_AREA + 0x1000, 16, VIRTQ_DESC_F_INDIRECT)
    ring.publish(0)
    bad(memory, queue, "nested")


def test_indirect_table_bad_length():
    memory, ring, queue = make(indirect=True)
    ring.write_desc(0, DATA_AREA + 0x1000, 24, VIRTQ_DESC_F_INDIRECT)
    ring.publish(0)
    bad(memory, queue, "malformed")


def test_readable_after_writable():
    memory, ring, queue = make()
    ring.add_chain([(DATA_AREA, 1, True), (DATA_AREA, 1, False)])
    bad(memory, queue, "after")


def test_state_round_trip():
    memory, ring, queue = make(event_idx=True)
    ring.add_chain([(DATA_AREA, 1, True)])
    queue.push(memory, queue.pop(memory).head, 1)
    clone = Virtqueue(0, 256)
    clone.restore(queue.state())
    assert clone.state() == queue.state()


# -- random rings ---------------------------------------------------------------

descriptor = st.tuples(
    st.one_of(st.integers(0, 2**64 - 1), st.integers(RAM_BASE - 64, RAM_BASE + RAM_SIZE + 64)),
    st.integers(0, 2**32 - 1) | st.integers(0, 4096),
    st.integers(0, 7),
    st.integers(0, 20))


@settings(max_examples=150)
@given(descs=st.lists(descriptor, min_size=8, max_size=8), heads=st.lists(st.integers(0, 12), max_size=6),
       indirect=st.booleans(), event_idx=st.booleans())
def test_random_rings_never_escape(descs, heads, indirect, event_idx):
    memory, ring, queue = make(indirect=indirect, event_idx=event_idx)
    for i, (addr, length, flags, nxt) in enumerate(descs):
        ring.write_desc(i, addr, length, flags, nxt)
    for head in heads:
        ring.publish(head)
    try:
        while True:
            chain = queue.pop(memory)
            if chain is None:
                break
            for gpa, length, _ in chain.buffers:
                assert memory.contains(gpa, length)
            chain.write(0, b"\xEE" * min(chain.writable_len, 64))
            queue.push(memory, chain.head, chain.written)
            queue.should_interrupt(memory)
    except VirtqueueError:
        pass
    assert memory.guards_intact()

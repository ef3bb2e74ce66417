"""A minimal virtio driver for tests: guest RAM in a NumPy array, rings laid
out the way a guest lays them out, requests posted as descriptor chains and
the device driven through a VirtioMmio window exactly as a guest driver does."""

import numpy as np

from pyvmm.io.virtio import mmio
from pyvmm.io.virtio.device import (ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK,
                                    VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1)
from pyvmm.io.virtio.queue import VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE
from pyvmm.machine.memory import GuestMemory

RAM_BASE = 0x8000_0000
RAM_SIZE = 1 << 20
RING_AREA = RAM_BASE + 0x1000          # queue q's rings at RING_AREA + q * 0x4000
DATA_AREA = RAM_BASE + 0x40000


class GuardedMemory(GuestMemory):
    """GuestMemory over an array with guard bytes on both sides of RAM, so a
    test can prove nothing outside RAM was touched."""

    GUARD = 4096

    def __init__(self, size=RAM_SIZE):
        self.whole = np.full(size + 2 * self.GUARD, 0xA5, dtype=np.uint8)
        self.whole[self.GUARD:self.GUARD + size] = 0
        super().__init__(self.whole[self.GUARD:self.GUARD + size], RAM_BASE, size)

    def guards_intact(self):
        return bool((self.whole[:self.GUARD] == 0xA5).all() and (self.whole[-self.GUARD:] == 0xA5).all())


class Ring:
    """The driver's side of one split virtqueue."""

    def __init__(self, memory, num, base):
        self.memory = memory
        self.num = num
        self.desc = base
        self.avail = base + 16 * num
        self.used = (self.avail + 6 + 2 * num + 3) // 4 * 4
        self.next_desc = 0
        self.avail_idx = 0
        self.used_seen = 0
        memory.fill(base, self.used + 6 + 8 * num - base)     # a driver starts from zeroed rings

    def write_desc(self, index, addr, length, flags, nxt=0, table=None):
        table = self.desc if table is None else table
        self.memory.write(table + 16 * index, addr.to_bytes(8, "little") + length.to_bytes(4, "little")
                          + flags.to_bytes(2, "little") + nxt.to_bytes(2, "little"))

    def add_chain(self, buffers, indirect_at=None):
        """Post [(gpa, length, writable)], directly or through an indirect
        table at `indirect_at`; returns the head index."""
        head = self.next_desc
        if indirect_at is not None:
            for i, (addr, length, writable) in enumerate(buffers):
                flags = (VIRTQ_DESC_F_WRITE if writable else 0) | (VIRTQ_DESC_F_NEXT if i + 1 < len(buffers) else 0)
                self.write_desc(i, addr, length, flags, i + 1, table=indirect_at)
            self.write_desc(head, indirect_at, 16 * len(buffers), VIRTQ_DESC_F_INDIRECT)
            self.next_desc = (head + 1) % self.num
        else:
            for i, (addr, length, writable) in enumerate(buffers):
                index = (head + i) % self.num
                flags = (VIRTQ_DESC_F_WRITE if writable else 0) | (VIRTQ_DESC_F_NEXT if i + 1 < len(buffers) else 0)
                self.write_desc(index, addr, length, flags, (index + 1) % self.num)
            self.next_desc = (head + len(buffers)) % self.num
        self.publish(head)
        return head

    def publish(self, head):
        self.memory.write_u16(self.avail + 4 + 2 * (self.avail_idx % self.num), head)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.memory.write_u16(self.avail + 2, self.avail_idx)

    def used_idx(self):
        return self.memory.read_u16(self.used + 2)

    def take_used(self):
        """[(head, written)] returned since the last call."""
        out = []
        while self.used_seen != self.used_idx():
            elem = self.used + 4 + 8 * (self.used_seen % self.num)
            out.append((self.memory.read_u32(elem), self.memory.read_u32(elem + 4)))
            self.used_seen = (self.used_seen + 1) & 0xFFFF
        return out

    def set_used_event(self, value):
        self.memory.write_u16(self.avail + 4 + 2 * self.num, value)

    def avail_event(self):
        return self.memory.read_u16(self.used + 4 + 8 * self.num)

    def set_avail_flags(self, flags):
        self.memory.write_u16(self.avail, flags)


class Driver:
    """Brings a device up through a modern (or legacy) virtio-mmio window."""

    def __init__(self, device, legacy=False, memory=None):
        self.memory = memory or GuardedMemory()
        self.irq_levels = []
        self.transport = mmio.VirtioMmio(device, legacy=legacy, set_irq=self.irq_levels.append)
        self.transport.attach_memory(self.memory)
        self.device = device
        self.legacy = legacy
        self.rings = {}

    def r(self, offset):
        return self.transport.read(offset, 4)

    def w(self, offset, value):
        self.transport.write(offset, 4, value)

    def device_features(self):
        self.w(mmio.DEVICE_FEATURES_SEL, 0)
        low = self.r(mmio.DEVICE_FEATURES)
        self.w(mmio.DEVICE_FEATURES_SEL, 1)
        return low | (self.r(mmio.DEVICE_FEATURES) << 32)

    def negotiate(self, features):
        self.w(mmio.STATUS, 0)
        self.w(mmio.STATUS, ACKNOWLEDGE)
        self.w(mmio.STATUS, ACKNOWLEDGE | DRIVER)
        for sel in (0, 1):
            self.w(mmio.DRIVER_FEATURES_SEL, sel)
            self.w(mmio.DRIVER_FEATURES, (features >> (32 * sel)) & 0xFFFF_FFFF)
        if not self.legacy:
            self.w(mmio.STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK)
            return bool(self.r(mmio.STATUS) & FEATURES_OK)
        return True

    def setup_queue(self, index, num=8):
        ring = Ring(self.memory, num, RING_AREA + index * 0x4000)
        self.w(mmio.QUEUE_SEL, index)
        assert self.r(mmio.QUEUE_NUM_MAX) >= num
        self.w(mmio.QUEUE_NUM, num)
        if self.legacy:
            self.w(mmio.GUEST_PAGE_SIZE, 4096)
            self.w(mmio.QUEUE_ALIGN, 4)
            self.w(mmio.QUEUE_PFN, ring.desc >> 12)
        else:
            for low, addr in ((mmio.QUEUE_DESC_LOW, ring.desc), (mmio.QUEUE_DRIVER_LOW, ring.avail),
                              (mmio.QUEUE_DEVICE_LOW, ring.used)):
                self.w(low, addr & 0xFFFF_FFFF)
                self.w(low + 4, addr >> 32)
            self.w(mmio.QUEUE_READY, 1)
        self.rings[index] = ring
        return ring

    def start(self, features=None, queues=None, num=8):
        """Negotiate (by default everything the device offers), set up every
        queue and set DRIVER_OK."""
        if features is None:
            features = self.device_features()
        assert self.negotiate(features)
        for index in range(queues if queues is not None else len(self.device.queues)):
            self.setup_queue(index, num)
        status = ACKNOWLEDGE | DRIVER | DRIVER_OK | (0 if self.legacy else FEATURES_OK)
        self.w(mmio.STATUS, status)
        return self

    def kick(self, index):
        self.w(mmio.QUEUE_NOTIFY, index)


ALL_FEATURES = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX

"""A fake virtio driver for device tests: guest RAM in a NumPy array, split
rings laid out by hand, and the device driven through its transport-neutral
interface (status, features, queue addresses, notify)."""

import numpy as np

from pyvmm.io.virtio.device import ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK
from pyvmm.io.virtio.queue import VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE
from pyvmm.machine.memory import GuestMemory

RAM_BASE = 0x8000_0000


class FakeDriver:
    def __init__(self, device, ram_size=1 << 20):
        self.device = device
        self.ram = np.zeros(ram_size, dtype=np.uint8)
        self.memory = GuestMemory(self.ram, RAM_BASE, ram_size)
        self.next_free = RAM_BASE
        self.irq_levels = []
        self.rings = {}
        device.attach_memory(self.memory)
        device.on_interrupt = self.irq_levels.append

    def alloc(self, n, align=16):
        gpa = (self.next_free + align - 1) // align * align
        self.next_free = gpa + n
        assert self.next_free <= RAM_BASE + len(self.ram)
        return gpa

    def start(self, features, queue_size=16, legacy=False):
        """The driver's initialisation sequence (virtio 1.2 section 3.1.1)."""
        device = self.device
        device.legacy = legacy
        device.set_status(ACKNOWLEDGE)
        device.set_status(ACKNOWLEDGE | DRIVER)
        device.set_driver_features(features)
        if not legacy:
            device.set_status(ACKNOWLEDGE | DRIVER | FEATURES_OK)
            assert device.status & FEATURES_OK
        for index in range(len(device.queues)):
            self.setup_queue(index, queue_size)
        device.set_status(device.status | DRIVER_OK)

    def setup_queue(self, index, num):
        queue = self.device.queues[index]
        queue.num = num
        queue.desc_addr = self.alloc(16 * num, 16)
        queue.driver_addr = self.alloc(6 + 2 * num, 2)
        queue.device_addr = self.alloc(6 + 8 * num, 4)
        queue.ready = True
        self.rings[index] = {"num": num, "next_desc": 0, "avail": 0, "used_seen": 0}

    def add_chain(self, index, buffers):
        """Publish a chain of (gpa, length, writable) buffers; returns its head."""
        queue = self.device.queues[index]
        ring = self.rings[index]
        num = ring["num"]
        slots = [(ring["next_desc"] + i) % num for i in range(len(buffers))]
        ring["next_desc"] = (ring["next_desc"] + len(buffers)) % num
        for i, (gpa, length, writable) in enumerate(buffers):
            last = i == len(buffers) - 1
            flags = (0 if last else VIRTQ_DESC_F_NEXT) | (VIRTQ_DESC_F_WRITE if writable else 0)
            self.write_desc(index, slots[i], gpa, length, flags, 0 if last else slots[i + 1])
        avail = ring["avail"]
        self.memory.write_u16(queue.driver_addr + 4 + 2 * (avail % num), slots[0])
        ring["avail"] = (avail + 1) & 0xFFFF
        self.memory.write_u16(queue.driver_addr + 2, ring["avail"])
        return slots[0]

    def write_desc(self, index, slot, gpa, length, flags, nxt):
        queue = self.device.queues[index]
        self.memory.write(queue.desc_addr + 16 * slot,
                          gpa.to_bytes(8, "little") + length.to_bytes(4, "little")
                          + flags.to_bytes(2, "little") + nxt.to_bytes(2, "little"))

    def publish_head(self, index, head):
        """Put an arbitrary head index in the available ring."""
        queue = self.device.queues[index]
        ring = self.rings[index]
        self.memory.write_u16(queue.driver_addr + 4 + 2 * (ring["avail"] % ring["num"]), head)
        ring["avail"] = (ring["avail"] + 1) & 0xFFFF
        self.memory.write_u16(queue.driver_addr + 2, ring["avail"])

    def buffer(self, data=b"", size=None):
        """A buffer in guest RAM holding `data` (or `size` zero bytes)."""
        n = len(data) if size is None else size
        gpa = self.alloc(max(n, 1))
        if data:
            self.memory.write(gpa, data)
        return gpa

    def kick(self, index):
        self.device.notify(index)

    def used(self, index):
        """The (head, written) pairs the device returned since the last call."""
        queue = self.device.queues[index]
        ring = self.rings[index]
        num = ring["num"]
        idx = self.memory.read_u16(queue.device_addr + 2)
        out = []
        while ring["used_seen"] != idx:
            elem = queue.device_addr + 4 + 8 * (ring["used_seen"] % num)
            out.append((self.memory.read_u32(elem), self.memory.read_u32(elem + 4)))
            ring["used_seen"] = (ring["used_seen"] + 1) & 0xFFFF
        return out

    def read(self, gpa, n):
        return self.memory.read(gpa, n)

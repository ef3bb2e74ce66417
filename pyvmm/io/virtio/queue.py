"""The split virtqueue (virtio 1.2 section 2.7), seen from the device side.

The driver publishes descriptor chains in the available ring; the device pops
them, reads the driver-readable buffers, writes the device-writable ones and
returns each chain through the used ring with the number of bytes written.

Everything the guest wrote is untrusted: a ring or chain that breaks the
rules (a queue size not a power of two, a head or `next` index past the
table, a chain longer than the queue, a buffer outside guest RAM, nested or
unnegotiated indirect tables, the available index jumping ahead by more than
the queue size) raises VirtqueueError, which the device turns into
DEVICE_NEEDS_RESET. Guest memory is reached only through GuestMemory, and
every buffer is checked against guest RAM before a back-end sees it.
"""

from pyvmm.machine.memory import DmaError

VIRTQ_DESC_F_NEXT = 1
VIRTQ_DESC_F_WRITE = 2
VIRTQ_DESC_F_INDIRECT = 4

VRING_AVAIL_F_NO_INTERRUPT = 1
VRING_USED_F_NO_NOTIFY = 1

DESC_SIZE = 16
USED_ELEM_SIZE = 8


class VirtqueueError(Exception):
    """The driver broke the ring protocol; the device needs a reset."""


def ring_sizes(num):
    """(descriptor table, available ring, used ring) sizes in bytes for a
    queue of `num` entries, event-index fields included."""
    return DESC_SIZE * num, 4 + 2 * num + 2, 4 + USED_ELEM_SIZE * num + 2


def need_event(event, new, old):
    """virtio 1.2 section 2.7.10: has the index moved past `event` since `old`?"""
    return ((new - event - 1) & 0xFFFF) < ((new - old) & 0xFFFF)


class Chain:
    """One popped descriptor chain: `head` (its index in the table) and
    `buffers`, a list of (gpa, length, device_writable) with every readable
    buffer before every writable one. Each buffer lies inside guest RAM."""

    __slots__ = ("head", "buffers", "memory", "readable_len", "writable_len", "written")

    def __init__(self, head, buffers, memory):
        self.head = head
        self.buffers = buffers
        self.memory = memory
        self.readable_len = sum(n for _, n, w in buffers if not w)
        self.writable_len = sum(n for _, n, w in buffers if w)
        self.written = 0

    def _spans(self, writable, offset, n):
        """(gpa, length) pieces covering bytes [offset, offset + n) of the
        readable or writable part of the chain."""
        spans = []
        for gpa, length, w in self.buffers:
            if w != writable or n <= 0:
                continue
            if offset >= length:
                offset -= length
                continue
            take = min(length - offset, n)
            spans.append((gpa + offset, take))
            n -= take
            offset = 0
        return spans

    def read(self, offset=0, n=None):
        """Bytes [offset, offset + n) of the driver-readable part (to its end
        when n is None; shorter when the part is shorter)."""
        if n is None:
            n = max(self.readable_len - offset, 0)
        return b"".join(self.memory.read(gpa, length) for gpa, length in self._spans(False, offset, n))

    def read_views(self, offset, n):
        """Zero-copy uint8 views of bytes [offset, offset + n) of the
        driver-readable part."""
        views = []
        for gpa, length in self._spans(False, offset, n):
            views.extend(self.memory.views(gpa, length))
        return views

    def write(self, offset, data):
        """Store `data` at `offset` of the device-writable part, as far as it
        fits; returns the number of bytes stored and records the extent written."""
        done = 0
        for gpa, length in self._spans(True, offset, len(data)):
            self.memory.write(gpa, data[done:done + length])
            done += length
        if done:
            self.written = max(self.written, offset + done)
        return done

    def writable_spans(self, offset, n):
        """(gpa, length) pieces of bytes [offset, offset + n) of the
        device-writable part, for back-ends that fill guest RAM in place;
        the caller records what it wrote with mark_written."""
        return self._spans(True, offset, n)

    def mark_written(self, end):
        self.written = max(self.written, end)


class Virtqueue:
    """One split virtqueue. The transport sets `num`, `desc_addr`,
    `driver_addr` (available ring), `device_addr` (used ring) and `ready`;
    the device sets `event_idx` and `indirect` from the negotiated features."""

    def __init__(self, index, num_max):
        self.index = index
        self.num_max = num_max
        self.reset()

    def reset(self):
        self.num = self.num_max
        self.ready = False
        self.desc_addr = 0
        self.driver_addr = 0
        self.device_addr = 0
        self.event_idx = False
        self.indirect = False
        self.last_avail_idx = 0
        self.used_idx = 0
        self.signalled_used = 0
        self.signalled_valid = False

    # -- checks -------------------------------------------------------------

    def check_layout(self, memory):
        """Raise VirtqueueError unless the queue size is valid and the three
        areas lie in guest RAM with their required alignment."""
        num = self.num
        if num == 0 or num & (num - 1) or num > self.num_max:
            raise VirtqueueError(f"queue {self.index}: size {num} is not a power of two "
                                 f"up to {self.num_max}")
        desc, avail, used = ring_sizes(num)
        for name, addr, size, align in (("descriptor table", self.desc_addr, desc, 16),
                                        ("available ring", self.driver_addr, avail, 2),
                                        ("used ring", self.device_addr, used, 4)):
            if addr % align or not memory.contains(addr, size):
                raise VirtqueueError(f"queue {self.index}: {name} at {addr:#x} "
                                     f"is misaligned or outside guest RAM")

    # -- available side -----------------------------------------------------

    def avail_idx(self, memory):
        return memory.read_u16(self.driver_addr + 2)

    def pending(self, memory):
        """Chains the driver has made available and the device not yet popped."""
        count = (self.avail_idx(memory) - self.last_avail_idx) & 0xFFFF
        if count > self.num:
            raise VirtqueueError(f"queue {self.index}: available index moved "
                                 f"{count} entries ahead of a {self.num}-entry queue")
        return count

    def pop(self, memory):
        """The next available chain, or None when the ring is empty."""
        try:
            self.check_layout(memory)
            if not self.pending(memory):
                return None
            slot = self.last_avail_idx % self.num
            head = memory.read_u16(self.driver_addr + 4 + 2 * slot)
            chain = Chain(head, self._walk(memory, head), memory)
        except DmaError as error:
            raise VirtqueueError(f"queue {self.index}: {error}") from None
        self.last_avail_idx = (self.last_avail_idx + 1) & 0xFFFF
        if self.event_idx:
            # Ask for a kick as soon as the driver adds anything beyond what was taken.
            memory.write_u16(self.device_addr + 4 + USED_ELEM_SIZE * self.num, self.last_avail_idx)
        return chain

    def _walk(self, memory, head):
        buffers = []
        table, size, index = self.desc_addr, self.num, head
        nested = False
        seen = 0
        while True:
            if index >= size:
                raise VirtqueueError(f"queue {self.index}: descriptor index {index} "
                                     f"past a {size}-entry table")
            seen += 1
            if seen > size:
                raise VirtqueueError(f"queue {self.index}: descriptor chain from head "
                                     f"{head} loops or is longer than its table")
            raw = memory.read(table + DESC_SIZE * index, DESC_SIZE)
            addr = int.from_bytes(raw[0:8], "little")
            length = int.from_bytes(raw[8:12], "little")
            flags = int.from_bytes(raw[12:14], "little")
            nxt = int.from_bytes(raw[14:16], "little")
            if flags & VIRTQ_DESC_F_INDIRECT:
                if not self.indirect:
                    raise VirtqueueError(f"queue {self.index}: indirect descriptor "
                                         f"without VIRTIO_F_INDIRECT_DESC")
                if nested:
                    raise VirtqueueError(f"queue {self.index}: nested indirect table")
                if buffers:
                    # The table must be the chain's only descriptor (spec 2.7.5.3.1).
                    raise VirtqueueError(f"queue {self.index}: indirect table in the "
                                         f"middle of a chain")
                if length == 0 or length % DESC_SIZE or not memory.contains(addr, length):
                    raise VirtqueueError(f"queue {self.index}: indirect table at "
                                         f"{addr:#x}+{length:#x} is malformed or outside RAM")
                table, size, index = addr, length // DESC_SIZE, 0
                nested = True
                seen = 0
                continue
            if not memory.contains(addr, length):
                raise VirtqueueError(f"queue {self.index}: buffer {addr:#x}+{length:#x} "
                                     f"outside guest RAM")
            writable = bool(flags & VIRTQ_DESC_F_WRITE)
            if buffers and buffers[-1][2] and not writable:
                raise VirtqueueError(f"queue {self.index}: driver-readable buffer after "
                                     f"a device-writable one")
            buffers.append((addr, length, writable))
            if not flags & VIRTQ_DESC_F_NEXT:
                return buffers
            index = nxt

    # -- used side ----------------------------------------------------------

    def push(self, memory, head, written):
        """Return chain `head` to the driver with `written` bytes written."""
        try:
            elem = self.device_addr + 4 + USED_ELEM_SIZE * (self.used_idx % self.num)
            memory.write(elem, head.to_bytes(4, "little") + (written & 0xFFFF_FFFF).to_bytes(4, "little"))
            self.used_idx = (self.used_idx + 1) & 0xFFFF
            memory.write_u16(self.device_addr + 2, self.used_idx)
        except DmaError as error:
            raise VirtqueueError(f"queue {self.index}: {error}") from None

    def should_interrupt(self, memory):
        """After one or more pushes: does the driver want an interrupt now?
        (used_event with VIRTIO_F_EVENT_IDX, else the NO_INTERRUPT flag)."""
        try:
            if self.event_idx:
                old, new = self.signalled_used, self.used_idx
                valid = self.signalled_valid
                self.signalled_used, self.signalled_valid = new, True
                event = memory.read_u16(self.driver_addr + 4 + 2 * self.num)
                return not valid or need_event(event, new, old)
            return not memory.read_u16(self.driver_addr) & VRING_AVAIL_F_NO_INTERRUPT
        except DmaError as error:
            raise VirtqueueError(f"queue {self.index}: {error}") from None

    # -- snapshots ----------------------------------------------------------

    _STATE = ("num", "ready", "desc_addr", "driver_addr", "device_addr", "event_idx",
              "indirect", "last_avail_idx", "used_idx", "signalled_used", "signalled_valid")

    def state(self):
        return {name: getattr(self, name) for name in self._STATE}

    def restore(self, state):
        for name in self._STATE:
            setattr(self, name, state[name])

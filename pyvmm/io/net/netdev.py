"""The network back-end a NIC talks to: a port that carries whole Ethernet
frames, nothing else.

A NIC hands the netdev each frame the guest transmits (`send`) and, when it
has receive buffers, takes the frames that arrived for it (`peek`, then
`pop` once the frame is in guest memory), so a frame that arrives before the
guest posted buffers waits in a bounded queue instead of being lost. `poll`
moves bytes between the host side and that queue; the machine calls it
between slices, through the NIC. `wait` and `fileno` let an idle machine
sleep until something arrives.
"""

import abc
import collections
import select

ETH_HEADER_LEN = 14
# QEMU's NET_BUFSIZE: the largest frame its back-ends carry (64 KiB of GSO
# payload plus room for headers); a longer one is refused everywhere.
MAX_FRAME_LEN = 4096 + 65536
RX_QUEUE_FRAMES = 256


class FrameQueue:
    """A bounded FIFO of frames; a frame that finds it full is dropped and
    counted, as a NIC's receive FIFO does when the host falls behind."""

    def __init__(self, limit=RX_QUEUE_FRAMES):
        if limit < 1:
            raise ValueError("a frame queue holds at least one frame")
        self.limit = limit
        self._frames = collections.deque()
        self.dropped = 0

    def __len__(self):
        return len(self._frames)

    def put(self, frame):
        if len(self._frames) >= self.limit:
            self.dropped += 1
            return False
        self._frames.append(bytes(frame))
        return True

    def peek(self):
        return self._frames[0] if self._frames else None

    def pop(self):
        return self._frames.popleft()

    def clear(self):
        self._frames.clear()

    def frames(self):
        return list(self._frames)


class Netdev(abc.ABC):
    """Base of every back-end: an id, a receive queue, link state, counters.

    Subclasses implement `_transmit(frame) -> bool` (deliver one frame to the
    outside; False when it had to be dropped) and may override `poll`,
    `fileno` and `close`."""

    kind = "netdev"

    def __init__(self, netdev_id, rx_limit=RX_QUEUE_FRAMES):
        self.id = netdev_id
        self.rx = FrameQueue(rx_limit)
        self.tx_frames = 0
        self.tx_bytes = 0
        self.tx_dropped = 0
        self.rx_frames = 0
        self.rx_bytes = 0
        self.closed = False

    @property
    def link_up(self):
        return not self.closed

    def send(self, frame):
        """The NIC transmits one Ethernet frame; True if it left this port."""
        if self.closed or not ETH_HEADER_LEN <= len(frame) <= MAX_FRAME_LEN:
            self.tx_dropped += 1
            return False
        if not self._transmit(bytes(frame)):
            self.tx_dropped += 1
            return False
        self.tx_frames += 1
        self.tx_bytes += len(frame)
        return True

    @abc.abstractmethod
    def _transmit(self, frame):
        """Carry one frame out of this port; False if it was dropped."""

    def deliver(self, frame):
        """A frame arrives for the NIC behind this port (queued until taken)."""
        if self.rx.put(frame):
            self.rx_frames += 1
            self.rx_bytes += len(frame)
            return True
        return False

    def pending(self):
        return len(self.rx)

    def peek(self):
        """The next received frame, left in the queue, or None."""
        return self.rx.peek()

    def pop(self):
        """Remove and return the frame `peek` showed."""
        return self.rx.pop()

    def poll(self):
        """Move bytes between the host side and the receive queue."""
        return None     # in-process back-ends deliver straight into the queue

    def fileno(self):
        """A file descriptor that becomes readable when a frame may arrive,
        or -1 when this back-end has none (frames come from this process)."""
        return -1

    def wait(self, timeout):
        """Sleep up to `timeout` seconds until a frame is pending or the link
        changes (an idle machine's sleep); True if a frame is pending.
        Back-ends without a descriptor return at once: only this process
        can give them a frame."""
        link = self.link_up
        self.poll()
        if self.pending() or self.link_up != link:
            return bool(self.pending())
        fd = self.fileno()
        if fd < 0 or timeout <= 0:
            return False
        readable, _, _ = select.select([fd], [], [], timeout)
        if readable:
            self.poll()
        return bool(self.pending())

    def close(self):
        self.closed = True
        self.rx.clear()

    def stats(self):
        return {
            "tx_frames": self.tx_frames, "tx_bytes": self.tx_bytes,
            "tx_dropped": self.tx_dropped, "rx_frames": self.rx_frames,
            "rx_bytes": self.rx_bytes, "rx_dropped": self.rx.dropped,
            "rx_pending": len(self.rx), "link_up": self.link_up,
        }

"""A virtio device independent of its transport (virtio 1.2 sections 2 and 3).

VirtioDevice holds what every virtio device has — feature bits, the device
status state machine, virtqueues, the interrupt status and the configuration
space — and leaves to a subclass only what its type defines: the
configuration bytes and what a kick on each queue does. A transport
(virtio-mmio, virtio-pci) maps its registers onto these attributes and gives
the device an `on_interrupt(level)` callable to drive its interrupt line.

A driver that breaks a ring's rules never reaches the host: the error becomes
DEVICE_NEEDS_RESET plus a configuration-change interrupt (section 2.1.2), and
the device ignores its queues until the driver resets it.
"""

import abc

from pyvmm.io.virtio.queue import Virtqueue, VirtqueueError
from pyvmm.machine.memory import DmaError

# Device status (section 2.1).
ACKNOWLEDGE = 1
DRIVER = 2
DRIVER_OK = 4
FEATURES_OK = 8
DEVICE_NEEDS_RESET = 0x40
FAILED = 0x80

# Reserved feature bits (section 6).
VIRTIO_F_INDIRECT_DESC = 1 << 28
VIRTIO_F_EVENT_IDX = 1 << 29
VIRTIO_F_VERSION_1 = 1 << 32

# Interrupt status bits.
INT_USED_BUFFER = 1
INT_CONFIG_CHANGE = 2

# Device ids (section 5).
ID_NET = 1
ID_BLOCK = 2
ID_CONSOLE = 3
ID_RNG = 4

_COUNTERS = ("requests", "bytes", "errors", "notifications", "interrupts")


class VirtioDevice(abc.ABC):
    """Subclasses set `device_id`, `num_queues`, `queue_num_max` and
    `features` (their device-specific feature bits), and implement
    `config_bytes()` and `process_queue(index)`."""

    device_id = 0
    name = "virtio"
    num_queues = 0
    queue_num_max = 256
    features = 0

    def __init__(self):
        self.device_features = (self.features | VIRTIO_F_VERSION_1
                                | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX)
        self.memory = None
        self.on_interrupt = None
        # A legacy transport has no FEATURES_OK step; it sets this to True.
        self.legacy = False
        self.queues = [Virtqueue(i, self.queue_num_max) for i in range(self.num_queues)]
        self.config_generation = 0
        self.counters = dict.fromkeys(_COUNTERS, 0)
        self.last_error = None
        self.driver_features = 0
        self.status = 0
        self.interrupt_status = 0

    def attach_memory(self, memory):
        self.memory = memory

    # -- status and features ------------------------------------------------

    def reset(self):
        """The device reset (status 0): features, queues and interrupt status
        back to their initial values."""
        self.driver_features = 0
        self.status = 0
        for queue in self.queues:
            queue.reset()
        self._set_interrupt_status(0)
        self.reset_device()

    def reset_device(self):
        """Type-specific state to drop on reset (none by default)."""

    def negotiated(self, bit):
        return bool(self.driver_features & self.device_features & bit)

    def set_driver_features(self, value):
        """The driver's accepted features; ignored once FEATURES_OK is set
        (section 3.1.1: features are fixed from then on)."""
        if self.status & FEATURES_OK:
            return
        if self.legacy:
            value &= 0xFFFF_FFFF
        self.driver_features = value

    def features_acceptable(self):
        if self.driver_features & ~self.device_features:
            return False
        return self.legacy or bool(self.driver_features & VIRTIO_F_VERSION_1)

    def set_status(self, value):
        value &= 0xFF
        if value == 0:
            self.reset()
            return
        old = self.status
        # DEVICE_NEEDS_RESET is the device's to set, never the driver's.
        value = (value & ~DEVICE_NEEDS_RESET) | (old & DEVICE_NEEDS_RESET)
        if value & FEATURES_OK and not old & FEATURES_OK and not self.features_acceptable():
            value &= ~FEATURES_OK
        self.status = value
        if value & (FEATURES_OK | DRIVER_OK):
            self._apply_features()
        if value & DRIVER_OK and not old & DRIVER_OK:
            # Buffers made available before DRIVER_OK are served now.
            for queue in self.queues:
                self._service(queue.index)

    def _apply_features(self):
        event_idx = self.negotiated(VIRTIO_F_EVENT_IDX)
        indirect = self.negotiated(VIRTIO_F_INDIRECT_DESC)
        for queue in self.queues:
            queue.event_idx = event_idx
            queue.indirect = indirect

    @property
    def live(self):
        """May the device use its queues? (DRIVER_OK, not failed, not broken)"""
        return (self.status & (DRIVER_OK | FAILED | DEVICE_NEEDS_RESET)) == DRIVER_OK

    # -- queues -------------------------------------------------------------

    def notify(self, index):
        """The driver kicked queue `index`."""
        self.counters["notifications"] += 1
        self._service(index)

    def _service(self, index):
        if not self.live or index >= len(self.queues) or not self.queues[index].ready:
            return
        if self.memory is None:
            raise RuntimeError(f"{self.name}: kicked before attach_memory")
        try:
            self.process_queue(index)
        except (VirtqueueError, DmaError) as error:
            self.device_error(str(error))

    @abc.abstractmethod
    def process_queue(self, index):
        """Serve the available chains of queue `index`: every device type
        defines it (an incomplete subclass cannot be instantiated)."""

    def device_error(self, message):
        """The driver broke the protocol: DEVICE_NEEDS_RESET and, once the
        driver is running, a configuration-change interrupt."""
        self.counters["errors"] += 1
        self.last_error = message
        if self.status & DEVICE_NEEDS_RESET:
            return
        self.status |= DEVICE_NEEDS_RESET
        if self.status & DRIVER_OK:
            self.raise_interrupt(INT_CONFIG_CHANGE)

    def pop(self, index):
        """The next available chain of queue `index`, or None."""
        return self.queues[index].pop(self.memory)

    def push(self, index, chain, written=None):
        """Return `chain` to the driver; `written` defaults to what the chain
        recorded as written."""
        self.queues[index].push(self.memory, chain.head, chain.written if written is None else written)
        self.counters["requests"] += 1

    def signal(self, index):
        """After pushes to queue `index`: interrupt if the driver asks for it."""
        if self.queues[index].should_interrupt(self.memory):
            self.raise_interrupt(INT_USED_BUFFER)

    # -- interrupts ---------------------------------------------------------

    def raise_interrupt(self, bits):
        if self.interrupt_status & bits != bits:
            self.counters["interrupts"] += 1
        self._set_interrupt_status(self.interrupt_status | bits)

    def ack_interrupt(self, bits):
        self._set_interrupt_status(self.interrupt_status & ~bits)

    def _set_interrupt_status(self, value):
        was = bool(self.interrupt_status)
        self.interrupt_status = value & (INT_USED_BUFFER | INT_CONFIG_CHANGE)
        now = bool(self.interrupt_status)
        if was != now and self.on_interrupt is not None:
            self.on_interrupt(now)

    # -- configuration space ------------------------------------------------

    def config_bytes(self):
        """The device-specific configuration structure, little-endian."""
        return b""

    def config_read(self, offset, size):
        """Past the structure's end reads all ones, as QEMU answers."""
        data = self.config_bytes()
        if offset < 0 or offset + size > len(data):
            return (1 << (8 * size)) - 1
        return int.from_bytes(data[offset:offset + size], "little")

    def config_write(self, offset, size, value):
        """Writes to read-only configuration fields are dropped."""

    def config_changed(self):
        self.config_generation = (self.config_generation + 1) & 0xFFFF_FFFF
        if self.status & DRIVER_OK:
            self.raise_interrupt(INT_CONFIG_CHANGE)

    # -- machine hooks ------------------------------------------------------

    def poll(self):
        """Between slices: deliver asynchronous input (none by default)."""

    def close(self):
        """Release host resources (files, sockets)."""

    def stats(self):
        return dict(self.counters)

    def state(self):
        return {
            "driver_features": self.driver_features,
            "status": self.status,
            "interrupt_status": self.interrupt_status,
            "config_generation": self.config_generation,
            "legacy": self.legacy,
            "queues": [queue.state() for queue in self.queues],
            "counters": dict(self.counters),
            "device": self.device_state(),
        }

    def restore(self, state):
        self.driver_features = state["driver_features"]
        self.status = state["status"]
        self.config_generation = state["config_generation"]
        self.legacy = state["legacy"]
        for queue, queue_state in zip(self.queues, state["queues"]):
            queue.restore(queue_state)
        self.counters = dict(state["counters"])
        self.restore_device(state["device"])
        self._set_interrupt_status(state["interrupt_status"])

    def device_state(self):
        """Type-specific state for snapshots (plain data)."""
        return {}

    def restore_device(self, state):
        """Inverse of device_state."""

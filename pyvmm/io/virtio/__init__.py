"""virtio: the transport-independent device (device.py), the split virtqueue
(queue.py), the virtio-mmio transport (mmio.py) and the block, entropy and
console back-ends."""

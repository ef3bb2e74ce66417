"""Input/output: the virtio devices and their transports, and the parsing of
QEMU-spelled device options (--drive, --device, --netdev) into them."""

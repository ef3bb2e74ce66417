"""FNV-1a 32, the checksum the bare-metal guests print over what they read
(guests/pci, guests/devices)."""

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def fnv1a32(data, h=FNV_OFFSET):
    """FNV-1a 32 of `data`, continuing from the running hash `h`."""
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & 0xFFFF_FFFF
    return h

"""The disk image the NVMe guest (guests/pci/nvme.S, nvme_smode.S) is run
with, and what it must print and leave in the file."""

from support.fnv import fnv1a32

SECTOR = 512
SECTORS = 2048
SERIAL = "pyvmm0001"


def sector_bytes(n):
    head = b"pyvmm nvme disk, sector %d\n" % n
    return head + bytes((i * 7 + 3 * n + 1) & 0xFF for i in range(len(head), SECTOR))


IMAGE = b"".join(sector_bytes(n) for n in range(SECTORS))
PATTERN = bytes((i * 13 + 5) & 0xFF for i in range(4096))     # what the guest writes at LBA 4

EXPECTED = f"""\
nvme at 00:01.0 class 010802 rev 0x02 pin 0x01
bar0 flags 0x4 size 0x00004000
cap.mqes 0x07ff vs 0x00010400
enabled, csts 0x01
identify: vid 0x1b36 ssvid 0x1af4 mdts 0x07 sqes 0x66 cqes 0x44
  model 'QEMU NVMe Ctrl' serial '{SERIAL}'
namespace 1: nsze {SECTORS:#010x} lbads 0x09
set features: queues 0x003f003f
i/o queues created
wrote and read back 8 sectors at lba 4: fnv1a {fnv1a32(PATTERN):#010x}
sector 0: fnv1a {fnv1a32(IMAGE[:SECTOR]):#010x}
read past the end: status 0x080
opcode 0x7f: status 0x001
flushed
shutdown complete, csts 0x09
done
""".encode()
WRITTEN = IMAGE[:4 * SECTOR] + PATTERN + IMAGE[12 * SECTOR:]

"""A minimal NVMe host driver for the tests, talking to the controller
through the system bus (BAR0) and to memory as the CPU does. Queues and
buffers are pages from `alloc()`; `iova(spa)` gives the address the
controller must be told (the page itself on the bare board, its mapping
when an IOMMU translates the controller's DMA)."""

from pyvmm.io.pci import nvme

PAGE = 4096


class Completion:
    def __init__(self, raw):
        words = [int.from_bytes(raw[4 * i:4 * i + 4], "little") for i in range(4)]
        self.dw0 = words[0]
        self.sqhd, self.sqid = words[2] & 0xFFFF, words[2] >> 16
        self.cid, self.phase = words[3] & 0xFFFF, (words[3] >> 16) & 1
        self.status = (words[3] >> 17) & 0x7FF          # SCT << 8 | SC
        self.dnr = bool(words[3] >> 31)

    def __repr__(self):
        return f"Completion(cid={self.cid}, status={self.status:#x})"


class NvmeDriver:
    def __init__(self, bus, bar0, memory, alloc, iova=lambda spa: spa):
        self.bus, self.bar0, self.memory = bus, bar0, memory
        self.alloc, self.iova = alloc, iova
        self.queues = {}          # qid -> [sq spa, cq spa, entries, sq tail, cq head, phase]
        self.cid = 0

    def reg_read(self, offset, size=4):
        return self.bus.read(self.bar0 + offset, size)

    def reg_write(self, offset, value, size=4):
        self.bus.write(self.bar0 + offset, size, value)

    def enable(self, entries=16):
        self.reg_write(nvme.REG_CC, 0)
        sq, cq = self.alloc(), self.alloc()
        self.reg_write(nvme.REG_AQA, (entries - 1) | (entries - 1) << 16)
        self.reg_write(nvme.REG_ASQ, self.iova(sq), 8)
        self.reg_write(nvme.REG_ACQ, self.iova(cq), 8)
        self.reg_write(nvme.REG_CC, 1 | 6 << 16 | 4 << 20)
        self.queues[0] = [sq, cq, entries, 0, 0, 1]
        return self.reg_read(nvme.REG_CSTS)

    def post(self, qid, opcode, nsid=0, prp1=0, prp2=0, cdw=(), flags=0):
        """Write one submission entry and ring the doorbell; returns its cid."""
        queue = self.queues[qid]
        self.cid = (self.cid + 1) & 0xFFFF
        entry = bytearray(64)
        entry[0], entry[1] = opcode, flags
        entry[2:4] = self.cid.to_bytes(2, "little")
        entry[4:8] = nsid.to_bytes(4, "little")
        entry[24:32] = prp1.to_bytes(8, "little")
        entry[32:40] = prp2.to_bytes(8, "little")
        for i, value in enumerate(cdw):
            entry[40 + 4 * i:44 + 4 * i] = value.to_bytes(4, "little")
        self.memory.write(queue[0] + 64 * queue[3], entry)
        queue[3] = (queue[3] + 1) % queue[2]
        self.reg_write(0x1000 + 8 * qid, queue[3])
        return self.cid

    def reap(self, qid, ring=True):
        """The next completion on `qid`'s completion queue, or None."""
        queue = self.queues[qid]
        raw = self.memory.read(queue[1] + 16 * queue[4], 16)
        done = Completion(raw)
        if done.phase != queue[5]:
            return None
        queue[4] = (queue[4] + 1) % queue[2]
        if queue[4] == 0:
            queue[5] ^= 1
        if ring:
            self.reg_write(0x1004 + 8 * qid, queue[4])
        return done

    def command(self, qid, opcode, **fields):
        cid = self.post(qid, opcode, **fields)
        done = self.reap(qid)
        assert done is not None and done.cid == cid, "no completion"
        return done

    def identify(self, cns, nsid=0):
        page = self.alloc()
        done = self.command(0, nvme.ADMIN_IDENTIFY, nsid=nsid, prp1=self.iova(page), cdw=(cns,))
        return done, self.memory.read(page, 4096)

    def create_io_queues(self, qid=1, entries=16, irq=True):
        sq, cq = self.alloc(), self.alloc()
        a = self.command(0, nvme.ADMIN_CREATE_CQ, prp1=self.iova(cq),
                         cdw=(qid | (entries - 1) << 16, 1 | (2 if irq else 0)))
        b = self.command(0, nvme.ADMIN_CREATE_SQ, prp1=self.iova(sq),
                         cdw=(qid | (entries - 1) << 16, 1 | qid << 16))
        self.queues[qid] = [sq, cq, entries, 0, 0, 1]
        return a, b

    def prps(self, pages, offset=0, list_offset=0):
        """PRP1/PRP2 for a buffer made of `pages` (spa), starting `offset`
        into the first; a PRP list (placed `list_offset` into its page)
        when it needs more than two entries."""
        prp1 = self.iova(pages[0]) + offset
        if len(pages) == 1:
            return prp1, 0
        if len(pages) == 2:
            return prp1, self.iova(pages[1])
        listing = self.alloc()
        at, rest = listing + list_offset, [self.iova(p) for p in pages[1:]]
        prp2 = self.iova(listing) + list_offset
        while rest:
            slots = (PAGE - at % PAGE) // 8
            if len(rest) > slots:
                chunk, rest = rest[:slots - 1], rest[slots - 1:]
                following = self.alloc()
                self.memory.write(at, b"".join(a.to_bytes(8, "little") for a in chunk)
                                  + self.iova(following).to_bytes(8, "little"))
                at = following
            else:
                self.memory.write(at, b"".join(a.to_bytes(8, "little") for a in rest))
                rest = []
        return prp1, prp2

    def io(self, opcode, lba, count, prp1, prp2, qid=1, nsid=1):
        return self.command(qid, opcode, nsid=nsid, prp1=prp1, prp2=prp2,
                            cdw=(lba & 0xFFFF_FFFF, lba >> 32, count - 1))

"""An NVMe controller (NVM Express Base Specification 1.4) on PCI, over a
raw image: the host's "physical" storage controller, laid out as QEMU 7.2's
`-device nvme` (vendor 0x1B36, device 0x0010, class 01.08.02).

The subset is what a driver needs to use a disk:

* BAR0 (16 KiB, 64-bit memory): CAP, VS, INTMS/INTMC, CC, CSTS, AQA, ASQ,
  ACQ, and the doorbells from 0x1000 (stride 4: SQy tail at 0x1000 + 8y,
  CQy head at 0x1004 + 8y).
* Admin commands: Delete/Create I/O Submission Queue, Delete/Create I/O
  Completion Queue, Identify (controller, namespace, active namespace
  list), Set/Get Features (Number of Queues).
* I/O commands on namespace 1: Flush, Write, Read, with data pointers in
  PRP form (PRP1, PRP2 or a chained PRP list).
* Completion entries with phase tags; pin-based interrupts (INTA, vector
  0, maskable with INTMS/INTMC) while any interrupt-enabled completion queue
  holds entries the host has not consumed. No MSI/MSI-X, like every other
  function of this board.

Commands run when the host rings a submission-queue doorbell, one after
another, as long as the completion queue has room. Every outcome is a
status in the completion entry: a bad opcode, queue id, size, PRP offset,
namespace or LBA range, and a DMA the IOMMU or bus mastering refuses
(Data Transfer Error). A submission entry that cannot be fetched or a
completion that cannot be posted is Controller Fatal Status (CSTS.CFS),
as on hardware. None of them is a host exception.

With `sriov_max_vfs` (QEMU's property) the controller is an SR-IOV physical
function (pyvmm.io.pci.sriov): each virtual function it enables is an NVMe
controller of its own (NvmeVirtualFunction) with its own registers, queues
and namespace 1, a slice of the drive: the drive's sectors split into
`sriov_max_vfs` equal parts, VF i owning part i. The PF's own namespace
stays the whole drive.
"""

from pyvmm.io.pci import sriov
from pyvmm.io.pci.config import SUBSYSTEM_QEMU, VENDOR_QUMRANET, PciFunction, RegisterRegion
from pyvmm.io.pci.dma import BusMasterMemory
from pyvmm.io.virtio.blk import SECTOR, BlockBackend
from pyvmm.machine.memory import DmaError

VENDOR_REDHAT = 0x1B36
DEVICE_NVME = 0x0010
CLASS_NVME = 0x010802           # mass storage, non-volatile memory, NVM Express
BAR0_SIZE = 0x4000

# Controller registers.
REG_CAP, REG_VS, REG_INTMS, REG_INTMC, REG_CC = 0x00, 0x08, 0x0C, 0x10, 0x14
REG_CSTS, REG_NSSR, REG_AQA, REG_ASQ, REG_ACQ = 0x1C, 0x20, 0x24, 0x28, 0x30
DOORBELLS = 0x1000

NVME_VERSION = 0x0001_0400      # 1.4
MQES = 0x7FF                    # largest queue: 2048 entries
MPS_MAX = 4                     # pages of 4 KiB .. 64 KiB
MDTS = 7                        # largest transfer: 2**7 pages
MAX_IO_QUEUES = 64
CAP = (MQES | 1 << 16           # CQR: queues must be physically contiguous
       | 0xF << 24              # TO: 7.5 s
       | 1 << 37                # CSS: the NVM command set
       | MPS_MAX << 52)

CC_EN, CSTS_RDY, CSTS_CFS = 1, 1, 2
CSTS_SHST_COMPLETE = 2 << 2
SQE_SIZE, CQE_SIZE = 64, 16
IDENTIFY_SIZE = 4096
NSID = 1

# Status: (status code type << 8) | status code.
SC_SUCCESS = 0x00
SC_INVALID_OPCODE = 0x01
SC_INVALID_FIELD = 0x02
SC_DATA_TRANSFER_ERROR = 0x04
SC_INVALID_NAMESPACE = 0x0B
SC_INVALID_PRP_OFFSET = 0x13
SC_LBA_OUT_OF_RANGE = 0x80
SC_WRITE_PROTECTED = 0x20
SC_CQ_INVALID = 0x100
SC_INVALID_QID = 0x101
SC_INVALID_QSIZE = 0x102
SC_INVALID_VECTOR = 0x108
SC_INVALID_QUEUE_DELETION = 0x10C
STATUS_DNR = 1 << 14            # do not retry (bit 31 of DW3)

# Opcodes.
ADMIN_DELETE_SQ, ADMIN_CREATE_SQ, ADMIN_DELETE_CQ, ADMIN_CREATE_CQ = 0x00, 0x01, 0x04, 0x05
ADMIN_IDENTIFY, ADMIN_SET_FEATURES, ADMIN_GET_FEATURES = 0x06, 0x09, 0x0A
IO_FLUSH, IO_WRITE, IO_READ = 0x00, 0x01, 0x02
FEATURE_NUM_QUEUES = 0x07


class CommandError(Exception):
    """A command ends with `status` in its completion entry."""

    def __init__(self, status):
        super().__init__(f"status {status:#x}")
        self.status = status


class Queue:
    """A submission (cqid set) or completion queue in host memory."""

    def __init__(self, qid, base, size, cqid=None, irq_enabled=True):
        self.qid = qid
        self.base = base
        self.size = size
        self.cqid = cqid
        self.irq_enabled = irq_enabled
        self.head = 0
        self.tail = 0
        self.phase = 1

    def state(self):
        return [self.qid, self.base, self.size, self.cqid, self.irq_enabled,
                self.head, self.tail, self.phase]

    @classmethod
    def from_state(cls, state):
        qid, base, size, cqid, irq_enabled, head, tail, phase = state
        queue = cls(qid, base, size, cqid, irq_enabled)
        queue.head, queue.tail, queue.phase = head, tail, phase
        return queue


def _ascii(text, width):
    return text.encode()[:width].ljust(width, b" ")


class NvmeController(sriov.PhysicalFunction, PciFunction):
    """`path` is the raw image behind namespace 1; `serial` is the
    controller's serial number (QEMU requires one too)."""

    def __init__(self, path, serial, readonly=False, snapshot=False, model="QEMU NVMe Ctrl",
                 sriov_max_vfs=0):
        if sriov_max_vfs:
            self.config_size = sriov.EXTENDED_CONFIG_SIZE
        super().__init__(VENDOR_REDHAT, DEVICE_NVME, CLASS_NVME, revision=2,
                         subsystem_vendor_id=VENDOR_QUMRANET, subsystem_id=SUBSYSTEM_QEMU,
                         interrupt_pin=1, name="nvme")
        self.backend = BlockBackend(path, readonly=readonly, snapshot=snapshot)
        self._init_controller(serial, model, 0, self.backend.sectors)
        self.sriov = None
        if sriov_max_vfs:
            self.sriov = sriov.SriovCapability(self, sriov_max_vfs, DEVICE_NVME, BAR0_SIZE)

    def _init_controller(self, serial, model, first_sector, sectors):
        """What a PF and a VF share: BAR0, the controller state, namespace 1
        as sectors [first_sector, first_sector + sectors) of the drive."""
        self.serial = serial
        self.model = model
        self.ns_first_sector = first_sector
        self.ns_sectors = sectors
        self.add_bar(0, BAR0_SIZE, RegisterRegion(self), is64=True)
        self.memory = None
        self.commands = {}
        self.errors = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.doorbell_writes = 0
        self.doorbell_errors = 0
        self.fatal_errors = 0
        self._controller_reset()
        self.intms = 0
        self.cc = self.aqa = self.asq = self.acq = 0

    # -- the PCI function ---------------------------------------------------------

    def attach_memory(self, memory):
        self.memory = BusMasterMemory(memory, self)

    def reset(self):
        super().reset()
        self._controller_reset()
        self.intms = 0
        self.cc = self.aqa = self.asq = self.acq = 0
        self.disable_vfs_on_reset()

    def close(self):
        if self.sriov is not None:
            for vf in self.sriov.vfs:
                vf.close()
        self.backend.close()

    # -- SR-IOV -------------------------------------------------------------------------

    def create_vf(self, index):
        return NvmeVirtualFunction(self, index)

    # -- registers ----------------------------------------------------------------------

    def register_read(self, offset, size):
        """Registers answer aligned 4- and 8-byte reads; anything else reads
        0, as QEMU's controller does."""
        if size not in (4, 8) or offset % size or offset >= DOORBELLS:
            return 0
        layout = bytearray(REG_ACQ + 8)
        for at, width, value in ((REG_CAP, 8, CAP), (REG_VS, 4, NVME_VERSION),
                                 (REG_INTMS, 4, self.intms), (REG_INTMC, 4, self.intms),
                                 (REG_CC, 4, self.cc), (REG_CSTS, 4, self.csts),
                                 (REG_AQA, 4, self.aqa), (REG_ASQ, 8, self.asq), (REG_ACQ, 8, self.acq)):
            layout[at:at + width] = value.to_bytes(width, "little")
        return int.from_bytes(layout[offset:offset + size], "little") if offset < len(layout) else 0

    def register_write(self, offset, size, value):
        if size not in (4, 8) or offset % size:
            return
        if offset >= DOORBELLS:
            if size == 4:
                self._doorbell((offset - DOORBELLS) // 4, value & 0xFFFF_FFFF)
            return
        if size == 8:
            self.register_write(offset, 4, value & 0xFFFF_FFFF)
            self.register_write(offset + 4, 4, value >> 32)
            return
        if offset == REG_INTMS:
            self.intms |= value & 1          # one vector: pin-based interrupts
            self._update_irq()
        elif offset == REG_INTMC:
            self.intms &= ~value & 1
            self._update_irq()
        elif offset == REG_CC:
            self._write_cc(value)
        elif offset == REG_AQA:
            self.aqa = value & 0x0FFF_0FFF
        elif offset in (REG_ASQ, REG_ASQ + 4, REG_ACQ, REG_ACQ + 4):
            name = "asq" if offset in (REG_ASQ, REG_ASQ + 4) else "acq"
            shift = 32 * (offset % 8 // 4)
            current = getattr(self, name)
            current = (current & ~(0xFFFF_FFFF << shift)) | (value << shift)
            setattr(self, name, current & ~0xFFF)
        # CAP, VS and CSTS are read-only; NSSR (subsystem reset) is not offered (CAP.NSSRS = 0).

    def _write_cc(self, value):
        was_enabled = self.cc & CC_EN
        self.cc = value & 0x00FF_FFF1
        if value & CC_EN and not was_enabled:
            self._start()
        elif not value & CC_EN and was_enabled:
            self._controller_reset()
        if (value >> 14) & 3 and self.csts & CSTS_RDY:
            # A shutdown notification: everything written reaches the image.
            self.backend.flush()
            self.csts |= CSTS_SHST_COMPLETE

    def _controller_reset(self):
        self.sqs = {}
        self.cqs = {}
        self.csts = 0
        self.num_queues = MAX_IO_QUEUES
        self.page_size = 4096
        self._update_irq()

    def _start(self):
        mps = (self.cc >> 7) & 0xF
        asqs, acqs = (self.aqa & 0xFFF) + 1, ((self.aqa >> 16) & 0xFFF) + 1
        css = (self.cc >> 4) & 7
        if (not self.asq or not self.acq or mps > MPS_MAX or css != 0
                or asqs < 2 or acqs < 2):
            self.csts = CSTS_CFS
            self.fatal_errors += 1
            return
        self.page_size = 1 << (12 + mps)
        if self.asq % self.page_size or self.acq % self.page_size:
            self.csts = CSTS_CFS
            self.fatal_errors += 1
            return
        self.cqs[0] = Queue(0, self.acq, acqs)
        self.sqs[0] = Queue(0, self.asq, asqs, cqid=0)
        self.csts = CSTS_RDY

    # -- doorbells and the command loop ---------------------------------------------------

    def _doorbell(self, index, value):
        self.doorbell_writes += 1
        if not self.csts & CSTS_RDY or self.csts & CSTS_CFS:
            return
        qid, is_cq = index // 2, index % 2
        queue = (self.cqs if is_cq else self.sqs).get(qid)
        if queue is None or value >= queue.size:
            # The specification reports these through an asynchronous event,
            # which this controller does not offer: the write is dropped.
            self.doorbell_errors += 1
            return
        if is_cq:
            queue.head = value
            for sq in sorted(self.sqs.values(), key=lambda q: q.qid):
                if sq.cqid == qid:
                    self._run(sq)
        else:
            queue.tail = value
            self._run(queue)
        self._update_irq()

    def _run(self, sq):
        while sq.head != sq.tail and not self.csts & CSTS_CFS and sq.qid in self.sqs:
            cq = self.cqs[sq.cqid]
            if (cq.tail + 1) % cq.size == cq.head:
                return      # the completion queue is full: wait for the host
            try:
                entry = self.memory.read(sq.base + sq.head * SQE_SIZE, SQE_SIZE)
            except DmaError:
                self._fatal()
                return
            sq.head = (sq.head + 1) % sq.size
            cid = int.from_bytes(entry[2:4], "little")
            try:
                result = self._execute(sq.qid, entry)
                status = SC_SUCCESS
            except CommandError as error:
                result, status = 0, error.status
                self.errors += 1
            if status != SC_SUCCESS:
                status |= STATUS_DNR
            self._complete(cq, sq, cid, status, result)

    def _complete(self, cq, sq, cid, status, result):
        dw2 = sq.head | sq.qid << 16
        dw3 = cid | cq.phase << 16 | status << 17
        entry = b"".join(x.to_bytes(4, "little") for x in (result & 0xFFFF_FFFF, 0, dw2, dw3))
        try:
            self.memory.write(cq.base + cq.tail * CQE_SIZE, entry)
        except DmaError:
            self._fatal()
            return
        cq.tail = (cq.tail + 1) % cq.size
        if cq.tail == 0:
            cq.phase ^= 1

    def _fatal(self):
        self.csts |= CSTS_CFS
        self.fatal_errors += 1

    def _update_irq(self):
        pending = any(cq.irq_enabled and cq.head != cq.tail for cq in self.cqs.values())
        self.set_irq(pending and not self.intms & 1)

    # -- commands ---------------------------------------------------------------------

    def _execute(self, qid, entry):
        opcode = entry[0]
        key = f"{'admin' if qid == 0 else 'io'}_{opcode:#04x}"
        self.commands[key] = self.commands.get(key, 0) + 1
        if entry[1] & 0xC0:
            raise CommandError(SC_INVALID_FIELD)     # PSDT: SGLs are not offered
        dword = [int.from_bytes(entry[4 * i:4 * i + 4], "little") for i in range(16)]
        if qid == 0:
            handler = _ADMIN.get(opcode)
        else:
            handler = _IO.get(opcode)
        if handler is None:
            raise CommandError(SC_INVALID_OPCODE)
        return handler(self, dword) or 0

    # ---- data pointers

    def _prp_segments(self, prp1, prp2, length):
        """(address, length) pieces of a PRP1/PRP2 transfer of `length` bytes."""
        page = self.page_size
        if prp1 & 3:
            raise CommandError(SC_INVALID_PRP_OFFSET)
        first = min(length, page - prp1 % page)
        segments = [(prp1, first)]
        left = length - first
        if left == 0:
            return segments
        if left <= page:
            if prp2 % page:
                raise CommandError(SC_INVALID_PRP_OFFSET)
            segments.append((prp2, left))
            return segments
        pointer = prp2
        if pointer & 7:
            raise CommandError(SC_INVALID_PRP_OFFSET)
        while left > 0:
            slots = (page - pointer % page) // 8
            try:
                raw = self.memory.read(pointer, 8 * slots)
            except DmaError:
                raise CommandError(SC_DATA_TRANSFER_ERROR) from None
            entries = [int.from_bytes(raw[8 * i:8 * i + 8], "little") for i in range(slots)]
            for i, address in enumerate(entries):
                if i == slots - 1 and left > page:
                    pointer = address          # the last slot chains to the next list page
                    if pointer & 7:
                        raise CommandError(SC_INVALID_PRP_OFFSET)
                    break
                if address % page:
                    raise CommandError(SC_INVALID_PRP_OFFSET)
                take = min(left, page)
                segments.append((address, take))
                left -= take
                if left == 0:
                    break
        return segments

    def _to_host(self, dword, data):
        """Device -> host memory through PRP1/PRP2."""
        done = 0
        try:
            for address, length in self._prp_segments(_prp1(dword), _prp2(dword), len(data)):
                self.memory.write(address, data[done:done + length])
                done += length
        except DmaError:
            raise CommandError(SC_DATA_TRANSFER_ERROR) from None

    def _from_host(self, dword, length):
        try:
            return b"".join(self.memory.read(address, n)
                            for address, n in self._prp_segments(_prp1(dword), _prp2(dword), length))
        except DmaError:
            raise CommandError(SC_DATA_TRANSFER_ERROR) from None

    # ---- admin

    def _create_cq(self, dword):
        qid, size = dword[10] & 0xFFFF, (dword[10] >> 16) + 1
        contiguous, irq_enabled, vector = dword[11] & 1, bool(dword[11] & 2), dword[11] >> 16
        base = _prp1(dword)
        if not qid or qid > self.num_queues or qid in self.cqs:
            raise CommandError(SC_INVALID_QID)
        if size < 2 or size > MQES + 1:
            raise CommandError(SC_INVALID_QSIZE)
        if not contiguous:
            raise CommandError(SC_INVALID_FIELD)
        if vector:
            raise CommandError(SC_INVALID_VECTOR)        # pin-based: vector 0 only
        if not base or base % self.page_size:
            raise CommandError(SC_INVALID_PRP_OFFSET)
        self.cqs[qid] = Queue(qid, base, size, irq_enabled=irq_enabled)

    def _create_sq(self, dword):
        qid, size = dword[10] & 0xFFFF, (dword[10] >> 16) + 1
        contiguous, cqid = dword[11] & 1, dword[11] >> 16
        base = _prp1(dword)
        if not cqid or cqid not in self.cqs:
            raise CommandError(SC_CQ_INVALID)
        if not qid or qid > self.num_queues or qid in self.sqs:
            raise CommandError(SC_INVALID_QID)
        if size < 2 or size > MQES + 1:
            raise CommandError(SC_INVALID_QSIZE)
        if not contiguous:
            raise CommandError(SC_INVALID_FIELD)
        if not base or base % self.page_size:
            raise CommandError(SC_INVALID_PRP_OFFSET)
        self.sqs[qid] = Queue(qid, base, size, cqid=cqid)

    def _delete_sq(self, dword):
        qid = dword[10] & 0xFFFF
        if not qid or qid not in self.sqs:
            raise CommandError(SC_INVALID_QID)
        del self.sqs[qid]

    def _delete_cq(self, dword):
        qid = dword[10] & 0xFFFF
        if not qid or qid not in self.cqs:
            raise CommandError(SC_INVALID_QID)
        if any(sq.cqid == qid for sq in self.sqs.values()):
            raise CommandError(SC_INVALID_QUEUE_DELETION)
        del self.cqs[qid]

    def _identify(self, dword):
        cns, nsid = dword[10] & 0xFF, dword[1]
        if cns == 0:
            if nsid != NSID:
                raise CommandError(SC_INVALID_NAMESPACE)
            data = self._identify_namespace()
        elif cns == 1:
            data = self._identify_controller()
        elif cns == 2:
            data = bytearray(IDENTIFY_SIZE)
            if nsid < NSID:
                data[0:4] = NSID.to_bytes(4, "little")
        else:
            raise CommandError(SC_INVALID_FIELD)
        self._to_host(dword, bytes(data))

    def _identify_controller(self):
        data = bytearray(IDENTIFY_SIZE)
        data[0:2] = VENDOR_REDHAT.to_bytes(2, "little")
        data[2:4] = VENDOR_QUMRANET.to_bytes(2, "little")
        data[4:24] = _ascii(self.serial, 20)
        data[24:64] = _ascii(self.model, 40)
        data[64:72] = _ascii("1.0", 8)
        data[72] = 6                                         # RAB
        data[73:76] = bytes((0x00, 0x54, 0x52))              # IEEE OUI 52:54:00
        data[77] = MDTS
        data[80:84] = NVME_VERSION.to_bytes(4, "little")
        data[111] = 1                                        # CNTRLTYPE: I/O controller
        data[512] = 0x66                                     # SQES: 64-byte entries
        data[513] = 0x44                                     # CQES: 16-byte entries
        data[516:520] = NSID.to_bytes(4, "little")           # NN: one namespace
        data[768:768 + 256] = f"nqn.2019-08.org.qemu:{self.serial}".encode()[:255].ljust(256, b"\0")
        return data

    def _identify_namespace(self):
        data = bytearray(IDENTIFY_SIZE)
        blocks = self.ns_sectors.to_bytes(8, "little")
        data[0:8] = data[8:16] = data[16:24] = blocks          # NSZE, NCAP, NUSE
        data[26] = 0                                           # FLBAS: format 0
        data[128:132] = (9 << 16).to_bytes(4, "little")        # LBAF0: 512-byte blocks
        return data

    def _set_features(self, dword):
        if dword[10] & 0xFF != FEATURE_NUM_QUEUES:
            raise CommandError(SC_INVALID_FIELD)
        if self.sqs.keys() - {0} or self.cqs.keys() - {0}:
            raise CommandError(SC_INVALID_FIELD)   # only before any I/O queue exists
        if dword[11] & 0xFFFF == 0xFFFF or dword[11] >> 16 == 0xFFFF:
            raise CommandError(SC_INVALID_FIELD)
        return (MAX_IO_QUEUES - 1) | (MAX_IO_QUEUES - 1) << 16

    def _get_features(self, dword):
        if dword[10] & 0xFF != FEATURE_NUM_QUEUES:
            raise CommandError(SC_INVALID_FIELD)
        return (self.num_queues - 1) | (self.num_queues - 1) << 16

    # ---- I/O

    def _range(self, dword):
        if dword[1] != NSID:
            raise CommandError(SC_INVALID_NAMESPACE)
        lba, count = dword[10] | dword[11] << 32, (dword[12] & 0xFFFF) + 1
        if lba + count > self.ns_sectors:
            raise CommandError(SC_LBA_OUT_OF_RANGE)
        if count * SECTOR > (1 << MDTS) * self.page_size:
            raise CommandError(SC_INVALID_FIELD)
        return (self.ns_first_sector + lba) * SECTOR, count * SECTOR

    def _read(self, dword):
        offset, length = self._range(dword)
        data = bytearray(length)
        self.backend.read_into([memoryview(data)], offset)
        self._to_host(dword, data)
        self.bytes_read += length

    def _write(self, dword):
        offset, length = self._range(dword)
        if self.backend.readonly:
            raise CommandError(SC_WRITE_PROTECTED)
        data = self._from_host(dword, length)
        self.backend.write_from([memoryview(data)], offset)
        self.bytes_written += length

    def _flush(self, dword):
        if dword[1] not in (NSID, 0xFFFF_FFFF):
            raise CommandError(SC_INVALID_NAMESPACE)
        self.backend.flush()

    # -- snapshots and counters -------------------------------------------------------

    def state(self):
        return dict(super().state(), nvme={
            "cc": self.cc, "csts": self.csts, "aqa": self.aqa, "asq": self.asq, "acq": self.acq,
            "intms": self.intms, "page_size": self.page_size,
            "num_queues": self.num_queues,
            "sqs": [q.state() for q in self.sqs.values()],
            "cqs": [q.state() for q in self.cqs.values()],
            "drive": self.backend.state(),
            "vfs": [vf.state() for vf in self.sriov.vfs] if self.sriov is not None else [],
        })

    def restore(self, state):
        if self.sriov is not None:
            for vf in self.sriov.vfs:
                vf.close()
            self.sriov.vfs = []
        super().restore(state)
        nvme = state["nvme"]
        self.backend.restore(nvme["drive"])
        self._restore_controller(nvme)
        if self.sriov is not None:
            if len(nvme["vfs"]) != (self.sriov.num_vfs if self.sriov.enabled else 0):
                raise ValueError(f"{self.name}: the snapshot's VFs disagree with its SR-IOV registers")
            self.sriov.vfs = [self.create_vf(i) for i in range(len(nvme["vfs"]))]
            for vf, vf_state in zip(self.sriov.vfs, nvme["vfs"]):
                vf.restore(vf_state)
            self.vfs_changed()

    def _restore_controller(self, nvme):
        for name in ("cc", "csts", "aqa", "asq", "acq", "intms", "page_size", "num_queues"):
            setattr(self, name, nvme[name])
        self.sqs = {q[0]: Queue.from_state(q) for q in nvme["sqs"]}
        self.cqs = {q[0]: Queue.from_state(q) for q in nvme["cqs"]}

    def stats(self):
        out = dict(super().stats(), nvme_errors=self.errors, nvme_bytes_read=self.bytes_read,
                   nvme_bytes_written=self.bytes_written, nvme_doorbell_writes=self.doorbell_writes,
                   nvme_doorbell_errors=self.doorbell_errors, nvme_fatal_errors=self.fatal_errors)
        for key, count in sorted(self.commands.items()):
            out[f"nvme_{key}"] = count
        if self.memory is not None:
            out.update(self.memory.stats())
        return out


def _prp1(dword):
    return dword[6] | dword[7] << 32


def _prp2(dword):
    return dword[8] | dword[9] << 32


class NvmeVirtualFunction(sriov.VirtualFunction, NvmeController):
    """Virtual function `index` of an SR-IOV NVMe controller `pf`: an NVMe
    controller over its slice of the PF's drive, whose configuration space
    follows the SR-IOV rules for a VF: Vendor and Device ID read 0xFFFF
    (software takes them from the PF and its VF Device ID), the BAR
    registers read 0 and BAR0 decodes inside the PF's VF BAR0 window, and
    of the command register only Bus Master Enable and INTx Disable are
    writable. It keeps the PF's INTA pin, as QEMU 7.2's VFs do (later QEMU
    gives VFs none, as they use MSI-X, which no function of this board has)."""

    def __init__(self, pf, index):
        PciFunction.__init__(self, 0xFFFF, 0xFFFF, CLASS_NVME, revision=2,
                             subsystem_vendor_id=VENDOR_QUMRANET, subsystem_id=SUBSYSTEM_QEMU,
                             interrupt_pin=1, name=f"nvme-vf{index}")
        self.pf = pf
        self.index = index
        self.backend = pf.backend
        self.sriov = None
        part = pf.backend.sectors // pf.sriov.total_vfs
        self._init_controller(pf.serial, pf.model, index * part, part)
        self.vf_config_rules()

    def close(self):
        """The drive is the PF's: what the VF wrote reaches it; the PF closes it."""
        if self.backend.fd is not None:
            self.backend.flush()

    def state(self):
        state = super().state()
        del state["nvme"]["drive"]
        return state

    def restore(self, state):
        PciFunction.restore(self, state)
        self._restore_controller(state["nvme"])


_ADMIN = {ADMIN_DELETE_SQ: NvmeController._delete_sq, ADMIN_CREATE_SQ: NvmeController._create_sq,
          ADMIN_DELETE_CQ: NvmeController._delete_cq, ADMIN_CREATE_CQ: NvmeController._create_cq,
          ADMIN_IDENTIFY: NvmeController._identify, ADMIN_SET_FEATURES: NvmeController._set_features,
          ADMIN_GET_FEATURES: NvmeController._get_features}
_IO = {IO_FLUSH: NvmeController._flush, IO_WRITE: NvmeController._write, IO_READ: NvmeController._read}

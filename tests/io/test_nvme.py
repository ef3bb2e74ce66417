"""The NVMe controller as a host driver uses it, on the bare board and with
its DMA translated by the RISC-V IOMMU: identify, queues, reads and writes
with PRPs into the disk file, completion statuses for every bad command,
refused DMA as a status plus a recorded IOMMU fault with memory untouched,
and a remapping that takes effect exactly at its invalidation."""

import os

import pytest

from iommu_tables import READ_ONLY, GStage, Hypervisor, ram_hash
from nvme_driver import PAGE, NvmeDriver
from pci_firmware import Firmware, make_host
from pyvmm.io.iommu import RiscvIommu, regs
from pyvmm.io.options import OptionError, build_devices
from pyvmm.io.pci import nvme
from pyvmm.io.pci.nvme import NvmeController
from pyvmm.machine.memory import GuestMemory

RAM_BASE, RAM_SIZE = 0x8000_0000, 8 << 20
SECTORS = 2048


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(range(256)) * (SECTORS * 2))
    return path


class Board:
    """Bus, RAM and PCI host with controllers; with `iommu`, the hypervisor
    owns the IOMMU and gives each controller a domain of its own."""

    def __init__(self, *controllers, iommu=False):
        self.memory = GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE)
        self.host, self.bus, self.plic = make_host(*controllers)
        self.hv = None
        if iommu:
            self.hv = Hypervisor(self.memory, iommu=RiscvIommu())
            self.host.attach_iommu(self.hv.iommu)
            self.next_page = None
        else:
            self.next_page = RAM_BASE
        self.host.attach_memory(self.memory)
        self.firmware = Firmware(self.bus, self.host.high_mmio_base)
        self.firmware.enumerate()
        self.domains = {}

    def alloc(self):
        if self.hv is not None:
            return self.hv.alloc()
        page, self.next_page = self.next_page, self.next_page + PAGE
        return page

    def driver(self, device, gscid=None):
        """A driver for the controller at 00:device.0; through the IOMMU, its
        pages are mapped at IOVA 0x1000_0000 + page offset in RAM."""
        bar0 = self.firmware.cpu_address(device, 0, 0)
        if self.hv is None:
            return NvmeDriver(self.bus, bar0, self.memory, self.alloc)
        table = GStage(self.hv)
        self.hv.set_context(device << 3, table.iohgatp(gscid or device))
        self.domains[device] = table

        def alloc():
            page = self.hv.alloc()
            table.map(iova(page), page)
            return page

        def iova(spa):
            return 0x1000_0000 + (spa - RAM_BASE)
        return NvmeDriver(self.bus, bar0, self.memory, alloc, iova)


def ready(driver):
    assert driver.enable() == nvme.CSTS_RDY
    a, b = driver.create_io_queues()
    assert a.status == b.status == 0
    return driver


def test_identify_write_read_flush_and_shutdown(disk):
    controller = NvmeController(str(disk), serial="deadbeef")
    board = Board(controller)
    assert board.firmware.found[1] == (1, 0, 0x1B36, 0x0010)
    assert board.firmware.cfg_read(1, 0, 8) >> 8 == 0x010802
    driver = NvmeDriver(board.bus, board.firmware.cpu_address(1, 0, 0), board.memory, board.alloc)
    cap = driver.reg_read(nvme.REG_CAP, 8)
    assert cap & 0xFFFF == 0x7FF and (cap >> 37) & 1 and driver.reg_read(nvme.REG_VS) == 0x10400
    ready(driver)
    done, data = driver.identify(1)
    assert done.status == 0 and data[0:2] == b"\x36\x1b" and data[4:12] == b"deadbeef"
    assert data[24:38] == b"QEMU NVMe Ctrl" and data[77] == nvme.MDTS
    done, data = driver.identify(0, nsid=1)
    assert int.from_bytes(data[0:8], "little") == SECTORS and data[130] == 9
    done, data = driver.identify(2)
    assert data[0:8] == b"\x01\0\0\0\0\0\0\0"

    pages = [board.alloc() for _ in range(3)]
    payload = os.urandom(3 * PAGE)
    for i, page in enumerate(pages):
        board.memory.write(page, payload[i * PAGE:(i + 1) * PAGE])
    prp1, prp2 = driver.prps(pages)
    assert driver.io(nvme.IO_WRITE, 100, 24, prp1, prp2).status == 0
    back = [board.alloc() for _ in range(3)]
    assert driver.io(nvme.IO_READ, 100, 24, *driver.prps(back)).status == 0
    assert b"".join(board.memory.read(p, PAGE) for p in back) == payload
    assert driver.command(1, nvme.IO_FLUSH, nsid=1).status == 0
    driver.reg_write(nvme.REG_CC, driver.reg_read(nvme.REG_CC) | 1 << 14)   # normal shutdown
    assert driver.reg_read(nvme.REG_CSTS) & 0xC == nvme.CSTS_SHST_COMPLETE
    controller.close()
    assert disk.read_bytes()[100 * 512:100 * 512 + 3 * PAGE] == payload
    stats = controller.stats()
    assert stats["nvme_bytes_written"] == stats["nvme_bytes_read"] == 3 * PAGE
    assert stats["nvme_io_0x01"] == stats["nvme_io_0x02"] == 1


def test_prp_list_with_offset_and_chained_list(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller)
    driver = ready(board.driver(1))
    pages = [board.alloc() for _ in range(9)]
    payload = os.urandom(8 * PAGE)
    # Starts 0x200 into the first page: 9 pages for 32 KiB; the list starts
    # 0xFF0 into its page, so its second slot chains to a second list page.
    flat = bytearray(9 * PAGE)
    flat[0x200:0x200 + len(payload)] = payload
    for i, page in enumerate(pages):
        board.memory.write(page, flat[i * PAGE:(i + 1) * PAGE])
    prp1, prp2 = driver.prps(pages, offset=0x200, list_offset=0xFF0)
    assert driver.io(nvme.IO_WRITE, 8, 64, prp1, prp2).status == 0
    controller.backend.flush()
    assert disk.read_bytes()[8 * 512:8 * 512 + len(payload)] == payload


def test_bad_commands_complete_with_error_statuses(tmp_path, disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller)
    driver = ready(board.driver(1))
    page = board.alloc()
    cases = [
        (dict(qid=0, opcode=0x7E), nvme.SC_INVALID_OPCODE),
        (dict(qid=1, opcode=0x7E), nvme.SC_INVALID_OPCODE),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(0 | 15 << 16, 1)), nvme.SC_INVALID_QID),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(65 | 15 << 16, 1)), nvme.SC_INVALID_QID),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(1 | 15 << 16, 1)), nvme.SC_INVALID_QID),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(2, 1)), nvme.SC_INVALID_QSIZE),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(2 | 0x800 << 16, 1)), nvme.SC_INVALID_QSIZE),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(2 | 15 << 16, 1 | 3 << 16)),
         nvme.SC_INVALID_VECTOR),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page + 8, cdw=(2 | 15 << 16, 1)),
         nvme.SC_INVALID_PRP_OFFSET),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_CQ, prp1=page, cdw=(2 | 15 << 16, 0)), nvme.SC_INVALID_FIELD),
        (dict(qid=0, opcode=nvme.ADMIN_CREATE_SQ, prp1=page, cdw=(2 | 15 << 16, 1 | 9 << 16)), nvme.SC_CQ_INVALID),
        (dict(qid=0, opcode=nvme.ADMIN_DELETE_CQ, cdw=(1,)), nvme.SC_INVALID_QUEUE_DELETION),
        (dict(qid=0, opcode=nvme.ADMIN_DELETE_SQ, cdw=(7,)), nvme.SC_INVALID_QID),
        (dict(qid=0, opcode=nvme.ADMIN_DELETE_SQ, cdw=(0,)), nvme.SC_INVALID_QID),
        (dict(qid=0, opcode=nvme.ADMIN_IDENTIFY, prp1=page, cdw=(9,)), nvme.SC_INVALID_FIELD),
        (dict(qid=0, opcode=nvme.ADMIN_IDENTIFY, nsid=2, prp1=page, cdw=(0,)), nvme.SC_INVALID_NAMESPACE),
        (dict(qid=0, opcode=nvme.ADMIN_SET_FEATURES, cdw=(0x07, 3)), nvme.SC_INVALID_FIELD),  # queues exist
        (dict(qid=0, opcode=nvme.ADMIN_GET_FEATURES, cdw=(0x02,)), nvme.SC_INVALID_FIELD),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=2, prp1=page, cdw=(0, 0, 0)), nvme.SC_INVALID_NAMESPACE),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=page, cdw=(SECTORS - 1, 0, 1)), nvme.SC_LBA_OUT_OF_RANGE),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=page, cdw=(0, 1, 0)), nvme.SC_LBA_OUT_OF_RANGE),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=page, cdw=(0, 0, 1024)), nvme.SC_INVALID_FIELD),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=page + 2, cdw=(0, 0, 0)), nvme.SC_INVALID_PRP_OFFSET),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=page + 0xE00, prp2=page + 8, cdw=(0, 0, 1)),
         nvme.SC_INVALID_PRP_OFFSET),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=page, cdw=(0, 0, 0), flags=0x40), nvme.SC_INVALID_FIELD),
        (dict(qid=1, opcode=nvme.IO_READ, nsid=1, prp1=0x4000_0000, cdw=(0, 0, 0)),
         nvme.SC_DATA_TRANSFER_ERROR),
    ]
    for fields, status in cases:
        done = driver.command(**fields)
        assert (done.status, done.dnr) == (status, True), fields
    assert controller.stats()["nvme_errors"] == len(cases)
    # The controller still works, and the admin commands that should succeed do.
    assert driver.command(0, nvme.ADMIN_GET_FEATURES, cdw=(0x07,)).dw0 == 63 | 63 << 16
    assert driver.command(0, nvme.ADMIN_DELETE_SQ, cdw=(1,)).status == 0
    assert driver.command(0, nvme.ADMIN_DELETE_CQ, cdw=(1,)).status == 0


def test_read_only_drive_refuses_writes(disk):
    controller = NvmeController(str(disk), serial="s", readonly=True)
    driver = ready(Board(controller).driver(1))
    page = driver.alloc()
    assert driver.io(nvme.IO_WRITE, 0, 1, page, 0).status == nvme.SC_WRITE_PROTECTED
    assert driver.io(nvme.IO_READ, 0, 1, page, 0).status == 0


def test_enable_with_bad_admin_queues_is_controller_fatal(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller)
    driver = board.driver(1)
    driver.reg_write(nvme.REG_AQA, 15 | 15 << 16)
    driver.reg_write(nvme.REG_ASQ, 0, 8)
    driver.reg_write(nvme.REG_ACQ, RAM_BASE, 8)
    driver.reg_write(nvme.REG_CC, 1)
    assert driver.reg_read(nvme.REG_CSTS) == nvme.CSTS_CFS
    driver.reg_write(nvme.REG_CC, 0)
    assert driver.enable() == nvme.CSTS_RDY
    driver.reg_write(0x1000, 16)                           # past the 16-entry admin queue
    driver.reg_write(0x1000 + 8 * 5, 1)                    # no queue 5
    assert controller.stats()["nvme_doorbell_errors"] == 2
    assert driver.reg_read(nvme.REG_CSTS) == nvme.CSTS_RDY


def test_intx_follows_unconsumed_completions(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller)
    driver = ready(board.driver(1))
    driver.post(1, nvme.IO_FLUSH, nsid=1)
    assert board.plic.levels[33]                             # INTA of device 1: line 1
    driver.reg_write(nvme.REG_INTMS, 1)
    assert not board.plic.levels[33]
    driver.reg_write(nvme.REG_INTMC, 1)
    assert board.plic.levels[33]
    assert driver.reap(1).status == 0
    assert not board.plic.levels[33]


def test_dma_through_the_iommu(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller, iommu=True)
    driver = ready(board.driver(1))
    pages = [driver.alloc() for _ in range(4)]
    payload = os.urandom(4 * PAGE)
    for i, page in enumerate(pages):
        board.memory.write(page, payload[i * PAGE:(i + 1) * PAGE])
    assert driver.io(nvme.IO_WRITE, 0, 32, *driver.prps(pages)).status == 0
    back = [driver.alloc() for _ in range(4)]
    assert driver.io(nvme.IO_READ, 0, 32, *driver.prps(back)).status == 0
    assert b"".join(board.memory.read(p, PAGE) for p in back) == payload
    stats = board.hv.iommu.stats()
    assert stats["iommu_translations"] > 10 and stats["iommu_iotlb_hits"] > 0
    assert stats["iommu_faults"] == 0
    assert controller.stats()["dma_refused_by_iommu"] == 0


def test_refused_dma_is_an_error_status_a_fault_and_no_memory_change(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller, iommu=True)
    driver = ready(board.driver(1))
    hv = board.hv
    sq, cq = driver.queues[1][:2]                            # the driver writes one, the controller the other
    unmapped = board.alloc()                                 # never mapped for the controller
    readonly = board.alloc()
    board.domains[1].map(driver.iova(readonly), readonly, READ_ONLY)
    skip = [(hv.fq, hv.fq + PAGE), (sq, sq + PAGE), (cq, cq + PAGE)]
    before, image = ram_hash(board.memory, skip), disk.read_bytes()
    assert driver.io(nvme.IO_READ, 0, 8, driver.iova(unmapped), 0).status == nvme.SC_DATA_TRANSFER_ERROR
    assert driver.io(nvme.IO_READ, 0, 8, driver.iova(readonly), 0).status == nvme.SC_DATA_TRANSFER_ERROR
    assert driver.io(nvme.IO_WRITE, 0, 8, driver.iova(unmapped), 0).status == nvme.SC_DATA_TRANSFER_ERROR
    assert driver.io(nvme.IO_READ, 0, 8, unmapped, 0).status == nvme.SC_DATA_TRANSFER_ERROR
    assert ram_hash(board.memory, skip) == before
    controller.backend.flush()
    assert disk.read_bytes() == image
    faults = hv.faults()
    assert [(f[0], f[1], f[2]) for f in faults] == [
        (regs.CAUSE_WRITE_GUEST_PAGE, regs.TTYP_WRITE, 0x08),
        (regs.CAUSE_WRITE_GUEST_PAGE, regs.TTYP_WRITE, 0x08),
        (regs.CAUSE_READ_GUEST_PAGE, regs.TTYP_READ, 0x08),
        (regs.CAUSE_WRITE_GUEST_PAGE, regs.TTYP_WRITE, 0x08)]
    assert [f[3] for f in faults] == [driver.iova(unmapped), driver.iova(readonly),
                                      driver.iova(unmapped), unmapped]
    # A read-only page is fine as the source of a write command.
    assert driver.io(nvme.IO_WRITE, 0, 8, driver.iova(readonly), 0).status == 0


def test_remapping_takes_effect_exactly_at_the_invalidation(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller, iommu=True)
    driver = ready(board.driver(1, gscid=42))
    first, second = board.alloc(), board.alloc()
    window = 0x2000_0000                                     # the buffer's IOVA
    board.domains[1].map(window, first)
    reads = []
    for step in range(3):
        assert driver.io(nvme.IO_READ, step, 1, window, 0).status == 0
        reads.append((board.memory.read(first, 512), board.memory.read(second, 512)))
        if step == 0:
            board.domains[1].map(window, second)              # not yet invalidated
        if step == 1:
            board.hv.iotinval_gvma(gscid=42, gpa=window)
    sector = [disk.read_bytes()[i * 512:(i + 1) * 512] for i in range(3)]
    assert reads[0][0] == sector[0] and reads[0][1] == bytes(512)
    assert reads[1][0] == sector[1] and reads[1][1] == bytes(512)      # the stale IOTLB entry
    assert reads[2][0] == sector[1] and reads[2][1] == sector[2]       # after IOTINVAL.GVMA


def test_two_controllers_in_two_domains_are_isolated(tmp_path, disk):
    other = tmp_path / "other.img"
    other.write_bytes(b"\xAA" * (SECTORS * 512))
    a, b = NvmeController(str(disk), serial="a"), NvmeController(str(other), serial="b")
    board = Board(a, b, iommu=True)
    driver_a, driver_b = ready(board.driver(1)), ready(board.driver(2))
    secret = driver_a.alloc()
    board.memory.write(secret, b"A's data" * 64)
    sq, cq = driver_b.queues[1][:2]
    skip = [(board.hv.fq, board.hv.fq + PAGE), (sq, sq + PAGE), (cq, cq + PAGE)]
    before = ram_hash(board.memory, skip)
    # B names A's page by A's IOVA and by its machine address: both refused.
    for address in (driver_a.iova(secret), secret):
        assert driver_b.io(nvme.IO_READ, 0, 1, address, 0).status == nvme.SC_DATA_TRANSFER_ERROR
        assert driver_b.io(nvme.IO_WRITE, 0, 1, address, 0).status == nvme.SC_DATA_TRANSFER_ERROR
    assert ram_hash(board.memory, skip) == before
    b.backend.flush()
    assert other.read_bytes() == b"\xAA" * (SECTORS * 512)
    assert {f[2] for f in board.hv.faults()} == {2 << 3}


def test_unreachable_submission_queue_is_controller_fatal(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller, iommu=True)
    driver = ready(board.driver(1))
    board.domains[1].unmap(driver.iova(driver.queues[1][0]))
    board.hv.iotinval_gvma()
    driver.post(1, nvme.IO_FLUSH, nsid=1)
    assert driver.reg_read(nvme.REG_CSTS) & nvme.CSTS_CFS
    assert board.hv.faults()[0][:3] == (regs.CAUSE_READ_GUEST_PAGE, regs.TTYP_READ, 0x08)
    assert controller.stats()["nvme_fatal_errors"] == 1


def test_state_restore_continues_io(disk):
    controller = NvmeController(str(disk), serial="s")
    board = Board(controller)
    driver = ready(board.driver(1))
    state = controller.state()
    twin = NvmeController(str(disk), serial="s")
    twin.host, twin.device, twin.function = controller.host, 1, 0
    twin.restore(state)
    twin.attach_memory(board.memory)
    assert twin.state() == state
    page = driver.alloc()
    board.host.slots[(1, 0)] = twin                          # the restored controller answers now
    twin.update_mappings()
    board.host.mappings_changed()
    assert driver.io(nvme.IO_READ, 1, 1, page, 0).status == 0
    assert board.memory.read(page, 512) == disk.read_bytes()[512:1024]


def test_device_options(disk):
    built = build_devices([f"if=none,id=d0,file={disk}"], ["nvme,drive=d0,serial=abc"], [])
    (device, transport, slot), = built
    assert isinstance(device, NvmeController) and transport == "pci-function" and device.serial == "abc"
    device.close()
    for devices, message in ((["nvme,drive=d0"], "serial= is required"),
                             (["nvme,serial=x"], "drive= is required"),
                             (["nvme,drive=d9,serial=x"], "names no --drive"),
                             (["nvme,drive=d0,serial=x,bus=virtio-mmio-bus.0"], "unknown property")):
        with pytest.raises(OptionError, match=message):
            build_devices([f"if=none,id=d0,file={disk}"], devices, [])

"""A board's device set with the IOMMU: its registers on the system bus,
every PCI function's DMA refused until the hypervisor programs it, then
translated; its interrupt on the PLIC; its state in the PCI host's."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "io"))
from iommu_tables import GStage, Hypervisor  # noqa: E402
from nvme_driver import NvmeDriver  # noqa: E402
from pci_firmware import Firmware  # noqa: E402
from pyvmm.io.iommu import regs  # noqa: E402
from pyvmm.io.pci import nvme  # noqa: E402
from pyvmm.machine.bus import Bus  # noqa: E402
from pyvmm.machine.devices import DeviceConfig, DeviceSet  # noqa: E402
from pyvmm.machine.layout import IOMMU_BASE, IOMMU_IRQ  # noqa: E402
from pyvmm.machine.memory import GuestMemory  # noqa: E402

RAM_BASE, RAM_SIZE = 0x8000_0000, 8 << 20


def build(tmp_path, iommu=True):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\x5A" * (64 * 512))
    config = DeviceConfig(drives=[f"if=none,id=d0,file={disk}"], devices=["nvme,drive=d0,serial=s"],
                          iommu=iommu)
    devices = DeviceSet(config, console_write=lambda data: None, request_stop=lambda *a: None,
                        mtime=lambda: 0, on_plic_change=lambda *changed: None, ram_base=RAM_BASE, ram_size=RAM_SIZE)
    bus = Bus()
    devices.attach(bus)
    memory = GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE)
    devices.attach_memory(memory)
    firmware = Firmware(bus, devices.pci.high_mmio_base)
    firmware.enumerate()
    return devices, bus, memory, firmware


class BusIommu:
    """The IOMMU as the hypervisor reaches it: through its registers on the bus."""

    def __init__(self, bus, iommu):
        self.bus, self.iommu = bus, iommu

    def read(self, offset, size):
        return self.bus.read(IOMMU_BASE + offset, size)

    def write(self, offset, size, value):
        self.bus.write(IOMMU_BASE + offset, size, value)

    def attach_memory(self, memory):
        """The board already gave the IOMMU its memory."""

    def dma_memory(self, device_id):
        return self.iommu.dma_memory(device_id)


def test_board_iommu_gates_translates_and_interrupts(tmp_path):
    devices, bus, memory, firmware = build(tmp_path)
    assert bus.read(IOMMU_BASE + regs.CAPABILITIES, 4) & 0xFF == 0x10
    assert bus.read(IOMMU_BASE + regs.DDTP, 8) == regs.MODE_OFF

    # Off: the controller cannot even fetch its first command.
    pages = iter(range(RAM_BASE + 0x40_0000, RAM_BASE + RAM_SIZE, 4096))
    driver = NvmeDriver(bus, firmware.cpu_address(1, 0, 0), memory, lambda: next(pages))
    assert driver.enable() == nvme.CSTS_RDY
    driver.post(0, nvme.ADMIN_IDENTIFY, prp1=next(pages), cdw=(1,))
    assert driver.reg_read(nvme.REG_CSTS) & nvme.CSTS_CFS
    assert devices.iommu.stats()["iommu_faults_dropped"] == 1     # no fault queue yet

    # The hypervisor programs a domain for 00:01.0 and enables the fault queue.
    hv = Hypervisor(memory, iommu=BusIommu(bus, devices.iommu))
    table = GStage(hv)
    hv.set_context(0x08, table.iohgatp(1))
    for page in range(RAM_BASE + 0x40_0000, RAM_BASE + 0x48_0000, 4096):
        table.map(page, page)
    driver.reg_write(nvme.REG_CC, 0)
    pages = iter(range(RAM_BASE + 0x40_0000, RAM_BASE + 0x48_0000, 4096))
    driver.alloc = lambda: next(pages)
    assert driver.enable() == nvme.CSTS_RDY
    done, data = driver.identify(1)
    assert done.status == 0 and data[4:5] == b"s"
    assert not devices.plic.pending & 1 << IOMMU_IRQ
    done = driver.command(0, nvme.ADMIN_IDENTIFY, prp1=RAM_BASE + 0x50_0000, cdw=(1,))
    assert done.status == nvme.SC_DATA_TRANSFER_ERROR
    assert hv.faults()[0][:3] == (regs.CAUSE_WRITE_GUEST_PAGE, regs.TTYP_WRITE, 0x08)
    assert devices.plic.pending & 1 << IOMMU_IRQ                   # fie: the wired interrupt

    stats = devices.stats()
    assert stats[f"RiscvIommu ({IOMMU_BASE:#x})"]["iommu_faults_recorded"] == 1
    assert stats["NvmeController (pci 00:01.0)"]["dma_refused_by_iommu"] >= 2

    state = devices.pci.state()
    assert state["iommu"]["registers"]["ddtp"] == bus.read(IOMMU_BASE + regs.DDTP, 8)
    devices.iommu.reset()
    devices.pci.restore(state)
    assert devices.iommu.state() == state["iommu"]
    devices.close()


def test_without_iommu_dma_goes_straight_to_memory(tmp_path):
    devices, bus, memory, firmware = build(tmp_path, iommu=False)
    assert devices.iommu is None and "iommu" not in devices.pci.state()
    pages = iter(range(RAM_BASE, RAM_BASE + RAM_SIZE, 4096))
    driver = NvmeDriver(bus, firmware.cpu_address(1, 0, 0), memory, lambda: next(pages))
    assert driver.enable() == nvme.CSTS_RDY
    done, data = driver.identify(0, nsid=1)
    assert done.status == 0 and int.from_bytes(data[0:8], "little") == 64
    devices.close()

"""SR-IOV of the NVMe controller as host firmware and a host driver see it
through the ECAM window: the extended capability's registers, VFs appearing
at PF routing ID + First VF Offset + i * VF Stride when VF Enable is set and
going away when it clears, each VF an NVMe controller with its BAR0 inside
the PF's VF BAR0 window and its namespace a slice of the drive, the defined
outcome of the writes the specification leaves undefined, and snapshots."""

import os

import pytest

from nvme_driver import PAGE, NvmeDriver
from pci_firmware import Firmware, ecam, make_host
from pyvmm.io.iommu import RiscvIommu
from pyvmm.io.options import OptionError, build_devices
from pyvmm.io.pci import nvme, sriov
from pyvmm.io.pci.nvme import NvmeController
from pyvmm.machine.memory import DmaError, GuestMemory

RAM_BASE, RAM_SIZE = 0x8000_0000, 8 << 20
SECTORS = 4096
CAP = sriov.CAP_OFFSET
VF_BAR = 0x4800_0000


@pytest.fixture
def board(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(SECTORS * 512))
    pf = NvmeController(str(path), serial="sriov0", sriov_max_vfs=2)
    host, bus, _ = make_host(pf)
    memory = GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE)
    host.attach_memory(memory)
    firmware = Firmware(bus, host.high_mmio_base)
    firmware.enumerate()
    yield pf, host, bus, memory, firmware, path
    pf.close()


def cfg(bus, function, offset, size=4):
    return bus.read(ecam(1, function, offset), size)


def cfg_write(bus, function, offset, value, size=4):
    bus.write(ecam(1, function, offset), size, value)


def enable(bus, n, mse=True):
    cfg_write(bus, 0, CAP + sriov.VF_BAR_0, VF_BAR)
    cfg_write(bus, 0, CAP + sriov.VF_BAR_0 + 4, 0)
    cfg_write(bus, 0, CAP + sriov.NUM_VFS, n, 2)
    cfg_write(bus, 0, CAP + sriov.CONTROL, sriov.CONTROL_VF_ENABLE | (sriov.CONTROL_VF_MSE if mse else 0), 2)


def test_capability_registers_in_extended_config_space(board, tmp_path):
    pf, host, bus, _, firmware, _ = board
    # Multi-function, as on QEMU; a scan of functions 1..7 skips the VFs (0xFFFF).
    assert cfg(bus, 0, 0x0E, 1) == 0x80
    assert firmware.found[1:] == [(1, 0, 0x1B36, 0x0010)]
    assert cfg(bus, 0, CAP) == 0x0001_0010                    # ID 0x10, version 1, no next
    assert cfg(bus, 0, CAP + sriov.INITIAL_VFS) == 2 | 2 << 16
    assert cfg(bus, 0, CAP + sriov.NUM_VFS, 2) == 0
    assert cfg(bus, 0, CAP + sriov.FIRST_VF_OFFSET) == 1 | 1 << 16
    assert cfg(bus, 0, CAP + sriov.VF_DEVICE_ID, 2) == 0x0010
    assert cfg(bus, 0, CAP + sriov.SUPPORTED_PAGE_SIZES) == 0x553
    assert cfg(bus, 0, CAP + sriov.SYSTEM_PAGE_SIZE) == 1
    # VF BAR0 sizes like a BAR: one VF's 16 KiB, 64-bit memory.
    cfg_write(bus, 0, CAP + sriov.VF_BAR_0, 0xFFFF_FFFF)
    assert cfg(bus, 0, CAP + sriov.VF_BAR_0) == 0xFFFF_C004
    # Read-only fields stay; past the capability extended space reads 0.
    cfg_write(bus, 0, CAP + sriov.TOTAL_VFS, 0x7F, 2)
    cfg_write(bus, 0, CAP + 0x80, 0x1234_5678)
    assert cfg(bus, 0, CAP + sriov.TOTAL_VFS, 2) == 2 and cfg(bus, 0, CAP + 0x80) == 0
    # A function without extended capabilities reads all ones there.
    other = tmp_path / "other.img"
    other.write_bytes(bytes(4096))
    plain = NvmeController(str(other), serial="plain")
    host.add_function(plain, device=5)
    assert bus.read(ecam(5, 0, 0x100), 4) == 0xFFFF_FFFF
    plain.close()
    with pytest.raises(ValueError, match="sriov_max_vfs 8 is not 1..7"):
        NvmeController(str(other), serial="x", sriov_max_vfs=8)
    with pytest.raises(ValueError, match="routing IDs meet those of nvme"):
        host.add_function(NvmeController(str(other), serial="y"), device=1, function_number=2)


def test_vf_enable_creates_functions_at_their_routing_ids_and_disable_removes_them(board):
    pf, host, bus, memory, _, path = board
    for function in (1, 2):
        assert cfg(bus, function, 8) == 0xFFFF_FFFF
    enable(bus, 2)
    assert [vf.name for vf in pf.sriov.vfs] == ["nvme-vf0", "nvme-vf1"]
    rescan = Firmware(bus, host.high_mmio_base)
    assert [found[:2] for found in rescan.enumerate()] == [(0, 0), (1, 0)]
    assert sorted(host.virtual_functions) == [(1 << 3) + 1, (1 << 3) + 2]
    for function in (1, 2):
        # The spec's VF: Vendor/Device ID 0xFFFF, a real class, BARs reading 0.
        assert cfg(bus, function, 0) == 0xFFFF_FFFF
        assert cfg(bus, function, 8) == 0x0108_0202
        assert cfg(bus, function, 0x10) == 0
        cfg_write(bus, function, 0x10, 0xFFFF_FFFF)
        assert cfg(bus, function, 0x10) == 0
    assert cfg(bus, 3, 8) == 0xFFFF_FFFF                      # only NumVFs of them

    # Each VF is a controller of its own: BAR0 at VF BAR0 + i * 16 KiB, its
    # namespace half the drive, its writes in its half.
    pages = iter(range(RAM_BASE, RAM_BASE + RAM_SIZE, PAGE))
    payloads = []
    for index in (0, 1):
        cfg_write(bus, 1 + index, 0x04, 0x4, 2)                 # bus master
        driver = NvmeDriver(bus, VF_BAR + index * nvme.BAR0_SIZE, memory, lambda: next(pages))
        assert driver.enable() == nvme.CSTS_RDY
        a, b = driver.create_io_queues()
        assert a.status == b.status == 0
        done, data = driver.identify(0, nsid=1)
        assert int.from_bytes(data[0:8], "little") == SECTORS // 2
        page = next(pages)
        payload = os.urandom(PAGE)
        memory.write(page, payload)
        assert driver.io(nvme.IO_WRITE, 8, 8, page, 0).status == 0
        assert driver.io(nvme.IO_READ, SECTORS // 2 - 1, 2, page, 0).status == nvme.SC_LBA_OUT_OF_RANGE
        payloads.append(payload)
    pf.backend.flush()
    disk = path.read_bytes()
    assert disk[8 * 512:8 * 512 + PAGE] == payloads[0]
    assert disk[(SECTORS // 2 + 8) * 512:(SECTORS // 2 + 8) * 512 + PAGE] == payloads[1]

    # VF MSE off: the VF BARs stop decoding; VF Enable off: the VFs go.
    cfg_write(bus, 0, CAP + sriov.CONTROL, sriov.CONTROL_VF_ENABLE, 2)
    assert host.decode(VF_BAR, io=False) is None
    cfg_write(bus, 0, CAP + sriov.CONTROL, 0, 2)
    assert pf.sriov.vfs == [] and host.virtual_functions == {}
    assert cfg(bus, 1, 8) == 0xFFFF_FFFF and cfg(bus, 2, 8) == 0xFFFF_FFFF


def test_undefined_writes_have_a_defined_outcome(board):
    pf, host, bus, _, _, _ = board
    cfg_write(bus, 0, CAP + sriov.NUM_VFS, 3, 2)                 # past TotalVFs: not taken
    assert cfg(bus, 0, CAP + sriov.NUM_VFS, 2) == 0
    cfg_write(bus, 0, CAP + sriov.CONTROL, sriov.CONTROL_VF_ENABLE, 2)   # with NumVFs 0
    assert cfg(bus, 0, CAP + sriov.CONTROL, 2) & 1 and pf.sriov.vfs == []
    cfg_write(bus, 0, CAP + sriov.CONTROL, 0, 2)
    enable(bus, 1)
    cfg_write(bus, 0, CAP + sriov.NUM_VFS, 2, 2)                 # while enabled: read-only
    assert cfg(bus, 0, CAP + sriov.NUM_VFS, 2) == 1 and len(pf.sriov.vfs) == 1
    host.reset()                                                 # reset disables the VFs
    assert cfg(bus, 0, CAP + sriov.CONTROL, 2) == 0 and host.virtual_functions == {}


def test_snapshot_keeps_the_vfs_and_their_controllers(board, tmp_path):
    pf, host, bus, memory, _, path = board
    enable(bus, 2)
    cfg_write(bus, 2, 0x04, 0x4, 2)
    pages = iter(range(RAM_BASE, RAM_BASE + RAM_SIZE, PAGE))
    driver = NvmeDriver(bus, VF_BAR + nvme.BAR0_SIZE, memory, lambda: next(pages))
    assert driver.enable() == nvme.CSTS_RDY
    saved = host.state()
    cfg_write(bus, 0, CAP + sriov.CONTROL, 0, 2)
    assert host.virtual_functions == {}
    host.restore(saved)
    assert sorted(host.virtual_functions) == [9, 10]
    vf = host.virtual_functions[10]
    assert vf.csts == nvme.CSTS_RDY and vf.bus_master
    assert driver.reg_read(nvme.REG_CSTS) == nvme.CSTS_RDY      # the BAR decodes again


def test_option_sriov_max_vfs(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(4096))
    built = build_devices([f"if=none,id=d0,file={disk}"], ["nvme,drive=d0,serial=s,sriov_max_vfs=3"], [])
    controller = built[0][0]
    assert controller.sriov.total_vfs == 3
    controller.close()
    for bad, message in (("sriov_max_vfs=9", "sriov_max_vfs"), ("sriov_max_vfs=x", "sriov_max_vfs")):
        with pytest.raises(OptionError, match=message):
            build_devices([f"if=none,id=d0,file={disk}"], [f"nvme,drive=d0,serial=s,{bad}"], [])


def test_vf_dma_goes_through_the_iommu_under_its_routing_id(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1024 * 512))
    pf = NvmeController(str(path), serial="s", sriov_max_vfs=2)
    host, bus, _ = make_host(pf)
    iommu = RiscvIommu()
    host.attach_iommu(iommu)
    host.attach_memory(GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE))
    enable(bus, 2)
    assert [vf.memory.memory.device_id for vf in pf.sriov.vfs] == [(1 << 3) + 1, (1 << 3) + 2]
    cfg_write(bus, 2, 0x04, 0x4, 2)
    with pytest.raises(DmaError, match="IOMMU refused device 0x000a"):     # the IOMMU is Off
        pf.sriov.vfs[1].memory.read(RAM_BASE, 8)
    pf.close()

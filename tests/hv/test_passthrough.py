"""The host's NVMe controller assigned to a VM: the unchanged driver
(guests/pci/nvme_smode.S) runs in the VM, the controller's DMA is translated
by the host IOMMU through the VM's own G-stage table, its register accesses
go to the device without the VM's policy, and nothing it does reaches
memory outside the VM."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "machine"))
from nvme_image import EXPECTED, IMAGE, SERIAL, WRITTEN  # noqa: E402
from pyvmm.hv.host import Host, HvError  # noqa: E402
from pyvmm.hv.passthrough import Passthrough  # noqa: E402
from pyvmm.io.iommu import regs  # noqa: E402
from pyvmm.io.pci.nvme import NvmeController  # noqa: E402
from pyvmm.machine.devices import DeviceConfig  # noqa: E402
from pyvmm.machine.memory import DmaError  # noqa: E402

GUEST = os.path.join(os.path.dirname(__file__), "..", "..", "guests", "pci", "nvme_smode.S")


@pytest.fixture
def setup(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(IMAGE)
    host = Host(ram_size=256 << 20)
    passthrough = Passthrough(host)
    controller = NvmeController(str(disk), serial=SERIAL)
    device_id = passthrough.add_host_function(controller, device=3)
    yield host, passthrough, controller, device_id, disk
    controller.close()


def test_assigned_controller_runs_the_unchanged_driver_in_a_vm(setup):
    host, passthrough, controller, device_id, disk = setup
    vm = host.create_vm(ram_size=64 << 20)
    other = host.create_vm(ram_size=64 << 20)
    assignment = passthrough.assign(device_id, vm)
    vm.load(GUEST)
    result = vm.run(50_000_000)
    assert vm.console_output == EXPECTED and result.how == "finisher-pass"
    controller.close()
    assert disk.read_bytes() == WRITTEN
    # Register accesses went to the device, not through the VM's exits: the
    # same driver on an emulated controller takes that many more MMIO exits.
    copy = disk.parent / "emulated.img"
    copy.write_bytes(IMAGE)
    emulated = host.create_vm(ram_size=64 << 20, devices=DeviceConfig(
        drives=[f"if=none,id=d0,file={copy}"], devices=[f"nvme,drive=d0,serial={SERIAL}"]))
    emulated.load(GUEST)
    emulated.run(50_000_000)
    assert emulated.console_output == EXPECTED
    assert assignment.device_accesses > 30
    assert vm.exit_counts["mmio"] + assignment.device_accesses == emulated.exit_counts["mmio"]
    emulated.close()
    stats = passthrough.stats()
    assert stats["iommu_translations"] > 0 and stats["iommu_faults"] == 0
    assert stats[f"assigned.{device_id:04x}.vm"] == vm.name
    assert controller.stats()["dma_refused_by_iommu"] == 0

    # The device sees the VM's guest-physical space: the VM's page, never the
    # other VM's page at the same address, nothing outside the VM's RAM.
    gpa = vm.ram_base + (40 << 20)
    vm.write(gpa, b"assigned VM")
    other.write(gpa, b"another VM!")
    assert controller.memory.read(gpa, 11) == b"assigned VM"
    controller.memory.write(gpa, b"DMA")
    assert vm.read(gpa, 3) == b"DMA" and other.read(gpa, 11) == b"another VM!"
    for outside in (vm.ram_base + vm.ram_size, vm.ram_base - 4096, 0x1000_0000):
        with pytest.raises(DmaError):
            controller.memory.write(outside, b"escape")
    faults = passthrough.iommu.faults()
    assert [(f[0], f[1], f[2]) for f in faults] == [
        (regs.CAUSE_WRITE_GUEST_PAGE, device_id, vm.ram_base + vm.ram_size),
        (regs.CAUSE_WRITE_GUEST_PAGE, device_id, vm.ram_base - 4096),
        (regs.CAUSE_WRITE_GUEST_PAGE, device_id, 0x1000_0000)]


def test_unassigned_controller_reaches_nothing(setup):
    host, passthrough, controller, device_id, _ = setup
    controller.config_write(0x04, 2, 0x6)         # bus mastering on
    with pytest.raises(DmaError):
        controller.memory.read(host.ram_base, 8)
    assert passthrough.iommu.faults()[0][:2] == (regs.CAUSE_DDT_INVALID, device_id)


def test_assignment_is_refused_where_it_cannot_hold(setup):
    host, passthrough, controller, device_id, disk = setup
    first = host.create_vm(ram_size=16 << 20, name="first")
    second = host.create_vm(ram_size=16 << 20, name="second")
    shadow = host.create_vm(ram_size=16 << 20, paging="shadow", technique="trap-emulate", name="shadowed")
    with pytest.raises(HvError, match="shadowed: device assignment needs nested paging"):
        passthrough.assign(device_id, shadow)
    with pytest.raises(HvError, match=r"overlaps guest RAM"):
        passthrough.assign(device_id, first, bar_gpa=first.ram_base + 0x10_0000)
    with pytest.raises(HvError, match="no host PCI function"):
        passthrough.assign(0x0100, first)
    passthrough.assign(device_id, first, bar_gpa=0x4000_0000)
    assert controller.bars[0].address == 0x4000_0000 and controller.bus_master
    with pytest.raises(HvError, match="nvme .* is already assigned to first"):
        passthrough.assign(device_id, second)
    spare = NvmeController(str(disk), serial="x")
    with pytest.raises(HvError, match="already holds nvme"):
        passthrough.add_host_function(spare, device=3)
    spare.close()


def test_a_vm_with_an_assigned_device_is_not_saved_cloned_or_migrated(setup, tmp_path):
    from pyvmm.migration.vm import VMGuest
    host, passthrough, controller, device_id, disk = setup
    vm = host.create_vm(ram_size=64 << 20)
    passthrough.assign(device_id, vm)
    vm.load(GUEST)
    vm.run(20_000)
    target = tmp_path / "vm.snap"
    for attempt in (lambda: vm.save(str(target)), vm.clone, lambda: VMGuest(vm)):
        with pytest.raises(HvError, match="host devices assigned .*cannot be saved, cloned or migrated"):
            attempt()
    assert not target.exists() and len(host.vms) == 1
    # Refusing changed nothing: the driver runs on to the same end.
    assert vm.run(50_000_000).how == "finisher-pass" and vm.console_output == EXPECTED

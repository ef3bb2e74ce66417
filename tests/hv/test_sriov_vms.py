"""SR-IOV virtual functions of the host's NVMe controller, each given to its
own VM behind its own IOMMU device context: the unchanged S-mode driver
(guests/pci/nvme_smode.S) runs in both VMs and prints what it prints with
the physical function, each VM's writes land in its VF's slice of the disk,
a VF's DMA reaches its VM's RAM and nothing else, and the assignments the
host must refuse are refused."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "machine"))
from nvme_image import EXPECTED, IMAGE, SERIAL, WRITTEN  # noqa: E402
from pyvmm.hv.host import Host, HvError  # noqa: E402
from pyvmm.hv.passthrough import Passthrough, assign_vf  # noqa: E402
from pyvmm.io.iommu import regs  # noqa: E402
from pyvmm.io.pci.nvme import NvmeController  # noqa: E402
from pyvmm.machine.memory import DmaError  # noqa: E402

GUEST = os.path.join(os.path.dirname(__file__), "..", "..", "guests", "pci", "nvme_smode.S")
PF_DEVICE = 3
PF_ID = PF_DEVICE << 3


@pytest.fixture
def setup(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(IMAGE + IMAGE)           # a slice of IMAGE per VF
    host = Host(ram_size=256 << 20)
    passthrough = Passthrough(host)
    pf = NvmeController(str(disk), serial=SERIAL, sriov_max_vfs=2)
    passthrough.add_host_function(pf, device=PF_DEVICE)
    yield host, passthrough, pf, disk
    pf.close()


def test_two_vms_each_run_the_unchanged_driver_on_their_own_vf(setup):
    host, passthrough, pf, disk = setup
    assert passthrough.enable_vfs(PF_ID, 2) == [PF_ID + 1, PF_ID + 2]
    vms = [host.create_vm(ram_size=64 << 20, name=f"vm{i}") for i in range(2)]
    assignments = [passthrough.assign_vf(PF_ID, i, vm) for i, vm in enumerate(vms)]
    for vm in vms:
        vm.load(GUEST)
        result = vm.run(50_000_000)
        assert result.how == "finisher-pass"
        assert vm.console_output == EXPECTED          # the bytes the PF gives the driver
    pf.close()
    assert disk.read_bytes() == WRITTEN + WRITTEN     # each VM wrote its own half
    for assignment, vm in zip(assignments, vms):
        assert assignment.device_accesses > 30 and assignment.vm is vm
        assert assignment.host_function.stats()["nvme_bytes_written"] == 4096
    stats = passthrough.stats()
    assert stats["iommu_faults"] == 0 and stats["iommu_translations"] > 0
    assert stats[f"assigned.{PF_ID + 1:04x}.vm"] == "vm0" and stats[f"assigned.{PF_ID + 2:04x}.vm"] == "vm1"
    # Each VF's context: its own routing ID, its VM's VMID and G-stage root.
    for assignment, vm in zip(assignments, vms):
        context = passthrough.iommu._context_address(assignment.device_id)
        iohgatp = passthrough.iommu.memory.read_u64(context + 8)
        assert (iohgatp >> regs.IOHGATP_GSCID_SHIFT) & regs.GSCID_MASK == vm.vmid
        assert (iohgatp & ((1 << 44) - 1)) << 12 == vm.gstage.root


def test_a_vf_reaches_its_vm_and_nothing_else(setup):
    host, passthrough, pf, _ = setup
    vm_a = host.create_vm(ram_size=32 << 20, name="a")
    vm_b = host.create_vm(ram_size=32 << 20, name="b")
    first = assign_vf(host, vm_a, pf, 0)
    second = assign_vf(host, vm_b, pf, 1)
    vf_a, vf_b = first.host_function, second.host_function
    vf_a.config_write(0x04, 2, 0x4)
    vf_b.config_write(0x04, 2, 0x4)
    gpa = vm_a.ram_base + (8 << 20)
    vm_a.write(gpa, b"A's page")
    vm_b.write(gpa, b"B's page")
    assert vf_a.memory.read(gpa, 8) == b"A's page" and vf_b.memory.read(gpa, 8) == b"B's page"
    vf_a.memory.write(gpa, b"from VF0")
    assert vm_a.read(gpa, 8) == b"from VF0" and vm_b.read(gpa, 8) == b"B's page"
    host_ram = host.ram_base + host.ram_size - (1 << 20)
    before = passthrough.iommu.memory.read(host_ram, 64)
    for outside in (vm_a.ram_base + vm_a.ram_size, vm_b.ram_base + vm_b.ram_size + 4096, host_ram):
        with pytest.raises(DmaError):
            vf_a.memory.write(outside, b"escape")
    assert passthrough.iommu.memory.read(host_ram, 64) == before
    faults = passthrough.iommu.faults()
    assert [(f[0], f[1], f[2], f[3]) for f in faults] == [
        (regs.CAUSE_WRITE_GUEST_PAGE, PF_ID + 1, vm_a.ram_base + vm_a.ram_size, True),
        (regs.CAUSE_WRITE_GUEST_PAGE, PF_ID + 1, vm_b.ram_base + vm_b.ram_size + 4096, True),
        (regs.CAUSE_WRITE_GUEST_PAGE, PF_ID + 1, host_ram, True)]


def test_vf_assignment_errors(setup):
    host, passthrough, pf, _ = setup
    first = host.create_vm(ram_size=16 << 20, name="first")
    second = host.create_vm(ram_size=16 << 20, name="second")
    with pytest.raises(HvError, match="has no VF 0: 0 VFs enabled"):
        passthrough.assign_vf(PF_ID, 0, first)
    with pytest.raises(HvError, match=r"3 VFs is not 1..2 \(TotalVFs\)"):
        passthrough.enable_vfs(PF_ID, 3)
    with pytest.raises(HvError, match=r"0 VFs is not 1..2"):
        passthrough.enable_vfs(PF_ID, 0)
    passthrough.enable_vfs(PF_ID, 1)
    with pytest.raises(HvError, match="already has 1 VFs enabled"):
        passthrough.enable_vfs(PF_ID, 2)
    with pytest.raises(HvError, match="has no VF 1: 1 VFs enabled"):
        passthrough.assign_vf(PF_ID, 1, first)
    # The VF is refused its DMA until assigned.
    vf = passthrough.functions[PF_ID + 1]
    vf.config_write(0x04, 2, 0x4)
    with pytest.raises(DmaError):
        vf.memory.read(first.ram_base, 8)
    assert passthrough.iommu.faults()[0][:2] == (regs.CAUSE_DDT_INVALID, PF_ID + 1)
    passthrough.assign_vf(PF_ID, 0, first)
    with pytest.raises(HvError, match=r"nvme-vf0 \(0x0019\) is already assigned to first"):
        passthrough.assign_vf(PF_ID, 0, second)
    with pytest.raises(HvError, match=r"nvme \(0x0018\) has its VFs enabled \(nvme-vf0 assigned to first\)"):
        passthrough.assign(PF_ID, second)
    with pytest.raises(HvError, match=r"nvme-vf0 \(0x0019\) is assigned to first: its VFs stay enabled"):
        passthrough.disable_vfs(PF_ID)
    with pytest.raises(HvError, match="already has its Passthrough"):
        Passthrough(host)
    assert Passthrough.for_host(host) is passthrough


def test_disabled_vfs_leave_the_pf_assignable(setup):
    host, passthrough, pf, _ = setup
    vm = host.create_vm(ram_size=16 << 20, name="whole")
    passthrough.enable_vfs(PF_ID, 2)
    passthrough.disable_vfs(PF_ID)
    assert PF_ID + 1 not in passthrough.functions and pf.sriov.vfs == []
    passthrough.assign(PF_ID, vm)
    with pytest.raises(HvError, match="is assigned to whole: its VFs are the VM's to enable"):
        passthrough.enable_vfs(PF_ID, 1)

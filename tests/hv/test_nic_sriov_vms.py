"""SR-IOV virtual functions of the host's pyvmm-nic, each given to its own VM
behind its own IOMMU device context: the unchanged S-mode driver
(guests/pci/nic_smode.S) runs in both VMs, each VM sees its own VF's MAC
and exactly its own frames (the echo's replies come back to the VF that
sent), a VF's DMA reaches its VM's RAM and nothing else, the assignments
the host must refuse are refused, and two runs give the same counters."""

import os

import pytest
from support.netdevs import EchoNetdev

from pyvmm.hv.host import Host, HvError
from pyvmm.hv.passthrough import Passthrough, assign_vf
from pyvmm.io.iommu import regs
from pyvmm.io.pci.nic import NicController
from pyvmm.machine.memory import DmaError

GUEST = os.path.join(os.path.dirname(__file__), "..", "..", "guests", "pci", "nic_smode.S")
PF_DEVICE = 3
PF_ID = PF_DEVICE << 3
VF_MACS = ("52:54:00:12:34:57", "52:54:00:12:34:58")


def two_vms_on_two_vfs():
    """Both VMs run the driver to its end; returns (outputs, per-VF
    counters, the wire's counters, IOMMU faults, passthrough stats)."""
    host = Host(ram_size=256 << 20)
    passthrough = Passthrough(host)
    wire = EchoNetdev()
    pf = NicController(wire, queues=2, sriov_max_vfs=2)
    passthrough.add_host_function(pf, device=PF_DEVICE)
    assert passthrough.enable_vfs(PF_ID, 2) == [PF_ID + 1, PF_ID + 2]
    vms = [host.create_vm(ram_size=64 << 20, name=f"vm{i}") for i in range(2)]
    assignments = [passthrough.assign_vf(PF_ID, i, vm) for i, vm in enumerate(vms)]
    for vm in vms:
        vm.load(GUEST)
    host.run(200_000_000)
    for vm in vms:
        assert vm.result.how == "finisher-pass", vm.console_output
    outputs = [vm.console_output.decode() for vm in vms]
    counters = [a.host_function.stats() for a in assignments]
    faults = passthrough.iommu.faults()
    stats = passthrough.stats()
    # Each VF's context: its own routing ID, its VM's VMID and G-stage root.
    for assignment, vm in zip(assignments, vms):
        context = passthrough.iommu._context_address(assignment.device_id)
        iohgatp = passthrough.iommu.memory.read_u64(context + 8)
        assert (iohgatp >> regs.IOHGATP_GSCID_SHIFT) & regs.GSCID_MASK == vm.vmid
    sent = list(wire.sent)
    pf_stats = pf.stats()
    pf.close()
    return outputs, counters, sent, pf_stats, faults, stats


def test_two_vms_each_run_the_unchanged_driver_on_their_own_vf():
    outputs, counters, sent, pf_stats, faults, stats = two_vms_on_two_vfs()
    for output, mac in zip(outputs, VF_MACS):
        lines = output.splitlines()
        assert lines[0] == "nic at 00:01.0 class 020000 pin 0x01"
        assert lines[3] == f"mac {mac}"
        assert lines[5].startswith("rx ring 0x0 frames 0x10") and lines[6].startswith("rx ring 0x1 frames 0x10")
        assert lines[7].startswith("bulk ring 0x0 frames 0x30")
        assert "buffer outside RAM: status 0x03" in lines and lines[-1] == "done"
    # Each VF sent its 128 frames from its own MAC and got back exactly their echoes.
    for index, vf in enumerate(counters):
        assert vf["nic_tx_frames"] == vf["nic_rx_frames"] == 32 + 96
        assert vf["nic_rx_bytes"] == vf["nic_tx_bytes"]
        assert vf["nic_q0_rx_frames"] == vf["nic_q1_rx_frames"] == 64
        assert vf["nic_dma_errors"] == 1 and vf["dma_refused_by_iommu"] == 1
        mine = bytes.fromhex(VF_MACS[index].replace(":", ""))
        assert sum(1 for frame in sent if frame[6:12] == mine) == 128
    assert len(sent) == 256
    assert pf_stats["nic_rx_frames"] == 0 and pf_stats["nic_switch_unmatched_to_pf"] == 0
    assert pf_stats["netdev_echoed"] == 256 and pf_stats["nic_switch_from_wire"] == 256
    # Each guest's buffer outside its RAM was refused and logged under its own VF.
    assert sorted((f[0], f[1], f[2]) for f in faults) == [
        (regs.CAUSE_READ_GUEST_PAGE, PF_ID + 1, 0x1000), (regs.CAUSE_READ_GUEST_PAGE, PF_ID + 2, 0x1000)]
    assert stats["iommu_faults"] == 2 and stats["iommu_translations"] > 0
    assert stats[f"assigned.{PF_ID + 1:04x}.vm"] == "vm0" and stats[f"assigned.{PF_ID + 2:04x}.vm"] == "vm1"


def test_two_runs_give_the_same_output_and_counters():
    first, second = two_vms_on_two_vfs(), two_vms_on_two_vfs()
    assert first[0] == second[0]                    # console output
    assert first[1] == second[1] and first[3] == second[3]
    assert first[2] == second[2]                    # the frames on the wire, in order


def test_a_vf_reaches_its_vm_and_nothing_else():
    host = Host(ram_size=256 << 20)
    pf = NicController(EchoNetdev(), sriov_max_vfs=2)
    vm_a = host.create_vm(ram_size=32 << 20, name="a")
    vm_b = host.create_vm(ram_size=32 << 20, name="b")
    vf_a = assign_vf(host, vm_a, pf, 0).host_function
    vf_b = assign_vf(host, vm_b, pf, 1).host_function
    passthrough = Passthrough.for_host(host)
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
    for outside in (vm_a.ram_base + vm_a.ram_size, host_ram):
        with pytest.raises(DmaError):
            vf_a.memory.write(outside, b"escape")
    assert passthrough.iommu.memory.read(host_ram, 64) == before
    assert [(f[0], f[1], f[2], f[3]) for f in passthrough.iommu.faults()] == [
        (regs.CAUSE_WRITE_GUEST_PAGE, vf_a.memory.memory.device_id, vm_a.ram_base + vm_a.ram_size, True),
        (regs.CAUSE_WRITE_GUEST_PAGE, vf_a.memory.memory.device_id, host_ram, True)]
    pf.close()


def test_vf_assignment_errors():
    host = Host(ram_size=128 << 20)
    passthrough = Passthrough(host)
    pf = NicController(EchoNetdev(), sriov_max_vfs=2)
    passthrough.add_host_function(pf, device=PF_DEVICE)
    first = host.create_vm(ram_size=16 << 20, name="first")
    second = host.create_vm(ram_size=16 << 20, name="second")
    with pytest.raises(HvError, match="has no VF 0: 0 VFs enabled"):
        passthrough.assign_vf(PF_ID, 0, first)
    with pytest.raises(HvError, match=r"3 VFs is not 1..2 \(TotalVFs\)"):
        passthrough.enable_vfs(PF_ID, 3)
    passthrough.enable_vfs(PF_ID, 2)
    with pytest.raises(HvError, match="has no VF 2: 2 VFs enabled"):
        passthrough.assign_vf(PF_ID, 2, first)
    passthrough.assign_vf(PF_ID, 0, first)
    with pytest.raises(HvError, match=r"pyvmm-nic-vf0 \(0x0019\) is already assigned to first"):
        passthrough.assign_vf(PF_ID, 0, second)
    with pytest.raises(HvError, match=r"pyvmm-nic \(0x0018\) has its VFs enabled \(pyvmm-nic-vf0 assigned"):
        passthrough.assign(PF_ID, second)
    with pytest.raises(HvError, match="has no SR-IOV capability"):
        assign_vf(host, second, NicController(EchoNetdev()), 0)
    pf.close()

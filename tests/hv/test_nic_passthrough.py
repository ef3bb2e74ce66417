"""The host's pyvmm-nic assigned to a VM: the unchanged driver
(guests/pci/nic_smode.S) runs in the VM on two queue pairs, the
controller's DMA is translated by the host IOMMU through the VM's G-stage
table, and a descriptor pointing outside the VM ends as ERR_DMA plus an
IOMMU fault, never memory of the host or of another VM."""

import os

from support.netdevs import EchoNetdev

from pyvmm.hv.host import Host
from pyvmm.hv.passthrough import Passthrough
from pyvmm.io.iommu import regs
from pyvmm.io.pci.nic import NicController
from pyvmm.machine.devices import DeviceConfig

GUEST = os.path.join(os.path.dirname(__file__), "..", "..", "guests", "pci", "nic_smode.S")


def test_assigned_nic_runs_the_unchanged_driver_in_a_vm():
    host = Host(ram_size=256 << 20)
    passthrough = Passthrough(host)
    controller = NicController(EchoNetdev(), queues=2)
    device_id = passthrough.add_host_function(controller, device=4)
    vm = host.create_vm(ram_size=64 << 20)
    assignment = passthrough.assign(device_id, vm)
    vm.load(GUEST)
    result = vm.run(100_000_000)
    assert result.how == "finisher-pass", vm.console_output
    lines = vm.console_output.decode().splitlines()
    assert lines[0] == "nic at 00:01.0 class 020000 pin 0x01"
    assert lines[5].startswith("rx ring 0x0 frames 0x10") and lines[6].startswith("rx ring 0x1 frames 0x10")
    assert lines[7].startswith("bulk ring 0x0 frames 0x30") and lines[8].startswith("bulk ring 0x1 frames 0x30")
    assert "buffer outside RAM: status 0x03" in lines

    # The same driver on an emulated controller prints the same lines.
    emulated = host.create_vm(ram_size=64 << 20, devices=DeviceConfig(
        netdevs=["hub,id=lan"], devices=["pyvmm-nic,netdev=lan,queues=2"]))
    # Its wire gets the same echoing far end (a hub has nobody to answer).
    emulated_nic = emulated.device_set.pci_devices[0][0]
    emulated_nic.netdev.close()
    emulated_nic.netdev = EchoNetdev()
    emulated.load(GUEST)
    emulated.run(100_000_000)
    assert emulated.console_output == vm.console_output
    assert vm.exit_counts["mmio"] + assignment.device_accesses == emulated.exit_counts["mmio"]
    emulated.close()

    stats = controller.stats()
    assert stats["nic_q0_rx_frames"] == stats["nic_q1_rx_frames"] == 16 + 48
    assert stats["nic_dma_errors"] == 1 and stats["dma_refused_by_iommu"] == 1
    assert passthrough.stats()["iommu_translations"] > 0
    faults = passthrough.iommu.faults()
    assert [(f[0], f[1], f[2]) for f in faults] == [(regs.CAUSE_READ_GUEST_PAGE, device_id, 0x1000)]

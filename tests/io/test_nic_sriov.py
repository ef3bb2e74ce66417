"""SR-IOV of pyvmm-nic as host firmware and a host driver see it through the
ECAM window: the extended capability's registers, VFs at PF routing ID +
First VF Offset + i * VF Stride when VF Enable is set, each VF a pyvmm-nic
of its own (BAR0 in the PF's VF BAR0 window, its own rings, counters and
MAC), the switch between the functions and the wire (by destination MAC,
broadcast to every function, VF to VF inside the controller, the echo's
reply back to the VF that sent), snapshots, the option and its bad values;
and the bare-metal driver (guests/pci/nic_vf.S) enabling a VF on the board
and running nic.S's exchange on it through `pyvmm run`."""

import json
import os
import subprocess
import sys

import pytest
from support.netdevs import PEER_MAC, EchoNetdev, SinkNetdev, echo

from pci_firmware import Firmware, ecam, make_host
from pyvmm.io.iommu import RiscvIommu
from pyvmm.io.options import OptionError, build_devices
from pyvmm.io.pci import nic as nicmod
from pyvmm.io.pci import sriov
from pyvmm.io.pci.nic import NicController, vf_mac
from pyvmm.machine.memory import DmaError, GuestMemory

RAM_BASE, RAM_SIZE = 0x8000_0000, 8 << 20
CAP = sriov.CAP_OFFSET
VF_BAR = 0x4800_0000
PF_MAC = bytes.fromhex("525400123456")
BROADCAST = b"\xff" * 6
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NIC_S = os.path.join(ROOT, "guests", "pci", "nic.S")
NIC_VF_S = os.path.join(ROOT, "guests", "pci", "nic_vf.S")
SRIOV_NIC = ["--netdev", "echo,id=n0", "--device", "pyvmm-nic,netdev=n0,queues=2,sriov_max_vfs=2"]


def cfg(bus, function, offset, size=4):
    return bus.read(ecam(1, function, offset), size)


def cfg_write(bus, function, offset, value, size=4):
    bus.write(ecam(1, function, offset), size, value)


def enable(bus, n):
    cfg_write(bus, 0, CAP + sriov.VF_BAR_0, VF_BAR)
    cfg_write(bus, 0, CAP + sriov.VF_BAR_0 + 4, 0)
    cfg_write(bus, 0, CAP + sriov.NUM_VFS, n, 2)
    cfg_write(bus, 0, CAP + sriov.CONTROL, sriov.CONTROL_VF_ENABLE | sriov.CONTROL_VF_MSE, 2)


class BusDriver:
    """One function's registers through the system bus at `bar`, its rings
    and buffers in a 256 KiB area of RAM of its own (`area` 0, 1, ...)."""

    RING = 8

    def __init__(self, bus, bar, memory, area):
        self.bus, self.bar, self.memory = bus, bar, memory
        self.base = RAM_BASE + area * 0x4_0000
        self.txtail = self.rxtail = self.rxhead = 0
        self.write(nicmod.REG_CTRL, nicmod.CTRL_RST)
        for rx, ring in ((False, self.base), (True, self.base + 0x1000)):
            block = nicmod.QUEUE_REGS + (nicmod.RX_RING if rx else 0)
            self.write(block + nicmod.RING_BASE_LO, ring & 0xFFFF_FFFF)
            self.write(block + nicmod.RING_BASE_HI, ring >> 32)
            self.write(block + nicmod.RING_LEN, self.RING)
        self.write(nicmod.REG_IMS, 0xFFFF_FFFF)
        self.write(nicmod.REG_CTRL, nicmod.CTRL_EN)
        self.post(self.RING - 1)

    def read(self, offset):
        return self.bus.read(self.bar + offset, 4)

    def write(self, offset, value):
        self.bus.write(self.bar + offset, 4, value)

    def mac(self):
        return (self.read(nicmod.REG_MAC_LO).to_bytes(4, "little")
                + self.read(nicmod.REG_MAC_HI).to_bytes(4, "little")[:2])

    def send(self, frame):
        slot = self.txtail
        buffer = self.base + 0x2000 + 0x800 * slot
        self.memory.write(buffer, frame)
        self.memory.write(self.base + 16 * slot, buffer.to_bytes(8, "little")
                          + len(frame).to_bytes(2, "little") + bytes(6))
        self.txtail = (slot + 1) % self.RING
        self.write(nicmod.QUEUE_REGS + nicmod.RING_TAIL, self.txtail)
        return self.memory.read(self.base + 16 * slot + 13, 1)[0]

    def post(self, count=1):
        for _ in range(count):
            slot = self.rxtail
            buffer = self.base + 0x8000 + 0x800 * slot
            self.memory.write(self.base + 0x1000 + 16 * slot, buffer.to_bytes(8, "little")
                              + (0x800).to_bytes(2, "little") + bytes(6))
            self.rxtail = (slot + 1) % self.RING
        self.write(nicmod.QUEUE_REGS + nicmod.RX_RING + nicmod.RING_TAIL, self.rxtail)

    def received(self):
        out = []
        while True:
            at = self.base + 0x1000 + 16 * self.rxhead
            raw = self.memory.read(at, 16)
            if not raw[13] & nicmod.DD:
                return out
            address, length = int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:10], "little")
            out.append(self.memory.read(address, length))
            self.memory.write(at + 13, b"\0")
            self.rxhead = (self.rxhead + 1) % self.RING
            self.post()


def frame(destination, source, payload=b"sriov"):
    return destination + source + b"\x88\xb5" + payload.ljust(46, b".")


@pytest.fixture
def board():
    netdev = EchoNetdev()
    pf = NicController(netdev, sriov_max_vfs=3)
    host, bus, _ = make_host(pf)
    memory = GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE)
    host.attach_memory(memory)
    firmware = Firmware(bus, host.high_mmio_base)
    firmware.enumerate()
    yield pf, host, bus, memory, firmware, netdev
    pf.close()


def drivers(host, bus, memory, firmware, n):
    """The PF's driver and n VF drivers, bus mastering on, VFs enabled."""
    pf_bar = firmware.assigned[(1, 0, 0)][0]
    enable(bus, n)
    out = [BusDriver(bus, pf_bar, memory, 0)]
    for index in range(n):
        cfg_write(bus, 1 + index, 0x04, 0x4, 2)
        out.append(BusDriver(bus, VF_BAR + index * nicmod.BAR0_SIZE, memory, 1 + index))
    return out


def test_capability_registers_in_extended_config_space(board):
    pf, host, bus, _, firmware, _ = board
    assert cfg(bus, 0, 0x0E, 1) == 0x80                        # multi-function, as the NVMe PF
    assert firmware.found[1:] == [(1, 0, 0x1B36, 0x00F0)]     # after the host bridge; no VF yet
    assert cfg(bus, 0, CAP) == 0x0001_0010
    assert cfg(bus, 0, CAP + sriov.INITIAL_VFS) == 3 | 3 << 16
    assert cfg(bus, 0, CAP + sriov.NUM_VFS, 2) == 0
    assert cfg(bus, 0, CAP + sriov.FIRST_VF_OFFSET) == 1 | 1 << 16
    assert cfg(bus, 0, CAP + sriov.VF_DEVICE_ID, 2) == 0x00F0
    assert cfg(bus, 0, CAP + sriov.SUPPORTED_PAGE_SIZES) == 0x553
    cfg_write(bus, 0, CAP + sriov.VF_BAR_0, 0xFFFF_FFFF)
    assert cfg(bus, 0, CAP + sriov.VF_BAR_0) == 0xFFFF_C004    # one VF's 16 KiB, 64-bit
    cfg_write(bus, 0, CAP + sriov.NUM_VFS, 4, 2)               # past TotalVFs: not taken
    assert cfg(bus, 0, CAP + sriov.NUM_VFS, 2) == 0
    # Without sriov_max_vfs the NIC has no extended space at all.
    plain = NicController(SinkNetdev())
    host.add_function(plain, device=5)
    assert bus.read(ecam(5, 0, 0x100), 4) == 0xFFFF_FFFF and bus.read(ecam(5, 0, 0x0E), 1) == 0
    with pytest.raises(ValueError, match="sriov_max_vfs 8 is not 1..7"):
        NicController(SinkNetdev(), sriov_max_vfs=8)


def test_vfs_are_nics_of_their_own_at_their_routing_ids(board):
    pf, host, bus, memory, firmware, _ = board
    all_drivers = drivers(host, bus, memory, firmware, 2)
    assert [vf.name for vf in pf.sriov.vfs] == ["pyvmm-nic-vf0", "pyvmm-nic-vf1"]
    assert sorted(host.virtual_functions) == [(1 << 3) + 1, (1 << 3) + 2]
    for function in (1, 2):
        assert cfg(bus, function, 0) == 0xFFFF_FFFF            # VF Vendor/Device ID
        assert cfg(bus, function, 8) == 0x0200_0001            # Ethernet, revision 1
        assert cfg(bus, function, 0x10) == 0                   # BARs read 0
    assert cfg(bus, 3, 8) == 0xFFFF_FFFF                       # only NumVFs of them
    # Each function reads its own MAC: the PF's, then + 1 + i in the last byte.
    assert [d.mac() for d in all_drivers] == [PF_MAC, bytes.fromhex("525400123457"),
                                              bytes.fromhex("525400123458")]
    assert vf_mac(bytes.fromhex("5254000000ff"), 0) == bytes.fromhex("525400000000")
    # Each has its own rings: a frame to the echo from VF 1 comes back to VF 1 only.
    _, vf0, vf1 = all_drivers
    sent = frame(PEER_MAC, vf1.mac())
    assert vf1.send(sent) == nicmod.DD
    assert vf1.received() == [echo(sent)]
    assert vf0.received() == [] and all_drivers[0].received() == []
    stats = host.stats()
    assert stats["pci.01.2.nic_tx_frames"] == stats["pci.01.2.nic_rx_frames"] == 1
    assert stats["pci.01.1.nic_rx_frames"] == stats["pci.01.0.nic_rx_frames"] == 0
    assert stats["pci.01.0.nic_switch_to_wire"] == stats["pci.01.0.nic_switch_from_wire"] == 1
    # VF MSE off: the VF BARs stop decoding; VF Enable off: the VFs go.
    cfg_write(bus, 0, CAP + sriov.CONTROL, sriov.CONTROL_VF_ENABLE, 2)
    assert host.decode(VF_BAR, io=False) is None
    cfg_write(bus, 0, CAP + sriov.CONTROL, 0, 2)
    assert pf.sriov.vfs == [] and host.virtual_functions == {}


def test_the_switch_sends_frames_by_destination_mac(board):
    pf, host, bus, memory, firmware, netdev = board
    pf_driver, vf0, vf1 = drivers(host, bus, memory, firmware, 2)
    # From the wire: to the function owning the address; broadcast to every
    # function; an address nobody owns to the PF.
    for destination in (vf0.mac(), BROADCAST, bytes.fromhex("525400999999")):
        netdev.deliver(frame(destination, PEER_MAC))
    pf.poll()
    got = [d.received() for d in (pf_driver, vf0, vf1)]
    assert [[f[:6] for f in frames] for frames in got] == [
        [BROADCAST, bytes.fromhex("525400999999")], [vf0.mac(), BROADCAST], [BROADCAST]]
    # VF to VF stays inside the controller; nothing reaches the wire.
    on_the_wire = len(netdev.sent)
    inside = frame(vf1.mac(), vf0.mac(), b"veb")
    assert vf0.send(inside) == nicmod.DD
    assert vf1.received() == [inside] and len(netdev.sent) == on_the_wire
    assert vf0.received() == [] and pf_driver.received() == []
    # A broadcast from a VF goes out and to every other function, not back.
    shout = frame(BROADCAST, vf1.mac(), b"all")
    assert vf1.send(shout) == nicmod.DD
    assert netdev.sent[-1] == shout
    assert pf_driver.received() == [shout] and vf0.received() == [shout]
    assert vf1.received() == [echo(shout)]                      # the echo's reply is unicast
    switch = pf.stats()
    assert switch["nic_switch_between_functions"] == 1 and switch["nic_switch_unmatched_to_pf"] == 1
    # A function whose controller is off takes nothing; its frames are counted.
    vf0.write(nicmod.REG_CTRL, 0)
    netdev.deliver(frame(vf0.mac(), PEER_MAC))
    pf.poll()
    vf0.write(nicmod.REG_CTRL, nicmod.CTRL_EN)
    assert vf0.received() == [] and pf.stats()["nic_switch_to_disabled"] == 1
    # A MAC the VF's driver writes is the one the switch uses.
    vf0.write(nicmod.REG_MAC_LO, 0x0A00_5452)
    assert vf0.mac() == bytes.fromhex("5254000a3457")
    netdev.deliver(frame(vf0.mac(), PEER_MAC))
    pf.poll()
    assert [f[:6] for f in vf0.received()] == [bytes.fromhex("5254000a3457")]


def test_a_full_fifo_drops_and_counts_without_holding_up_the_others(board):
    pf, host, bus, memory, firmware, netdev = board
    _, vf0, vf1 = drivers(host, bus, memory, firmware, 2)
    vf0.write(nicmod.QUEUE_REGS + nicmod.RX_RING + nicmod.RING_TAIL, vf0.rxhead)   # no buffers left
    for k in range(300):
        netdev.deliver(frame(vf0.mac(), PEER_MAC, bytes([k % 256])))
        if k % 64 == 0:
            pf.poll()
    netdev.deliver(frame(vf1.mac(), PEER_MAC, b"still"))
    pf.poll()
    assert [f[14:19] for f in vf1.received()] == [b"still"]
    vf0_stats = pf.sriov.vfs[0].stats()
    assert vf0_stats["nic_rx_fifo_dropped"] == 300 - 256 and vf0_stats["nic_rx_frames"] == 0


def test_snapshot_keeps_the_vfs_their_rings_and_waiting_frames(board):
    pf, host, bus, memory, firmware, netdev = board
    _, vf0, vf1 = drivers(host, bus, memory, firmware, 2)
    vf1.write(nicmod.QUEUE_REGS + nicmod.RX_RING + nicmod.RING_TAIL, vf1.rxhead)
    waiting = frame(vf1.mac(), PEER_MAC, b"wait")
    netdev.deliver(waiting)
    pf.poll()
    saved = host.state()
    cfg_write(bus, 0, CAP + sriov.CONTROL, 0, 2)
    assert host.virtual_functions == {}
    host.restore(saved)
    assert sorted(host.virtual_functions) == [9, 10]
    assert vf1.mac() == bytes.fromhex("525400123458")
    vf1.rxtail = vf1.rxhead
    vf1.post()
    assert vf1.received() == [waiting]
    sent = frame(PEER_MAC, vf0.mac())
    assert vf0.send(sent) == nicmod.DD and vf0.received() == [echo(sent)]
    # A state and a controller that disagree on SR-IOV are refused by name.
    plain = NicController(SinkNetdev())
    with pytest.raises(ValueError, match="pyvmm-nic: the state is of a controller with SR-IOV"):
        plain.restore(pf.state())
    with pytest.raises(ValueError, match="pyvmm-nic: the state is of a controller without SR-IOV"):
        pf.restore(plain.state())
    # A reset of the PF clears VF Enable: the VFs go.
    host.reset()
    assert pf.sriov.vfs == [] and host.virtual_functions == {}


def test_vf_dma_goes_through_the_iommu_under_its_routing_id():
    pf = NicController(EchoNetdev(), sriov_max_vfs=2)
    host, bus, _ = make_host(pf)
    host.attach_iommu(RiscvIommu())
    host.attach_memory(GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE))
    enable(bus, 2)
    assert [vf.memory.memory.device_id for vf in pf.sriov.vfs] == [(1 << 3) + 1, (1 << 3) + 2]
    cfg_write(bus, 2, 0x04, 0x4, 2)
    with pytest.raises(DmaError, match="IOMMU refused device 0x000a"):
        pf.sriov.vfs[1].memory.read(RAM_BASE, 8)
    pf.close()


def test_option_sriov_max_vfs():
    built = build_devices([], ["pyvmm-nic,netdev=n0,sriov_max_vfs=2,queues=2"], ["echo,id=n0"])
    controller = built[0][0]
    assert controller.sriov.total_vfs == 2 and controller.queues == 2
    controller.close()
    for bad in ("8", "two"):
        with pytest.raises(OptionError, match=f"--device pyvmm-nic: sriov_max_vfs='{bad}' is not 0..7"):
            build_devices([], [f"pyvmm-nic,netdev=n0,sriov_max_vfs={bad}"], ["echo,id=n0"])


def pyvmm_run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def test_bare_metal_driver_enables_a_vf_and_uses_it(tmp_path):
    stats = tmp_path / "stats.json"
    run = pyvmm_run(*SRIOV_NIC, "--stats-file", str(stats), NIC_VF_S)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[2] == "sr-iov total vfs 0x02 vf 0 at function 0x1"
    # VF 0 behaves as a whole controller with its MAC (the PF's + 1) would.
    whole = pyvmm_run("--netdev", "echo,id=n0", "--device", "pyvmm-nic,netdev=n0,queues=2,mac=52:54:00:12:34:57",
                      NIC_S)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert lines[:2] + lines[3:] == whole.stdout.splitlines()
    assert "mac 52:54:00:12:34:57" in lines
    devices = json.loads(stats.read_text())["devices"]
    nic, = [counters for name, counters in devices.items() if name.startswith("NicController")]
    assert nic["vf0_nic_tx_frames"] == nic["vf0_nic_rx_frames"] == 32 + 96
    assert nic["vf0_nic_dma_errors"] == 1 and nic["nic_tx_frames"] == nic["nic_rx_frames"] == 0
    assert nic["nic_switch_to_wire"] == nic["netdev_echoed"] == 128 and "vf1_nic_rx_frames" not in nic
    # The same run again gives the same counters.
    again = tmp_path / "again.json"
    assert pyvmm_run(*SRIOV_NIC, "--stats-file", str(again), NIC_VF_S).stdout == run.stdout
    assert json.loads(again.read_text())["devices"] == devices


def test_savevm_with_a_vf_in_use_and_loadvm_finish_the_exchange(tmp_path):
    snapshot = tmp_path / "vf.vm"
    first = pyvmm_run("--max-insns", "300000", "--savevm", str(snapshot), *SRIOV_NIC, NIC_VF_S)
    assert first.returncode == 124, first.stderr[-2000:]
    assert "sr-iov total vfs" in first.stdout and "done" not in first.stdout
    second = pyvmm_run("--loadvm", str(snapshot))
    assert second.returncode == 0, second.stderr[-2000:]
    assert first.stdout + second.stdout == pyvmm_run(*SRIOV_NIC, NIC_VF_S).stdout


def test_bare_metal_driver_without_sr_iov_says_so():
    run = pyvmm_run("--netdev", "echo,id=n0", "--device", "pyvmm-nic,netdev=n0,queues=2", NIC_VF_S)
    assert run.returncode == 3 and run.stdout.splitlines()[-1] == "no SR-IOV capability at 0x100"

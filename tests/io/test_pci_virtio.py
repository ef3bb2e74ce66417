"""A virtio device driven through the modern virtio-pci transport as a
guest driver drives it: enumeration, the vendor capabilities, feature
negotiation, queue setup, notifications, INTx through the ISR, the PCI_CFG
window, bus mastering and QEMU's access rules."""

import shutil
import subprocess

import pytest

from pyvmm.io.pci import virtio_pci as vp
from pyvmm.io.pci.config import BAR_0, CAPABILITY_LIST, COMMAND, COMMAND_MASTER, COMMAND_MEMORY
from pyvmm.io.pci.memmap import ECAM_BASE
from pyvmm.io.pci.virtio_pci import VirtioPciFunction
from pyvmm.io.virtio.blk import VirtioBlk
from pyvmm.io.virtio.device import (ACKNOWLEDGE, DEVICE_NEEDS_RESET, DRIVER, DRIVER_OK, FEATURES_OK,
                                    VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1)
from pyvmm.io.virtio.rng import VirtioRng
from pci_firmware import BusFault, Firmware, ecam, make_host
from virtio_driver import DATA_AREA, RING_AREA, GuardedMemory, Ring

# QEMU 7.2's configuration space for -device virtio-rng-pci,disable-legacy=on,vectors=0
# on the virt machine (monitor: xp /40wx 0x30008000), before firmware programs it.
QEMU_RNG_CONFIG = [
    0x10441AF4, 0x00100000, 0x00FF0001, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
    0x0000000C, 0x00000000, 0x00000000, 0x11001AF4, 0x00000000, 0x00000084, 0x00000000, 0x00000100,
    0x01100009, 0x00000004, 0x00000000, 0x00001000, 0x03104009, 0x00000004, 0x00001000, 0x00001000,
    0x04105009, 0x00000004, 0x00002000, 0x00001000, 0x02146009, 0x00000004, 0x00003000, 0x00001000,
    0x00000004, 0x05147009, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
]


class PciDriver:
    """The guest side: finds the structures through the capabilities and
    drives the common configuration like Linux's virtio_pci_modern."""

    def __init__(self, device):
        self.memory = GuardedMemory()
        self.function = VirtioPciFunction(device)
        self.host, self.bus, self.plic = make_host(self.function)
        self.host.attach_memory(self.memory)
        self.firmware = Firmware(self.bus, self.host.high_mmio_base)
        self.firmware.enumerate()
        self.caps = {}
        offset = self.cfg(CAPABILITY_LIST, 1)
        while offset:
            if self.cfg(offset, 1) == 0x09:
                cfg_type, bar = self.cfg(offset + 3, 1), self.cfg(offset + 4, 1)
                self.caps[cfg_type] = (offset, bar, self.cfg(offset + 8), self.cfg(offset + 12))
            offset = self.cfg(offset + 1, 1)
        self.bar = self.firmware.cpu_address(1, 0, self.caps[vp.COMMON_CFG][1])
        self.notify_multiplier = self.cfg(self.caps[vp.NOTIFY_CFG][0] + 16)

    def cfg(self, offset, size=4):
        return self.bus.read(ecam(1, 0, offset), size)

    def cfg_write(self, offset, value, size=4):
        self.bus.write(ecam(1, 0, offset), size, value)

    def address(self, cfg_type, offset=0):
        return self.bar + self.caps[cfg_type][2] + offset

    def r(self, offset, size=4):
        return self.bus.read(self.address(vp.COMMON_CFG, offset), size)

    def w(self, offset, value, size=4):
        self.bus.write(self.address(vp.COMMON_CFG, offset), size, value)

    def device_features(self):
        features = 0
        for select in (0, 1):
            self.w(vp.DEVICE_FEATURE_SELECT, select)
            features |= self.r(vp.DEVICE_FEATURE) << (32 * select)
        return features

    def negotiate(self, features):
        self.w(vp.DEVICE_STATUS, 0, 1)
        self.w(vp.DEVICE_STATUS, ACKNOWLEDGE | DRIVER, 1)
        for select in (0, 1):
            self.w(vp.DRIVER_FEATURE_SELECT, select)
            self.w(vp.DRIVER_FEATURE, (features >> (32 * select)) & 0xFFFF_FFFF)
        self.w(vp.DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK, 1)
        return bool(self.r(vp.DEVICE_STATUS, 1) & FEATURES_OK)

    def setup_queue(self, index, num=8):
        ring = Ring(self.memory, num, RING_AREA + index * 0x4000)
        self.w(vp.QUEUE_SELECT, index, 2)
        assert self.r(vp.QUEUE_SIZE, 2) >= num
        self.w(vp.QUEUE_SIZE, num, 2)
        self.bus.write(self.address(vp.COMMON_CFG, vp.QUEUE_DESC), 8, ring.desc)
        for offset, address in ((vp.QUEUE_DRIVER, ring.avail), (vp.QUEUE_DEVICE, ring.used)):
            self.w(offset, address & 0xFFFF_FFFF)
            self.w(offset + 4, address >> 32)
        self.w(vp.QUEUE_ENABLE, 1, 2)
        return ring

    def start(self, features=None):
        assert self.negotiate(self.device_features() if features is None else features)
        rings = [self.setup_queue(i) for i in range(self.r(vp.NUM_QUEUES, 2))]
        self.w(vp.DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, 1)
        return rings

    def kick(self, index):
        self.w(vp.QUEUE_SELECT, index, 2)
        off = self.r(vp.QUEUE_NOTIFY_OFF, 2)
        self.bus.write(self.address(vp.NOTIFY_CFG, off * self.notify_multiplier), 2, index)

    def isr(self):
        return self.bus.read(self.address(vp.ISR_CFG), 1)


@pytest.fixture
def rng():
    return PciDriver(VirtioRng())


def test_config_space_matches_qemu():
    function = VirtioPciFunction(VirtioRng())
    _, bus, _ = make_host(function)
    assert [bus.read(ecam(1, 0, 4 * i), 4) for i in range(len(QEMU_RNG_CONFIG))] == QEMU_RNG_CONFIG


@pytest.mark.slow
def test_config_space_matches_running_qemu():
    """Read the same words from a live QEMU through its monitor."""
    if not shutil.which("qemu-system-riscv64"):
        pytest.skip("qemu-system-riscv64 is not installed")
    result = subprocess.run(
        ["qemu-system-riscv64", "-machine", "virt", "-bios", "none", "-nographic", "-S",
         "-serial", "none", "-monitor", "stdio",
         "-device", "virtio-rng-pci,disable-legacy=on,vectors=0"],
        input=f"xp /{len(QEMU_RNG_CONFIG)}wx {ECAM_BASE + (1 << 15):#x}\nquit\n",
        capture_output=True, text=True, timeout=60)
    words = []
    for line in result.stdout.splitlines():
        if line.startswith("00000000300080"):
            words += [int(word, 16) for word in line.split(":")[1].split()]
    assert words == QEMU_RNG_CONFIG


def test_ids_and_class_per_device_type(tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(4096))
    block = VirtioPciFunction(VirtioBlk(str(image)))
    assert block.config_read(0, 4) == 0x1042_1AF4
    assert block.config_read(8, 4) == 0x0100_0001
    assert block.config_read(0x2C, 4) == 0x1100_1AF4


def test_capabilities_point_into_bar4(rng):
    assert set(rng.caps) == {vp.COMMON_CFG, vp.NOTIFY_CFG, vp.ISR_CFG, vp.DEVICE_CFG, vp.PCI_CFG}
    for cfg_type in (vp.COMMON_CFG, vp.NOTIFY_CFG, vp.ISR_CFG, vp.DEVICE_CFG):
        assert rng.caps[cfg_type][1] == 4
    assert rng.firmware.assigned[(1, 0, 4)] == (rng.host.high_mmio_base, 0x4000, "mem64")
    assert rng.notify_multiplier == 4
    assert rng.cfg(BAR_0, 4) == 0 and rng.cfg(BAR_0 + 4 * 4) == 0xC


def test_feature_negotiation(rng):
    offered = rng.device_features()
    assert offered & VIRTIO_F_VERSION_1
    rng.w(vp.DEVICE_FEATURE_SELECT, 2)
    assert rng.r(vp.DEVICE_FEATURE) == 0
    assert not rng.negotiate(offered & ~VIRTIO_F_VERSION_1)      # a modern device insists on VERSION_1
    assert rng.negotiate(VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX)
    assert rng.function.virtio.driver_features == VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX
    rng.w(vp.DRIVER_FEATURE_SELECT, 1)
    assert rng.r(vp.DRIVER_FEATURE) == 1
    rng.w(vp.DRIVER_FEATURE, 0)                                   # too late: FEATURES_OK is set
    assert rng.function.virtio.driver_features == VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX


def test_common_registers(rng):
    assert rng.r(vp.NUM_QUEUES, 2) == 1
    assert rng.r(vp.CONFIG_MSIX_VECTOR, 2) == vp.NO_VECTOR
    rng.w(vp.CONFIG_MSIX_VECTOR, 0, 2)                             # no MSI-X: stays NO_VECTOR
    assert rng.r(vp.CONFIG_MSIX_VECTOR, 2) == vp.NO_VECTOR
    assert rng.r(vp.QUEUE_MSIX_VECTOR, 2) == vp.NO_VECTOR
    assert rng.r(vp.QUEUE_SIZE, 2) == rng.function.virtio.queue_num_max
    rng.w(vp.QUEUE_SELECT, 5, 2)                                   # a queue the device lacks
    assert rng.r(vp.QUEUE_SELECT, 2) == 5
    assert rng.r(vp.QUEUE_SIZE, 2) == 0 and rng.r(vp.QUEUE_ENABLE, 2) == 0
    assert rng.r(vp.QUEUE_NOTIFY_OFF, 2) == 5
    rng.w(vp.QUEUE_ENABLE, 1, 2)
    assert rng.r(vp.QUEUE_ENABLE, 2) == 0
    rng.w(vp.QUEUE_SELECT, 2000, 2)                                # beyond VIRTIO_QUEUE_MAX: ignored
    assert rng.r(vp.QUEUE_SELECT, 2) == 5
    assert rng.r(0x40) == 0 and rng.r(0xFFC) == 0                  # nothing else answers but zeros
    assert rng.r(vp.CONFIG_GENERATION, 1) == 0


def test_queue_registers_latch_until_enabled(rng):
    rng.negotiate(VIRTIO_F_VERSION_1)
    rng.w(vp.QUEUE_SELECT, 0, 2)
    rng.bus.write(rng.address(vp.COMMON_CFG, vp.QUEUE_DESC), 8, 0x1_2345_6000)
    assert rng.r(vp.QUEUE_DESC) == 0x2345_6000 and rng.r(vp.QUEUE_DESC + 4) == 1
    assert rng.bus.read(rng.address(vp.COMMON_CFG, vp.QUEUE_DESC), 8) == 0x1_2345_6000
    queue = rng.function.virtio.queues[0]
    assert queue.desc_addr == 0 and not queue.ready
    rng.w(vp.QUEUE_ENABLE, 1, 2)
    assert queue.desc_addr == 0x1_2345_6000 and queue.ready
    rng.w(vp.DEVICE_STATUS, 0, 1)                                  # reset clears the latches
    assert rng.r(vp.QUEUE_DESC) == 0 and rng.r(vp.QUEUE_ENABLE, 2) == 0


def test_request_notify_interrupt_and_isr(rng):
    (ring,) = rng.start()
    head = ring.add_chain([(DATA_AREA, 64, True)])
    assert rng.plic.changes == []
    rng.kick(0)
    assert ring.take_used() == [(head, 64)]
    assert rng.memory.read(DATA_AREA, 64) != bytes(64)
    source = 32 + (0 + 1) % 4                                      # device 1, INTA
    assert rng.plic.changes == [(source, True)]
    assert rng.function.irq_level and rng.function.virtio.counters["notifications"] == 1
    assert rng.isr() == 1
    assert rng.plic.changes == [(source, True), (source, False)]
    assert rng.isr() == 0
    assert rng.memory.guards_intact()


def test_notify_of_a_missing_queue_is_harmless(rng):
    rng.start()
    rng.bus.write(rng.address(vp.NOTIFY_CFG, 4 * 7), 2, 7)
    rng.bus.write(rng.address(vp.NOTIFY_CFG, 0xFFC), 4, 0)
    assert rng.bus.read(rng.address(vp.NOTIFY_CFG), 4) == 0
    assert not rng.function.virtio.status & DEVICE_NEEDS_RESET


def test_config_change_interrupt(tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(8 * 512))
    driver = PciDriver(VirtioBlk(str(image)))
    assert driver.bus.read(driver.address(vp.DEVICE_CFG), 8) == 8       # capacity in sectors
    assert driver.bus.read(driver.address(vp.DEVICE_CFG, 0xFFC), 4) == 0xFFFF_FFFF
    driver.start()
    driver.function.virtio.config_changed()
    assert driver.r(vp.CONFIG_GENERATION, 1) == 1
    assert driver.isr() == 2
    assert driver.plic.changes[-1][1] is False


def test_intx_disable_and_isr(rng):
    (ring,) = rng.start()
    rng.cfg_write(COMMAND, COMMAND_MEMORY | COMMAND_MASTER | 0x400, 2)
    ring.add_chain([(DATA_AREA, 16, True)])
    rng.kick(0)
    assert rng.plic.changes == []                                  # masked at the pin
    assert rng.cfg(0x06, 2) & 0x08                                 # but the status shows it
    assert rng.isr() == 1
    assert not rng.cfg(0x06, 2) & 0x08


def test_without_bus_master_no_dma(rng):
    (ring,) = rng.start()
    rng.cfg_write(COMMAND, COMMAND_MEMORY, 2)
    virtio = rng.function.virtio
    assert not virtio.status & DRIVER_OK                            # QEMU takes DRIVER_OK away
    rng.w(vp.DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, 1)
    before = rng.memory.read(RING_AREA, 0x4000)
    head = ring.add_chain([(DATA_AREA, 16, True)])
    snapshot = rng.memory.read(RING_AREA, 0x4000) + rng.memory.read(DATA_AREA, 16)
    rng.kick(0)
    assert virtio.status & DEVICE_NEEDS_RESET
    assert rng.memory.read(RING_AREA, 0x4000) + rng.memory.read(DATA_AREA, 16) == snapshot
    assert before != snapshot


def test_queue_enable_zero_needs_reset(rng):
    rng.start()
    rng.w(vp.QUEUE_ENABLE, 0, 2)
    assert rng.function.virtio.status & DEVICE_NEEDS_RESET
    assert rng.isr() == 2


def test_broken_ring_becomes_needs_reset_not_an_exception(rng):
    rng.negotiate(VIRTIO_F_VERSION_1)
    rng.w(vp.QUEUE_SELECT, 0, 2)
    rng.w(vp.QUEUE_SIZE, 3, 2)                                     # not a power of two
    rng.bus.write(rng.address(vp.COMMON_CFG, vp.QUEUE_DESC), 8, 0xFFFF_FFFF_0000)   # outside RAM
    rng.w(vp.QUEUE_ENABLE, 1, 2)
    rng.w(vp.DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, 1)
    rng.kick(0)
    assert rng.function.virtio.status & DEVICE_NEEDS_RESET
    assert rng.memory.guards_intact()


def test_access_rules(rng):
    for offset, size in ((1, 2), (2, 4), (4, 8), (0x1001, 2), (0x3002, 4)):
        with pytest.raises(BusFault):
            rng.bus.read(rng.bar + offset, size)
        with pytest.raises(BusFault):
            rng.bus.write(rng.bar + offset, size, 0)
    assert rng.r(vp.DEVICE_STATUS, 4) == 0                          # the register at 0x14 alone
    assert rng.bus.read(rng.bar, 8) == rng.r(0, 4) | rng.r(4, 4) << 32


def test_pci_cfg_window(rng):
    cap = rng.caps[vp.PCI_CFG][0]
    rng.cfg_write(cap + 4, 4, 1)                                   # bar
    rng.cfg_write(cap + 8, vp.NUM_QUEUES)                          # offset
    rng.cfg_write(cap + 12, 2)                                     # length
    assert rng.cfg(cap + 16, 2) == 1                               # num_queues through config space
    rng.cfg_write(cap + 8, vp.DEVICE_STATUS)
    rng.cfg_write(cap + 12, 1)
    rng.cfg_write(cap + 16, ACKNOWLEDGE, 1)
    assert rng.function.virtio.status == ACKNOWLEDGE
    rng.cfg_write(cap + 4, 0, 1)                                   # a BAR the device lacks: no access
    rng.cfg_write(cap + 16, 0, 1)
    assert rng.function.virtio.status == ACKNOWLEDGE
    rng.cfg_write(cap + 4, 4, 1)
    rng.cfg_write(cap + 12, 3)                                     # an invalid length: no access
    rng.cfg_write(cap + 16, 0, 1)
    assert rng.function.virtio.status == ACKNOWLEDGE
    rng.cfg_write(cap + 8, 0xFFFF_FFFC)                            # outside the BAR: no access
    rng.cfg_write(cap + 12, 4)
    assert rng.cfg(cap + 16) == 0


def test_machine_reset_and_state(rng):
    (ring,) = rng.start()
    ring.add_chain([(DATA_AREA, 16, True)])
    rng.kick(0)
    saved = rng.host.state()
    other = PciDriver(VirtioRng())
    other.host.restore(saved)
    assert other.function.virtio.status == rng.function.virtio.status
    assert other.plic.levels[33] is True
    assert other.r(vp.QUEUE_DESC) == ring.desc
    assert other.isr() == 1
    rng.host.reset()
    assert rng.function.virtio.status == 0 and rng.cfg(COMMAND, 2) == 0
    assert rng.plic.levels[33] is False


def test_write_masks_match_qemu():
    """A guest writing all ones over the header of virtio-rng-pci under QEMU
    7.2 then reads these words back (device 1, before any BAR assignment)."""
    function = VirtioPciFunction(VirtioRng())
    _, bus, _ = make_host(function)
    bus.write(ecam(1, 0, 0x04), 2, 0xFFFF)
    for offset in (0x0C, 0x0D, 0x0F):
        bus.write(ecam(1, 0, offset), 1, 0xFF)
    for offset in (0x20, 0x24, 0x30, 0x3C, 0x10, 0x90):
        bus.write(ecam(1, 0, offset), 4, 0xFFFF_FFFF)
    bus.write(ecam(1, 0, 0x06), 2, 0xFFFF)
    expected = {0x04: 0x00100507, 0x0C: 0x000000FF, 0x10: 0, 0x20: 0xFFFFC00C, 0x24: 0xFFFFFFFF,
                0x30: 0, 0x3C: 0x000001FF, 0x90: 0xFFFFFFFF}
    assert {offset: bus.read(ecam(1, 0, offset), 4) for offset in expected} == expected
    assert function.mapped_bars() == []                          # all-ones BAR 4 would wrap: unmapped


def test_virtio_pci_dma_goes_through_the_iommu():
    """A virtio-pci function behind the IOMMU: its rings and buffers reach
    memory only where its domain maps them; a buffer the domain stops
    mapping (after the invalidation) is refused, recorded, left untouched,
    and the device asks for a reset."""
    from iommu_tables import GStage, Hypervisor
    from pyvmm.io.iommu import RiscvIommu, regs

    driver = PciDriver(VirtioRng())
    hv = Hypervisor(driver.memory, iommu=RiscvIommu(), first_page=DATA_AREA + 0x8_0000)
    driver.host.attach_iommu(hv.iommu)
    driver.host.attach_memory(driver.memory)
    table = GStage(hv)
    hv.set_context(1 << 3, table.iohgatp(3))
    for page in range(RING_AREA, RING_AREA + 0x4000, 0x1000):
        table.map(page, page)                                       # identity: IOVA = RAM address
    table.map(DATA_AREA, DATA_AREA)
    (ring,) = driver.start()
    head = ring.add_chain([(DATA_AREA, 64, True)])
    driver.kick(0)
    assert ring.take_used() == [(head, 64)] and driver.memory.read(DATA_AREA, 64) != bytes(64)
    translated = hv.iommu.stats()["iommu_translations"]
    assert translated > 0

    table.unmap(DATA_AREA)
    hv.iotinval_gvma(gscid=3, gpa=DATA_AREA)
    before = driver.memory.read(DATA_AREA, 4096)
    ring.add_chain([(DATA_AREA, 64, True)])
    driver.kick(0)
    assert driver.memory.read(DATA_AREA, 4096) == before
    assert driver.r(vp.DEVICE_STATUS, 1) & DEVICE_NEEDS_RESET
    # The virtqueue checks each descriptor's buffer before it moves data:
    # through the IOMMU that check is a read request, refused and recorded.
    assert (regs.CAUSE_READ_GUEST_PAGE, regs.TTYP_READ, 1 << 3, DATA_AREA) in [f[:4] for f in hv.faults()]
    assert driver.memory.guards_intact()

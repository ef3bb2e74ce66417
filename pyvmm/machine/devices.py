"""The device set of a virt machine, built once and attached to the bare
board or to a VM alike.

A DeviceSet holds every device a guest can reach besides RAM and the CLINT
(which lives in the core): the SiFive test finisher, the goldfish RTC, the
16550 UART, the PLIC, the eight virtio-mmio slots with whatever back-ends
the options plug into them, and the PCI host with its functions. Devices see
offsets on their register windows and guest-physical addresses through one
GuestMemory; they never see a core or a virtualization technique. The owner
(the board or a VM) gives the set its console, its stop request, the way the
PLIC's outputs reach the harts, and the machine's time; then attaches the
set to its bus, hands it the guest memory, and calls poll() between slices.
"""

from dataclasses import dataclass, field

from pyvmm.machine import fdt
from pyvmm.machine.finisher import SiFiveTest
from pyvmm.machine.layout import (IOMMU_BASE, IOMMU_IRQ, IOMMU_SIZE, PLIC_BASE, PLIC_SIZE, RTC_BASE, RTC_IRQ, RTC_SIZE, TEST_BASE,
                                  TEST_SIZE, UART0_BASE, UART0_IRQ, UART0_SIZE, VIRTIO_BASE,
                                  VIRTIO_COUNT, VIRTIO_IRQ_FIRST, VIRTIO_STRIDE)
from pyvmm.machine.memory import PAGE_SIZE
from pyvmm.machine.plic import PLIC
from pyvmm.machine.rtc import GoldfishRTC
from pyvmm.machine.uart import NS16550A


@dataclass
class DeviceConfig:
    """What the options ask for, spelled as QEMU spells it: --drive, --device
    and --netdev strings, --virtio-legacy, and whether time is the host's."""
    drives: list = field(default_factory=list)
    devices: list = field(default_factory=list)
    netdevs: list = field(default_factory=list)
    virtio_legacy: bool = False
    realtime: bool = False
    iommu: bool = False             # a RISC-V IOMMU in front of every PCI function's DMA


class DeviceSet:
    def __init__(self, config=None, *, console_write, request_stop, mtime, on_plic_change,
                 ram_base, ram_size, plic_contexts=2, console_input=None):
        from pyvmm.io.pci.host import PciHost
        from pyvmm.io.virtio.mmio import VirtioMmio

        self.config = config or DeviceConfig()
        self.ram_size = ram_size
        self._own_pci = []                # _own_pci_functions, as of _own_pci_seen functions on the bus
        self._own_pci_seen = 0
        self.guest_memory = None        # set by attach_memory
        self.plic = PLIC(num_contexts=plic_contexts, on_change=on_plic_change)
        self.uart = NS16550A(console_write, lambda level: self.plic.set_level(UART0_IRQ, level))
        self.finisher = SiFiveTest(request_stop)
        self.rtc = GoldfishRTC(mtime, lambda level: self.plic.set_level(RTC_IRQ, level),
                               realtime=self.config.realtime)
        self.virtio_devices = []        # (VirtioDevice, where it is plugged)
        self.virtio_slots = []
        for slot in range(VIRTIO_COUNT):
            transport = VirtioMmio(None, legacy=self.config.virtio_legacy)
            transport.set_irq = self._irq_line(VIRTIO_IRQ_FIRST + slot)
            self.virtio_slots.append(transport)
        self.pci = PciHost(self.plic, ram_size, ram_base)
        self.pci_devices = []           # PCI functions of their own (NVMe), not virtio
        self.iommu = None
        if self.config.iommu:
            from pyvmm.io.iommu import RiscvIommu
            self.iommu = RiscvIommu(self._irq_line(IOMMU_IRQ))
            self.pci.attach_iommu(self.iommu)
        self._build_virtio(console_write, console_input)

    def _irq_line(self, source):
        plic = self.plic
        return lambda level: plic.set_level(source, level)

    def _build_virtio(self, console_write, console_input):
        from pyvmm.io.options import build_devices
        from pyvmm.io.pci.virtio_pci import VirtioPciFunction
        from pyvmm.io.virtio.mmio import VirtioMmio

        config = self.config
        built = build_devices(config.drives, config.devices, config.netdevs,
                              realtime=config.realtime, console_out=console_write,
                              console_in=console_input, ram_size=self.ram_size)
        for device, transport, slot in built:
            if transport == "pci-function":
                number = self.pci.add_function(device)
                self.pci_devices.append((device, f"pci 00:{number:02x}.0"))
            elif transport == "mmio":
                mmio = VirtioMmio(device, legacy=config.virtio_legacy)
                mmio.set_irq = self._irq_line(VIRTIO_IRQ_FIRST + slot)
                self.virtio_slots[slot] = mmio
                self.virtio_devices.append((device, f"virtio-mmio slot {slot}"))
            else:
                number = self.pci.add_function(VirtioPciFunction(device))
                self.virtio_devices.append((device, f"pci 00:{number:02x}.0"))

    # -- the owner's side ------------------------------------------------------------

    def attach(self, bus):
        """Put every register window on `bus` (a pyvmm.machine.bus.Bus)."""
        bus.attach(TEST_BASE, TEST_SIZE, self.finisher, "test")
        bus.attach(RTC_BASE, RTC_SIZE, self.rtc, "rtc")
        bus.attach(PLIC_BASE, PLIC_SIZE, self.plic, "plic")
        bus.attach(UART0_BASE, UART0_SIZE, self.uart, "uart0")
        for slot, transport in enumerate(self.virtio_slots):
            bus.attach(VIRTIO_BASE + slot * VIRTIO_STRIDE, VIRTIO_STRIDE, transport, f"virtio{slot}")
        self.pci.attach(bus)
        if self.iommu is not None:
            bus.attach(IOMMU_BASE, IOMMU_SIZE, self.iommu, "iommu")

    def attach_memory(self, memory):
        """Give every DMA-capable device the guest memory it reaches."""
        for device, where in self.virtio_devices:
            if not where.startswith("pci"):
                device.attach_memory(memory)
        self.pci.attach_memory(memory)     # PCI functions gate DMA on Bus Master Enable
        self.guest_memory = memory
        for balloon in self.balloons():
            if balloon.discard is None:
                balloon.discard = self.drop_page

    def drop_page(self, gpa):
        """A balloon's default: the host memory behind the 4 KiB page at
        `gpa` goes back to the host (the page reads as zeros afterwards)."""
        self.guest_memory.discard(gpa, PAGE_SIZE)

    def balloons(self):
        """The virtio-balloon devices (at most one, as on QEMU)."""
        from pyvmm.io.virtio.balloon import ID_BALLOON
        return [device for device, _ in self.virtio_devices if device.device_id == ID_BALLOON]

    def set_balloon_hooks(self, discard, reuse=None):
        """The VM's hook: `discard(gpa)` is called for every 4 KiB page the
        guest inflates (instead of dropping the host memory behind it) and
        `reuse(gpa)` for every page it deflates, so a VM on a Host can hand
        the frame back to the Host and map a fresh one on reuse."""
        for balloon in self.balloons():
            balloon.discard = discard
            balloon.reuse = reuse

    def poll(self):
        """Between slices: time-driven and asynchronous device work."""
        self.rtc.poll()
        for device, _ in self.virtio_devices:
            device.poll()
        for function in self._own_pci_functions():
            function.poll()

    def _own_pci_functions(self):
        """PCI functions that are devices of their own (NVMe, pyvmm-nic, a
        host function assigned to this VM), not virtio transports, whose
        virtio device is polled above."""
        slots = self.pci.slots
        if len(slots) != self._own_pci_seen:     # (functions are only ever added to the bus)
            from pyvmm.io.pci.virtio_pci import VirtioPciFunction
            self._own_pci = [function for function in slots.values()
                             if not isinstance(function, VirtioPciFunction)]
            self._own_pci_seen = len(slots)
        return self._own_pci

    def wait_handles(self):
        """Objects with fileno() whose readiness can wake an idle guest (network sockets)."""
        handles = []
        for device, _ in self.virtio_devices:
            handles.extend(getattr(device, "wait_handles", lambda: [])())
        for function in self._own_pci_functions():
            handles.extend(getattr(function, "wait_handles", lambda: [])())
        return handles

    def close(self):
        """Flush and release back-ends (drive files, sockets): after a clean exit
        everything the guest wrote is in its files."""
        for device, _ in self.virtio_devices:
            device.close()
        for device, _ in self.pci_devices:
            device.close()

    def soc_nodes(self, phandle_plic):
        """Device-tree nodes of the optional devices, for /soc. With an IOMMU,
        its node follows the RISC-V IOMMU binding (riscv,iommu.yaml) and the
        PCI host's iommu-map sends every routing ID through it."""
        nodes = [
            fdt.Node("rtc@%x" % RTC_BASE, {
                "interrupts": fdt.cells(RTC_IRQ),
                "interrupt-parent": fdt.cells(phandle_plic),
                "reg": fdt.u64_cells(RTC_BASE, RTC_SIZE),
                "compatible": fdt.string("google,goldfish-rtc"),
            }),
        ]
        phandle_iommu = None
        if self.iommu is not None:
            phandle_iommu = phandle_plic + (fdt.iommu_phandle() - fdt.plic_phandle())
            nodes.append(fdt.Node("iommu@%x" % IOMMU_BASE, {
                "phandle": fdt.cells(phandle_iommu),
                "#iommu-cells": fdt.cells(1),
                "interrupts": fdt.cells(IOMMU_IRQ),
                "interrupt-parent": fdt.cells(phandle_plic),
                "reg": fdt.u64_cells(IOMMU_BASE, IOMMU_SIZE),
                "compatible": fdt.string("riscv,iommu"),
            }))
        nodes.append(self.pci.fdt_node(phandle_plic, phandle_iommu))
        return nodes

    def stats(self):
        stats = {}
        for device, where in self.virtio_devices:
            stats[f"{type(device).__name__} ({where})"] = device.stats()
        for device, where in self.pci_devices:
            stats[f"{type(device).__name__} ({where})"] = device.stats()
        if self.iommu is not None:
            stats[f"RiscvIommu ({IOMMU_BASE:#x})"] = self.iommu.stats()
        return stats

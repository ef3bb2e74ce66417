"""The generic ECAM PCI host bridge of the `virt` board (QEMU 7.2's gpex as
hw/riscv/virt.c instantiates it), with root bus 0 and no bridges.

Four windows go on the system bus:

* configuration (ECAM) at 0x3000_0000: function (bus, device, function)'s
  4 KiB space at bus << 20 | device << 15 | function << 12. An absent
  function, or an offset past a function's configuration space (0x100 for
  a conventional function, 0x1000 for one with extended capabilities such
  as SR-IOV), reads all ones and ignores writes. The virtual functions an
  SR-IOV physical function enables answer at their routing IDs. Accesses must be naturally aligned (else a bus
  error, as QEMU's memory core refuses them); an 8-byte access is two
  4-byte ones, low half first.
* I/O at 0x0300_0000: PCI I/O addresses 0..0xFFFF.
* 32-bit memory at 0x4000_0000 and 64-bit memory after RAM: PCI memory
  addresses equal to the CPU's.

Accesses through an I/O or memory window go to the BAR that decodes the
address, at its offset; where BARs overlap, the one mapped last wins, as in
QEMU's memory API, and an address no enabled BAR decodes is a bus error
(an access fault in the guest).
"""

from pyvmm.io.pci import memmap
from pyvmm.io.pci.config import HEADER_TYPE, HEADER_TYPE_MULTI_FUNCTION, PciFunction
from pyvmm.io.pci.fdt import pcie_node
from pyvmm.io.pci.intx import IntxRouter
from pyvmm.machine.bus import BusFault
from pyvmm.machine.layout import RAM_BASE

NUM_DEVICES = 32
NUM_FUNCTIONS = 8

REDHAT_VENDOR = 0x1B36
REDHAT_PCIE_HOST = 0x0008
CLASS_BRIDGE_HOST = 0x060000


class HostBridge(PciFunction):
    """Device 0 of the root bus: the bridge itself (QEMU's gpex-root)."""

    def __init__(self):
        super().__init__(REDHAT_VENDOR, REDHAT_PCIE_HOST, CLASS_BRIDGE_HOST, name="gpex-root")


def routing_id(bus, device, function_number):
    """The PCI requester (routing) ID: bus << 8 | device << 3 | function."""
    return bus << 8 | device << 3 | function_number


def _ones(size):
    return (1 << (8 * size)) - 1


class EcamWindow:
    """The configuration window, a bus device."""

    def __init__(self, host):
        self.host = host

    def _split(self, offset, size):
        if offset % size:
            raise BusFault(f"misaligned {size}-byte configuration access at {offset:#x}")
        if size == 8:
            return [(offset, 4), (offset + 4, 4)]
        return [(offset, size)]

    def read(self, offset, size):
        value = 0
        for shift, (at, n) in enumerate(self._split(offset, size)):
            value |= self.host.config_read(at, n) << (32 * shift)
        return value

    def write(self, offset, size, value):
        for shift, (at, n) in enumerate(self._split(offset, size)):
            self.host.config_write(at, n, (value >> (32 * shift)) & _ones(n))


class BarWindow:
    """An I/O or memory window: window offset -> PCI address -> BAR."""

    def __init__(self, host, pci_base, io):
        self.host = host
        self.pci_base = pci_base
        self.io = io

    def _decode(self, offset, size):
        address = self.pci_base + offset
        bar = self.host.decode(address, self.io)
        if bar is None:
            raise BusFault(f"no BAR decodes PCI {'I/O' if self.io else 'memory'} address {address:#x}")
        within = address - bar.address
        if within + size > bar.size:
            raise BusFault(f"{size}-byte access at PCI address {address:#x} crosses the end of a BAR")
        return bar, within

    def read(self, offset, size):
        bar, within = self._decode(offset, size)
        self.host.bar_accesses += 1
        return bar.region.read(within, size)

    def write(self, offset, size, value):
        bar, within = self._decode(offset, size)
        self.host.bar_accesses += 1
        bar.region.write(within, size, value)


class PciHost:
    """The host bridge and root bus. `plic` receives INTx as sources
    32..35; `ram_size` (and `ram_base`) place the 64-bit window."""

    def __init__(self, plic, ram_size, ram_base=RAM_BASE):
        self.intx = IntxRouter(plic)
        self.high_mmio_base = memmap.high_mmio_base(ram_base, ram_size)
        self.slots = {}                    # (device, function) -> PciFunction
        self.virtual_functions = {}        # routing ID -> enabled SR-IOV virtual function
        self._memory = None
        self._sequence = 0
        self._decode_tables = None
        self.config_accesses = 0
        self.bar_accesses = 0
        self.iommu = None
        self.bridge = HostBridge()
        self.add_function(self.bridge, device=0)

    # -- topology -----------------------------------------------------------

    def add_function(self, function, device=None, function_number=0):
        """Plug `function` in at (device, function_number) of bus 0; with no
        device given, the lowest free device number (the order of QEMU's
        -device options, from device 1 on). Returns the device number."""
        if device is None:
            used = {d for d, _ in self.slots}
            free = [d for d in range(NUM_DEVICES) if d not in used]
            if not free:
                raise ValueError("PCI bus 0 is full")
            device = free[0]
        if not 0 <= device < NUM_DEVICES or not 0 <= function_number < NUM_FUNCTIONS:
            raise ValueError(f"no such PCI address {device:02x}.{function_number}")
        if (device, function_number) in self.slots:
            raise ValueError(f"PCI address 00:{device:02x}.{function_number} is taken")
        wanted = {routing_id(0, device, function_number)}
        if getattr(function, "sriov", None) is not None:
            wanted |= self._vf_routing_ids(function, device, function_number)
        for (d, n), other in self.slots.items():
            taken = {routing_id(0, d, n)}
            if getattr(other, "sriov", None) is not None:
                taken |= self._vf_routing_ids(other, d, n)
            if wanted & taken:
                raise ValueError(f"PCI address 00:{device:02x}.{function_number}: its routing IDs "
                                 f"meet those of {other.name} at 00:{d:02x}.{n} (with its VFs)")
        if function.host is not None:
            raise ValueError(f"{function.name} is already on a bus")
        function.host = self
        function.device = device
        function.function = function_number
        self.slots[(device, function_number)] = function
        self._mark_multi_function(device)
        function.update_mappings()
        self.mappings_changed()
        return device

    @staticmethod
    def _vf_routing_ids(pf, device, function_number):
        first = routing_id(0, device, function_number)
        return {first + pf.sriov.vf_offset(i) for i in range(pf.sriov.total_vfs)}

    def vfs_changed(self, pf):
        """An SR-IOV physical function enabled or removed its VFs: each
        enabled VF answers at PF routing ID + First VF Offset + i * VF Stride,
        its DMA under that routing ID."""
        for rid, vf in list(self.virtual_functions.items()):
            if vf.pf is pf:
                del self.virtual_functions[rid]
                vf.host = None
        pf_rid = routing_id(0, pf.device, pf.function)
        for vf in pf.sriov.vfs:
            rid = pf_rid + pf.sriov.vf_offset(vf.index)
            vf.host = self
            vf.device, vf.function = (rid >> 3) & (NUM_DEVICES - 1), rid & (NUM_FUNCTIONS - 1)
            self.virtual_functions[rid] = vf
            if self._memory is not None:
                vf.attach_memory(self._function_memory(rid))
            vf.update_mappings()
        self.mappings_changed()

    def _all_functions(self):
        return list(self.slots.values()) + list(self.virtual_functions.values())

    def _mark_multi_function(self, device):
        """A slot with more than one function says so in function 0's header
        type, which is how enumeration knows to probe functions 1..7."""
        first = self.slots.get((device, 0))
        if first is not None and sum(1 for d, _ in self.slots if d == device) > 1:
            first.config[HEADER_TYPE] |= HEADER_TYPE_MULTI_FUNCTION

    def functions(self):
        """(device, function number, PciFunction) in address order."""
        return [(d, f, self.slots[(d, f)]) for d, f in sorted(self.slots)]

    def find(self, bus, device, function_number):
        if bus != 0:
            return None
        found = self.slots.get((device, function_number))
        if found is None:
            found = self.virtual_functions.get(routing_id(bus, device, function_number))
        return found

    # -- configuration space ------------------------------------------------

    def _target(self, ecam_offset):
        bus = ecam_offset >> 20
        device = (ecam_offset >> 15) & (NUM_DEVICES - 1)
        number = (ecam_offset >> 12) & (NUM_FUNCTIONS - 1)
        function = self.find(bus, device, number)
        return function, ecam_offset & 0xFFF

    def config_read(self, ecam_offset, size):
        self.config_accesses += 1
        function, offset = self._target(ecam_offset)
        if function is None or offset >= function.config_size:
            return _ones(size)
        return function.config_read(offset, size)

    def config_write(self, ecam_offset, size, value):
        self.config_accesses += 1
        function, offset = self._target(ecam_offset)
        if function is None or offset >= function.config_size:
            return
        function.config_write(offset, size, value)

    # -- BAR decoding -------------------------------------------------------

    def map_sequence(self):
        self._sequence += 1
        return self._sequence

    def mappings_changed(self):
        self._decode_tables = None

    def _tables(self):
        if self._decode_tables is None:
            memory, io = [], []
            for function in self._all_functions():
                for bar in function.mapped_bars():
                    (io if bar.io else memory).append(bar)
            memory.sort(key=lambda bar: -bar.sequence)
            io.sort(key=lambda bar: -bar.sequence)
            self._decode_tables = (memory, io)
        return self._decode_tables

    def decode(self, address, io):
        """The BAR answering PCI address `address` (I/O or memory space), or None."""
        for bar in self._tables()[1 if io else 0]:
            if bar.address <= address < bar.address + bar.size:
                return bar
        return None

    # -- interrupts ---------------------------------------------------------

    def intx_change(self, function, delta):
        self.intx.change(function.device, function.interrupt_pin, delta)

    # -- the board ----------------------------------------------------------

    def attach(self, bus):
        """Put the four windows on the system bus."""
        bus.attach(memmap.ECAM_BASE, memmap.ECAM_SIZE, EcamWindow(self), "pci-ecam")
        bus.attach(memmap.PIO_BASE, memmap.PIO_SIZE, BarWindow(self, 0, io=True), "pci-pio")
        bus.attach(memmap.MMIO_BASE, memmap.MMIO_SIZE,
                   BarWindow(self, memmap.MMIO_BASE, io=False), "pci-mmio")
        bus.attach(self.high_mmio_base, memmap.HIGH_MMIO_SIZE,
                   BarWindow(self, self.high_mmio_base, io=False), "pci-mmio-high")

    def attach_memory(self, memory):
        """Give each function the memory its DMA reaches: `memory` itself,
        or, with an IOMMU attached, `memory` through the IOMMU under the
        function's routing ID."""
        if self.iommu is not None:
            self.iommu.attach_memory(memory)
        self._memory = memory
        for function in self._all_functions():
            function.attach_memory(self._function_memory(routing_id(0, function.device,
                                                                    function.function)))

    def _function_memory(self, rid):
        if self.iommu is None:
            return self._memory
        return self.iommu.dma_memory(rid)

    def attach_iommu(self, iommu):
        """Put `iommu` (a RiscvIommu) between every function and memory;
        takes effect at the next attach_memory."""
        self.iommu = iommu

    def fdt_node(self, phandle_plic, phandle_iommu=None):
        """The pci@30000000 node for the board's /soc (with `phandle_iommu`,
        an iommu-map through that IOMMU)."""
        return pcie_node(phandle_plic, self.high_mmio_base, phandle_iommu)

    def poll(self):
        for function in self._all_functions():
            function.poll()

    def reset(self):
        for function in self.slots.values():
            function.reset()

    def stats(self):
        out = {"pci_config_accesses": self.config_accesses, "pci_bar_accesses": self.bar_accesses}
        for (device, number), function in sorted(self.slots.items()):
            for key, value in function.stats().items():
                out[f"pci.{device:02x}.{number}.{key}"] = value
        for rid, function in sorted(self.virtual_functions.items()):
            for key, value in function.stats().items():
                out[f"pci.{rid >> 3:02x}.{rid & 7}.{key}"] = value
        return out

    def state(self):
        state = {
            "sequence": self._sequence,
            "functions": {f"{d:02x}.{n}": fn.state() for (d, n), fn in sorted(self.slots.items())},
        }
        if self.iommu is not None:
            state["iommu"] = self.iommu.state()
        return state

    def restore(self, state):
        """Reload every function, then drive each INTx line from the
        restored pin levels."""
        self._sequence = state["sequence"]
        if self.iommu is not None:
            self.iommu.restore(state["iommu"])
        for (device, number), function in self.slots.items():
            function.restore(state["functions"][f"{device:02x}.{number}"])
        self.intx.rebuild((fn.device, fn.interrupt_pin) for fn in self._all_functions()
                          if fn.irq_level and fn.interrupt_pin and not fn.intx_disabled)
        self.mappings_changed()

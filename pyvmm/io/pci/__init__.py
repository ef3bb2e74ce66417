"""PCI on the `virt` board: a generic ECAM host bridge laid out as QEMU 7.2's
gpex on hw/riscv/virt.c, type-0 functions with BARs and capabilities, INTx
routed to the PLIC, and the modern virtio-pci transport.

Typical wiring (the board does this):

    host = PciHost(plic, ram_size)
    host.add_function(VirtioPciFunction(block_device))   # device 1, like -device
    host.attach(bus)
    host.attach_memory(guest_memory)
    soc.add(host.fdt_node(PHANDLE_PLIC))
"""

from pyvmm.io.pci.config import Bar, PciFunction
from pyvmm.io.pci.host import HostBridge, PciHost

__all__ = ["Bar", "HostBridge", "PciFunction", "PciHost"]

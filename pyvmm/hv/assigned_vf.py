"""An SR-IOV virtual function as the VM it is assigned to sees it.

A VF's own configuration space is not a whole function's: its Vendor and
Device ID read 0xFFFF, its BAR registers read 0 (BAR0 lives in the PF's VF
BAR0 window) and its command register has no memory enable. A driver in a
VM expects a plain function, so the hypervisor presents one, as Linux's
vfio-pci does for a VF: the IDs are the PF's vendor and its VF Device ID,
BAR0 is a register of its own that the guest sizes and places in
guest-physical space, and the command register's memory enable is the
view's. Bus Master Enable and INTx Disable go through to the VF, which
gates its DMA and interrupt on them; the VF's INTx drives the view's pin,
hence the VM's virtual PLIC. Everything else — class, revision, subsystem
IDs, interrupt pin — is the VF's.
"""

from pyvmm.io.pci.config import (CLASS_PROG, COMMAND, COMMAND_INTX_DISABLE, COMMAND_MASTER, REVISION_ID,
                                 SUBSYSTEM_ID, SUBSYSTEM_VENDOR_ID, VENDOR_ID, PciFunction)


class _VfPort:
    """The VF's side of the view: what a PciFunction expects of its host."""

    def __init__(self, view):
        self.view = view
        self.sequence = 0

    def map_sequence(self):
        self.sequence += 1
        return self.sequence

    def mappings_changed(self):
        """Nothing decodes the VF's host-side BAR: the VM reaches its
        registers through the view's BAR only."""

    def intx_change(self, function, delta):
        self.view.set_irq(function.irq_level and not function.intx_disabled)


class AssignedVf(PciFunction):
    """The VM's view of virtual function `vf` (an NvmeVirtualFunction or any
    VF with `pf` and BAR 0)."""

    def __init__(self, vf):
        pf = vf.pf
        super().__init__(pf._get(VENDOR_ID, 2), pf.sriov.vf_device_id, vf._get(CLASS_PROG, 3),
                         revision=vf.config[REVISION_ID],
                         subsystem_vendor_id=vf._get(SUBSYSTEM_VENDOR_ID, 2),
                         subsystem_id=vf._get(SUBSYSTEM_ID, 2),
                         interrupt_pin=vf.interrupt_pin, name=vf.name)
        self.vf = vf
        bar = vf.bars[0]
        self.add_bar(0, bar.size, bar.region, io=bar.io, is64=bar.is64, prefetchable=bar.prefetchable)
        vf.host = _VfPort(self)

    def config_written(self, offset, size, value, touches_command):
        if touches_command:
            self.vf.config_write(COMMAND, 2, self.command & (COMMAND_MASTER | COMMAND_INTX_DISABLE))

    def reset(self):
        super().reset()
        self.vf.reset()

    def detach(self):
        """The VF leaves the VM: nothing of it reaches the view any more."""
        self.vf.host = None
        self.set_irq(False)

    def stats(self):
        return dict(self.vf.stats(), **super().stats())

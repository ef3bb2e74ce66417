"""Device assignment: one of the host's PCI functions given to one VM, its
DMA translated by the host's RISC-V IOMMU with the VM's own G-stage table.

The host owns the IOMMU (pyvmm.io.iommu) and programs it as a hypervisor
does: a command queue, a fault queue and a two-level device directory in
host frames that no VM maps. Assigning a function to a VM

* writes the function's device context: G-stage translation (Sv39x4) with
  the VM's VMID as GSCID and the VM's G-stage root as the table, so the
  device reaches exactly the VM's RAM at the VM's guest-physical addresses,
  and the IOTLB entries it builds are tagged with the VM's VMID;
* plugs the function into the VM's PCI bus, where the guest enumerates it
  and programs its BARs like any other (its configuration space is the
  function's own);
* sends the function's BAR accesses straight to the device: they leave the
  core loop like every non-RAM access in pyvmm, but the host hands them to
  the device's registers without the VM's policy or device model, and counts
  them as device accesses of the assignment, not as exits of the VM.

A function is assigned to at most one VM; a VM needs nested paging (the
IOMMU walks its G-stage table, which shadow paging does not have).

An SR-IOV physical function's virtual functions are host functions of their
own once the host enables them (`enable_vfs`, through the PF's SR-IOV
capability): each has its own routing ID, hence its own device context and
domain, and is assigned like any function; the VM sees it through an
AssignedVf (pyvmm.hv.assigned_vf), as vfio-pci presents a VF.
`assign_vf(host, vm, pf, index)` does all of it in one call.
"""

import weakref

from pyvmm.hv.assigned_vf import AssignedVf
from pyvmm.hv.host import HvError
from pyvmm.io.iommu import RiscvIommu, regs
from pyvmm.io.pci import sriov
from pyvmm.io.pci.host import NUM_DEVICES, NUM_FUNCTIONS, BarWindow, routing_id
from pyvmm.machine.bus import BusFault
from pyvmm.machine.memory import PAGE_SIZE, GuestMemory

CQ_LOG2SZ = 6                       # 128 commands in one page (cqb LOG2SZ-1 = 6)
FQ_LOG2SZ = 6                       # 128 records in two pages


class HostIommu:
    """The host's IOMMU and the tables it walks, in host frames."""

    def __init__(self, host):
        core = host.core
        self.host = host
        self.memory = GuestMemory(core.ram_buffer, host.ram_base, host.ram_size,
                                  on_write=lambda hpa, n: core.invalidate_code(hpa, n))
        self.iommu = RiscvIommu()
        self.iommu.attach_memory(self.memory)
        frames = host.frames
        self.cq = frames.alloc(1)
        self.fq = frames.alloc(2)
        self.ddt = frames.alloc(1)
        self.frames = [self.cq, self.fq, self.fq + PAGE_SIZE, self.ddt]
        for frame in self.frames:
            self.memory.fill(frame, PAGE_SIZE)
        iommu = self.iommu
        iommu.write(regs.CQB, 8, (self.cq >> 12) << 10 | CQ_LOG2SZ)
        iommu.write(regs.CQCSR, 4, regs.QCSR_EN)
        iommu.write(regs.FQB, 8, (self.fq >> 12) << 10 | FQ_LOG2SZ)
        iommu.write(regs.FQCSR, 4, regs.QCSR_EN)
        iommu.write(regs.DDTP, 8, (self.ddt >> 12) << 10 | regs.MODE_2LVL)

    def _command(self, low, high=0):
        iommu = self.iommu
        tail = iommu.read(regs.CQT, 4)
        self.memory.write_u64(self.cq + 16 * tail, low)
        self.memory.write_u64(self.cq + 16 * tail + 8, high)
        iommu.write(regs.CQT, 4, (tail + 1) % (1 << (CQ_LOG2SZ + 1)))
        if iommu.read(regs.CQCSR, 4) & (regs.CQCSR_CMD_ILL | regs.QCSR_MF):
            raise HvError(f"the IOMMU refused command {low:#x}")

    def _context_address(self, device_id):
        slot = self.ddt + 8 * (device_id >> 7)
        entry = self.memory.read_u64(slot)
        if not entry & regs.DDTE_V:
            leaf = self.host.frames.alloc(1)
            self.memory.fill(leaf, PAGE_SIZE)
            self.frames.append(leaf)
            entry = (leaf >> 12) << 10 | regs.DDTE_V
            self.memory.write_u64(slot, entry)
        return ((entry >> 10) << 12) + regs.DC_SIZE * (device_id & 0x7F)

    def set_domain(self, device_id, iohgatp):
        """Point `device_id`'s context at a G-stage table (0: no context, every
        DMA refused) and invalidate what the IOMMU cached of the old one."""
        address = self._context_address(device_id)
        old_gscid = (self.memory.read_u64(address + 8) >> regs.IOHGATP_GSCID_SHIFT) & regs.GSCID_MASK
        for i, word in enumerate((regs.TC_V if iohgatp else 0, iohgatp, 0, 0)):
            self.memory.write_u64(address + 8 * i, word)
        self._command(regs.OP_IODIR | regs.IODIR_INVAL_DDT << 7 | 1 << 33 | device_id << 40)
        self._command(regs.OP_IOTINVAL | regs.IOTINVAL_GVMA << 7 | 1 << 33 | old_gscid << 44)

    def invalidate_gscid(self, gscid):
        """Drop the IOTLB entries of one G-stage table (after the hypervisor
        removed a mapping from it)."""
        self._command(regs.OP_IOTINVAL | regs.IOTINVAL_GVMA << 7 | 1 << 33 | gscid << 44)

    def faults(self):
        """Fault records since the last call: (cause, device id, iova, is_write)."""
        iommu, records = self.iommu, []
        head, tail = iommu.read(regs.FQH, 4), iommu.read(regs.FQT, 4)
        while head != tail:
            word0 = self.memory.read_u64(self.fq + 32 * head)
            records.append((word0 & 0xFFF, word0 >> 40, self.memory.read_u64(self.fq + 32 * head + 16),
                            (word0 >> 34) & 0x3F == regs.TTYP_WRITE))
            head = (head + 1) % (1 << (FQ_LOG2SZ + 1))
        iommu.write(regs.FQH, 4, head)
        return records


class Assignment:
    """One host function given to one VM: `function` is what the VM's bus
    holds (the host function itself, or an AssignedVf presenting a VF),
    `host_function` the host's function whose DMA and registers it is."""

    def __init__(self, function, device_id, vm, host_function=None):
        self.function = function
        self.host_function = host_function or function
        self.device_id = device_id
        self.vm = vm
        self.device_accesses = 0


_PASSTHROUGH = weakref.WeakKeyDictionary()     # Host -> its Passthrough


class Passthrough:
    """The host's assignable PCI functions and where each is assigned."""

    def __init__(self, host):
        if host in _PASSTHROUGH:
            raise HvError("the host already has its Passthrough (Passthrough.for_host gives it)")
        self.host = host
        self.iommu = HostIommu(host)
        self.functions = {}           # host device id -> function (VFs included while enabled)
        self.assignments = {}         # host device id -> Assignment
        self.vf_parents = {}          # VF device id -> its PF's device id
        _PASSTHROUGH[host] = self

    @classmethod
    def for_host(cls, host):
        """The host's Passthrough, made on first use (one IOMMU per host)."""
        return _PASSTHROUGH.get(host) or cls(host)

    def add_host_function(self, function, device):
        """Make `function` the host's PCI function 00:device.0; its DMA goes
        through the host IOMMU under that routing ID (refused until assigned)."""
        device_id = routing_id(0, device, 0)
        if device_id in self.functions:
            raise HvError(f"host PCI address 00:{device:02x}.0 already holds "
                          f"{self.functions[device_id].name}")
        self.functions[device_id] = function
        function.attach_memory(self.iommu.iommu.dma_memory(device_id))
        return device_id

    def assign(self, device_id, vm, bar_gpa=None):
        """Give the host function `device_id` to `vm`; returns the Assignment.
        With `bar_gpa`, BAR 0 is placed there with memory decode on, as
        firmware would leave it (it must not cover the VM's RAM)."""
        host_function = self.functions.get(device_id)
        if host_function is None:
            raise HvError(f"no host PCI function with routing ID {device_id:#06x}")
        taken = self.assignments.get(device_id)
        if taken is not None:
            raise HvError(f"{host_function.name} ({device_id:#06x}) is already assigned to {taken.vm.name}")
        if vm.gstage is None:
            raise HvError(f"{vm.name}: device assignment needs nested paging "
                          f"(the IOMMU walks its G-stage table)")
        pf_sriov = getattr(host_function, "sriov", None)
        if pf_sriov is not None and pf_sriov.enabled:
            users = [f"{self.functions[rid].name} assigned to {a.vm.name}"
                     for rid, a in sorted(self.assignments.items()) if self.vf_parents.get(rid) == device_id]
            raise HvError(f"{host_function.name} ({device_id:#06x}) has its VFs enabled"
                          f"{' (' + ', '.join(users) + ')' if users else ''}: a PF is assigned "
                          f"only while its VFs are off")
        bar = host_function.bars[0]
        if bar_gpa is not None:
            if bar is None:
                raise HvError(f"{host_function.name} has no BAR 0 to place")
            self.check_bar(vm, bar_gpa, bar.size)
        function = AssignedVf(host_function) if device_id in self.vf_parents else host_function
        vm.device_set.pci.add_function(function)
        if bar_gpa is not None:
            function.config_write(0x10, 4, (bar_gpa & 0xFFFF_FFFF) | bar.flags)
            function.config_write(0x14, 4, bar_gpa >> 32)
            function.config_write(0x04, 2, function.command | 0x6)    # memory decode, bus master
        # Adding it to the VM's bus must not give it the VM's memory directly.
        host_function.attach_memory(self.iommu.iommu.dma_memory(device_id))
        self.iommu.set_domain(device_id, regs.HGATP_SV39X4 << regs.IOHGATP_MODE_SHIFT
                              | vm.vmid << regs.IOHGATP_GSCID_SHIFT | vm.gstage.root >> 12)
        assignment = Assignment(function, device_id, vm, host_function)
        self.assignments[device_id] = assignment
        vm.assigned_devices.append(assignment)
        return assignment

    # -- SR-IOV -------------------------------------------------------------------

    def _pf(self, device_id):
        pf = self.functions.get(device_id)
        if pf is None:
            raise HvError(f"no host PCI function with routing ID {device_id:#06x}")
        if getattr(pf, "sriov", None) is None:
            raise HvError(f"{pf.name} ({device_id:#06x}) has no SR-IOV capability")
        return pf

    def enable_vfs(self, device_id, count):
        """Enable `count` VFs of the PF `device_id` as host software does,
        through its SR-IOV capability (NumVFs, then VF Enable and VF MSE);
        each becomes a host function at its routing ID, its DMA refused until
        it is assigned. Returns the VFs' routing IDs."""
        pf = self._pf(device_id)
        cap = pf.sriov
        if not 1 <= count <= cap.total_vfs:
            raise HvError(f"{pf.name} ({device_id:#06x}): {count} VFs is not 1..{cap.total_vfs} (TotalVFs)")
        if cap.enabled:
            raise HvError(f"{pf.name} ({device_id:#06x}) already has {len(cap.vfs)} VFs enabled")
        if device_id in self.assignments:
            raise HvError(f"{pf.name} ({device_id:#06x}) is assigned to "
                          f"{self.assignments[device_id].vm.name}: its VFs are the VM's to enable")
        rids = [device_id + cap.vf_offset(i) for i in range(count)]
        for rid in rids:
            if rid in self.functions:
                raise HvError(f"{pf.name}: VF routing ID {rid:#06x} is taken by {self.functions[rid].name}")
        pf.config_write(sriov.CAP_OFFSET + sriov.NUM_VFS, 2, count)
        pf.config_write(sriov.CAP_OFFSET + sriov.CONTROL, 2, sriov.CONTROL_VF_ENABLE | sriov.CONTROL_VF_MSE)
        for rid, vf in zip(rids, cap.vfs):
            self.functions[rid] = vf
            self.vf_parents[rid] = device_id
            vf.attach_memory(self.iommu.iommu.dma_memory(rid))
        return rids

    def disable_vfs(self, device_id):
        """Clear VF Enable: the VFs go away (refused while one is assigned)."""
        pf = self._pf(device_id)
        mine = [rid for rid, parent in self.vf_parents.items() if parent == device_id]
        for rid in mine:
            if rid in self.assignments:
                raise HvError(f"{self.functions[rid].name} ({rid:#06x}) is assigned to "
                              f"{self.assignments[rid].vm.name}: its VFs stay enabled")
        for rid in mine:
            del self.functions[rid]
            del self.vf_parents[rid]
        pf.config_write(sriov.CAP_OFFSET + sriov.CONTROL, 2, 0)

    def vf_routing_id(self, device_id, index):
        """The routing ID of VF `index` of the PF `device_id`."""
        pf = self._pf(device_id)
        count = len(pf.sriov.vfs)
        if not 0 <= index < count:
            raise HvError(f"{pf.name} ({device_id:#06x}) has no VF {index}: "
                          f"{count} VFs enabled (NumVFs)")
        return device_id + pf.sriov.vf_offset(index)

    def assign_vf(self, device_id, index, vm, bar_gpa=None):
        """Give VF `index` of the PF `device_id` to `vm` (see assign)."""
        return self.assign(self.vf_routing_id(device_id, index), vm, bar_gpa=bar_gpa)

    def device_id_of(self, function):
        for device_id, held in self.functions.items():
            if held is function:
                return device_id
        return None

    def add_anywhere(self, function):
        """Make `function` the host's 00:dd.0 at the lowest device number
        whose eight routing IDs are all free (room for its VFs)."""
        for device in range(1, NUM_DEVICES):
            first = routing_id(0, device, 0)
            if not any(first + n in self.functions for n in range(NUM_FUNCTIONS)):
                return self.add_host_function(function, device)
        raise HvError("the host has no free PCI device number left")

    def check_bar(self, vm, gpa, size):
        """A BAR at guest-physical [gpa, gpa + size) may not cover the VM's RAM."""
        if gpa < vm.ram_base + vm.ram_size and vm.ram_base < gpa + size:
            raise HvError(f"{vm.name}: a BAR at {gpa:#x}+{size:#x} overlaps guest RAM "
                          f"[{vm.ram_base:#x}, {vm.ram_base + vm.ram_size:#x})")

    def stats(self):
        out = dict(self.iommu.iommu.stats())
        for device_id, assignment in sorted(self.assignments.items()):
            out[f"assigned.{device_id:04x}.vm"] = assignment.vm.name
            out[f"assigned.{device_id:04x}.device_accesses"] = assignment.device_accesses
        return out


def assign_vf(host, vm, pf, index, bar_gpa=None):
    """One call: VF `index` of the SR-IOV function `pf` (a function object,
    made a host function at a free device number if it is not one yet,
    with all of its TotalVFs enabled if none are) given to `vm`. Returns
    the Assignment."""
    passthrough = Passthrough.for_host(host)
    device_id = passthrough.device_id_of(pf)
    if device_id is None:
        device_id = passthrough.add_anywhere(pf)
    if getattr(pf, "sriov", None) is None:
        raise HvError(f"{pf.name} ({device_id:#06x}) has no SR-IOV capability")
    if not pf.sriov.enabled:
        passthrough.enable_vfs(device_id, pf.sriov.total_vfs)
    return passthrough.assign_vf(device_id, index, vm, bar_gpa=bar_gpa)


def dispatch(vm, vcpu, exit):
    """Serve an MMIO exit that lands in an assigned function's BAR straight
    from its registers; False if the address is not one."""
    region = vm.devices.find(exit.addr)
    if region is None or not isinstance(region.device, BarWindow):
        return False
    window = region.device
    address = window.pci_base + exit.addr - region.base
    bar = window.host.decode(address, window.io)
    if bar is None:
        return False
    for assignment in vm.assigned_devices:
        if bar in assignment.function.mapped_bars():
            break
    else:
        return False
    assignment.device_accesses += 1
    within = address - bar.address
    try:
        if within + exit.size > bar.size:
            raise BusFault("an access crossing the end of an assigned BAR")
        if exit.is_write:
            bar.region.write(within, exit.size, exit.data)
        else:
            vcpu.core.complete_mmio(bar.region.read(within, exit.size))
    except BusFault:
        vm.mmio_faults += 1
        vcpu.core.complete_mmio_fault()
    return True

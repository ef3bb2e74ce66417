"""How a VM gets a device (its I/O virtualization model) and the classic
hypervisor configurations that allow some models and forbid others.

A VM's device is one of

    passthrough:ID   the host function ID assigned to the VM: BAR accesses go
                     to the device, DMA through the host IOMMU (docs/iommu.md)
    vf:ID.N          virtual function N of the SR-IOV function ID, assigned the
                     same way (the PF's VFs are enabled on first use)
    direct:nvme      an emulated NVMe controller in the VM's own device set:
                     every register access is an exit served by a model in the
                     hypervisor ("hypervisor direct")
    split:virtio-blk a virtio-blk device in the VM's device set: the guest's
                     front-end driver, the back-end in the host

and a service VM with its frontends (service=/backend=, docs/service-vm.md)
is the type-1 split across VMs. The named configurations:

    type0  every VM a partition: dedicated harts and RAM, devices only by
           assignment (passthrough or vf), nothing shared, no scheduler
    type1  a service VM owns the host's devices and serves the others
    type2  hosted: every I/O exit also makes the round trip through the host
           OS, priced by the cost model's `hosted_exit` (pyvmm/bench/costmodel.py)
"""

from dataclasses import dataclass

from pyvmm.hv.host import HvError

IO_MODELS = ("passthrough", "vf", "direct", "split")
EMULATED = {"direct": ("nvme",), "split": ("virtio-blk",)}
ASSIGNED = ("passthrough", "vf")


@dataclass(frozen=True)
class IoChoice:
    """One device of a VM: the model, the host device id (assigned models) or
    the emulated kind (direct, split), and the VF index for vf."""

    model: str
    target: str
    vf: int = None

    @property
    def assigned(self):
        return self.model in ASSIGNED

    def __str__(self):
        return f"{self.model}:{self.target}" + (f".{self.vf}" if self.vf is not None else "")


def parse_io(text):
    """'passthrough:N0', 'vf:N0.1', 'direct:nvme', 'split:virtio-blk' -> IoChoice."""
    model, sep, target = text.partition(":")
    if not sep or not target:
        raise HvError(f"io={text}: expected MODEL:DEVICE (models: {', '.join(IO_MODELS)})")
    if model not in IO_MODELS:
        raise HvError(f"io={text}: unknown I/O model {model!r} (known: {', '.join(IO_MODELS)})")
    if model in EMULATED:
        if target not in EMULATED[model]:
            raise HvError(f"io={text}: {model} emulates {', '.join(EMULATED[model])}, not {target!r}")
        return IoChoice(model, target)
    if model == "vf":
        pf, dot, index = target.rpartition(".")
        if not dot or not pf or not index.isdigit():
            raise HvError(f"io={text}: a VF is PF.INDEX (vf:N0.1)")
        return IoChoice(model, pf, int(index))
    return IoChoice(model, target)


@dataclass(frozen=True)
class HypervisorModel:
    """A named configuration: what its VMs may be and how their I/O is priced."""

    name: str
    description: str
    partitions: bool              # every VM a partition (harts, RAM and devices its own)
    service_vms: bool             # every VM a service VM or one of its frontends
    hosted: bool                  # I/O exits also cross the host OS

    def check_vm(self, name, io=None, partition=None, role=None, weighted=False):
        """HvError naming what this configuration forbids for VM `name`:
        `io` its IoChoice, `partition` its harts, `role` "service", "frontend"
        or None, `weighted` whether it asks the scheduler for weight/cap."""
        if self.partitions:
            if role is not None:
                raise HvError(f"{name}: {self.name} has no service VMs (every VM a partition)")
            if io is not None and not io.assigned:
                raise HvError(f"{name}: io={io}: {self.name} gives devices only by assignment "
                              f"(passthrough or vf), not emulated")
            if weighted:
                raise HvError(f"{name}: {self.name} has no scheduler: weight= and cap= do not apply")
        if self.service_vms:
            if role is None:
                raise HvError(f"{name}: {self.name}: every VM is a service VM (service=) or a "
                              f"frontend (backend=)")
            if io is not None:
                raise HvError(f"{name}: io={io}: under {self.name} the service VM owns the "
                              f"devices; others reach them through it (backend=)")
        if self.hosted:
            if partition is not None:
                raise HvError(f"{name}: {self.name} runs VMs as host processes: no partition=")
            if role is not None:
                raise HvError(f"{name}: {self.name} has no service VM: the host OS serves I/O")

    def check_scheduler(self, scheduler):
        if self.partitions and scheduler is not None:
            raise HvError(f"{self.name} has no scheduler: every VM has harts of its own "
                          f"(--scheduler {scheduler})")


HYPERVISOR_MODELS = {
    "type0": HypervisorModel("type0", "partitioning: every VM a partition, devices assigned",
                             partitions=True, service_vms=False, hosted=False),
    "type1": HypervisorModel("type1", "a service VM owns the devices and serves the other VMs",
                             partitions=False, service_vms=True, hosted=False),
    "type2": HypervisorModel("type2", "hosted: every I/O exit also crosses the host OS",
                             partitions=False, service_vms=False, hosted=True),
}


def hypervisor_model(name):
    """The named configuration; HvError for an unknown name."""
    model = HYPERVISOR_MODELS.get(name)
    if model is None:
        raise HvError(f"unknown hypervisor model {name!r} (known: {', '.join(HYPERVISOR_MODELS)})")
    return model


def hosted_cost(vm_stats, cost=None):
    """The type-2 round trips of one VM's run: every MMIO exit (an I/O exit
    served by a device model) also goes through the host OS. Returns the
    count and the modeled cycles they add."""
    from pyvmm.bench import costmodel
    cost = cost or costmodel.DEFAULT
    io_exits = int(vm_stats.get("exits", {}).get("mmio", 0))
    return {"io_exits": io_exits, "hosted_exit_cycles": io_exits * cost.hosted_exit,
            "hosted_exit": cost.hosted_exit}

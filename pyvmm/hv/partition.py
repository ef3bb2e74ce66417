"""Type-0 partitions: a VM given harts, memory and devices of its own, as a
static partitioning hypervisor (Jailhouse, Bao, Xen's dom0less with
cpupools) gives them.

`host.partition(harts=[1, 2], ram_size=..., devices=..., image=...)` makes a
VM whose VCPU i runs on host hart harts[i] and nowhere else; no scheduler
decides anything there and no other VCPU ever runs on those harts (a
partition's VCPU waiting in WFI leaves its hart idle). Its RAM is one
contiguous range of host memory reserved when the partition is made, in
guest order (guest page i is the range's page i), and it has its own device
models, as every VM does. Nothing of it is shared: `vm.shareable` is False,
which page sharing, ballooning and memory overcommit must respect. The
hypervisor's own bookkeeping for it (its G-stage tables) comes from the
host's general pool, as a partitioning hypervisor keeps its own memory.

Hart 0 stays the host's: VMs of other techniques run there, as Jailhouse's
root cell keeps a CPU. Destroying the partition's VM gives the harts and
the RAM back.
"""

from pyvmm.hv.host import PAGE_SIZE, HvError
from pyvmm.hv.vm import VM


class Partition:
    """The harts (HostHart objects) and the host RAM range of one partition."""

    def __init__(self, harts, ram_hpa, ram_size):
        self.harts = harts
        self.ram_hpa = ram_hpa
        self.ram_size = ram_size

    def describe(self):
        return {"harts": [hart.index for hart in self.harts],
                "ram_hpa": self.ram_hpa, "ram_size": self.ram_size}


class PartitionVM(VM):
    """A VM whose RAM is its partition's reserved range."""

    def __init__(self, host, partition, **options):
        self.partition = partition
        self.shareable = False
        super().__init__(host, **options)

    def _allocate_ram(self):
        partition = self.partition
        if self.ram_size != partition.ram_size:
            raise HvError(f"partition RAM is {partition.ram_size} bytes, the VM asks {self.ram_size}")
        return [partition.ram_hpa + i * PAGE_SIZE for i in range(self.ram_size // PAGE_SIZE)]

    def release(self):
        """Give the G-stage frames, the reserved RAM and the harts back."""
        self._page_hpa = []           # the range goes back in one piece, below
        super().release()
        host, partition = self.host, self.partition
        host.frames.free(partition.ram_hpa, partition.ram_size // PAGE_SIZE)
        for hart in partition.harts:
            if hart.partition is self:
                hart.partition = None
        if self in host.partitions:
            host.partitions.remove(self)


def create_partition(host, harts, ram_size, devices=None, image=None, vcpus=None, **options):
    """Validate the request, reserve the harts and RAM, make the VM (and load
    `image` into it); HvError names what cannot be given."""
    if isinstance(harts, int) and not isinstance(harts, bool):
        harts = [harts]
    try:
        wanted = [int(index) for index in harts]
    except (TypeError, ValueError):
        raise HvError(f"partition harts must be a list of hart numbers, not {harts!r}") from None
    if not wanted:
        raise HvError("a partition needs at least one hart")
    if len(set(wanted)) != len(wanted):
        raise HvError(f"partition harts {wanted} name a hart twice")
    count = len(host.harts)
    for index in wanted:
        if not 0 <= index < count:
            raise HvError(f"partition hart {index} does not exist (the host has harts 0..{count - 1})")
        if index == 0:
            raise HvError("partition hart 0: hart 0 stays the host's (shared VMs and other "
                          "techniques run there); dedicate harts 1 and up")
        owner = host.harts[index].partition
        if owner is not None:
            raise HvError(f"partition hart {index} is already dedicated to {owner.name}")
    vcpus = len(wanted) if vcpus is None else vcpus
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or vcpus < 1:
        raise HvError(f"a partition has at least one VCPU, not {vcpus!r}")
    if vcpus > len(wanted):
        raise HvError(f"partition of {vcpus} VCPUs needs {vcpus} dedicated harts, given {len(wanted)}")
    technique = options.pop("technique", "hw")
    paging = options.pop("paging", "nested")
    if technique != "hw" or paging != "nested":
        raise HvError(f"a partition runs technique hw with nested paging, not {technique} "
                      f"with {paging} paging (its VCPUs run on harts other than 0)")
    if not isinstance(ram_size, int) or ram_size <= 0 or ram_size % PAGE_SIZE:
        raise HvError(f"partition RAM must be a positive number of 4 KiB pages, not {ram_size!r}")
    frames = ram_size // PAGE_SIZE
    try:
        ram_hpa = host.frames.alloc(frames)
    except HvError as e:
        raise HvError(f"partition needs {ram_size} bytes of contiguous host RAM: {e}") from None
    dedicated = [host.harts[index] for index in wanted]
    partition = Partition(dedicated, ram_hpa, ram_size)
    try:
        vm = PartitionVM(host, partition, ram_size=ram_size, paging=paging, technique=technique,
                         devices=devices, vcpus=vcpus, **options)
    except BaseException:
        host.frames.free(ram_hpa, frames)
        raise
    for hart in host.harts:
        if hart.index in wanted:
            hart.partition = vm
    host.vms.append(vm)
    host.partitions.append(vm)
    if image is not None:
        try:
            vm.load(image)
        except BaseException:
            host.destroy_vm(vm)
            raise
    return vm

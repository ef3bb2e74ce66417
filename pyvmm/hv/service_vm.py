"""Type 1 with a service VM (Xen's Dom0/DomU split drivers): one VM owns
a host device through device assignment and serves rings to other VMs,
which reach the device only through it: the NVMe controller's block ring
(service "nvme"), or pyvmm-nic's network ring (service "nic", netback and
netfront).

    split = ServiceVms(host)
    dom0 = split.create_service_vm("guests/split/dom0.S", NvmeController("disk.img"), name="dom0")
    domu = split.create_frontend_vm("guests/split/domu.S", backend=dom0, name="domu")
    host.run()

Every VM made here has the interdomain hypercalls (pyvmm.hv.interdomain);
a frontend is told its backend's domain id, the backend reads each
frontend's ring reference and event port once it has published them. The
service VM's controller is assigned to it with pyvmm.hv.passthrough, so its
DMA into a page a frontend granted goes through the host IOMMU with the
service VM's G-stage table, where the grant is mapped (a NIC's DMA reads a
frontend's frame, or writes a received one, the same way). docs/service-vm.md.
"""

from pyvmm.hv.host import HvError
from pyvmm.hv.interdomain import Interdomain
from pyvmm.hv.passthrough import Passthrough
from pyvmm.io.pci.host import routing_id
from pyvmm.machine.loader import ImageError

SERVICES = ("nvme", "nic")
SERVED = {"nvme": "nvme", "nic": "pyvmm-nic"}     # service -> the name of the host function it serves
HOST_DEVICE = 3                    # the host's PCI address of the first served device: 00:03.0


class ServiceVms:
    """The service VMs and frontends of one host."""

    def __init__(self, host, passthrough=None):
        self.host = host
        self.passthrough = passthrough or Passthrough(host)
        self.interdomain = Interdomain(host, self.passthrough.iommu)
        self.services = {}            # service VM -> Assignment of its controller
        self.frontends = {}           # frontend VM -> its service VM

    def create_service_vm(self, image, controller, service="nvme", ram_size=64 << 20,
                          device_id=None, **options):
        """A VM that owns `controller` (a host PCI function: an NVMe
        controller for service "nvme", a pyvmm-nic for "nic"; added to the
        host at 00:03.0, or the lowest free device number when that is taken,
        unless `device_id` names one already added) and serves it to
        frontends. HvError for an unknown service, a device the service does
        not serve, or a controller that is already assigned."""
        if service not in SERVICES:
            raise HvError(f"unknown service {service!r} (known: {', '.join(SERVICES)})")
        if controller.name != SERVED[service]:
            raise HvError(f"service {service!r} serves a {SERVED[service]}, not {controller.name}")
        if device_id is None:
            if self.passthrough.functions.get(routing_id(0, HOST_DEVICE, 0)) is None:
                device_id = self.passthrough.add_host_function(controller, HOST_DEVICE)
            else:
                device_id = self.passthrough.add_anywhere(controller)
        elif self.passthrough.functions.get(device_id) is not controller:
            raise HvError(f"host function {device_id:#06x} is not {controller.name}")
        taken = self.passthrough.assignments.get(device_id)
        if taken is not None:
            raise HvError(f"{controller.name} ({device_id:#06x}) is already assigned to {taken.vm.name}")
        vm = self.host.create_vm(ram_size=ram_size, **options)
        try:
            vm.load(image)
            assignment = self.passthrough.assign(device_id, vm)
        except (HvError, ImageError):
            self.host.destroy_vm(vm)
            raise
        self.interdomain.join(vm)
        self.services[vm] = assignment
        return vm

    def create_frontend_vm(self, image, backend, ram_size=64 << 20, **options):
        """A VM whose block device (or NIC) is the ring `backend` (a service
        VM made here, or its name) serves."""
        service = self._service(backend)
        vm = self.host.create_vm(ram_size=ram_size, **options)
        try:
            vm.load(image)
        except ImageError:
            self.host.destroy_vm(vm)
            raise
        self.join(vm, service)
        return vm

    def join(self, vm, backend=None):
        """Give an existing VM the interdomain hypercalls (and a backend)."""
        domain = self.interdomain.join(vm)
        if backend is not None:
            service = self._service(backend)
            domain.backend = self.interdomain.domain(service)
            domain.backend.frontends.append(domain)
            self.frontends[vm] = service
        return domain

    def _service(self, backend):
        for vm in self.services:
            if vm is backend or vm.name == backend:
                return vm
        name = backend if isinstance(backend, str) else getattr(backend, "name", backend)
        raise HvError(f"backend {name!r} is not a service VM")

    def stats(self, vm):
        """A VM's interdomain counters; a service VM's also its device's
        register accesses and its own counters (commands, or frames)."""
        out = self.interdomain.stats(vm)
        assignment = self.services.get(vm)
        if assignment is not None:
            out["device_accesses"] = assignment.device_accesses
            out["device"] = assignment.function.stats()
        return out

"""`pyvmm run --technique NAME --trace exit,guest_errors`: the exits of a
VM's VCPUs as its policy completes them.

exit          each Exit record (budget exits included), with the VCPU's hart
              id and the record's fields
guest_errors  what the VM's devices report under QEMU's guest_errors: an
              access no device decodes (the guest gets an access fault),
              invalid PLIC and virtio-mmio register accesses, a virtio device
              entering DEVICE_NEEDS_RESET and why

The other classes follow the hart instruction by instruction, which a VM's
run does not do: they are the board's (technique native).
"""

from pyvmm.hv.exits import Exit
from pyvmm.machine.trace import Tracer, device_findings

EXIT_CLASSES = ("exit", "guest_errors")


def _show(value):
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_show(v) for v in value) + ")"
    return repr(value)


class ExitTracer:
    def __init__(self, classes, out):
        unknown = sorted(set(classes) - set(EXIT_CLASSES))
        if unknown:
            raise ValueError(f"trace class {unknown[0]!r} is not available with a --technique "
                             f"(choose from {', '.join(EXIT_CLASSES)})")
        self.classes = set(classes)
        self.out = out
        self._faults = 0
        # the board tracer's device bookkeeping (virtio errors), on the VM's bus
        self._devices = Tracer(self.classes & {"guest_errors"}, out, 0, 0)

    def before(self, vm, vcpu, exit):
        """An exit, before the VM's policy completes it."""
        if "exit" in self.classes:
            fields = " ".join(f"{name}={_show(getattr(exit, name))}" for name in Exit.FIELDS
                              if getattr(exit, name) is not None)
            self.out.write(f"exit: {vm.name} vcpu{vcpu.hartid} {exit.kind}"
                           f"{' ' + fields if fields else ''}\n")
        if "guest_errors" in self.classes:
            self._faults = vm.mmio_faults
            if exit.kind == "mmio":
                addr = exit.addr
                region = vm.devices.find(addr)
                if region is not None and addr + exit.size <= region.end:
                    for cls, message in device_findings(region, addr - region.base, exit.size,
                                                        exit.is_write):
                        if cls == "guest_errors":
                            self.out.write(f"guest_errors: {vm.name} pc={exit.pc:#x}: "
                                           f"{region.name}: {message}\n")

    def after(self, vm, vcpu, exit):
        """The policy has completed the exit."""
        if "guest_errors" not in self.classes:
            return
        if vm.mmio_faults != self._faults and exit.kind == "mmio":
            addr = exit.addr
            region = vm.devices.find(addr)
            reason = "no device" if region is None else f"refused by {region.name}"
            self.out.write(f"guest_errors: {vm.name} pc={exit.pc:#x}: {exit.size}-byte "
                           f"{'store' if exit.is_write else 'load'} at {addr:#x}: {reason}\n")
        self._devices.bus = vm.devices
        self._devices._check_devices()

"""`pyvmm run --technique NAME --trace exit,guest_errors`: the exits of a
VM's VCPUs as its policy completes them.

exit          each Exit record (budget exits included), with the VCPU's hart
              id and the record's fields
guest_errors  what QEMU reports under guest_errors: a guest-physical
              access to nothing (no RAM, no device: the guest gets an access
              fault), an access a device refuses,
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
        self._faults = self._reflected = 0
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
            self._reflected = sum(vm.reflected_faults.values())
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
        if exit.kind == "guest_page_fault" and sum(vm.reflected_faults.values()) != self._reflected:
            access = {20: "fetch", 21: "load", 23: "store"}.get(exit.cause, "access")
            self.out.write(f"guest_errors: {vm.name} pc={exit.pc:#x}: {access} at {exit.gpa:#x}: "
                           "nothing there (access fault)\n")
        self._devices.bus = vm.devices
        self._devices._check_devices()

"""pyvmm.hv: a hypervisor in Python over the core's H extension.

    from pyvmm.hv import Host
    host = Host(ram_size=256 << 20)
    vm = host.create_vm(ram_size=64 << 20, paging="nested")
    vm.load("guests/kernel/kernel.elf")
    vm.run()                         # or: exit = vm.vcpus[0].run(budget); vm.handle(vcpu, exit)

Techniques are registered here by name: each is a VCPU class (state in and
out of the core, run(budget) -> Exit) and a policy class (completes exits).
Another technique adds itself with

    register_technique("trap-emulate", "pyvmm.hv.trap_emulate:TrapEmulateVCPU",
                       "pyvmm.hv.trap_emulate:TrapEmulatePolicy")

(classes or "module:name" strings, resolved when a VM first uses them), and
`pyvmm run --technique NAME` then runs it.
"""

import importlib

from pyvmm.hv.exits import Exit
from pyvmm.hv.host import FrameAllocator, Host, HvError

# technique name -> (VCPU class, policy class), either as "module:attribute".
TECHNIQUES = {
    "hw": ("pyvmm.hv.vcpu:VCPU", "pyvmm.hv.policy:Policy"),
}


def register_technique(name, vcpu_class, policy_class):
    TECHNIQUES[name] = (vcpu_class, policy_class)


def _resolve(entry):
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return entry


def technique_entry(name):
    """(VCPU class, policy class) of a registered technique."""
    try:
        vcpu_class, policy_class = TECHNIQUES[name]
    except KeyError:
        raise HvError(f"unknown technique {name!r} (known: {', '.join(sorted(TECHNIQUES))})") from None
    return _resolve(vcpu_class), _resolve(policy_class)


def __getattr__(name):
    if name == "VM":
        from pyvmm.hv.vm import VM
        return VM
    raise AttributeError(f"module 'pyvmm.hv' has no attribute {name!r}")


__all__ = ["Exit", "FrameAllocator", "Host", "HvError", "TECHNIQUES", "VM", "register_technique",
           "technique_entry"]

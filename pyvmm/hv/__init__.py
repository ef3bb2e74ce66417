"""pyvmm.hv: a hypervisor in Python over the core's H extension.

    from pyvmm.hv import Host
    host = Host(ram_size=256 << 20)
    vm = host.create_vm(ram_size=64 << 20, paging="nested")
    vm.load("guests/kernel/kernel.elf")
    vm.run()                         # or: exit = vm.vcpus[0].run(budget); vm.handle(vcpu, exit)

Techniques are registered here by name: each is a VCPU class (state in and
out of the core, run(budget) -> Exit) and a policy class (completes exits).
Another technique adds itself with

    register_technique("trap-emulate", TrapEmulateVCPU, TrapEmulatePolicy)

(classes or "module:name" strings, resolved when a VM first uses them), and
`pyvmm run --technique NAME` then runs it. A module named in
TECHNIQUE_PROVIDERS is imported when its technique is first asked for and
registers itself through its register().
"""

import importlib

from pyvmm.hv.exits import Exit
from pyvmm.hv.host import FrameAllocator, Host, HvError

# technique name -> (VCPU class, policy class), either as "module:attribute".
TECHNIQUES = {
    "hw": ("pyvmm.hv.vcpu:VCPU", "pyvmm.hv.policy:Policy"),
    "pv": ("pyvmm.hv.pv:PVVCPU", "pyvmm.hv.pv:PVPolicy"),
}


# Techniques other modules provide: name -> module whose register() adds it
# to TECHNIQUES. Imported on first use, so a module not written yet is simply
# not available (and `pyvmm run --technique NAME` a usage error).
TECHNIQUE_PROVIDERS = {
    "trap-emulate": "pyvmm.hv.trap_emulate",
    "bt": "pyvmm.hv.bt",
    "pv": "pyvmm.hv.pv",
}


# scheduling policy name -> its class (or "module:attribute"), made with no
# arguments when a host asks for it by name (pyvmm/hv/sched_policy.py).
SCHEDULERS = {
    "round-robin": "pyvmm.hv.sched_policy:RoundRobinPolicy",
    "credit": "pyvmm.hv.sched_credit:CreditScheduler",
}


def register_scheduler(name, policy_class):
    SCHEDULERS[name] = policy_class


def scheduler_entry(name):
    """The policy class registered under `name`."""
    try:
        entry = SCHEDULERS[name]
    except KeyError:
        raise HvError(f"unknown scheduler {name!r} (known: {', '.join(sorted(SCHEDULERS))})") from None
    return _resolve(entry)


def register_technique(name, vcpu_class, policy_class):
    TECHNIQUES[name] = (vcpu_class, policy_class)


def _load_provider(name):
    module_name = TECHNIQUE_PROVIDERS.get(name)
    if module_name is None or name in TECHNIQUES:
        return
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            return
        raise
    module.register()


def available_techniques():
    """Names of every technique that can run here, registered or provided."""
    for name in TECHNIQUE_PROVIDERS:
        _load_provider(name)
    return sorted(TECHNIQUES)


def _resolve(entry):
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return entry


def technique_entry(name):
    """(VCPU class, policy class) of a registered technique."""
    _load_provider(name)
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


__all__ = ["Exit", "FrameAllocator", "Host", "HvError", "SCHEDULERS", "TECHNIQUES", "VM",
           "available_techniques", "register_scheduler", "register_technique", "scheduler_entry",
           "technique_entry"]

"""Clones: a new VM that starts exactly where a running VM (the template) is.

The clone is built on the same host with the template's configuration; its
RAM is the template's frames, shared copy-on-write (pyvmm.hv.pagemap): no
guest page is copied until one of the two writes it. What is copied is the
small state around the RAM: every VCPU's registers and CSRs (its own VMID,
G-stage root or shadow tables in place of the template's), the devices'
state (the same mechanism as board snapshots: pyvmm.machine.snapshot), the
SBI HSM states, the hypercall table and exit handlers, the policy's counters
and the VM's counters. Its console starts empty: it shows what the clone
prints from now on. Device models added with `vm.attach` are the caller's
objects and are not copied: attach the clone's own.

Time: a clone's guest clock is the template's (htimedelta copied); both run
on the one host clock from there, as two VMs do.

Techniques: hw under nested and shadow paging. trap-emulate, bt and pv keep
VCPU state the hypervisor cannot copy yet (the deprivileged supervisor's
emulated CSRs tied to the template's VCPU, the binary translator's cache and
state page in host frames, the PV event channel): cloning them is refused.
"""

import copy

from pyvmm.hv.host import HvError
from pyvmm.machine.snapshot import device_states, restore_devices

CLONABLE_TECHNIQUES = ("hw",)

# Per VCPU: what is copied as is (containers copied, not aliased).
_VCPU_FIELDS = ("x", "f", "fcsr", "_pc", "priv", "virt", "exit_on_exception", "exit_on_interrupt",
                "soft_timer", "blocked_until", "waiting_for_interrupt", "time_skipped", "instret",
                "host_seconds", "runs", "guest_satp", "slice_left")
_VM_COUNTERS = ("exit_counts", "reflected_faults", "sbi_counts")


def clone_vm(template, name=None, console=None):
    """A clone of `template` on its host; see the module docstring."""
    if template.technique not in CLONABLE_TECHNIQUES:
        raise HvError(f"cannot clone {template.name}: the {template.technique} technique does not "
                      f"support clones (only {', '.join(CLONABLE_TECHNIQUES)})")
    if template.stopped and template.result.how != "budget":
        raise HvError(f"cannot clone {template.name}: it has stopped ({template.result.how})")
    host = template.host
    current = host.current_vcpu
    if current is not None and current.vm is template:
        current.save()                  # the template's registers are in the core: take them out
    from pyvmm.hv.vm import VM
    clone = VM(host, ram_size=template.ram_size, ram_base=template.ram_base, paging=template.paging,
               technique=template.technique, bootargs=template.bootargs, console=console, name=name,
               sstc=template.sstc, devices=copy.deepcopy(template.device_set.config),
               initrd=template.initrd_path, vcpus=template.num_vcpus, share_ram_with=template)
    host.vms.append(clone)
    try:
        _copy_vm(template, clone)
    except BaseException:
        host.destroy_vm(clone)
        raise
    return clone


def _copy_vm(template, clone):
    clone.images = list(template.images)
    clone.symbols = dict(template.symbols)
    clone.kernel_image = template.kernel_image
    clone.dtb_gpa = template.dtb_gpa
    clone.initrd_range = template.initrd_range
    clone.booted = template.booted
    clone.mmio_faults = template.mmio_faults
    clone.run_seconds = template.run_seconds
    for field in _VM_COUNTERS:
        getattr(clone, field).update(getattr(template, field))
    clone.hart_states = dict(template.hart_states)
    # Devices first: restoring the PLIC drives the clone's external interrupt
    # lines, and the VCPU CSRs copied next must win over what that made of hvip.
    restore_devices(clone.device_set, device_states(template.device_set))
    for source, target in zip(template.vcpus, clone.vcpus):
        _copy_vcpu(source, target, clone)
    clone.external_irq = template.external_irq
    # The template's hypercall table and exit handlers, with what its user added to them.
    clone.hypercalls = dict(template.hypercalls)
    clone.policy.handlers = dict(template.policy.handlers)
    clone.policy.on_bad_access = template.policy.on_bad_access
    clone.policy.emulated = dict(template.policy.emulated)


def _copy_vcpu(source, target, clone):
    for field in _VCPU_FIELDS:
        if hasattr(source, field):
            setattr(target, field, copy.copy(getattr(source, field)))
    own = {"hgatp": target.csrs["hgatp"], "vsatp": target.csrs["vsatp"]}
    target.csrs = dict(source.csrs)
    target.csrs["hgatp"] = own["hgatp"]       # the clone's VMID and G-stage root (Bare under shadow)
    if clone.paging == "shadow":
        # vsatp holds a shadow root: the clone's pager starts on the same guest satp.
        target.csrs["vsatp"] = own["vsatp"]
        clone.policy.set_guest_satp(target, source.guest_satp)

"""Clones: a new VM that starts exactly where a running VM (the template) is.

The clone is built on the same host with the template's configuration; its
RAM is the template's frames, shared copy-on-write (pyvmm.hv.pagemap): no
guest page is copied until one of the two writes it. Everything else is
taken as a VM snapshot takes it (pyvmm.hv.snapshot: capture_vm, then
apply_vm_state instead of writing RAM): every VCPU's state as its technique
keeps it (hw registers and CSRs with the clone's own VMID and G-stage root or
shadow tables; trap-emulate's and bt's virtual supervisor, bt's translation
cache laid out again; pv's mode, callback, info page and timer), the
devices' state, SBI HSM states, console input not yet read, and the VM's and
the policy's counters. On top of what a snapshot holds, the clone gets the
template's hypercall table and exit handlers (with what its user added) and
its images. Device models added with `vm.attach` are the caller's objects
and are not copied: attach the clone's own. Its console starts empty: it
shows what the clone prints from now on.

Time: a clone's guest clock is the template's (the host clock is the same
one); both run on it from there, as two VMs do.

Techniques: every one (hw under nested and shadow paging; trap-emulate, bt
and pv, which shadow). Their policies serve exits with their own methods: the
clone's policy gets the same methods bound to itself, so its exits reach its
own pager and VCPUs.
"""

from pyvmm.hv.host import HvError

def clone_vm(template, name=None, console=None):
    """A clone of `template` on its host; see the module docstring."""
    from pyvmm.hv import snapshot
    from pyvmm.hv.vm import VM
    if getattr(template, "shareable", True) is False:
        raise HvError(f"cannot clone {template.name}: it shares nothing (a partition)")
    if not template.booted and template.kernel_image is None:
        raise HvError(f"cannot clone {template.name}: nothing is loaded into it")
    if template.stopped and template.result.how != "budget":
        raise HvError(f"cannot clone {template.name}: it has stopped ({template.result.how})")
    options, state, _pages = snapshot.capture_vm(template)   # RAM pages not read: they are shared
    host = template.host
    clone = VM(host, ram_size=template.ram_size, ram_base=template.ram_base, paging=template.paging,
               technique=template.technique, bootargs=template.bootargs, console=console, name=name,
               sstc=template.sstc, devices=template.device_set.config,
               initrd=template.initrd_path, vcpus=template.num_vcpus, share_ram_with=template)
    host.vms.append(clone)
    try:
        snapshot.apply_vm_state(clone, options, state)
        _copy_host_side(template, clone)
    except BaseException:
        if host.current_vcpu is not None and host.current_vcpu.vm is clone:
            host.current_vcpu.save()      # gives back the hart CSRs a technique borrowed
        host.destroy_vm(clone)
        raise
    return clone


def _policy_own(handler, policy):
    """Is `handler` one the policy made for its own VM: a method of it
    (trap-emulate's, bt's and pv's exit handlers) or a closure over it (pv's
    counted hypercalls)? Such a handler acts on, or counts into, the VM
    it was made for."""
    if getattr(handler, "__self__", None) is policy:
        return True
    cells = getattr(handler, "__closure__", None) or ()
    for cell in cells:
        try:
            if cell.cell_contents is policy:
                return True
        except ValueError:          # an empty cell (a variable not yet bound) holds nothing
            continue
    return False


def _rebound(handler, template_policy, clone_policy):
    """The exit handler for the clone: the same method of its own policy for
    one of the template policy's methods, any other callable (a module
    function, what a user added) as it is."""
    if getattr(handler, "__self__", None) is template_policy:
        return handler.__func__.__get__(clone_policy)
    return handler


def _copy_host_side(template, clone):
    """What the hypervisor's user gave the template, beyond its state."""
    clone.images = list(template.images)
    clone.kernel_image = template.kernel_image
    clone.run_seconds = template.run_seconds
    own = clone.hypercalls
    clone.hypercalls = {key: own[key] if key in own and _policy_own(call, template.policy) else call
                        for key, call in template.hypercalls.items()}
    handlers = getattr(template.policy, "handlers", None)
    if isinstance(handlers, dict):
        clone.policy.handlers = {kind: _rebound(handler, template.policy, clone.policy)
                                 for kind, handler in handlers.items()}
    if hasattr(template.policy, "on_bad_access"):
        clone.policy.on_bad_access = template.policy.on_bad_access
    for vcpu, source in zip(clone.vcpus, template.vcpus):
        vcpu.host_seconds = getattr(source, "host_seconds", 0.0)

"""A VM under a hypervisor technique as a migrating guest, and its rebuilding
on a new Host at the destination.

`VMGuest` gives `pyvmm.migration.precopy` what it needs of a VM: its pages
by guest-physical address (page i is GPA ram_base + i x 4 KiB), slices of
guest time, and its final state (`pyvmm.hv.snapshot.capture_vm`, what a VM
snapshot holds).

The dirty log is the host core's: it logs host-physical frames, whatever
wrote them (the guest through nested or shadow translation, the
hypervisor's emulation, device DMA), like Intel's page-modification log,
which logs guest-physical addresses only because the hardware walks the EPT
for it. Here the translation back is done at each fetch: every guest page's
frame is looked up with the VM's public `gpa_to_hpa`, so a page whose frame
changed since the previous fetch (a copy-on-write break, a page moved by
the host) is dirty too, whether or not its new frame's write was logged,
and frames that belong to no page of this VM (page tables, other VMs,
translation caches) are dropped.

`build_migrated_vm` makes a VM on a fresh Host from a verified stream the
way `host.restore` makes one from a snapshot file: the host's clock
continues the VM's, so its guest time goes on exactly.
"""

import numpy as np

from pyvmm.machine.layout import TIMEBASE_FREQ
from pyvmm.machine.snapfile import PAGE_SIZE, SnapshotError
from pyvmm.migration.stream import MigrationError

KIND_VM = "vm"
PAGINGS = ("nested", "shadow")
MAX_VCPUS = 8
MAX_RAM = 64 << 30
# Host RAM beyond the VM's (as `pyvmm run --technique` sizes its host).
HOST_OVERHEAD = 32 << 20


class VMGuest:
    """A booted VM seen by the pre-copy sender. The VM should be alone on its
    Host (its guest time is the host clock)."""

    kind = KIND_VM

    def __init__(self, vm):
        from pyvmm.hv.snapshot import check_self_contained
        check_self_contained(vm)          # refused before the first page is sent
        self.vm = vm
        self.core = vm.host.core
        self.num_pages = vm.ram_size // PAGE_SIZE
        self._host_ram = np.frombuffer(self.core.ram_buffer, dtype=np.uint8)
        self._host_base = vm.host.ram_base
        self._frames = self._frame_table()
        # one modeled second of guest time: mtime's 10 MHz at insns_per_tick instructions a tick
        self.insns_per_second = TIMEBASE_FREQ * self.core.insns_per_tick

    def _frame_table(self):
        """Host frame index behind every guest page, by page index."""
        vm, base = self.vm, self.vm.ram_base
        return np.fromiter(((vm.gpa_to_hpa(base + i * PAGE_SIZE) - self._host_base) // PAGE_SIZE
                            for i in range(self.num_pages)), dtype=np.int64, count=self.num_pages)

    def config(self):
        from pyvmm.hv.snapshot import vm_options
        options = vm_options(self.vm)
        return {"kind": self.kind, "ram_base": self.vm.ram_base, "ram_size": self.vm.ram_size,
                "page_size": PAGE_SIZE, "options": options}

    def nonzero_pages(self):
        frames = self._frame_table()
        # which host frames hold anything (no copy of RAM), then the VM's, by page
        busy = self._host_ram.view(np.uint64).reshape(-1, PAGE_SIZE // 8).any(axis=1)
        return [int(i) for i in np.flatnonzero(busy[frames])]

    def page(self, index):
        return self.vm.read(self.vm.ram_base + index * PAGE_SIZE, PAGE_SIZE)

    def dirty_log_start(self):
        self._frames = self._frame_table()
        self.core.dirty_log_start()

    def dirty_log_fetch(self):
        """Guest pages written since the last fetch: logged frames that back
        a page of this VM now, and pages whose frame is not the one it was."""
        logged = np.frombuffer(self.core.dirty_log_fetch(), dtype=np.uint32).astype(np.int64)
        frames = self._frame_table()
        dirty = np.isin(frames, logged)
        dirty |= frames != self._frames
        self._frames = frames
        return [int(i) for i in np.flatnonzero(dirty)]

    def dirty_log_stop(self):
        if self.core.dirty_logging:
            self.core.dirty_log_stop()

    def guest_insns(self):
        return sum(vcpu.instret for vcpu in self.vm.vcpus)

    def run(self, insns):
        """Run `insns` more; None while the guest goes on, else its RunResult."""
        result = self.vm.run(insns)
        return None if result.how == "budget" else result

    def final_state(self):
        """The VM's state as a snapshot holds it; capturing may finish a bt
        VCPU's rewritten instruction (its own next steps), whose writes the
        dirty log, still running, catches."""
        from pyvmm.hv.snapshot import capture_vm
        _, state, _ = capture_vm(self.vm)
        return state

    def ram_sha256(self):
        return ram_sha256(self.vm)


def ram_sha256(vm):
    """SHA-256 of the VM's RAM in guest-physical order."""
    import hashlib
    digest = hashlib.sha256()
    for gpa in range(vm.ram_base, vm.ram_base + vm.ram_size, PAGE_SIZE):
        digest.update(vm.read(gpa, PAGE_SIZE))
    return digest.hexdigest()


def check_vm_config(conf, expected):
    """Refuse a VM configuration this side cannot build, or one that differs
    from what the destination's options (`expected`: "ram_size", "smp",
    "technique", "paging", each optional) say."""
    from pyvmm.hv import HvError, technique_entry
    if not isinstance(conf, dict) or not isinstance(conf.get("options"), dict):
        raise MigrationError("corrupt migration stream (no VM configuration)")
    if conf.get("kind") != KIND_VM:
        technique = expected.get("technique")
        wanted = f"a --technique {technique} VM" if technique else "a VM"
        raise MigrationError(f"configuration mismatch: the stream carries a {conf.get('kind')!r}, "
                             f"this destination expects {wanted}")
    options = conf["options"]
    ram_size = conf.get("ram_size")
    technique, paging, vcpus = options.get("technique"), options.get("paging"), options.get("vcpus")
    if conf.get("page_size") != PAGE_SIZE:
        raise MigrationError(f"configuration mismatch: pages of {conf.get('page_size')} bytes, "
                             f"this pyvmm's are {PAGE_SIZE}")
    if not isinstance(ram_size, int) or ram_size <= 0 or ram_size % PAGE_SIZE or ram_size > MAX_RAM:
        raise MigrationError(f"configuration mismatch: RAM of {ram_size} bytes")
    if options.get("ram_size") != ram_size or options.get("ram_base") != conf.get("ram_base"):
        raise MigrationError("corrupt migration stream (two RAM layouts in the configuration)")
    if not isinstance(vcpus, int) or not 1 <= vcpus <= MAX_VCPUS:
        raise MigrationError(f"configuration mismatch: {vcpus} VCPUs (a VM has 1..{MAX_VCPUS})")
    if paging not in PAGINGS:
        raise MigrationError(f"configuration mismatch: paging {paging!r}")
    if not isinstance(options.get("devices"), dict):
        raise MigrationError("corrupt migration stream (the VM's devices are not a mapping)")
    for name, what, have in (("technique", "--technique {}", technique),
                             ("paging", "--paging {}", paging),
                             ("ram_size", "RAM of {} bytes", ram_size),
                             ("smp", "{} VCPUs", vcpus)):
        want = expected.get(name)
        if want is not None and want != have:
            raise MigrationError(f"configuration mismatch: the stream's VM has "
                                 f"{what.format(have)}, this destination expects "
                                 f"{what.format(want)}")
    try:
        technique_entry(technique)
    except HvError as error:
        raise MigrationError(f"configuration mismatch: {error}") from None
    # What building the VM imports, loaded while the pages arrive rather
    # than while the guest is paused (the technique's own modules are loaded
    # by technique_entry).
    import pyvmm.hv.hypercalls      # noqa: F401
    import pyvmm.hv.scheduler       # noqa: F401
    import pyvmm.hv.vm              # noqa: F401
    import pyvmm.io.pci.host        # noqa: F401
    import pyvmm.io.pci.virtio_pci  # noqa: F401
    import pyvmm.io.virtio.balloon  # noqa: F401
    import pyvmm.io.virtio.mmio     # noqa: F401
    if paging == "shadow":
        import pyvmm.hv.shadow      # noqa: F401


def build_migrated_vm(conf, state, pages, console=None, stdin=None):
    """A new Host with one VM in the migrated state: configuration, final
    state and RAM pages ({page index: bytes}; every other page is zero).
    The host's clock continues the VM's (pyvmm.hv.snapshot.build_vm)."""
    from pyvmm.hv import Host, HvError
    from pyvmm.hv.snapshot import build_vm
    options = conf["options"]
    ram_base = conf["ram_base"]
    by_gpa = {ram_base + index * PAGE_SIZE: data for index, data in pages.items()}
    try:
        host = Host(ram_size=conf["ram_size"] + HOST_OVERHEAD)
        return build_vm(host, options, state, by_gpa, console=console, stdin=stdin)
    except (SnapshotError, HvError) as error:
        raise MigrationError(str(error)) from None
    except MemoryError:
        raise MigrationError("cannot allocate host RAM for the VM") from None

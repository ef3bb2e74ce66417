"""The host: its harts (pyvmm._core.Core objects sharing one RAM, as the
board's harts do) and that RAM, the machine memory the hypervisor hands out
to its VMs a frame at a time. `host.core` is hart 0; with `harts=H` the
VCPUs of every VM take turns on H harts under a scheduling policy
(pyvmm/hv/dispatch.py, docs/scheduling.md).

No M-mode code runs on the host, as no HS-mode code does: the Host leaves the
hart as a firmware would leave it for a hypervisor (PMP open, counters and
Sstc enabled for the lower levels, the H causes delegated to HS) and every
trap that would reach HS or M leaves `core.run` instead, to be handled in
Python by the VM's policy.
"""

from pyvmm.isa.csrs import CSRS
from pyvmm.machine.layout import RAM_BASE

PAGE_SIZE = 4096
MASK64 = (1 << 64) - 1
MSTATUS_FS = 3 << 13           # mstatus.FS: Off, Initial, Clean, Dirty

MENVCFG_STCE = 1 << 63
PMP_NAPOT_RWX = 0x1F
PMPADDR_ALL = (1 << 54) - 1
EXCEPTION_CAUSES = (1 << 24) - 1          # 0..23: the standard causes with H
INTERRUPT_CAUSES = (1 << 16) - 1
MIDELEG_HS = (1 << 1) | (1 << 5) | (1 << 9)                 # SSIP, STIP, SEIP
MEDELEG_HS = EXCEPTION_CAUSES & ~((1 << 9) | (1 << 11))     # all but ecall from HS and M


class HvError(Exception):
    """A request the hypervisor cannot serve (out of host memory, bad VM
    configuration); str() is one line."""


class FrameAllocator:
    """4 KiB frames of host RAM: alloc(n, align) -> HPA of n contiguous free
    frames whose address is a multiple of `align` frames; free(hpa, n)."""

    def __init__(self, base, size):
        if base % PAGE_SIZE or size % PAGE_SIZE or size <= 0:
            raise HvError(f"host RAM {base:#x}+{size:#x} is not a whole number of 4 KiB frames")
        self.base = base
        self.nframes = size // PAGE_SIZE
        self._used = bytearray(self.nframes)
        self._hint = 0          # frames below are all in use: lowest-first stays O(n) overall
        self.allocated = 0

    def alloc(self, n=1, align=1):
        if n <= 0 or align <= 0:
            raise ValueError("frame count and alignment must be positive")
        used = self._used
        first_base = self.base // PAGE_SIZE
        index = used.find(0, self._hint)
        if index >= 0:
            self._hint = index
        while 0 <= index and index + n <= self.nframes:
            misalign = (first_base + index) % align
            if misalign:
                index += align - misalign
                continue
            # the last used frame in the window: no run starting at or before it fits
            busy = used.rfind(1, index, index + n)
            if busy < 0:
                used[index:index + n] = b"\x01" * n
                self.allocated += n
                if index == self._hint:
                    self._hint = index + n
                return self.base + index * PAGE_SIZE
            index = used.find(0, busy + 1)
        raise HvError(f"host memory exhausted: no {n} free frame(s) aligned to {align} "
                      f"({self.nframes - self.allocated} of {self.nframes} frames free)")

    def free(self, hpa, n=1):
        index = (hpa - self.base) // PAGE_SIZE
        if hpa % PAGE_SIZE or index < 0 or index + n > self.nframes:
            raise ValueError(f"{hpa:#x}: not a frame of host RAM")
        if self._used.find(0, index, index + n) >= 0:
            raise ValueError(f"{hpa:#x}+{n} frames: freeing a frame that is not allocated")
        self._used[index:index + n] = bytes(n)
        self.allocated -= n
        self._hint = min(self._hint, index)

    def is_allocated(self, hpa):
        index = (hpa - self.base) // PAGE_SIZE
        return 0 <= index < self.nframes and bool(self._used[index])

    @property
    def free_frames(self):
        return self.nframes - self.allocated

    def checkpoint(self):
        """Which frames are in use now, for rollback() after a failed build."""
        return bytes(self._used), self.allocated, self._hint

    def rollback(self, checkpoint):
        """Every frame back to how checkpoint() found it."""
        used, self.allocated, self._hint = checkpoint
        self._used[:] = used


DEFAULT_WEIGHT = 256            # Xen's credit scheduler's default
MAX_WEIGHT = 65535
MAX_HOST_HARTS = 8             # harts of one machine (pyvmm._core.MAX_HARTS_PER_MACHINE)


class HostHart:
    """One hart of the host: its core, the VCPU whose state that core holds,
    and (under a dispatcher) its place on the host's clock."""

    def __init__(self, index, core):
        self.index = index
        self.core = core
        self.current_vcpu = None      # the VCPU whose state the core holds now
        self.partition = None         # the VM this hart is dedicated to, if any
        self.clock = 0                # instructions of modeled time this hart has lived
        self.busy_insns = 0           # of which guest instructions (and stalled exits)
        self.idle_insns = 0           # of which idle: nothing it could run
        self.last_tenant = {}         # VM -> the VCPU of it that last ran here (TLB hygiene)


class Host:
    """The harts and their RAM; VMs are created on it and share the harts by
    turns. `scheduler` names a policy ("round-robin", "credit") or is one
    (pyvmm.hv.sched_policy.SchedulerPolicy); a one-hart host without one runs
    its VMs in the classic round-robin loop (pyvmm/hv/scheduler.py)."""

    def __init__(self, ram_size=256 << 20, ram_base=RAM_BASE, core=None, insns_per_tick=None,
                 harts=1, scheduler=None):
        if isinstance(harts, bool) or not isinstance(harts, int) or not 1 <= harts <= MAX_HOST_HARTS:
            raise HvError(f"a host has 1..{MAX_HOST_HARTS} harts, not {harts!r}")
        if core is not None and harts > 1:
            raise HvError("a host given its core has that one hart (harts=1)")
        if core is None:
            from pyvmm._core import Core
            core = Core(ram_size=ram_size, ram_base=ram_base, hartid=0)
        self.core = core
        self.ram_base = ram_base
        self.ram_size = ram_size
        if insns_per_tick is not None:
            core.insns_per_tick = insns_per_tick
        cores = [core]
        if harts > 1:
            from pyvmm._core import Core
            cores += [Core(hartid=i, peer=core) for i in range(1, harts)]
        self.harts = [HostHart(i, c) for i, c in enumerate(cores)]
        self._hart_of_core = {id(c): hart for c, hart in zip(cores, self.harts)}
        self.frames = FrameAllocator(ram_base, ram_size)
        self.vms = []
        self.vcpu_switches = 0
        self._next_vmid = 1           # VMID 0 stays the host's own (hgatp of no guest)
        self.partitions = []
        self.sched_params = {}        # VM -> {"weight": w, "cap": percent of one hart}
        from pyvmm.hv.sched_policy import scheduler_policy
        self.scheduler = None if scheduler is None else scheduler_policy(scheduler)
        self.dispatcher = None        # made on the first run that needs one
        self.interdomain = None       # pyvmm.hv.interdomain.Interdomain: grants between VMs
        for c in cores:
            self._setup_hart(c)

    @property
    def cores(self):
        return [hart.core for hart in self.harts]

    @property
    def current_vcpu(self):
        """The VCPU whose state hart 0's core holds now."""
        return self.harts[0].current_vcpu

    @current_vcpu.setter
    def current_vcpu(self, vcpu):
        self.harts[0].current_vcpu = vcpu

    def hart_of(self, core):
        """The HostHart whose core this is."""
        return self._hart_of_core[id(core)]

    def loaded_on(self, core):
        """The VCPU whose state `core` holds, or None."""
        return self._hart_of_core[id(core)].current_vcpu

    def set_loaded(self, core, vcpu):
        self._hart_of_core[id(core)].current_vcpu = vcpu

    def hfence_all(self):
        """Drop every hart's cached translations (after the hypervisor changed
        a G-stage mapping that any hart may have cached)."""
        for hart in self.harts:
            hart.core.flush_tlb()

    def _setup_hart(self, core):
        core.write_csr(CSRS["pmpaddr0"], PMPADDR_ALL)
        core.write_csr(CSRS["pmpcfg0"], PMP_NAPOT_RWX)
        core.write_csr(CSRS["mcounteren"], 0xFFFF_FFFF)
        core.write_csr(CSRS["menvcfg"], core.read_csr(CSRS["menvcfg"]) | MENVCFG_STCE)
        core.write_csr(CSRS["stimecmp"], MASK64)
        core.write_csr(CSRS["mie"], 0)
        # The hypervisor keeps the F/D state enabled (FS Dirty) for its guests:
        # at V=1 a guest's FP needs both vsstatus.FS and mstatus.FS, and the
        # f registers are saved with every VCPU switch whatever FS says.
        core.write_csr(CSRS["mstatus"], core.read_csr(CSRS["mstatus"]) | MSTATUS_FS)
        # As a firmware leaves the hart for a hypervisor: S interrupts and the
        # guest's traps delegated to HS (VS interrupts are delegated by the
        # hart itself), so the traps that exit are the ones HS would take.
        core.write_csr(CSRS["mideleg"], MIDELEG_HS)
        core.write_csr(CSRS["medeleg"], MEDELEG_HS)
        # Every trap a guest does not take itself leaves the loop: the hypervisor is Python.
        core.exit_on_exception = EXCEPTION_CAUSES
        core.exit_on_interrupt = INTERRUPT_CAUSES
        self.sstc = bool(core.read_csr(CSRS["menvcfg"]) & MENVCFG_STCE)

    def allocate_vmid(self):
        vmid = self._next_vmid
        self._next_vmid += 1
        return vmid

    def create_vm(self, ram_size=64 << 20, ram_base=RAM_BASE, paging="nested", technique="hw",
                  **options):
        """A new VM with one VCPU, its RAM taken from this host's frames."""
        from pyvmm.hv.vm import VM
        vm = VM(self, ram_size=ram_size, ram_base=ram_base, paging=paging, technique=technique,
                **options)
        self.vms.append(vm)
        return vm

    def restore(self, path, console=None, stdin=None, name=None):
        """A new VM on this host from a VM snapshot file (vm.save()); its
        frames come from this host. SnapshotError or HvError (one line) for
        a file this host cannot restore, and then no VM nor frame is left."""
        from pyvmm.hv.snapshot import restore_vm
        return restore_vm(self, path, console=console, stdin=stdin, name=name)

    def destroy_vm(self, vm):
        """Stop a VM and give its frames back: RAM, page tables, shadow frames."""
        if vm not in self.vms:
            raise HvError(f"{vm.name} is not a VM of this host")
        vm.request_stop("destroyed", 0)
        for hart in self.harts:
            if hart.current_vcpu is not None and hart.current_vcpu.vm is vm:
                hart.current_vcpu = None
            hart.last_tenant.pop(vm, None)
            if hart.partition is vm:
                hart.partition = None
        if self.dispatcher is not None:
            self.dispatcher.forget(vm)
        if self.interdomain is not None:
            # No other VM may keep a mapping of a frame about to be freed.
            self.interdomain.release(vm)
        vm.release()
        self.vms.remove(vm)

    def share_pages(self, vms=None):
        """One content-based page-sharing scan over the VMs' RAM (pyvmm.hv.sharing):
        identical pages mapped to one read-only frame. Returns the frames freed."""
        from pyvmm.hv.sharing import page_sharing
        return page_sharing(self).scan(vms)

    def memory_stats(self):
        """Host frames: guest RAM frames, shared ones, and the allocator's totals."""
        from pyvmm.hv.pagemap import frame_refs
        return frame_refs(self).stats()

    def runnable_vcpus(self):
        return [vcpu for vm in self.vms if not vm.stopped for vcpu in vm.vcpus]

    def run(self, max_insns=None, slice_insns=None):
        """Run every VM's runnable VCPUs on the host's harts until all VMs
        have stopped or `max_insns` guest instructions have retired in total.
        Returns {vm: vm.result}."""
        return self.run_vms(self.vms, max_insns, slice_insns)

    @property
    def dispatched(self):
        """Do this host's VCPUs run under the dispatcher (several harts, or a
        scheduling policy asked for), rather than the one-hart loop?"""
        return len(self.harts) > 1 or self.scheduler is not None or bool(self.partitions)

    def run_vms(self, vms, max_insns=None, slice_insns=None):
        """Run these VMs (the others wait) until they stop or `max_insns`."""
        if not self.dispatched:
            from pyvmm.hv.scheduler import RoundRobin
            return RoundRobin(self, vms=vms, slice_insns=slice_insns).run(max_insns)
        if self.dispatcher is None:
            from pyvmm.hv.dispatch import Dispatcher
            from pyvmm.hv.sched_policy import scheduler_policy
            self.dispatcher = Dispatcher(self, self.scheduler or scheduler_policy("round-robin"))
        return self.dispatcher.run(vms, max_insns)

    def partition(self, harts, ram_size=64 << 20, devices=None, image=None, vcpus=None, **options):
        """A type-0 partition: a VM with these harts to itself (its VCPUs
        pinned 1:1, no other VCPU ever runs there), its RAM one contiguous
        range of host memory reserved for it, its own devices, and no
        sharing of either. See pyvmm/hv/partition.py."""
        from pyvmm.hv.partition import create_partition
        return create_partition(self, harts, ram_size=ram_size, devices=devices, image=image,
                                vcpus=vcpus, **options)

    def set_sched_params(self, vm, weight=None, cap=None):
        """A VM's share under a weighted policy (xl sched-credit -w/-c): weight
        1..65535 (default 256), cap in percent of one hart (0: none) up to
        100 per VCPU."""
        params = self.sched_params.setdefault(vm, {"weight": DEFAULT_WEIGHT, "cap": 0})
        if weight is not None:
            if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
                raise HvError(f"{vm.name}: weight must be 1..{MAX_WEIGHT}, not {weight!r}")
            params["weight"] = weight
        if cap is not None:
            limit = 100 * len(vm.vcpus)
            if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= limit:
                raise HvError(f"{vm.name}: cap must be 0..{limit} (percent of one hart), not {cap!r}")
            params["cap"] = cap
        return dict(params)

    def sched_report(self):
        """Share of hart time and scheduling latency of every VM and VCPU the
        dispatcher has run, and each hart's busy/idle time ({} before)."""
        return {} if self.dispatcher is None else self.dispatcher.report()

    def vm_sched_stats(self, vm):
        """The scheduling figures of one VM, for vm.stats() ({} if none)."""
        if self.dispatcher is None:
            return {}
        return self.dispatcher.vm_report(vm)

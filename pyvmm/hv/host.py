"""The host: one hart (a pyvmm._core.Core) whose RAM is the machine memory the
hypervisor hands out to its VMs a frame at a time.

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
        index = self._hint
        while index + n <= self.nframes:
            misalign = (first_base + index) % align
            if misalign:
                index += align - misalign
                continue
            busy = used.find(1, index, index + n)
            if busy < 0:
                used[index:index + n] = b"\x01" * n
                self.allocated += n
                if index == self._hint:
                    self._hint = index + n
                return self.base + index * PAGE_SIZE
            index = busy + 1
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


class Host:
    """One hart and its RAM; VMs are created on it and share it by turns."""

    def __init__(self, ram_size=256 << 20, ram_base=RAM_BASE, core=None, insns_per_tick=None):
        if core is None:
            from pyvmm._core import Core
            core = Core(ram_size=ram_size, ram_base=ram_base, hartid=0)
        self.core = core
        self.ram_base = ram_base
        self.ram_size = ram_size
        if insns_per_tick is not None:
            core.insns_per_tick = insns_per_tick
        self.frames = FrameAllocator(ram_base, ram_size)
        self.vms = []
        self.current_vcpu = None      # the VCPU whose state the core holds now
        self.vcpu_switches = 0
        self._next_vmid = 1           # VMID 0 stays the host's own (hgatp of no guest)
        self._setup_hart()

    def _setup_hart(self):
        core = self.core
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
        if self.current_vcpu is not None and self.current_vcpu.vm is vm:
            self.current_vcpu = None
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
        """Round-robin every runnable VCPU, a slice each, until all VMs have
        stopped or `max_insns` guest instructions have retired in total.
        Returns {vm: vm.result}."""
        from pyvmm.hv.scheduler import RoundRobin
        return RoundRobin(self, slice_insns=slice_insns).run(max_insns)

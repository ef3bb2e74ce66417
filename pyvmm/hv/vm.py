"""A virtual machine: guest-physical memory made of host frames, the virt
board's devices as Python models at guest-physical addresses, the SBI table
its VCPUs call, and the policy that completes their exits.

The GPA -> HPA map is deliberately neither identity nor contiguous: RAM is
taken from the host in CHUNK_FRAMES chunks and guest chunk i gets the chunk
allocated (n - 1 - i)-th, so guest memory runs backwards through host memory.
A guest, a device model or a hypercall that confused GPA and HPA would read
the wrong bytes at once instead of by luck.
"""

import collections
import collections.abc

from pyvmm.hv.exits import Tally
from pyvmm.hv.host import HvError
from pyvmm.machine import fdt
from pyvmm.machine.bus import Bus
from pyvmm.machine.console import ConsoleInput
from pyvmm.machine.devices import DeviceConfig, DeviceSet
from pyvmm.machine.layout import (CLINT_BASE, CLINT_SIZE, EXIT_BUDGET, EXIT_IDLE, INITRD_MAX_OFFSET,
                                  KERNEL_OFFSET, RAM_BASE, UART0_IRQ)
from pyvmm.machine.loader import ImageError, load_image
from pyvmm.machine.machine import RunResult
from pyvmm.machine.memory import GuestMemory
from pyvmm.machine.plic import CONTEXT_S
from pyvmm.machine.sbi_defs import EXTENSION_NAMES, HSM_STARTED, HSM_STOPPED

PAGE_SHIFT = 12
MAX_VCPUS = 8
PAGE_SIZE = 1 << PAGE_SHIFT
CHUNK_FRAMES = 16                 # 64 KiB of guest RAM per host allocation
DTB_ALIGN = 2 << 20
DTB_CEILING = 3 << 30
PAGINGS = ("nested", "shadow")

# How a stop maps to an exit status; guest-chosen stops use the guest's code
# (as pyvmm.machine.machine does for the board).
_FIXED_STATUS = {"budget": EXIT_BUDGET, "idle": EXIT_IDLE}


class VM:
    def __init__(self, host, ram_size=64 << 20, ram_base=RAM_BASE, paging="nested",
                 technique="hw", bootargs="", console=None, stdin=None, name=None, sstc=None,
                 devices=None, initrd=None, vcpus=1, share_ram_with=None):
        from pyvmm.hv import technique_entry
        if paging not in PAGINGS:
            raise HvError(f"unknown paging {paging!r} (expected nested or shadow)")
        if ram_size <= 0 or ram_size % (CHUNK_FRAMES * PAGE_SIZE):
            raise HvError(f"VM RAM size must be a positive multiple of "
                          f"{CHUNK_FRAMES * PAGE_SIZE >> 10} KiB, not {ram_size}")
        if ram_base % PAGE_SIZE or ram_base < CLINT_BASE + CLINT_SIZE and ram_base + ram_size > CLINT_BASE:
            raise HvError(f"VM RAM base {ram_base:#x} must be page aligned and clear of the devices")
        self.host = host
        self.vmid = host.allocate_vmid()
        self.name = name or f"vm{self.vmid}"
        self.ram_base = ram_base
        self.ram_size = ram_size
        self.paging = paging
        self.technique = technique
        self.bootargs = bootargs or ""
        self.hartid = 0                 # the boot VCPU's hart id
        if not 1 <= vcpus <= MAX_VCPUS:
            raise HvError(f"a VM has 1..{MAX_VCPUS} VCPUs, not {vcpus}")
        if vcpus > 1 and technique != "hw":
            raise HvError(f"several VCPUs need the hw technique, not {technique}")
        if vcpus > 1 and paging != "nested":
            # The shadow pager follows one guest satp per VM, not one per VCPU.
            raise HvError("several VCPUs need nested paging (--paging nested)")
        self.num_vcpus = vcpus
        # Sstc for the guest (its own vstimecmp) when the host has it, unless
        # asked not to: then SBI set_timer is served through hvip.VSTIP.
        self.sstc = host.sstc if sstc is None else bool(sstc) and host.sstc
        self._console = console
        self._console_output = bytearray()
        self.input = ConsoleInput(stdin)

        from pyvmm.hv.pagemap import PageMap
        if share_ram_with is None:
            self.pagemap = PageMap(self, self._allocate_ram())
        else:
            # A clone: every page the template's frame, copy-on-write on both sides.
            self.pagemap = PageMap(self, [])
            self.pagemap.share_with(share_ram_with.pagemap)
        self._page_hpa = self.pagemap.hpa
        self.memory = _PageMap(self)

        self.external_irq = ()
        self.vcpus = []
        # The board's device set, reached through the exit path: every
        # register access of the guest is an MMIO exit this VM's bus answers.
        self.device_set = DeviceSet(devices or DeviceConfig(), console_write=self.console_write,
                                    request_stop=self.request_stop,
                                    mtime=lambda: self.host.core.mtime,
                                    on_plic_change=self._plic_outputs,
                                    plic_contexts=2 * vcpus, ram_base=ram_base, ram_size=ram_size)
        self.plic = self.device_set.plic
        self.uart = self.device_set.uart
        self.finisher = self.device_set.finisher
        self.devices = Bus()
        self.device_set.attach(self.devices)
        self.guest_memory = GuestMemory(host.core.ram_buffer, ram_base, ram_size,
                                        page_offsets=self.pagemap.offsets,
                                        on_write=self._dma_written,
                                        before_write=self._dma_writing)
        self.device_set.attach_memory(self.guest_memory)
        for balloon in self.device_set.balloons():
            if balloon.discard == self.device_set.drop_page:
                # An inflated page's frame goes back to the host's allocator.
                balloon.discard = self.discard_page
        self.initrd_path = initrd
        self.initrd_range = None
        # Descriptors (a monitor's) whose input ends a wait for console input
        # with a budget stop, so they are served while the guest idles.
        self.pause_handles = ()
        self.mmio_faults = 0
        self.error = None             # why the hypervisor stopped the VM (how "error")
        self.tracer = None            # a pyvmm.hv.trace_exits.ExitTracer: --trace exit,guest_errors
        self.run_seconds = 0.0        # host time in its slices: guest, exits and handlers
        self.assigned_devices = []    # pyvmm.hv.passthrough.Assignment: host functions given to this VM

        from pyvmm.hv.hypercalls import default_hypercalls
        self.hypercalls = default_hypercalls()

        self.gstage = None
        self.pager = None
        self.images = []
        self.symbols = {}
        self.kernel_image = None
        self.dtb_gpa = None
        self.booted = False
        self._stop = None
        self.result = None
        self.exit_counts = Tally()                  # exit kind -> exits (one per exit)
        self.reflected_faults = collections.Counter()
        self.sbi_counts = collections.Counter()      # (ext, fid or None for legacy) -> calls

        vcpu_class, policy_class = technique_entry(technique)
        self.policy = policy_class(self)
        self.vcpus = [vcpu_class(self, hartid) for hartid in range(vcpus)]
        # SBI HSM: the boot VCPU runs, the others wait for hart_start (as under OpenSBI).
        self.hart_states = {vcpu.hartid: HSM_STARTED if vcpu.hartid == self.hartid else HSM_STOPPED
                            for vcpu in self.vcpus}

    # -- memory ----------------------------------------------------------------------

    def _allocate_ram(self):
        frames = self.host.frames
        chunk = CHUNK_FRAMES * PAGE_SIZE
        count = self.ram_size // chunk
        if count * CHUNK_FRAMES > frames.free_frames:
            raise HvError(f"host has {frames.free_frames * PAGE_SIZE} bytes free, "
                          f"the VM needs {self.ram_size}")
        chunks = [frames.alloc(CHUNK_FRAMES) for _ in range(count)]
        chunks.reverse()
        return [base + i * PAGE_SIZE for base in chunks for i in range(CHUNK_FRAMES)]

    def release(self):
        """Give every host frame of this VM back (after it has stopped)."""
        self.device_set.close()
        if self.pager is not None and hasattr(self.pager, "close"):
            self.pager.close()
        if self.gstage is not None:
            self.gstage.release()
        # Guest frames go back through their reference counts: clones may share them.
        self.pagemap.release()

    def _dma_writing(self, gpa, n):
        """A device is about to write guest RAM: shared frames never see it."""
        self.pagemap.prepare_write(gpa, n, dma=True)

    def _dma_written(self, gpa, n):
        """A device wrote guest RAM: drop decoded code there, and let the
        shadow pager see page-table writes it did not trap."""
        core = self.host.core
        for hpa, length in self._pieces(gpa, n):
            core.invalidate_code(hpa, length)
        if self.pager is not None:
            self.pager.invalidate_gpa(gpa, n)

    def gpa_to_hpa(self, gpa):
        """The host-physical address behind a guest RAM address, or None."""
        index = (gpa - self.ram_base) >> PAGE_SHIFT
        if gpa < self.ram_base or index >= len(self._page_hpa):
            return None
        return self._page_hpa[index] | (gpa & (PAGE_SIZE - 1))

    def _pieces(self, gpa, n):
        """(hpa, length) runs covering guest RAM gpa..gpa+n, page by page."""
        if n < 0 or gpa < self.ram_base or gpa + n > self.ram_base + self.ram_size:
            raise HvError(f"guest range {gpa:#x}+{n:#x} is not inside the VM's RAM")
        while n > 0:
            length = min(n, PAGE_SIZE - (gpa & (PAGE_SIZE - 1)))
            yield self.gpa_to_hpa(gpa), length
            gpa += length
            n -= length

    def read(self, gpa, n):
        core = self.host.core
        return b"".join(bytes(core.read_mem(hpa, length)) for hpa, length in self._pieces(gpa, n))

    def write(self, gpa, data):
        core = self.host.core
        data = bytes(data)
        done = 0
        if data and self.in_ram(gpa, len(data)):
            self.pagemap.prepare_write(gpa, len(data))
        for hpa, length in self._pieces(gpa, len(data)):
            core.write_mem(hpa, data[done:done + length])
            done += length
        if self.pager is not None and data:
            # Guest page tables may have changed behind the guest's back.
            self.pager.invalidate_gpa(gpa, len(data))

    def in_ram(self, gpa, n=1):
        return self.ram_base <= gpa and gpa + n <= self.ram_base + self.ram_size

    def is_mmio(self, gpa):
        """Is gpa on one of this VM's device pages?"""
        return self.devices.find(gpa) is not None

    def attach(self, base, size, device, name):
        """Add a device model at guest-physical base..base+size: an object
        with read(offset, size) -> int and write(offset, size, value)."""
        region = self.devices.attach(base, size, device, name)
        for vcpu in self.vcpus:
            vcpu.add_guest_mmio(base, size)
        return region

    def mmio_ranges(self):
        """The device windows as few (base, size) ranges as possible: adjacent
        windows merged, since a VCPU watches a bounded number of ranges."""
        ranges = []
        for region in self.devices.regions:
            if ranges and ranges[-1][0] + ranges[-1][1] == region.base:
                ranges[-1] = (ranges[-1][0], ranges[-1][1] + region.size)
            else:
                ranges.append((region.base, region.size))
        return ranges

    def mmio_window(self, gpa):
        """Where shadow tables map a guest device page: the same address on the
        host, which holds no RAM nor native device there, so the access leaves
        the loop as EXIT_MMIO."""
        if not self.is_mmio(gpa):
            raise HvError(f"{gpa:#x} is not a device address of {self.name}")
        return gpa

    def mmio_gpa(self, hpa):
        return hpa

    # -- images and boot -------------------------------------------------------------------

    def load(self, path, load_addr=None):
        """Load the S-mode kernel (ELF, flat or .S; flat at RAM base + 2 MiB)."""
        if self.booted:
            raise ImageError(f"{path}: cannot load an image into a VM that has started")
        if self.kernel_image is not None:
            raise ImageError(f"{path}: a kernel is already loaded ({self.kernel_image.path})")
        image = load_image(path, ram_base=self.ram_base, ram_size=self.ram_size,
                           load_addr=load_addr, default_addr=self.ram_base + KERNEL_OFFSET)
        for addr, data in image.segments:
            self.write(addr, data)
        self.images.append(image)
        self.symbols.update(image.symbols)
        self.kernel_image = image
        return image

    def build_dtb(self):
        """The virt board's tree for this VM's RAM; the ISA string is the
        host's without H, which the guest does not get, nor Zicbom/Zicboz
        (their envcfg enables are not virtualized for every technique)."""
        isa = fdt.isa_string(self.host.core)
        letters, _, extensions = isa[4:].partition("_")
        kept = [ext for ext in extensions.split("_") if ext and (ext != "sstc" or self.sstc)
                and ext not in ("zicbom", "zicboz")]
        isa = "rv64" + letters.replace("h", "") + "".join("_" + ext for ext in kept)
        root = fdt.virt_tree(self.ram_base, self.ram_size, bootargs=self.bootargs,
                             hartid=self.hartid, isa=isa, harts=self.num_vcpus,
                             soc_nodes=self.device_set.soc_nodes(fdt.plic_phandle(self.num_vcpus)),
                             initrd=self.initrd_range, seed=fdt.rng_seed(self.host.core.realtime))
        return fdt.serialize(root, boot_cpuid=self.hartid)

    def boot(self):
        if self.booted:
            return
        if self.kernel_image is None:
            raise ImageError("nothing to run: no kernel loaded into the VM")
        self.place_initrd()
        dtb = self.build_dtb()
        top = self.ram_base + self.ram_size
        if self.ram_base < DTB_CEILING:
            top = min(top, DTB_CEILING)
        dtb_gpa = (top - len(dtb)) & ~(DTB_ALIGN - 1)
        if dtb_gpa < self.ram_base:
            raise ImageError(f"VM RAM of {self.ram_size} bytes has no room for the device tree")
        for image in self.images:
            for addr, data in image.segments:
                if addr < dtb_gpa + len(dtb) and dtb_gpa < addr + len(data):
                    raise ImageError(f"{image.path}: the kernel overlaps the device tree at "
                                     f"{dtb_gpa:#x}; give the VM more RAM")
        self.write(dtb_gpa, dtb)
        self.dtb_gpa = dtb_gpa
        boot = self.vcpu(self.hartid)
        boot.reset(self.kernel_image.entry, a0=boot.hartid, a1=dtb_gpa)
        self.booted = True

    def place_initrd(self):
        """--initrd where QEMU puts it: min(RAM / 2, 128 MiB) above the kernel."""
        if self.initrd_path is None or self.initrd_range is not None:
            return
        with open(self.initrd_path, "rb") as f:
            data = f.read()
        start = self.kernel_image.entry + min(self.ram_size // 2, INITRD_MAX_OFFSET)
        end = start + len(data)
        if not self.in_ram(start, len(data)):
            raise ImageError(f"{self.initrd_path}: an initrd of {len(data)} bytes at {start:#x} "
                             f"does not fit in the VM's RAM; give the VM more RAM")
        for image in self.images:
            for addr, seg in image.segments:
                if addr < end and start < addr + len(seg):
                    raise ImageError(f"{self.initrd_path}: the initrd at {start:#x}..{end:#x} "
                                     f"overlaps the kernel {image.path}")
        self.write(start, data)
        self.initrd_range = (start, end)

    def close(self):
        """Flush and close the VM's device back-ends (drive files, sockets)."""
        self.device_set.close()

    # -- console and interrupts ---------------------------------------------------------

    def console_write(self, data):
        self._console_output += data
        if self._console is not None:
            self._console.write(data)

    def console_read(self):
        return self.input.read_byte()

    @property
    def console_output(self):
        return bytes(self._console_output)

    def flush_console(self):
        flush = getattr(self._console, "flush", None)
        if flush is not None:
            flush()

    def poll_input(self):
        """Between slices: device work (network frames, the RTC's alarm), and
        console input handed to the UART once the guest uses it."""
        self.device_set.poll()
        if not self.uart.accessed:
            return
        self.input.poll()
        if self.input.pending() and self.uart.can_receive():
            self.uart.receive(bytes((self.input.read_byte(),)))
        elif self.uart.rx_fifo and self.uart.timeout_armed:
            self.uart.character_timeout()

    def input_pending(self):
        """Is console input waiting for a guest that reads its UART?"""
        return self.uart.accessed and self.input.pending()

    def input_can_wake(self):
        """Could console input still wake an idle guest? (The UART's receive
        interrupt enabled and routed to the guest's supervisor context, and
        input not at its end.) Then wait for a byte rather than give up."""
        uart, plic = self.uart, self.plic
        if not uart.ier & 0x05 or not plic.priority[UART0_IRQ]:
            return False
        routed = any(plic.enable[CONTEXT_S + 2 * vcpu.hartid] >> UART0_IRQ & 1 for vcpu in self.vcpus)
        if not routed or not uart.can_receive():
            return False
        if self.pause_handles and self.input.fileno() is not None:
            import select
            ready, _, _ = select.select([self.input.fileno(), *self.pause_handles], [], [])
            if any(handle in ready for handle in self.pause_handles):
                # A monitor wants the VM: stop as for budget; it runs on when run again.
                self.request_stop("budget", 0)
                return True
            self.input.poll()
        if not self.input.wait():
            return False
        self.uart.receive(bytes((self.input.read_byte(),)))
        return True

    def _plic_outputs(self, outputs):
        # Context 2h + 1 is VCPU h's supervisor: its VS external interrupt.
        levels = tuple(bool(outputs[CONTEXT_S + 2 * vcpu.hartid]) for vcpu in self.vcpus)
        if levels != self.external_irq:
            self.external_irq = levels
            for vcpu, level in zip(self.vcpus, levels):
                vcpu.set_external_interrupt(level)
                if level:
                    self.wake(vcpu)

    # -- VCPUs and SBI HSM ----------------------------------------------------------------

    def vcpu(self, hartid):
        """The VCPU with this hart id, or None."""
        for vcpu in self.vcpus:
            if vcpu.hartid == hartid:
                return vcpu
        return None

    def runnable(self, vcpu):
        """Started (HSM) and not waiting in WFI for an interrupt only another VCPU can send."""
        return (self.hart_states.get(vcpu.hartid) == HSM_STARTED
                and not getattr(vcpu, "waiting_for_interrupt", False))

    def wake(self, vcpu):
        """An interrupt was sent to `vcpu`: a WFI it waits in ends now."""
        if getattr(vcpu, "waiting_for_interrupt", False) or getattr(vcpu, "blocked_until", None) is not None:
            vcpu.waiting_for_interrupt = False
            vcpu.blocked_until = None

    def others_can_run(self, vcpu):
        """Is another VCPU of this VM started and not waiting for an interrupt?"""
        return any(other is not vcpu and self.runnable(other) for other in self.vcpus)

    # -- running ------------------------------------------------------------------------

    def request_stop(self, how, code):
        """First request wins (as on the board): the VM's VCPUs run no more."""
        if self._stop is None:
            self._stop = (how, int(code))
            self.result = RunResult(_FIXED_STATUS.get(how, int(code)), how, int(code))

    def resume(self):
        """After a stop for budget, let the VM run on (as Machine.run does);
        any other stop is final."""
        if self._stop is not None and self._stop[0] == "budget":
            self._stop = None
            self.result = None

    @property
    def sbi_calls(self):
        """SBI calls by name: "base.3", "dbcn.0", "legacy.0x1", "0xa000000.0"."""
        names = {}
        for (ext, fid), n in self.sbi_counts.items():
            name = f"legacy.{ext:#x}" if fid is None else f"{EXTENSION_NAMES.get(ext, hex(ext))}.{fid}"
            names[name] = names.get(name, 0) + n
        return dict(sorted(names.items()))

    @property
    def stopped(self):
        return self._stop is not None

    def handle(self, vcpu, exit):
        """Complete an exit with this VM's policy; an access to an assigned
        device goes to the device itself (pyvmm.hv.passthrough)."""
        kind = exit.kind
        if kind == "mmio" and self.assigned_devices:
            from pyvmm.hv.passthrough import dispatch
            if dispatch(self, vcpu, exit):
                return
        self.exit_counts[kind] += 1
        if self.tracer is None:
            self.policy.handle(vcpu, exit)
            return
        self.tracer.before(self, vcpu, exit)
        self.policy.handle(vcpu, exit)
        self.tracer.after(self, vcpu, exit)

    def run(self, max_insns=None):
        """Run this VM alone on its host (other VMs wait) until it stops."""
        self.host.run_vms([self], max_insns)
        return self.result

    def save(self, path, base=None):
        """Write this VM to a snapshot file (incremental on top of `base`, an
        earlier snapshot of it); -> the file's SHA-256 (hex). pyvmm.hv.snapshot."""
        from pyvmm.hv.snapshot import save_vm
        return save_vm(self, path, base=base)

    def stats(self):
        core_stats = self.host.core.stats()
        instret = sum(getattr(vcpu, "instret", 0) for vcpu in self.vcpus)
        exits = dict(sorted(self.exit_counts.items()))
        stats = {
            "vcpus": self.num_vcpus,
            "vm": self.name, "vmid": self.vmid, "technique": self.technique, "paging": self.paging,
            "instret": instret,
            "exits": exits,
            "exits_total": sum(exits.values()),
            "exits_handled": sum(n for kind, n in exits.items() if kind != "budget"),
            "sbi": self.sbi_calls,
            "mmio": self.devices.access_counts(),
            "devices": self.device_set.stats(),
            "mmio_faults": self.mmio_faults,
            "reflected_faults": {str(k): v for k, v in sorted(self.reflected_faults.items())},
            "host_seconds": round(sum(getattr(vcpu, "host_seconds", 0.0) for vcpu in self.vcpus), 6),
            "how": self.result.how if self.result else None,
            "status": self.result.status if self.result else None,
        }
        handled = stats["exits_handled"]
        stats["insns_per_exit"] = round(instret / handled, 1) if handled else None
        stats["run_seconds"] = round(self.run_seconds, 6)
        stats["exits_per_second"] = round(handled / self.run_seconds) if self.run_seconds > 0 else None
        stats["mips"] = round(instret / self.run_seconds / 1e6, 3) if self.run_seconds > 0 else None
        # Hart-wide figures (shared by every VM on this host).
        stats["core"] = {key: core_stats[key] for key in (
            "instret", "tlb_hits", "tlb_misses", "tlb_flushes", "page_walks", "walk_mem_refs",
            "walks_2d", "walk_2d_mem_refs", "gstage_walks", "walk_cache_hits") if key in core_stats}
        if self.gstage is not None:
            stats["gstage_table_frames"] = len(self.gstage.table_frames)
        if self.pager is not None:
            stats["shadow"] = dict(self.pager.counters)
        stats["memory"] = self.memory_stats()
        stats.update(self.policy.stats())
        sched = self.host.vm_sched_stats(self)
        if sched:
            stats["sched"] = sched
        return stats

    # -- shared frames: clones, page sharing, discarded pages (pyvmm.hv.pagemap) ---------------

    def memory_stats(self):
        """This VM's private frames and pages on shared frames, its
        copy-on-write counters, and the host's frame totals."""
        return self.pagemap.stats()

    def discard_page(self, gpa):
        """Give the frame behind guest page `gpa` back to the host (a balloon
        inflated it): the page reads as zero until its first write maps a
        fresh private frame."""
        self.pagemap.discard_page(gpa)

    def clone(self, name=None, console=None):
        """A new VM on this host that goes on exactly where this one is,
        its RAM shared copy-on-write with this one (see pyvmm.hv.clone)."""
        from pyvmm.hv.clone import clone_vm
        return clone_vm(self, name=name, console=console)


class _PageMap(collections.abc.Mapping):
    """vm.memory: guest page address -> host frame address, read-only."""

    def __init__(self, vm):
        self._vm = vm

    def __getitem__(self, gpa):
        if gpa % PAGE_SIZE:
            raise KeyError(gpa)
        hpa = self._vm.gpa_to_hpa(gpa)
        if hpa is None:
            raise KeyError(gpa)
        return hpa

    def __iter__(self):
        return (self._vm.ram_base + i * PAGE_SIZE for i in range(len(self._vm._page_hpa)))

    def __len__(self):
        return len(self._vm._page_hpa)

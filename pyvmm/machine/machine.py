"""The `virt` board: one hart (pyvmm._core.Core, with RAM and the CLINT inside
it) plus the Python devices, the boot sequence and the run loop.

The run loop is KVM_RUN-shaped: `core.run(slice)` executes until an exit,
the Machine services it (MMIO to a device, an ecall for the built-in SBI, a
store to HTIF's tohost, an idle hart) and runs again until something asks it
to stop. Boot follows QEMU's virt: firmware or image at the RAM base entered
in M-mode with a0 = hart id and a1 = the device tree, the device tree in the
last 2 MiB-aligned space below the top of RAM, an S-mode kernel 2 MiB above
the RAM base.
"""

import sys
import time
from collections import Counter, namedtuple

from pyvmm.isa import EXC_ECALL_S
from pyvmm.machine.bus import Bus, BusFault
from pyvmm.machine.core_exits import (CORE_EXIT_BUDGET, CORE_EXIT_DEBUG, CORE_EXIT_MMIO,  # noqa: F401
                                      CORE_EXIT_NAMES, CORE_EXIT_TRAP, CORE_EXIT_WATCH,
                                      CORE_EXIT_WFI)
from pyvmm.machine.console import ConsoleInput
from pyvmm.machine.devices import DeviceConfig, DeviceSet
from pyvmm.machine.layout import (EXIT_BUDGET, EXIT_IDLE, INITRD_MAX_OFFSET, KERNEL_OFFSET,
                                  RAM_BASE, RAM_SIZE_DEFAULT, UART0_IRQ)
from pyvmm.machine.loader import ImageError, load_image
from pyvmm.machine.memory import GuestMemory
from pyvmm.machine.plic import CONTEXT_M, CONTEXT_S
from pyvmm.machine.uart import IER_RDI, IER_RLSI

PRIV_M = 3
CSR_MIE = 0x304
MIE_SEIE = 1 << 9
MIE_MEIE = 1 << 11
REG_A0, REG_A1, REG_A2 = 10, 11, 12

# Instructions per core.run() call: long enough that Python's share is
# negligible, short enough that console output and input stay responsive.
SLICE = 1 << 20

# Console input reaches the UART one byte per "byte time" of guest
# instructions (10,000: about 100 kbaud at the default 10 instructions per
# 10 MHz timer tick), so a guest sees bytes arrive one by one as on a serial
# line and as on QEMU, deterministically.
RX_BYTE_INSNS = 10_000
INPUT_POLL_SECONDS = 0.02

DTB_ALIGN = 2 << 20
DTB_CEILING = 3 << 30          # QEMU keeps the FDT below 3 GiB on 32-bit-reachable RAM

# OpenSBI's `struct fw_dynamic_info` (include/sbi/fw_dynamic.h), version 2,
# which QEMU hands every firmware in a2 (hw/riscv/boot.c). QEMU keeps it in
# its MROM; pyvmm has no MROM, so it sits in the page just below the device
# tree: above every image (overlaps are refused), below the DTB that OpenSBI
# may grow upward in place, and only read by the firmware at its entry and
# scratch setup, before anything runs that could reuse the page.
FW_DYNAMIC_INFO_MAGIC = 0x4942534F          # "OSBI"
FW_DYNAMIC_INFO_VERSION = 2
FW_DYNAMIC_INFO_NEXT_MODE_S = 1
FW_DYNAMIC_INFO_SIZE = 6 * 8
FW_DYNAMIC_INFO_GAP = 4096                  # its distance below the device tree


class MachineError(Exception):
    """The board was driven into a state it cannot continue from (a bug in a
    policy module, not in the guest)."""


class RunResult(namedtuple("RunResult", "status how code")):
    """status: the process exit status `pyvmm run` uses; how: why the run
    ended; code: the guest's own code (finisher/HTIF/SBI), 0 if it gave none."""


# How a stop maps to an exit status; guest-chosen stops use the guest's code.
_FIXED_STATUS = {"budget": EXIT_BUDGET, "idle": EXIT_IDLE}


class Machine:
    def __init__(self, ram_size=RAM_SIZE_DEFAULT, bios="none", kernel=None, console=None,
                 stdin=None, realtime=False, htif=None, bootargs="", hartid=0,
                 trace=None, trace_out=None, devices=None, initrd=None, dtb=None, smp=1):
        if ram_size <= 0 or ram_size % 4096:
            raise ValueError(f"RAM size must be a positive multiple of 4 KiB, not {ram_size}")
        if htif not in (None, "auto", True, "on", False, "off"):
            raise ValueError(f"htif must be on, off or auto, not {htif!r}")
        from pyvmm._core import Core
        from pyvmm.machine.harts import MAX_HARTS, Harts

        if not 1 <= smp <= MAX_HARTS:
            raise ValueError(f"smp must be 1..{MAX_HARTS}, not {smp}")
        if smp > 1 and hartid != 0:
            raise ValueError("with several harts the hart ids are 0..smp-1: hartid must be 0")
        self.smp = smp
        self.ram_base = RAM_BASE
        self.ram_size = ram_size
        self.hartid = hartid
        self.bootargs = bootargs or ""
        self.bios = bios
        self.htif_mode = {None: "auto", True: "on", False: "off"}.get(htif, htif)
        self.core = Core(ram_size=ram_size, ram_base=RAM_BASE, hartid=hartid)
        self.core.realtime = bool(realtime)
        # Harts 1.. share hart 0's RAM and CLINT; self.core is the boot hart.
        self.cores = [self.core] + [Core(hartid=i, peer=self.core) for i in range(1, smp)]
        self.harts = Harts(self.cores)
        self._next_between = SLICE

        self._console = console
        self._uart_output = bytearray()
        self.input = ConsoleInput(stdin)
        self._irq_lines = None
        self._rx_next = 0           # instret from which the line may deliver the next byte
        self._next_input_poll = 0.0
        # Descriptors (a monitor's) that end an idle wait with a stop for
        # budget once readable, so whoever runs the machine can serve them.
        self.pause_handles = ()
        config = devices if devices is not None else DeviceConfig()
        config.realtime = bool(realtime)
        self.device_set = DeviceSet(config, console_write=self.console_write,
                                 request_stop=self.request_stop, mtime=self._mtime,
                                 on_plic_change=self._plic_outputs, plic_contexts=2 * smp,
                                 ram_base=RAM_BASE, ram_size=ram_size)
        self.plic = self.device_set.plic
        self.uart = self.device_set.uart
        self.finisher = self.device_set.finisher
        self.bus = Bus()
        self.device_set.attach(self.bus)
        self.memory = GuestMemory(self.core.ram_buffer, RAM_BASE, ram_size,
                                  on_write=self.core.invalidate_code)
        self.device_set.attach_memory(self.memory)
        self.initrd_path = initrd
        self.initrd_range = None    # (start, end) once placed
        self.dtb_path = dtb

        self.symbols = {}
        self.images = []            # (role, Image) in load order
        self.firmware_image = None
        self.boot_image = None      # the M-mode image when bios is "none"
        self.kernel_image = None
        self.dtb_addr = None
        self.fw_dynamic_info_addr = None
        self.sbi = None
        self.htif = None
        self._htif_range = None
        self.tracer = None
        if trace:
            from pyvmm.machine.trace import Tracer, parse_classes
            classes = parse_classes(trace) if isinstance(trace, str) else set(trace)
            self.tracer = Tracer(classes, trace_out if trace_out is not None else sys.stderr,
                                 RAM_BASE, ram_size, bus=self.bus)

        self.booted = False
        self.closed = False
        self._stop = None
        self.result = None
        self.exit_counts = Counter()
        self.mmio_faults = 0
        self.stalled_exits = 0      # core exits during which nothing retired
        self.host_seconds = 0.0

        if bios not in ("none", "builtin"):
            self.firmware_image = self._load("firmware", bios, None, RAM_BASE)
        if kernel is not None:
            self.kernel_image = self._load("kernel", kernel, None, RAM_BASE + KERNEL_OFFSET)

    # -- images ---------------------------------------------------------------------

    def load(self, path, load_addr=None):
        """Load the image to run: with bios "none" the M-mode image (flat at
        the RAM base), otherwise the S-mode kernel (flat at RAM base + 2 MiB)."""
        if self.booted:
            raise ImageError(f"{path}: cannot load an image into a machine that has started")
        if self.bios == "none":
            if self.boot_image is not None:
                raise ImageError(f"{path}: an image is already loaded ({self.boot_image.path})")
            self.boot_image = self._load("image", path, load_addr, RAM_BASE)
            return self.boot_image
        if self.kernel_image is not None:
            raise ImageError(f"{path}: a kernel is already loaded ({self.kernel_image.path})")
        self.kernel_image = self._load("kernel", path, load_addr, RAM_BASE + KERNEL_OFFSET)
        return self.kernel_image

    def _load(self, role, path, load_addr, default_addr):
        image = load_image(path, ram_base=self.ram_base, ram_size=self.ram_size,
                           load_addr=load_addr, default_addr=default_addr)
        for addr, data in image.segments:
            for other_role, other in self.images:
                for other_addr, other_data in other.segments:
                    if addr < other_addr + len(other_data) and other_addr < addr + len(data):
                        raise ImageError(f"{path}: {role} at {addr:#x}..{addr + len(data):#x} overlaps "
                                         f"the {other_role} {other.path}")
        for addr, data in image.segments:
            self.core.write_mem(addr, data)
        self.images.append((role, image))
        self.symbols.update(image.symbols)
        return image

    # -- services for the firmware modules (fdt, sbi, htif) ---------------------------

    def console_write(self, data):
        self._uart_output += data
        if self._console is not None:
            self._console.write(data)

    def console_read(self):
        return self.input.read_byte()

    def request_stop(self, how, code):
        if self._stop is None:
            self._stop = (how, int(code))

    @property
    def uart_output(self):
        return bytes(self._uart_output)

    def _plic_outputs(self, outputs):
        # QEMU virt's "MS" contexts: 2h is hart h's M-mode line, 2h + 1 its S-mode line
        if outputs != self._irq_lines:
            self._irq_lines = outputs
            for hart, core in enumerate(self.cores):
                core.set_irq(outputs[CONTEXT_M + 2 * hart], outputs[CONTEXT_S + 2 * hart])

    def _mtime(self):
        """The machine's mtime, as the hart running now (or last) reads it."""
        return self.cores[self.harts.current].mtime

    def flush_console(self):
        flush = getattr(self._console, "flush", None)
        if flush is not None:
            flush()

    # -- boot ------------------------------------------------------------------------

    def boot(self):
        """Place the device tree and set the hart up to enter the first image."""
        if self.booted:
            return
        if self.bios == "none" and self.boot_image is None:
            raise ImageError("nothing to run: no image loaded")
        if self.bios == "builtin" and self.kernel_image is None:
            raise ImageError("the built-in SBI needs a kernel to boot")
        self.place_initrd()
        dtb = self.dtb_blob()
        top = min(self.ram_base + self.ram_size, DTB_CEILING) \
            if self.ram_base < DTB_CEILING else self.ram_base + self.ram_size
        dtb_addr = (top - len(dtb)) & ~(DTB_ALIGN - 1)
        if dtb_addr < self.ram_base:
            raise ImageError(f"RAM of {self.ram_size} bytes has no room for the device tree")
        boot_data = [("device tree", dtb_addr, dtb)]
        if self.firmware_image is not None:
            info_addr = dtb_addr - FW_DYNAMIC_INFO_GAP
            if info_addr < self.ram_base:
                raise ImageError(f"RAM of {self.ram_size} bytes has no room for the firmware's "
                                 f"dynamic info")
            boot_data.append(("firmware dynamic info", info_addr, self._fw_dynamic_info()))
        if self.initrd_range is not None:
            start, end = self.initrd_range
            if dtb_addr < end:
                raise ImageError(f"{self.initrd_path}: the initrd at {start:#x}..{end:#x} overlaps "
                                 f"the device tree at {dtb_addr:#x}; give the machine more RAM")
        for what, place, blob in boot_data:
            for role, image in self.images:
                for addr, data in image.segments:
                    if addr < place + len(blob) and place < addr + len(data):
                        raise ImageError(f"{image.path}: the {role} overlaps the {what} at "
                                         f"{place:#x}; give the machine more RAM")
        for what, place, blob in boot_data:
            self.core.write_mem(place, blob)
        self.dtb_addr = dtb_addr
        if self.firmware_image is not None:
            self.fw_dynamic_info_addr = dtb_addr - FW_DYNAMIC_INFO_GAP
        self._setup_htif()

        if self.bios == "builtin":
            from pyvmm.machine.sbi import BuiltinSBI
            # Secondary harts start STOPPED, as under OpenSBI with HSM.
            self.sbi = BuiltinSBI(self, self.harts)
            self.sbi.boot(self.kernel_image.entry)
            for core in self.cores:
                core.exit_on_exception |= self.sbi.exit_on_exception
                core.exit_on_interrupt |= self.sbi.exit_on_interrupt
        else:
            # As QEMU's reset vector: every hart enters the first image in M-mode.
            first = self.boot_image if self.bios == "none" else self.firmware_image
            for index, core in enumerate(self.cores):
                core.priv = PRIV_M
                core.pc = first.entry
                core.set_x(REG_A0, self.hartid + index)
                core.set_x(REG_A1, dtb_addr)
                core.set_x(REG_A2, self.fw_dynamic_info_addr or 0)
        self.booted = True

    def place_initrd(self):
        """Load --initrd where QEMU's riscv_load_initrd puts it: min(RAM / 2,
        128 MiB) above the kernel's entry (the image's, without a kernel)."""
        if self.initrd_path is None or self.initrd_range is not None:
            return
        with open(self.initrd_path, "rb") as f:
            data = f.read()
        first = self.kernel_image or self.boot_image or self.firmware_image
        entry = first.entry if first is not None else self.ram_base
        start = entry + min(self.ram_size // 2, INITRD_MAX_OFFSET)
        end = start + len(data)
        if end > self.ram_base + self.ram_size:
            raise ImageError(f"{self.initrd_path}: an initrd of {len(data)} bytes at {start:#x} "
                             f"does not fit in RAM; give the machine more RAM")
        for role, image in self.images:
            for addr, seg in image.segments:
                if addr < end and start < addr + len(seg):
                    raise ImageError(f"{self.initrd_path}: the initrd at {start:#x}..{end:#x} "
                                     f"overlaps the {role} {image.path}")
        self.core.write_mem(start, data)
        self.initrd_range = (start, end)

    def dtb_blob(self):
        """The device tree the guest gets: generated for this board, or the
        --dtb file with /chosen (bootargs, initrd) filled in as QEMU does."""
        from pyvmm.machine import fdt

        if self.dtb_path is None:
            return fdt.build_dtb(self)
        with open(self.dtb_path, "rb") as f:
            blob = f.read()
        try:
            root, header = fdt.parse_dtb(blob)
        except fdt.FdtError as e:
            raise ImageError(f"{self.dtb_path}: not a device tree blob ({e})") from None
        fdt.set_chosen(root, bootargs=self.bootargs, initrd=self.initrd_range)
        return fdt.serialize(root, boot_cpuid=header["boot_cpuid_phys"],
                             reservations=header["reservations"])

    def _fw_dynamic_info(self):
        """What QEMU's riscv_rom_copy_firmware_info writes: the kernel entry (0
        without a kernel), entered in S-mode, no options, hart 0 as the boot hart."""
        next_addr = self.kernel_image.entry if self.kernel_image is not None else 0
        fields = (FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, next_addr,
                  FW_DYNAMIC_INFO_NEXT_MODE_S, 0, 0)
        return b"".join(f.to_bytes(8, "little") for f in fields)

    def _setup_htif(self):
        if self.htif_mode == "off":
            return
        tohost = self.symbols.get("tohost")
        if tohost is None:
            if self.htif_mode == "on":
                raise ImageError("HTIF requested but no loaded image defines a `tohost` symbol")
            return
        fromhost = self.symbols.get("fromhost")
        from pyvmm.machine.htif import Htif
        self.htif = Htif(self, tohost, fromhost)
        self._htif_range = (tohost, tohost + 8)
        for core in self.cores:
            core.add_watch(tohost, 8)

    # -- the run loop ------------------------------------------------------------------

    def run(self, max_insns=None):
        """Run until the guest stops the machine, `max_insns` units of work
        are spent (how "budget"), or the hart idles for ever (how "idle").

        A unit is an instruction retired, a trap the core took, or a core
        exit during which no instruction retired: a guest whose trap handler
        itself faults (through Python, as an MMIO access nothing answers
        does) still uses its budget up. A guest that only retires
        instructions stops after exactly `max_insns` of them."""
        if max_insns is not None and max_insns < 0:
            raise ValueError("max_insns must not be negative")
        if self.closed:
            raise RuntimeError("the machine is closed")
        if self.result is not None and self.result.how not in ("budget", "debug"):
            return self.result
        self.boot()
        self._stop = None
        harts = self.harts
        smp = harts.smp
        tracer = self.tracer
        budgeted = max_insns is not None
        remaining = max_insns
        started = time.perf_counter()
        try:
            while self._stop is None:
                if remaining == 0:
                    self.request_stop("budget", 0)
                    break
                slice_len = 1 if tracer is not None else SLICE
                if budgeted:
                    slice_len = min(slice_len, remaining)
                if self.uart.accessed:
                    host_now = time.perf_counter()
                    if host_now >= self._next_input_poll:
                        # Asynchronous input (a pipe, a terminal) and the
                        # console's output are looked at on the host's clock.
                        self._next_input_poll = host_now + INPUT_POLL_SECONDS
                        self.input.poll()
                        self.flush_console()
                    if self.input.pending() or (self.uart.rx_fifo and self.uart.timeout_armed):
                        next_byte = self._receive_input(harts.now)
                        if next_byte is not None:
                            slice_len = min(slice_len, next_byte)
                turn = harts.pick(slice_len)
                if turn is None:
                    # no hart can run, and none can wake from inside the machine
                    self._service_idle()
                    continue
                index, core, budget = turn
                if tracer is not None:
                    tracer.before_step(core)
                before = core.instret
                now_before = harts.now
                reason = core.run(budget)
                if tracer is not None:
                    tracer.after_step(core)
                retired = harts.ran(index, before, budget, reason)
                self.exit_counts[CORE_EXIT_NAMES.get(reason, str(reason))] += 1
                if reason == CORE_EXIT_BUDGET:
                    if budgeted:
                        remaining -= budget
                    if smp:
                        if harts.now >= self._next_between:
                            self._next_between = harts.now + SLICE
                            self._between_slices()
                    elif tracer is None or self.exit_counts["budget"] % 4096 == 0:
                        self._between_slices()
                    continue
                if reason == CORE_EXIT_MMIO:
                    self._service_mmio(core)
                elif reason == CORE_EXIT_TRAP:
                    self._service_trap(core)
                elif reason == CORE_EXIT_WATCH:
                    self._service_watch(core)
                elif reason == CORE_EXIT_WFI:
                    if not smp:
                        self._service_idle()
                elif reason == CORE_EXIT_DEBUG:
                    # the debugger's breakpoint or watchpoint: stop for it (how "debug"); run() goes on
                    self.debug_hart = index
                    self.request_stop("debug", 0)
                else:
                    raise MachineError(f"core returned unknown exit reason {reason}")
                if smp:
                    retired = harts.now - now_before
                else:
                    # After servicing: a completed MMIO load may have retired.
                    retired = core.instret - before
                if retired == 0:
                    self.stalled_exits += 1
                if budgeted:
                    remaining = max(0, remaining - (retired or 1))
        finally:
            self.host_seconds += time.perf_counter() - started
            self.flush_console()
        how, code = self._stop
        status = _FIXED_STATUS.get(how, code)
        self.result = RunResult(status, how, code)
        return self.result

    def _receive_input(self, now):
        """Deliver console input due by instret `now`; returns how many
        instructions until the next byte is due, or None if none waits.

        Input goes to the UART only once the guest has touched it: a guest
        that reads the console through HTIF or SBI instead gets every byte.
        A byte time after the last byte with none following, the line is
        quiet: the UART's character timeout fires."""
        uart = self.uart
        if now >= self._rx_next:
            if uart.can_receive() and self.input.pending():
                uart.receive(bytes((self.input.read_byte(),)))
                self._rx_next = now + RX_BYTE_INSNS
            else:
                uart.character_timeout()
        if uart.timeout_armed or (self.input.pending() and uart.can_receive()):
            return max(1, self._rx_next - now)
        return None

    def _between_slices(self):
        if self.htif is not None:
            self.htif.poll()
        self.device_set.poll()
        self.flush_console()

    # -- snapshots --------------------------------------------------------------------

    def save(self, path, base=None):
        """Write the whole machine to `path` (docs/snapshots.md): harts, RAM,
        devices, clock and counters, and the options that built it. With
        `base` (an earlier snapshot of this machine) only the pages that
        differ from it are stored. Returns the file's SHA-256 (hex)."""
        from pyvmm.machine.snapshot import save_machine
        return save_machine(self, path, base)

    @classmethod
    def restore(cls, path, **host):
        """A new Machine in the state the snapshot `path` holds, built from
        the options stored in it; `host` gives what is the host's to choose
        (console, stdin, trace, trace_out). A bad file raises SnapshotError
        (one line) and nothing else is made."""
        from pyvmm.machine.snapshot import restore_machine
        return restore_machine(path, **host)

    def close(self):
        """Flush the drives and close the back-ends (everything the guest wrote
        is in its files afterwards) and give guest RAM back to the host at
        once, not when the garbage collector gets to the machine. The machine
        runs no more."""
        self.device_set.close()
        self.core.release_ram()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _service_mmio(self, core):
        addr, size = core.exit_addr, core.exit_size
        try:
            if core.exit_is_write:
                self.bus.write(addr, size, core.exit_data)
            else:
                core.complete_mmio(self.bus.read(addr, size))
                if self.tracer is not None:
                    self.tracer.resume(core.exit_pc)
        except BusFault as fault:
            self.mmio_faults += 1
            core.complete_mmio_fault()
            if self.tracer is not None:
                self.tracer.bus_fault(addr, size, core.exit_is_write, core.exit_pc, str(fault))
                self.tracer.resume(core.exit_pc)

    def _service_trap(self, core):
        cause = core.exit_cause
        if self.tracer is not None:
            self.tracer.machine_trap(cause, core.exit_pc, core.exit_tval, "pyvmm")
        if self.sbi is not None and cause == EXC_ECALL_S:
            self.sbi.handle_ecall(core)
        elif self.sbi is not None and hasattr(self.sbi, "handle_trap"):
            self.sbi.handle_trap(cause, core)
        else:
            raise MachineError(f"trap exit with cause {cause:#x} at pc {core.exit_pc:#x} "
                               "that no board component asked for")

    def _service_watch(self, core):
        addr = core.exit_addr
        if self._htif_range is not None and self._htif_range[0] <= addr < self._htif_range[1]:
            self.htif.on_tohost_write()
        else:
            raise MachineError(f"watch exit at {addr:#x} that no board component asked for")

    def _input_can_wake(self):
        """Could a received byte become an interrupt the hart wakes for?
        (UART receive interrupts on, source 10 routed by the PLIC, and an
        external interrupt enabled in mie.)"""
        uart, plic = self.uart, self.plic
        if not uart.ier & (IER_RDI | IER_RLSI) or not plic.priority[UART0_IRQ]:
            return False
        if not any(enable >> UART0_IRQ & 1 for enable in plic.enable):
            return False
        return any(core.read_csr(CSR_MIE) & (MIE_MEIE | MIE_SEIE) for core in self.cores)

    def _service_idle(self):
        """WFI with nothing able to wake the hart: only input from outside
        (the console, a network peer) can still change that, so wait for it;
        without any, the run is over."""
        self.flush_console()
        handles = self.device_set.wait_handles()
        if handles:
            self._wait_for_devices(handles)
            return
        if not self._input_can_wake():
            self.request_stop("idle", 0)
            return
        if not self.uart.can_receive():
            self.request_stop("idle", 0)        # input is waiting and nobody reads it
            return
        if self.pause_handles and self.input.fileno() is not None:
            self._wait_for_devices(())          # the console or a monitor, whichever comes
            return
        if not self.input.wait():
            self.request_stop("idle", 0)
            return
        # Nothing runs until the byte comes, like WFI skipping to a timer.
        self._rx_next = 0
        self.uart.accessed = True
        self._receive_input(self.harts.now)

    def _wait_for_devices(self, handles):
        """Sleep until a device's host side (a socket) or the console has
        input, then let the devices deliver it."""
        import select
        watched = list(handles) + list(self.pause_handles)
        console_fd = self.input.fileno() if self._input_can_wake() else None
        if console_fd is not None:
            watched.append(console_fd)
        ready, _, _ = select.select(watched, [], [])
        if any(handle in ready for handle in self.pause_handles):
            self.request_stop("budget", 0)
        if console_fd is not None and console_fd in ready:
            self.input.poll()
            self._rx_next = 0
            self.uart.accessed = True
            self._receive_input(self.harts.now)
        self.device_set.poll()

    # -- counters ---------------------------------------------------------------------

    def _core_stats(self):
        """The harts' counters: one hart's as they are; several harts' summed
        (dicts by key), with each hart's own under "per_hart"."""
        if len(self.cores) == 1:
            return dict(self.core.stats())
        per_hart = [core.stats() for core in self.cores]
        total = {}
        for one in per_hart:
            for key, value in one.items():
                if isinstance(value, dict):
                    merged = total.setdefault(key, {})
                    for k, v in value.items():
                        merged[k] = merged.get(k, 0) + v
                else:
                    total[key] = total.get(key, 0) + value
        for key in ("traps", "interrupts", "exits"):
            if key in total:
                total[key] = dict(sorted(total[key].items()))
        total["per_hart"] = per_hart
        return total

    def _jit_stats(self):
        """The translator's counters, summed over the harts (native/jit.pxi)."""
        total = {}
        for core in self.cores:
            # a core standing in for the compiled one (tests script exits) translates nothing
            jit_stats = getattr(core, "jit_stats", None)
            if jit_stats is None:
                continue
            for key, value in jit_stats().items():
                if isinstance(value, int) and not isinstance(value, bool):
                    total[key] = total.get(key, 0) + value
                else:
                    total.setdefault(key, value)
        return total

    def stats(self):
        """Core counters plus the board's: exits serviced by reason, MMIO
        accesses by device, host time, MIPS and how the run ended."""
        stats = self._core_stats()
        stats.setdefault("exits", dict(sorted(self.exit_counts.items())))
        stats["machine_exits"] = dict(sorted(self.exit_counts.items()))
        stats["mmio"] = self.bus.access_counts()
        stats["mmio_faults"] = self.mmio_faults
        stats["stalled_exits"] = self.stalled_exits
        devices = self.device_set.stats()
        if devices:
            stats["devices"] = devices
        stats.update(self.memory.stats())
        if self.sbi is not None:
            stats["sbi"] = self.sbi.stats()
        if self.htif is not None:
            stats["htif"] = self.htif.stats()
        if self.smp > 1:
            stats["harts"] = self.harts.stats()
        stats["jit"] = self._jit_stats()
        stats["host_seconds"] = round(self.host_seconds, 6)
        instret = stats.get("instret", 0)
        stats["mips"] = round(instret / self.host_seconds / 1e6, 3) if self.host_seconds > 0 else 0.0
        stats["how"] = self.result.how if self.result is not None else None
        stats["status"] = self.result.status if self.result is not None else None
        return stats

"""A QEMU-style monitor for a running board (pyvmm.machine.Machine) or VM
(pyvmm.hv.vm.VM): the commands, their output and the front-ends.

    from pyvmm.debug.monitor import Monitor
    monitor = Monitor(machine)              # or Monitor(vm)
    print(monitor.execute("info registers"), end="")

Commands keep QEMU's names and output shapes: help, info registers [-a],
info cpus, info mtree, info mem, info tlb, info stats, info status,
info balloon, x /fmt addr, xp /fmt addr, cpu N, balloon SIZE, stop,
cont (c), quit (q). On a VM the
monitor sees what the guest sees: its VCPUs, its guest-physical map, and
addresses translated by the guest's own page tables into guest-physical ones.

`pyvmm run --monitor stdio|tcp:HOST:PORT` drives it through `open_monitor`:
the run goes on in slices and the front-ends are polled between them, so a
monitor nobody talks to never holds the guest up. On stdio the console is
multiplexed as under QEMU's -nographic: Ctrl-a c switches between the guest
console and the monitor, Ctrl-a x quits, Ctrl-a Ctrl-a (or Ctrl-a a) sends
a Ctrl-a to the guest, Ctrl-a h lists the keys.
"""

import bisect
import contextlib
import re
import select
import socket
import struct

from pyvmm.isa.registers import ABI_NAMES

MASK64 = (1 << 64) - 1
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = (1 << i for i in range(8))
PTE_LEAF = PTE_R | PTE_W | PTE_X
PPN_MASK = (1 << 44) - 1
# satp / vsatp / hgatp MODE field -> page-table levels
ATP_LEVELS = {8: 3, 9: 4, 10: 5}
ATP_NAMES = {8: "sv39", 9: "sv48", 10: "sv57"}

# Limits of one listing (info mem / info tlb) and of one memory dump, so a
# corrupt or hostile page table cannot make the monitor work for ever.
MAX_TABLES = 1 << 14
MAX_LEAVES = 1 << 16
MAX_DUMP_BYTES = 1 << 16

PRIV_NAMES = {0: "U", 1: "S", 3: "M"}

# The machine CSRs `info registers` prints, in QEMU's order (riscv_cpu_dump_state),
# then the translation registers of the H extension.
DUMP_CSRS = ("mhartid", "mstatus", "hstatus", "vsstatus", "mip", "mie", "mideleg", "hideleg",
             "medeleg", "hedeleg", "mtvec", "stvec", "vstvec", "mepc", "sepc", "vsepc", "mcause",
             "scause", "vscause", "mtval", "stval", "htval", "mtval2", "mscratch", "sscratch",
             "satp", "hgatp", "vsatp")
# What a guest sees of its supervisor state (read from a VCPU through the vs* names).
GUEST_CSRS = ("sstatus", "stvec", "sscratch", "sepc", "scause", "stval", "satp")

SIZE_LETTERS = {"b": 1, "h": 2, "w": 4, "g": 8}
FORMAT_LETTERS = "xduoci"

# How often (guest instructions) a monitored run looks at its front-ends.
POLL_SLICE = 1 << 20

HELP = (
    ("help|? [cmd]", "show the help"),
    ("info registers [-a]", "show the current CPU's registers (-a: every CPU)"),
    ("info cpus", "show infos for each CPU"),
    ("info mtree", "show the physical memory map"),
    ("info mem", "show the active virtual memory mappings"),
    ("info tlb", "show the active page-table leaves, one line each"),
    ("info stats", "show the run counters (as --stats writes them)"),
    ("info status", "show the current VM status (running|paused)"),
    ("info balloon", "show balloon information"),
    ("x /fmt addr", "virtual memory dump starting at 'addr'"),
    ("xp /fmt addr", "physical memory dump starting at 'addr'"),
    ("cpu index", "set the default CPU"),
    ("balloon target", "request VM to change its memory allocation (in MB)"),
    ("stop", "stop emulation"),
    ("cont|c", "resume emulation"),
    ("quit|q", "quit the emulator"),
)
INFO_HELP = ("registers", "cpus", "mtree", "mem", "tlb", "stats", "status", "balloon")


_BALLOON_SIZE = re.compile(r"^(\d+)([kKmMgGtT]?)$")
_SIZE_SHIFTS = {"K": 10, "M": 20, "G": 30, "T": 40}


class MonitorError(Exception):
    """A command that cannot be carried out; its message is the monitor's answer."""


class _NoMemory(Exception):
    """An address that is not backed by memory the monitor may read."""


# -- page tables ---------------------------------------------------------------------------------

class _Stage:
    """One stage of translation: the tables under an atp register (satp,
    vsatp or hgatp), read through `read(addr, n)` (raises _NoMemory)."""

    def __init__(self, atp, read, guest_stage):
        mode = atp >> 60
        if mode not in ATP_LEVELS:
            raise MonitorError(f"unsupported translation mode {mode} in {atp:#018x}")
        self.mode = mode
        self.levels = ATP_LEVELS[mode]
        self.read = read
        self.g = guest_stage            # hgatp: 16 KiB root, 2 more address bits, no sign extension
        self.root = (atp & PPN_MASK) << PAGE_SHIFT
        self.root_entries = 2048 if guest_stage else 512
        if guest_stage:
            self.root &= ~0x3FFF
        self.va_bits = PAGE_SHIFT + 9 * self.levels + (2 if guest_stage else 0)

    @property
    def name(self):
        return ATP_NAMES[self.mode] + ("x4" if self.g else "")

    def _pte(self, table, index):
        return struct.unpack("<Q", self.read(table + 8 * index, 8))[0]

    def walk(self, addr):
        """(physical address, PTE flags) for `addr`, or None if unmapped."""
        if self.g:
            if addr >> self.va_bits:
                return None
        else:
            top = addr >> (self.va_bits - 1)
            if top not in (0, MASK64 >> (self.va_bits - 1)):
                return None
        table = self.root
        for level in range(self.levels - 1, -1, -1):
            shift = PAGE_SHIFT + 9 * level
            entries = self.root_entries if level == self.levels - 1 else 512
            try:
                pte = self._pte(table, (addr >> shift) & (entries - 1))
            except _NoMemory:
                return None
            if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W:
                return None
            ppn = pte >> 10 & PPN_MASK
            if pte & PTE_LEAF:
                if ppn & ((1 << 9 * level) - 1):
                    return None             # misaligned superpage
                return (ppn << PAGE_SHIFT) | (addr & ((1 << shift) - 1)), pte & 0xFF
            table = ppn << PAGE_SHIFT
        return None

    def leaves(self):
        """[(vaddr, paddr, size, flags)] of every valid leaf in address order,
        and whether the listing stopped at MAX_LEAVES / MAX_TABLES."""
        out = []
        tables = [0]
        truncated = [False]

        def visit(table, level, base, entries):
            if tables[0] >= MAX_TABLES or len(out) >= MAX_LEAVES:
                truncated[0] = True
                return
            tables[0] += 1
            try:
                ptes = struct.unpack(f"<{entries}Q", self.read(table, 8 * entries))
            except _NoMemory:
                return
            span = 1 << (PAGE_SHIFT + 9 * level)
            for index, pte in enumerate(ptes):
                if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W:
                    continue
                vaddr = base + index * span
                ppn = pte >> 10 & PPN_MASK
                if pte & PTE_LEAF:
                    if ppn & ((1 << 9 * level) - 1):
                        continue
                    if len(out) >= MAX_LEAVES:
                        truncated[0] = True
                        return
                    out.append((self._canonical(vaddr), ppn << PAGE_SHIFT, span, pte & 0xFF))
                elif level > 0 and not pte & (PTE_U | PTE_A | PTE_D):
                    visit(ppn << PAGE_SHIFT, level - 1, vaddr, 512)

        visit(self.root, self.levels - 1, 0, self.root_entries)
        out.sort()
        return out, truncated[0]

    def _canonical(self, vaddr):
        if not self.g and vaddr >> (self.va_bits - 1) & 1:
            vaddr |= MASK64 & ~((1 << self.va_bits) - 1)
        return vaddr


def _attr(flags):
    return "".join(letter if flags & bit else "-" for letter, bit in
                   (("r", PTE_R), ("w", PTE_W), ("x", PTE_X), ("u", PTE_U), ("g", PTE_G),
                    ("a", PTE_A), ("d", PTE_D)))


def _size_text(size):
    for shift, suffix in ((30, "G"), (20, "M"), (10, "K")):
        if size >= 1 << shift and not size & ((1 << shift) - 1):
            return f"{size >> shift}{suffix}"
    return str(size)


class _Translation:
    """The address translation a hart applies now: none, one stage, or two
    (VS-stage over G-stage), over the memory the monitor reads physically."""

    def __init__(self, read_physical, first=None, guest=None, first_atp=0, guest_atp=0,
                 stage_names=("satp",)):
        self.read_physical = read_physical
        self.guest = _Stage(guest_atp, read_physical, True) if guest_atp >> 60 else None
        self._g_leaves = None
        read_tables = self._read_guest_physical if self.guest is not None else read_physical
        self.first = _Stage(first_atp, read_tables, False) if first_atp >> 60 else None
        self.two_stage = guest is not None
        self.stage_names = stage_names

    def _read_guest_physical(self, gpa, n):
        hit = self.guest.walk(gpa)
        if hit is None:
            raise _NoMemory(gpa)
        return self.read_physical(hit[0], n)

    def guest_to_physical(self, gpa):
        if self.guest is None:
            return gpa
        hit = self.guest.walk(gpa)
        if hit is None:
            raise _NoMemory(gpa)
        return hit[0]

    def virtual_to_physical(self, vaddr):
        if self.first is None:
            return self.guest_to_physical(vaddr)
        hit = self.first.walk(vaddr)
        if hit is None:
            raise _NoMemory(vaddr)
        return self.guest_to_physical(hit[0])

    def pieces(self):
        """(vaddr, gpaddr, paddr, size, attr, gattr, truncated): leaves of the
        first stage, split where the G-stage maps their guest-physical range
        differently (gpaddr and gattr are None without a G stage)."""
        truncated = False
        if self.first is not None:
            first, truncated = self.first.leaves()
        else:
            first = None
        if self.guest is None:
            return [(va, None, pa, size, flags, None) for va, pa, size, flags in first], truncated
        g_leaves, g_truncated = self.guest.leaves()
        truncated |= g_truncated
        if first is None:
            return [(gpa, gpa, pa, size, None, flags) for gpa, pa, size, flags in g_leaves], truncated
        starts = [leaf[0] for leaf in g_leaves]
        out = []
        for va, gpa, size, flags in first:
            end = gpa + size
            index = max(0, bisect.bisect_right(starts, gpa) - 1)
            while index < len(g_leaves) and g_leaves[index][0] < end:
                g_start, g_pa, g_size, g_flags = g_leaves[index]
                lo, hi = max(gpa, g_start), min(end, g_start + g_size)
                if lo < hi:
                    out.append((va + (lo - gpa), lo, g_pa + (lo - g_start), hi - lo, flags, g_flags))
                index += 1
        return out, truncated


# -- the harts a monitor looks at ------------------------------------------------------------------

class _CoreHart:
    """A hart of a Machine: pyvmm._core.Core, read as M-mode reads it."""

    def __init__(self, machine, index):
        self.machine = machine
        self.core = machine.cores[index]
        self.index = index

    @property
    def pc(self):
        return self.core.pc

    @property
    def priv(self):
        return self.core.priv

    @property
    def virt(self):
        return getattr(self.core, "virt", 0)

    def get_x(self, i):
        return self.core.get_x(i)

    def csr(self, name):
        from pyvmm.isa.csrs import CSRS
        try:
            return self.core.read_csr(CSRS[name])
        except ValueError:
            return None

    def csr_rows(self):
        rows = []
        for name in DUMP_CSRS:
            value = self.csr(name)
            if value is not None:
                rows.append((name, value))
        return rows, None

    @property
    def state(self):
        from pyvmm.machine.harts import STOPPED
        state = self.machine.harts.state[self.index]
        if state == STOPPED:
            return "stopped"
        return "running" if state == "running" else "halted"

    def translation(self):
        read = self.machine_read
        if self.virt:
            hgatp = self.csr("hgatp") or 0
            return _Translation(read, guest=True, first_atp=self.csr("vsatp") or 0,
                                guest_atp=hgatp, stage_names=("vsatp", "hgatp"))
        return _Translation(read, first_atp=self.csr("satp") or 0)

    def effective_translation(self):
        """What a load at the current privilege goes through (M-mode: none)."""
        if self.priv == 3:
            return _Translation(self.machine_read)
        return self.translation()

    def machine_read(self, addr, n):
        try:
            return self.core.read_mem(addr, n)
        except ValueError:
            raise _NoMemory(addr) from None


class _VcpuHart:
    """A VCPU of a VM, seen as its guest sees its hart: guest registers,
    guest supervisor CSRs, guest-physical memory."""

    def __init__(self, vm, index):
        self.vm = vm
        self.vcpu = vm.vcpus[index]
        self.index = index

    @property
    def pc(self):
        return self.vcpu.pc

    @property
    def priv(self):
        vcpu = self.vcpu
        if hasattr(vcpu, "guest_priv"):
            return vcpu.guest_priv()
        if isinstance(getattr(type(vcpu), "priv", None), property):
            return vcpu.priv
        return vcpu.core.priv if vcpu.loaded else vcpu.priv

    virt = 0

    def get_x(self, i):
        return self.vcpu.get_x(i) if i else 0

    def guest_csr(self, name):
        """A guest supervisor CSR (sstatus, satp, ...) through the VCPU's vs* name."""
        from pyvmm.hv.host import HvError
        try:
            return self.vcpu.get_csr("vs" + name[1:]), None
        except HvError as e:
            return None, str(e)

    def csr_rows(self):
        rows = []
        note = None
        for name in GUEST_CSRS:
            value, error = self.guest_csr(name)
            if value is None:
                note = note or error
            else:
                rows.append((name, value))
        return rows, note

    @property
    def state(self):
        from pyvmm.machine.sbi_defs import HSM_STARTED
        vcpu = self.vcpu
        if self.vm.hart_states.get(vcpu.hartid) != HSM_STARTED:
            return "stopped"
        if getattr(vcpu, "waiting_for_interrupt", False) or getattr(vcpu, "blocked_until", None) is not None:
            return "halted"
        return "running"

    def translation(self):
        address_space = getattr(self.vcpu, "guest_address_space", None)
        if address_space is not None:         # a PV kernel has no satp CSR: it switches by hypercall
            satp, error = address_space(), None
        else:
            satp, error = self.guest_csr("satp")
        if satp is None:
            raise MonitorError(error)
        return _Translation(self.machine_read, first_atp=satp)

    def effective_translation(self):
        return self.translation()

    def machine_read(self, gpa, n):
        if not self.vm.in_ram(gpa, n):
            raise _NoMemory(gpa)
        return self.vm.read(gpa, n)


# -- the monitor ------------------------------------------------------------------------------------

def _parse_int(text):
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return None


class Monitor:
    """Commands against a Machine or a VM; execute(line) -> the answer's text."""

    def __init__(self, target):
        self.target = target
        self.is_vm = not hasattr(target, "cores")
        count = len(target.vcpus) if self.is_vm else len(target.cores)
        self.harts = [(_VcpuHart if self.is_vm else _CoreHart)(target, i) for i in range(count)]
        self.current = 0
        self.stopped = False            # `stop`: the run holds until `cont`
        self.quit_requested = False
        self._last_format = "x"
        self._last_size = 4

    @property
    def hart(self):
        return self.harts[self.current]

    def execute(self, line):
        """Carry out one command line; returns what the monitor prints (every
        line ends in a newline; empty for commands that print nothing)."""
        words = line.strip().split(None, 1)
        if not words:
            return ""
        name, rest = words[0], (words[1] if len(words) > 1 else "").strip()
        command = self._COMMANDS.get(name)
        if command is None:
            return f"unknown command: '{name}'\n"
        try:
            text = command(self, rest)
        except MonitorError as e:
            text = f"{name}: {e}\n" if not str(e).startswith(name) else f"{e}\n"
        return text

    # -- help -------------------------------------------------------------------------------

    def _help(self, rest):
        lines = []
        for usage, what in HELP:
            names = usage.split()[0].split("|")
            if rest and rest not in names and not usage.startswith(rest):
                continue
            lines.append(f"{usage} -- {what}")
        if not lines:
            raise MonitorError(f"unknown command: '{rest}'")
        return "\n".join(lines) + "\n"

    # -- info -------------------------------------------------------------------------------

    def _info(self, rest):
        words = rest.split()
        if not words:
            return "".join(f"info {sub}\n" for sub in INFO_HELP)
        sub, args = words[0], words[1:]
        handler = {"registers": self._info_registers, "cpus": self._info_cpus,
                   "mtree": self._info_mtree, "mem": self._info_mem, "tlb": self._info_tlb,
                   "stats": self._info_stats, "status": self._info_status,
                   "balloon": self._info_balloon}.get(sub)
        if handler is None:
            raise MonitorError(f"unknown subcommand '{sub}' (try: {', '.join(INFO_HELP)})")
        return handler(args)

    def _no_args(self, what, args):
        if args:
            raise MonitorError(f"info {what}: unexpected argument '{args[0]}'")

    def _info_registers(self, args):
        if args not in ([], ["-a"]):
            raise MonitorError(f"info registers: unexpected argument '{args[0]}' (only -a)")
        if args:
            return "\n".join(f"CPU#{hart.index}\n" + self._registers(hart) for hart in self.harts)
        return self._registers(self.hart)

    def _registers(self, hart):
        lines = []
        if not self.is_vm:
            lines.append(f" {'V      =  '} {hart.virt}")
        priv = PRIV_NAMES.get(hart.priv, str(hart.priv))
        lines.append(f" {'priv':<8} {('V' if hart.virt else '') + priv}")
        lines.append(f" {'pc':<8} {hart.pc:016x}")
        rows, note = hart.csr_rows()
        for name, value in rows:
            lines.append(f" {name:<8} {value:016x}")
        if note:
            lines.append(f" ({note})")
        regs = []
        for i in range(32):
            regs.append(f" {f'x{i}/{ABI_NAMES[i]}':<8} {hart.get_x(i):016x}")
            if i % 4 == 3:
                lines.append("".join(regs))
                regs = []
        return "\n".join(lines) + "\n"

    def _info_cpus(self, args):
        self._no_args("cpus", args)
        lines = []
        for hart in self.harts:
            mark = "*" if hart.index == self.current else " "
            priv = ("V" if hart.virt else "") + PRIV_NAMES.get(hart.priv, str(hart.priv))
            lines.append(f"{mark} CPU #{hart.index}: pc=0x{hart.pc:016x} priv={priv} ({hart.state})")
        return "\n".join(lines) + "\n"

    def _info_mtree(self, args):
        self._no_args("mtree", args)
        target = self.target
        regions = [(target.ram_base, target.ram_size, "ram", "ram")]
        if self.is_vm:
            space = f"address-space: {target.name} guest-physical"
            bus = target.devices
        else:
            from pyvmm.machine.layout import CLINT_BASE, CLINT_SIZE
            space = "address-space: memory"
            bus = target.bus
            regions.append((CLINT_BASE, CLINT_SIZE, "i/o", "clint"))
        regions += [(r.base, r.size, "i/o", r.name) for r in bus.regions]
        lines = [space, "  0000000000000000-ffffffffffffffff (prio 0, i/o): system"]
        for base, size, kind, name in sorted(regions):
            lines.append(f"    {base:016x}-{base + size - 1:016x} (prio 0, {kind}): {name}")
        return "\n".join(lines) + "\n"

    def _translation_title(self, hart, translation):
        if translation.two_stage:
            first = translation.first.name if translation.first else "bare"
            guest = translation.guest.name if translation.guest else "bare"
            return f"vsatp {first}, hgatp {guest}"
        return f"satp {translation.first.name}"

    def _info_mem(self, args):
        self._no_args("mem", args)
        translation = self.hart.translation()
        if translation.first is None and translation.guest is None:
            return "No translation or protection\n"
        pieces, truncated = translation.pieces()
        merged = []
        for va, gpa, pa, size, attr, gattr in pieces:
            if merged:
                mva, mgpa, mpa, msize, mattr, mgattr = merged[-1]
                if (mva + msize == va and mpa + msize == pa and mattr == attr and mgattr == gattr
                        and (gpa is None or mgpa + msize == gpa)):
                    merged[-1] = (mva, mgpa, mpa, msize + size, mattr, mgattr)
                    continue
            merged.append((va, gpa, pa, size, attr, gattr))
        lines = []
        if translation.two_stage:
            lines.append(f"two-stage translation: {self._translation_title(self.hart, translation)}")
            lines.append("vaddr            gpaddr           paddr            size             attr    gattr")
            lines.append("---------------- ---------------- ---------------- ---------------- ------- -------")
            for va, gpa, pa, size, attr, gattr in merged:
                lines.append(f"{va:016x} {gpa:016x} {pa:016x} {size:016x} "
                             f"{_attr(attr) if attr is not None else '-------'} {_attr(gattr)}")
        else:
            lines.append("vaddr            paddr            size             attr")
            lines.append("---------------- ---------------- ---------------- -------")
            for va, _, pa, size, attr, _ in merged:
                lines.append(f"{va:016x} {pa:016x} {size:016x} {_attr(attr)}")
        if truncated:
            lines.append(f"(listing stopped after {MAX_LEAVES} leaves or {MAX_TABLES} tables)")
        return "\n".join(lines) + "\n"

    def _info_tlb(self, args):
        self._no_args("tlb", args)
        translation = self.hart.translation()
        if translation.first is None and translation.guest is None:
            return "No translation or protection\n"
        pieces, truncated = translation.pieces()
        lines = [self._translation_title(self.hart, translation) + ":"]
        for va, gpa, pa, size, attr, gattr in pieces:
            if translation.two_stage:
                first = _attr(attr) if attr is not None else "-------"
                lines.append(f"{va:016x}: {gpa:016x} -> {pa:016x} {_size_text(size):>4} "
                             f"{first} {_attr(gattr)}")
            else:
                lines.append(f"{va:016x}: {pa:016x} {_size_text(size):>4} {_attr(attr)}")
        if truncated:
            lines.append(f"(listing stopped after {MAX_LEAVES} leaves or {MAX_TABLES} tables)")
        return "\n".join(lines) + "\n"

    def _info_stats(self, args):
        self._no_args("stats", args)
        lines = []

        def flatten(prefix, value):
            if isinstance(value, dict):
                for key in sorted(value, key=str):
                    flatten(f"{prefix}.{key}" if prefix else str(key), value[key])
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    flatten(f"{prefix}.{i}", item)
            else:
                lines.append(f"{prefix}: {value}")

        flatten("", self.target.stats())
        return "\n".join(lines) + "\n"

    def _info_status(self, args):
        self._no_args("status", args)
        return f"VM status: {'paused' if self.stopped else 'running'}\n"

    # -- memory -----------------------------------------------------------------------------

    def _parse_format(self, text):
        """'/4xw' -> (count, format, size); QEMU's defaults carry over between commands."""
        count, fmt, size = 1, self._last_format, None
        spec = text[1:]
        digits = ""
        while spec and spec[0].isdigit():
            digits += spec[0]
            spec = spec[1:]
        if digits:
            count = int(digits)
        for letter in spec:
            if letter in FORMAT_LETTERS:
                fmt = letter
            elif letter in SIZE_LETTERS:
                size = SIZE_LETTERS[letter]
            else:
                raise MonitorError(f"invalid char in format: '{letter}'")
        if size is None or fmt == "c":
            size = 1 if fmt == "c" else self._last_size
        return count, fmt, size

    def _parse_address(self, text):
        """A number, $register ($pc, $sp, $x5, $a0), or a symbol, joined by + and -."""
        if not text:
            raise MonitorError("an address is required")
        total = 0
        sign = 1
        token = ""
        for ch in text.replace(" ", "") + "+":
            if ch in "+-" and token:
                total += sign * self._address_term(token)
                sign = 1 if ch == "+" else -1
                token = ""
            elif ch in "+-":
                sign = -sign if ch == "-" else sign
            else:
                token += ch
        return total & MASK64

    def _address_term(self, token):
        value = _parse_int(token)
        if value is not None:
            return value
        if token.startswith("$"):
            reg = token[1:]
            if reg == "pc":
                return self.hart.pc
            if reg in ABI_NAMES:
                return self.hart.get_x(ABI_NAMES.index(reg))
            if reg == "fp":
                return self.hart.get_x(8)
            if reg.startswith("x") and reg[1:].isdigit() and int(reg[1:]) < 32:
                return self.hart.get_x(int(reg[1:]))
            raise MonitorError(f"unknown register '{token}'")
        symbols = getattr(self.target, "symbols", {})
        if token in symbols:
            return symbols[token]
        raise MonitorError(f"invalid address '{token}'")

    def _memory_command(self, name, rest, physical):
        words = rest.split(None, 1)
        if words and words[0].startswith("/"):
            count, fmt, size = self._parse_format(words[0])
            rest = words[1] if len(words) > 1 else ""
        else:
            count, fmt, size = 1, self._last_format, self._last_size
        addr = self._parse_address(rest.strip())
        if count * (4 if fmt == "i" else size) > MAX_DUMP_BYTES:
            raise MonitorError(f"at most {MAX_DUMP_BYTES} bytes at a time")
        self._last_format = fmt
        if fmt not in "ci":
            self._last_size = size      # as QEMU: /c and /i leave the default size alone
        hart = self.hart
        if physical:
            def read(a, n):
                return hart.machine_read(a, n)
        else:
            translation = hart.effective_translation()

            def read(a, n):
                data = b""
                while n:
                    piece = min(n, PAGE_SIZE - (a & (PAGE_SIZE - 1)))
                    data += hart.machine_read(translation.virtual_to_physical(a), piece)
                    a = (a + piece) & MASK64
                    n -= piece
                return data
        if fmt == "i":
            return self._disassemble(read, addr, count)
        return self._dump(read, addr, count, fmt, size)

    def _dump(self, read, addr, count, fmt, size):
        line_size = 8 if size == 1 else 16
        if fmt == "o":
            digits = -(-size * 8 // 3)
        elif fmt in "ud":
            digits = -(-size * 8 * 10 // 33)
        else:
            digits = size * 2
        lines = []
        length = count * size
        while length > 0:
            chunk = min(length, line_size)
            try:
                data = read(addr, chunk)
            except _NoMemory:
                lines.append(f"{addr:016x}: Cannot access memory")
                break
            fields = []
            for i in range(0, chunk, size):
                v = int.from_bytes(data[i:i + size], "little")
                if fmt == "x":
                    fields.append(f"0x{v:0{digits}x}")
                elif fmt == "u":
                    fields.append(f"{v:{digits}d}")
                elif fmt == "d":
                    if v >> (size * 8 - 1):
                        v -= 1 << (size * 8)
                    fields.append(f"{v:{digits}d}")
                elif fmt == "o":
                    fields.append(f"{'0' if v else ''}{v:o}".rjust(digits))
                else:
                    fields.append(_char(v))
            lines.append(f"{addr:016x}: " + " ".join(fields))
            addr = (addr + chunk) & MASK64
            length -= chunk
        return "\n".join(lines) + "\n"

    def _disassemble(self, read, addr, count):
        from pyvmm.asm.disasm import Disassembler, insn_length
        dis = Disassembler(getattr(self.target, "symbols", None) or None)
        lines = []
        for _ in range(count):
            try:
                low = read(addr, 2)
                length = insn_length(int.from_bytes(low, "little"))
                raw = low if length == 2 else low + read((addr + 2) & MASK64, 2)
            except _NoMemory:
                lines.append(f"0x{addr:016x}: Cannot access memory")
                break
            word = int.from_bytes(raw, "little")
            _, text = dis.disassemble(word, addr)
            mnemonic, _, operands = text.partition("\t")
            hex_word = f"{word:0{2 * len(raw)}x}"
            lines.append(f"0x{addr:016x}:  {hex_word:<8}  {mnemonic:<8}{operands}".rstrip())
            addr = (addr + len(raw)) & MASK64
        return "\n".join(lines) + "\n"

    def _x(self, rest):
        return self._memory_command("x", rest, physical=False)

    def _xp(self, rest):
        return self._memory_command("xp", rest, physical=True)

    # -- control ----------------------------------------------------------------------------

    def _cpu(self, rest):
        index = _parse_int(rest) if rest else None
        if index is None or not 0 <= index < len(self.harts):
            raise MonitorError(f"invalid CPU index '{rest}' (0..{len(self.harts) - 1})")
        self.current = index
        return ""

    def _simple(what):
        def command(self, rest):
            if rest:
                raise MonitorError(f"unexpected argument '{rest.split()[0]}'")
            return what(self)
        return command

    def _stop(self):
        self.stopped = True
        return ""

    def _cont(self):
        self.stopped = False
        return ""

    def _quit(self):
        self.quit_requested = True
        return ""

    # -- balloon ----------------------------------------------------------------------------

    def _balloon(self, rest):
        """`balloon SIZE`: leave the guest SIZE of RAM (MiB unless suffixed, as QEMU's)."""
        from pyvmm.machine.balloon_target import BalloonError, set_memory_target
        match = _BALLOON_SIZE.match(rest)
        if not match:
            raise MonitorError("invalid size" if rest else "missing argument: target")
        size = int(match.group(1)) << _SIZE_SHIFTS[(match.group(2) or "M").upper()]
        try:
            set_memory_target(self.target, size)
        except BalloonError as e:
            return f"Error: {e}\n"
        return ""

    def _info_balloon(self, args):
        from pyvmm.machine.balloon_target import BalloonError, info_text
        self._no_args("balloon", args)
        try:
            return info_text(self.target)
        except BalloonError as e:
            return f"Error: {e}\n"

    _COMMANDS = {
        "help": _help, "?": _help, "info": _info, "x": _x, "xp": _xp, "cpu": _cpu,
        "balloon": _balloon,
        "stop": _simple(_stop), "cont": _simple(_cont), "c": _simple(_cont),
        "quit": _simple(_quit), "q": _simple(_quit),
    }


def _char(v):
    if v == 0x27:
        return "'\\''"
    if v == 0x5C:
        return "'\\\\'"
    if v == 0x0A:
        return "'\\n'"
    if v == 0x0D:
        return "'\\r'"
    return f"'{chr(v)}'" if 32 <= v <= 126 else f"'\\x{v:02x}'"


# -- front-ends ---------------------------------------------------------------------------------

BANNER = "pyvmm monitor - type 'help' for more information\n"
PROMPT = "(pyvmm) "
MAX_LINE = 4096
CTRL_A = 0x01

MUX_HELP = ("\n"
            " C-a h    print this help\n"
            " C-a x    exit emulator\n"
            " C-a c    switch between console and monitor\n"
            " C-a C-a  sends C-a\n")


class _LineReader:
    """Bytes in, complete command lines out (CR/LF ends a line; backspace
    erases; an over-long line is dropped with an error)."""

    def __init__(self):
        self.buffer = bytearray()
        self.overflow = False

    def feed(self, data):
        """-> [line or None (an over-long line)], the characters echoed."""
        lines = []
        echo = bytearray()
        for byte in data:
            if byte in (0x0A, 0x0D):
                if byte == 0x0A and getattr(self, "_after_cr", False):
                    self._after_cr = False
                    continue
                self._after_cr = byte == 0x0D
                lines.append(None if self.overflow else self.buffer.decode("utf-8", "replace"))
                self.buffer.clear()
                self.overflow = False
                echo += b"\n"
                continue
            self._after_cr = False
            if byte in (0x7F, 0x08):
                if self.buffer:
                    self.buffer.pop()
                    echo += b"\b \b"
            elif len(self.buffer) >= MAX_LINE:
                self.overflow = True
            elif byte >= 0x20 or byte == 0x09:
                self.buffer.append(byte)
                echo.append(byte)
        return lines, bytes(echo)


class ConsoleMux:
    """The console input shared by the guest and the monitor (QEMU's mux):
    installed as the ConsoleInput's filter, it keeps the bytes meant for the
    guest and queues the monitor's lines and the escapes' actions."""

    def __init__(self, monitor, write, echo=False, switchable=True):
        self.monitor = monitor
        self._write = write
        self.echo = echo
        self.switchable = switchable    # False: the monitor is elsewhere (TCP); C-a c does nothing
        self.focus_monitor = False
        self._escape = False
        self._greeted = False
        self._reader = _LineReader()
        self.events = []            # ("line", text) | ("overflow",) | ("quit",)

    def write(self, text):
        self._write(text.encode())

    def filter(self, data):
        guest = bytearray()
        monitor_bytes = bytearray()
        for byte in data:
            if self._escape:
                self._escape = False
                if byte in (CTRL_A, ord("a")):
                    (monitor_bytes if self.focus_monitor else guest).append(CTRL_A)
                elif byte == ord("x"):
                    self._flush_monitor(monitor_bytes)
                    self.events.append(("quit",))
                elif byte == ord("c") and self.switchable:
                    self._flush_monitor(monitor_bytes)
                    self.focus_monitor = not self.focus_monitor
                    if self.focus_monitor:
                        self.write(("" if self._greeted else BANNER) + PROMPT)
                        self._greeted = True
                elif byte in (ord("h"), ord("?")):
                    self.write(MUX_HELP)
            elif byte == CTRL_A:
                self._escape = True
            elif self.focus_monitor:
                monitor_bytes.append(byte)
            else:
                guest.append(byte)
        self._flush_monitor(monitor_bytes)
        return bytes(guest)

    def _flush_monitor(self, data):
        if not data:
            return
        lines, echo = self._reader.feed(bytes(data))
        data.clear()
        if self.echo and echo:
            self._write(echo)
        for line in lines:
            self.events.append(("line", line) if line is not None else ("overflow",))


class StdioMonitor:
    """The monitor on the console's own input and output (--monitor stdio)."""

    def __init__(self, monitor, console_input, write, echo=False, switchable=True):
        self.monitor = monitor
        self.input = console_input
        self.mux = ConsoleMux(monitor, write, echo=echo, switchable=switchable)
        console_input.set_filter(self.mux.filter)

    def handles(self):
        fd = self.input.fileno()
        return [fd] if fd is not None else []

    def can_read_now(self):
        """Input that can be read without waiting (a file or script, not at its end)."""
        return not self.input.at_eof and self.input.fileno() is None

    @property
    def ended(self):
        return self.input.at_eof

    def poll(self):
        self.input.pump()
        events, self.mux.events = self.mux.events, []
        for event in events:
            if event[0] == "quit":
                self.mux.write("pyvmm: Terminated\n")
                self.monitor.quit_requested = True
                return
            if event[0] == "overflow":
                self.mux.write(f"line longer than {MAX_LINE} characters: ignored\n")
            else:
                self.mux.write(self.monitor.execute(event[1]))
            if self.monitor.quit_requested:
                return
            self.mux.write(PROMPT)

    def close(self):
        """The console stays the process's: a stdio monitor holds nothing of its own."""


def parse_monitor_spec(text):
    """'stdio' -> ("stdio",); 'tcp:HOST:PORT[,server][,nowait]' -> ("tcp", host, port)."""
    if text == "stdio":
        return ("stdio",)
    if text.startswith("tcp:"):
        address, *options = text[4:].split(",")
        for option in options:
            if option not in ("server", "server=on", "nowait", "wait=off"):
                raise MonitorError(f"--monitor {text}: unsupported option '{option}' "
                                   "(the monitor always listens and never waits for a client)")
        host, sep, port = address.rpartition(":")
        number = _parse_int(port) if port.isdigit() else None
        if sep and host and number is not None and 0 <= number <= 65535:
            return ("tcp", host, number)
    raise MonitorError(f"--monitor {text!r}: expected stdio or tcp:HOST:PORT "
                       "(e.g. tcp:127.0.0.1:4444)")


class TcpMonitor:
    """The monitor on a TCP port (--monitor tcp:HOST:PORT): one client at a
    time; the socket is polled between slices, never waited on while the
    guest runs."""

    def __init__(self, monitor, host, port):
        self.monitor = monitor
        try:
            self.listener = socket.create_server((host, port))
        except OSError as e:
            raise MonitorError(f"--monitor tcp:{host}:{port}: cannot listen: "
                               f"{e.strerror or e}") from None
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()[:2]
        self.client = None
        self._reader = None

    def handles(self):
        return [self.listener.fileno()] + ([self.client.fileno()] if self.client else [])

    def can_read_now(self):
        return False

    ended = False

    def _send(self, text):
        try:
            self.client.sendall(text.replace("\n", "\r\n").encode())
        except OSError:
            self._drop()

    def _drop(self):
        if self.client is not None:
            self.client.close()
        self.client = None

    def poll(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if self.client is not None:
                # One client at a time: a second is told so and closed (if it
                # has gone already, there is nobody to tell).
                with contextlib.suppress(OSError):
                    conn.sendall(b"pyvmm monitor: another client is connected\r\n")
                conn.close()
                continue
            conn.setblocking(False)
            self.client = conn
            self._reader = _LineReader()
            self._send(BANNER + PROMPT)
        while self.client is not None and not self.monitor.quit_requested:
            try:
                data = self.client.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop()
                return
            if not data:
                self._drop()
                return
            lines, _ = self._reader.feed(data)
            for line in lines:
                if self.client is None:
                    return
                if line is None:
                    self._send(f"line longer than {MAX_LINE} characters: ignored\n{PROMPT}")
                    continue
                self._send(self.monitor.execute(line))
                if self.monitor.quit_requested:
                    return
                self._send(PROMPT)

    def close(self):
        self._drop()
        self.listener.close()


# -- running with a monitor ---------------------------------------------------------------------

class MonitoredRun:
    """A Machine or VM run with monitor front-ends polled between slices."""

    def __init__(self, target, frontends, monitor):
        self.target = target
        self.frontends = frontends
        self.monitor = monitor

    def _retired(self):
        if self.monitor.is_vm:
            return sum(vcpu.instret for vcpu in self.target.vcpus)
        # Machine.run's budget also counts core exits that retired nothing
        return self.target.harts.now + getattr(self.target, "stalled_exits", 0)

    def _poll(self):
        for frontend in self.frontends:
            frontend.poll()
            if self.monitor.quit_requested:
                return

    def _handles(self):
        return [h for frontend in self.frontends for h in frontend.handles()]

    def _wait_while_stopped(self):
        """Block until a front-end has input; False when none ever can."""
        if any(frontend.can_read_now() for frontend in self.frontends):
            return True
        handles = self._handles()
        if not handles:
            return False
        select.select(handles, [], [])
        return True

    def run(self, max_insns=None):
        """Run until the guest stops, `max_insns` retire, or the monitor quits;
        returns the RunResult (status 0, how "quit" for quit)."""
        from pyvmm.machine.machine import RunResult
        try:
            return self._run(max_insns)
        finally:
            self.close()

    def _run(self, max_insns):
        from pyvmm.machine.machine import RunResult
        target = self.target
        target.boot()                   # what the monitor shows first is the state at entry
        start = self._retired()
        while True:
            self._poll()
            if self.monitor.quit_requested:
                target.result = RunResult(0, "quit", 0)
                target.flush_console()
                return target.result
            if self.monitor.stopped:
                if not self._wait_while_stopped():
                    self.monitor.quit_requested = True
                    for frontend in self.frontends:
                        if isinstance(frontend, StdioMonitor):
                            frontend.mux.write("pyvmm: monitor input ended while stopped: quitting\n")
                continue
            budget = POLL_SLICE
            if max_insns is not None:
                budget = min(budget, max(0, max_insns - (self._retired() - start)))
            target.pause_handles = self._handles()
            result = target.run(budget)
            if result.how != "budget":
                return result
            if max_insns is not None and self._retired() - start >= max_insns:
                return result

    def close(self):
        for frontend in self.frontends:
            frontend.close()
        self.target.pause_handles = ()      # the descriptors are closed now


def open_monitor(spec, target, *, write, echo=False, announce=None):
    """The monitored run `pyvmm run --monitor SPEC` asks for over `target`
    (a Machine or VM): SPEC as parse_monitor_spec reads it; `write` takes
    the stdio monitor's output bytes; `announce(text)` is told where a TCP
    monitor listens. Raises MonitorError for a bad SPEC or a busy port."""
    kind = parse_monitor_spec(spec)
    monitor = Monitor(target)
    frontends = []
    if kind[0] == "tcp":
        tcp = TcpMonitor(monitor, kind[1], kind[2])
        frontends.append(tcp)
        if announce is not None:
            host, port = tcp.address
            announce(f"pyvmm: monitor listening on tcp:{host}:{port}\n")
    # The console's escapes (C-a x, C-a C-a) work with either; C-a c only
    # when the monitor shares the console.
    frontends.append(StdioMonitor(monitor, target.input, write, echo=echo,
                                  switchable=kind[0] == "stdio"))
    return MonitoredRun(target, frontends, monitor)


def open_cli_monitor(spec, target, usage_error):
    """open_monitor for `pyvmm run --monitor SPEC`: output on stdout (after
    the guest's pending console output), echo on a terminal, the TCP port on
    stderr; a bad SPEC or a busy port raises `usage_error`."""
    import os
    import sys

    out = sys.stdout.buffer

    def write(data):
        target.flush_console()
        out.write(data)
        out.flush()

    try:
        echo = sys.stdin is not None and os.isatty(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):
        echo = False
    try:
        return open_monitor(spec, target, write=write, echo=echo,
                            announce=lambda text: (sys.stderr.write(text), sys.stderr.flush()))
    except MonitorError as e:
        raise usage_error(str(e)) from None

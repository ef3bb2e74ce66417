"""A type-0 PCI function: its configuration header, BARs, capability list
and INTx pin (PCI Local Bus 3.0 chapter 6), with the register semantics of
QEMU 7.2's hw/pci/pci.c.

Every configuration byte has a write mask and a write-one-to-clear mask, as
QEMU keeps them: identification, class and header type are read-only; the
command register accepts only I/O, memory, bus-master, SERR and
INTx-disable; BARs accept only their address bits above their size, so
writing all ones and reading back sizes them; the interrupt line is plain
storage for firmware, the interrupt pin read-only. Bytes past the header and
the capabilities read and write like RAM, as QEMU leaves them.

A BAR decodes only while its space is enabled in the command register, at
the address QEMU's pci_bar_address accepts (no wrap, a 32-bit BAR below
4 GiB). Mapping changes are reported to the host, which keeps the decode
order QEMU's memory API gives: where two BARs overlap, the one mapped most
recently answers.
"""

# Header offsets.
VENDOR_ID = 0x00
DEVICE_ID = 0x02
COMMAND = 0x04
STATUS = 0x06
REVISION_ID = 0x08
CLASS_PROG = 0x09
CACHE_LINE_SIZE = 0x0C
LATENCY_TIMER = 0x0D
HEADER_TYPE = 0x0E
BIST = 0x0F
BAR_0 = 0x10
NUM_BARS = 6
SUBSYSTEM_VENDOR_ID = 0x2C
SUBSYSTEM_ID = 0x2E
ROM_ADDRESS = 0x30
CAPABILITY_LIST = 0x34
INTERRUPT_LINE = 0x3C
INTERRUPT_PIN = 0x3D
HEADER_SIZE = 0x40
CONFIG_SPACE_SIZE = 0x100         # a conventional function; PCIe would have 0x1000
HEADER_TYPE_MULTI_FUNCTION = 0x80

COMMAND_IO = 0x1
COMMAND_MEMORY = 0x2
COMMAND_MASTER = 0x4
COMMAND_SERR = 0x100
COMMAND_INTX_DISABLE = 0x400

STATUS_INTERRUPT = 0x08
STATUS_CAP_LIST = 0x10
STATUS_PARITY = 0x100
STATUS_SIG_TARGET_ABORT = 0x800
STATUS_REC_TARGET_ABORT = 0x1000
STATUS_REC_MASTER_ABORT = 0x2000
STATUS_SIG_SYSTEM_ERROR = 0x4000
STATUS_DETECTED_PARITY = 0x8000
STATUS_W1C = (STATUS_PARITY | STATUS_SIG_TARGET_ABORT | STATUS_REC_TARGET_ABORT
              | STATUS_REC_MASTER_ABORT | STATUS_SIG_SYSTEM_ERROR | STATUS_DETECTED_PARITY)

BAR_SPACE_IO = 0x1
BAR_MEM_TYPE_64 = 0x4
BAR_MEM_PREFETCH = 0x8

CAP_ID_VENDOR = 0x09

# Red Hat / Qumranet ids that QEMU gives every function that names no others.
VENDOR_QUMRANET = 0x1AF4
SUBSYSTEM_QEMU = 0x1100

_U32 = 0xFFFF_FFFF
_U64 = (1 << 64) - 1


class Bar:
    """One base address register: `index` (0..5), `size` (a power of two),
    `io` (I/O space, else memory), `is64`, `prefetchable`, and `region`,
    the object answering read(offset, size) / write(offset, size, value)
    for accesses inside it. `address` is where it decodes now (None when
    unmapped) and `sequence` orders mappings for overlap resolution."""

    __slots__ = ("index", "size", "io", "is64", "prefetchable", "region", "address", "sequence")

    def __init__(self, index, size, region, io=False, is64=False, prefetchable=False):
        self.index = index
        self.size = size
        self.region = region
        self.io = io
        self.is64 = is64
        self.prefetchable = prefetchable
        self.address = None
        self.sequence = 0

    @property
    def flags(self):
        """The read-only low bits of the register."""
        if self.io:
            return BAR_SPACE_IO
        return (BAR_MEM_TYPE_64 if self.is64 else 0) | (BAR_MEM_PREFETCH if self.prefetchable else 0)

    @property
    def offset(self):
        return BAR_0 + 4 * self.index

    def __repr__(self):
        kind = "io" if self.io else ("mem64" if self.is64 else "mem32")
        where = "unmapped" if self.address is None else f"{self.address:#x}"
        return f"Bar({self.index}, {kind}, {self.size:#x}, {where})"


class RegisterRegion:
    """A BAR's `region` for a function that decodes its own registers: every
    access goes to its register_read(offset, size) / register_write(offset,
    size, value)."""

    def __init__(self, function):
        self.function = function

    def read(self, offset, size):
        return self.function.register_read(offset, size)

    def write(self, offset, size, value):
        self.function.register_write(offset, size, value)


class PciFunction:
    """One function's configuration space. Subclasses add BARs and
    capabilities in their constructor and may override `config_read_hook`
    and `config_written` for registers with side effects.

    The host sets `host` (anything with `map_sequence()`, `mappings_changed()`
    and `intx_change(function, delta)`) and `device`/`function` when the
    function is added to a bus."""

    config_size = CONFIG_SPACE_SIZE

    def __init__(self, vendor_id, device_id, class_code, revision=0,
                 subsystem_vendor_id=VENDOR_QUMRANET, subsystem_id=SUBSYSTEM_QEMU,
                 interrupt_pin=0, name="pci-function"):
        if not 0 <= interrupt_pin <= 4:
            raise ValueError(f"interrupt pin {interrupt_pin} is not 0 (none) or 1..4 (INTA..INTD)")
        self.name = name
        self.config = bytearray(self.config_size)
        self.wmask = bytearray(self.config_size)
        self.w1cmask = bytearray(self.config_size)
        self._used = bytearray(self.config_size)
        self._used[:HEADER_SIZE] = b"\x01" * HEADER_SIZE
        self._set(VENDOR_ID, 2, vendor_id)
        self._set(DEVICE_ID, 2, device_id)
        self._set(REVISION_ID, 1, revision)
        self._set(CLASS_PROG, 3, class_code)
        self._set(SUBSYSTEM_VENDOR_ID, 2, subsystem_vendor_id)
        self._set(SUBSYSTEM_ID, 2, subsystem_id)
        self._set(INTERRUPT_PIN, 1, interrupt_pin)
        # QEMU's pci_init_wmask and pci_init_w1cmask.
        self.wmask[CACHE_LINE_SIZE] = 0xFF
        self.wmask[INTERRUPT_LINE] = 0xFF
        self._set_mask(self.wmask, COMMAND, 2, COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER
                       | COMMAND_INTX_DISABLE | COMMAND_SERR)
        self.wmask[HEADER_SIZE:] = b"\xff" * (self.config_size - HEADER_SIZE)
        self._set_mask(self.w1cmask, STATUS, 2, STATUS_W1C)
        self.bars = [None] * NUM_BARS
        self.irq_level = False
        self.host = None
        self.device = None
        self.function = None
        self._local_sequence = 0
        self.config_reads = 0
        self.config_writes = 0

    # -- construction -------------------------------------------------------

    def _set(self, offset, size, value):
        self.config[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def _get(self, offset, size):
        return int.from_bytes(self.config[offset:offset + size], "little")

    @staticmethod
    def _set_mask(mask, offset, size, value):
        mask[offset:offset + size] = value.to_bytes(size, "little")

    def add_bar(self, index, size, region, io=False, is64=False, prefetchable=False):
        """Declare BAR `index` of `size` bytes answered by `region`."""
        if size & (size - 1) or size < (4 if io else 16):
            raise ValueError(f"BAR size {size:#x} is not a power of two of at least {4 if io else 16}")
        if io and (is64 or prefetchable):
            raise ValueError("an I/O BAR is neither 64-bit nor prefetchable")
        slots = 2 if is64 else 1
        if not 0 <= index <= NUM_BARS - slots or any(self.bars[index:index + slots]):
            raise ValueError(f"BAR {index} is taken or out of range")
        bar = Bar(index, size, region, io=io, is64=is64, prefetchable=prefetchable)
        for i in range(slots):
            self.bars[index + i] = bar
        width = 8 if is64 else 4
        self._set(bar.offset, width, bar.flags)
        self._set_mask(self.wmask, bar.offset, width, ~(size - 1) & ((1 << (8 * width)) - 1))
        return bar

    def add_capability(self, cap_id, size, body=b""):
        """Place a capability of `size` bytes (header included) in the first
        free dword-aligned space after the header, link it at the head of
        the list as QEMU's pci_add_capability does, fill its bytes after the
        two-byte header with `body`, and make it read-only. Returns its offset."""
        if size < 2 or len(body) > size - 2:
            raise ValueError("capability body does not fit")
        offset = HEADER_SIZE
        while offset + size <= CONFIG_SPACE_SIZE:
            if not any(self._used[offset:offset + size]):
                break
            offset += 4
        else:
            raise ValueError("no room left for a capability")
        self._used[offset:offset + size] = b"\x01" * size
        self.config[offset] = cap_id
        self.config[offset + 1] = self.config[CAPABILITY_LIST]
        self.config[offset + 2:offset + 2 + len(body)] = body
        self.config[CAPABILITY_LIST] = offset
        self._set(STATUS, 2, self._get(STATUS, 2) | STATUS_CAP_LIST)
        self.wmask[offset:offset + size] = bytes(size)
        return offset

    def capabilities(self):
        """(offset, id) of each capability, walking the list from its head."""
        found, offset, seen = [], self.config[CAPABILITY_LIST] & ~3, set()
        while offset and offset not in seen:
            seen.add(offset)
            found.append((offset, self.config[offset]))
            offset = self.config[offset + 1] & ~3
        return found

    # -- command register ---------------------------------------------------

    @property
    def command(self):
        return self._get(COMMAND, 2)

    @property
    def memory_enabled(self):
        return bool(self.command & COMMAND_MEMORY)

    @property
    def io_enabled(self):
        return bool(self.command & COMMAND_IO)

    @property
    def bus_master(self):
        """May the function start DMA? Without it every DMA must fail."""
        return bool(self.command & COMMAND_MASTER)

    @property
    def intx_disabled(self):
        return bool(self.command & COMMAND_INTX_DISABLE)

    @property
    def interrupt_pin(self):
        return self.config[INTERRUPT_PIN]

    # -- configuration accesses ---------------------------------------------

    def config_read(self, offset, size):
        """A 1-, 2- or 4-byte read inside the configuration space."""
        self.config_reads += 1
        self.config_read_hook(offset, size)
        return self._get(offset, size)

    def config_write(self, offset, size, value):
        """A 1-, 2- or 4-byte write inside the configuration space, through
        the write and write-one-to-clear masks."""
        self.config_writes += 1
        was_intx_disabled = self.intx_disabled
        for i in range(size):
            byte = (value >> (8 * i)) & 0xFF
            at = offset + i
            wmask = self.wmask[at]
            self.config[at] = ((self.config[at] & ~wmask) | (byte & wmask)) & ~(byte & self.w1cmask[at])
        end = offset + size
        touches_command = offset < COMMAND + 2 and end > COMMAND
        if touches_command or (offset < BAR_0 + 4 * NUM_BARS and end > BAR_0):
            self.update_mappings()
        if touches_command and was_intx_disabled != self.intx_disabled and self.irq_level:
            self._intx_change(-1 if self.intx_disabled else 1)
        self.config_written(offset, size, value, touches_command)

    def config_read_hook(self, offset, size):
        """Called before a read (registers computed on demand)."""

    def config_written(self, offset, size, value, touches_command):
        """Called after a write has been applied (side effects)."""

    # -- BAR decoding -------------------------------------------------------

    def bar_address(self, bar):
        """Where `bar` decodes under the current command and register
        values, or None (QEMU's pci_bar_address on a board that allows
        address 0)."""
        if bar.io:
            if not self.io_enabled:
                return None
            base = self._get(bar.offset, 4) & ~(bar.size - 1)
            last = base + bar.size - 1
            return None if last >= _U32 else base
        if not self.memory_enabled:
            return None
        raw = self._get(bar.offset, 8 if bar.is64 else 4)
        base = raw & ~(bar.size - 1) & _U64
        last = base + bar.size - 1
        if last >= _U64 or (not bar.is64 and last >= _U32):
            return None
        return base

    def update_mappings(self):
        changed = False
        for bar in self._own_bars():
            address = self.bar_address(bar)
            if address == bar.address:
                continue
            bar.address = address
            if address is not None:
                bar.sequence = self._next_sequence()
            changed = True
        if changed and self.host is not None:
            self.host.mappings_changed()

    def _next_sequence(self):
        if self.host is not None:
            return self.host.map_sequence()
        self._local_sequence += 1
        return self._local_sequence

    def mapped_bars(self):
        return [bar for bar in self._own_bars() if bar.address is not None]

    # -- INTx ---------------------------------------------------------------

    def set_irq(self, level):
        """Drive the function's INTx pin (as pci_set_irq): the interrupt
        status bit follows it; the line follows unless INTx is disabled."""
        level = bool(level)
        if level == self.irq_level or not self.interrupt_pin:
            return
        self.irq_level = level
        status = self._get(STATUS, 2)
        self._set(STATUS, 2, status | STATUS_INTERRUPT if level else status & ~STATUS_INTERRUPT)
        if not self.intx_disabled:
            self._intx_change(1 if level else -1)

    def _intx_change(self, delta):
        if self.host is not None and self.interrupt_pin:
            self.host.intx_change(self, delta)

    # -- lifecycle ----------------------------------------------------------

    def attach_memory(self, memory):
        """Guest memory for DMA; a function that never masters the bus ignores it."""

    def poll(self):
        """Between slices: asynchronous work of the function (none by default)."""

    def reset(self):
        """Power-on state of the registers firmware programs (QEMU's
        pci_do_device_reset): command, status errors, cache line size,
        interrupt line and BARs cleared, INTx deasserted."""
        self.set_irq(False)
        writable = int.from_bytes(self.wmask[COMMAND:COMMAND + 2], "little")
        self._set(COMMAND, 2, self._get(COMMAND, 2) & ~writable)
        self._set(STATUS, 2, self._get(STATUS, 2) & ~STATUS_W1C)
        self.config[CACHE_LINE_SIZE] = 0
        self.config[INTERRUPT_LINE] = 0
        for bar in self._own_bars():
            self._set(bar.offset, 8 if bar.is64 else 4, bar.flags)
        self.update_mappings()

    def _own_bars(self):
        return [bar for i, bar in enumerate(self.bars) if bar is not None and bar.index == i]

    def state(self):
        return {
            "config": bytes(self.config),
            "irq_level": self.irq_level,
            "bars": {bar.index: (bar.address, bar.sequence) for bar in self._own_bars()},
        }

    def restore(self, state):
        """Reload the registers and mappings; the host re-drives the INTx
        lines from the restored levels and rebuilds its decode tables."""
        self.config[:] = state["config"]
        self.irq_level = state["irq_level"]
        for bar in self._own_bars():
            bar.address, bar.sequence = state["bars"][bar.index]

    def stats(self):
        return {"config_reads": self.config_reads, "config_writes": self.config_writes}


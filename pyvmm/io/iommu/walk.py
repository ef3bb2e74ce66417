"""The two walks the IOMMU makes through tables in machine memory: the
device directory (device id -> device context) and the G-stage page table
(guest-physical -> machine-physical, Sv39x4/Sv48x4 as the hart's hgatp).

Both read memory through `memory.read_u64`, which raises DmaError outside
RAM; every malformed entry ends in an IommuFault carrying the cause the
specification gives, never another exception.
"""

from dataclasses import dataclass

from pyvmm.io.iommu import regs
from pyvmm.machine.memory import DmaError

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


class IommuFault(Exception):
    """A translation the IOMMU refuses: `cause` as in the fault record,
    `gpa` the guest-physical address of a guest-page fault (else None)."""

    def __init__(self, cause, message, gpa=None):
        super().__init__(f"{regs.CAUSE_NAMES.get(cause, cause)}: {message}")
        self.cause = cause
        self.gpa = gpa


@dataclass(frozen=True)
class DeviceContext:
    """The fields of a base-format device context the IOMMU acts on."""
    tc: int
    iohgatp: int
    ta: int
    fsc: int

    @property
    def gstage_mode(self):
        return self.iohgatp >> regs.IOHGATP_MODE_SHIFT

    @property
    def gscid(self):
        return (self.iohgatp >> regs.IOHGATP_GSCID_SHIFT) & regs.GSCID_MASK

    @property
    def root(self):
        return (self.iohgatp & regs.PPN_MASK) << PAGE_SHIFT

    @property
    def report_faults(self):
        return not self.tc & regs.TC_DTF


# Index bits of the device id at each directory level (base-format contexts):
# DDI[0] = id[6:0], DDI[1] = id[15:7], DDI[2] = id[23:16].
_DDI = ((0, 7), (7, 9), (16, 8))
_LEVELS = {regs.MODE_1LVL: 1, regs.MODE_2LVL: 2, regs.MODE_3LVL: 3}


def _ddi(device_id, level):
    shift, bits = _DDI[level]
    return (device_id >> shift) & ((1 << bits) - 1)


def _load(memory, address, cause, what):
    try:
        return memory.read_u64(address)
    except DmaError:
        raise IommuFault(cause, f"{what} at {address:#x} is outside memory") from None


def fetch_device_context(memory, ddtp_mode, ddt_root, device_id):
    """Walk the device directory rooted at `ddt_root` for `device_id` and
    return its DeviceContext, checked against what this IOMMU supports."""
    levels = _LEVELS[ddtp_mode]
    if device_id >> sum(bits for _, bits in _DDI[:levels]):
        raise IommuFault(regs.CAUSE_TTYPE_DISALLOWED,
                         f"device id {device_id:#x} is wider than a {levels}-level directory")
    table = ddt_root
    for level in range(levels - 1, 0, -1):
        address = table + 8 * _ddi(device_id, level)
        entry = _load(memory, address, regs.CAUSE_DDT_LOAD_ACCESS, "directory entry")
        if not entry & regs.DDTE_V:
            raise IommuFault(regs.CAUSE_DDT_INVALID, f"directory entry at {address:#x} is not valid")
        if entry & ~(regs.DDTE_V | (regs.PPN_MASK << regs.DDTP_PPN_SHIFT)):
            raise IommuFault(regs.CAUSE_DDT_MISCONFIGURED, f"directory entry at {address:#x} "
                             f"sets reserved bits ({entry:#x})")
        table = ((entry >> regs.DDTP_PPN_SHIFT) & regs.PPN_MASK) << PAGE_SHIFT
    address = table + regs.DC_SIZE * _ddi(device_id, 0)
    words = [_load(memory, address + 8 * i, regs.CAUSE_DDT_LOAD_ACCESS, "device context")
             for i in range(4)]
    context = DeviceContext(*words)
    if not context.tc & regs.TC_V:
        raise IommuFault(regs.CAUSE_DDT_INVALID, f"device context of {device_id:#x} is not valid")
    _check_context(context, device_id)
    return context


def _check_context(context, device_id):
    def bad(why):
        raise IommuFault(regs.CAUSE_DDT_MISCONFIGURED, f"device context of {device_id:#x}: {why}")

    if context.tc & ~regs.TC_SUPPORTED:
        bad(f"tc {context.tc:#x} asks for features this IOMMU lacks")
    if context.gstage_mode not in (regs.HGATP_BARE, regs.HGATP_SV39X4, regs.HGATP_SV48X4):
        bad(f"iohgatp mode {context.gstage_mode} is not Bare, Sv39x4 or Sv48x4")
    if context.gstage_mode == regs.HGATP_BARE and context.iohgatp:
        bad("a Bare iohgatp has non-zero GSCID or PPN")
    if context.gstage_mode != regs.HGATP_BARE and context.iohgatp & 3:
        bad("the G-stage root table is not 16 KiB aligned")
    if context.fsc:
        bad(f"fsc {context.fsc:#x}: first-stage translation is not supported (Bare only)")
    if context.ta:
        bad(f"ta {context.ta:#x}: no process id without first-stage translation")


# (levels, bits of the widened root index) for each G-stage mode.
_GSTAGE = {regs.HGATP_SV39X4: (3, 11), regs.HGATP_SV48X4: (4, 11)}


@dataclass(frozen=True)
class Translation:
    """A leaf found by the G-stage walk: the page of `size` bytes at guest
    `gpa_base` is machine `spa_base`, readable and/or writable."""
    gpa_base: int
    spa_base: int
    size: int
    readable: bool
    writable: bool


def gstage_walk(memory, context, gpa, write):
    """Translate `gpa` through `context`'s G-stage table for a read or a
    write; returns the Translation of the leaf (its permissions checked for
    this access). Accessed and dirty bits must already be set: this IOMMU
    does not update them (no GADE), so an unset bit is a guest-page fault."""
    cause = regs.CAUSE_WRITE_GUEST_PAGE if write else regs.CAUSE_READ_GUEST_PAGE
    access = regs.CAUSE_WRITE_ACCESS if write else regs.CAUSE_READ_ACCESS
    levels, root_bits = _GSTAGE[context.gstage_mode]
    width = PAGE_SHIFT + 9 * (levels - 1) + root_bits
    if gpa >> width:
        raise IommuFault(cause, f"{gpa:#x} is beyond the {width}-bit guest-physical space", gpa)
    table = context.root
    for level in range(levels - 1, -1, -1):
        shift = PAGE_SHIFT + 9 * level
        index_bits = root_bits if level == levels - 1 else 9
        address = table + 8 * ((gpa >> shift) & ((1 << index_bits) - 1))
        pte = _load(memory, address, access, "G-stage entry")
        if not pte & regs.PTE_V or pte & regs.PTE_RESERVED:
            raise IommuFault(cause, f"G-stage entry {pte:#x} for {gpa:#x} is invalid", gpa)
        ppn = (pte >> regs.PTE_PPN_SHIFT) & regs.PPN_MASK
        if not pte & (regs.PTE_R | regs.PTE_X):
            if pte & regs.PTE_W or pte & (regs.PTE_A | regs.PTE_D | regs.PTE_U):
                raise IommuFault(cause, f"non-leaf G-stage entry {pte:#x} sets leaf bits", gpa)
            table = ppn << PAGE_SHIFT
            continue
        size = 1 << shift
        if pte & regs.PTE_W and not pte & regs.PTE_R:
            raise IommuFault(cause, f"G-stage leaf {pte:#x} is write-only", gpa)
        if not pte & regs.PTE_U:
            raise IommuFault(cause, f"G-stage leaf {pte:#x} lacks U", gpa)
        if ppn & ((size >> PAGE_SHIFT) - 1):
            raise IommuFault(cause, f"G-stage superpage {pte:#x} is misaligned", gpa)
        if not pte & regs.PTE_A or (write and not pte & regs.PTE_D):
            raise IommuFault(cause, f"G-stage leaf {pte:#x} has A/D clear", gpa)
        # Without hardware dirty updates a clean page cannot take a write,
        # so the cached leaf is writable only when W and D are both set.
        readable = bool(pte & regs.PTE_R)
        writable = bool(pte & regs.PTE_W) and bool(pte & regs.PTE_D)
        if (write and not writable) or (not write and not readable):
            raise IommuFault(cause, f"G-stage leaf for {gpa:#x} does not allow "
                             f"{'writes' if write else 'reads'}", gpa)
        return Translation(gpa & ~(size - 1), ppn << PAGE_SHIFT, size, readable, writable)
    raise IommuFault(cause, f"G-stage walk for {gpa:#x} found no leaf", gpa)

"""The flattened device tree: the board's self-description for firmware and kernels.

A DTB (devicetree specification v0.4, chapter 5; format version 17) is a
header, a memory-reservation block, a structure block of tokens
(BEGIN_NODE name / PROP len nameoff value / END_NODE / END) and a strings
block holding each property name once. This module writes one (`build_dtb`,
describing the `virt` board like QEMU 7.2's `-machine virt`) and reads one
back (`parse_dtb`), which the tests and the loader use to check a tree.
"""

import struct

from pyvmm.machine import layout

FDT_MAGIC = 0xD00DFEED
FDT_VERSION = 17
FDT_LAST_COMP_VERSION = 16
FDT_BEGIN_NODE = 1
FDT_END_NODE = 2
FDT_PROP = 3
FDT_NOP = 4
FDT_END = 9
HEADER_SIZE = 40

# Phandles numbered as QEMU numbers them, so dumps of both trees line up:
# QEMU creates the cpu nodes from the last hart to the first, each followed by
# its interrupt controller, then the PLIC and the test device. These are the
# one-hart values; `phandles(harts)` gives them for any number of harts.
PHANDLE_CPU0 = 1
PHANDLE_CPU0_INTC = 2
PHANDLE_PLIC = 3
PHANDLE_TEST = 4


def cpu_phandle(hart, harts=1):
    """Phandle of hart `hart`'s cpu node (its interrupt controller's is one more)."""
    return 2 * (harts - 1 - hart) + 1


def plic_phandle(harts=1):
    return 2 * harts + 1


def finisher_phandle(harts=1):
    return 2 * harts + 2


def iommu_phandle(harts=1):
    """The RISC-V IOMMU's node, when the board has one: after the test device's."""
    return 2 * harts + 3

# Local interrupt numbers on the hart's interrupt controller (mip bits).
IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 1, 3, 5, 7, 9, 11

UART_CLOCK_FREQ = 3686400         # the value QEMU's virt.c advertises for its 16550
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777
RNG_SEED_BYTES = 32

CSR_MISA = 0x301
CSR_MENVCFG = 0x30A
MENVCFG_STCE = 1 << 63
# Multi-letter extensions in QEMU 7.2's riscv,isa order (its isa_edata_arr).
# The harts also run Zicbom/Zicboz once menvcfg enables them, but QEMU 7.2's
# virt has neither, so the tree does not name them: a guest sees the same
# machine on both, and a kernel uses no cache-block operation QEMU lacks.
ISA_EXTENSION_ORDER = ("zicsr", "zifencei", "zihintpause", "zba", "zbb", "zbc", "zbs", "sstc")

# ISA letters in the canonical order of the unprivileged spec's naming chapter.
_MISA_LETTER_ORDER = "imafdqcbkjtpvh"


class FdtError(ValueError):
    """A blob that is not a well-formed flattened device tree."""


class Node:
    """One device-tree node: a name, ordered properties (raw bytes) and children."""

    def __init__(self, name, props=None, children=None):
        self.name = name
        self.props = dict(props or {})
        self.children = list(children or [])

    def add(self, child):
        self.children.append(child)
        return child

    def child(self, name):
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(name)

    def find(self, path):
        """The node at an absolute path like "/soc/serial@10000000"."""
        node = self
        for part in path.strip("/").split("/"):
            if part:
                node = node.child(part)
        return node

    def walk(self, parent_path=None):
        """(path, node) for this node and every descendant, depth first."""
        if parent_path is None:
            path = "/"
        elif parent_path == "/":
            path = "/" + self.name
        else:
            path = parent_path + "/" + self.name
        yield path, self
        for c in self.children:
            yield from c.walk(path)

    # Typed views of property values.
    def u32(self, prop):
        return struct.unpack(">I", self.props[prop])[0]

    def cells(self, prop):
        raw = self.props[prop]
        return list(struct.unpack(">%dI" % (len(raw) // 4), raw))

    def string(self, prop):
        return self.strings(prop)[0]

    def strings(self, prop):
        raw = self.props[prop]
        if not raw.endswith(b"\0"):
            raise FdtError("property %r of %s is not a string" % (prop, self.name or "/"))
        return [_ascii(s, "string in %r" % prop) for s in raw[:-1].split(b"\0")]

    def __repr__(self):
        return "Node(%r, %d props, %d children)" % (self.name, len(self.props), len(self.children))


# Property value encoders.
def cells(*values):
    return struct.pack(">%dI" % len(values), *values)


def u64_cells(*values):
    out = []
    for v in values:
        out += [v >> 32, v & 0xFFFF_FFFF]
    return cells(*out)


def string(s):
    return s.encode("ascii") + b"\0"


def strings(*items):
    return b"".join(string(s) for s in items)


EMPTY = b""


def _ascii(raw, what):
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise FdtError("%s is not ASCII: %r" % (what, raw[:32])) from None


def _pad4(data):
    return data + b"\0" * (-len(data) % 4)


def serialize(root, boot_cpuid=0, reservations=()):
    """Flatten a Node tree into DTB v17 bytes."""
    strtab = bytearray()
    name_offsets = {}

    def name_offset(name):
        if name not in name_offsets:
            name_offsets[name] = len(strtab)
            strtab.extend(string(name))
        return name_offsets[name]

    struct_block = bytearray()

    def emit(node):
        struct_block.extend(struct.pack(">I", FDT_BEGIN_NODE))
        struct_block.extend(_pad4(string(node.name)))
        for prop, value in node.props.items():
            struct_block.extend(struct.pack(">III", FDT_PROP, len(value), name_offset(prop)))
            struct_block.extend(_pad4(bytes(value)))
        for c in node.children:
            emit(c)
        struct_block.extend(struct.pack(">I", FDT_END_NODE))

    emit(root)
    struct_block.extend(struct.pack(">I", FDT_END))

    rsvmap = b"".join(struct.pack(">QQ", addr, size) for addr, size in reservations)
    rsvmap += struct.pack(">QQ", 0, 0)
    off_rsvmap = HEADER_SIZE                     # already 8-aligned
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(struct_block)
    # Round the blob up to 8 bytes (counted in totalsize) so whatever is placed after it stays aligned.
    total = (off_strings + len(strtab) + 7) & ~7
    header = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsvmap,
                         FDT_VERSION, FDT_LAST_COMP_VERSION, boot_cpuid,
                         len(strtab), len(struct_block))
    blob = header + rsvmap + bytes(struct_block) + bytes(strtab)
    return blob + b"\0" * (total - len(blob))


def parse_dtb(blob):
    """Read DTB bytes back into (root Node, header dict). Raises FdtError."""
    blob = bytes(blob)
    if len(blob) < HEADER_SIZE:
        raise FdtError("blob of %d bytes is shorter than an FDT header" % len(blob))
    (magic, total, off_struct, off_strings, off_rsvmap, version, last_comp,
     boot_cpuid, size_strings, size_struct) = struct.unpack_from(">10I", blob, 0)
    if magic != FDT_MAGIC:
        raise FdtError("bad FDT magic 0x%08x" % magic)
    if total > len(blob):
        raise FdtError("totalsize %d exceeds the %d bytes given" % (total, len(blob)))
    if last_comp > FDT_VERSION or version < FDT_LAST_COMP_VERSION:
        raise FdtError("unsupported FDT version %d (last compatible %d)" % (version, last_comp))
    if off_struct + size_struct > total or off_strings + size_strings > total:
        raise FdtError("structure or strings block runs past totalsize")
    header = dict(totalsize=total, off_dt_struct=off_struct, off_dt_strings=off_strings,
                  off_mem_rsvmap=off_rsvmap, version=version, last_comp_version=last_comp,
                  boot_cpuid_phys=boot_cpuid, size_dt_strings=size_strings,
                  size_dt_struct=size_struct)

    reservations = []
    pos = off_rsvmap
    while True:
        if pos + 16 > total:
            raise FdtError("memory reservation block is not terminated")
        addr, size = struct.unpack_from(">QQ", blob, pos)
        pos += 16
        if addr == 0 and size == 0:
            break
        reservations.append((addr, size))
    header["reservations"] = reservations

    strtab = blob[off_strings:off_strings + size_strings]
    end = off_struct + size_struct
    pos = off_struct
    stack = []
    root = None

    def token():
        nonlocal pos
        if pos + 4 > end:
            raise FdtError("structure block ends inside a token")
        (t,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        return t

    while True:
        t = token()
        if t == FDT_BEGIN_NODE:
            nul = blob.find(b"\0", pos, end)
            if nul < 0:
                raise FdtError("unterminated node name")
            node = Node(_ascii(blob[pos:nul], "node name"))
            pos = (nul + 1 + 3) & ~3
            if stack:
                stack[-1].add(node)
            elif root is None:
                root = node
            else:
                raise FdtError("more than one root node")
            stack.append(node)
        elif t == FDT_END_NODE:
            if not stack:
                raise FdtError("END_NODE without a node")
            stack.pop()
        elif t == FDT_PROP:
            if not stack:
                raise FdtError("property outside any node")
            if pos + 8 > end:
                raise FdtError("structure block ends inside a property")
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            if pos + length > end or nameoff >= len(strtab):
                raise FdtError("property runs past its block")
            nul = strtab.find(b"\0", nameoff)
            if nul < 0:
                raise FdtError("unterminated property name")
            name = _ascii(strtab[nameoff:nul], "property name")
            stack[-1].props[name] = blob[pos:pos + length]
            pos = (pos + length + 3) & ~3
        elif t == FDT_NOP:
            continue
        elif t == FDT_END:
            if stack or root is None:
                raise FdtError("END token with unclosed nodes")
            return root, header
        else:
            raise FdtError("unknown structure token 0x%x at offset %d" % (t, pos - 4))


def isa_string(core=None):
    """The riscv,isa string for the hart, spelled and ordered as QEMU 7.2
    writes it: letters from misa, then Zicsr, Zifencei, Zihintpause, Zba,
    Zbb, Zbc, Zbs and Sstc; Sstc only when menvcfg.STCE sticks, so the tree
    never promises more than the hart does."""
    letters = "imafdc"
    has_sstc = True
    if core is not None:
        misa = core.read_csr(CSR_MISA)
        found = "".join(ch for ch in _MISA_LETTER_ORDER if misa >> (ord(ch) - ord("a")) & 1)
        if found:
            letters = found
        saved = core.read_csr(CSR_MENVCFG)
        core.write_csr(CSR_MENVCFG, saved | MENVCFG_STCE)
        has_sstc = bool(core.read_csr(CSR_MENVCFG) & MENVCFG_STCE)
        core.write_csr(CSR_MENVCFG, saved)
    extensions = [ext for ext in ISA_EXTENSION_ORDER if ext != "sstc" or has_sstc]
    return "rv64" + letters + "".join("_" + ext for ext in extensions)


# SHA-256 of b"pyvmm virt rng-seed": fixed, so a run repeats (written out so
# that no boot pays for importing hashlib).
FIXED_RNG_SEED = bytes.fromhex("05c7c1503d4470f1c826be379bb7884f999a411506f31c9c60b532eddb303ebe")


def rng_seed(realtime=False):
    """/chosen/rng-seed: 32 bytes, as QEMU gives. Fixed so a run repeats,
    unless the machine follows the host (--realtime)."""
    if realtime:
        import os
        return os.urandom(RNG_SEED_BYTES)
    return FIXED_RNG_SEED


def set_chosen(root, bootargs="", initrd=None, seed=None):
    """Fill /chosen as QEMU does for -append and -initrd (and its rng-seed)."""
    try:
        chosen = root.child("chosen")
    except KeyError:
        chosen = root.add(Node("chosen"))
    if bootargs:
        chosen.props["bootargs"] = string(bootargs)
    if initrd is not None:
        start, end = initrd
        # QEMU 7.2 writes one cell each when the addresses fit, as on virt's RAM.
        fmt = cells if end < (1 << 32) else u64_cells
        chosen.props["linux,initrd-start"] = fmt(start)
        chosen.props["linux,initrd-end"] = fmt(end)
    if seed is not None:
        chosen.props["rng-seed"] = bytes(seed)
    return chosen


def virt_tree(ram_base, ram_size, bootargs="", hartid=0,
              isa="rv64imafdc_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc",
              soc_nodes=(), initrd=None, seed=None, harts=1):
    """The Node tree of the `virt` board, laid out as QEMU 7.2's hw/riscv/virt.c lays it out.
    `soc_nodes`: the device set's optional devices (RTC, PCI host) for /soc, built with
    `plic_phandle(harts)`. `harts` > 1: harts 0..harts-1 (`hartid` must be 0), each with a
    PLIC M and S context (QEMU's "MS" hart config) and its CLINT MSWI and MTIMER."""
    if harts < 1 or (harts > 1 and hartid != 0):
        raise ValueError(f"harts must be >= 1, numbered from 0 when several, not {harts} from {hartid}")
    hart_ids = [hartid] if harts == 1 else list(range(harts))
    test = finisher_phandle(harts)
    root = Node("", {
        "#address-cells": cells(2),
        "#size-cells": cells(2),
        "compatible": string("riscv-virtio"),
        "model": string("riscv-virtio,qemu"),
    })

    root.add(Node("chosen", {
        "stdout-path": string("/soc/serial@%x" % layout.UART0_BASE),
    }))
    set_chosen(root, bootargs, initrd, seed)

    # The finisher doubles as a syscon so Linux' generic poweroff/reboot drivers find it.
    root.add(Node("poweroff", {
        "value": cells(FINISHER_PASS),
        "offset": cells(0),
        "regmap": cells(test),
        "compatible": string("syscon-poweroff"),
    }))
    root.add(Node("reboot", {
        "value": cells(FINISHER_RESET),
        "offset": cells(0),
        "regmap": cells(test),
        "compatible": string("syscon-reboot"),
    }))

    root.add(Node("memory@%x" % ram_base, {
        "device_type": string("memory"),
        "reg": u64_cells(ram_base, ram_size),
    }))

    cpus = root.add(Node("cpus", {
        "#address-cells": cells(1),
        "#size-cells": cells(0),
        "timebase-frequency": cells(layout.TIMEBASE_FREQ),
    }))
    intcs = []
    for index, hart in enumerate(hart_ids):
        phandle = cpu_phandle(index, harts)
        intcs.append(phandle + 1)
        props = {
            "phandle": cells(phandle),
            "device_type": string("cpu"),
            "reg": cells(hart),
            "status": string("okay"),
            "compatible": string("riscv"),
        }
        props["riscv,isa"] = string(isa)
        # QEMU 7.2 says sv48 although its hart also walks Sv57 (satp mode 10)
        props["mmu-type"] = string("riscv,sv48")
        cpu = cpus.add(Node("cpu@%x" % hart, props))
        cpu.add(Node("interrupt-controller", {
            "#interrupt-cells": cells(1),
            "interrupt-controller": EMPTY,
            "compatible": string("riscv,cpu-intc"),
            "phandle": cells(phandle + 1),
        }))
    cpus.add(Node("cpu-map", children=[
        Node("cluster0", children=[Node("core%d" % index, {"cpu": cells(cpu_phandle(index, harts))})
                                   for index in range(len(hart_ids))]),
    ]))
    plic = plic_phandle(harts)

    soc = root.add(Node("soc", {
        "#address-cells": cells(2),
        "#size-cells": cells(2),
        "compatible": string("simple-bus"),
        "ranges": EMPTY,
    }))
    soc.add(Node("serial@%x" % layout.UART0_BASE, {
        "interrupts": cells(layout.UART0_IRQ),
        "interrupt-parent": cells(plic),
        "clock-frequency": cells(UART_CLOCK_FREQ),
        "reg": u64_cells(layout.UART0_BASE, layout.UART0_SIZE),
        "compatible": string("ns16550a"),
    }))
    soc.add(Node("test@%x" % layout.TEST_BASE, {
        "phandle": cells(test),
        "reg": u64_cells(layout.TEST_BASE, layout.TEST_SIZE),
        "compatible": strings("sifive,test1", "sifive,test0", "syscon"),
    }))
    # QEMU creates the slots from the last to the first, so the tree lists them that way.
    for slot in reversed(range(layout.VIRTIO_COUNT)):
        base = layout.VIRTIO_BASE + slot * layout.VIRTIO_STRIDE
        soc.add(Node("virtio_mmio@%x" % base, {
            "interrupts": cells(layout.VIRTIO_IRQ_FIRST + slot),
            "interrupt-parent": cells(plic),
            "reg": u64_cells(base, layout.VIRTIO_STRIDE),
            "compatible": string("virtio,mmio"),
        }))
    soc.add(Node("plic@%x" % layout.PLIC_BASE, {
        "phandle": cells(plic),
        # riscv,ndev is the highest source number: sources are 1..95, 0 means "none".
        "riscv,ndev": cells(layout.PLIC_NUM_SOURCES - 1),
        "reg": u64_cells(layout.PLIC_BASE, layout.PLIC_SIZE),
        # Context 2h is hart h's M-mode external interrupt, context 2h + 1 its S-mode one.
        "interrupts-extended": cells(*[v for intc in intcs for v in (intc, IRQ_M_EXT, intc, IRQ_S_EXT)]),
        "interrupt-controller": EMPTY,
        "compatible": strings("sifive,plic-1.0.0", "riscv,plic0"),
        "#address-cells": cells(0),
        "#interrupt-cells": cells(1),
    }))
    soc.add(Node("clint@%x" % layout.CLINT_BASE, {
        "interrupts-extended": cells(*[v for intc in intcs
                                       for v in (intc, IRQ_M_SOFT, intc, IRQ_M_TIMER)]),
        "reg": u64_cells(layout.CLINT_BASE, layout.CLINT_SIZE),
        "compatible": strings("sifive,clint0", "riscv,clint0"),
    }))
    for node in soc_nodes:
        soc.add(node)
    return root


def build_dtb(machine):
    """The DTB for a Machine: reads ram_base, ram_size, bootargs, hartid (and its core's misa)."""
    core = getattr(machine, "core", None)
    devices = getattr(machine, "device_set", None)
    harts = getattr(machine, "smp", 1)
    root = virt_tree(machine.ram_base, machine.ram_size,
                     bootargs=machine.bootargs or "", hartid=machine.hartid,
                     isa=isa_string(core), harts=harts,
                     soc_nodes=devices.soc_nodes(plic_phandle(harts)) if devices is not None else (),
                     initrd=getattr(machine, "initrd_range", None),
                     seed=rng_seed(bool(core is not None and core.realtime)))
    return serialize(root, boot_cpuid=machine.hartid)

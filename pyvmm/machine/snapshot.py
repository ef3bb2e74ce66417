"""Snapshots of the bare board: `Machine.save(path)` and `Machine.restore(path)`.

A snapshot holds the options that shaped the machine (RAM size, harts,
firmware mode, device options, boot arguments), every hart's architectural
state (`Core.export_state`), every device's state (`snapshot()` on each
device, the PLIC last so its pending bits win over the lines the other
devices re-drive), the board's own run state (the machine clock and turns,
the SBI or HTIF, console input not yet delivered, counters) and the RAM
pages that are not all zeros, in the container `pyvmm.machine.snapfile`
describes. Restoring builds a new Machine from the stored options, so a
file alone is enough; the host-side choices (console, stdin, tracing) are
given to `restore`. Decoded instructions and TLBs are not saved: a
restored core starts with them empty.

An incremental snapshot (`save(path, base=earlier)`) stores only the pages
that differ from `earlier` (found by comparing page contents with the base
file's, which a dirty log started in this process could not know) and names the base by file name and
SHA-256; restoring it reads the chain.
"""

import os

from pyvmm.machine import snapfile
from pyvmm.machine.snapfile import PAGE_SIZE, SnapshotError

KIND_MACHINE = "machine"
MAX_CHAIN = 64          # incremental snapshots on top of one another


# -- RAM ---------------------------------------------------------------------


def nonzero_pages(buffer):
    """[(index, page view)] for every 4 KiB page of `buffer` that is not all zeros."""
    view = memoryview(buffer).cast("B")
    try:
        import numpy
    except ImportError:
        zero = bytes(PAGE_SIZE)
        return [(i, view[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]) for i in range(len(view) // PAGE_SIZE)
                if view[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] != zero]
    words = numpy.frombuffer(view, dtype=numpy.uint64).reshape(-1, PAGE_SIZE // 8)
    used = numpy.flatnonzero(words.any(axis=1))
    return [(int(i), view[int(i) * PAGE_SIZE:(int(i) + 1) * PAGE_SIZE]) for i in used]


def pages_to_save(pages, base_pages):
    """The pages of a snapshot: all non-zero ones, or (incremental) those
    that differ from the base image `base_pages` ({index: bytes})."""
    if base_pages is None:
        return pages
    zero = bytes(PAGE_SIZE)
    current = dict(pages)
    out = []
    for index in sorted(set(current) | set(base_pages)):
        now = current.get(index, zero)
        if base_pages.get(index, zero) != now:
            out.append((index, now))
    return out


def read_chain(path, kind):
    """Read a snapshot and the bases it builds on: -> (meta, state, ram_base,
    ram_size, {page index: bytes}, digest). Every file is checked whole
    before anything is returned."""
    pages = {}
    chain = []
    current = path
    while True:
        if len(chain) >= MAX_CHAIN:
            raise SnapshotError(f"{path}: more than {MAX_CHAIN} incremental snapshots in a chain")
        sections, digest = snapfile.read(current)
        meta = snapfile.loads(sections[b"META"], "META")
        if not isinstance(meta, dict) or meta.get("kind") != kind:
            raise SnapshotError(f"{current}: a snapshot of a {meta.get('kind') if isinstance(meta, dict) else '?'}"
                                f", not of a {kind}")
        if chain and chain[-1][0]["base"]["sha256"] != digest:
            raise SnapshotError(f"{current}: not the base {chain[-1][2]} was taken on "
                                "(it changed since)")
        chain.append((meta, sections, current))
        base = meta.get("base")
        if base is None:
            break
        if not isinstance(base, dict) or not isinstance(base.get("path"), str):
            raise SnapshotError(f"{current}: corrupt snapshot (bad base reference)")
        current = os.path.join(os.path.dirname(os.path.abspath(current)), base["path"])
    top_meta, top_sections, _ = chain[0]
    ram_base = ram_size = None
    for meta, sections, where in reversed(chain):
        base_, size_, delta = snapfile.unpack_ram(sections[b"RAM\0"])
        if ram_size is not None and (base_, size_) != (ram_base, ram_size):
            raise SnapshotError(f"{where}: RAM differs from its base snapshot's")
        ram_base, ram_size = base_, size_
        for index, data in delta:
            pages[index] = data
    state = snapfile.loads(top_sections[b"STAT"], "STAT")
    if not isinstance(state, dict):
        raise SnapshotError(f"{path}: corrupt snapshot (state is not a mapping)")
    return top_meta, state, ram_base, ram_size, pages


def base_reference(path, base):
    """META's reference to the base: its name relative to the new file, its digest."""
    _, digest = snapfile.read(base)
    relative = os.path.relpath(os.path.abspath(base), os.path.dirname(os.path.abspath(path)))
    return {"path": relative, "sha256": digest}


def write_snapshot(path, meta, state, ram_base, ram_size, pages, base, kind):
    """Write a snapshot; with `base`, only the pages that differ from it."""
    base_pages = None
    if base is not None:
        base_meta, _, base_ram_base, base_ram_size, base_pages = read_chain(base, kind)
        if (base_ram_base, base_ram_size) != (ram_base, ram_size):
            raise SnapshotError(f"{base}: its RAM is not this {kind}'s")
        meta = dict(meta, base=base_reference(path, base))
    chosen = pages_to_save(pages, base_pages)
    sections = [(b"META", snapfile.dumps(meta)), (b"STAT", snapfile.dumps(state)),
                (b"RAM\0", snapfile.pack_ram(ram_base, ram_size, chosen))]
    return snapfile.write(path, sections)


# -- the board ---------------------------------------------------------------


def machine_options(machine):
    config = machine.device_set.config
    return {
        "ram_size": machine.ram_size, "smp": machine.smp, "hartid": machine.hartid,
        "bios": machine.bios, "bootargs": machine.bootargs, "htif": machine.htif_mode,
        "realtime": bool(machine.core.realtime),
        "devices": {"drives": list(config.drives), "devices": list(config.devices),
                    "netdevs": list(config.netdevs), "virtio_legacy": bool(config.virtio_legacy),
                    "iommu": bool(config.iommu)},
    }


def _iommu_option(devices):
    """Snapshots written before the IOMMU was an option have no key: no IOMMU."""
    iommu = devices.get("iommu", False)
    if not isinstance(iommu, bool):
        raise TypeError("devices.iommu is not a boolean")
    return iommu


def device_states(device_set):
    """Every device of a DeviceSet, by where it sits."""
    return {
        "uart": device_set.uart.state(),
        "rtc": device_set.rtc.state(),
        "finisher": device_set.finisher.state(),
        "virtio_slots": [slot.state() for slot in device_set.virtio_slots],
        "pci": device_set.pci.state(),
        "plic": device_set.plic.state(),
    }


def restore_devices(device_set, state):
    """Inverse of device_states. The PLIC goes last: restoring the other
    devices re-drives their interrupt lines, and the saved pending and
    claimed bits must win over what those updates made of them."""
    try:
        device_set.uart.restore(state["uart"])
        device_set.rtc.restore(state["rtc"])
        device_set.finisher.restore(state["finisher"])
        slots = state["virtio_slots"]
        if len(slots) != len(device_set.virtio_slots):
            raise ValueError(f"{len(slots)} virtio-mmio slots, the machine has "
                             f"{len(device_set.virtio_slots)}")
        for transport, slot_state in zip(device_set.virtio_slots, slots):
            if (transport.device is None) != ("device" not in slot_state):
                raise ValueError("the virtio-mmio slots hold other devices than when saved")
            transport.restore(slot_state)
        device_set.pci.restore(state["pci"])
        device_set.plic.restore(state["plic"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise SnapshotError(f"the device state does not fit this machine ({_describe(error)})") from None


def _describe(error):
    if isinstance(error, KeyError):
        return f"no {error.args[0]!r}"
    return str(error)


def save_machine(machine, path, base=None):
    """Write the machine's snapshot to `path` (see the module docstring)."""
    if machine.closed:
        raise RuntimeError("the machine is closed")
    meta, state = machine_state(machine)
    pages = nonzero_pages(machine.core.ram_buffer)
    return write_snapshot(path, meta, state, machine.ram_base, machine.ram_size, pages, base,
                          KIND_MACHINE)


def machine_state(machine):
    """(meta, state) of the machine without its RAM: what a snapshot's META
    and STAT sections hold, and what a migration's configuration and final
    state carry."""
    machine.boot()
    meta = {"kind": KIND_MACHINE, "options": machine_options(machine)}
    state = {
        "harts": [core.export_state() for core in machine.cores],
        "schedule": machine.harts.snapshot(),
        "devices": device_states(machine.device_set),
        "board": {
            "dtb_addr": machine.dtb_addr,
            "fw_dynamic_info_addr": machine.fw_dynamic_info_addr,
            "initrd_range": machine.initrd_range,
            "symbols": dict(sorted(machine.symbols.items())),
            "sbi": machine.sbi.state() if machine.sbi is not None else None,
            "htif": machine.htif.state() if machine.htif is not None else None,
            "console_input": machine.input.unread(),
            "rx_next": machine._rx_next,
            "next_between": machine._next_between,
            "exit_counts": dict(sorted(machine.exit_counts.items())),
            "mmio_faults": machine.mmio_faults,
            "stalled_exits": machine.stalled_exits,
        },
    }
    return meta, state


def restore_machine(path, **host):
    """A new Machine in the state `path` holds. `host` may give console,
    stdin, trace and trace_out; the options that shape the machine come
    from the file."""
    from pyvmm.machine.devices import DeviceConfig
    from pyvmm.machine.machine import Machine

    meta, state, ram_base, ram_size, pages = read_chain(path, KIND_MACHINE)
    return machine_from_image(meta, state, ram_base, ram_size, pages, path, **host)


def machine_from_image(meta, state, ram_base, ram_size, pages, path, **host):
    """A new Machine from META's options, STAT's state and the RAM pages
    ({index: bytes}); `path` names where they came from in errors."""
    from pyvmm.machine.devices import DeviceConfig
    from pyvmm.machine.machine import Machine

    try:
        options = meta["options"]
        devices = DeviceConfig(drives=list(options["devices"]["drives"]),
                               devices=list(options["devices"]["devices"]),
                               netdevs=list(options["devices"]["netdevs"]),
                               virtio_legacy=bool(options["devices"]["virtio_legacy"]),
                               iommu=_iommu_option(options["devices"]))
        kwargs = dict(ram_size=options["ram_size"], smp=options["smp"], hartid=options["hartid"],
                      bios="builtin" if options["bios"] == "builtin" else "none",
                      bootargs=options["bootargs"], htif=options["htif"],
                      realtime=options["realtime"], devices=devices)
        bios = options["bios"]
    except (KeyError, TypeError) as error:
        raise SnapshotError(f"{path}: corrupt snapshot (options: {_describe(error)})") from None
    if ram_size != kwargs["ram_size"]:
        raise SnapshotError(f"{path}: corrupt snapshot (RAM of {ram_size} bytes, options say "
                            f"{kwargs['ram_size']})")
    from pyvmm.io.options import OptionError
    try:
        machine = Machine(**kwargs, **host)
    except (ValueError, OptionError) as error:
        raise SnapshotError(f"{path}: cannot rebuild the machine ({error})") from None
    try:
        if ram_base != machine.ram_base:
            raise SnapshotError(f"{path}: RAM at {ram_base:#x}, this board's is at {machine.ram_base:#x}")
        apply_machine_state(machine, bios, state, pages, path)
    except BaseException:
        machine.close()     # a half-restored machine must not outlive the error (or Ctrl-C)
        raise
    return machine


def apply_machine_state(machine, bios, state, pages, path):
    from pyvmm._core import HartStateError

    try:
        harts = state["harts"]
        board = state["board"]
        if len(harts) != len(machine.cores):
            raise SnapshotError(f"{path}: {len(harts)} harts saved, the machine has {len(machine.cores)}")
        machine.bios = bios
        # machine_from_image's machine is new: its RAM is all zeros
        write_pages(machine.core.ram_buffer, pages, fresh=True)
        machine.harts.restore(state["schedule"])
        restore_devices(machine.device_set, state["devices"])
        # the harts' external-interrupt bits come back with their own state
        machine._irq_lines = machine.plic.outputs
        for core, hart in zip(machine.cores, harts):
            core.import_state(hart)
        machine.dtb_addr = board["dtb_addr"]
        machine.fw_dynamic_info_addr = board["fw_dynamic_info_addr"]
        machine.initrd_range = tuple(board["initrd_range"]) if board["initrd_range"] else None
        machine.symbols = dict(board["symbols"])
        if board["sbi"] is not None:
            from pyvmm.machine.sbi import BuiltinSBI
            machine.sbi = BuiltinSBI(machine, machine.harts)
            machine.sbi.restore(board["sbi"])
        if board["htif"] is not None:
            from pyvmm.machine.htif import Htif
            htif = board["htif"]
            machine.htif = Htif(machine, htif["tohost"], htif["fromhost"])
            machine.htif.restore(htif)
            machine._htif_range = (htif["tohost"], htif["tohost"] + 8)
        machine.input.push_front(bytes(board["console_input"]))
        machine._rx_next = int(board["rx_next"])
        machine._next_between = int(board["next_between"])
        machine.exit_counts.update(board["exit_counts"])
        machine.mmio_faults = int(board["mmio_faults"])
        machine.stalled_exits = int(board["stalled_exits"])
    except HartStateError as error:
        raise SnapshotError(f"{path}: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotError(f"{path}: corrupt snapshot ({_describe(error)})") from None
    machine.booted = True


def write_pages(buffer, pages, fresh=False):
    """Fill RAM from a snapshot image: every page it names, zeros elsewhere
    (`fresh`: RAM is all zeros already, so reading it all is skipped)."""
    view = memoryview(buffer).cast("B")
    npages = len(view) // PAGE_SIZE
    if any(index >= npages for index in pages):
        raise SnapshotError("a RAM page outside the machine's RAM")
    zero = bytes(PAGE_SIZE)
    for index, _ in ([] if fresh else nonzero_pages(view)):
        if index not in pages:
            view[index * PAGE_SIZE:(index + 1) * PAGE_SIZE] = zero
    for index, data in pages.items():
        view[index * PAGE_SIZE:(index + 1) * PAGE_SIZE] = data

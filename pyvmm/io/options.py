"""QEMU-spelled device options (--drive, --device, --netdev) parsed into
specs, and the builder that turns specs into virtio devices on their
transports.

Options are QEMU's `key=value,key=value` lists (",," is a literal comma); a
--device or --netdev starts with its driver or type. Every mistake is an
OptionError whose one-line message names the bad part.

Placement follows QEMU 7.2's riscv `virt` board: a virtio-mmio device without
`bus=` takes the free slot with the highest address first (slot 7, then 6,
...), `bus=virtio-mmio-bus.N` takes slot N, and `--drive` with if=virtio (the
default) adds a virtio-blk after the --device devices. That last one is
pyvmm's choice: QEMU would put an if=virtio drive on PCI; pyvmm puts it on
virtio-mmio, where every Linux guest of the virt board finds it.
"""

import re
from dataclasses import dataclass, field

VIRTIO_MMIO_SLOTS = 8


class OptionError(ValueError):
    """A device option pyvmm cannot honour; the message is one line."""


@dataclass
class DriveSpec:
    file: str
    format: str = "raw"
    readonly: bool = False
    snapshot: bool = False
    interface: str = "virtio"
    id: str = ""
    serial: str = ""


@dataclass
class DeviceSpec:
    driver: str
    properties: dict = field(default_factory=dict)

    @property
    def transport(self):
        return "pci" if self.driver.endswith("-pci") or self.driver in PCI_DEVICES else "mmio"


@dataclass
class NetdevSpec:
    """`kind` is "hub", "socket" or "echo"; a socket has exactly one of `listen` and
    `connect` ("127.0.0.1:PORT")."""
    kind: str
    id: str
    listen: str = None
    connect: str = None
    queues: int = 1


def split_option(text, what):
    """'a,b=c,,d' -> [('a', None), ('b', 'c,d')]."""
    if not text:
        raise OptionError(f"{what}: empty option")
    parts, current, i = [], [], 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1:i + 2] == ",":
                current.append(",")
                i += 2
                continue
            parts.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    parts.append("".join(current))
    items = []
    for part in parts:
        if not part:
            raise OptionError(f"{what} {text!r}: empty item")
        key, sep, value = part.partition("=")
        items.append((key, value if sep else None))
    return items


def _properties(items, what, allowed):
    props = {}
    for key, value in items:
        if value is None:
            raise OptionError(f"{what}: {key!r} needs a value ({key}=...)")
        if key not in allowed:
            raise OptionError(f"{what}: unknown property {key!r}")
        if key in props:
            raise OptionError(f"{what}: {key!r} given twice")
        props[key] = value
    return props


def _on_off(value, what, key):
    if value in ("on", "yes", "true"):
        return True
    if value in ("off", "no", "false"):
        return False
    raise OptionError(f"{what}: {key}={value!r} must be on or off")


_DRIVE_KEYS = {"file", "format", "readonly", "snapshot", "if", "id", "serial"}


def parse_drive(text):
    what = f"--drive {text}"
    props = _properties(split_option(text, "--drive"), what, _DRIVE_KEYS)
    if "file" not in props or not props["file"]:
        raise OptionError(f"{what}: file= is required")
    fmt = props.get("format", "raw")
    if fmt != "raw":
        raise OptionError(f"{what}: format={fmt!r}: only raw images are supported")
    interface = props.get("if", "virtio")
    if interface not in ("virtio", "none"):
        raise OptionError(f"{what}: if={interface!r}: pyvmm offers if=virtio and if=none")
    return DriveSpec(file=props["file"], format=fmt,
                     readonly=_on_off(props.get("readonly", "off"), what, "readonly"),
                     snapshot=_on_off(props.get("snapshot", "off"), what, "snapshot"),
                     interface=interface, id=props.get("id", ""), serial=props.get("serial", ""))


# Devices pyvmm knows and the properties each takes.
DEVICE_PROPERTIES = {
    "virtio-blk-device": {"drive", "bus", "id", "serial"},
    "virtio-blk-pci": {"drive", "id", "serial"},
    "virtio-rng-device": {"bus", "id"},
    "virtio-rng-pci": {"id"},
    "virtio-serial-device": {"bus", "id"},
    "virtio-console-device": {"bus", "id"},
    "virtconsole": {"id", "chardev", "name"},
    "virtio-net-device": {"netdev", "mac", "bus", "id", "mq"},
    "virtio-net-pci": {"netdev", "mac", "id", "mq"},
    "virtio-balloon-device": {"bus", "id"},
    "virtio-balloon-pci": {"id"},
    "nvme": {"drive", "serial", "id", "sriov_max_vfs"},
    "pyvmm-nic": {"netdev", "mac", "queues", "id", "sriov_max_vfs"},
}
# Devices that are PCI functions of their own (not virtio on a transport).
PCI_DEVICES = {"nvme", "pyvmm-nic"}


def parse_device(text):
    items = split_option(text, "--device")
    driver, value = items[0]
    if value is not None:
        raise OptionError(f"--device {text}: the device name comes first (e.g. virtio-rng-device)")
    if driver not in DEVICE_PROPERTIES:
        raise OptionError(f"--device {text}: unknown device {driver!r} "
                          f"(known: {', '.join(sorted(DEVICE_PROPERTIES))})")
    what = f"--device {text}"
    props = _properties(items[1:], what, DEVICE_PROPERTIES[driver])
    for required in {"virtio-blk-device": "drive", "virtio-blk-pci": "drive",
                     "virtio-net-device": "netdev", "virtio-net-pci": "netdev",
                     "nvme": "drive serial", "pyvmm-nic": "netdev"}.get(driver, "").split():
        if required not in props:
            raise OptionError(f"{what}: {required}= is required")
    if "bus" in props:
        _slot_of_bus(props["bus"], what)
    if "mq" in props:
        _on_off(props["mq"], what, "mq")
    if "queues" in props:
        _queue_count(props["queues"], what)
    return DeviceSpec(driver, props)


MAX_QUEUE_PAIRS = 8


def _queue_count(text, what):
    """A queues= value: 1..MAX_QUEUE_PAIRS queue pairs."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_QUEUE_PAIRS:
        raise OptionError(f"{what}: queues={text!r} is not a number from 1 to {MAX_QUEUE_PAIRS}")
    return int(text)


def _sriov_max_vfs(device):
    """QEMU's nvme property (pyvmm-nic's too): the VFs the controller can
    enable (0: no SR-IOV)."""
    from pyvmm.io.pci.sriov import MAX_TOTAL_VFS
    text = device.properties.get("sriov_max_vfs", "0")
    if not text.isdigit() or int(text) > MAX_TOTAL_VFS:
        raise OptionError(f"--device {device.driver}: sriov_max_vfs={text!r} is not 0..{MAX_TOTAL_VFS}")
    return int(text)


def _slot_of_bus(bus, what):
    match = re.fullmatch(r"virtio-mmio-bus\.(\d+)", bus)
    if not match or int(match.group(1)) >= VIRTIO_MMIO_SLOTS:
        raise OptionError(f"{what}: bus={bus!r} is not virtio-mmio-bus.0 to "
                          f"virtio-mmio-bus.{VIRTIO_MMIO_SLOTS - 1}")
    return int(match.group(1))


def parse_netdev(text):
    items = split_option(text, "--netdev")
    kind, value = items[0]
    what = f"--netdev {text}"
    if value is not None:
        raise OptionError(f"{what}: the netdev type comes first (hub, socket or echo)")
    if kind in ("hub", "echo"):
        props = _properties(items[1:], what, {"id", "queues"})
    elif kind == "socket":
        props = _properties(items[1:], what, {"id", "listen", "connect", "queues"})
        if ("listen" in props) == ("connect" in props):
            raise OptionError(f"{what}: a socket netdev takes exactly one of listen= and connect=")
    else:
        raise OptionError(f"{what}: unknown netdev type {kind!r} (hub, socket or echo)")
    if not props.get("id"):
        raise OptionError(f"{what}: id= is required")
    queues = _queue_count(props["queues"], what) if "queues" in props else 1
    return NetdevSpec(kind, props["id"], props.get("listen"), props.get("connect"), queues)


def _parsed(items, parser, spec_type):
    return [item if isinstance(item, spec_type) else parser(item) for item in items]


class _Slots:
    """virtio-mmio slot allocation as QEMU's virt board does it."""

    def __init__(self):
        self.taken = [False] * VIRTIO_MMIO_SLOTS

    def take(self, bus, what):
        if bus is not None:
            slot = _slot_of_bus(bus, what)
            if self.taken[slot]:
                raise OptionError(f"{what}: bus {bus} already holds a device")
        else:
            free = [s for s in range(VIRTIO_MMIO_SLOTS) if not self.taken[s]]
            if not free:
                raise OptionError(f"{what}: all {VIRTIO_MMIO_SLOTS} virtio-mmio slots are in use")
            slot = free[-1]
        self.taken[slot] = True
        return slot


def plan_devices(drive_specs, device_specs, netdev_specs):
    """Check the specs against each other and place them: a list of
    (kind, spec, extra, transport, slot) where kind is "blk", "rng",
    "console", "net", "balloon" or "nvme" and `extra` is the drive or netdev spec it uses."""
    drives = _parsed(drive_specs, parse_drive, DriveSpec)
    devices = _parsed(device_specs, parse_device, DeviceSpec)
    netdevs = _parsed(netdev_specs, parse_netdev, NetdevSpec)

    drive_ids, auto = {}, 0
    for drive in drives:
        if not drive.id:
            drive.id = f"virtio{auto}" if drive.interface == "virtio" else f"none{auto}"
            auto += 1
        if drive.id in drive_ids:
            raise OptionError(f"--drive {drive.file}: drive id {drive.id!r} is given twice")
        drive_ids[drive.id] = drive
    netdev_ids = {}
    for netdev in netdevs:
        if netdev.id in netdev_ids:
            raise OptionError(f"--netdev {netdev.kind},id={netdev.id}: id given twice")
        netdev_ids[netdev.id] = netdev

    slots = _Slots()
    used_drives, used_netdevs = set(), set()
    plan = []
    serial_device = None
    for device in devices:
        props = device.properties
        what = f"--device {device.driver}"
        if device.driver == "virtconsole":
            if serial_device is None:
                raise OptionError(f"{what}: needs a virtio-serial-device before it")
            if serial_device[2]:
                raise OptionError(f"{what}: pyvmm's virtio-serial has one port, already taken")
            serial_device[2] = True
            continue
        transport = device.transport
        slot = slots.take(props.get("bus"), what) if transport == "mmio" else None
        extra = None
        if device.driver.startswith("virtio-blk") or device.driver == "nvme":
            name = props["drive"]
            if name not in drive_ids:
                raise OptionError(f"{what}: drive={name!r} names no --drive")
            if name in used_drives or drive_ids[name].interface == "virtio":
                raise OptionError(f"{what}: drive {name!r} is already in use by another device")
            used_drives.add(name)
            extra = drive_ids[name]
            kind = "nvme" if device.driver == "nvme" else "blk"
        elif device.driver.startswith("virtio-net") or device.driver == "pyvmm-nic":
            name = props["netdev"]
            if name not in netdev_ids:
                raise OptionError(f"{what}: netdev={name!r} names no --netdev")
            if name in used_netdevs:
                raise OptionError(f"{what}: netdev {name!r} is already in use by another device")
            used_netdevs.add(name)
            extra = netdev_ids[name]
            kind = "nic" if device.driver == "pyvmm-nic" else "net"
        elif device.driver.startswith("virtio-rng"):
            kind = "rng"
        elif device.driver.startswith("virtio-balloon"):
            if any(planned[0] == "balloon" for planned in plan):
                raise OptionError(f"{what}: only one balloon device is supported")
            kind = "balloon"
        else:
            kind = "console"
            if serial_device is not None:
                raise OptionError(f"{what}: pyvmm has one console device")
            # [spec, slot, port taken]; virtio-console-device is the short form with its port.
            serial_device = [device, slot, device.driver == "virtio-console-device"]
        plan.append((kind, device, extra, transport, slot))
    for drive in drives:
        if drive.interface == "virtio":
            plan.append(("blk", DeviceSpec("virtio-blk-device", {"drive": drive.id}), drive,
                         "mmio", slots.take(None, f"--drive file={drive.file}")))
        elif drive.id not in used_drives:
            raise OptionError(f"--drive file={drive.file},if=none: no --device uses drive {drive.id!r}")
    return plan


def build_devices(drive_specs, device_specs, netdev_specs, realtime=False,
                  console_out=None, console_in=None, ram_size=None):
    """The devices the options ask for: a list of (device, transport, slot)
    with transport "mmio" (a VirtioDevice, slot 0-7), "pci" (a VirtioDevice
    for virtio-pci, slot None) or "pci-function" (a PciFunction of its own,
    such as an NVMe controller; slot None).
    `ram_size` is the guest RAM a balloon's target is measured against.
    Specs may be given as option strings or as parsed specs. A device's
    module loads only when a device of its kind is asked for."""
    plan = plan_devices(drive_specs, device_specs, netdev_specs)
    built = []
    try:
        for kind, device, extra, transport, slot in plan:
            if kind == "blk":
                from pyvmm.io.virtio.blk import VirtioBlk
                serial = device.properties.get("serial") or extra.serial
                made = VirtioBlk(extra.file, readonly=extra.readonly, snapshot=extra.snapshot,
                                 serial=serial)
            elif kind == "nvme":
                from pyvmm.io.pci.nvme import NvmeController
                made = NvmeController(extra.file, device.properties["serial"],
                                      readonly=extra.readonly, snapshot=extra.snapshot,
                                      sriov_max_vfs=_sriov_max_vfs(device))
                transport = "pci-function"
            elif kind == "rng":
                from pyvmm.io.virtio.rng import VirtioRng
                made = VirtioRng(realtime=realtime)
            elif kind == "balloon":
                from pyvmm.io.virtio.balloon import VirtioBalloon
                if ram_size is None:
                    raise OptionError(f"--device {device.driver}: this machine has no RAM size to balloon")
                made = VirtioBalloon(ram_size)
            elif kind == "console":
                from pyvmm.io.virtio.console import VirtioConsole
                if console_out is None:
                    raise OptionError(f"--device {device.driver}: this machine has no console")
                made = VirtioConsole(console_out, console_in)
            elif kind == "nic":
                made = _build_nic(device, extra)
                transport = "pci-function"
            else:
                made = _build_net(device, extra)
            built.append((made, transport, slot))
    except BaseException:
        for made, _, _ in built:
            made.close()
        raise
    return built


def _build_net(device, netdev_spec):
    from pyvmm.io.net import build_netdev
    from pyvmm.io.virtio.net import MacError, VirtioNet, parse_mac

    # As QEMU: the netdev's queues= is the number of queue pairs, offered
    # (VIRTIO_NET_F_MQ) only with mq=on; pyvmm's netdevs are single-queue, so
    # the pairs share the one netdev.
    pairs = netdev_spec.queues if _on_off(device.properties.get("mq", "off"), device.driver, "mq") else 1
    netdev = build_netdev(netdev_spec)
    try:
        if "mac" in device.properties:
            return VirtioNet(netdev, mac=parse_mac(device.properties["mac"]), queue_pairs=pairs)
        return VirtioNet(netdev, queue_pairs=pairs)
    except MacError as error:
        netdev.close()
        raise OptionError(f"--device {device.driver}: {error}") from None


def _build_nic(device, netdev_spec):
    """pyvmm-nic: queues= on the device (else the netdev's queues=) ring pairs."""
    from pyvmm.io.net import build_netdev
    from pyvmm.io.pci.nic import NicController
    from pyvmm.io.virtio.net import MacError, parse_mac

    props = device.properties
    queues = _queue_count(props["queues"], device.driver) if "queues" in props else netdev_spec.queues
    vfs = _sriov_max_vfs(device)
    netdev = build_netdev(netdev_spec)
    try:
        if "mac" in props:
            return NicController(netdev, queues=queues, mac=parse_mac(props["mac"]), sriov_max_vfs=vfs)
        return NicController(netdev, queues=queues, sriov_max_vfs=vfs)
    except MacError as error:
        netdev.close()
        raise OptionError(f"--device {device.driver}: {error}") from None

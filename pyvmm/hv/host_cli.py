"""`pyvmm host`: several VMs at once on one host, its harts shared among them
by a scheduling policy, or dedicated to a partition (docs/scheduling.md).

    pyvmm host --harts 2 --scheduler credit --max-insns 200M --stats \\
        --vm guests/sched/spin.S,vcpus=2,weight=512 \\
        --vm guests/sched/ticker.S,name=ticker,cap=50 \\
        --vm guests/smp/smp_tour.S,vcpus=1,partition=1

--vm IMAGE[,KEY=VALUE...] with xl's names where xl has one:
    name=NAME        the VM's name (default vm1, vm2, ... in --vm order)
    vcpus=N          VCPUs (1..8; several need technique hw, nested paging)
    memory=SIZE      guest RAM: MiB as a bare number (xl's unit), or 64M, 1G (default 64)
    technique=NAME   hw (default), trap-emulate, bt or pv; paging=nested|shadow
    weight=W         the credit scheduler's weight (1..65535, default 256)
    cap=C            at most C percent of one hart (0: no cap, the default)
    partition=A[-B]  dedicated host harts A..B, one per VCPU (type-0 partition)
    service=nvme     a service VM: the host's NVMe controller (--drive/--device
                     nvme) is assigned to it, and it serves block rings
    service=nic      a service VM: the host's pyvmm-nic (--netdev/--device
                     pyvmm-nic) is assigned to it, and it serves network rings
    backend=NAME     a frontend of the service VM NAME (given before it): the
                     grant and event-channel hypercalls, no disk of its own
                     (docs/service-vm.md)
    io=MODEL:DEVICE  how the VM gets its device (docs/io-models.md):
                     passthrough:ID (the host --device id=ID assigned),
                     vf:ID.N (VF N of an SR-IOV --device), direct:nvme or
                     split:virtio-blk (emulated, backed by drive=FILE)
    pci=ID[.N]       xl's spelling of io=passthrough:ID (io=vf:ID.N with .N)
    drive=FILE       the disk image of a direct: or split: device
    bar=ADDR         where an assigned function's BAR 0 sits in the VM

--model type0|type1|type2 names a classic hypervisor configuration and
refuses what it forbids: type0 partitions with assigned devices only, type1
a service VM serving frontends, type2 hosted (--stats adds the host-OS round
trip of every I/O exit as modeled cycles).

Each VM's console goes to stdout a line at a time, prefixed with "[NAME] ",
or raw to DIR/NAME.log with --serial-dir DIR. Exit status: 0 when every VM
exited with status 0, else the status of the first VM (in --vm order) that
did not (124 when --max-insns ran out, 125 idle, 1 for a status above
255); 2 for bad usage or an image that cannot be loaded; 130/143 on
Ctrl-C/SIGTERM.
"""

import os
import sys

from pyvmm.machine.layout import EXIT_USAGE

HOST_OVERHEAD = 32 << 20          # G-stage and shadow tables, pagers' frames
DEFAULT_MEMORY = 64 << 20
VM_KEYS = ("name", "vcpus", "memory", "technique", "paging", "weight", "cap", "partition", "service",
           "backend", "io", "pci", "drive", "bar")


class UsageError(Exception):
    """A bad `pyvmm host` command line (one line; exit status 2)."""


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "host", help="several VMs on one host: harts, a scheduler, partitions",
        description="Run several VMs on one host of --harts harts, their VCPUs scheduled by "
                    "--scheduler (round-robin or credit: Xen's credit scheduler with weight= and "
                    "cap= per VM) or pinned to a partition's dedicated harts. See "
                    "docs/scheduling.md. Exit status: 0 when every VM exited with 0, else the "
                    "first VM's that did not; 2 bad usage.")
    p.add_argument("--vm", action="append", default=[], metavar="IMAGE[,KEY=VALUE...]",
                   help="a VM: keys name=, vcpus=, memory= (MiB or 64M), technique=, paging=, "
                        "weight= (1..65535), cap= (percent of one hart), partition=A[-B], "
                        "io=MODEL:DEVICE (passthrough:ID, vf:ID.N, direct:nvme, split:virtio-blk), pci=ID[.N], "
                        "drive=FILE, bar=ADDR (repeatable; at least one)")
    p.add_argument("--harts", type=int, default=1, metavar="H", help="host harts, 1..8 (default 1)")
    p.add_argument("--scheduler", default="round-robin", metavar="NAME",
                   help="round-robin (the default) or credit, or another registered policy")
    p.add_argument("--ram", default=None, metavar="SIZE",
                   help="host RAM (default: every VM's memory plus 32M for page tables)")
    p.add_argument("--max-insns", metavar="N",
                   help="stop every VM after N guest instructions in all (5000000 or 5M); status 124")
    p.add_argument("--drive", action="append", default=[], metavar="OPTIONS",
                   help="a host drive (QEMU's -drive, if=none) for a host --device")
    p.add_argument("--device", action="append", default=[], metavar="OPTIONS",
                   help="a host PCI device a service VM owns (nvme,drive=ID,serial=S) or a VM is "
                        "assigned by its id= (io=passthrough:ID, io=vf:ID.N)")
    p.add_argument("--netdev", action="append", default=[], metavar="OPTIONS",
                   help="a host network back-end for a host --device pyvmm-nic")
    p.add_argument("--model", metavar="NAME",
                   help="a named hypervisor configuration: type0 (partitions, assigned devices), "
                        "type1 (a service VM serves the others), type2 (hosted); docs/io-models.md")
    p.add_argument("--serial-dir", metavar="DIR",
                   help="write each VM's console to DIR/NAME.log instead of prefixed lines on stdout")
    p.add_argument("--stats", action="store_true",
                   help="write the host's scheduling report and every VM's counters as JSON to stderr")
    p.add_argument("--stats-file", metavar="FILE", help="write them to FILE instead of stderr")

    def one_line_error(message):
        print(f"pyvmm host: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)

    p.error = one_line_error
    p.set_defaults(func=run_host)


class PrefixedConsole:
    """A VM's console as whole lines, each prefixed with the VM's name."""

    def __init__(self, name, out):
        self.prefix = f"[{name}] ".encode()
        self.out = out
        self.pending = bytearray()

    def write(self, data):
        self.pending += data
        while True:
            end = self.pending.find(b"\n")
            if end < 0:
                break
            self.out.write(self.prefix + bytes(self.pending[:end + 1]))
            del self.pending[:end + 1]

    def flush(self):
        self.out.flush()

    def close(self):
        """The last line, even without its newline."""
        if self.pending:
            self.out.write(self.prefix + bytes(self.pending) + b"\n")
            self.pending.clear()
        self.out.flush()


def _int(value, key, spec):
    try:
        return int(value, 0)
    except ValueError:
        raise UsageError(f"--vm {spec}: {key}={value!r} is not a number") from None


def parse_vm_spec(spec):
    """'IMAGE,key=value,...' -> dict of the VM's settings (validated for form;
    the host checks ranges and says what it cannot give)."""
    from pyvmm.machine.cli import UsageError as SizeError, parse_size
    fields = spec.split(",")
    image = fields[0]
    if not image or "=" in image:
        raise UsageError(f"--vm {spec}: the image comes first (--vm IMAGE,key=value,...)")
    vm = {"image": image, "vcpus": 1, "memory": DEFAULT_MEMORY, "technique": "hw", "paging": None,
          "name": None, "weight": None, "cap": None, "partition": None, "service": None,
          "backend": None, "io": None, "drive": None, "bar": None}
    seen = set()
    for field in fields[1:]:
        key, sep, value = field.partition("=")
        if not sep or not value:
            raise UsageError(f"--vm {spec}: {field!r} is not KEY=VALUE")
        if key not in VM_KEYS:
            raise UsageError(f"--vm {spec}: unknown key {key!r} (known: {', '.join(VM_KEYS)})")
        if key in seen:
            raise UsageError(f"--vm {spec}: {key} given twice")
        seen.add(key)
        if key in ("vcpus", "weight", "cap", "bar"):
            vm[key] = _int(value, key, spec)
        elif key == "memory":
            try:
                vm[key] = parse_size(value)
            except SizeError as e:
                raise UsageError(f"--vm {spec}: memory: {e}") from None
        elif key == "partition":
            first, dash, last = value.partition("-")
            first = _int(first, key, spec)
            last = _int(last, key, spec) if dash else first
            if last < first:
                raise UsageError(f"--vm {spec}: partition={value}: the range runs backwards")
            vm[key] = list(range(first, last + 1))
        elif key in ("io", "pci"):
            if vm["io"] is not None:
                raise UsageError(f"--vm {spec}: one device per VM: io= and pci= both given")
            vm["io"] = _parse_io(value if key == "io" else
                                 ("vf:" if "." in value else "passthrough:") + value, spec)
        else:
            vm[key] = value
    _check_io_keys(vm, spec)
    if vm["partition"] is not None and (vm["weight"] is not None or vm["cap"] is not None):
        raise UsageError(f"--vm {spec}: a partition's harts are its own: weight= and cap= "
                         "do not apply")
    if vm["partition"] is not None and (vm["service"] or vm["backend"]):
        raise UsageError(f"--vm {spec}: a partition cannot be a service VM or a frontend")
    if vm["service"] and vm["backend"]:
        raise UsageError(f"--vm {spec}: a VM is a service VM (service=) or a frontend (backend=), not both")
    if vm["partition"] is not None and "vcpus" not in seen:
        vm["vcpus"] = len(vm["partition"])
    return vm


def _parse_io(value, spec):
    from pyvmm.hv import HvError
    from pyvmm.hv.io_models import parse_io
    try:
        return parse_io(value)
    except HvError as e:
        raise UsageError(f"--vm {spec}: {e}") from None


def _check_io_keys(vm, spec):
    io = vm["io"]
    if io is not None and (vm["service"] or vm["backend"]):
        raise UsageError(f"--vm {spec}: a service VM or frontend gets its device by service=/backend=, "
                         f"not io=")
    emulated = io is not None and not io.assigned
    if emulated and vm["drive"] is None:
        raise UsageError(f"--vm {spec}: io={io} needs drive=FILE (the disk it serves)")
    if vm["drive"] is not None and not emulated:
        raise UsageError(f"--vm {spec}: drive= backs an emulated device (io=direct:nvme or "
                         f"io=split:virtio-blk)")
    if vm["bar"] is not None and (io is None or not io.assigned):
        raise UsageError(f"--vm {spec}: bar= places an assigned function's BAR (io=passthrough: "
                         f"or io=vf:)")


def run_host(args):
    from pyvmm.machine.loader import ImageError
    opened = []
    try:
        return _run(args, opened)
    except UsageError as e:
        print(f"pyvmm host: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ImageError as e:
        print(f"pyvmm host: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        raise           # stdout closed early (| head): pyvmm's main ends quietly
    except OSError as e:
        print(f"pyvmm host: error: {e.filename}: {e.strerror}" if e.filename else
              f"pyvmm host: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        for f in opened:
            f.close()


def _run(args, opened):
    from pyvmm.hv import Host, HvError
    from pyvmm.machine.cli import UsageError as CliUsageError, parse_count, parse_size
    from pyvmm.machine.run_control import run_stopped, stats_destination, write_stats
    from pyvmm.resources import resolve_image

    if not args.vm:
        raise UsageError("give at least one --vm IMAGE[,key=value...]")
    specs = [parse_vm_spec(spec) for spec in args.vm]
    for index, spec in enumerate(specs, 1):
        spec["name"] = spec["name"] or f"vm{index}"
    names = [spec["name"] for spec in specs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UsageError(f"two VMs are named {twice[0]} (name= tells them apart)")
    try:
        max_insns = parse_count(args.max_insns, "instruction count") if args.max_insns is not None else None
        ram = parse_size(args.ram) if args.ram is not None else None
    except CliUsageError as e:
        raise UsageError(str(e)) from None
    apply_hypervisor_model(args, specs)
    if max_insns is not None and max_insns < 0:
        raise UsageError("--max-insns must not be negative")
    if ram is None:
        ram = sum(spec["memory"] for spec in specs) + HOST_OVERHEAD
    weighted = [spec["name"] for spec in specs if spec["weight"] is not None or spec["cap"] is not None]
    if weighted:
        from pyvmm.hv.sched_policy import scheduler_policy
        try:
            honoured = scheduler_policy(args.scheduler).weighted
        except HvError as e:
            raise UsageError(str(e)) from None
        if not honoured:
            raise UsageError(f"{weighted[0]}: weight= and cap= need a weighted scheduler "
                             f"(--scheduler credit), not {args.scheduler}")
    if args.serial_dir is not None and not os.path.isdir(args.serial_dir):
        raise UsageError(f"--serial-dir {args.serial_dir}: not a directory")
    try:
        host = Host(ram_size=ram, harts=args.harts, scheduler=args.scheduler)
    except HvError as e:
        raise UsageError(str(e)) from None
    except MemoryError:
        raise UsageError(f"cannot allocate {ram} bytes of host RAM") from None
    vms, consoles = [], []
    split, controllers, named = host_devices(host, args, specs, opened)
    try:
        for index, spec in enumerate(specs, 1):
            name = spec["name"]
            if args.serial_dir is not None:
                console = open(os.path.join(args.serial_dir, f"{name}.log"), "wb")
                opened.append(console)
            else:
                console = PrefixedConsole(name, sys.stdout.buffer)
                consoles.append(console)
            image = resolve_image(spec["image"])
            paging = spec["paging"] or ("nested" if spec["technique"] == "hw" else "shadow")
            try:
                if spec["service"] or spec["backend"]:
                    vm = split_vm(split, controllers, spec, image, paging, console)
                    vms.append(vm)
                    continue
                devices = emulated_devices(spec)
                if spec["partition"] is not None:
                    vm = host.partition(harts=spec["partition"], ram_size=spec["memory"],
                                        vcpus=spec["vcpus"], technique=spec["technique"],
                                        paging=paging, name=name, console=console, devices=devices)
                else:
                    vm = host.create_vm(ram_size=spec["memory"], paging=paging,
                                        technique=spec["technique"], vcpus=spec["vcpus"],
                                        name=name, console=console, devices=devices)
                    host.set_sched_params(vm, weight=spec["weight"], cap=spec["cap"])
                vms.append(vm)
                assign_device(host, named, spec, vm)
            except HvError as e:
                raise UsageError(f"--vm {args.vm[index - 1]}: {e}") from None
            vm.load(image)

        def run():
            return host.run(max_insns)
        try:
            _, stopped = run_stopped(run)
        except HvError as e:
            print(f"pyvmm host: internal error: {e}", file=sys.stderr)
            return 1
    finally:
        for console in consoles:
            console.close()
        for vm in vms:
            vm.close()
    for vm in vms:
        if vm.error is not None:
            print(f"pyvmm host: {vm.name}: {vm.error}", file=sys.stderr)
    destination = stats_destination(args)
    if destination is not None:
        report = {"host": host.sched_report(), "vms": {vm.name: vm.stats() for vm in vms}}
        if split is not None:
            for vm in vms:
                if vm.vmid in split.interdomain.domains:
                    report["vms"][vm.name]["interdomain"] = split.stats(vm)
        io_report(report, host, specs, vms, args.model)
        write_stats(report, destination, stopped)
    if stopped is not None:
        return stopped[1]
    for vm in vms:
        status = vm.result.status if vm.result is not None else 1
        if status != 0:
            return status if 0 <= status <= 255 else 1
    return 0


def host_devices(host, args, specs, opened):
    """The host's own devices (--drive/--device/--netdev): the ServiceVms
    of the host (None without service VMs), the devices service VMs take
    in --vm order (NVMe controllers, pyvmm-nics), and {id: (function, host device id)} of the devices
    an io=passthrough:/vf: names, made host PCI functions."""
    from pyvmm.io.options import OptionError, build_devices, parse_device
    served = any(spec["service"] or spec["backend"] for spec in specs)
    wanted = {spec["io"].target for spec in specs if spec["io"] is not None and spec["io"].assigned}
    if not served and not wanted:
        if args.device or args.drive or args.netdev:
            raise UsageError("--drive/--device give the host devices for a service VM "
                             "(--vm IMAGE,service=nvme or service=nic) or an assigned device "
                             "(io=passthrough:ID)")
        return None, [], {}
    try:
        parsed = [parse_device(spec) for spec in args.device]
        built = build_devices(args.drive, parsed, args.netdev)
    except OptionError as e:
        raise UsageError(str(e)) from None
    functions = []
    for device, transport, _ in built:
        opened.append(device)
        if transport != "pci-function":
            raise UsageError(f"a host device is a PCI function (nvme, pyvmm-nic), not {device.name}")
        functions.append(device)
    ids = [spec.properties.get("id") for spec in parsed if spec.driver in ("nvme", "pyvmm-nic")]
    known = sorted(i for i in ids if i)
    for name in sorted(wanted):
        if name not in known:
            raise UsageError(f"io: no host --device with id={name}"
                             f"{' (known: ' + ', '.join(known) + ')' if known else ''}")
    from pyvmm.hv import HvError
    from pyvmm.hv.passthrough import Passthrough
    from pyvmm.hv.service_vm import SERVED, ServiceVms
    passthrough = Passthrough.for_host(host) if wanted else None
    named, controllers = {}, []
    for device_name, function in zip(ids, functions):
        if device_name in wanted:
            try:
                named[device_name] = (function, passthrough.add_anywhere(function))
            except HvError as e:
                raise UsageError(str(e)) from None
        else:
            controllers.append(function)
    for spec in specs:
        if spec["service"] and spec["service"] not in SERVED:
            raise UsageError(f"{spec['name']}: unknown service {spec['service']!r} "
                             f"(known: {', '.join(SERVED)})")
    for service, kind in SERVED.items():
        mine = [function for function in controllers if function.name == kind]
        if mine and not served:
            raise UsageError(f"{len(mine)} host --device {kind} no --vm uses "
                             f"(io=passthrough:ID or service={service})")
        services = sum(1 for spec in specs if spec["service"] == service)
        if len(mine) > services:
            raise UsageError(f"{len(mine)} host --device {kind} for {services} service VM(s): "
                             f"each controller needs a --vm IMAGE,service={service}")
    if not served:
        return None, [], named
    return ServiceVms(host, Passthrough.for_host(host)), controllers, named


def apply_hypervisor_model(args, specs):
    """--model: refuse what the named configuration forbids (one line);
    under type0 a VM without partition= gets the next free harts."""
    owners = {}
    for spec in specs:
        io = spec["io"]
        if io is not None and io.assigned:
            device = (io.target, io.vf)
            if device in owners:
                raise UsageError(f"io={io}: one device for two VMs ({owners[device]} and "
                                 f"{spec['name']}); assignment gives a function to one VM")
            owners[device] = spec["name"]
    if args.model is None:
        return
    from pyvmm.hv import HvError
    from pyvmm.hv.io_models import hypervisor_model
    try:
        model = hypervisor_model(args.model)
        model.check_scheduler(args.scheduler if args.scheduler != "round-robin" else None)
        taken = {hart for spec in specs for hart in (spec["partition"] or ())}
        free = (hart for hart in range(1, 1 << 16) if hart not in taken)
        for spec in specs:
            if model.partitions and spec["partition"] is None:
                spec["partition"] = [next(free) for _ in range(spec["vcpus"])]
            role = "service" if spec["service"] else "frontend" if spec["backend"] else None
            model.check_vm(spec["name"], io=spec["io"], partition=spec["partition"], role=role,
                           weighted=spec["weight"] is not None or spec["cap"] is not None)
    except HvError as e:
        raise UsageError(str(e)) from None


def emulated_devices(spec):
    """The DeviceConfig of a VM's io=direct:/split: device (None otherwise)."""
    io = spec["io"]
    if io is None or io.assigned:
        return None
    from pyvmm.machine.devices import DeviceConfig
    if io.model == "direct":
        return DeviceConfig(drives=[f"if=none,id=d0,file={spec['drive']},format=raw"],
                            devices=[f"nvme,drive=d0,serial={spec['name'][:20]}"])
    return DeviceConfig(drives=[f"file={spec['drive']},format=raw"])


def assign_device(host, named, spec, vm):
    """Give the VM its io=passthrough:/vf: host function (HvError if it cannot)."""
    io = spec["io"]
    if io is None or not io.assigned:
        return
    from pyvmm.hv.passthrough import Passthrough, assign_vf
    function, device_id = named[io.target]
    if io.model == "vf":
        spec["assignment"] = assign_vf(host, vm, function, io.vf, bar_gpa=spec["bar"])
    else:
        spec["assignment"] = Passthrough.for_host(host).assign(device_id, vm, bar_gpa=spec["bar"])


def io_report(report, host, specs, vms, model_name):
    """--stats: each VM's I/O model and its counters; under type2 the
    host-OS round trips its I/O exits add, in modeled cycles."""
    from pyvmm.hv.io_models import hosted_cost, hypervisor_model
    model = hypervisor_model(model_name) if model_name is not None else None
    if model is not None:
        report["model"] = {"name": model.name, "description": model.description}
    by_name = {vm.name: vm for vm in vms}
    for spec in specs:
        vm = by_name.get(spec["name"])
        if vm is None:
            continue
        out = report["vms"][vm.name]
        if spec["io"] is not None:
            out["io"] = {"model": spec["io"].model, "device": str(spec["io"]).partition(":")[2]}
            assignment = spec.get("assignment")
            if assignment is not None:
                out["io"]["device_accesses"] = assignment.device_accesses
        if model is not None and model.hosted:
            out["hosted"] = hosted_cost(out)


def split_vm(split, controllers, spec, image, paging, console):
    """A service VM (service=) taking the next host controller, or a frontend (backend=)."""
    from pyvmm.hv import HvError
    from pyvmm.hv.service_vm import SERVED, SERVICES
    options = dict(ram_size=spec["memory"], paging=paging, technique=spec["technique"],
                   vcpus=spec["vcpus"], name=spec["name"], console=console)
    try:
        if spec["service"]:
            if spec["service"] not in SERVICES:
                raise UsageError(f"{spec['name']}: unknown service {spec['service']!r} "
                                 f"(known: {', '.join(SERVICES)})")
            kind = SERVED[spec["service"]]
            mine = [function for function in controllers if function.name == kind]
            if not mine:
                taken = ", ".join(vm.name for vm, assignment in split.services.items()
                                  if assignment.host_function.name == kind)
                what = "nvme controller" if kind == "nvme" else kind
                raise UsageError(f"{spec['name']}: service={spec['service']}: no host {what} "
                                 f"left (--device {kind},...)" +
                                 (f"; assigned to {taken}" if taken else ""))
            controllers.remove(mine[0])
            return split.create_service_vm(image, mine[0], service=spec["service"], **options)
        return split.create_frontend_vm(image, backend=spec["backend"], **options)
    except HvError as e:
        raise UsageError(f"{spec['name']}: {e}") from None

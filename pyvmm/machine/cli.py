"""`pyvmm run`: boot an image on the virt board.

Exit status: 0 when the guest passes (finisher 0x5555, SBI shutdown, HTIF
pass); the guest's failure code (finisher 0x3333 code, HTIF test number);
1 when that code does not fit an exit status (above 255) or the emulator
itself fails; 2 for bad usage, an image that cannot be loaded, a snapshot
file that cannot be restored (--loadvm) or a migration stream refused
(--incoming); 124 when
--max-insns runs out; 125 when the hart waits for an interrupt nothing can
deliver; 130 on Ctrl-C, 143 on SIGTERM (--stats is written in every case).
"""

import contextlib
import os
import re
import sys

from pyvmm.machine.layout import EXIT_USAGE, RAM_BASE, RAM_SIZE_DEFAULT

_SIZE = re.compile(r"^(\d+)([KMGT]?)(i?B)?$", re.IGNORECASE)
_SIZE_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
MAX_RAM = 64 << 30


class UsageError(Exception):
    pass


def parse_size(text):
    """'128M' -> 134217728; suffixes K, M, G, T are binary (QEMU's -m)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise UsageError(f"bad size {text!r} (expected e.g. 128M, 1G, 65536)")
    size = int(match.group(1)) << _SIZE_SHIFT[match.group(2).upper()]
    if match.group(2) == "" and match.group(3) is None and size < (1 << 20):
        # QEMU reads a bare small number as MiB ("-m 256"); so does pyvmm.
        size <<= 20
    return size


_COUNT = re.compile(r"^(\d+)([kKMG])$")
_COUNT_SCALE = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}


def parse_count(text, what):
    """'10M' -> 10_000_000 (decimal suffixes k/K, M, G), else as parse_int."""
    match = _COUNT.match(text.strip())
    if match:
        return int(match.group(1)) * _COUNT_SCALE[match.group(2)]
    return parse_int(text, what)


def parse_int(text, what):
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise UsageError(f"bad {what} {text!r} (expected a number, e.g. 1000000 or 0x80200000)") from None


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "run", help="run an image on the virt board",
        description="Boot IMAGE (ELF, flat binary, or .S/.s assembly) on a QEMU-virt-compatible "
                    "board. With --bios none IMAGE starts in M-mode at its entry; with --bios "
                    "builtin or FILE, IMAGE is the S-mode kernel (like --kernel).",
        epilog="exit status: 0 guest passed (finisher 0x5555, SBI shutdown, HTIF pass); the "
               "guest's failure code (finisher 0x3333|code<<16, HTIF test number); 1 code above "
               "255 or internal error; 2 bad usage, image, snapshot file or migration stream; 124 --max-insns ran out; 125 the hart "
               "idles with nothing to wake it; 126 guest request pyvmm does not serve (HTIF); "
               "130 Ctrl-C; 143 SIGTERM")
    p.add_argument("image", nargs="?", metavar="IMAGE",
                   help="the image to run; a guests/... path that does not exist here names "
                        "the guest of that name shipped with pyvmm")
    p.add_argument("--bios", default="none", metavar="none|builtin|FILE",
                   help="firmware: none (IMAGE runs in M-mode, the default), builtin (pyvmm's "
                        "SBI in Python), or a firmware file loaded at the RAM base (e.g. OpenSBI "
                        "fw_jump.bin)")
    p.add_argument("--kernel", metavar="FILE",
                   help="S-mode payload; flat images load at RAM base + 2 MiB")
    p.add_argument("--ram", default=None, metavar="SIZE",
                   help=f"RAM size, e.g. 128M or 1G (default {RAM_SIZE_DEFAULT >> 20}M)")
    p.add_argument("--load-addr", metavar="ADDR",
                   help=f"where a flat IMAGE (or .text of a .S) goes (default {RAM_BASE:#x}, "
                        "or RAM base + 2 MiB for a kernel)")
    p.add_argument("--max-insns", metavar="N",
                   help="stop after N instructions (e.g. 5000000 or 5M) with exit status 124")
    p.add_argument("--savevm", metavar="FILE",
                   help="when --max-insns runs out, write a snapshot of the board (or, with --technique, of the VM) to FILE (docs/snapshots.md); the exit status stays 124")
    p.add_argument("--savevm-base", metavar="FILE",
                   help="with --savevm: an incremental snapshot holding only the RAM pages that "
                        "differ from the earlier snapshot FILE")
    p.add_argument("--loadvm", metavar="FILE",
                   help="continue the machine or VM saved in FILE (a VM under its technique, "
                        "on a new host); the options that shape it "
                        "(IMAGE, --ram, --smp, --bios, --technique, --drive, ...) come from the file. "
                        "A file that is not an intact snapshot of this version: exit status 2")
    p.add_argument("--stats", action="store_true",
                   help="write run counters as JSON to stderr when the run ends (also on "
                        "--max-insns, Ctrl-C and SIGTERM)")
    p.add_argument("--stats-file", metavar="FILE",
                   help="write run counters as JSON to FILE instead of stderr")
    p.add_argument("--trace", metavar="CLASSES",
                   help="log in_asm, int, exec, cpu, mmu, exit, guest_errors and/or unimp "
                        "(comma-separated), like QEMU -d; with --technique: exit, guest_errors")
    p.add_argument("--trace-file", metavar="FILE",
                   help="write the trace to FILE (default: stderr), like QEMU -D")
    p.add_argument("--trace-filter", metavar="RANGES",
                   help="keep in_asm, exec, cpu and mmu output to these address ranges, like "
                        "QEMU -dfilter: START+SIZE, START..END or END-SIZE, comma-separated")
    p.add_argument("--realtime", action="store_true",
                   help="mtime follows the host clock instead of retired instructions")
    p.add_argument("--htif", choices=("on", "off", "auto"), default="auto",
                   help="HTIF tohost/fromhost console and exit (auto: when the image defines tohost)")
    p.add_argument("--bootargs", "--append", dest="bootargs", default="", metavar="STR",
                   help="kernel command line (/chosen/bootargs); --append is QEMU's name for it")
    p.add_argument("--initrd", metavar="FILE",
                   help="initial ramdisk, placed as QEMU places it (min(RAM/2, 128M) above the "
                        "kernel) and named in /chosen (linux,initrd-start/-end)")
    p.add_argument("--dtb", metavar="FILE",
                   help="give the guest this device tree blob instead of the generated one "
                        "(/chosen still gets --append and --initrd)")
    p.add_argument("--dumpdtb", metavar="FILE",
                   help="write the device tree the guest would get to FILE and exit")
    p.add_argument("--drive", action="append", default=[], metavar="SPEC",
                   help="a disk: file=PATH[,format=raw][,readonly=on][,snapshot=on]"
                        "[,if=virtio|none][,id=ID][,serial=STR]; if=virtio (the default) adds a "
                        "virtio-blk on the virtio-mmio bus (repeatable)")
    p.add_argument("--device", action="append", default=[], metavar="SPEC",
                   help="a device: virtio-blk-device|virtio-blk-pci,drive=ID; virtio-net-device|"
                        "virtio-net-pci,netdev=ID[,mac=MAC][,mq=on]; virtio-rng-device|virtio-rng-pci; "
                        "virtio-balloon-device|virtio-balloon-pci; virtio-console-device; "
                        "nvme,drive=ID,serial=STR; pyvmm-nic,netdev=ID[,queues=N][,mac=MAC] "
                        "(repeatable; see docs/devices.md, docs/pci.md, docs/network.md)")
    p.add_argument("--netdev", action="append", default=[], metavar="SPEC",
                   help="a network back-end: hub,id=ID | socket,id=ID,listen=127.0.0.1:PORT | "
                        "socket,id=ID,connect=127.0.0.1:PORT; each takes queues=N, the queue pairs "
                        "of the NIC on it (repeatable)")
    p.add_argument("--virtio-legacy", action="store_true",
                   help="virtio-mmio version 1 (legacy) transports, for old drivers")
    p.add_argument("--serial", metavar="FILE", help="write UART output to FILE instead of stdout")
    p.add_argument("--technique", default="native", metavar="NAME",
                   help="native (the kernel on the board, the default), or the kernel in a VM "
                        "of pyvmm.hv (IMAGE is the S-mode kernel): hw (the H extension), "
                        "trap-emulate (de-privileged, privileged instructions trapped and "
                        "emulated), bt (binary translation) or pv (the paravirtual kernel build)")
    p.add_argument("--paging", default=None, metavar="nested|shadow",
                   help="with a --technique other than native: G-stage tables (nested, hw's "
                        "default) or shadow tables (shadow, the others' default; trap-emulate "
                        "and bt take shadow only)")
    p.add_argument("--smp", type=int, default=1, metavar="N",
                   help="harts (1..8): they take turns in fixed instruction quanta, "
                        "so runs stay deterministic")
    p.add_argument("--cpu-profile", default="standard", choices=("standard", "classic"),
                   help="classic: U-mode reads of sstatus/satp and writes of sstatus do not trap "
                        "(x86 before VT-x); see `pyvmm analyze`")
    p.add_argument("--monitor", metavar="stdio|tcp:HOST:PORT",
                   help="QEMU's monitor: on the console (Ctrl-a c switches to it and back) or "
                        "on a TCP port; Ctrl-a x quits (see docs/monitor.md)")
    p.add_argument("--gdb", metavar="tcp:HOST:PORT",
                   help="a GDB remote stub on this address (see docs/debug.md)")
    p.add_argument("-s", dest="gdb_default", action="store_true",
                   help="shorthand for --gdb tcp:127.0.0.1:1234")
    p.add_argument("-S", dest="gdb_wait", action="store_true",
                   help="with a GDB stub: wait for the debugger before the first instruction")
    p.add_argument("--balloon-target", action="append", default=[], metavar="SIZE@INSNS",
                   help="ask the virtio-balloon to leave the guest SIZE of RAM (a bare number "
                        "is MiB, as the monitor's `balloon`) once INSNS instructions have "
                        "retired (repeatable; see docs/devices.md)")
    p.add_argument("--migrate", metavar="tcp:HOST:PORT",
                   help="after --migrate-at instructions, migrate the running machine (or, with "
                        "--technique, the VM) live to a "
                        "`pyvmm run --incoming` there (docs/migration.md); exit 0 once it runs "
                        "there, or run on here if the migration fails")
    p.add_argument("--migrate-at", metavar="N",
                   help="with --migrate: instructions to run before migrating (e.g. 5M)")
    p.add_argument("--incoming", metavar="tcp:HOST:PORT",
                   help="wait for a live migration on this address (port 0: any free port, "
                        "printed on stderr), then run the machine or VM it brings; its options "
                        "come from the stream (--ram, --smp, --technique and --paging, if given, "
                        "must match it)")
    p.add_argument("--host-harts", type=int, default=None, metavar="H",
                   help="with a --technique other than native: the host's harts (1..8) the "
                        "VM's VCPUs are scheduled on (docs/scheduling.md)")
    p.add_argument("--scheduler", default=None, metavar="round-robin|credit",
                   help="with a --technique other than native: the host's scheduling policy "
                        "(docs/scheduling.md; --stats reports shares and latencies)")
    p.add_argument("--iommu", choices=("on", "off"), default="off",
                   help="a RISC-V IOMMU in front of every PCI function's DMA, at 0x3010000 with "
                        "its device-tree node (docs/iommu.md; QEMU 7.2 has none for riscv)")
    p.add_argument("--no-jit", dest="jit", action="store_false", default=None,
                   help="run every instruction in the interpreter: no translation of hot code to "
                        "host code (the same as PYVMM_JIT=0; results are the same either way)")
    p.set_defaults(func=run_command)


MAX_SMP = 8                     # pyvmm.machine.harts.MAX_HARTS

# `core.cpu_profile` values (pyvmm.hv.analyze.PROFILES, kept here so `run` imports nothing of hv)
CPU_PROFILES = {"standard": 0, "classic": 1}


def _error(message):
    print(f"pyvmm run: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_command(args):
    from pyvmm.machine.loader import ImageError

    opened = []
    jit_env = os.environ.get("PYVMM_JIT")
    if getattr(args, "jit", None) is False:
        # read by every core made from here on (pyvmm._core.jit_default)
        os.environ["PYVMM_JIT"] = "0"
    try:
        try:
            _check_jit_environment()
            return _run(args, opened)
        except (UsageError, ImageError) as e:
            return _error(str(e))
        except OSError as e:
            return _error(f"{e.filename}: {e.strerror}" if e.filename else str(e))
    finally:
        for f in opened:
            f.close()
        if jit_env is None:
            os.environ.pop("PYVMM_JIT", None)
        else:
            os.environ["PYVMM_JIT"] = jit_env


def _check_jit_environment():
    """PYVMM_JIT and PYVMM_JIT_THRESHOLD, which every core reads, as one
    usage error when they hold something else than they may."""
    try:
        from pyvmm._core import jit_default, jit_threshold_default
    except ImportError:
        return          # no compiled core: the run itself says so
    try:
        jit_default()
        jit_threshold_default()
    except ValueError as e:
        raise UsageError(str(e)) from None


# Options that shape the machine: with --loadvm they come from the snapshot.
_SHAPING = (("image", None), ("kernel", None), ("ram", None), ("load_addr", None), ("bios", "none"),
            ("smp", 1), ("drive", []), ("device", []), ("netdev", []), ("virtio_legacy", False),
            ("initrd", None), ("dtb", None), ("bootargs", ""), ("htif", "auto"), ("realtime", False),
            ("technique", "native"), ("paging", None), ("dumpdtb", None), ("iommu", "off"))


def _check_snapshot_options(args):
    if args.savevm_base is not None and args.savevm is None:
        raise UsageError("--savevm-base needs --savevm")
    if args.savevm is not None and args.max_insns is None:
        raise UsageError("--savevm saves when --max-insns runs out: give --max-insns")
    if args.loadvm is None:
        return
    option = next(_shaping_options_given(args), None)
    if option is not None:
        raise UsageError(f"{option} cannot be used with --loadvm: the snapshot holds the "
                         "machine's options")


def _shaping_options_given(args, checked_elsewhere=()):
    """The shaping options (_SHAPING) given other than at their defaults, as
    spelled on the command line, leaving out those in `checked_elsewhere`."""
    for name, default in _SHAPING:
        if name not in checked_elsewhere and getattr(args, name, default) not in (default, None):
            yield "IMAGE" if name == "image" else "--" + name.replace("_", "-")


def _local_run_options(args):
    """(option, given) for the options that steer a run on this host (a
    monitor, a debugger, a balloon schedule, the host's harts and scheduler):
    neither a migration's source nor its destination takes them."""
    return (("--monitor", args.monitor is not None),
            ("--gdb", args.gdb is not None or args.gdb_default),
            ("--balloon-target", bool(getattr(args, "balloon_target", None))),
            ("--host-harts", getattr(args, "host_harts", None) is not None),
            ("--scheduler", getattr(args, "scheduler", None) is not None))


def _check_migration_options(args):
    if args.migrate is not None:
        for option, given in (("--max-insns", args.max_insns is not None),
                              ("--savevm", args.savevm is not None),
                              ("--loadvm", args.loadvm is not None),
                              ("--incoming", args.incoming is not None),
                              *_local_run_options(args)):
            if given:
                raise UsageError(f"--migrate cannot be used with {option}")
    elif args.migrate_at is not None:
        raise UsageError("--migrate-at needs --migrate")
    if args.incoming is None:
        return
    # --ram, --smp, --technique and --paging are checked against the stream's.
    option = next(_shaping_options_given(args, ("ram", "smp", "technique", "paging")), None)
    if option is not None:
        raise UsageError(f"{option} cannot be used with --incoming: the migration stream "
                         "holds the machine's options")
    for option, given in (("--loadvm", args.loadvm is not None), ("--trace", args.trace is not None),
                          *_local_run_options(args)):
        if given:
            raise UsageError(f"--incoming cannot be used with {option}")


def _run_incoming(args, opened):
    """--incoming: receive a migrated machine and run it."""
    from pyvmm.migration import MigrationError
    from pyvmm.migration.cli import run_incoming
    from pyvmm.migration.transport import parse_address
    try:
        parse_address(args.incoming, "--incoming")
    except ValueError as e:
        raise UsageError(str(e)) from None
    max_insns = parse_count(args.max_insns, "instruction count") if args.max_insns is not None else None
    if max_insns is not None and max_insns < 0:
        raise UsageError("--max-insns must not be negative")
    expected = {}
    if args.ram is not None:
        expected["ram_size"] = parse_size(args.ram)
    if args.smp != 1:
        expected["smp"] = args.smp
    if args.technique != "native":
        expected["technique"] = args.technique
    if args.paging is not None:
        expected["paging"] = args.paging
    console = sys.stdout.buffer
    if args.serial is not None:
        console = open(args.serial, "wb")
        opened.append(console)
    stdin = sys.stdin.buffer if sys.stdin is not None and not sys.stdin.closed else None
    try:
        return run_incoming(args, console, stdin, max_insns, expected)
    except MigrationError as e:
        return _error(f"incoming migration: {e}")


def _run(args, opened):
    _check_snapshot_options(args)
    _check_migration_options(args)
    if args.incoming is not None:
        return _run_incoming(args, opened)
    if args.loadvm is not None:
        return _run_loaded(args, opened)

    from pyvmm.resources import resolve_image
    args.image, args.kernel = resolve_image(args.image), resolve_image(args.kernel)
    ram_size = parse_size(args.ram) if args.ram is not None else RAM_SIZE_DEFAULT
    if ram_size == 0 or ram_size % 4096:
        raise UsageError(f"RAM size must be a positive multiple of 4 KiB, not {ram_size}")
    if ram_size > MAX_RAM:
        raise UsageError(f"RAM size {args.ram} is larger than pyvmm's limit of {MAX_RAM >> 30}G")
    load_addr = parse_int(args.load_addr, "load address") if args.load_addr is not None else None
    max_insns = parse_count(args.max_insns, "instruction count") if args.max_insns is not None else None
    if max_insns is not None and max_insns < 0:
        raise UsageError("--max-insns must not be negative")
    classes = None
    if args.trace is not None:
        from pyvmm.machine.trace import parse_classes
        try:
            classes = parse_classes(args.trace)
        except ValueError as e:
            raise UsageError(str(e)) from None
    elif args.trace_file is not None:
        raise UsageError("--trace-file needs --trace")
    trace_filter = None
    if args.trace_filter is not None:
        if args.trace is None:
            raise UsageError("--trace-filter needs --trace")
        from pyvmm.machine.trace import parse_filter
        try:
            trace_filter = parse_filter(args.trace_filter)
        except ValueError as e:
            raise UsageError(f"--trace-filter: {e}") from None
    if args.image is None and args.kernel is None and args.dumpdtb is None and args.loadvm is None:
        raise UsageError("an IMAGE to run is required")
    if args.bios != "none" and args.image is not None and args.kernel is not None:
        raise UsageError("with a --bios, IMAGE is the kernel: give IMAGE or --kernel, not both")
    if args.bios == "none" and args.image is None and args.technique == "native" \
            and args.dumpdtb is None:
        raise UsageError("--bios none runs IMAGE in M-mode: an IMAGE is required")

    console = sys.stdout.buffer
    if args.serial is not None:
        console = open(args.serial, "wb")
        opened.append(console)
    trace_out = None
    if classes:
        trace_out = sys.stderr
        if args.trace_file is not None:
            trace_out = open(args.trace_file, "w")
            opened.append(trace_out)
    stdin = sys.stdin.buffer if sys.stdin is not None and not sys.stdin.closed else None
    from pyvmm.machine.run_control import Progress
    progress = Progress(None)
    if trace_out is sys.stderr:
        progress.enabled = False        # the trace has stderr
    console = progress.console(console)

    gdb = gdb_spec(args)
    if args.technique != "native":
        from pyvmm.hv.cli_run import run_technique
        return run_technique(args, ram_size=ram_size, load_addr=load_addr, max_insns=max_insns,
                             console=console, stdin=stdin, usage_error=UsageError,
                             trace=classes, trace_out=trace_out, progress=progress)
    if args.paging is not None:
        raise UsageError("--paging applies to --technique hw (or another hypervisor technique)")
    for option, given in (("--host-harts", args.host_harts), ("--scheduler", args.scheduler)):
        if given is not None:
            raise UsageError(f"{option} applies to --technique hw (or another hypervisor technique)")
    if not 1 <= args.smp <= MAX_SMP:
        raise UsageError(f"--smp must be 1..{MAX_SMP}, not {args.smp}")

    from pyvmm.io.options import OptionError
    from pyvmm.machine.machine import Machine, MachineError
    try:
        machine = Machine(ram_size=ram_size, bios=args.bios, kernel=args.kernel, console=console,
                          stdin=stdin, realtime=args.realtime, htif=args.htif,
                          bootargs=args.bootargs, trace=classes, trace_out=trace_out,
                          devices=device_config(args), initrd=args.initrd, dtb=args.dtb,
                          smp=args.smp)
        for core in machine.cores:
            core.cpu_profile = CPU_PROFILES[args.cpu_profile]
        if machine.tracer is not None:
            machine.tracer.filters = trace_filter
    except OptionError as e:
        raise UsageError(str(e)) from None
    except MemoryError:
        raise UsageError(f"cannot allocate {ram_size} bytes of guest RAM") from None
    except ImportError as e:
        print(f"pyvmm run: error: the compiled core is missing ({e}); "
              "build it with `python setup.py build_ext --inplace`", file=sys.stderr)
        return 1
    with machine:
        if args.image is not None:
            machine.load(args.image, load_addr=load_addr)
        elif load_addr is not None:
            raise UsageError("--load-addr applies to IMAGE; --kernel loads at RAM base + 2 MiB")
        if args.dumpdtb is not None:
            machine.place_initrd()
            blob = machine.dtb_blob()
            with open(args.dumpdtb, "wb") as f:
                f.write(blob)
            return 0
        if args.migrate is not None:
            from pyvmm.migration.cli import run_source
            return run_source(machine, args, parse_count, UsageError)
        monitored = None
        if args.monitor is not None:
            from pyvmm.debug.monitor import open_cli_monitor
            monitored = open_cli_monitor(args.monitor, machine, UsageError)
        from pyvmm.machine.run_control import run_stopped
        progress.instret = lambda: machine.harts.now

        stub = None
        if gdb is not None:
            from pyvmm.debug.gdbstub import open_stub
            stub = open_stub(gdb, machine, UsageError)

        schedule = balloon_schedule(machine, args)

        def run():
            with _keys_straight_to_the_guest(stdin), progress:
                if stub is not None:
                    return gdb_result(machine, stub, args.gdb_wait)
                if schedule is not None:
                    return schedule.run(machine.run, lambda: machine.harts.now + machine.stalled_exits,
                                        max_insns)
                return (monitored or machine).run(max_insns)
        try:
            result, stopped = run_stopped(run)
        except MachineError as e:
            print(f"pyvmm run: internal error: {e}", file=sys.stderr)
            return 1
        finally:
            if trace_out is not None:
                trace_out.flush()
        if stopped is None and args.savevm is not None:
            status = save_after_run(machine, result, args)
            if status is not None:
                return status
    from pyvmm.machine.run_control import finish_run
    return finish_run(machine, args, result, stopped)


def save_after_run(target, result, args):
    """--savevm: save the Machine or VM if --max-insns stopped it; None to
    go on, or the exit status of a failed save."""
    from pyvmm.machine.snapfile import SnapshotError
    if result.how != "budget":
        print(f"pyvmm run: the guest stopped ({result.how}) before --max-insns ran out; "
              f"no snapshot written to {args.savevm}", file=sys.stderr)
        return None
    try:
        target.save(args.savevm, base=args.savevm_base)
    except SnapshotError as e:
        return _error(f"--savevm-base: {e}")
    except OSError as e:
        return _error(f"--savevm {args.savevm}: {e.strerror or e}")
    return None


def _run_loaded(args, opened):
    """--loadvm FILE: rebuild the machine or VM the snapshot holds and continue it."""
    from pyvmm.machine.snapfile import SnapshotError
    max_insns = parse_count(args.max_insns, "instruction count") if args.max_insns is not None else None
    if max_insns is not None and max_insns < 0:
        raise UsageError("--max-insns must not be negative")
    if args.trace is not None or args.monitor is not None or gdb_spec(args) is not None:
        raise UsageError("--trace, --monitor and --gdb cannot be used with --loadvm")
    if getattr(args, "balloon_target", None):
        raise UsageError("--balloon-target cannot be used with --loadvm")
    console = sys.stdout.buffer
    if args.serial is not None:
        console = open(args.serial, "wb")
        opened.append(console)
    stdin = sys.stdin.buffer if sys.stdin is not None and not sys.stdin.closed else None
    from pyvmm.machine.run_control import Progress, run_stopped
    progress = Progress(None)
    console = progress.console(console)
    try:
        from pyvmm.hv.snapshot import KIND_VM, snapshot_kind
        if snapshot_kind(args.loadvm) == KIND_VM:
            from pyvmm.hv.cli_run import run_loaded_vm
            return run_loaded_vm(args, max_insns=max_insns, console=console, stdin=stdin,
                                 progress=progress, save_after_run=save_after_run)
        from pyvmm.machine.machine import Machine
        target = Machine.restore(args.loadvm, console=console, stdin=stdin)
        progress.instret = lambda: target.harts.now
    except SnapshotError as e:
        return _error(str(e))
    try:
        def run():
            with _keys_straight_to_the_guest(stdin), progress:
                return target.run(max_insns)
        result, stopped = run_stopped(run)
        if stopped is None and args.savevm is not None:
            status = save_after_run(target, result, args)
            if status is not None:
                return status
    finally:
        target.close()
    from pyvmm.machine.run_control import finish_run
    return finish_run(target, args, result, stopped)


def gdb_spec(args):
    """The --gdb / -s address, or None; -S alone, or a stub with --monitor or
    --max-insns, is a usage error."""
    spec = args.gdb if args.gdb is not None else ("tcp:127.0.0.1:1234" if args.gdb_default else None)
    if spec is None:
        if args.gdb_wait:
            raise UsageError("-S waits for a debugger: give --gdb tcp:HOST:PORT or -s")
        return None
    for option, given in (("--monitor", args.monitor is not None), ("--max-insns", args.max_insns is not None)):
        if given:
            raise UsageError(f"--gdb cannot be used with {option}")
    return spec


def gdb_result(target, stub, wait):
    """Run `target` (a Machine or a VM) under the stub; its RunResult (a
    debugger's kill: status 0, how "killed")."""
    from pyvmm.debug.gdbstub import run_with_stub
    from pyvmm.machine.machine import RunResult
    status = run_with_stub(stub, wait)
    if status is None:
        return RunResult(0, "killed", 0)
    return target.result


def balloon_schedule(target, args):
    """The --balloon-target changes as a BalloonSchedule over `target` (a
    Machine or VM), or None without any."""
    if not args.balloon_target:
        return None
    for option, given in (("--monitor", args.monitor is not None), ("--gdb", gdb_spec(args) is not None)):
        if given:
            raise UsageError(f"--balloon-target cannot be used with {option} "
                             "(the monitor's `balloon` command sets the target)")
    from pyvmm.machine.balloon_target import BalloonError, BalloonSchedule, parse_change
    changes = [parse_change(text, parse_size, parse_count, UsageError) for text in args.balloon_target]
    try:
        return BalloonSchedule(target, changes)
    except BalloonError:
        raise UsageError("--balloon-target needs a --device virtio-balloon-device "
                         "or virtio-balloon-pci") from None


def device_config(args):
    """The device set the options ask for (shared by the board and every technique)."""
    from pyvmm.machine.devices import DeviceConfig
    return DeviceConfig(drives=list(args.drive), devices=list(args.device),
                        netdevs=list(args.netdev), virtio_legacy=args.virtio_legacy,
                        realtime=args.realtime, iommu=getattr(args, "iommu", "off") == "on")


@contextlib.contextmanager
def _keys_straight_to_the_guest(stdin):
    """On a terminal, hand keys to the guest as they are typed, without the
    terminal's echo (the guest echoes, as on a serial line); Ctrl-C still
    stops pyvmm. The terminal is restored afterwards (also on SIGTERM, which
    the run turns into an exception: pyvmm.machine.run_control)."""
    try:
        fd = stdin.fileno() if stdin is not None else -1
        interactive = fd >= 0 and os.isatty(fd)
    except (OSError, ValueError, AttributeError):
        interactive = False
    if not interactive:
        yield
        return
    import termios
    saved = termios.tcgetattr(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~(termios.ICANON | termios.ECHO)     # lflag
    mode[6][termios.VMIN] = 1
    mode[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)

"""`pyvmm run --technique NAME`: the S-mode kernel in a VM on a Host instead
of on the bare board (technique "native", pyvmm.machine.cli's own run).

One Host with one VM of --ram bytes (the host gets that plus room for page
tables), the kernel loaded like `--bios builtin` loads it, the hypervisor's
SBI in place of the firmware. Output and exit statuses are the board's.
"""

import sys

from pyvmm.machine.layout import EXIT_USAGE

# Host RAM beyond the VM's: G-stage or shadow tables and the pager's frames.
HOST_OVERHEAD = 32 << 20
PAGINGS = ("nested", "shadow")


def _error(message):
    print(f"pyvmm run: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_technique(args, *, ram_size, load_addr, max_insns, console, stdin, usage_error,
                  trace=None, trace_out=None, progress=None):
    """Returns the exit status; raises usage_error (the CLI's UsageError) for bad usage.
    `trace`: the --trace classes, of which a VM logs exit and guest_errors
    (pyvmm.hv.trace_exits) to `trace_out`."""
    from pyvmm.hv import Host, HvError, available_techniques

    technique = args.technique
    known = available_techniques()
    if technique not in known:
        raise usage_error(f"--technique {technique}: unknown (known: native, {', '.join(known)})")
    # Without H there is no G stage: the other techniques shadow.
    paging = args.paging or ("nested" if technique == "hw" else "shadow")
    if paging not in PAGINGS:
        raise usage_error(f"--paging {paging}: expected nested or shadow")
    if args.bios not in ("none", "builtin"):
        raise usage_error(f"--technique {technique} runs its own SBI: --bios {args.bios} "
                          "cannot be used with it")
    tracer = None
    if trace:
        from pyvmm.hv.trace_exits import EXIT_CLASSES, ExitTracer
        unsupported = sorted(set(trace) - set(EXIT_CLASSES))
        if unsupported:
            raise usage_error(f"--trace is not supported with --technique {technique} for "
                              f"{', '.join(unsupported)}: a VM traces {' and '.join(EXIT_CLASSES)}")
        tracer = ExitTracer(trace, trace_out if trace_out is not None else sys.stderr)
        if getattr(args, "trace_filter", None) is not None:
            raise usage_error(f"--trace-filter is not supported with --technique {technique}: "
                              "it filters instruction classes, which a VM does not trace")
    for option, given in (("--realtime", args.realtime), ("--htif on", args.htif == "on")):
        if given:
            raise usage_error(f"{option} is not supported with --technique {technique}")
    kernel = args.kernel if args.kernel is not None else args.image
    if args.image is not None and args.kernel is not None:
        raise usage_error("give the kernel as IMAGE or --kernel, not both")
    try:
        import pyvmm._core as core_module
    except ImportError as e:
        print(f"pyvmm run: error: the compiled core is missing ({e}); "
              "build it with `python setup.py build_ext --inplace`", file=sys.stderr)
        return 1
    host_harts = getattr(args, "host_harts", None)
    scheduler = getattr(args, "scheduler", None)
    try:
        host = Host(ram_size=ram_size + HOST_OVERHEAD, harts=1 if host_harts is None else host_harts,
                    scheduler=scheduler)
    except HvError as e:
        raise usage_error(f"--host-harts/--scheduler: {e}") from None
    except MemoryError:
        raise usage_error(f"cannot allocate {ram_size + HOST_OVERHEAD} bytes of host RAM") from None
    if technique == "hw" and not hasattr(host.core, "virt"):
        print(f"pyvmm run: error: this build of the core ({core_module.__file__}) has no H "
              "extension; --technique hw needs it", file=sys.stderr)
        return 1
    from pyvmm.machine.cli import CPU_PROFILES
    host.core.cpu_profile = CPU_PROFILES[args.cpu_profile]
    from pyvmm.io.options import OptionError
    from pyvmm.machine.cli import device_config
    if args.dtb is not None:
        raise usage_error(f"--dtb is not supported with --technique {technique}: the hypervisor "
                          "describes the VM it builds")
    try:
        vm = host.create_vm(ram_size=ram_size, paging=paging, technique=technique,
                            bootargs=args.bootargs, console=console, stdin=stdin,
                            devices=device_config(args), initrd=args.initrd,
                            vcpus=args.smp)
    except (HvError, OptionError) as e:
        raise usage_error(str(e)) from None
    except ImportError as e:
        raise usage_error(f"--paging {paging} is not available in this tree ({e})") from None
    vm.tracer = tracer
    try:
        if kernel is None:
            raise usage_error(f"--technique {technique} needs the S-mode kernel as IMAGE or --kernel")
        vm.load(kernel, load_addr=load_addr)
        if getattr(args, "migrate", None) is not None:
            from pyvmm.machine.cli import parse_count
            from pyvmm.migration.cli import run_vm_source
            status = run_vm_source(vm, args, parse_count, usage_error)
            if vm.error is not None:
                print(f"pyvmm run: {vm.name}: {vm.error}", file=sys.stderr)
            return status
        if args.dumpdtb is not None:
            vm.place_initrd()
            with open(args.dumpdtb, "wb") as f:
                f.write(vm.build_dtb())
            return 0
        monitored = None
        if args.monitor is not None:
            from pyvmm.debug.monitor import open_cli_monitor
            monitored = open_cli_monitor(args.monitor, vm, usage_error)
        from pyvmm.machine.run_control import Progress
        if progress is None:
            progress = Progress(None)
        progress.instret = lambda: sum(getattr(vcpu, "instret", 0) for vcpu in vm.vcpus)

        from pyvmm.machine.cli import gdb_result, gdb_spec
        gdb = gdb_spec(args)
        stub = None
        if gdb is not None:
            from pyvmm.debug.gdbstub import open_stub
            stub = open_stub(gdb, vm, usage_error)

        from pyvmm.machine.cli import balloon_schedule
        schedule = balloon_schedule(vm, args)

        def run():
            with progress:
                if stub is not None:
                    return gdb_result(vm, stub, args.gdb_wait)
                if schedule is not None:
                    return schedule.run(vm.run, progress.instret, max_insns)
                return (monitored or vm).run(max_insns)
        from pyvmm.machine.cli import save_after_run
        status, result, stopped = _run_and_save(vm, run, args, save_after_run)
        if status is not None:
            return status
    finally:
        vm.close()
    return _end_status(vm, args, result, stopped)


def run_loaded_vm(args, *, max_insns, console, stdin, progress, save_after_run):
    """`pyvmm run --loadvm FILE` for a VM snapshot: a new Host with room for
    the VM, the VM restored on it under its technique, run on (and saved
    again with --savevm). A file that cannot be restored is status 2."""
    from pyvmm.hv import Host, HvError
    from pyvmm.hv.snapshot import vm_file_options
    from pyvmm.machine.snapfile import SnapshotError
    try:
        options = vm_file_options(args.loadvm)
        host = Host(ram_size=options["ram_size"] + HOST_OVERHEAD)
        vm = host.restore(args.loadvm, console=console, stdin=stdin)
    except (SnapshotError, HvError) as e:
        return _error(str(e))
    except MemoryError:
        return _error(f"{args.loadvm}: cannot allocate host RAM for the VM")
    progress.instret = lambda: sum(vcpu.instret for vcpu in vm.vcpus)
    try:
        def run():
            with progress:
                return vm.run(max_insns)
        status, result, stopped = _run_and_save(vm, run, args, save_after_run)
        if status is not None:
            return status
    finally:
        vm.close()
    return _end_status(vm, args, result, stopped)


def _run_and_save(vm, run, args, save_after_run):
    """Run `run` (a Ctrl-C stops it, run_stopped) and, when the VM ended on
    its own and --savevm is given, save it: (status to return at once or
    None, result, stopped). A hypervisor failure is status 1."""
    from pyvmm.hv import HvError
    from pyvmm.machine.run_control import run_stopped
    try:
        result, stopped = run_stopped(run)
    except HvError as e:
        print(f"pyvmm run: internal error: {e}", file=sys.stderr)
        return 1, None, None
    if stopped is None and args.savevm is not None:
        status = save_after_run(vm, result, args)
        if status is not None:
            return status, result, stopped
    return None, result, stopped


def _end_status(vm, args, result, stopped):
    """After the VM is closed: its error, then the --stats report and the
    exit status (run_control.finish_run)."""
    from pyvmm.machine.run_control import finish_run
    if vm.error is not None:
        print(f"pyvmm run: {vm.name}: {vm.error}", file=sys.stderr)
    return finish_run(vm, args, result, stopped)

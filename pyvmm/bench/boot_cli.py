"""`pyvmm bench --suite boot`: options to a run_boot_suite call, the report
to stdout (and --out DIR), progress to stderr. Exit statuses are
pyvmm.bench.cli's: 0 every boot that could run ran correctly (a technique
or an OS that cannot run here is a row of n/a with the reason); 1 a boot
failed, printed other output than native's or gave other counters on
another run; 2 bad usage or a missing kernel; 3 a boot's process failed
(a technique raised): the report is printed, the error and the boot's
stderr follow on stderr."""

import sys
from pathlib import Path

from pyvmm.bench.cli import SetupError, cost_model_and_core, out_directory
from pyvmm.bench.cli import error as _error

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CRASHED = 0, 1, 2, 3

# options of the other suites, refused with --suite boot: (attribute, flag)
FOREIGN = (("iterations", "--iterations"), ("sweep", "--sweep"), ("workloads", "--workload"),
           ("jobs", "--jobs"), ("qemu", "--qemu"), ("images", "--images"), ("plot", "--plot"),
           ("json", "--json"), ("quick", "--quick"), ("no_qemu", "--no-qemu"),
           ("no_walk2d", "--no-walk2d"))


def run_boot(args):
    from pyvmm.bench import boot_report, boot_suite
    from pyvmm.bench.virt_cli import parse_columns

    parser = args._parser
    for attribute, flag in FOREIGN:
        if getattr(args, attribute, None):
            parser.error(f"{flag} does not apply to --suite boot")
    for flag, given in (("--scale", args.scale != 1.0), ("--executor", args.executor != "local"),
                        ("--run-timeout (use --boot-timeout)", args.run_timeout != 120.0)):
        if given:
            parser.error(f"{flag} does not apply to --suite boot")
    try:
        columns = parse_columns(args.techniques)
    except ValueError as exc:
        parser.error(str(exc))
    oses = boot_suite.OSES if args.os == "all" else (args.os,)
    if args.linux_dir is not None and "linux" not in oses:
        parser.error("--linux-dir applies to --os linux or all")
    try:
        model = cost_model_and_core(args.cost_model)
        if args.linux_dir is not None and not Path(args.linux_dir).is_dir():
            raise SetupError(f"{args.linux_dir}: no such directory")
        out_dir = out_directory(args.out)
    except SetupError as exc:
        return _error(str(exc), EXIT_USAGE)
    progress = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    try:
        report = boot_suite.run_boot_suite(
            oses=oses, columns=columns, kernel=args.kernel, linux_dir=args.linux_dir,
            runs=args.runs, clock=args.clock, model=model, timeout=args.boot_timeout,
            progress=progress)
    except boot_suite.BootBenchError as exc:
        return _error(str(exc), EXIT_USAGE)
    text = boot_report.render(report, args.format)
    if out_dir is not None:
        for fmt, name in (("table", "boot.txt"), ("markdown", "boot.md"), ("json", "boot.json")):
            (out_dir / name).write_text(boot_report.render(report, fmt))
    sys.stdout.write(text)
    crashes = boot_suite.crashed(report)
    for row in crashes:
        _error(f"{row['os']} under {row['column']}: {row['error']}", EXIT_CRASHED)
        sys.stderr.write(row["crash_trace"])
    if crashes:
        return EXIT_CRASHED
    bad = boot_suite.failed(report)
    if bad:
        return _error("; ".join(f"{r['os']} under {r['column']}: "
                                + (r.get("error") or "counters differ between runs")
                                for r in bad), EXIT_FAILED)
    return EXIT_OK

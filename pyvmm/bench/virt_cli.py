"""`pyvmm bench --suite nano|macro|all`: options to a run_comparison call,
the report to stdout (and --out DIR, --plot FILE), progress to stderr.
Exit statuses are pyvmm.bench.cli's."""

import sys
from pathlib import Path

from pyvmm.bench.cli import SetupError, missing_core, out_directory
from pyvmm.bench.cli import error as _error

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CRASHED = 0, 1, 2, 3


def parse_columns(text):
    """'native,hw' -> ['native', 'hw-shadow', 'hw-nested'] in the report's order."""
    from pyvmm.bench.techniques import COLUMN_NAMES
    if text is None:
        return list(COLUMN_NAMES)
    wanted = set()
    for name in (n.strip() for n in text.split(",")):
        if name == "hw":
            wanted |= {"hw-shadow", "hw-nested"}
        elif name in COLUMN_NAMES:
            wanted.add(name)
        else:
            raise ValueError(f"--techniques: unknown technique {name!r} (known: "
                             f"{', '.join(COLUMN_NAMES)}, hw)")
    return [n for n in COLUMN_NAMES if n in wanted]


def run_virt_suite(args):
    from pyvmm.bench import (costmodel, executors, kernel_workloads, techniques, virt_report,
                             virt_suite)
    from pyvmm.bench.plot import PlotUnavailable, require_matplotlib
    from pyvmm.bench.progress import Progress

    parser = args._parser
    try:
        columns = parse_columns(args.techniques)
    except ValueError as exc:
        parser.error(str(exc))
    names = [w.name for w in kernel_workloads.workloads_of(args.suite)]
    for name in args.workloads or ():
        if name not in names:
            parser.error(f"argument --workload: invalid choice: {name!r} for --suite {args.suite} "
                         f"(choose from {', '.join(names)})")
    try:
        sweep = virt_suite.parse_sweep(args.sweep)
        model = costmodel.load(args.cost_model)
    except (virt_suite.SweepError, costmodel.CostModelError) as exc:
        return _error(str(exc), EXIT_USAGE)
    core_missing = missing_core()
    if core_missing:
        return _error(core_missing, EXIT_USAGE)
    try:
        virt_suite.check_machine_params(sweep)
    except virt_suite.SweepError as exc:
        return _error(str(exc), EXIT_USAGE)
    if args.plot is not None:
        try:
            require_matplotlib()
        except PlotUnavailable as exc:
            return _error(str(exc), EXIT_USAGE)
    kernel = Path(args.kernel) if args.kernel else kernel_workloads.default_kernel()
    if not kernel.is_file():
        return _error(f"{kernel}: no such guest kernel", EXIT_USAGE)
    try:
        out_dir = out_directory(args.out)
    except SetupError as exc:
        return _error(str(exc), EXIT_USAGE)
    jobs = args.jobs or (executors.default_jobs() if sweep else 1)
    try:
        executor = executors.parse(args.executor, jobs)
    except executors.ExecutorError as exc:
        return _error(str(exc), EXIT_USAGE)
    progress = Progress(enabled=not args.quiet)
    try:
        result = virt_suite.run_comparison(
            suite=args.suite, columns=columns, iterations=args.iterations,
            workloads=args.workloads, kernel=kernel, executor=executor, model=model, sweep=sweep,
            include_walk2d=not args.no_walk2d, progress=progress, timeout=args.run_timeout,
            runs=args.runs)
    except executors.ExecutorError as exc:
        return _error(str(exc), EXIT_USAGE)
    except techniques.TechniqueCrashed as exc:
        progress.finish()
        _error(str(exc), EXIT_CRASHED)
        sys.stderr.write(exc.trace)
        return EXIT_CRASHED
    report = virt_report.render(result, args.format)
    if out_dir is not None:
        for fmt, name in (("table", "report.txt"), ("markdown", "report.md"),
                          ("json", "report.json")):
            (out_dir / name).write_text(virt_report.render(result, fmt))
    if args.plot is not None:
        from pyvmm.bench.plot import write_plot
        try:
            write_plot(result, args.plot)
        except OSError as exc:
            sys.stdout.write(report)
            return _error(f"{args.plot}: {exc.strerror or exc}", EXIT_FAILED)
    sys.stdout.write(report)
    failed = [c for c in result["cells"] if c["available"] and c.get("error")]
    return EXIT_FAILED if failed else EXIT_OK

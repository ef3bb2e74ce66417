"""`pyvmm bench --suite io`: options to a run_io_suite call, the report to
stdout (and --json FILE, --plot FILE), progress to stderr. Exit statuses are
pyvmm.bench.cli's: 0 every model ran and read (or, for a network workload,
received) the same bytes, 1 a model did not run correctly or got other
bytes, 2 bad usage or a missing dependency."""

import sys

from pyvmm.bench.cli import SetupError, cost_model_and_core
from pyvmm.bench.cli import error as _error

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# options of the other suites, refused with --suite io: (attribute, flag)
FOREIGN = (("techniques", "--techniques"), ("iterations", "--iterations"),
           ("sweep", "--sweep"), ("workloads", "--workload"), ("kernel", "--kernel"),
           ("jobs", "--jobs"), ("out", "--out"), ("qemu", "--qemu"), ("images", "--images"))


def _write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def run_io(args):
    from pyvmm.bench import io_report, io_suite
    from pyvmm.bench.plot import PlotUnavailable, require_matplotlib

    for attribute, flag in FOREIGN:
        if getattr(args, attribute, None):
            args._parser.error(f"{flag} does not apply to --suite io")
    for flag, given in (("--scale", args.scale != 1.0), ("--no-walk2d", args.no_walk2d),
                        ("--executor", args.executor != "local")):
        if given:
            args._parser.error(f"{flag} does not apply to --suite io")
    try:
        model = cost_model_and_core(args.cost_model)
    except SetupError as exc:
        return _error(str(exc), EXIT_USAGE)
    if args.plot is not None:
        try:
            require_matplotlib()
        except PlotUnavailable as exc:
            return _error(str(exc), EXIT_USAGE)
    progress = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    try:
        result = io_suite.run_io_suite(quick=args.quick, model=model, progress=progress)
    except io_suite.IoBenchError as exc:
        return _error(str(exc), EXIT_FAILED)
    report = io_report.render(result, args.format)
    for path, write in ((args.json, lambda p: _write_text(p, io_report.render(result, "json"))),
                        (args.plot, lambda p: io_report.write_plot(result, p))):
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:
            sys.stdout.write(report)
            return _error(f"{path}: {exc.strerror or exc}", EXIT_FAILED)
    sys.stdout.write(report)
    if not result["checksums_equal"]:
        return _error("the models read different bytes: " + ", ".join(
            f"{r['model']} {r['checksum']}" for r in result["models"]), EXIT_FAILED)
    for workload in result["network"]["workloads"]:
        if not workload["checksums_equal"]:
            return _error(f"the models received different bytes ({workload['workload']}): " + ", ".join(
                f"{r['model']} {r['checksum']}" for r in workload["models"]), EXIT_FAILED)
    return EXIT_OK

"""`pyvmm bench`: run a benchmark suite and print its table.

Suites: `core` (pyvmm's speed against QEMU's, with the core suite's goals),
`nano`, `macro`, `all` (the virtualization techniques compared the way
Adams & Agesen compare them: pyvmm.bench.virt_suite) and `io` (one storage
workload under the I/O virtualization models: pyvmm.bench.io_suite) and
`boot` (the host time of whole OS boots under each technique:
pyvmm.bench.boot_suite; its exit statuses are pyvmm.bench.boot_cli's).

Exit status: 0 when every workload ran correctly (whether or not the core
suite's goals are met or the papers' findings hold: the report says that; a
technique this tree does not register is a column of n/a, not a failure); 1
when a workload did not run correctly (a guest failed or ran out of time, a
technique computed another checksum than native, pyvmm and QEMU disagreed,
timings unusable); 2 for bad usage, missing images, --plot without
matplotlib, --executor dask:// without dask, or a pyvmm without its compiled
core; 3 when a technique raised an exception (as its module loaded or while
it ran a guest): the error names the run, its traceback follows on stderr,
and no report is printed.
"""

import sys

from pyvmm.bench.costmodel import DEFAULT as DEFAULT_MODEL
from pyvmm.bench.costmodel import PARAMETERS
from pyvmm.bench.kernel_workloads import WORKLOADS as KERNEL_WORKLOADS
from pyvmm.bench.report import FORMATS, render
from pyvmm.bench.techniques import COLUMN_NAMES
from pyvmm.bench.workloads import CORE_WORKLOADS, EXIT_ITERATIONS

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

SUITES = ("core", "nano", "macro", "all", "io", "boot")
VIRT_SUITES = ("nano", "macro", "all")


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "bench", help="run a benchmark suite (pyvmm against QEMU, or the virtualization "
                      "techniques compared)",
        description="--suite core runs the benchmark guests on pyvmm and, when "
                    "qemu-system-riscv64 is installed, on QEMU in the same invocation, and prints "
                    "MIPS, the pyvmm/QEMU ratio and exits per second. --suite nano, macro or all "
                    "runs the guest kernel's workloads under every virtualization technique and "
                    "prints modeled cycles per iteration beside Adams & Agesen's, host time per "
                    "iteration and the papers' findings. Progress goes to stderr, the report to "
                    "stdout.",
        epilog="exit status: 0 every workload ran correctly; 1 a workload did not (a guest "
               "failed, a checksum differed from native's, pyvmm and QEMU disagreed, timings "
               "unusable); 2 bad usage, missing images or a missing optional dependency; 3 a "
               "technique raised an exception (traceback on stderr)")
    p.add_argument("--suite", choices=SUITES, default="core",
                   help="core: pyvmm against QEMU; nano, macro, all: the virtualization "
                        "techniques compared; io: the I/O models; boot: whole OS boots per "
                        "technique, in host time (default core)")
    p.add_argument("--runs", type=_positive_int, default=3, metavar="N",
                   help="timed runs of each measurement (core: of each workload; nano, macro, "
                        "all: of each cell's pair of runs): medians are reported, with their "
                        "spread for the technique comparison (default 3)")
    p.add_argument("--format", choices=FORMATS, default="table", help="report format (default table)")
    p.add_argument("--scale", type=_positive_float, default=1.0, metavar="F",
                   help="multiply every workload's size by F (default 1: the compute "
                        "workload retires about 295 million instructions)")
    p.add_argument("--workload", action="append", metavar="NAME", dest="workloads",
                   help="run only this workload (repeatable); core: "
                        + ", ".join([w.name for w in CORE_WORKLOADS] + ["exits"])
                        + "; nano/macro/all: " + ", ".join(w.name for w in KERNEL_WORKLOADS))
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="compute rates from wall time (default) or from CPU time (pyvmm's "
                        "thread, QEMU's process), steadier on a busy machine")
    p.add_argument("--no-qemu", action="store_true", help="measure pyvmm alone")
    p.add_argument("--qemu", metavar="PATH", default=None,
                   help="the qemu-system-riscv64 to compare with (default: the one on PATH)")
    p.add_argument("--images", metavar="DIR", default=None,
                   help="directory of the core suite's guests (default: guests/bench/ as "
                        "shipped with pyvmm)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    v = p.add_argument_group("technique comparison (--suite nano, macro, all)")
    v.add_argument("--techniques", metavar="LIST", default=None,
                   help="comma-separated columns (default all): " + ", ".join(COLUMN_NAMES)
                        + "; 'hw' means hw-shadow,hw-nested")
    v.add_argument("--iterations", type=_positive_int, default=None, metavar="N",
                   help="iterations measured beyond each workload's baseline run (default: the "
                        "workload's own; rounded up to a multiple of 16 for nanobenchmarks)")
    v.add_argument("--kernel", metavar="ELF", default=None,
                   help="the guest kernel (default: guests/kernel/kernel.elf as shipped with "
                        "pyvmm; pv boots kernel-pv.elf beside it)")
    v.add_argument("--cost-model", action="append", default=[], metavar="FILE.json|KEY=VALUE",
                   dest="cost_model",
                   help="replace cost-model parameters (repeatable; applied in order): "
                        + ", ".join(f"{k}={getattr(DEFAULT_MODEL, k):g}" for k in PARAMETERS))
    v.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                   help="a grid axis (repeatable): walk_cache=on,off, tlb_entries=..., or a "
                        "cost-model parameter (exit=500,1500,5000); runs in parallel processes")
    v.add_argument("--executor", default="local", metavar="local|dask://HOST:PORT",
                   help="where runs execute: local processes (default) or an existing Dask "
                        "cluster (optional extra 'dask')")
    v.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="local worker processes (default 1, or one per CPU with --sweep)")
    v.add_argument("--plot", metavar="FILE.png", default=None,
                   help="write the figure of the nanobenchmarks: Adams & Agesen's measured "
                        "cycles and pyvmm's modeled cycles in two panels, log scale, n/a cells "
                        "marked (optional extra 'plot': matplotlib)")
    v.add_argument("--out", metavar="DIR", default=None,
                   help="also write report.txt, report.md and report.json into DIR")
    v.add_argument("--run-timeout", type=_positive_float, default=120.0, metavar="SECONDS",
                   help="give a run up (reported FAILED) after this much host time (default 120)")
    v.add_argument("--no-walk2d", action="store_true",
                   help="leave out the two-dimensional walk microbenchmark")
    io = p.add_argument_group("I/O virtualization models (--suite io)")
    io.add_argument("--quick", action="store_true",
                    help="the small workload (80 requests per model instead of 256)")
    io.add_argument("--json", metavar="FILE", default=None,
                    help="also write the report as JSON into FILE")
    boot = p.add_argument_group("whole OS boots (--suite boot; also --techniques, --kernel, "
                                "--cost-model, --out)")
    boot.add_argument("--os", choices=("kernel", "linux", "all"), default="all",
                      help="boot the project's kernel, Debian's Linux or both (default all)")
    boot.add_argument("--linux-dir", metavar="DIR", default=None,
                      help="boot the prebuilt Image, initrd.gz and disk-ext4.img in DIR (as "
                           "`python -m pyvmm.bench.linux_images DIR` writes them) instead of "
                           "building them from Debian's packages")
    boot.add_argument("--boot-timeout", type=_positive_float, default=1800.0, metavar="SECONDS",
                      help="give a boot up (reported FAILED) after this much host time "
                           "(default 1800)")
    p.set_defaults(func=run_bench, _parser=p)


def _positive_int(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def error(message, status):
    print(f"pyvmm bench: error: {message}", file=sys.stderr)
    return status


class SetupError(Exception):
    """A suite cannot start: a bad option or a missing dependency (one line;
    exit status 2)."""


def cost_model_and_core(spec):
    """What every suite that runs guests checks first: the cost model `spec`
    (--cost-model) loads and the compiled core imports. -> the cost model;
    raises SetupError."""
    from pyvmm.bench import costmodel
    try:
        model = costmodel.load(spec)
    except costmodel.CostModelError as exc:
        raise SetupError(str(exc)) from None
    core_missing = missing_core()
    if core_missing:
        raise SetupError(core_missing)
    return model


def out_directory(path):
    """--out PATH as a directory, created if need be (None without --out);
    raises SetupError."""
    if not path:
        return None
    from pathlib import Path
    out_dir = Path(path)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SetupError(f"{out_dir}: {exc.strerror or exc}") from None
    return out_dir


def missing_core():
    """The line to print when the compiled core cannot be imported (every
    suite runs guests on it), or None when it can."""
    try:
        import pyvmm._core  # noqa: F401
    except ImportError as exc:
        return (f"the compiled core pyvmm._core is not available ({exc}); build it with "
                "`python setup.py build_ext --inplace`")
    return None


def run_bench(args):
    if args.suite == "io":
        from pyvmm.bench.io_cli import run_io
        return run_io(args)
    if args.suite == "boot":
        from pyvmm.bench.boot_cli import run_boot
        return run_boot(args)
    for flag, given in (("--os", args.os != "all"), ("--linux-dir", args.linux_dir is not None),
                        ("--boot-timeout", args.boot_timeout != 1800.0)):
        if given:
            args._parser.error(f"{flag} belongs to --suite boot, not --suite {args.suite}")
    if args.quick or args.json is not None:
        args._parser.error(f"--quick and --json belong to --suite io, not --suite {args.suite}")
    if args.suite in VIRT_SUITES:
        from pyvmm.bench.virt_cli import run_virt_suite
        return run_virt_suite(args)
    core_names = [w.name for w in CORE_WORKLOADS] + ["exits"]
    for name in args.workloads or ():
        if name not in core_names:
            args._parser.error(f"argument --workload: invalid choice: {name!r} for --suite core "
                               f"(choose from {', '.join(core_names)})")
    from pyvmm.bench import qemu_backend
    from pyvmm.bench.images import ImageMissing, default_image_dir
    from pyvmm.bench.suite import BenchError, run_core_suite, stderr_progress

    core_missing = missing_core()
    if core_missing:
        return error(core_missing, EXIT_USAGE)
    qemu = None
    if not args.no_qemu:
        qemu = qemu_backend.find_qemu(args.qemu)
        if qemu is None and args.qemu is not None:
            return error(f"{args.qemu}: no such QEMU executable", EXIT_USAGE)
        if qemu is None:
            print("bench: qemu-system-riscv64 not found; measuring pyvmm alone", file=sys.stderr)
    image_dir = args.images if args.images is not None else default_image_dir()
    progress = (lambda message: None) if args.quiet else stderr_progress
    try:
        chosen = args.workloads
        workloads = [w for w in CORE_WORKLOADS if not chosen or w.name in chosen]
        exit_iterations = EXIT_ITERATIONS if not chosen or "exits" in chosen else 0
        result = run_core_suite(image_dir, runs=args.runs, scale=args.scale, qemu=qemu,
                                workloads=workloads, exit_iterations=exit_iterations,
                                clock=args.clock, progress=progress)
    except ImageMissing as exc:
        return error(str(exc), EXIT_USAGE)
    except BenchError as exc:
        return error(str(exc), EXIT_FAILED)
    sys.stdout.write(render(result, args.format))
    return EXIT_OK

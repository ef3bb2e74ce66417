"""The `pyvmm` command: a dispatcher over the sub-command modules.

Each sub-command lives beside the code it drives (pyvmm/asm/cli.py,
pyvmm/machine/cli.py, ...) and exposes ``add_parsers(subparsers)``, which
registers its parsers with ``set_defaults(func=handler)``; a handler takes the
parsed namespace and returns the process exit status.

`pyvmm COMMAND ...` imports only the module of COMMAND (COMMANDS): start-up
is paid for the command that runs, not for every other one. `pyvmm --help`
and an unknown command build the whole parser.
"""

import argparse
import importlib
import os
import sys

from pyvmm import collector

# Modules that contribute sub-commands, in the order `pyvmm --help` lists them.
COMMAND_MODULES = ("pyvmm.machine.cli", "pyvmm.user.cli", "pyvmm.asm.cli", "pyvmm.bench.cli",
                   "pyvmm.hv.analyze_cli", "pyvmm.hv.host_cli", "pyvmm.hv.clone_cli")

# command -> the module of COMMAND_MODULES that registers it
COMMANDS = {"run": "pyvmm.machine.cli", "user": "pyvmm.user.cli", "asm": "pyvmm.asm.cli", "disasm": "pyvmm.asm.cli",
            "bench": "pyvmm.bench.cli", "analyze": "pyvmm.hv.analyze_cli", "host": "pyvmm.hv.host_cli",
            "clone": "pyvmm.hv.clone_cli"}

EXIT_USAGE = 2


def build_parser(command=None):
    """The `pyvmm` parser: with `command` (a key of COMMANDS) only that
    command's module is imported and registered, else every module."""
    parser = argparse.ArgumentParser(
        prog="pyvmm",
        description="Instruction-level RISC-V RV64 emulator for studying virtualization.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).add_parsers(subparsers)
    return parser


def _command(argv):
    """The command word of argv (its first argument, when that is not an option)."""
    if argv and not argv[0].startswith("-"):
        return argv[0]
    return None


def _version():
    from pyvmm import __version__
    return "pyvmm " + __version__


def main(argv=None):
    # numpy (which the compiled core imports) serves pyvmm as views of bytes,
    # never for linear algebra: one BLAS thread instead of a pool per host
    # CPU started at import, which costs more CPU time than the rest of a
    # small run. A value already in the environment wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if argv is None:
        argv = sys.argv[1:]
        # the process's own command line: its collector is pyvmm's to set
        collector.settle()
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("pyvmm: error: a command is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

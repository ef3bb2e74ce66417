"""`pyvmm user`: run a static RV64 Linux program with its system calls served by pyvmm."""

import argparse
import json
import os
import sys

EXIT_USAGE = 2
EXIT_LIMIT = 124
DEFAULT_PATH = "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def _size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    mult = 1
    if text and text[-1] in units:
        mult = units[text[-1]]
        text = text[:-1]
    return int(text, 0) * mult


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "user", help="run a static RV64 Linux executable in user mode (like qemu-riscv64)",
        description="Run PROG, a static RV64 Linux executable (glibc or musl, static or static-pie), "
                    "in U-mode on the core with its system calls served by pyvmm. PROG and every "
                    "path the program uses resolve inside --root (default: the current directory, "
                    "read-only); nothing outside the root can be reached. The run is deterministic "
                    "(fixed clock and random bytes) unless --realtime.",
        epilog="exit status: the program's exit status; 128+N when signal N ended it (139 "
               "SIGSEGV, 132 SIGILL); 2 bad usage, a missing program or one that is not a static "
               "RV64 executable; 124 --max-insns ran out")
    p.add_argument("prog", metavar="PROG", help="the executable, a path inside the root")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG",
                   help="its arguments: everything after PROG goes to the program, options too")
    p.add_argument("--root", default=".", metavar="DIR",
                   help="host directory the program sees as / (default: the current directory)")
    p.add_argument("--writable", action="store_true",
                   help="let the program create, change and remove files inside the root")
    p.add_argument("--cwd", default="/", metavar="DIR", help="the program's working directory inside the root (default /)")
    p.add_argument("-E", "--env", action="append", default=[], metavar="NAME=VALUE",
                   help="set an environment variable (repeatable); the default environment is "
                        "just " + DEFAULT_PATH)
    p.add_argument("--host-env", action="store_true", help="start from the host's environment instead")
    p.add_argument("--argv0", metavar="NAME", help="argv[0] for the program (default PROG as given)")
    p.add_argument("--strace", action="store_true", help="print each system call to stderr, as strace does")
    p.add_argument("--stats", action="store_true",
                   help="write system calls by name and instructions retired as JSON to stderr at the end")
    p.add_argument("--realtime", action="store_true",
                   help="the host's clock and random bytes instead of the fixed ones")
    p.add_argument("--memory", default="512M", metavar="SIZE",
                   help="RAM for all the program's processes, e.g. 256M or 1G (default 512M)")
    p.add_argument("--max-insns", metavar="N", help="stop after N instructions with exit status 124")
    p.set_defaults(func=run_user)


def run_user(args):
    from pyvmm.user.kernel import Kernel, RunLimit, UserError
    from pyvmm.user.fs import FsError

    try:
        memory = _size(args.memory)
        max_insns = _size(args.max_insns) if args.max_insns else None
    except ValueError:
        print(f"pyvmm user: bad size {args.memory if args.max_insns is None else args.max_insns!r}",
              file=sys.stderr)
        return EXIT_USAGE
    if memory <= 0 or memory % 4096 or memory > (64 << 30):
        print("pyvmm user: --memory must be a positive multiple of 4 KiB, at most 64G", file=sys.stderr)
        return EXIT_USAGE
    if not os.path.isdir(args.root):
        print(f"pyvmm user: root {args.root}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    env = [f"{k}={v}" for k, v in os.environ.items()] if args.host_env else [DEFAULT_PATH]
    for item in args.env:
        if "=" not in item:
            print(f"pyvmm user: --env wants NAME=VALUE, not {item!r}", file=sys.stderr)
            return EXIT_USAGE
        name = item.split("=", 1)[0]
        env = [e for e in env if e.split("=", 1)[0] != name] + [item]
    strace = sys.stderr.buffer if args.strace else None
    cwd = os.fsencode(args.cwd)
    if not cwd.startswith(b"/"):
        cwd = b"/" + cwd
    try:
        kernel = Kernel(args.root, args.writable, strace=strace, realtime=args.realtime,
                        memory=memory, max_insns=max_insns, cwd=os.path.normpath(cwd))
    except FsError as err:
        print(f"pyvmm user: root {args.root}: {os.strerror(err.errno)}", file=sys.stderr)
        return EXIT_USAGE
    argv = [os.fsencode(args.argv0 or args.prog)] + [os.fsencode(a) for a in args.args]
    try:
        kernel.load_program(os.fsencode(args.prog), argv, [os.fsencode(e) for e in env])
    except UserError as err:
        print(f"pyvmm user: {err}", file=sys.stderr)
        return EXIT_USAGE
    status = None
    try:
        status = kernel.run()
    except RunLimit:
        print(f"pyvmm user: --max-insns {max_insns} ran out", file=sys.stderr)
        status = EXIT_LIMIT
    finally:
        sys.stderr.flush()
        if kernel.fatal_message:
            print(kernel.fatal_message, file=sys.stderr)
        if args.stats:
            print(json.dumps(kernel.stats(), indent=2), file=sys.stderr)
    return status

"""`pyvmm asm SRC... -o OUT`: assemble and link like riscv64-unknown-elf-as + ld.

Exit status 0 on success; 2 for bad usage or bad input, with every error on
stderr as `file:line: message` and no traceback.
"""

import os
import sys

from pyvmm.asm import AsmError, assemble_sources

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _address(text):
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError("bad address `%s'" % text)
    if not 0 <= value < 1 << 64:
        raise ValueError("address `%s' out of range" % text)
    return value


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "asm", help="assemble RISC-V sources into an ELF executable or a flat binary",
        description="Assemble GNU-as syntax (RV64IMAC, Zicsr, Zifencei, privileged, H) and link "
                    "with GNU ld's default layout, byte-compatible with riscv64-unknown-elf-as "
                    "-mno-relax + ld. Several sources are assembled in order as one unit.")
    p.add_argument("sources", nargs="+", metavar="SRC", help="assembly source file(s)")
    p.add_argument("-o", dest="output", required=True, metavar="OUT", help="output file")
    p.add_argument("--format", choices=("elf", "bin"), default="elf",
                   help="ELF executable (default) or flat binary from the lowest loaded address")
    p.add_argument("--march", default="rv64imac", metavar="ISA",
                   help="ISA string; C enables compression as in GNU as (default rv64imac)")
    p.add_argument("-Ttext", dest="ttext", metavar="ADDR", help="address of .text (default 0x80000000)")
    p.add_argument("-Tdata", dest="tdata", metavar="ADDR", help="address of .data")
    p.add_argument("-Tbss", dest="tbss", metavar="ADDR", help="address of .bss")
    p.add_argument("--section-start", action="append", default=[], metavar=".NAME=ADDR",
                   help="address of any output section (repeatable)")
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="directory searched by .include (repeatable)")
    p.set_defaults(func=run_asm)
    if os.path.exists(os.path.join(os.path.dirname(__file__), "disasm_cli.py")):
        from pyvmm.asm import disasm_cli
        disasm_cli.add_parsers(subparsers)


def _section_starts(args):
    starts = {}
    for name, value in ((".text", args.ttext), (".data", args.tdata), (".bss", args.tbss)):
        if value is not None:
            starts[name] = _address(value)
    for spec in args.section_start:
        name, sep, value = spec.partition("=")
        if not sep or not name.startswith("."):
            raise ValueError("bad --section-start `%s' (expected .NAME=ADDR)" % spec)
        starts[name] = _address(value)
    return starts


def run_asm(args):
    try:
        starts = _section_starts(args)
    except ValueError as e:
        print("pyvmm asm: error: %s" % e, file=sys.stderr)
        return EXIT_BAD_INPUT
    sources = []
    for path in args.sources:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                sources.append((f.read(), path))
        except OSError as e:
            print("pyvmm asm: error: cannot read %s: %s" % (path, e.strerror or e), file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        program = assemble_sources(sources, march=args.march, section_starts=starts,
                                   include_dirs=args.include_dirs)
    except AsmError as e:
        for file, line, message in e.errors:
            print("%s:%d: %s" % (file, line, message), file=sys.stderr)
        return EXIT_BAD_INPUT
    for kind, file, line, text in program.messages:
        if kind == "print":
            print(text)
        else:
            print("%s:%d: warning: %s" % (file, line, text), file=sys.stderr)
    image = program.to_elf() if args.format == "elf" else program.to_binary()
    try:
        with open(args.output, "wb") as f:
            f.write(image)
    except OSError as e:
        print("pyvmm asm: error: cannot write %s: %s" % (args.output, e.strerror or e), file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK

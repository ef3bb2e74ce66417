"""`pyvmm analyze`: Popek and Goldberg's condition for a CPU profile."""

import json
import sys

from pyvmm.hv.analyze import PROFILES, analyze, format_table


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "analyze", help="classify the ISA as privileged / sensitive / innocuous for a CPU profile",
        description="Classify every instruction and CSR access as privileged (traps in U-mode, "
                    "measured on the core), sensitive (changes or reveals privileged state) or "
                    "innocuous, and say whether Popek and Goldberg's condition holds. Exit status 0 "
                    "when it holds, 1 when some sensitive instruction is unprivileged, 2 on bad usage.")
    p.add_argument("--cpu-profile", choices=tuple(PROFILES), default="standard",
                   help="standard (every sensitive instruction traps) or classic (x86-like: "
                        "sstatus/satp reads and sstatus writes from U-mode do not trap)")
    p.add_argument("--all", action="store_true", help="list every instruction, not just the offending ones")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run_analyze)


def run_analyze(args):
    analysis = analyze(args.cpu_profile)
    if args.format == "json":
        json.dump(analysis.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(analysis, show_all=args.all))
    return 0 if analysis.holds else 1

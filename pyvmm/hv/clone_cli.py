"""`pyvmm clone`: boot a template VM to an instruction count, clone it K
times (copy-on-write, pyvmm.hv.clone), run every clone round robin to its
end, print what each printed and what the clones cost in host memory.

Output (stdout): the template's console up to the clone point, each line
prefixed `template| `, then each clone's console from the clone point on,
prefixed `cloneN| ` (clone by clone, in order), then the memory report.
With --serial-dir DIR the consoles go to DIR/template.log and
DIR/cloneN.log instead and stdout holds the report alone.
"""

import json
import os
import sys

from pyvmm.machine.layout import EXIT_BUDGET, EXIT_USAGE

HOST_OVERHEAD = 32 << 20          # per VM: G-stage or shadow tables
DEFAULT_RAM = 64 << 20
MIB = 1 << 20


def add_parsers(subparsers):
    p = subparsers.add_parser(
        "clone", help="boot a template VM, clone it copy-on-write, run the clones",
        description="Boot IMAGE (the S-mode kernel) in a template VM for --at instructions, make "
                    "--count clones of it that share its RAM copy-on-write, run every clone round "
                    "robin to its end, print each clone's console and the host memory they use "
                    "(docs/clones.md).",
        epilog="exit status: 0 every clone stopped with status 0; 124 --max-insns ran out (the "
               "others stopped with 0); 1 a clone stopped otherwise (or the template stopped "
               "before --at); 2 bad usage or image")
    p.add_argument("image", metavar="IMAGE", help="the S-mode kernel (ELF, flat binary or .S)")
    p.add_argument("--technique", default="hw", metavar="T",
                   help="virtualization technique of the VMs: hw (default), trap-emulate, bt or pv")
    p.add_argument("--paging", default=None, choices=("nested", "shadow"),
                   help="guest memory under nested (G-stage) or shadow page tables (default nested "
                        "for hw; the other techniques shadow)")
    p.add_argument("--at", required=True, metavar="N",
                   help="clone the template after N guest instructions (e.g. 300000 or 3M)")
    p.add_argument("--count", required=True, metavar="K", help="number of clones")
    p.add_argument("--max-insns", metavar="M",
                   help="stop the clones after M instructions in all (default: run to their end)")
    p.add_argument("--ram", default=None, metavar="SIZE",
                   help=f"RAM of each VM, e.g. 64M (default {DEFAULT_RAM >> 20}M)")
    p.add_argument("--bootargs", default="", metavar="TEXT", help="the kernel command line")
    p.add_argument("--serial-dir", metavar="DIR",
                   help="write each VM's console to DIR/template.log, DIR/cloneN.log "
                        "instead of stdout")
    p.add_argument("--share-pages", action="store_true",
                   help="also merge identical pages of the running clones (content-based page "
                        "sharing) every --share-every slices")
    p.add_argument("--share-every", default="16", metavar="S",
                   help="slices between page-sharing scans (default 16)")
    p.add_argument("--stats", action="store_true",
                   help="write every VM's counters and the host's memory as JSON to stderr")
    p.set_defaults(func=lambda args: run_clone(args, p))


def _count(parser, text, what, minimum):
    from pyvmm.machine.cli import UsageError, parse_count
    try:
        value = parse_count(text, what)
    except UsageError as e:
        parser.error(str(e))
    if value < minimum:
        parser.error(f"{what} must be at least {minimum}, not {value}")
    return value


def run_clone(args, parser):
    from pyvmm.hv import Host, HvError
    from pyvmm.machine.cli import UsageError, parse_size
    from pyvmm.machine.loader import ImageError

    at = _count(parser, args.at, "--at", 0)
    count = _count(parser, args.count, "--count", 1)
    every = _count(parser, args.share_every, "--share-every", 1)
    max_insns = _count(parser, args.max_insns, "--max-insns", 0) if args.max_insns is not None else None
    try:
        ram = parse_size(args.ram) if args.ram is not None else DEFAULT_RAM
    except UsageError as e:
        parser.error(str(e))
    from pyvmm.hv import available_techniques
    known = available_techniques()
    if args.technique not in known:
        parser.error(f"--technique {args.technique}: unknown (known: {', '.join(known)})")
    if args.serial_dir is not None and not os.path.isdir(args.serial_dir):
        parser.error(f"--serial-dir {args.serial_dir}: not a directory")
    # Host RAM for the worst case (every clone writes all of its RAM): the
    # buffer is only touched where frames are used.
    host_ram = (count + 1) * (ram + HOST_OVERHEAD)
    try:
        host = Host(ram_size=host_ram)
        paging = args.paging or ("nested" if args.technique == "hw" else "shadow")
        template = host.create_vm(ram_size=ram, paging=paging, technique=args.technique,
                                  bootargs=args.bootargs, name="template")
        template.load(args.image)
    except (HvError, ImageError) as e:
        print(f"pyvmm clone: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"pyvmm clone: error: cannot allocate {host_ram} bytes of host RAM", file=sys.stderr)
        return EXIT_USAGE
    result = template.run(at)
    if result.how != "budget":
        _write_console(args, template)
        print(f"pyvmm clone: error: the template stopped ({result.how}, status {result.status}) "
              f"before instruction {at}: nothing to clone", file=sys.stderr)
        return 1
    clones = [template.clone(name=f"clone{i}") for i in range(1, count + 1)]
    at_clone = host.memory_stats()
    if args.share_pages:
        from pyvmm.hv.sharing import SharingRoundRobin
        scheduler = SharingRoundRobin(host, vms=clones, every=every)
    else:
        from pyvmm.hv.scheduler import RoundRobin
        scheduler = RoundRobin(host, vms=clones)
    scheduler.run(max_insns)
    _write_console(args, template)
    for clone in clones:
        _write_console(args, clone)
    report = _report(host, template, clones, at, at_clone)
    sys.stdout.write(report)
    sys.stdout.flush()
    if args.stats:
        stats = {vm.name: vm.stats() for vm in [template, *clones]}
        stats["host_memory"] = host.memory_stats()
        if args.share_pages:
            stats["page_sharing"] = host.page_sharing.stats()
        json.dump(stats, sys.stderr, indent=2, sort_keys=True, default=str)
        sys.stderr.write("\n")
    for vm in [template, *clones]:
        vm.close()
    hows = [clone.result.how if clone.result is not None else None for clone in clones]
    if all(clone.result is not None and clone.result.status == 0 for clone in clones):
        return 0
    if all(how == "budget" or clone.result.status == 0 for how, clone in zip(hows, clones)):
        return EXIT_BUDGET
    return 1


def _write_console(args, vm):
    text = vm.console_output.decode("utf-8", "replace")
    if args.serial_dir is not None:
        with open(os.path.join(args.serial_dir, f"{vm.name}.log"), "w") as f:
            f.write(text)
        return
    lines = text.splitlines()
    for line in lines:
        sys.stdout.write(f"{vm.name}| {line}\n")


def _mib(frames):
    return f"{frames * 4096 / MIB:.1f} MiB"


def _report(host, template, clones, at, at_clone):
    pages = template.ram_size // 4096
    now = host.memory_stats()
    lines = [f"clone: template at instruction {at}, {len(clones)} clones of {template.ram_size >> 20} MiB "
             f"({pages} pages) each"]
    for clone in clones:
        memory = clone.memory_stats()
        result = clone.result
        how = f"{result.how}, status {result.status}" if result else "running"
        lines.append(f"{clone.name}: {how}, instret {clone.stats()['instret']}, private frames "
                     f"{memory['private_frames']} ({_mib(memory['private_frames'])}), pages on shared "
                     f"frames {memory['shared_pages']}")
    independent = (len(clones) + 1) * pages
    used = now["guest_frames"]
    lines.append(f"memory at the clone point: {at_clone['guest_frames']} guest frames "
                 f"({_mib(at_clone['guest_frames'])}) for {len(clones) + 1} VMs")
    lines.append(f"memory at the end: {used} guest frames ({_mib(used)}), {now['shared_frames']} of them "
                 f"shared; host frames allocated {now['allocated_frames']} ({_mib(now['allocated_frames'])}) "
                 f"with page tables")
    lines.append(f"independent VMs (template + {len(clones)}) would use {independent} frames "
                 f"({_mib(independent)}): saved {independent - used} frames ({_mib(independent - used)}, "
                 f"{100 * (independent - used) / independent:.1f}%)")
    if getattr(host, "page_sharing", None) is not None:
        sharing = host.page_sharing.stats()
        lines.append(f"page sharing: {sharing['scans']} scans, {sharing['pages_scanned']} pages scanned, "
                     f"{sharing['pages_merged']} merged, {sharing['frames_saved']} frames saved, "
                     f"{sharing['shares_broken']} shares broken")
    return "".join(line + "\n" for line in lines)

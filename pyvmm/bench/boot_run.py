"""One boot of `pyvmm bench --suite boot`, in a process of its own.

`python -m pyvmm.bench.boot_run SPEC.json RESULT.json` boots one OS under
one technique through the public API (pyvmm.machine.Machine for native,
pyvmm.hv.Host and a VM for the rest, set up as `pyvmm run` sets them up)
and writes what it measured to RESULT.json. Each boot is a fresh Python
process, as a user's `pyvmm run` is, so its start-up (interpreter, imports,
Machine or Host construction, image loading) is measured from the moment
the parent started the process (spec "t0", CLOCK_MONOTONIC, which every
process of the machine shares) to the first guest instruction.

The spec (a JSON object):
    column    the technique column (pyvmm.bench.techniques): "native", "hw-nested", ...
    kernel    the kernel image (kernel.elf, kernel-pv.elf or Linux's Image)
    bios      native only: "builtin" or the path of a firmware (OpenSBI fw_jump.bin)
    initrd, disk, append   Linux only (null for the project kernel)
    ram       guest RAM in bytes
    max_insns an instruction budget no correct boot comes near
    marker    the console text whose first appearance is timed (/init's first line)
    t0        time.monotonic() in the parent just before it started this process

The result: how the run ended, the console text, the ISA string the hart
offered (its device tree's riscv,isa), instructions retired, exits by
reason, the counts the cost model prices, and for both clocks ("wall": host
seconds since t0 on CLOCK_MONOTONIC, "cpu": this process's CPU time) the
start-up, the time from the first instruction to the marker and to the end.
"""

import json
import re
import sys
import time

from pyvmm import collector
from pyvmm.bench import techniques
from pyvmm.bench.cell import TRAP_EXITS, _core_counters, technique_count

# Host RAM beyond the VM's, as `pyvmm run --technique` gives it.
HOST_OVERHEAD = 32 << 20
ISA_IN_DTB = re.compile(rb"rv64[a-z0-9_]+")


class MarkedConsole:
    """The guest's console: keeps every byte and notes, on both clocks, when
    `marker` first appears in it."""

    def __init__(self, marker):
        self.marker = marker.encode()
        self.data = bytearray()
        self.marked = None          # (monotonic, process CPU) when the marker appeared

    def write(self, data):
        before = len(self.data)
        self.data += data
        if self.marked is None:
            # The marker may straddle two writes: look back by its length.
            start = max(0, before - len(self.marker) + 1)
            if self.data.find(self.marker, start) >= 0:
                self.marked = (time.monotonic(), time.process_time())
        return len(data)

    def flush(self):
        """Nothing is buffered outside `data`; the board flushes its console."""

    def text(self):
        return self.data.decode("utf-8", "replace").replace("\r", "")


def _isa(dtb):
    match = ISA_IN_DTB.search(dtb)
    return match.group(0).decode() if match else None


def _devices(spec):
    from pyvmm.machine.devices import DeviceConfig
    if spec.get("disk") is None:
        return DeviceConfig()
    return DeviceConfig(drives=[f"file={spec['disk']},format=raw,if=none,id=d0"],
                        devices=["virtio-blk-device,drive=d0"])


def _boot_native(spec, console):
    from pyvmm.machine import Machine
    linux = spec.get("initrd") is not None
    machine = Machine(ram_size=spec["ram"], bios=spec["bios"],
                      kernel=spec["kernel"] if linux else None, console=console,
                      bootargs=spec.get("append") or "", devices=_devices(spec),
                      initrd=spec.get("initrd"))
    with machine:
        if not linux:
            machine.load(spec["kernel"])
        machine.boot()
        first = (time.monotonic(), time.process_time())
        result = machine.run(spec["max_insns"])
        end = (time.monotonic(), time.process_time())
        stats = machine.stats()
        isa = _isa(machine.dtb_blob())
    exits = {k: int(n) for k, n in stats.get("machine_exits", {}).items() if k != "budget"}
    core = _core_counters(machine.core.stats())
    counts = {
        "instret": int(stats["instret"]),
        # The board has no hypervisor: its SBI calls and device accesses
        # leave the loop to Python, but on silicon they are M-mode traps and
        # bus cycles, priced as such (as the technique comparison prices them).
        "exits": {}, "callouts": 0, "hypercalls": 0,
        "device_accesses": sum(stats.get("mmio", {}).values()),
        "core": core,
    }
    return result, None, first, end, int(stats["instret"]), exits, counts, isa


def _boot_vm(spec, console):
    from pyvmm.hv import Host
    col = techniques.column(spec["column"])
    host = Host(ram_size=spec["ram"] + HOST_OVERHEAD)
    vm = host.create_vm(ram_size=spec["ram"], paging=col.paging, technique=col.technique,
                        bootargs=spec.get("append") or "", console=console,
                        devices=_devices(spec), initrd=spec.get("initrd"))
    try:
        vm.load(spec["kernel"])
        vm.boot()
        # What the first vm.run would import before the guest's first
        # instruction (the VCPU scheduler; numpy, which loading a VCPU into
        # the core touches under nested paging) is start-up, not boot.
        import numpy  # noqa: F401
        import pyvmm.hv.scheduler  # noqa: F401
        first = (time.monotonic(), time.process_time())
        result = vm.run(spec["max_insns"])
        end = (time.monotonic(), time.process_time())
        isa = _isa(vm.build_dtb())
    finally:
        vm.close()
    stats = vm.stats()
    exits = {k: int(n) for k, n in stats.get("exits", {}).items() if k != "budget"}
    core = _core_counters(host.core.stats())
    # A trap that leaves the core for the hypervisor is priced as an exit;
    # only the traps the guest took itself inside the loop as traps.
    core["traps"] = max(0, core["traps"] - sum(exits.get(k, 0) for k in TRAP_EXITS))
    core["interrupts"] = max(0, core["interrupts"] - exits.get("interrupt", 0))
    counts = {
        "instret": int(stats["instret"]), "exits": exits,
        "callouts": technique_count(stats, "callouts"),
        "hypercalls": technique_count(stats, "hypercalls"),
        "device_accesses": 0, "core": core,
    }
    return result, vm.error, first, end, int(stats["instret"]), exits, counts, isa


def boot(spec):
    """Boot as `spec` says; the result dict (see the module's docstring)."""
    console = MarkedConsole(spec["marker"])
    runner = _boot_native if spec["column"] == "native" else _boot_vm
    result, vm_error, first, end, instret, exits, counts, isa = runner(spec, console)
    t0_wall, t0_cpu = spec["t0"], 0.0
    clocks = {}
    for index, clock in enumerate(("wall", "cpu")):
        origin = t0_wall if clock == "wall" else t0_cpu
        clocks[clock] = {
            "startup": first[index] - origin,
            "to_marker": console.marked[index] - first[index] if console.marked else None,
            "to_end": end[index] - first[index],
        }
    return {
        "how": result.how if result else None,
        "status": result.status if result else None,
        "vm_error": vm_error,
        "output": console.text(),
        "isa": isa,
        "instret": instret,
        "exits": dict(sorted(exits.items())),
        "counts": counts,
        "seconds": clocks,
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m pyvmm.bench.boot_run SPEC.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        spec = json.load(f)
    collector.settle()             # as pyvmm's own command line does
    result = boot(spec)
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

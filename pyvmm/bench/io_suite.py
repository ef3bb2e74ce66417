"""`pyvmm bench --suite io`: one storage workload under each I/O
virtualization model pyvmm has, priced by the cost model per request.

The workload is guests/bench/io_workload.inc (sequential and random 4 KiB
writes and reads over a region of the disk, a checksum of everything read)
built with the NVMe driver (io_nvme.S) or the virtio-blk driver
(io_virtio.S). Every model runs it twice, over a region of `small` and of
`large` blocks; each per-request figure is (run(large) - run(small)) /
(requests(large) - requests(small)), so finding and setting up the device,
the console line and power-off cancel. The two sizes print numbers of the
same widths, so the console costs the same in both.

A model is one entry of MODELS: a name, the driver, a setup function that
builds the target (the board, or a Host and a VM with the device set up the
model's way) and the native model it is compared with. Models marked
`hosted` price the run of the model they name in `runs` with the type-2
host-OS round trip added to every I/O exit.

The network workloads (NET_WORKLOADS) are guests/bench/net_workload.inc, a
request/response loop and a bulk transfer against a peer in the same
process that echoes every frame (pyvmm.io.net.echo) before the transmit
doorbell's access ends, built with the pyvmm-nic driver (net_nic.S) or the
virtio-net one (net_virtio.S). NET_MODELS serve them the same ways: on the
board, the NIC emulated in the VM's device set, virtio-net split between
the VM and the host, the hosted variants, the host's pyvmm-nic assigned
to the VM, a virtual function of an SR-IOV pyvmm-nic assigned to it,
and a service VM that owns the host's pyvmm-nic and serves a frontend's
network ring (net_ring.S, guests/split/dom0_net.S). A request there is
one frame sent and its echo received.
"""

import os
import platform
import random
import tempfile
import time
from dataclasses import dataclass

from pyvmm.bench import cell, costmodel

BLOCK = 4096
RAM_SIZE = 128 << 20
HOST_OVERHEAD = 64 << 20          # host RAM beyond the VM's: tables, the IOMMU's queues
DISK_BYTES = 4 << 20              # the disk; the region is its first `large` blocks
DISK_SEED = 0x696f               # the disk's bytes are random.Random(DISK_SEED)
SERIAL = "io0001"
MODELED_HZ = 1e9                  # modeled cycles -> modeled seconds (a 1 GHz core)
INSTRUCTION_LIMIT = 200_000_000
PASSTHROUGH_DEVICE = 3            # the host PCI slot of the assigned controller

# (small, large) region sizes in blocks; requests = 4 x blocks (IO_RANDOM =
# IO_BLOCKS). Both sizes print blocks and requests with the same digits.
SIZES = {"quick": (10, 20), "default": (32, 64)}
VMWARE_IO = (25.0, 60.0)          # VMware's overhead for I/O-bound work, %
VMWARE_CPU = (2.0, 10.0)          # and for CPU-bound work, %
CPU_ITERATIONS = (1, 2)           # the compute workload's baseline and larger run


class IoBenchError(Exception):
    """A model's run did not end as a correct run ends (one line)."""


# -------------------------------------------------------------- the targets

class _Target:
    """What a model's setup function returns: `target`, the board or VM to
    run; `native`, whether it is the board; for an assigned function,
    `passthrough` (whose IOMMU counts the translations), `assignment`
    (counting the BAR accesses) and `function` (the device, counting the
    bytes it moved); `closers`, what to close after the run besides the
    target."""

    native = False
    passthrough = None
    assignment = None
    function = None
    closers = ()

    def close(self):
        self.target.close()
        for extra in self.closers:
            extra.close()


def _drives(driver, disk):
    from pyvmm.machine.devices import DeviceConfig
    if driver == "nvme":
        return DeviceConfig(drives=[f"if=none,id=d0,file={disk},format=raw"],
                            devices=[f"nvme,drive=d0,serial={SERIAL}"])
    return DeviceConfig(drives=[f"file={disk},format=raw"])


def _boot_native(guest, devices):
    """The bare board under the built-in SBI with `devices`, booted."""
    from pyvmm.machine import Machine
    t = _Target()
    t.native = True
    t.target = Machine(ram_size=RAM_SIZE, bios="builtin", kernel=guest, console=None,
                       devices=devices)
    t.target.boot()
    return t


def _boot_vm(guest, devices):
    """A VM under --technique hw with `devices` in its own device set, booted."""
    from pyvmm.hv import Host
    t = _Target()
    host = Host(ram_size=RAM_SIZE + HOST_OVERHEAD)
    t.target = host.create_vm(ram_size=RAM_SIZE, technique="hw", devices=devices)
    t.target.load(guest)
    t.target.boot()
    return t


def _boot_passthrough(guest, controller):
    """A VM under --technique hw with the host's `controller` assigned to it
    at PASSTHROUGH_DEVICE, booted; the controller is closed with the VM."""
    from pyvmm.hv import Host
    from pyvmm.hv.passthrough import Passthrough
    t = _Target()
    host = Host(ram_size=RAM_SIZE + HOST_OVERHEAD)
    t.passthrough = Passthrough(host)
    device_id = t.passthrough.add_host_function(controller, device=PASSTHROUGH_DEVICE)
    t.target = host.create_vm(ram_size=RAM_SIZE, technique="hw")
    t.assignment = t.passthrough.assign(device_id, t.target)
    t.function = controller
    t.closers = [controller]
    t.target.load(guest)
    t.target.boot()
    return t


def setup_native(driver, guest, disk):
    """The bare board under the built-in SBI, the device on the board."""
    return _boot_native(guest, _drives(driver, disk))


def setup_vm_device_model(driver, guest, disk):
    """A VM under --technique hw with the device in its own device set: a
    model in the hypervisor serves every register access as an MMIO exit."""
    return _boot_vm(guest, _drives(driver, disk))


def setup_vm_passthrough(driver, guest, disk):
    """The host's NVMe controller assigned to a VM under --technique hw: BAR
    accesses go to the device without the VM's exits, DMA goes through the
    host IOMMU with the VM's G-stage table."""
    from pyvmm.io.pci.nvme import NvmeController
    if driver != "nvme":
        raise IoBenchError(f"passthrough assigns the host's NVMe controller, not {driver}")
    return _boot_passthrough(guest, NvmeController(str(disk), serial=SERIAL))


SRIOV_VFS = 2                     # the PF's TotalVFs; the VM gets VF 0 (the drive's first half)


def _vf0_target(controller, guest):
    """A VM under --technique hw given VF 0 of the SR-IOV physical function
    `controller`, `guest` loaded and booted."""
    from pyvmm.hv import Host
    from pyvmm.hv.passthrough import Passthrough, assign_vf
    t = _Target()
    host = Host(ram_size=RAM_SIZE + HOST_OVERHEAD)
    t.target = host.create_vm(ram_size=RAM_SIZE, technique="hw")
    t.assignment = assign_vf(host, t.target, controller, 0)
    t.passthrough = Passthrough.for_host(host)
    t.function = t.assignment.host_function
    t.closers = [controller]
    t.target.load(guest)
    t.target.boot()
    return t


def setup_vm_vf(driver, guest, disk):
    """Virtual function 0 of the host's SR-IOV NVMe controller assigned to a
    VM under --technique hw: its own routing ID, IOMMU context and queues,
    BAR accesses without the VM's exits, DMA through the IOMMU."""
    from pyvmm.io.pci.nvme import NvmeController
    if driver != "nvme":
        raise IoBenchError(f"an SR-IOV VF is one of the host's NVMe controller's, not {driver}")
    return _vf0_target(NvmeController(str(disk), serial=SERIAL, sriov_max_vfs=SRIOV_VFS), guest)


class _ServiceVmPair:
    """A service VM and its frontend as one target: they run together on one
    host, their instructions and exits add up (every request costs both),
    and the frontend's console is the output."""

    def __init__(self, host, service, frontend):
        self.host = host
        self.service = service
        self.frontend = frontend

    def run(self, max_insns=None):
        results = self.host.run(max_insns)
        return results[self.frontend]

    @property
    def console_output(self):
        return self.frontend.console_output

    @property
    def error(self):
        service = self.service
        if service.error is None and service.result is not None and service.result.how != "finisher-pass":
            return f"the service VM ended {service.result.how}: {service.console_output.decode()[-120:]!r}"
        return service.error or self.frontend.error

    def stats(self):
        both = [self.service.stats(), self.frontend.stats()]
        exits = {}
        for stats in both:
            for kind, n in stats["exits"].items():
                exits[kind] = exits.get(kind, 0) + n
        return {"instret": sum(stats["instret"] for stats in both), "exits": exits, "devices": {}}

    def close(self):
        self.service.close()
        self.frontend.close()


def setup_service_vm(driver, guest, disk):
    """Type 1 with a service VM: the host's NVMe controller assigned to a
    service VM (guests/split/dom0.S), the workload in a frontend VM whose
    requests cross a granted ring to it; both under --technique hw."""
    from pyvmm.io.pci.nvme import NvmeController
    if driver != "ring":
        raise IoBenchError(f"a service VM's frontend runs the ring driver, not {driver}")
    return _service_vm_target(NvmeController(str(disk), serial=SERIAL), "nvme", "dom0.S", guest)


def _service_vm_target(device, service, dom0_source, guest):
    """The host's `device` assigned to a service VM running
    guests/split/`dom0_source` for `service`, `guest` in its frontend VM;
    both under --technique hw."""
    from pyvmm.hv import Host
    from pyvmm.hv.service_vm import ServiceVms
    t = _Target()
    host = Host(ram_size=2 * RAM_SIZE + HOST_OVERHEAD)
    split = ServiceVms(host)
    dom0 = os.path.join(os.path.dirname(guests_dir()), "split", dom0_source)
    backend = split.create_service_vm(dom0, device, service=service, ram_size=RAM_SIZE, name="dom0")
    frontend = split.create_frontend_vm(guest, backend=backend, ram_size=RAM_SIZE, name="domu")
    t.target = _ServiceVmPair(host, backend, frontend)
    t.passthrough = split.passthrough
    t.assignment = split.services[backend]
    t.function = device
    t.closers = [device]
    return t


@dataclass(frozen=True)
class IoModel:
    name: str                     # the report's row
    description: str
    driver: str                   # "nvme" or "virtio"
    setup: object = None          # setup(driver, guest, disk) -> _Target
    native: str = None            # the model it is compared with (None: it is native)
    runs: str = None              # hosted: price this model's runs
    hosted: bool = False


def _hosted(runs, kind, driver, native):
    """The type 2 hosted row of model `runs` (a `kind` of driver): its runs,
    priced as if every I/O exit also crossed the host OS."""
    return IoModel(f"{runs}-hosted", f"{kind}, type 2 hosted: every I/O exit also crosses the "
                   "host OS", driver, native=native, runs=runs, hosted=True)


MODELS = (
    IoModel("native-nvme", "the NVMe controller on the bare board (--bios builtin)", "nvme",
            setup_native),
    IoModel("native-virtio", "virtio-blk on the bare board (--bios builtin)", "virtio",
            setup_native),
    IoModel("direct", "hypervisor direct: the emulated NVMe in the VM's device set, hw",
            "nvme", setup_vm_device_model, native="native-nvme"),
    _hosted("direct", "hypervisor direct", "nvme", "native-nvme"),
    IoModel("split", "split driver: virtio-blk in a VM under hw, back-end in the host",
            "virtio", setup_vm_device_model, native="native-virtio"),
    _hosted("split", "split driver", "virtio", "native-virtio"),
    IoModel("passthrough", "the host's NVMe assigned to the VM, DMA through the IOMMU, hw",
            "nvme", setup_vm_passthrough, native="native-nvme"),
    IoModel("sriov-vf", "virtual function 0 of the host's SR-IOV NVMe assigned to the VM, "
            "its own IOMMU context, hw", "nvme", setup_vm_vf, native="native-nvme"),
    IoModel("service-vm", "type 1 with a service VM: the frontend's requests cross a granted "
            "ring to the VM that owns the assigned NVMe", "ring", setup_service_vm,
            native="native-nvme"),
)
BY_NAME = {m.name: m for m in MODELS}


# -------------------------------------------------------------- the guest

def guests_dir():
    from pyvmm.bench.kernel_workloads import default_kernel
    return os.path.join(os.path.dirname(os.path.dirname(str(default_kernel()))), "bench")


def guest_source(directory, driver, blocks):
    """A wrapper that sizes the workload and includes the driver."""
    source = os.path.join(guests_dir(), f"io_{driver}.S")
    if not os.path.isfile(source):
        raise IoBenchError(f"{source}: no such guest")
    path = os.path.join(directory, f"io_{driver}_{blocks}.S")
    with open(path, "w") as f:
        f.write(f"    .equ IO_BLOCKS, {blocks}\n    .equ IO_RANDOM, {blocks}\n"
                f"    .include \"{source}\"\n")
    return path


def make_disk(path):
    with open(path, "wb") as f:
        f.write(random.Random(DISK_SEED).randbytes(DISK_BYTES))


# -------------------------------------------------------------- one run

def _device_stats(stats, prefix):
    for name, values in stats.get("devices", {}).items():
        if name.startswith(prefix):
            return values
    return {}


def _run_target(target, what):
    """Run the booted `target` to its end; returns (result, host seconds,
    stats, console output, exits, core stats, interrupts the device raised).
    A VM the hypervisor stopped is closed and reported as IoBenchError."""
    started = time.perf_counter()
    result = target.target.run(INSTRUCTION_LIMIT)
    seconds = time.perf_counter() - started
    stats = target.target.stats()
    if target.native:
        return result, seconds, stats, target.target.uart_output, {}, target.target.core.stats(), 0
    exits = {k: int(n) for k, n in stats["exits"].items() if k != "budget"}
    if target.target.error:
        target.close()
        raise IoBenchError(f"{what}: the hypervisor stopped the VM: {target.target.error}")
    core = target.target.host.core.stats() if hasattr(target.target, "host") else {}
    interrupts = cell._total(core.get("interrupts", {})) - exits.get("interrupt", 0)
    return result, seconds, stats, target.target.console_output, exits, core, interrupts


def _check_end(result, output, what):
    """The guest's last console line, once the run ended in a clean SBI
    shutdown (else IoBenchError)."""
    if (result.how, result.status) != ("sbi-shutdown", 0):
        raise IoBenchError(f"{what}: the run ended {result.how} (status {result.status}): "
                           f"{output.strip()[-120:]!r}")
    return output.strip().splitlines()[-1] if output.strip() else ""


def _access_counters(target, stats, core, exits):
    """The counters every model reports alike: device register accesses,
    IOMMU translations and misses, and the guest's own traps (a VM's traps
    less those that left as exits)."""
    if target.native:
        device_accesses = sum(stats.get("mmio", {}).values())
    elif target.assignment is not None:
        device_accesses = target.assignment.device_accesses
    else:
        device_accesses = 0
    iommu = target.passthrough.stats() if target.passthrough is not None else {}
    traps = cell._total(core.get("traps", {}))
    if not target.native:
        traps = max(0, traps - sum(exits.get(k, 0) for k in cell.TRAP_EXITS))
    return {
        "instret": int(stats["instret"]),
        "traps": traps,
        "exits": exits,
        "device_accesses": int(device_accesses),
        "iommu_translations": int(iommu.get("iommu_translations", 0)),
        "iotlb_misses": int(iommu.get("iommu_iotlb_misses", 0)),
    }


def run_once(model, blocks, scratch):
    """One run of `model`'s driver over `blocks` blocks on a fresh disk;
    returns its counters."""
    guest = guest_source(scratch, model.driver, blocks)
    disk = os.path.join(scratch, f"{model.name}-{blocks}.img")
    make_disk(disk)
    target = model.setup(model.driver, guest, disk)
    result, seconds, stats, output, exits, core, interrupts = _run_target(target, model.name)
    target.close()
    output = output.decode("ascii", "replace")
    line = _check_end(result, output, f"{model.name} ({blocks} blocks)")
    expected = f"io_bench: {4 * blocks} requests of {BLOCK} bytes over {blocks} blocks, checksum 0x"
    if not line.startswith(expected):
        raise IoBenchError(f"{model.name} ({blocks} blocks): the guest printed {line!r}")
    virtio = _device_stats(stats, "VirtioBlk")
    if model.driver == "virtio":
        moved = virtio.get("bytes_read", 0) + virtio.get("bytes_written", 0)
    else:
        nvme = target.function.stats() if target.function is not None else _device_stats(stats, "Nvme")
        moved = nvme.get("nvme_bytes_read", 0) + nvme.get("nvme_bytes_written", 0)
    return {
        "checksum": line.rsplit(" ", 1)[1],
        "requests": 4 * blocks,
        **_access_counters(target, stats, core, exits),
        "device_blocks": moved / BLOCK,
        "virtio_notifies": 0 if target.native else int(virtio.get("notifications", 0)),
        "interrupt_injections": max(0, int(interrupts)),
        "host_seconds": seconds,
    }


COUNTERS = ("instret", "traps", "device_accesses", "device_blocks", "iommu_translations", "iotlb_misses",
            "virtio_notifies", "interrupt_injections")


def per_request(small, large):
    """Per-request counters from the two runs' difference."""
    n = large["requests"] - small["requests"]
    out = {k: (large[k] - small[k]) / n for k in COUNTERS}
    kinds = set(small["exits"]) | set(large["exits"])
    out["exits_by_kind"] = {k: (large["exits"].get(k, 0) - small["exits"].get(k, 0)) / n
                            for k in sorted(kinds)}
    out["exits"] = sum(out["exits_by_kind"].values())
    return out


def events(per, hosted):
    """The cost model's counts for one request."""
    mmio = per["exits_by_kind"].get("mmio", 0.0)
    return {
        "instruction": per["instret"],
        "trap": per["traps"],
        "exit": per["exits"] - mmio,
        "mmio_exit": mmio,
        "device_access": per["device_accesses"],
        "iommu_translation": per["iommu_translations"],
        "iotlb_miss": per["iotlb_misses"],
        "virtio_notify": per["virtio_notifies"],
        "interrupt_injection": per["interrupt_injections"],
        "hosted_exit": mmio if hosted else 0.0,
        "device_service": per["device_blocks"],
    }


def verdict(overhead, band):
    low, high = band
    if overhead is None:
        return None
    if overhead < low:
        return "below"
    return "inside" if overhead <= high else "above"


# -------------------------------------------------------------- the suite

def run_io_suite(quick=False, model=costmodel.DEFAULT, models=MODELS, progress=None,
                 cpu_control=True):
    """Run every model; returns the result as plain data (what --json writes)."""
    small_blocks, large_blocks = SIZES["quick" if quick else "default"]
    say = progress or (lambda message: None)
    measured = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyvmm-io-bench-") as scratch:
        for m in models:
            source = BY_NAME[m.runs] if m.runs else m
            if source.name not in measured:
                say(f"io: {source.name} ({small_blocks} and {large_blocks} blocks)")
                small = run_once(source, small_blocks, scratch)
                large = run_once(source, large_blocks, scratch)
                measured[source.name] = (small, large)
            small, large = measured[source.name]
            per = per_request(small, large)
            counts = events(per, m.hosted)
            cycles = model.cycles(counts)
            rows.append({
                "model": m.name, "description": m.description, "driver": m.driver,
                "native": m.native, "hosted": m.hosted, "runs": source.name,
                "checksum": large["checksum"], "checksum_small": small["checksum"],
                "requests": large["requests"] - small["requests"],
                "per_request": per,
                "events": counts,
                "cycles_per_request": cycles,
                "cycle_breakdown": model.breakdown(counts),
                "mb_per_s_modeled": BLOCK / (cycles / MODELED_HZ) / 1e6 if cycles else None,
                "mb_per_s_host": _host_rate(large),
                "host_seconds": {"small": small["host_seconds"], "large": large["host_seconds"]},
            })
    by_name = {r["model"]: r for r in rows}
    for row in rows:
        base = by_name.get(row["native"])
        row["overhead_percent"] = (100.0 * (row["cycles_per_request"] / base["cycles_per_request"] - 1)
                                   if base else None)
        row["vmware_io"] = verdict(row["overhead_percent"], VMWARE_IO)
    network = _run_network(quick, model, say)
    result = {
        "suite": "io",
        "quick": quick,
        "blocks": {"small": small_blocks, "large": large_blocks},
        "block_bytes": BLOCK,
        "modeled_hz": MODELED_HZ,
        "cost_model": model.as_dict(),
        "vmware": {"io_percent": list(VMWARE_IO), "cpu_percent": list(VMWARE_CPU)},
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "node": platform.node(), "cpus": os.cpu_count()},
        "models": rows,
        "network": network,
        "cpu_control": _cpu_control(model, say) if cpu_control else None,
    }
    checksums = {(r["checksum"], r["checksum_small"]) for r in rows}
    result["checksums_equal"] = len(checksums) == 1
    return result


def _host_rate(run):
    """Guest bytes over the host time of the whole run (the device's set-up
    and the console line included: a difference of two short runs is mostly
    noise on a shared machine)."""
    return run["requests"] * BLOCK / run["host_seconds"] / 1e6 if run["host_seconds"] > 0 else None


def _cpu_control(model, say):
    """The kernel's compute workload natively and under hw-nested, priced
    per iteration as the technique comparison prices it."""
    out = {"workload": "compute", "iterations": list(CPU_ITERATIONS), "columns": {}}
    for column in ("native", "hw-nested"):
        say(f"io: CPU control, compute under {column}")
        runs = [cell.run_spec(cell.spec(column, "compute", n)) for n in CPU_ITERATIONS]
        for run in runs:
            if not run["ok"]:
                raise IoBenchError(f"compute under {column}: {run['error']}")
        n = CPU_ITERATIONS[1] - CPU_ITERATIONS[0]
        c0, c1 = (model.cycles(costmodel.events(r)) for r in runs)
        out["columns"][column] = {"cycles_per_iteration": (c1 - c0) / n,
                                  "instret_per_iteration": (runs[1]["instret"] - runs[0]["instret"]) / n,
                                  "exits_per_iteration": (sum(runs[1]["exits"].values())
                                                          - sum(runs[0]["exits"].values())) / n,
                                  "checksum": runs[1].get("checksum")}
    native = out["columns"]["native"]["cycles_per_iteration"]
    hw = out["columns"]["hw-nested"]["cycles_per_iteration"]
    out["overhead_percent"] = 100.0 * (hw / native - 1)
    out["vmware_cpu"] = verdict(out["overhead_percent"], VMWARE_CPU)
    return out


# -------------------------------------------------------------- the network

NET_FULL = 1514                   # a bulk frame: a full-size Ethernet frame
NET_BATCH = 4                     # bulk frames behind one doorbell (net_workload.inc)
NET_PEER = "echo"                 # the netdev of every network model
# (small, large) frame counts per workload; both print the same digits.
NET_SIZES = {"quick": (16, 32), "default": (32, 64)}


@dataclass(frozen=True)
class NetWorkload:
    name: str                     # "rr" or "bulk": what the guest prints
    mode: int                     # net_workload.inc's NET_MODE
    description: str


NET_WORKLOADS = (
    NetWorkload("rr", 0, "request/response: one 64..312-byte frame in flight, each answered "
                "by the peer's echo"),
    NetWorkload("bulk", 1, f"bulk: full-size frames ({NET_FULL} bytes) in batches of "
                f"{NET_BATCH} behind one doorbell, echoed back by the peer"),
)


def _nic_devices(driver):
    from pyvmm.machine.devices import DeviceConfig
    device = "pyvmm-nic,netdev=n0" if driver == "nic" else "virtio-net-device,netdev=n0"
    return DeviceConfig(netdevs=[f"{NET_PEER},id=n0"], devices=[device])


def setup_net_native(driver, guest):
    """The bare board under the built-in SBI, the NIC on the board."""
    return _boot_native(guest, _nic_devices(driver))


def setup_net_vm_device_model(driver, guest):
    """A VM under --technique hw with the NIC in its own device set: a model
    in the hypervisor serves every register access as an MMIO exit."""
    return _boot_vm(guest, _nic_devices(driver))


def setup_net_passthrough(driver, guest):
    """The host's pyvmm-nic assigned to a VM under --technique hw: BAR
    accesses go to the controller without the VM's exits, its DMA goes
    through the host IOMMU with the VM's G-stage table."""
    from pyvmm.io.net.echo import EchoNetdev
    from pyvmm.io.pci.nic import NicController
    if driver != "nic":
        raise IoBenchError(f"passthrough assigns the host's pyvmm-nic, not {driver}")
    return _boot_passthrough(guest, NicController(EchoNetdev("n0")))


NET_VF_PF_MAC = "52:54:00:12:34:55"    # so VF 0 has 52:54:00:12:34:56, the other models' NIC MAC


def setup_net_vm_vf(driver, guest):
    """Virtual function 0 of the host's SR-IOV pyvmm-nic (SRIOV_VFS of
    them) assigned to a VM under --technique hw: its own routing ID, IOMMU
    context, rings and MAC, BAR accesses without the VM's exits, its frames
    through the PF's switch to the wire. The PF's MAC is NET_VF_PF_MAC, so
    the VF's address, and with it every frame, is the other models'."""
    from pyvmm.io.net.echo import EchoNetdev
    from pyvmm.io.pci.nic import NicController
    if driver != "nic":
        raise IoBenchError(f"an SR-IOV VF is one of the host's pyvmm-nic's, not {driver}")
    return _vf0_target(NicController(EchoNetdev("n0"), mac=NET_VF_PF_MAC, sriov_max_vfs=SRIOV_VFS),
                       guest)


def setup_net_service_vm(driver, guest):
    """Type 1 with a service VM: the host's pyvmm-nic assigned to a service
    VM (guests/split/dom0_net.S), the workload in a frontend VM whose frames
    cross a granted ring to it and go out, and come back, through the NIC's
    DMA into the frontend's granted pages; both under --technique hw."""
    from pyvmm.io.net.echo import EchoNetdev
    from pyvmm.io.pci.nic import NicController
    if driver != "ring":
        raise IoBenchError(f"a service VM's frontend runs the ring driver, not {driver}")
    return _service_vm_target(NicController(EchoNetdev("n0")), "nic", "dom0_net.S", guest)


NET_MODELS = (
    IoModel("native-nic", "pyvmm-nic on the bare board (--bios builtin)", "nic", setup_net_native),
    IoModel("native-virtio", "virtio-net on the bare board (--bios builtin)", "virtio",
            setup_net_native),
    IoModel("direct", "hypervisor direct: the emulated pyvmm-nic in the VM's device set, hw",
            "nic", setup_net_vm_device_model, native="native-nic"),
    _hosted("direct", "hypervisor direct", "nic", "native-nic"),
    IoModel("split", "split driver: virtio-net in a VM under hw, back-end in the host",
            "virtio", setup_net_vm_device_model, native="native-virtio"),
    _hosted("split", "split driver", "virtio", "native-virtio"),
    IoModel("passthrough", "the host's pyvmm-nic assigned to the VM, DMA through the IOMMU, hw",
            "nic", setup_net_passthrough, native="native-nic"),
    IoModel("sriov-vf", "virtual function 0 of the host's SR-IOV pyvmm-nic assigned to the VM, "
            "its own IOMMU context, hw", "nic", setup_net_vm_vf, native="native-nic"),
    IoModel("service-vm", "type 1 with a service VM: the frontend's frames cross a granted "
            "ring to the VM that owns the assigned pyvmm-nic", "ring", setup_net_service_vm,
            native="native-nic"),
)
NET_BY_NAME = {m.name: m for m in NET_MODELS}


def net_guest_source(directory, driver, workload, frames):
    """A wrapper that picks the workload, sizes it and includes the driver."""
    source = os.path.join(guests_dir(), f"net_{driver}.S")
    if not os.path.isfile(source):
        raise IoBenchError(f"{source}: no such guest")
    path = os.path.join(directory, f"net_{driver}_{workload.name}_{frames}.S")
    with open(path, "w") as f:
        f.write(f"    .equ NET_MODE, {workload.mode}\n    .equ NET_FRAMES, {frames}\n"
                f"    .equ NET_BATCH, {NET_BATCH}\n    .include \"{source}\"\n")
    return path


def net_expected_line(workload, frames):
    if workload.name == "rr":
        return f"net_bench: rr {frames} frames, checksum 0x"
    return f"net_bench: bulk {frames} frames of {NET_FULL} bytes, checksum 0x"


def run_net_once(model, workload, frames, scratch):
    """One run of `model`'s driver through `workload` over `frames` frames;
    returns its counters (run_once's, with the frames' bytes)."""
    guest = net_guest_source(scratch, model.driver, workload, frames)
    target = model.setup(model.driver, guest)
    what = f"{model.name} ({workload.name}, {frames} frames)"
    result, seconds, stats, output, exits, core, interrupts = _run_target(target, what)
    if target.function is not None:
        nic = target.function.stats()
    else:
        nic = _device_stats(stats, "NicController" if model.driver == "nic" else "VirtioNet")
    target.close()
    output = output.decode("ascii", "replace")
    line = _check_end(result, output, what)
    if not line.startswith(net_expected_line(workload, frames)):
        raise IoBenchError(f"{what}: the guest printed {line!r}")
    if nic.get("netdev_echoed") != frames:
        raise IoBenchError(f"{what}: the peer echoed {nic.get('netdev_echoed')} frames, "
                           f"not {frames}")
    moved = nic.get("netdev_tx_bytes", 0) + nic.get("netdev_rx_bytes", 0)
    return {
        "checksum": line.rsplit(" ", 1)[1],
        "requests": frames,
        "frame_bytes": int(nic.get("netdev_tx_bytes", 0)),
        **_access_counters(target, stats, core, exits),
        "device_blocks": moved / BLOCK,
        "virtio_notifies": 0 if target.native or model.driver != "virtio"
        else int(nic.get("notifications", 0)),
        "interrupt_injections": max(0, int(interrupts)),
        "host_seconds": seconds,
    }


def _run_network(quick, model, say, models=NET_MODELS, workloads=NET_WORKLOADS):
    """Every network model through every network workload."""
    small_frames, large_frames = NET_SIZES["quick" if quick else "default"]
    out = {"frames": {"small": small_frames, "large": large_frames}, "peer": NET_PEER,
           "batch": NET_BATCH, "workloads": []}
    with tempfile.TemporaryDirectory(prefix="pyvmm-io-net-bench-") as scratch:
        for workload in workloads:
            measured = {}
            rows = []
            for m in models:
                source = NET_BY_NAME[m.runs] if m.runs else m
                if source.name not in measured:
                    say(f"io: {workload.name} under {source.name} "
                        f"({small_frames} and {large_frames} frames)")
                    measured[source.name] = (
                        run_net_once(source, workload, small_frames, scratch),
                        run_net_once(source, workload, large_frames, scratch))
                small, large = measured[source.name]
                per = per_request(small, large)
                n = large["requests"] - small["requests"]
                per["frame_bytes"] = (large["frame_bytes"] - small["frame_bytes"]) / n
                counts = events(per, m.hosted)
                cycles = model.cycles(counts)
                seconds = cycles / MODELED_HZ if cycles else None
                rows.append({
                    "model": m.name, "description": m.description, "driver": m.driver,
                    "native": m.native, "hosted": m.hosted, "runs": source.name,
                    "checksum": large["checksum"], "checksum_small": small["checksum"],
                    "requests": n,
                    "per_request": per,
                    "events": counts,
                    "cycles_per_request": cycles,
                    "cycle_breakdown": model.breakdown(counts),
                    "requests_per_s_modeled": 1 / seconds if seconds else None,
                    "mb_per_s_modeled": per["frame_bytes"] / seconds / 1e6 if seconds else None,
                    "mb_per_s_host": (large["frame_bytes"] / large["host_seconds"] / 1e6
                                      if large["host_seconds"] > 0 else None),
                    "host_seconds": {"small": small["host_seconds"],
                                     "large": large["host_seconds"]},
                })
            by_name = {r["model"]: r for r in rows}
            for row in rows:
                base = by_name.get(row["native"])
                row["overhead_percent"] = (
                    100.0 * (row["cycles_per_request"] / base["cycles_per_request"] - 1)
                    if base else None)
                row["vmware_io"] = verdict(row["overhead_percent"], VMWARE_IO)
            checksums = {(r["checksum"], r["checksum_small"]) for r in rows}
            out["workloads"].append({"workload": workload.name,
                                     "description": workload.description,
                                     "models": rows, "checksums_equal": len(checksums) == 1})
    return out

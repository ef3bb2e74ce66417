"""The cost model: modeled CPU cycles from a run's counters.

pyvmm's host seconds measure a Python hypervisor over an emulator, which says
little about what the same events cost on silicon; papers compare techniques
in cycles. So each run's counters are priced with stated parameters:

    cycles = instructions * instruction          guest instructions retired
           + traps        * trap                 traps and interrupts the hart delivered itself
           + exits        * exit                 VM exits: to the hypervisor and back
           + walk_refs    * walk_ref             page-table memory references
           + callouts     * callout              bt: translated code calling the VMM
           + hypercalls   * hypercall            pv: explicit calls to the hypervisor
           + device_accesses * device_access     a load/store reaching a device (native, passthrough)

and for the I/O suite (pyvmm.bench.io_suite), whose exits are priced by kind:

           + mmio_exits   * mmio_exit            an exit to a device model in the hypervisor
           + translations * iommu_translation    DMA translations by the IOMMU
           + iotlb_misses * iotlb_miss           of which missed the IOTLB (walked)
           + notifies     * virtio_notify        virtqueue notifies the host back-end serves
           + injections   * interrupt_injection  interrupts a VM took, injected by the hypervisor
           + hosted_exits * hosted_exit          type 2: I/O exits that also cross the host OS
           + blocks       * device_service       the device's own time per 4 KiB moved

Every parameter and its source is in docs/bench.md. Users replace any of
them with --cost-model FILE.json ({"exit": 3000}) or key=value. Modeled
cycles and host seconds are reported side by side and never mixed.
"""

import json
from dataclasses import asdict, dataclass, fields, replace


class CostModelError(Exception):
    """A bad cost-model file or override (one line)."""


@dataclass(frozen=True)
class CostModel:
    instruction: float = 1.0      # cycles per guest instruction (CPI)
    trap: float = 100.0           # a trap taken and returned from by the hart itself
    exit: float = 1500.0          # one VM exit round trip, dispatch included
    walk_ref: float = 20.0        # one page-table memory reference of a walk
    callout: float = 300.0        # one call from translated code into the VMM (bt)
    hypercall: float = 500.0      # one paravirtual hypercall (pv)
    device_access: float = 500.0  # one uncached device-register access on real hardware
    mmio_exit: float = 4000.0     # an MMIO exit served by a device model in the hypervisor
    iommu_translation: float = 10.0   # one DMA translation that hits in the IOTLB
    iotlb_miss: float = 300.0     # one IOTLB miss: the IOMMU walks the context and G-stage table
    virtio_notify: float = 2000.0  # the host back-end woken by a guest's virtqueue notify
    interrupt_injection: float = 1000.0  # a virtual interrupt injected into a VM
    hosted_exit: float = 20000.0  # type 2: the host-OS round trip an I/O exit adds
    device_service: float = 0.0   # the device's own time per 4 KiB it moves (0: not modeled)

    def cycles(self, counts):
        """Modeled cycles of `counts` (a dict with the keys of events())."""
        return sum(getattr(self, key) * counts.get(key, 0) for key in PARAMETERS)

    def breakdown(self, counts):
        return {key: getattr(self, key) * counts.get(key, 0) for key in PARAMETERS}

    def with_overrides(self, overrides):
        unknown = set(overrides) - set(PARAMETERS)
        if unknown:
            raise CostModelError(f"unknown cost-model parameter(s): {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(PARAMETERS)})")
        checked = {}
        for key, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CostModelError(f"cost-model {key}: expected a number, not {value!r}")
            if not value >= 0 or value == float("inf"):
                raise CostModelError(f"cost-model {key}: must be a finite number >= 0, not {value}")
            checked[key] = float(value)
        return replace(self, **checked)

    def as_dict(self):
        return asdict(self)


PARAMETERS = tuple(f.name for f in fields(CostModel))
# priced by the I/O suite alone (pyvmm.bench.io_suite.events)
IO_PARAMETERS = ("mmio_exit", "iommu_translation", "iotlb_miss", "virtio_notify",
                 "interrupt_injection", "hosted_exit", "device_service")
DEFAULT = CostModel()


def events(run):
    """The counts a run result (pyvmm.bench.cell.run_spec) is priced on."""
    core = run["core"]
    return {
        "instruction": run["instret"],
        "trap": core.get("traps", 0) + core.get("interrupts", 0),
        # Callouts and hypercalls that leave the core as exits are priced as
        # what they are, not twice.
        "exit": max(0, sum(run["exits"].values()) - run.get("callouts", 0)
                    - run.get("hypercalls", 0)),
        "walk_ref": core.get("walk_mem_refs", 0),
        "callout": run.get("callouts", 0),
        "hypercall": run.get("hypercalls", 0),
        # Under a hypervisor the device is a model in the VMM: its accesses are
        # the mmio exits (priced as exits), not bus cycles.
        "device_access": run.get("device_accesses", 0),
        # The technique comparison prices every exit, mmio ones included, as
        # `exit`, and its kernel does no DMA: the I/O suite's events are none.
        **{key: 0 for key in IO_PARAMETERS},
    }


def parse_override(text):
    """'exit=3000' -> ("exit", 3000.0)."""
    key, sep, value = text.partition("=")
    if not sep:
        raise CostModelError(f"cost-model override {text!r}: expected KEY=NUMBER")
    try:
        number = float(value)
    except ValueError:
        raise CostModelError(f"cost-model override {text!r}: {value!r} is not a number") from None
    return key.strip(), number


def load(sources, base=DEFAULT):
    """The model with each source applied in order: a path to a JSON object
    of parameter -> number, or a KEY=NUMBER override."""
    model = base
    for source in sources:
        if "=" in source and not source.endswith(".json"):
            key, value = parse_override(source)
            model = model.with_overrides({key: value})
            continue
        try:
            with open(source) as f:
                data = json.load(f)
        except OSError as exc:
            raise CostModelError(f"{source}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise CostModelError(f"{source}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise CostModelError(f"{source}: expected a JSON object of parameter: number")
        model = model.with_overrides(data)
    return model

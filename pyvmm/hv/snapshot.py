"""Snapshots of a VM: `vm.save(path, base=None)` and `host.restore(path)`.

A VM file is the board's snapshot container (pyvmm.machine.snapfile) with
META kind "vm". It holds what the guest can observe and nothing the host
owns:

* options: RAM size and guest-physical base, technique, paging, VCPUs,
  boot arguments, devices, initrd, Sstc, the host hart's CPU profile;
* every VCPU's architectural state as its technique keeps it (hw: x, f,
  fcsr, pc, privilege and V, the VS-level CSRs with hstatus, hedeleg,
  hideleg, hie, hvip, henvcfg, hcounteren, htimedelta and vstimecmp, the
  software timer, WFI waits; trap-emulate and bt: the virtual supervisor
  (SupervisorState) and the real timer it armed, plus bt's choice of which
  stores are translated as page-table callouts and its fetch map; pv: mode,
  callback, info page, pending events, timer), its HSM state and counters;
* the shadow pager's contents by guest address (ShadowPager.export_state):
  they decide hidden faults, write-protect traps and bt's adaptive stores;
* the VM's policy counters, device set (pyvmm.machine.snapshot's device
  code), console input not yet delivered, exit/SBI/fault counters, images'
  symbols, device-tree and initrd placement;
* the host clock the guest's time derives from (mtime, the instruction
  count it is computed from, instructions per tick);
* RAM by guest-physical page, so a restored VM may sit on other frames.

Not in the file: the host's own registers and choices — hgatp and the
VMID (a restored VM gets a new VMID and its own G-stage tables), which host
frames back which guest page, the frames and ASIDs of shadow trees — and the
hypervisor's caches: bt's translated code (translated again from its saved
layout), TLBs, decoded instructions.

Two functions do the work so that other lifecycle code (migration) can use
them without files:

    capture_vm(vm) -> (options, state, pages)
        options and state are tagged-JSON-able; pages iterates
        (gpa, 4 KiB bytes) over the guest pages that are not all zeros, in
        GPA order, reading guest RAM as it goes (iterate it before the VM
        runs again).
    build_vm(host, options, state, pages, console=None, stdin=None, name=None) -> VM
        pages is {gpa: 4 KiB bytes-like} (missing pages are zero); every
        part is checked before a frame is taken, and a failure after that
        gives every frame back: the host is left as it was.
"""

import collections

import numpy as np

from pyvmm.hv.exits import Tally
from pyvmm.hv.host import HvError
from pyvmm.hv.interdomain import DOMAIN_EID
from pyvmm.machine import snapshot as board_snapshot
from pyvmm.machine.snapfile import PAGE_SIZE, SnapshotError

KIND_VM = "vm"
# What a VM file's state holds: 2 added the shadow pager's contents and bt's
# fetch map (without them a restored VM takes other exits than the saved one).
STATE_VERSION = 2
MASK64 = (1 << 64) - 1
MAX_SETTLE_STEPS = 64           # a bt rewrite is a few words long
HW_TECHNIQUE = "hw"
PRIV_S = 1

# The state a VCPU of each kind carries, beside x, f, fcsr and pc.
HW_FIELDS = ("priv", "virt", "soft_timer", "blocked_until", "waiting_for_interrupt",
             "time_skipped", "instret", "runs", "guest_satp")
TRAP_EMULATE_FIELDS = ("real_mtimecmp", "blocked_until", "time_skipped", "instret",
                       "emulated_insns", "runs", "guest_satp")
BT_FIELDS = ("lookups", "lookup_misses", "interrupt_steps")
PV_FIELDS = ("mode", "callback", "info_gpa", "pending_events", "timer", "blocked_until",
             "time_skipped", "instret", "runs", "external_level", "software_level")
SUPERVISOR_FIELDS = ("priv", "sstatus", "sie", "sip", "stvec", "scounteren", "senvcfg",
                     "sscratch", "sepc", "scause", "stval", "stimecmp", "satp", "mcounteren")
# Counters of each policy (Counter, dict or int attributes).
POLICY_FIELDS = {
    "hw": ("emulated",),
    "trap-emulate": ("exits", "emulated", "csr_accesses", "reflected", "completed_in_core"),
    "bt": ("exits", "emulated", "csr_accesses", "reflected", "callouts", "pt_store_traps",
           "ptstore_plain", "ptstore_reverts", "ptstore_fallbacks"),
    "pv": ("hypercalls", "upcalls", "mmu_batches", "pte_updates", "refused_ptes", "blocks",
           "direct_pt_writes"),
}
# The flag bits a shadow leaf may have: V, R, W, X, U, A, D (never G: a
# global leaf would outlive its tree's ASID in the hart's TLB).
LEAF_FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x80
# Shadow pager figures that say what it holds now, not how often something happened.
PAGER_GAUGES = ("shadow_pages", "spaces")
# Registers a hw VCPU carries that belong to the host: the G-stage root and
# VMID (a restored VM gets its own from configure).
HOST_OWNED_CSRS = ("hgatp",)


def _kind(technique):
    """Which VCPU layout a technique's state has."""
    if technique in ("trap-emulate", "bt"):
        return "supervisor"
    if technique == "pv":
        return "pv"
    return "hw"


# -- capture -----------------------------------------------------------------------------------


def vm_options(vm):
    config = vm.device_set.config
    return {
        "ram_size": vm.ram_size, "ram_base": vm.ram_base, "technique": vm.technique,
        "paging": vm.paging, "vcpus": vm.num_vcpus, "bootargs": vm.bootargs,
        "initrd": vm.initrd_path, "sstc": bool(vm.sstc),
        "cpu_profile": int(vm.host.core.cpu_profile),
        "devices": {"drives": list(config.drives), "devices": list(config.devices),
                    "netdevs": list(config.netdevs), "virtio_legacy": bool(config.virtio_legacy),
                    "iommu": bool(config.iommu)},
    }


def _settle(vm):
    """A bt VCPU stopped inside the rewrite of one guest instruction (its
    spill slots live) steps to the rewrite's end: a guest instruction is
    saved whole or not at all. The steps are the guest's own next
    instructions, so they come out of the slice the VCPU was in."""
    for vcpu in vm.vcpus:
        if not hasattr(vcpu, "at_boundary") or _at_boundary(vcpu):
            continue
        vcpu.activate()
        budget_stop = vm.stopped
        vm.resume()
        before = vcpu.instret
        # The steps' own budget stops are the save's, not the guest's: not counted.
        budget_exits = vm.exit_counts["budget"], _policy_budget_exits(vm)
        try:
            for _ in range(MAX_SETTLE_STEPS):
                vm.handle(vcpu, vcpu.run(1))
                if vm.stopped or vcpu.at_boundary():
                    break
        finally:
            if budget_stop and not vm.stopped:
                vm.request_stop("budget", 0)
            vm.exit_counts["budget"] = budget_exits[0]
            if budget_exits[1] is not None:
                vm.policy.exits["budget"] = budget_exits[1]
        if vm.stopped and vm.result.how != "budget":
            raise HvError(f"{vm.name} stopped ({vm.result.how}) finishing an instruction before "
                          "the save: there is nothing to save")
        if not vcpu.at_boundary():
            raise HvError(f"{vm.name}: bt VCPU {vcpu.hartid} does not reach an instruction "
                          f"boundary (core pc {vcpu.core.pc:#x})")
        left = getattr(vcpu, "slice_left", None)
        if left is not None:
            left -= vcpu.instret - before
            vcpu.slice_left = left if left > 0 else None


def _policy_budget_exits(vm):
    exits = getattr(vm.policy, "exits", None)
    return exits.get("budget", 0) if isinstance(exits, dict) else None


def _at_boundary(vcpu):
    if vcpu.loaded:
        return vcpu.at_boundary()
    # Saved out of the core: its pc is a guest pc (stale, or user code) or a TC address.
    return vcpu.state.priv != PRIV_S or vcpu._pc_stale or vcpu._pc in vcpu.tc.boundaries


def _tc_pc(vcpu):
    """A bt VCPU in virtual S running translated code: the TC offset of the
    instruction it stands at, so that it resumes in the same block."""
    tc = getattr(vcpu, "tc", None)
    if tc is None or vcpu.state.priv != PRIV_S or vcpu._pc_stale:
        return None
    addr = vcpu.core.pc if vcpu.loaded else vcpu._pc
    block = tc.block_containing(addr)
    if block is None or tc.blocks.get(block.guest_pc) is not block:
        return None                # a dropped block: resume at the guest pc instead
    return addr - tc.base


def _ints(values):
    return [int(v) for v in values]


def _vcpu_state(vm, vcpu, pc, tc_pc=None):
    kind = _kind(vm.technique)
    state = {"hartid": vcpu.hartid, "x": _ints(vcpu.x), "f": _ints(vcpu.f),
             "fcsr": int(vcpu.fcsr), "pc": int(pc)}
    if kind == "hw":
        fields = HW_FIELDS
        state["csrs"] = {name: int(value) for name, value in vcpu.csrs.items()
                         if name not in HOST_OWNED_CSRS}
    elif kind == "supervisor":
        fields = TRAP_EMULATE_FIELDS + (BT_FIELDS if vm.technique == "bt" else ())
        state["supervisor"] = {name: int(getattr(vcpu.state, name)) for name in SUPERVISOR_FIELDS}
        if vm.technique == "bt":
            state["tc"] = vcpu.tc.layout()
            state["fetch_map"] = vcpu.export_fetch_map()
            # Where in its translation the guest kernel stands (None: at a guest pc
            # to be looked up, or in guest user code).
            state["tc_pc"] = tc_pc
    else:
        fields = PV_FIELDS
    for name in fields:
        state[name] = getattr(vcpu, name, None)
    state["time_skipped"] = getattr(vcpu, "time_skipped", 0)
    state["slice_left"] = getattr(vcpu, "slice_left", None)     # the scheduler's turn
    return state


def _policy_state(vm):
    policy = vm.policy
    out = {}
    for name in POLICY_FIELDS.get(vm.technique, ()):
        value = getattr(policy, name)
        out[name] = dict(value) if isinstance(value, dict) else value
    return out


def check_self_contained(vm):
    """A VM whose state is partly outside it cannot be saved, cloned or
    migrated: an assigned device's registers, queues and in-flight DMA live
    in the host's function, and grants and event channels bind it to other
    VMs (Xen refuses to migrate such domains too). Refused, not lost."""
    if vm.assigned_devices:
        names = ", ".join(a.function.name for a in vm.assigned_devices)
        raise HvError(f"{vm.name} has host devices assigned ({names}): their state lives in the "
                      f"host's hardware, so the VM cannot be saved, cloned or migrated")
    if any(eid == DOMAIN_EID for eid, _ in vm.hypercalls):
        raise HvError(f"{vm.name} takes part in grant tables and event channels: its grants bind it "
                      f"to other VMs, so it cannot be saved, cloned or migrated")


def capture_vm(vm):
    """(options, state, pages) of a VM that can be saved now: booted, not
    stopped for good (a budget stop is fine). Every VCPU's state is taken
    out of the core first; the VCPU the core held is put back, so the VM
    runs on as if nothing happened."""
    if vm.stopped and vm.result.how != "budget":
        raise HvError(f"{vm.name} has stopped ({vm.result.how}): there is nothing to save")
    check_self_contained(vm)
    vm.boot()
    host = vm.host
    _settle(vm)
    held = host.current_vcpu
    if held is not None and held.vm is not vm:
        held = None
    # The guest pc while loaded (a bt VCPU's core pc is a translation's).
    pcs = [vcpu.pc for vcpu in vm.vcpus]
    tc_pcs = [_tc_pc(vcpu) for vcpu in vm.vcpus]
    if held is not None:
        held.save()
    for vcpu in vm.vcpus:
        if vcpu.loaded:
            vcpu.save()         # held by another host hart: loaded there again on its next turn
    try:
        vcpus = [_vcpu_state(vm, vcpu, pc, tc_pc) for vcpu, pc, tc_pc in zip(vm.vcpus, pcs, tc_pcs)]
    finally:
        if held is not None:
            # The lazy swap as it was: saving is not a VCPU switch.
            switches = host.vcpu_switches
            held.activate()
            host.vcpu_switches = switches
    core = host.core
    regions = {region.name: region.accesses for region in vm.devices.regions}
    state = {
        "version": STATE_VERSION,
        "vcpus": vcpus,
        "last_vcpu": held.hartid if held is not None else None,
        "hart_states": {int(h): int(s) for h, s in vm.hart_states.items()},
        "external_irq": list(vm.external_irq),
        "policy": _policy_state(vm),
        "devices": board_snapshot.device_states(vm.device_set),
        "clock": {"mtime": core.mtime, "clock_insns": core.clock_insns,
                  "insns_per_tick": core.insns_per_tick},
        "pager": {"guest_satp": vm.pager.guest_satp, "counters": dict(vm.pager.counters),
                  "shadow": vm.pager.export_state(_watchers(vm), _host_tables(vm))}
                 if vm.pager is not None else None,
        "vm": {
            "dtb_gpa": vm.dtb_gpa,
            "initrd_range": tuple(vm.initrd_range) if vm.initrd_range else None,
            "symbols": dict(sorted(vm.symbols.items())),
            "console_input": vm.input.unread(),
            "exit_counts": dict(sorted(vm.exit_counts.items())),
            "sbi_counts": dict(vm.sbi_counts),
            "reflected_faults": dict(vm.reflected_faults),
            "mmio_faults": vm.mmio_faults,
            "mmio_accesses": regions,
            "unmapped_accesses": vm.devices.unmapped_accesses,
        },
    }
    return vm_options(vm), state, _guest_pages(vm)


def _watchers(vm):
    """The callbacks the VM's policy watches guest pages with, by name."""
    watchers = getattr(vm.policy, "pager_watchers", None)
    return watchers() if watchers is not None else {}


def _host_tables(vm):
    """The policy's own tables linked into shadow trees, by name."""
    tables = getattr(vm.policy, "pager_host_tables", None)
    return tables() if tables is not None else {}


def _guest_pages(vm):
    """(gpa, bytes) for every guest page that is not all zeros, in GPA
    order, read from guest RAM as the iteration goes: iterate before the VM
    runs again."""
    core = vm.host.core
    ram = np.frombuffer(core.ram_buffer, dtype=np.uint8)
    frames = (np.array(vm._page_hpa, dtype=np.int64) - vm.host.ram_base) // PAGE_SIZE
    if not len(frames):
        return
    # Which host frames hold anything (no copy of guest RAM), then the VM's, by GPA.
    busy = ram.view(np.uint64).reshape(-1, PAGE_SIZE // 8).any(axis=1)
    used = np.flatnonzero(busy[frames])
    for index in used:
        offset = int(frames[index]) * PAGE_SIZE
        yield vm.ram_base + int(index) * PAGE_SIZE, bytes(ram[offset:offset + PAGE_SIZE])


def save_vm(vm, path, base=None):
    """Write the VM's snapshot to `path`; with `base` (an earlier snapshot of
    this VM) only the RAM pages that differ from it. -> SHA-256 (hex)."""
    options, state, pages = capture_vm(vm)
    ram_base = options["ram_base"]
    indexed = [((gpa - ram_base) // PAGE_SIZE, data) for gpa, data in pages]
    meta = {"kind": KIND_VM, "options": options}
    if base is not None:
        base_meta, _, _, _, _ = board_snapshot.read_chain(base, KIND_VM)
        if _identity(base_meta.get("options")) != _identity(options):
            raise SnapshotError(f"{base}: a snapshot of another VM configuration")
    return board_snapshot.write_snapshot(path, meta, state, ram_base, options["ram_size"], indexed,
                                         base, KIND_VM)


def _identity(options):
    if not isinstance(options, dict):
        return None
    return {key: options.get(key) for key in ("ram_size", "ram_base", "technique", "paging",
                                              "vcpus", "devices")}


# -- build -------------------------------------------------------------------------------------


def _require(condition, what):
    if not condition:
        raise SnapshotError(f"corrupt VM state ({what})")


def _is_int(value, low=0, high=MASK64):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_options(options):
    _require(isinstance(options, dict), "options are not a mapping")
    for key in ("ram_size", "ram_base", "vcpus", "cpu_profile"):
        _require(_is_int(options.get(key)), f"options.{key}")
    for key in ("technique", "paging", "bootargs"):
        _require(isinstance(options.get(key), str), f"options.{key}")
    _require(options.get("initrd") is None or isinstance(options["initrd"], str), "options.initrd")
    _require(isinstance(options.get("sstc"), bool), "options.sstc")
    devices = options.get("devices")
    _require(isinstance(devices, dict), "options.devices")
    for key in ("drives", "devices", "netdevs"):
        _require(isinstance(devices.get(key), list)
                 and all(isinstance(s, str) for s in devices[key]), f"options.devices.{key}")
    _require(isinstance(devices.get("virtio_legacy"), bool), "options.devices.virtio_legacy")
    _require(isinstance(devices.get("iommu", False), bool), "options.devices.iommu")


def _check_vcpu(technique, number, state, ram_base, ram_size):
    where = f"VCPU {number}"
    _require(isinstance(state, dict), f"{where} is not a mapping")
    _require(state.get("hartid") == number, f"{where}: hart id")
    for key in ("x", "f"):
        _require(isinstance(state.get(key), list) and len(state[key]) == 32
                 and all(_is_int(v) for v in state[key]), f"{where}: {key} registers")
    _require(_is_int(state.get("fcsr"), 0, 0xFF), f"{where}: fcsr")
    _require(_is_int(state.get("pc")), f"{where}: pc")
    _require(_is_int(state.get("time_skipped")), f"{where}: time_skipped")
    _require("slice_left" in state and (state["slice_left"] is None
                                        or _is_int(state["slice_left"], 1)), f"{where}: slice_left")
    kind = _kind(technique)
    optional = {"soft_timer", "blocked_until", "guest_satp", "callback", "info_gpa", "timer"}
    fields = {"hw": HW_FIELDS, "pv": PV_FIELDS}.get(
        kind, TRAP_EMULATE_FIELDS + (BT_FIELDS if technique == "bt" else ()))
    for name in fields:
        value = state.get(name)
        if name in ("waiting_for_interrupt", "external_level", "software_level"):
            _require(name in state and (value is None or isinstance(value, bool)), f"{where}: {name}")
        elif name in optional and value is None:
            _require(name in state, f"{where}: {name}")
        else:
            _require(_is_int(value), f"{where}: {name}")
    if kind == "hw":
        from pyvmm.hv.vcpu import VCPU_CSRS
        csrs = state.get("csrs")
        _require(isinstance(csrs, dict) and set(csrs) == set(VCPU_CSRS) - set(HOST_OWNED_CSRS)
                 and all(_is_int(v) for v in csrs.values()), f"{where}: CSRs")
        _require(_is_int(state["priv"], 0, 1) and _is_int(state["virt"], 0, 1), f"{where}: mode")
    elif kind == "supervisor":
        supervisor = state.get("supervisor")
        _require(isinstance(supervisor, dict) and set(supervisor) == set(SUPERVISOR_FIELDS)
                 and all(_is_int(v) for v in supervisor.values()), f"{where}: supervisor CSRs")
        _require(supervisor["priv"] in (0, 1), f"{where}: virtual privilege")
        if technique == "bt":
            _check_tc(state.get("tc"), state.get("tc_pc"), where)
            _check_fetch_map(state.get("fetch_map"), where)
    else:
        _require(state["mode"] in (0, 1), f"{where}: mode")
        info = state["info_gpa"]
        _require(info is None or _is_int(info) and ram_base <= info
                 and info + 64 <= ram_base + ram_size and info % 8 == 0
                 and info // PAGE_SIZE == (info + 63) // PAGE_SIZE,
                 f"{where}: info page outside the VM's RAM")


def _check_tc(tc, tc_pc, where):
    from pyvmm.hv.bt.layout import TC_SIZE
    _require(isinstance(tc, dict), f"{where}: translation cache layout")
    _require(_is_int(tc.get("cursor"), 0, TC_SIZE), f"{where}: TC cursor")
    blocks = tc.get("blocks")
    _require(isinstance(blocks, list) and all(
        isinstance(b, tuple) and len(b) == 4 and _is_int(b[0], 0, TC_SIZE - 1) and _is_int(b[1])
        and _is_int(b[2], 4, TC_SIZE) and b[0] + b[2] <= tc["cursor"] and isinstance(b[3], bool)
        for b in blocks), f"{where}: TC blocks")
    chains = tc.get("chains")
    _require(isinstance(chains, list) and all(
        isinstance(c, tuple) and len(c) == 3 and _is_int(c[0], 0, TC_SIZE - 1) and _is_int(c[1])
        and (c[2] is None or _is_int(c[2], 0, TC_SIZE - 1)) for c in chains), f"{where}: TC chains")
    _require(isinstance(tc.get("ptstores"), list) and all(_is_int(v) for v in tc["ptstores"]),
             f"{where}: ptstores")
    _require(_is_int(tc.get("generation")) and isinstance(tc.get("counters"), dict),
             f"{where}: TC counters")
    _require(tc_pc is None or _is_int(tc_pc, 0, tc["cursor"] - 1), f"{where}: TC pc")


def _check_state(options, state):
    _require(isinstance(state, dict), "state is not a mapping")
    version = state.get("version", 1)
    if version != STATE_VERSION:
        raise SnapshotError(f"a VM state of version {version}, this pyvmm restores version "
                            f"{STATE_VERSION} only")
    for key in ("vcpus", "hart_states", "external_irq", "policy", "devices", "clock", "vm"):
        _require(key in state, f"no {key}")
    technique = options["technique"]
    vcpus = state["vcpus"]
    _require(isinstance(vcpus, list) and len(vcpus) == options["vcpus"], "VCPU count")
    for number, vcpu in enumerate(vcpus):
        _check_vcpu(technique, number, vcpu, options["ram_base"], options["ram_size"])
    last = state.get("last_vcpu")
    _require(last is None or _is_int(last, 0, len(vcpus) - 1), "last_vcpu")
    hsm = state["hart_states"]
    _require(isinstance(hsm, dict) and set(hsm) == set(range(len(vcpus)))
             and all(_is_int(v, 0, 6) for v in hsm.values()), "HSM states")
    _require(isinstance(state["external_irq"], list), "external_irq")
    clock = state["clock"]
    _require(isinstance(clock, dict) and all(_is_int(clock.get(k)) for k in
                                             ("mtime", "clock_insns", "insns_per_tick"))
             and clock["insns_per_tick"] >= 1, "clock")
    policy = state["policy"]
    _require(isinstance(policy, dict) and set(policy) == set(POLICY_FIELDS.get(technique, ())),
             "policy counters")
    pager = state.get("pager")
    _require(pager is None or isinstance(pager, dict) and _is_int(pager.get("guest_satp"))
             and isinstance(pager.get("counters"), dict)
             and all(_is_int(v) for v in pager["counters"].values()), "pager")
    if pager is not None:
        _check_shadow(pager.get("shadow"), options)
    board = state["vm"]
    _require(isinstance(board, dict), "vm")
    for key in ("symbols", "exit_counts", "sbi_counts", "reflected_faults", "mmio_accesses"):
        _require(isinstance(board.get(key), dict), f"vm.{key}")
    _require(isinstance(board.get("console_input"), bytes), "vm.console_input")
    _require(board.get("dtb_gpa") is None or _is_int(board["dtb_gpa"]), "vm.dtb_gpa")
    for key in ("mmio_faults", "unmapped_accesses"):
        _require(_is_int(board.get(key)), f"vm.{key}")


def _is_page(value, low=0, high=MASK64):
    return _is_int(value, low, high) and value % PAGE_SIZE == 0


def _check_shadow(shadow, options):
    """The shadow pager's contents (ShadowPager.export_state), as far as
    they can be checked without the VM: shapes and ranges. A guest page
    that is neither the VM's RAM nor a device is found when the leaf is built."""
    _require(isinstance(shadow, dict), "no shadow pager contents")
    _require(_is_int(shadow.get("guest_satp")) and isinstance(shadow.get("sum"), bool)
             and isinstance(shadow.get("mxr"), bool), "shadow: satp, SUM, MXR")
    spaces = shadow.get("spaces")
    _require(isinstance(spaces, list) and all(
        isinstance(space, dict) and _is_int(space.get("mode"), 0, 15)
        and _is_int(space.get("root_ppn")) and _is_int(space.get("guest_asid"), 0, 0xFFFF)
        and isinstance(space.get("trees"), list)
        and all(isinstance(t, tuple) and len(t) == 3 and _is_int(t[0], 0, 1) and _is_int(t[1], 3, 5)
                and isinstance(t[2], list) and all(
                    isinstance(link, tuple) and len(link) == 2 and _is_int(link[0], 0, 511)
                    and isinstance(link[1], str) for link in t[2])
                for t in space["trees"])
        and len({t[0] for t in space["trees"]}) == len(space["trees"])
        for space in spaces), "shadow: address spaces")
    _require(len({(space["mode"], space["root_ppn"]) for space in spaces}) == len(spaces),
             "shadow: an address space twice")
    current = shadow.get("current")
    _require(current is None or _is_int(current, 0, len(spaces) - 1), "shadow: current space")
    views = [{t[0] for t in space["trees"]} for space in spaces]
    leaves = shadow.get("leaves")
    _require(isinstance(leaves, list) and all(
        isinstance(leaf, tuple) and len(leaf) == 8 and _is_int(leaf[0], 0, len(spaces) - 1)
        and leaf[1] in views[leaf[0]] and _is_page(leaf[2]) and isinstance(leaf[3], tuple)
        and all(_is_int(pte, 0, MASK64) and pte % 8 == 0 for pte in leaf[3]) and _is_page(leaf[4])
        and isinstance(leaf[5], bool) and isinstance(leaf[6], bool) and _is_int(leaf[7], 0, 0xFF)
        and leaf[7] & ~LEAF_FLAGS == 0 and leaf[7] & 1 and leaf[7] & 6 != 4
        for leaf in leaves), "shadow: leaves")
    watched = shadow.get("watched")
    _require(isinstance(watched, list) and all(
        isinstance(w, tuple) and len(w) == 2 and _is_page(w[0])
        and (w[1] is None or isinstance(w[1], str)) for w in watched), "shadow: watched pages")


def _check_fetch_map(fetch_map, where):
    _require(isinstance(fetch_map, dict), f"{where}: no fetch map")
    pairs = fetch_map.get("fetch_pages")
    _require(isinstance(pairs, list) and all(
        isinstance(p, tuple) and len(p) == 2 and _is_page(p[0]) and _is_page(p[1]) for p in pairs),
        f"{where}: fetched code pages")
    walks = fetch_map.get("code_walks")
    _require(isinstance(walks, list) and all(
        isinstance(w, tuple) and len(w) == 4 and _is_page(w[0]) and _is_page(w[1])
        and isinstance(w[2], tuple) and isinstance(w[3], tuple) and len(w[2]) == len(w[3])
        and all(_is_int(v) for v in w[2]) and all(v is None or _is_int(v) for v in w[3])
        for w in walks), f"{where}: code page walks")
    tables = fetch_map.get("walk_tables")
    _require(isinstance(tables, list) and all(
        isinstance(t, tuple) and len(t) == 2 and _is_page(t[0]) and isinstance(t[1], list)
        and all(_is_page(page) for page in t[1]) for t in tables), f"{where}: walked tables")
    stale = fetch_map.get("stale_tables")
    _require(isinstance(stale, list) and all(_is_page(t) for t in stale), f"{where}: stale tables")
    from pyvmm.hv.bt.layout import TC_SIZE
    tc_pages = fetch_map.get("tc_pages")
    _require(isinstance(tc_pages, list) and all(_is_page(p, 0, TC_SIZE - 1) for p in tc_pages),
             f"{where}: TC pages")


def _frames_needed(options, state):
    """Frames the VM takes when it is built: RAM, for nested paging the
    G-stage tables (a root of four, one table per GiB and per 2 MiB), under
    bt each VCPU's state page and translation cache pages."""
    pages = options["ram_size"] // PAGE_SIZE
    if options["paging"] == "nested" and options["technique"] == HW_TECHNIQUE:
        pages += 4 + (options["ram_size"] >> 30) + 1 + (options["ram_size"] >> 21) + 1
    if options["technique"] == "bt":
        for vcpu in state["vcpus"]:
            pages += 1 + -(-vcpu["tc"]["cursor"] // PAGE_SIZE)
    pager = state.get("pager")
    if pager is not None:
        pages += _shadow_tables(pager["shadow"])
    return pages


def _shadow_tables(shadow):
    """Frames the shadow's trees take: a root each, and the tables on the
    way to every leaf."""
    levels = {}
    tables = set()
    for number, space in enumerate(shadow["spaces"]):
        for view, depth, _ in space["trees"]:
            levels[number, view] = depth
    for number, view, gva, *_ in shadow["leaves"]:
        for level in range(1, levels[number, view]):
            tables.add((number, view, level, gva >> (12 + 9 * level)))
    return len(levels) + len(tables)


def _check_host(host, options, state):
    clock = state["clock"]
    needed = _frames_needed(options, state)
    if needed > host.frames.free_frames:
        raise HvError(f"host has {host.frames.free_frames} free frames, the VM needs {needed}")
    if options["sstc"] and not host.sstc:
        raise HvError("the VM's guest uses Sstc, which this host does not have")
    if host.vms:
        core = host.core
        if options["technique"] != HW_TECHNIQUE:
            raise HvError(f"a {options['technique']} VM reads the host clock itself: restore it "
                          "on a host without VMs")
        if clock["insns_per_tick"] != core.insns_per_tick:
            raise HvError(f"the host clock ticks every {core.insns_per_tick} instructions, the "
                          f"VM's every {clock['insns_per_tick']}")
        if options["cpu_profile"] != core.cpu_profile:
            raise HvError("the host hart's CPU profile is not the one the VM ran on")


def build_vm(host, options, state, pages, console=None, stdin=None, name=None):
    """A new VM on `host` in the saved state (see the module docstring).
    Raises SnapshotError for a state that does not hold together, HvError
    for one this host cannot take; either way the host keeps no VM and no
    frame of it."""
    from pyvmm.io.options import OptionError
    from pyvmm.machine.devices import DeviceConfig

    from pyvmm.hv import technique_entry
    _check_options(options)
    technique_entry(options["technique"])      # HvError: not available here
    _check_state(options, state)
    ram_base, ram_size = options["ram_base"], options["ram_size"]
    for gpa, data in pages.items():
        _require(_is_int(gpa) and gpa % PAGE_SIZE == 0 and ram_base <= gpa < ram_base + ram_size
                 and len(data) == PAGE_SIZE, f"RAM page {gpa:#x}" if isinstance(gpa, int) else "RAM page")
    _check_host(host, options, state)
    devices = options["devices"]
    config = DeviceConfig(drives=list(devices["drives"]), devices=list(devices["devices"]),
                          netdevs=list(devices["netdevs"]),
                          virtio_legacy=devices["virtio_legacy"], iommu=devices.get("iommu", False))
    checkpoint = host.frames.checkpoint()
    vms_before = list(host.vms)
    vm = None
    try:
        try:
            vm = host.create_vm(ram_size=ram_size, ram_base=ram_base, paging=options["paging"],
                                technique=options["technique"], bootargs=options["bootargs"],
                                console=console, stdin=stdin, name=name, sstc=options["sstc"],
                                devices=config, initrd=options["initrd"], vcpus=options["vcpus"])
        except OptionError as error:
            raise SnapshotError(f"cannot rebuild the VM's devices ({error})") from None
        _apply(vm, options, state, pages)
    except BaseException:
        # Nothing half-restored may stay: the VM, its frames, its place on the host.
        if vm is not None:
            if host.current_vcpu is not None and host.current_vcpu.vm is vm:
                host.current_vcpu.save()      # gives back the hart CSRs a technique borrowed
            vm.release()              # its frames, shadow ASIDs and device back-ends
        host.frames.rollback(checkpoint)
        host.vms[:] = vms_before
        raise
    return vm


def apply_vm_state(vm, options, state):
    """Put `vm`, built with `options` and its RAM already in place (a clone's,
    shared with the VM captured), into the captured `state`: what build_vm
    does after writing RAM."""
    _check_options(options)
    _check_state(options, state)
    _apply(vm, options, state, None)


def _apply(vm, options, state, pages):
    host = vm.host
    core = host.core
    clock = state["clock"]
    if len(host.vms) == 1:
        # The host's clock is the VM's alone: it continues from the saved one.
        core.cpu_profile = options["cpu_profile"]
        core.insns_per_tick = clock["insns_per_tick"]
        core.clock_insns = clock["clock_insns"]
        core.mtime = clock["mtime"]
        shift = 0
    else:
        shift = (core.mtime - clock["mtime"]) & MASK64
    if pages is not None:
        _write_ram(vm, pages)
    try:
        board_snapshot.restore_devices(vm.device_set, state["devices"])
    except SnapshotError as error:
        raise SnapshotError(str(error).replace("machine", "VM")) from None
    board = state["vm"]
    vm.booted = True
    vm.dtb_gpa = board["dtb_gpa"]
    vm.initrd_range = tuple(board["initrd_range"]) if board.get("initrd_range") else None
    vm.symbols = dict(board["symbols"])
    vm.input.push_front(board["console_input"])
    vm.exit_counts = Tally(board["exit_counts"])
    vm.sbi_counts = collections.Counter(board["sbi_counts"])
    vm.reflected_faults = collections.Counter(board["reflected_faults"])
    vm.mmio_faults = board["mmio_faults"]
    for region in vm.devices.regions:
        region.accesses = int(board["mmio_accesses"].get(region.name, 0))
    vm.devices.unmapped_accesses = board["unmapped_accesses"]
    vm.hart_states = {int(h): int(s) for h, s in state["hart_states"].items()}
    _apply_policy(vm, state["policy"])
    pager = state.get("pager")
    if pager is not None and vm.pager is not None:
        try:
            vm.pager.import_state(pager["shadow"], _watchers(vm), _host_tables(vm))
        except (ValueError, HvError) as error:
            raise SnapshotError(f"corrupt VM state (shadow: {error})") from None
    for vcpu, saved in zip(vm.vcpus, state["vcpus"]):
        _apply_vcpu(vm, vcpu, saved, shift, pager)
    if pager is not None and vm.pager is not None:
        # Rebuilding bt's translations watched their code pages again: the
        # pages watched are the saved ones, no more.
        vm.pager.restore_watched(pager["shadow"]["watched"], _watchers(vm))
        # The shadow's figures go on from the saved ones (plus its refills);
        # how many pages and spaces it holds now is its own.
        for name, value in pager["counters"].items():
            if name in vm.pager.counters and name not in PAGER_GAUGES:
                vm.pager.counters[name] += value
    vm.external_irq = tuple(bool(level) for level in state["external_irq"])
    last = state.get("last_vcpu")
    if last is not None:
        vm.vcpus[last].activate()     # turns go on after the VCPU that ran last


def _write_ram(vm, pages):
    """Every guest page from the snapshot, zeros elsewhere (the frames may
    hold what an earlier VM left); decoded code there is dropped."""
    core = vm.host.core
    ram = np.frombuffer(core.ram_buffer, dtype=np.uint8)
    host_base = vm.host.ram_base
    for index, hpa in enumerate(vm._page_hpa):
        offset = hpa - host_base
        data = pages.get(vm.ram_base + index * PAGE_SIZE)
        if data is None:
            ram[offset:offset + PAGE_SIZE] = 0
        else:
            ram[offset:offset + PAGE_SIZE] = np.frombuffer(data, dtype=np.uint8)
    for index in range(0, len(vm._page_hpa), 16):
        core.invalidate_code(min(vm._page_hpa[index:index + 16]), 16 * PAGE_SIZE)


def _rebuild_tc(vm, vcpu, saved):
    """The translation cache laid out as it was (same blocks at the same
    addresses, same chains), so the kernel runs the same translated
    instructions; the VCPU resumes in the block it stood in."""
    from pyvmm.hv.bt.translator import FetchFault
    # The blocks are read from the guest pages they were translated from, not
    # walked again under the current address space (which may not map them).
    vcpu.import_fetch_map(saved["fetch_map"], translated=True)
    try:
        vcpu.tc.rebuild(saved["tc"], vcpu._fetch, vcpu._code_gpa_pages,
                        on_block=lambda block: vm.policy.protect_code(vcpu, block))
    except (FetchFault, ValueError) as error:
        raise SnapshotError(f"VCPU {vcpu.hartid}: the translation cache cannot be rebuilt "
                            f"from guest code ({error})") from None
    _chain_dropped_stubs(vcpu.tc, saved["tc"])
    vcpu.import_fetch_map(saved["fetch_map"])
    try:
        vcpu.map_tc_pages(saved["fetch_map"]["tc_pages"])
    except (HvError, ValueError, KeyError) as error:
        raise SnapshotError(f"corrupt VM state (VCPU {vcpu.hartid}: TC pages: {error})") from None
    vm.policy._install_runtime_pages(vcpu)
    tc_pc = saved["tc_pc"]
    if tc_pc is not None:
        addr = vcpu.tc.base + tc_pc
        _require(vcpu.tc.guest_pc_at(addr) == saved["pc"] and addr in vcpu.tc.boundaries,
                 f"VCPU {vcpu.hartid}: TC pc {addr:#x} is not guest pc {saved['pc']:#x}")
        vcpu._pc = addr
        vcpu._pc_stale = False


def _chain_dropped_stubs(tc, layout):
    """The chains out of dropped blocks, laid again as they were: nothing
    runs there, but dropping their targets later unchains them (the TC's
    `unchained` count) and they are live chains until then. The TC's
    counters stay the saved ones."""
    counters = collections.Counter(tc.counters)
    for stub, target, literal in layout["chains"]:
        addr = tc.base + stub
        block = tc.blocks.get(target)
        if block is None or tc.block_containing(addr) is not None:
            continue                   # (a live block's chains the rebuild laid)
        if literal is None:
            tc.chain(addr, block)
        else:
            tc.link_indirect(addr, tc.base + literal, block)
    tc.counters = counters


def _apply_policy(vm, saved):
    policy = vm.policy
    for name, value in saved.items():
        current = getattr(policy, name)
        if isinstance(current, collections.Counter):
            setattr(policy, name, collections.Counter(value))
        elif isinstance(current, dict):
            setattr(policy, name, dict(value))
        else:
            setattr(policy, name, int(value))


def _shifted(value, shift):
    return None if value is None else (value + shift) & MASK64


def _apply_vcpu(vm, vcpu, saved, shift, pager_state):
    kind = _kind(vm.technique)
    vcpu.x = list(saved["x"])
    vcpu.f = list(saved["f"])
    vcpu.fcsr = saved["fcsr"]
    vcpu.time_skipped = saved["time_skipped"]
    vcpu.slice_left = saved["slice_left"]
    if kind == "hw":
        for name in HW_FIELDS:
            setattr(vcpu, name, saved[name])
        vcpu.csrs.update(saved["csrs"])        # hgatp stays this host's
        # Guest time = host mtime + htimedelta: a host clock ahead by `shift` is made up here.
        vcpu.csrs["htimedelta"] = (saved["csrs"]["htimedelta"] - shift) & MASK64
        vcpu.blocked_until = _shifted(saved["blocked_until"], shift)
        vcpu._pc = saved["pc"]
        if vm.policy.shadow:
            vm.policy.set_guest_satp(vcpu, saved["guest_satp"] or 0)
        return
    if kind == "supervisor":
        for name in TRAP_EMULATE_FIELDS + (BT_FIELDS if vm.technique == "bt" else ()):
            setattr(vcpu, name, saved[name])
        for name in SUPERVISOR_FIELDS:
            setattr(vcpu.state, name, saved["supervisor"][name])
        # The pager's SUM/MXR are the saved shadow's (it follows the guest's
        # lazily, and leaves filled under them stay until it does).
        vm.policy.set_guest_satp(vcpu, vcpu.state.satp)
        vcpu.pc = saved["pc"]        # bt: a guest pc, translated when the VCPU runs
        if vm.technique == "bt":
            _rebuild_tc(vm, vcpu, saved)
        return
    for name in PV_FIELDS:
        setattr(vcpu, name, saved[name])
    vcpu.info_hpa = None if vcpu.info_gpa is None else vm.gpa_to_hpa(vcpu.info_gpa)
    vm.pager.set_guest_satp(pager_state["guest_satp"] if pager_state else 0)
    vcpu.install_view()
    vcpu._pc = saved["pc"]


# -- files -------------------------------------------------------------------------------------


def restore_vm(host, path, console=None, stdin=None, name=None):
    """A new VM on `host` from the snapshot file `path` (and its bases)."""
    meta, state, ram_base, ram_size, pages = board_snapshot.read_chain(path, KIND_VM)
    options = meta.get("options")
    try:
        _check_options(options)
    except SnapshotError as error:
        raise SnapshotError(f"{path}: {error}") from None
    if (ram_base, ram_size) != (options["ram_base"], options["ram_size"]):
        raise SnapshotError(f"{path}: corrupt snapshot (RAM {ram_base:#x}+{ram_size:#x}, options "
                            f"say {options['ram_base']:#x}+{options['ram_size']:#x})")
    by_gpa = {ram_base + index * PAGE_SIZE: data for index, data in pages.items()}
    try:
        return build_vm(host, options, state, by_gpa, console=console, stdin=stdin, name=name)
    except SnapshotError as error:
        raise SnapshotError(f"{path}: {error}") from None
    except HvError as error:
        raise HvError(f"{path}: {error}") from None


def vm_file_options(path):
    """The options a VM snapshot file was saved with (checked), e.g. to size
    a host for it."""
    from pyvmm.machine import snapfile
    sections, _ = snapfile.read(path)
    meta = snapfile.loads(sections[b"META"], "META")
    if not isinstance(meta, dict) or meta.get("kind") != KIND_VM:
        kind = meta.get("kind") if isinstance(meta, dict) else "?"
        raise SnapshotError(f"{path}: a snapshot of a {kind}, not of a {KIND_VM}")
    try:
        _check_options(meta.get("options"))
    except SnapshotError as error:
        raise SnapshotError(f"{path}: {error}") from None
    return meta["options"]


def snapshot_kind(path):
    """The kind of snapshot a file holds ("machine", "vm"), its META checked."""
    from pyvmm.machine import snapfile
    sections, _ = snapfile.read(path)
    meta = snapfile.loads(sections[b"META"], "META")
    if not isinstance(meta, dict) or not isinstance(meta.get("kind"), str):
        raise SnapshotError(f"{path}: corrupt snapshot (META names no kind)")
    return meta["kind"]

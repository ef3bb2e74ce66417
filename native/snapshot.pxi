# A hart's whole architectural state as plain data, and back: what a
# snapshot, a clone or a migration carries (docs/snapshots.md).
#
# CSRs are enumerated from the ISA's table (pyvmm.isa.csrs) through the
# core's own existence check, so a CSR an extension adds to the hart is
# carried as soon as csr_exists knows it. Registers the loop keeps outside
# the CSR file (the raw mip parts, counter offsets, the CLINT's per-hart
# registers, the reservation, every PMP and trigger slot, a half-done MMIO
# access, the exit controls and watched ranges its owner set) travel as
# raw fields and are written back bypassing the WARL paths, after the CSR
# writes, so the CSR writes' side effects never leave a trace. TLBs, the
# walk cache and decoded instructions are caches: flushed on import.

from libc.string cimport memcpy

SNAPSHOT_STATE_VERSION = 1

# raw fields by C type: written back exactly, bypassing the CSR paths
cdef tuple _RAW_U64 = ("mip_sw", "mip_hw", "hvip", "mcycle_offset", "minstret_offset",
                       "mcountinhibit", "mcycle_frozen", "minstret_frozen", "mtimecmp",
                       "insns_per_tick", "res_addr", "res_paddr", "res_value", "instret",
                       "exit_on_exception", "exit_on_interrupt", "mmio_vaddr", "mmio_value",
                       "tlb_mask")
cdef tuple _RAW_I64 = ("time_offset", "insn_offset")
cdef tuple _RAW_INT = ("msip", "realtime", "wfi_exit", "res_valid", "tselect", "cpu_profile",
                       "walk_cache_on", "mmio_state", "mmio_rd", "mmio_size", "mmio_signed",
                       "mmio_ilen", "mmio_virt")
cdef tuple _COUNTERS = ("tlb_hits", "tlb_misses", "page_walks", "walk_mem_refs", "decode_fills",
                        "decode_flushes", "walks_2d", "walk_2d_mem_refs", "gstage_walks",
                        "tlb_flushes", "walk_cache_hits")


class HartStateError(ValueError):
    """A hart state that this core cannot take (wrong shape, a value out of
    range, a CSR the hart lacks, another hart's id): nothing was changed."""


def _table_csrs():
    from pyvmm.isa.csrs import CSRS, OTHER_EXTENSION_CSRS
    return sorted(set(CSRS.values()) | set(OTHER_EXTENSION_CSRS.values()))


cdef uint64_t _raw_get(Hart* h, str name):
    if name == "mip_sw": return h.mip_sw
    if name == "mip_hw": return h.mip_hw
    if name == "hvip": return h.hvip
    if name == "mcycle_offset": return h.mcycle_offset
    if name == "minstret_offset": return h.minstret_offset
    if name == "mcountinhibit": return h.mcountinhibit
    if name == "mcycle_frozen": return h.mcycle_frozen
    if name == "minstret_frozen": return h.minstret_frozen
    if name == "mtimecmp": return h.mtimecmp
    if name == "insns_per_tick": return h.insns_per_tick
    if name == "res_addr": return h.res_addr
    if name == "res_paddr": return h.res_paddr
    if name == "res_value": return h.res_value
    if name == "instret": return h.instret
    if name == "exit_on_exception": return h.exit_on_exception
    if name == "exit_on_interrupt": return h.exit_on_interrupt
    if name == "mmio_vaddr": return h.mmio_vaddr
    if name == "mmio_value": return h.mmio_value
    if name == "tlb_mask": return h.tlb_mask
    if name == "time_offset": return <uint64_t>h.time_offset
    if name == "insn_offset": return <uint64_t>h.insn_offset
    if name == "msip": return h.msip
    if name == "realtime": return <uint64_t>h.realtime
    if name == "wfi_exit": return <uint64_t>h.wfi_exit
    if name == "res_valid": return <uint64_t>h.res_valid
    if name == "tselect": return <uint64_t>h.tselect
    if name == "cpu_profile": return <uint64_t>h.cpu_profile
    if name == "walk_cache_on": return <uint64_t>h.walk_cache_on
    if name == "mmio_state": return <uint64_t>h.mmio_state
    if name == "mmio_rd": return h.mmio_rd
    if name == "mmio_size": return h.mmio_size
    if name == "mmio_signed": return h.mmio_signed
    if name == "mmio_ilen": return h.mmio_ilen
    if name == "mmio_virt": return <uint64_t>h.mmio_virt
    if name == "tlb_hits": return h.tlb_hits
    if name == "tlb_misses": return h.tlb_misses
    if name == "page_walks": return h.page_walks
    if name == "walk_mem_refs": return h.walk_mem_refs
    if name == "decode_fills": return h.decode_fills
    if name == "decode_flushes": return h.decode_flushes
    if name == "walks_2d": return h.walks_2d
    if name == "walk_2d_mem_refs": return h.walk_2d_mem_refs
    if name == "gstage_walks": return h.gstage_walks
    if name == "tlb_flushes": return h.tlb_flushes
    if name == "walk_cache_hits": return h.walk_cache_hits
    raise KeyError(name)


cdef void _raw_set(Hart* h, str name, uint64_t v):
    if name == "mip_sw": h.mip_sw = v
    elif name == "mip_hw": h.mip_hw = v
    elif name == "hvip": h.hvip = v
    elif name == "mcycle_offset": h.mcycle_offset = v
    elif name == "minstret_offset": h.minstret_offset = v
    elif name == "mcountinhibit": h.mcountinhibit = v
    elif name == "mcycle_frozen": h.mcycle_frozen = v
    elif name == "minstret_frozen": h.minstret_frozen = v
    elif name == "mtimecmp": h.mtimecmp = v
    elif name == "insns_per_tick": h.insns_per_tick = v
    elif name == "res_addr": h.res_addr = v
    elif name == "res_paddr": h.res_paddr = v
    elif name == "res_value": h.res_value = v
    elif name == "instret": h.instret = v
    elif name == "exit_on_exception": h.exit_on_exception = v
    elif name == "exit_on_interrupt": h.exit_on_interrupt = v
    elif name == "mmio_vaddr": h.mmio_vaddr = v
    elif name == "mmio_value": h.mmio_value = v
    elif name == "tlb_mask": h.tlb_mask = v
    elif name == "time_offset": h.time_offset = <int64_t>v
    elif name == "insn_offset": h.insn_offset = <int64_t>v
    elif name == "msip": h.msip = <uint32_t>v
    elif name == "realtime": h.realtime = <int>v
    elif name == "wfi_exit": h.wfi_exit = <int>v
    elif name == "res_valid": h.res_valid = <int>v
    elif name == "tselect": h.tselect = <int>v
    elif name == "cpu_profile": h.cpu_profile = <int>v
    elif name == "walk_cache_on": h.walk_cache_on = <int>v
    elif name == "mmio_state": h.mmio_state = <int>v
    elif name == "mmio_rd": h.mmio_rd = <uint8_t>v
    elif name == "mmio_size": h.mmio_size = <uint8_t>v
    elif name == "mmio_signed": h.mmio_signed = <uint8_t>v
    elif name == "mmio_ilen": h.mmio_ilen = <uint8_t>v
    elif name == "mmio_virt": h.mmio_virt = <int>v
    elif name == "tlb_hits": h.tlb_hits = v
    elif name == "tlb_misses": h.tlb_misses = v
    elif name == "page_walks": h.page_walks = v
    elif name == "walk_mem_refs": h.walk_mem_refs = v
    elif name == "decode_fills": h.decode_fills = v
    elif name == "decode_flushes": h.decode_flushes = v
    elif name == "walks_2d": h.walks_2d = v
    elif name == "walk_2d_mem_refs": h.walk_2d_mem_refs = v
    elif name == "gstage_walks": h.gstage_walks = v
    elif name == "tlb_flushes": h.tlb_flushes = v
    elif name == "walk_cache_hits": h.walk_cache_hits = v


# Bounds of the raw fields that are not free 64-bit values: an imported
# state outside them could make the loop index past an array.
cdef dict _RAW_LIMITS = {
    "msip": (0, 1), "realtime": (0, 1), "wfi_exit": (0, 1), "res_valid": (0, 1),
    "tselect": (0, NUM_TRIGGERS - 1), "cpu_profile": (0, 1), "walk_cache_on": (0, 1),
    "mmio_state": (MMIO_IDLE, MMIO_STORE_FAULTED), "mmio_rd": (0, 32), "mmio_size": (0, 8),
    "mmio_signed": (0, 1), "mmio_ilen": (0, 4), "mmio_virt": (0, 1),
    "insns_per_tick": (1, U64_MAX), "tlb_mask": (0, TLB_SIZE - 1),
}


cdef object hart_export(Hart* h):
    """The hart's state as a dict of ints, lists and dicts (JSON-able)."""
    cdef int i
    csrs = {}
    for n in _table_csrs():
        if csr_exists(h, <uint32_t>n):
            csrs[n] = csr_read(h, <uint32_t>n)
    raw = {}
    for name in _RAW_U64 + _RAW_I64 + _RAW_INT:
        raw[name] = _raw_get(h, name)
    return {
        "version": SNAPSHOT_STATE_VERSION,
        "hartid": h.hartid,
        "x": [h.x[i] for i in range(32)],
        "f": [h.f[i] for i in range(32)],
        "pc": h.pc,
        "priv": h.priv,
        "virt": h.virt,
        "csrs": csrs,
        "raw": raw,
        "pmpcfg": [h.pmpcfg[i] for i in range(64)],
        "pmpaddr": [h.pmpaddr[i] for i in range(64)],
        # HPM counters are kept relative to instret: carried raw, not as CSRs
        "hpm": {"val": [h.hpm_val[i] for i in range(32)],
                "base": [h.hpm_base[i] for i in range(32)],
                "event": [h.mhpmevent[i] for i in range(32)],
                "cycles_ctr": h.hpm_cycles_ctr, "instret_ctr": h.hpm_instret_ctr},
        "tdata1": [h.tdata1[i] for i in range(NUM_TRIGGERS)],
        "tdata2": [h.tdata2[i] for i in range(NUM_TRIGGERS)],
        "watches": [[h.watch_lo[i], h.watch_hi[i]] for i in range(h.num_watches)],
        "guest_mmio": [[h.gmmio_lo[i], h.gmmio_hi[i]] for i in range(h.num_gmmio)],
        "counters": {
            "traps": [h.traps[i] for i in range(64)],
            "interrupts": [h.interrupts[i] for i in range(64)],
            "exits": [h.exits[i] for i in range(8)],
            **{name: _raw_get(h, name) for name in _COUNTERS},
        },
    }


def _u64(what, value):
    if type(value) is not int or value < 0 or value > U64_MAX:
        raise HartStateError(f"{what}: not a 64-bit unsigned value ({value!r})")
    return value


def _u64_list(what, value, n):
    if not isinstance(value, list) or len(value) != n:
        raise HartStateError(f"{what}: expected a list of {n} values")
    return [_u64(f"{what}[{i}]", v) for i, v in enumerate(value)]


def _ranges(what, value, limit):
    if not isinstance(value, list) or len(value) > limit:
        raise HartStateError(f"{what}: expected a list of at most {limit} ranges")
    out = []
    for i, r in enumerate(value):
        if not isinstance(r, list) or len(r) != 2:
            raise HartStateError(f"{what}[{i}]: expected [lo, hi]")
        lo, hi = _u64(f"{what}[{i}]", r[0]), _u64(f"{what}[{i}]", r[1])
        if hi <= lo:
            raise HartStateError(f"{what}[{i}]: empty range")
        out.append((lo, hi))
    return out


cdef object hart_validate(Hart* h, object state):
    """Check a state completely before anything is applied; returns it
    normalised (CSR keys as ints)."""
    if not isinstance(state, dict):
        raise HartStateError("hart state: not a mapping")
    for key in ("version", "hartid", "x", "f", "pc", "priv", "virt", "csrs", "raw", "pmpcfg",
                "pmpaddr", "hpm", "tdata1", "tdata2", "watches", "guest_mmio", "counters"):
        if key not in state:
            raise HartStateError(f"hart state: no {key!r}")
    if state["version"] != SNAPSHOT_STATE_VERSION:
        raise HartStateError(f"hart state version {state['version']!r}, this core reads "
                             f"{SNAPSHOT_STATE_VERSION}")
    if state["hartid"] != h.hartid:
        raise HartStateError(f"hart state of hart {state['hartid']!r} given to hart {h.hartid}")
    _u64_list("x", state["x"], 32)
    _u64_list("f", state["f"], 32)
    hpm = state["hpm"]
    if not isinstance(hpm, dict) or set(hpm) != {"val", "base", "event", "cycles_ctr", "instret_ctr"}:
        raise HartStateError("hart state: hpm must hold val, base, event, cycles_ctr, instret_ctr")
    for key in ("val", "base", "event"):
        _u64_list("hpm " + key, hpm[key], 32)
    for key in ("cycles_ctr", "instret_ctr"):
        if not isinstance(hpm[key], int) or not 0 <= hpm[key] < 32:
            raise HartStateError(f"hart state: hpm {key} must be a counter number 0..31")
    _u64("pc", state["pc"])
    if state["priv"] not in (PRV_U, PRV_S, PRV_M) or state["virt"] not in (0, 1) \
            or (state["virt"] and state["priv"] == PRV_M):
        raise HartStateError(f"hart state: bad mode priv={state['priv']!r} virt={state['virt']!r}")
    if not isinstance(state["csrs"], dict):
        raise HartStateError("hart state: csrs is not a mapping")
    csrs = {}
    for key, value in state["csrs"].items():
        try:
            n = int(key)
        except (TypeError, ValueError):
            raise HartStateError(f"hart state: CSR {key!r} is not a number") from None
        if n < 0 or n > 0xFFF or not csr_exists(h, <uint32_t>n):
            raise HartStateError(f"hart state: CSR {n:#x} does not exist on this hart")
        csrs[n] = _u64(f"CSR {n:#x}", value)
    raw = state["raw"]
    if not isinstance(raw, dict):
        raise HartStateError("hart state: raw is not a mapping")
    for name in _RAW_U64 + _RAW_I64 + _RAW_INT:
        if name not in raw:
            raise HartStateError(f"hart state: no raw field {name!r}")
        v = _u64(name, raw[name])
        if name in _RAW_LIMITS:
            lo, hi = _RAW_LIMITS[name]
            if v < lo or v > hi:
                raise HartStateError(f"hart state: {name} = {v} is outside {lo}..{hi}")
    tlb_mask = raw["tlb_mask"]
    if tlb_mask & (tlb_mask + 1):
        raise HartStateError(f"hart state: tlb_mask {tlb_mask:#x} is not a power of two minus one")
    pmpcfg = _u64_list("pmpcfg", state["pmpcfg"], 64)
    if any(v > 0xFF for v in pmpcfg):
        raise HartStateError("hart state: pmpcfg entries are bytes")
    _u64_list("pmpaddr", state["pmpaddr"], 64)
    _u64_list("tdata1", state["tdata1"], NUM_TRIGGERS)
    _u64_list("tdata2", state["tdata2"], NUM_TRIGGERS)
    for lo, hi in _ranges("watches", state["watches"], MAX_WATCHES):
        if lo < h.ram_base or hi > h.ram_end:
            raise HartStateError(f"hart state: watch [{lo:#x}, {hi:#x}) is outside RAM")
    _ranges("guest_mmio", state["guest_mmio"], MAX_GUEST_MMIO)
    counters = state["counters"]
    if not isinstance(counters, dict):
        raise HartStateError("hart state: counters is not a mapping")
    for name, n in (("traps", 64), ("interrupts", 64), ("exits", 8)):
        _u64_list(name, counters.get(name), n)
    for name in _COUNTERS:
        _u64(name, counters.get(name))
    return dict(state, csrs=csrs)


cdef void hart_apply(Core core, Hart* h, object state) except *:
    """Write a validated state into the hart (see hart_validate)."""
    cdef int i
    cdef uint64_t v
    raw = state["raw"]
    for i in range(32):
        h.x[i] = state["x"][i]
    h.x[32] = 0
    # the counters CSR writes are relative to, first
    h.instret = raw["instret"]
    h.insn_offset = <int64_t><uint64_t>raw["insn_offset"]
    h.insns_per_tick = raw["insns_per_tick"]
    h.realtime = raw["realtime"]
    set_mode(h, 0, PRV_M)
    h.mmio_state = MMIO_IDLE
    for n, value in sorted(state["csrs"].items()):
        if ((n >> 10) & 3) != 3:
            core.write_csr(n, value)
    # then every raw field, overriding what the CSR writes derived
    for name in _RAW_U64 + _RAW_I64 + _RAW_INT:
        _raw_set(h, name, <uint64_t>raw[name])
    for i in range(64):
        h.pmpcfg[i] = <uint8_t>state["pmpcfg"][i]
        h.pmpaddr[i] = state["pmpaddr"][i]
    for i in range(32):
        h.f[i] = state["f"][i]
    hpm = state["hpm"]
    for i in range(32):
        h.hpm_val[i] = hpm["val"][i]
        h.hpm_base[i] = hpm["base"][i]
        h.mhpmevent[i] = hpm["event"][i]
    h.hpm_cycles_ctr = hpm["cycles_ctr"]
    h.hpm_instret_ctr = hpm["instret_ctr"]
    for i in range(NUM_TRIGGERS):
        h.tdata1[i] = state["tdata1"][i]
        h.tdata2[i] = state["tdata2"][i]
    h.num_watches = 0
    for lo, hi in state["watches"]:
        h.watch_lo[h.num_watches] = lo
        h.watch_hi[h.num_watches] = hi
        h.num_watches += 1
    h.num_gmmio = 0
    for lo, hi in state["guest_mmio"]:
        h.gmmio_lo[h.num_gmmio] = lo
        h.gmmio_hi[h.num_gmmio] = hi
        h.num_gmmio += 1
    h.pc = state["pc"]
    pmp_update(h)
    set_mode(h, state["virt"], state["priv"])
    tlb_flush(h)
    decode_cache_flush(h)
    debug_update(h)
    # timer bits follow from the restored time and compare values
    update_timer_bits(h)
    force_event_check(h)
    # counters last: the flushes above count themselves, and a restored run
    # continues the saved run's figures
    counters = state["counters"]
    for i in range(64):
        h.traps[i] = counters["traps"][i]
        h.interrupts[i] = counters["interrupts"][i]
    for i in range(8):
        h.exits[i] = counters["exits"][i]
    for name in _COUNTERS:
        _raw_set(h, name, <uint64_t>counters[name])

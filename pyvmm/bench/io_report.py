"""The io suite's report: a table (or markdown, or JSON) of the models with
their per-request figures and overhead against native beside VMware's
ranges, and the figure (--plot)."""

import json

FORMATS = ("table", "markdown", "json")

COLUMNS = (
    # header, width, value of a row
    ("model", 14, lambda r: r["model"]),
    ("MB/s model", 10, lambda r: _num(r["mb_per_s_modeled"], 1)),
    ("MB/s host", 9, lambda r: _num(r["mb_per_s_host"], 2)),
    ("requests", 8, lambda r: str(r["requests"])),
    ("exits/req", 9, lambda r: _num(r["per_request"]["exits"], 2)),
    ("dev acc/req", 11, lambda r: _num(r["per_request"]["device_accesses"], 2)),
    ("iommu/req", 9, lambda r: _num(r["per_request"]["iommu_translations"], 2)),
    ("insns/req", 9, lambda r: _num(r["per_request"]["instret"], 0)),
    ("cycles/req", 10, lambda r: _num(r["cycles_per_request"], 0)),
    ("overhead", 9, lambda r: "-" if r["overhead_percent"] is None else f"{r['overhead_percent']:+.1f}%"),
    ("VMware 25-60%", 13, lambda r: r["vmware_io"] or "(native)"),
)


def _num(value, digits):
    if value is None:
        return "~"
    return f"{value:,.{digits}f}"


def render(result, fmt):
    if fmt == "json":
        return json.dumps(result, indent=2, sort_keys=True) + "\n"
    if fmt == "markdown":
        return _markdown(result)
    return _table(result)


def _header(result):
    blocks = result["blocks"]
    return (f"io suite: {4 * (blocks['large'] - blocks['small'])} requests of "
            f"{result['block_bytes']} bytes measured per model (runs over {blocks['small']} and "
            f"{blocks['large']} blocks, the difference); modeled time at "
            f"{result['modeled_hz'] / 1e9:g} GHz; " + (
                f"the device takes {result['cost_model']['device_service']:g} cycles per 4 KiB"
                if result["cost_model"]["device_service"] else
                "device service time not modeled (--cost-model device_service=N)"))


def _footer(result):
    lines = []
    cpu = result["cpu_control"]
    if cpu is not None:
        native = cpu["columns"]["native"]["cycles_per_iteration"]
        hw = cpu["columns"]["hw-nested"]["cycles_per_iteration"]
        lines.append(f"CPU control (compute, per iteration): native {native:,.0f} cycles, "
                     f"hw-nested {hw:,.0f} cycles, overhead {cpu['overhead_percent']:+.1f}% "
                     f"({cpu['vmware_cpu']} VMware's 2-10%)")
    lines.append("checksums: " + ("all models read the same bytes ("
                                  + result["models"][0]["checksum"] + ")"
                                  if result["checksums_equal"] else "DIFFER between models"))
    lines.append("MB/s host: the larger run's guest bytes over its host seconds (pyvmm's own "
                 "speed, noisy); MB/s model: 4 KiB over the modeled cycles per request")
    return lines


def _table(result):
    out = [_header(result), ""]
    out.append("  ".join(h.rjust(w) if i else h.ljust(w)
                         for i, (h, w, _) in enumerate(COLUMNS)))
    for row in result["models"]:
        out.append("  ".join(f(row).rjust(w) if i else f(row).ljust(w)
                             for i, (_, w, f) in enumerate(COLUMNS)))
    out.append("")
    out.extend(_footer(result))
    return "\n".join(out) + "\n"


def _markdown(result):
    out = [_header(result), ""]
    out.append("| " + " | ".join(h for h, _, _ in COLUMNS) + " |")
    out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
    for row in result["models"]:
        out.append("| " + " | ".join(f(row) for _, _, f in COLUMNS) + " |")
    out.append("")
    out.extend(f"{line}  " for line in _footer(result))
    return "\n".join(out) + "\n"


def write_plot(result, path):
    """Two panels: modeled cycles per request by event (stacked), and overhead
    against native with VMware's I/O band shaded."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["models"]
    names = [r["model"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    keys = [k for k in rows[0]["cycle_breakdown"]
            if any(r["cycle_breakdown"][k] for r in rows)]
    bottoms = [0.0] * len(rows)
    for key in keys:
        values = [r["cycle_breakdown"][key] for r in rows]
        left.bar(names, values, bottom=bottoms, label=key)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    left.set_ylabel("modeled cycles per 4 KiB request")
    left.set_title("cost per request by event")
    left.legend(fontsize=8)
    left.tick_params(axis="x", rotation=30)

    virt = [r for r in rows if r["overhead_percent"] is not None]
    labels = [r["model"] for r in virt]
    values = [r["overhead_percent"] for r in virt]
    cpu = result["cpu_control"]
    if cpu is not None:
        labels.append("cpu (compute)")
        values.append(cpu["overhead_percent"])
    right.bar(labels, values, color="tab:gray")
    low, high = result["vmware"]["io_percent"]
    right.axhspan(low, high, color="tab:orange", alpha=0.25, label=f"VMware I/O {low:g}-{high:g}%")
    low, high = result["vmware"]["cpu_percent"]
    right.axhspan(low, high, color="tab:green", alpha=0.25, label=f"VMware CPU {low:g}-{high:g}%")
    right.set_yscale("symlog", linthresh=10)
    right.set_ylabel("overhead against native, % (modeled cycles)")
    right.set_title("overhead")
    right.legend(fontsize=8)
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

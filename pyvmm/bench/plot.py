"""The log-scale bar chart of the nanobenchmarks, after Adams & Agesen's
Figure 4: per nanobenchmark, the paper's native/BT/VT bars (hatched) beside
pyvmm's modeled cycles per iteration for each technique that ran. Needs
matplotlib (the optional extra `plot`)."""

from pyvmm.bench import paper

PAPER_BARS = (("native", "paper native"), ("bt", "paper BT"), ("vt", "paper VT"))


class PlotUnavailable(Exception):
    """matplotlib is not installed (one line)."""


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib, the optional extra 'plot' "
                              "(pip install 'pyvmm[plot]')") from None


def series(result):
    """(workloads, [(label, [value or None per workload], is_paper)]) of the chart."""
    index = {(c["workload"], c["column"]): c for c in result["cells"] if c.get("base", True)}
    workloads = [w for w in dict.fromkeys(c["workload"] for c in result["cells"])
                 if w in paper.ADAMS_AGESEN]
    out = []
    for key, label in PAPER_BARS:
        values = [getattr(paper.ADAMS_AGESEN[w], key) for w in workloads]
        if any(v is not None for v in values):
            out.append((label, values, True))
    for col in result["columns"]:
        values = []
        for w in workloads:
            c = index.get((w, col))
            ok = c is not None and "per_iteration" in c and not c.get("error")
            values.append(c["per_iteration"]["modeled_cycles"] if ok else None)
        if any(v is not None for v in values):
            out.append((f"pyvmm {col}", values, False))
    return workloads, out


def write_plot(result, path):
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads, bars = series(result)
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(workloads)) + 2.5, 4.8))
    width = 0.8 / max(1, len(bars))
    for i, (label, values, is_paper) in enumerate(bars):
        xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(workloads))]
        heights = [v if v is not None and v > 0 else 0 for v in values]
        ax.bar(xs, heights, width, label=label, hatch="//" if is_paper else None,
               edgecolor="black", linewidth=0.4, alpha=0.6 if is_paper else 1.0)
    ax.set_yscale("log")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads)
    ax.set_ylabel("cycles per iteration (log scale)")
    ax.set_title("Nanobenchmarks: Adams & Agesen (P4 cycles, hatched) and pyvmm (modeled cycles)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

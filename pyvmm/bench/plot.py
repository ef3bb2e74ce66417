"""The figure of the nanobenchmarks, after Adams & Agesen's Figure 4, in two
panels that share the nanobenchmark axis but not a scale: above, the
paper's measured cycles (Pentium 4: native, software VMM, hardware VMM);
below, pyvmm's modeled cycles per iteration for each technique column. The
two are different quantities (measured on a 2006 CPU, and priced by
pyvmm's cost model) and are never drawn on one axis. A bar that is missing
is labelled where it would stand: "n/a" (the technique is not available, or
the paper states no figure) or "FAILED" (the cell did not run correctly).
The caption gives the cost model's parameters, N and the number of runs.
Needs matplotlib (the optional extra `plot`)."""

from pyvmm.bench import paper

PAPER_BARS = (("native", "native"), ("bt", "software VMM (BT)"), ("vt", "hardware VMM (VT)"))
NA, FAILED = "n/a", "FAILED"


class PlotUnavailable(Exception):
    """matplotlib is not installed (one line)."""


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib, the optional extra 'plot' "
                              "(pip install 'pyvmm[plot]')") from None


def _workloads(result):
    names = dict.fromkeys(c["workload"] for c in result["cells"] if c.get("base", True))
    return [w for w in names if w in paper.ADAMS_AGESEN]


def paper_series(result):
    """[(label, [cycles or NA per workload])]: the paper's measured bars."""
    workloads = _workloads(result)
    return [(label, [getattr(paper.ADAMS_AGESEN[w], key) or NA for w in workloads])
            for key, label in PAPER_BARS]


def model_series(result):
    """[(column, [modeled cycles, NA or FAILED per workload])]: pyvmm's bars."""
    index = {(c["workload"], c["column"]): c for c in result["cells"] if c.get("base", True)}
    out = []
    for col in result["columns"]:
        values = []
        for w in _workloads(result):
            c = index.get((w, col))
            if c is None or not c["available"]:
                values.append(NA)
            elif c.get("error") or "per_iteration" not in c:
                values.append(FAILED)
            else:
                values.append(c["per_iteration"]["modeled_cycles"])
        out.append((col, values))
    return out


def series(result):
    """(workloads, paper series, model series) of the figure."""
    return _workloads(result), paper_series(result), model_series(result)


def caption(result):
    """The figure's caption: what each panel is, the cost model, N and runs."""
    model = ", ".join(f"{k}={v:g}" for k, v in result["cost_model"].items())
    sizes = sorted({(c["sizes"][0], c["iterations"]) for c in result["cells"]
                    if c.get("base", True) and c["workload"] in paper.ADAMS_AGESEN})
    n_text = "; ".join(f"N0={n0}, N={n}" for n0, n in sizes) or "no cells"
    return (f"Top: measured cycles, {paper.CITATION}. Bottom: pyvmm's modeled cycles per "
            f"iteration, (run(N0+N) - run(N0)) / N with {n_text}; cost model (cycles per event): "
            f"{model}. Modeled cycles are deterministic; {result.get('runs', 1)} run(s) per cell. "
            f"n/a: technique not available or figure not stated; FAILED: the cell did not run "
            f"correctly.")


def _panel(ax, workloads, bars, hatch):
    width = 0.8 / max(1, len(bars))
    positive = [v for _, values in bars for v in values if isinstance(v, (int, float)) and v > 0]
    floor = min(positive) / 2 if positive else 1.0
    for i, (label, values) in enumerate(bars):
        xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(workloads))]
        heights = [v if isinstance(v, (int, float)) and v > 0 else 0 for v in values]
        color = f"C{i}"
        ax.bar(xs, heights, width, label=label, hatch=hatch, color=color, edgecolor="black",
               linewidth=0.4)
        for x, v in zip(xs, values):
            if isinstance(v, str):     # an empty dashed bar, labelled, where the bar would be
                ax.bar([x], [floor * 3], width, bottom=floor, fill=False, linestyle="--",
                       edgecolor=color, linewidth=0.8)
                ax.text(x, floor * 4.2, v, rotation=90, ha="center", va="bottom", fontsize=8,
                        fontweight="bold", color="crimson" if v == FAILED else "dimgray")
    ax.set_yscale("log")
    top = max(positive) if positive else 10.0
    ax.set_ylim(bottom=floor / 1.5, top=max(top * 3, floor * 40))
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads)
    ax.grid(axis="y", which="major", linewidth=0.3, alpha=0.6)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def write_plot(result, path):
    require_matplotlib()
    import textwrap

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads, measured, modeled = series(result)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True,
                                      figsize=(max(8, 1.4 * len(workloads)) + 2.5, 8.0))
    _panel(top, workloads, measured, "//")
    top.set_ylabel("measured cycles\n(Pentium 4, log scale)")
    top.set_title("Adams & Agesen (ASPLOS 2006): measured")
    _panel(bottom, workloads, modeled, None)
    bottom.set_ylabel("modeled cycles per iteration\n(log scale)")
    bottom.set_title(f"pyvmm --suite {result['suite']}: modeled by the cost model")
    fig.text(0.01, 0.01, textwrap.fill(caption(result), 150), fontsize=7, ha="left",
             va="bottom")
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.savefig(path, dpi=150)
    plt.close(fig)

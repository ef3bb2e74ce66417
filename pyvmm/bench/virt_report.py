"""The technique comparison's report as a text table, Markdown or JSON.

Sections: per-iteration modeled cycles beside Adams & Agesen's figures;
overhead against native; every cell's counters per iteration (instructions,
traps, exits by reason, walks and their references, 2D walks, host time);
the 2D-walk microbenchmark; the findings check; the sweep when there is one.
Modeled cycles and host seconds sit in separate columns, never combined.
Host time per iteration is the median over the runs with its range
(`median [min-max]`, clamped at zero), marked `~` where the median is below
the noise floor (pyvmm.bench.matrix.host_time).
"""

import json

from pyvmm.bench import paper


def _cycles(value):
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _paper(value):
    return "—" if value is None else f"{value:,.0f}"


def _ratio(value):
    return "—" if value is None else f"{value:.2f}x"


def _cell_text(cell, show):
    if cell is None:
        return "—"
    if not cell["available"]:
        return "n/a"
    if cell.get("error"):
        return "FAILED"
    return show(cell)


def _index(result):
    return {(c["workload"], c["column"]): c for c in result["cells"] if c.get("base", True)}


def _workloads(result):
    seen = []
    for c in result["cells"]:
        if c["workload"] not in seen:
            seen.append(c["workload"])
    return seen


def cycles_table(result):
    """(header, rows) of per-iteration modeled cycles with the paper's figures."""
    columns = result["columns"]
    header = ["workload", "paper native", "paper BT", "paper VT"] + columns
    index = _index(result)
    rows = []
    for workload in _workloads(result):
        fig = paper.ADAMS_AGESEN.get(workload)
        row = [workload]
        row += [_paper(getattr(fig, k)) if fig else "" for k in ("native", "bt", "vt")]
        row += [_cell_text(index.get((workload, col)),
                           lambda c: _cycles(c["per_iteration"]["modeled_cycles"]))
                for col in columns]
        rows.append(row)
    return header, rows


def overhead_table(result):
    columns = [c for c in result["columns"] if c != "native"]
    header = ["workload"] + columns
    index = _index(result)
    rows = []
    for workload in _workloads(result):
        rows.append([workload] + [_cell_text(index.get((workload, col)),
                                             lambda c: _ratio(c.get("overhead_vs_native")))
                                  for col in columns])
    return header, rows


def _host_text(spread):
    """'12.3 [10.1-14.0]' microseconds per iteration, '~' when below the noise floor."""
    text = f"{spread['median'] * 1e6:,.1f} [{spread['min'] * 1e6:,.1f}-{spread['max'] * 1e6:,.1f}]"
    return text + " ~" if spread["below_noise"] else text


def _exits_text(per):
    parts = [f"{k} {v:.2f}" for k, v in per["exits_by_reason"].items() if abs(v) >= 0.005]
    return ", ".join(parts) or "0"


def detail_table(result):
    header = ["workload", "technique", "N", "insns", "traps", "exits (by reason)", "callouts",
              "hcalls", "walks", "walk refs", "2D walks", "2D refs", "cycles",
              "host us [min-max]", "run cycles", "run host s"]
    rows = []
    for c in result["cells"]:
        if not c.get("base", True) or not c["available"] or c.get("error"):
            continue
        per, run = c["per_iteration"], c["run"]
        rows.append([c["workload"], c["column"], str(c["iterations"]),
                     f"{per['instructions']:,.1f}", f"{per['traps']:.2f}", _exits_text(per),
                     f"{per['callouts']:.2f}", f"{per['hypercalls']:.2f}", f"{per['walks']:.2f}", f"{per['walk_refs']:.2f}", f"{per['walks_2d']:.2f}",
                     f"{per['walk_2d_refs']:.2f}", _cycles(per["modeled_cycles"]),
                     _host_text(per["host_seconds_spread"]), _cycles(run["modeled_cycles"]),
                     f"{run['host_seconds']:.4f}"])
    return header, rows


def walk_table(result):
    w = result.get("walk2d")
    if w is None:
        return None
    header = ["configuration", "walks", "refs", "refs per walk", "expected",
              "core 2D counter"]
    rows = []
    nested = {c["config"]: c for c in w.get("nested", [])}
    for entry, label, expect in (
            (w.get("native"), "native Sv39, 4 KiB pages", w["levels"]),
            (w.get("native_megapage"), "native Sv39, 2 MiB pages", w["levels"] - 1),
            (nested.get("4k-nocache"), "hw-nested 4 KiB, walk cache off", w["expected_2d"]),
            (nested.get("4k-cache"), "hw-nested 4 KiB, walk cache on", f"< {w['expected_2d']}"),
            (nested.get("2m-nocache"), "hw-nested 2 MiB, walk cache off",
             w["expected_2d_megapage"]),
            (nested.get("2m-cache"), "hw-nested 2 MiB, walk cache on",
             f"< {w['expected_2d_megapage']}")):
        entry = entry or {}
        if entry.get("refs_per_walk") is not None:
            counter = entry.get("counter_refs_per_walk")
            rows.append([label, f"{entry['walks']:,}", f"{entry['walk_refs']:,}",
                         f"{entry['refs_per_walk']:.2f}", str(expect),
                         "—" if counter is None else f"{counter:.2f}"])
        else:
            rows.append([label, "—", "—", "n/a", str(expect), "—"])
    return header, rows


def w_accesses(result):
    w = result["walk2d"]
    return f"{w['guest']}, sfence.vma before each of {w['accesses']} loads"


def sweep_table(result):
    sweep = result.get("sweep")
    if not sweep:
        return None
    header = ["workload", "technique", "machine", "model", "cycles/iter", "overhead",
              "host us/iter [min-max]"]
    rows = []
    for r in sweep["rows"]:
        rows.append([r["workload"], r["column"], r["machine"], r["model"],
                     "n/a" if r["cycles"] is None else _cycles(r["cycles"]),
                     _ratio(r["overhead"]),
                     "—" if r["host_us"] is None else
                     f"{r['host_us']:,.1f} [{r['host_us_range'][0]:,.1f}-"
                     f"{r['host_us_range'][1]:,.1f}]"])
    return header, rows


def notes(result):
    """Footnotes: why a column is n/a, which cells failed, what `~` means."""
    out = []
    noisy = [c for c in result["cells"] if c.get("base", True) and "per_iteration" in c
             and c["per_iteration"]["host_seconds_spread"]["below_noise"]]
    if noisy:
        out.append(f"~ host time below the noise floor in {len(noisy)} cell(s): the median "
                   "per-iteration difference is under the baseline run's own range over the "
                   "runs (or not above zero); a larger --iterations N resolves it")
    for col in result["columns"]:
        reason = result["availability"].get(col)
        if reason:
            out.append(f"n/a {col}: technique not available ({reason})")
    for c in result["cells"]:
        if c["available"] and c.get("error"):
            params = f" [{c['params']}]" if c["params"] else ""
            out.append(f"FAILED {c['workload']} under {c['column']}{params}: {c['error']}")
    return out


def _heading(result):
    m = result["cost_model"]
    model = ", ".join(f"{k} {v:g}" for k, v in m.items())
    runs = result.get("runs", 1)
    return (f"pyvmm bench --suite {result['suite']}: per-iteration cost = (run(N0+N) - run(N0)) / N, "
            f"kernel boot subtracted; modeled cycles with {model} (docs/bench.md); host time "
            f"per iteration: median [min-max] of {runs} paired run(s), clamped at 0; "
            f"executor: {result['executor']}")


def _sections(result):
    sections = [("Modeled cycles per iteration (paper: " + paper.CITATION + ")",
                 cycles_table(result)),
                ("Overhead against native (modeled cycles per iteration)", overhead_table(result)),
                ("Per iteration: counters, exits by reason, modeled cycles and host time (never "
                 "mixed)", detail_table(result))]
    walks = walk_table(result)
    if walks:
        sections.append(("Two-dimensional walk: page-table references per TLB-missing access "
                         f"({w_accesses(result)}; extra rounds less a short run; the core's "
                         "walk_2d_mem_refs / walks_2d beside)", walks))
    sweep = sweep_table(result)
    if sweep:
        sections.append(("Sweep (" + ", ".join(f"{k}: {v}" for k, v in
                                               result["sweep"]["grid"].items()) + ")", sweep))
    return sections


def _text_table(header, rows):
    table = [header] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for n, row in enumerate(table):
        cells = [cell.ljust(widths[i]) if i == 0 or not _numeric(cell) else cell.rjust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _numeric(cell):
    return bool(cell) and (cell[0].isdigit() or cell in ("—", "n/a", "FAILED")
                           or cell.startswith(("-", "< ")))


def _findings_lines(result, markdown=False):
    lines = []
    last = None
    for f in result["findings"]:
        if f["finding"] != last:
            lines.append(f"{'**' if markdown else ''}{f['finding']}{'**' if markdown else ''}")
            last = f["finding"]
        lines.append(f"{'- ' if markdown else '  '}[{f['status']}] {f['claim']}: {f['evidence']}")
    return lines


def format_table(result):
    lines = [_heading(result), ""]
    for title, (header, rows) in _sections(result):
        lines += [title + ":", ""] + _text_table(header, rows) + [""]
    if result.get("findings"):
        lines += ["Findings of the papers, checked on pyvmm's modeled cycles:", ""]
        lines += _findings_lines(result) + [""]
    extra = notes(result)
    if extra:
        lines += extra
    return "\n".join(lines).rstrip() + "\n"


def format_markdown(result):
    lines = [f"**{_heading(result)}**", ""]
    for title, (header, rows) in _sections(result):
        lines += [f"### {title}", "", "| " + " | ".join(header) + " |",
                  "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in rows]
        lines.append("")
    if result.get("findings"):
        lines += ["### Findings of the papers, checked on pyvmm's modeled cycles", ""]
        lines += _findings_lines(result, markdown=True) + [""]
    extra = notes(result)
    if extra:
        lines += [f"- {n}" for n in extra]
    return "\n".join(lines).rstrip() + "\n"


def format_json(result):
    return json.dumps(result, indent=2, sort_keys=False, default=str) + "\n"


def render(result, fmt):
    if fmt == "table":
        return format_table(result)
    if fmt == "markdown":
        return format_markdown(result)
    if fmt == "json":
        return format_json(result)
    raise ValueError(f"unknown format {fmt!r}")

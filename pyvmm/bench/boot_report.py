"""The report of `pyvmm bench --suite boot` as a text table, Markdown or
JSON (pyvmm.bench.boot_suite makes the report dict)."""

import json

FORMATS = ("table", "json", "markdown")

HEADERS = ("os", "technique", "startup s", "to /init s", "to end s", "x native /init",
           "x native end", "instructions", "exits", "exits/s", "modeled Mcycles",
           "same as native", "counters equal across runs", "exits by reason")


def _seconds(value):
    if value is None:
        return "-"
    return f"{value:.4f}" if value < 1 else f"{value:.2f}"


def _ratio(value, goal):
    if value is None:
        return "-"
    return f"{value:.2f}" + ("" if value <= goal else " (>goal)")


def _yes_no(value):
    return "-" if value is None else ("yes" if value else "NO")


def _reasons(exits):
    return ", ".join(f"{kind} {n:,}" for kind, n in sorted(exits.items(), key=lambda kv: -kv[1])) \
        or "-"


def _technique(row):
    bios = row.get("bios")
    if bios is None:
        return row["column"]
    return f"{row['column']} ({'built-in SBI' if bios == 'builtin' else 'OpenSBI'})"


def cells(row, goal):
    """The row's cells, in HEADERS' order; an n/a or failed row says why in
    its third cell and leaves the rest empty."""
    head = [row["os"], _technique(row)]
    if not row["available"]:
        return head + [f"n/a: {row['reason']}"] + [""] * (len(HEADERS) - 3)
    if row.get("error") and "instructions" not in row:
        return head + [f"FAILED: {row['error']}"] + [""] * (len(HEADERS) - 3)
    out = head + [
        _seconds(row["startup_s"]), _seconds(row["to_marker_s"]), _seconds(row["to_end_s"]),
        _ratio(row["ratio_marker"], goal), _ratio(row["ratio_end"], goal),
        f"{row['instructions']:,}", f"{row['exits_total']:,}",
        "-" if row["exits_per_s"] is None else f"{row['exits_per_s']:,.0f}",
        f"{row['modeled_cycles'] / 1e6:,.1f}",
        _yes_no(row["same_as_native"]), _yes_no(row["counters_equal"]),
        _reasons(row["exits"]),
    ]
    if row.get("error"):
        out[-1] += f"; FAILED: {row['error']}"
    return out


def _notes(report):
    clock = "host wall-clock" if report["clock"] == "wall" else "CPU"
    return [
        f"{clock} seconds, median of {report['runs']} run(s); startup: process start to the "
        "first guest instruction; to /init: first instruction to the first line /init prints "
        "(the project kernel: its init's first line); to end: to power-off",
        f"x native: host time over native's (goal: within {report['goal_ratio']:g}x); modeled "
        "cycles: pyvmm.bench.costmodel over the run's counters",
    ]


def render_table(report):
    goal = report["goal_ratio"]
    rows = [HEADERS] + [tuple(cells(r, goal)) for r in report["rows"]]
    # An n/a or failed row's reason spans the columns after the technique.
    widths = [max(len(r[i]) for r in rows if i < 2 or not r[2].startswith(("n/a", "FAILED")))
              for i in range(len(HEADERS))]
    lines = []
    for row in rows:
        if row[2].startswith(("n/a", "FAILED")):
            lines.append("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2]]))
        else:
            lines.append("  ".join(c.ljust(w) if i < 2 or i == len(row) - 1 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(["pyvmm bench --suite boot"] + lines + [""] + _notes(report)) + "\n"


def render_markdown(report):
    goal = report["goal_ratio"]
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in report["rows"]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row, goal)) + " |")
    return "\n".join(lines + [""] + [f"{note}." for note in _notes(report)]) + "\n"


def render(report, fmt):
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "table":
        return render_table(report)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")

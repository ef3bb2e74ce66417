"""The core suite's result as a text table, a Markdown table or JSON."""

import json

FORMATS = ("table", "json", "markdown")

COLUMNS = ("workload", "guest insns", "pyvmm MIPS", "QEMU MIPS", "pyvmm/QEMU", "notes")
RIGHT_ALIGNED = {"guest insns", "pyvmm MIPS", "QEMU MIPS", "pyvmm/QEMU"}


def _num(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


def _rate(value):
    """1234567 -> '1.23 M'."""
    if value is None:
        return "—"
    if value >= 999_950:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def rows(result):
    """The table's rows, each a tuple of strings in COLUMNS order."""
    out = []
    for w in result["workloads"]:
        pyvmm, qemu = w["pyvmm"], w["qemu"]
        notes = []
        if w.get("htif"):
            notes.append(f"htif {w['htif']}")
        if "fraction_of_bare" in pyvmm:
            note = f"{pyvmm['fraction_of_bare']:.0%} of {w['bare']}"
            if qemu is not None and qemu.get("fraction_of_bare") is not None:
                note += f" (QEMU {qemu['fraction_of_bare']:.0%})"
            notes.append(note)
        if w["event"]:
            note = f"{_rate(pyvmm.get('events_per_second'))} {w['event']}/s"
            if qemu is not None:
                note += f" (QEMU {_rate(qemu.get('events_per_second'))})"
            notes.append(note)
        ratio = qemu["mips"] and pyvmm["mips"] / qemu["mips"] if qemu is not None else None
        out.append((w["name"], f"{w['instret']['large']:,}", _num(pyvmm["mips"]),
                    _num(qemu["mips"] if qemu else None), _num(ratio, 2), "; ".join(notes)))
    exits = result.get("exits")
    if exits is not None:
        out.append(("exits", f"{exits['iterations']:,} exits", "—", "—", "—",
                    f"{_rate(exits['exits_per_second'])} exits/s to Python ({exits['handler']})"))
    return out


def _goal_value(goal):
    if goal["unit"] == "fraction":
        return f"{goal['value']:.0%}"
    if goal["unit"] == "per_second":
        return f"{goal['value']:,.0f}/s"     # exact, so it never rounds across the goal
    return f"{goal['value']:.2f}"


def _heading(result):
    host = result["host"]
    qemu = host["qemu"] or "QEMU not found: pyvmm only"
    heading = (f"pyvmm bench --suite core: {result['runs']} run(s) each, medians of "
               f"{result['clock']} time, scale {result['scale']:g}; {qemu}; start-up removed")
    load = host.get("load_average") or {}
    if load.get("start") is not None and load.get("end") is not None:
        heading += (f"; host load {load['start']:.1f} -> {load['end']:.1f} "
                    f"on {host['cpus']} CPUs")
    return heading


def format_table(result):
    table = [COLUMNS] + rows(result)
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    lines = [_heading(result), ""]
    for n, row in enumerate(table):
        cells = [cell.rjust(widths[i]) if COLUMNS[i] in RIGHT_ALIGNED else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if result["goals"]:
        lines += ["", "goals of the core suite:"]
        width = max(len(g["goal"]) for g in result["goals"])
        for g in result["goals"]:
            lines.append(f"  {g['goal'].ljust(width)}  {_goal_value(g):>10}  "
                         f"{'met' if g['met'] else 'NOT MET'}")
    return "\n".join(lines) + "\n"


def format_markdown(result):
    lines = [f"**{_heading(result)}**", "",
             "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---:" if c in RIGHT_ALIGNED else "---" for c in COLUMNS) + "|"]
    for row in rows(result):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    if result["goals"]:
        lines += ["", "| goal of the core suite | measured | |", "|---|---:|---|"]
        for g in result["goals"]:
            lines.append(f"| {g['goal']} | {_goal_value(g)} | {'met' if g['met'] else 'NOT MET'} |")
    return "\n".join(lines) + "\n"


def format_json(result):
    return json.dumps(result, indent=2) + "\n"


def render(result, fmt):
    if fmt == "table":
        return format_table(result)
    if fmt == "markdown":
        return format_markdown(result)
    if fmt == "json":
        return format_json(result)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")

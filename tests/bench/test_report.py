"""The report formats, on a fabricated suite result."""

import json

import pytest

from pyvmm.bench import report


def fabricated_result(qemu=True):
    def times(values):
        return {"wall_seconds": values, "cpu_seconds": values}

    def workload(name, pyvmm_mips, qemu_mips, bare=None, event=None, htif=None, **extra):
        entry = {"name": name, "description": name, "image": name + ".elf",
                 "iterations": {"small": 52, "large": 416},
                 "instret": {"small": 37_000_000 if qemu else None, "large": 295_246_173},
                 "bare": bare, "event": event, "htif": htif,
                 "pyvmm": {**times([1.0]), "mips": pyvmm_mips, "output": "x", "stats": {}},
                 "qemu": ({"small": times([0.1]), "large": times([0.3]), "startup_seconds": 0.07,
                           "mips": qemu_mips} if qemu else None)}
        for side, values in extra.items():
            if entry[side] is not None:
                entry[side].update(values)
        return entry

    return {
        "suite": "core", "runs": 3, "scale": 1.0, "clock": "wall",
        "host": {"python": "3.11", "machine": "x86_64", "cpus": 2,
                 "qemu": "QEMU emulator version 7.2.0" if qemu else None,
                 "load_average": {"start": 0.52, "end": 1.25}},
        "workloads": [
            workload("compute", 400.0, 1600.0),
            workload("compute-sv39", 300.0, 1200.0, bare="compute",
                     pyvmm={"fraction_of_bare": 0.75}, qemu={"fraction_of_bare": 0.75}),
            workload("compute-htif", 396.0, 1616.0, bare="compute", htif="on",
                     pyvmm={"fraction_of_bare": 0.99}, qemu={"fraction_of_bare": 1.01}),
            workload("traps", 30.0, 6.0, event="traps",
                     pyvmm={"events_per_second": 3_500_000}, qemu={"events_per_second": 700_000}),
        ],
        "exits": {"image": "traps.elf", "iterations": 1_000_000, "handler": "a0 += 1",
                  **times([0.8]), "exits_per_second": 1_250_000.0},
        "goals": [
            {"goal": "compute ratio", "value": 0.25, "unit": "ratio", "met": True},
            {"goal": "paging", "value": 0.75, "unit": "fraction", "met": True},
            {"goal": "exits", "value": 999_999.0, "unit": "per_second", "met": False},
        ],
    }


def test_rows_carry_mips_ratio_and_notes():
    rows = report.rows(fabricated_result())
    assert [r[0] for r in rows] == ["compute", "compute-sv39", "compute-htif", "traps", "exits"]
    compute, paged, htif, traps, exits = rows
    assert compute[1:5] == ("295,246,173", "400.0", "1,600.0", "0.25")
    assert paged[4] == "0.25" and paged[5] == "75% of compute (QEMU 75%)"
    assert htif[2] == "396.0" and htif[5] == "htif on; 99% of compute (QEMU 101%)"
    assert traps[5] == "3.50 M traps/s (QEMU 700.0 k)"
    assert exits[1] == "1,000,000 exits" and exits[5].startswith("1.25 M exits/s")


def test_rows_without_qemu_show_dashes():
    rows = report.rows(fabricated_result(qemu=False))
    assert rows[0][3] == "—" and rows[0][4] == "—"
    assert rows[1][5] == "75% of compute"


def test_table_is_aligned_and_lists_goals():
    text = report.render(fabricated_result(), "table")
    lines = text.splitlines()
    assert "medians of wall time" in lines[0] and "QEMU emulator version 7.2.0" in lines[0]
    assert lines[0].endswith("; host load 0.5 -> 1.2 on 2 CPUs")
    header, rule = lines[2], lines[3]
    assert header.split()[0] == "workload" and set(rule.replace(" ", "")) == {"-"}
    # every right-aligned number ends under its column's header
    mips_end = header.index("pyvmm MIPS") + len("pyvmm MIPS")
    assert lines[4][:mips_end].endswith("400.0")
    assert "goals of the core suite:" in lines
    assert lines[-1].endswith("NOT MET") and "999,999/s" in lines[-1]
    assert lines[-2].rstrip().endswith("met") and "75%" in lines[-2]


def test_table_names_the_missing_qemu():
    text = report.render(fabricated_result(qemu=False), "table")
    assert "QEMU not found: pyvmm only" in text.splitlines()[0]


def test_markdown_table_has_one_cell_per_column():
    text = report.render(fabricated_result(), "markdown")
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert table[0] == "| " + " | ".join(report.COLUMNS) + " |"
    for line in table[:6]:
        assert line.count("|") == len(report.COLUMNS) + 1
    assert "| exits | 999,999/s | NOT MET |" in text


def test_json_round_trips():
    result = fabricated_result()
    assert json.loads(report.render(result, "json")) == result


@pytest.mark.parametrize("value, text", [(999.0, "999"), (12_345.0, "12.3 k"), (999_949.0, "999.9 k"),
                                         (999_950.0, "1.00 M"), (2_760_000.0, "2.76 M"),
                                         (None, "—")])
def test_rates_are_short(value, text):
    assert report._rate(value) == text


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown format"):
        report.render(fabricated_result(), "csv")

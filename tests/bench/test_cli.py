"""`pyvmm bench` as a command: options, exit statuses, one-line errors."""

import json
import re
import shutil

import pytest

from pyvmm.bench.images import default_image_dir
from pyvmm.cli import main


def run_cli(capsys, *argv):
    status = main(["bench", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_listed_in_pyvmm_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "bench" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--runs", "0"], ["--runs", "x"], ["--scale", "-1"],
                                  ["--scale", "inf"], ["--format", "csv"], ["--suite", "disk"],
                                  ["--clock", "sundial"], ["--workload", "dhrystone"]])
def test_bad_usage_exits_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    assert "usage: pyvmm bench" in capsys.readouterr().err


def test_missing_images_one_line(capsys, core_available, tmp_path):
    status, out, err = run_cli(capsys, "--no-qemu", "-q", "--images", str(tmp_path / "none"))
    assert status == 2 and out == ""
    assert err.splitlines() == [f"pyvmm bench: error: {tmp_path / 'none' / 'compute.elf'}: "
                                "No such file or directory"]


def test_missing_qemu_binary_named(capsys, core_available, tmp_path):
    status, out, err = run_cli(capsys, "--qemu", str(tmp_path / "qemu"), "-q")
    assert status == 2
    assert err.strip() == f"pyvmm bench: error: {tmp_path / 'qemu'}: no such QEMU executable"


def test_guest_that_never_finishes_exits_1(capsys, core_available, tmp_path):
    for name in ("compute.elf", "compute-sv39.elf", "compute-htif.elf", "fp.elf", "traps.elf"):
        shutil.copy(default_image_dir() / name, tmp_path / name)
    data = bytearray((tmp_path / "compute.elf").read_bytes())
    from pyvmm.bench.elfpatch import file_offset
    offset = file_offset(bytes(data), 0x8000_0000, 4)
    data[offset:offset + 4] = (0x0000006F).to_bytes(4, "little")        # j . at _start
    (tmp_path / "compute.elf").write_bytes(bytes(data))
    status, out, err = run_cli(capsys, "--no-qemu", "-q", "--runs", "1", "--scale", "0.001",
                               "--images", str(tmp_path))
    assert status == 1 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("pyvmm bench: error: ") and "ended budget" in err


def test_json_report(capsys, core_available):
    status, out, err = run_cli(capsys, "--no-qemu", "--runs", "1", "--scale", "0.001",
                               "--format", "json")
    assert status == 0
    result = json.loads(out)
    assert [w["name"] for w in result["workloads"]] == [
        "compute", "compute-sv39", "compute-sparse", "compute-sv39-sparse", "compute-htif",
        "fp", "traps"]
    assert result["workloads"][3]["patches"] == {"bench_list_pages": 512}
    assert [w["htif"] for w in result["workloads"]] == [None, None, None, None, "on", None, None]
    assert result["workloads"][4]["pyvmm"]["output"] == result["workloads"][0]["pyvmm"]["output"]
    assert result["exits"]["iterations"] == 1000
    assert "bench: compute: pyvmm run 1/1 (1 iterations)" not in err    # scaled sizes: 1 and 2
    assert "bench: compute: pyvmm run 1/1 (2 iterations)" in err
    assert "qemu-system-riscv64 not found" not in err


def test_table_report_quiet(capsys, core_available):
    status, out, err = run_cli(capsys, "--no-qemu", "--runs", "1", "--scale", "0.001", "-q",
                               "--clock", "cpu")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert "medians of cpu time" in lines[0] and "QEMU not found: pyvmm only" in lines[0]
    assert [line.split()[0] for line in lines[4:12]] == [
        "compute", "compute-sv39", "compute-sparse", "compute-sv39-sparse", "compute-htif",
        "fp", "traps", "exits"]
    # the htif row's notes: its speed as a share of plain compute's
    assert re.search(r"\d+% of compute$", lines[8])


def test_markdown_report(capsys, core_available):
    status, out, _err = run_cli(capsys, "--no-qemu", "--runs", "1", "--scale", "0.001", "-q",
                                "--format", "markdown")
    assert status == 0
    assert "| compute-sv39 |" in out and "| exits |" in out


def test_missing_core_one_line(capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "pyvmm._core", None)     # import now raises ImportError
    status, out, err = run_cli(capsys, "--no-qemu", "-q")
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("pyvmm bench: error: the compiled core pyvmm._core is not available")


def test_workload_selection(capsys, core_available):
    status, out, _err = run_cli(capsys, "--no-qemu", "--runs", "1", "--scale", "0.001", "-q",
                                "--format", "json", "--workload", "compute-sv39",
                                "--workload", "compute")
    assert status == 0
    result = json.loads(out)
    # suite order, whatever the order asked; no exit benchmark unless asked
    assert [w["name"] for w in result["workloads"]] == ["compute", "compute-sv39"]
    assert result["exits"] is None
    status, out, _err = run_cli(capsys, "--no-qemu", "--runs", "1", "--scale", "0.001", "-q",
                                "--format", "json", "--workload", "exits")
    result = json.loads(out)
    assert result["workloads"] == [] and result["exits"]["iterations"] == 1000
    assert [g["unit"] for g in result["goals"]] == ["per_second"]

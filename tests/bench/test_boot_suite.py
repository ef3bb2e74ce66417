"""`pyvmm bench --suite boot` as a user runs it: the project kernel booted
under native and two techniques, the report's columns in every format,
Linux rows of n/a when its images are missing, one-line errors."""

import json
import shutil

import pytest

from pyvmm.bench import boot_report, boot_suite
from pyvmm.bench.kernel_workloads import default_kernel
from pyvmm.bench.linux_images import BEGIN_MARKER, END_MARKER
from pyvmm.cli import main

TECHNIQUES = "trap-emulate,hw-nested"


def run_cli(capsys, *argv):
    status = main(["bench", "--suite", "boot", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def kernel_report(tmp_path_factory):
    """The project kernel under native, trap-emulate and hw-nested, twice each."""
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    out = tmp_path_factory.mktemp("boot-suite")
    status = main(["bench", "--suite", "boot", "--os", "kernel", "--runs", "2",
                   "--techniques", TECHNIQUES, "-q", "--out", str(out)])
    assert status == 0
    return {fmt: (out / name).read_text()
            for fmt, name in (("table", "boot.txt"), ("markdown", "boot.md"),
                              ("json", "boot.json"))}


def rows_of(report):
    return {row["column"]: row for row in report["rows"]}


def test_kernel_boots_like_native_under_each_technique(kernel_report):
    report = json.loads(kernel_report["json"])
    assert report["suite"] == "boot" and report["runs"] == 2 and report["oses"] == ["kernel"]
    rows = rows_of(report)
    # native runs as the reference though it was not asked for
    assert list(rows) == ["native", "trap-emulate", "hw-nested"]
    native = rows["native"]
    assert native["bios"] == "builtin"
    for name, row in rows.items():
        assert row["available"] and row["error"] is None, row
        assert row["os"] == "kernel" and row["runs"] == 2
        assert row["same_as_native"] is True
        assert row["counters_equal"] is True
        assert row["how"] == "sbi-shutdown" and row["status"] == 0
        assert 0 < row["to_marker_s"] <= row["to_end_s"] and row["startup_s"] > 0
        assert row["exits_total"] == sum(row["exits"].values())
        assert row["modeled_cycles"] >= row["instructions"]
    assert native["ratio_marker"] == 1.0 and native["ratio_end"] == 1.0
    # Under nested paging the kernel retires exactly what it retires on the
    # board, and its only exits are its SBI calls: as many as the board's
    # built-in SBI served.
    assert rows["hw-nested"]["instructions"] == native["instructions"]
    assert rows["hw-nested"]["exits"] == {"sbi": native["exits"]["trap"]}
    # Trap-and-emulate takes every privileged instruction as an exit.
    assert rows["trap-emulate"]["exits"]["trap"] > 10 * native["exits"]["trap"]
    assert rows["trap-emulate"]["exits_total"] > rows["hw-nested"]["exits_total"]


def test_kernel_report_has_the_columns_in_every_format(kernel_report):
    table = kernel_report["table"].splitlines()
    assert table[0] == "pyvmm bench --suite boot"
    for header in boot_report.HEADERS:
        assert header in table[1]
        assert f" {header} |" in kernel_report["markdown"].splitlines()[0]
    assert table[2].startswith("kernel  native (built-in SBI)")
    assert [line.split()[1] for line in table[3:5]] == ["trap-emulate", "hw-nested"]
    assert all(" yes " in line for line in table[2:5])
    assert "median of 2 run(s)" in kernel_report["table"]
    markdown = kernel_report["markdown"].splitlines()
    assert markdown[1] == "|" + "---|" * len(boot_report.HEADERS)
    assert markdown[2].startswith("| kernel | native (built-in SBI) | ")
    assert markdown[2].count(" | ") == len(boot_report.HEADERS) - 1


def test_missing_linux_images_are_rows_of_n_a(capsys, tmp_path):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    status, out, err = run_cli(capsys, "--os", "linux", "--linux-dir", str(tmp_path),
                               "--runs", "1", "--format", "json", "-q")
    assert status == 0 and err == ""
    rows = json.loads(out)["rows"]
    assert [r["column"] for r in rows] == ["native", "trap-emulate", "bt", "pv", "hw-shadow",
                                           "hw-nested"]
    for row in rows:
        assert row["available"] is False
        assert row["reason"] == (boot_suite.LINUX_NO_PV if row["column"] == "pv" else
                                 f"{tmp_path} has no Image, initrd.gz, disk-ext4.img (python -m "
                                 "pyvmm.bench.linux_images DIR writes them)")


def test_a_kernel_without_its_pv_build_has_pv_n_a(capsys, tmp_path):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    kernel = tmp_path / "kernel.elf"
    shutil.copy(default_kernel(), kernel)
    status, out, err = run_cli(capsys, "--os", "kernel", "--kernel", str(kernel),
                               "--techniques", "pv", "--runs", "1", "-q")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[2].startswith("kernel  native (built-in SBI)")
    assert lines[3].split() == ["kernel", "pv", "n/a:", "its", "kernel", "build",
                                str(tmp_path / "kernel-pv.elf"), "does", "not", "exist"]


def test_a_kernel_that_never_shuts_down_fails_the_run(capsys, tmp_path):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    spin = tmp_path / "spin.S"
    spin.write_text(".globl _start\n_start:\n    j _start\n")
    status, out, err = run_cli(capsys, "--os", "kernel", "--kernel", str(spin),
                               "--techniques", "hw-nested", "--runs", "1", "-q")
    assert status == 1
    assert err.splitlines() == [
        "pyvmm bench: error: kernel under native: the boot ended budget (status 124); "
        "kernel under hw-nested: the boot ended budget (status 124)"]
    assert "FAILED: the boot ended budget" in out


@pytest.mark.parametrize("argv, message", [
    (["--os", "bsd"], "argument --os: invalid choice: 'bsd'"),
    (["--techniques", "vmx"], "--techniques: unknown technique 'vmx'"),
    (["--sweep", "exit=1,2"], "--sweep does not apply to --suite boot"),
    (["--scale", "2"], "--scale does not apply to --suite boot"),
    (["--os", "kernel", "--linux-dir", "x"], "--linux-dir applies to --os linux or all"),
    (["--boot-timeout", "0"], "argument --boot-timeout: must be a positive number, not 0"),
])
def test_bad_usage_exits_2_naming_the_option(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--suite", "boot", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert err.startswith("usage: pyvmm bench") and last.startswith("pyvmm bench: error: ")
    assert message in last


def test_boot_options_belong_to_the_boot_suite(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--suite", "nano", "--os", "linux"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "--os belongs to --suite boot, not --suite nano")


def test_missing_linux_dir_and_kernel_are_one_line(capsys, tmp_path):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    status, out, err = run_cli(capsys, "--os", "linux", "--linux-dir", str(tmp_path / "none"))
    assert (status, out) == (2, "")
    assert err == f"pyvmm bench: error: {tmp_path / 'none'}: no such directory\n"
    status, out, err = run_cli(capsys, "--os", "kernel", "--kernel", str(tmp_path / "k.elf"))
    assert (status, out) == (2, "")
    assert err == f"pyvmm bench: error: {tmp_path / 'k.elf'}: no such guest kernel\n"


# --- what counts as the same boot as native's ----------------------------------------

NATIVE_ISA = "rv64imafdch_zicsr_zifencei_zicbom_zba_sstc"
VM_ISA = "rv64imafdc_zicsr_zifencei_zba_sstc"
NATIVE_SECTION = [BEGIN_MARKER, "nproc: 1", "---- /proc/cpuinfo ----",
                  "isa\t\t: rv64imafdch_zicntr_zicsr_zifencei_zicbom_zba_sstc",
                  "mmu\t\t: sv48",
                  "hart isa\t: rv64imafdch_zicntr_zicsr_zifencei_zicbom_zba_sstc",
                  END_MARKER]


def test_a_vm_hart_lists_native_isa_less_what_it_lacks():
    expected = boot_suite.expected_section(NATIVE_SECTION, NATIVE_ISA, VM_ISA)
    assert expected[3] == "isa\t\t: rv64imafdc_zicntr_zicsr_zifencei_zba_sstc"
    assert expected[5] == "hart isa\t: rv64imafdc_zicntr_zicsr_zifencei_zba_sstc"
    assert expected[:3] == NATIVE_SECTION[:3] and expected[4] == NATIVE_SECTION[4]
    assert boot_suite.expected_section(NATIVE_SECTION, NATIVE_ISA, NATIVE_ISA) == NATIVE_SECTION


def _linux_row(column, lines, isa):
    return {"os": "linux", "column": column, "available": True, "error": None, "isa": isa,
            "output": lines, "to_marker_s": 2.0, "to_end_s": 4.0,
            "ratio_marker": None, "ratio_end": None}


def test_a_section_that_differs_from_native_is_an_error():
    vm_lines = boot_suite.expected_section(NATIVE_SECTION, NATIVE_ISA, VM_ISA)
    wrong = list(vm_lines)
    wrong[1] = "nproc: 2"
    rows = [_linux_row("native", NATIVE_SECTION, NATIVE_ISA),
            _linux_row("hw-nested", vm_lines, VM_ISA),
            _linux_row("bt", wrong, VM_ISA),
            _linux_row("hw-shadow", NATIVE_SECTION, VM_ISA)]
    rows[1]["to_marker_s"] = 5.0
    boot_suite._compare_with_native(rows)
    assert [r["same_as_native"] for r in rows] == [True, True, False, False]
    assert rows[1]["error"] is None and rows[1]["ratio_marker"] == 2.5
    assert rows[2]["error"] == rows[3]["error"] == "its output differs from native's"
    assert boot_suite.failed({"rows": rows}) == rows[2:]


def test_section_is_from_begin_to_end_marker():
    console = "\n".join(["[ 1.0] booting", BEGIN_MARKER, "a", END_MARKER, "[ 2.0] Power down"])
    assert boot_suite.section(console) == [BEGIN_MARKER, "a", END_MARKER]
    assert boot_suite.section("no markers") is None
    assert boot_suite.section(BEGIN_MARKER + "\nhalf") == [BEGIN_MARKER, "half"]


def test_cpu_clock_reports_the_boot_process_cpu_time(capsys):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    status, out, err = run_cli(capsys, "--os", "kernel", "--techniques", "hw-nested",
                               "--runs", "1", "--clock", "cpu", "--format", "json", "-q")
    assert status == 0 and err == ""
    report = json.loads(out)
    assert report["clock"] == "cpu"
    for row in report["rows"]:
        assert row["startup_s"] > 0 and 0 < row["to_marker_s"] <= row["to_end_s"]
        assert row["counters_equal"] is None            # one run: nothing to compare


@pytest.mark.slow
def test_linux_boots_under_hw_nested_like_native(tmp_path):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    status = main(["bench", "--suite", "boot", "--os", "linux", "--techniques", "hw-nested",
                   "--runs", "1", "-q", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "boot.json").read_text())["rows"]
    if not rows[0]["available"]:
        pytest.skip(rows[0]["reason"])
    assert status == 0
    assert [r["column"] for r in rows] == ["native", "hw-nested"]
    for row in rows:
        assert row["same_as_native"] is True and row["error"] is None
        assert row["to_marker_s"] < row["to_end_s"]
    assert rows[1]["exits"]["mmio"] > 0 and rows[1]["exits"]["sbi"] > 0

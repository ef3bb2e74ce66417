"""`pyvmm analyze` and pyvmm.hv.analyze: Popek and Goldberg's condition, measured on the core."""

import json

import pytest

from pyvmm.cli import main
from pyvmm.hv.analyze import analyze, format_table
from pyvmm.isa.instructions import INSTRUCTIONS

CLASSIC_OFFENDERS = {"csrr sstatus", "csrw sstatus", "csrr satp"}


@pytest.fixture(scope="module")
def standard():
    return analyze("standard")


@pytest.fixture(scope="module")
def classic():
    return analyze("classic")


def by_name(analysis):
    return {v.name: v for v in analysis.verdicts}


def test_standard_profile_satisfies_popek_goldberg(standard):
    assert standard.holds
    assert standard.offending == []


def test_every_privileged_and_h_instruction_traps_in_u_mode(standard):
    verdicts = by_name(standard)
    for ins in INSTRUCTIONS:
        if ins.ext in ("priv", "H"):
            v = verdicts[ins.name]
            assert v.privileged and v.trap == "illegal instruction", ins.name
            assert v.sensitive, ins.name


def test_ordinary_instructions_are_innocuous(standard):
    verdicts = by_name(standard)
    for name in ("add", "ld", "sd", "amoswap.d", "jalr", "fence.i", "divw", "lr.w", "sc.d"):
        assert verdicts[name].kind == "innocuous", name


def test_csr_accesses_classified_per_csr(standard):
    verdicts = by_name(standard)
    assert verdicts["csrr satp"].sensitive == "behaviour"
    assert verdicts["csrw satp"].sensitive == "control"
    assert verdicts["csrr mstatus"].privileged
    # counters are unprivileged state; with mcounteren = 0 U-mode reads still trap
    assert verdicts["csrr cycle"].sensitive == ""
    assert "csrw cycle" not in verdicts          # read-only: no write entry
    # CSRs the hart lacks (illegal even in M-mode) are left out
    assert "csrr scontext" not in verdicts


def test_counts_add_up(standard):
    c = standard.counts()
    assert c["total"] == len(standard.verdicts)
    assert c["innocuous"] + c["privileged"] + c["sensitive_unprivileged"] >= c["total"] - c["sensitive"]
    assert c["sensitive_unprivileged"] == 0


def test_classic_profile_breaks_the_condition_and_names_the_offenders(classic):
    assert not classic.holds
    assert {v.name for v in classic.offending} == CLASSIC_OFFENDERS
    verdicts = by_name(classic)
    assert verdicts["csrw satp"].privileged          # only reads of satp leak
    assert verdicts["sret"].privileged
    text = format_table(classic)
    assert "FAILS" in text
    for name in CLASSIC_OFFENDERS:
        assert name in text


def test_cli_standard_exits_0(capsys):
    assert main(["analyze"]) == 0
    out = capsys.readouterr().out
    assert "holds" in out


def test_cli_classic_json_exits_1(capsys):
    assert main(["analyze", "--cpu-profile", "classic", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["popek_goldberg_holds"] is False
    assert set(report["offending"]) == CLASSIC_OFFENDERS
    assert report["counts"]["total"] == len(report["verdicts"])


def test_cli_all_lists_every_row(capsys):
    assert main(["analyze", "--all"]) == 0
    out = capsys.readouterr().out
    assert "csrr sstatus" in out and "hsv.d" in out


def test_cli_bad_profile_is_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["analyze", "--cpu-profile", "x86"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

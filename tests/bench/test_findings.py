"""The findings check on fabricated cells: each status and its evidence."""

from pyvmm.bench import findings


def cell(workload, column, cycles, exits=None, available=True, error=None, reason=None):
    c = {"workload": workload, "column": column, "params": {}, "base": True,
         "available": available, "reason": reason, "error": error}
    if available and not error:
        c["per_iteration"] = {"modeled_cycles": cycles, "instructions": 10.0, "traps": 0.0,
                              "walk_refs": 0.0, "exits_by_reason": exits or {}}
    return c


def status_of(claim_text, priced):
    claim = next(c for c in findings.CLAIMS if c.text == claim_text)
    return findings.check_claim(claim, priced)


def test_near_native_holds_and_fails_with_why():
    priced = [cell("syscall", "native", 200), cell("syscall", "hw-nested", 250)]
    status, evidence = status_of("syscall under hw-nested within 1.5x native", priced)
    assert status == findings.HOLDS and "1.25x" in evidence
    priced = [cell("syscall", "native", 200), cell("syscall", "hw-nested", 1900, {"sbi": 1.0})]
    status, evidence = status_of("syscall under hw-nested within 1.5x native", priced)
    assert status == findings.FAILS
    assert "9.50x" in evidence and "sbi 1.00" in evidence     # the why: the exits behind it


def test_missing_technique_is_not_measurable_with_reason():
    priced = [cell("syscall", "native", 200),
              cell("syscall", "bt", None, available=False, reason="technique 'bt' is not registered")]
    status, evidence = status_of("syscall under bt at least 3x native", priced)
    assert status == findings.MISSING
    assert "bt: technique not available (technique 'bt' is not registered)" in evidence


def test_failed_cell_is_not_measurable():
    priced = [cell("syscall", "native", 200), cell("syscall", "bt", None, error="run ended budget")]
    status, evidence = status_of("syscall under bt at least 3x native", priced)
    assert status == findings.MISSING and "failed: run ended budget" in evidence


def test_greater_and_greatest():
    priced = [cell("ptemod", "hw-shadow", 5000), cell("ptemod", "bt", 400),
              cell("ptemod", "hw-nested", 20)]
    assert status_of("ptemod: hw-shadow more than bt", priced)[0] == findings.HOLDS
    assert status_of("ptemod: hw-nested less than hw-shadow", priced)[0] == findings.HOLDS
    priced[1] = cell("ptemod", "bt", 9000)
    assert status_of("ptemod: hw-shadow more than bt", priced)[0] == findings.FAILS
    priced = [cell("callret", "native", 7), cell("callret", "bt", 50), cell("callret", "hw-nested", 7)]
    assert status_of("callret: bt above every other column", priced)[0] == findings.HOLDS
    priced.append(cell("callret", "trap-emulate", 80))
    status, evidence = status_of("callret: bt above every other column", priced)
    assert status == findings.FAILS and "trap-emulate" in evidence


def test_mmio_exit_claim():
    priced = [cell("mmio", "hw-nested", 1600, {"mmio": 1.0})]
    assert status_of("mmio under hw-nested: an mmio exit per access", priced)[0] == findings.HOLDS
    priced = [cell("mmio", "hw-nested", 10, {"mmio": 0.0})]
    assert status_of("mmio under hw-nested: an mmio exit per access", priced)[0] == findings.FAILS


def walk_result(nested):
    return {"levels": 3, "expected_2d": 15, "native": {"walks": 10, "walk_refs": 30,
                                                       "refs_per_walk": 3.0},
            "nested": nested}


def test_walk_claims():
    nested = [{"config": "4k-nocache", "walks": 10, "walk_refs": 150, "refs_per_walk": 15.0,
               "counter_refs_per_walk": 15.0},
              {"config": "4k-cache", "walks": 10, "walk_refs": 60, "refs_per_walk": 6.0},
              {"config": "2m-nocache", "walks": 10, "walk_refs": 110, "refs_per_walk": 11.0}]
    statuses = [r["status"] for r in findings.check_walks(walk_result(nested))]
    assert statuses == [findings.HOLDS] * 4
    nested[0]["counter_refs_per_walk"] = 3.0          # the core's counter disagreeing is said
    assert "the core's walk_2d_mem_refs / walks_2d says 3.00" in \
        findings.check_walks(walk_result(nested))[1]["evidence"]
    nested[0]["refs_per_walk"] = 12.0
    assert findings.check_walks(walk_result(nested))[1]["status"] == findings.FAILS
    missing = walk_result([])
    missing["reason"] = "hw-nested: technique not available (no H)"
    results = findings.check_walks(missing)
    assert results[0]["status"] == findings.HOLDS
    assert all(r["status"] == findings.MISSING and "no H" in r["evidence"] for r in results[1:])

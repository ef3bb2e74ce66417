"""The cost model: the formula, user overrides, one-line errors."""

import json

import pytest

from pyvmm.bench import costmodel
from pyvmm.bench.costmodel import CostModel, CostModelError


def run_counts(**over):
    # 14 exits, of which 4 are callouts and 5 hypercalls: 5 priced as exits
    run = {"instret": 1000, "exits": {"mmio": 3, "sbi": 2, "trap": 9}, "callouts": 4, "hypercalls": 5,
           "device_accesses": 6, "core": {"traps": 7, "interrupts": 1, "walk_mem_refs": 30}}
    run.update(over)
    return run


def test_cycles_are_the_documented_sum():
    model = CostModel(instruction=2, trap=10, exit=100, walk_ref=3, callout=7, hypercall=11,
                      device_access=13)
    events = costmodel.events(run_counts())
    assert events == {"instruction": 1000, "trap": 8, "exit": 5, "walk_ref": 30, "callout": 4,
                      "hypercall": 5, "device_access": 6,
                      **{key: 0 for key in costmodel.IO_PARAMETERS}}
    assert model.cycles(events) == 2 * 1000 + 10 * 8 + 100 * 5 + 3 * 30 + 7 * 4 + 11 * 5 + 13 * 6
    assert sum(model.breakdown(events).values()) == model.cycles(events)


def test_every_parameter_is_priced():
    # each parameter changes the total on its own: none is silently ignored
    events = costmodel.events(run_counts())
    base = costmodel.DEFAULT.cycles(events)
    for name in costmodel.PARAMETERS:
        bumped = costmodel.DEFAULT.with_overrides({name: getattr(costmodel.DEFAULT, name) + 1})
        assert bumped.cycles(events) == base + events[name]


def test_overrides_from_key_value_and_file(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"exit": 3000, "trap": 50}))
    model = costmodel.load([str(path), "exit=700", "walk_ref=0"])
    assert (model.exit, model.trap, model.walk_ref) == (700.0, 50.0, 0.0)
    assert model.instruction == costmodel.DEFAULT.instruction


@pytest.mark.parametrize("source, message", [
    ("exit=x", "'x' is not a number"),
    ("speed=3", "unknown cost-model parameter(s): speed"),
    ("exit=-1", "must be a finite number >= 0"),
    ("exit=inf", "must be a finite number >= 0"),
    ("exit=nan", "must be a finite number >= 0"),
])
def test_bad_overrides(source, message):
    with pytest.raises(CostModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        costmodel.load([source])


def test_bad_files(tmp_path):
    with pytest.raises(CostModelError, match="No such file"):
        costmodel.load([str(tmp_path / "none.json")])
    bad = tmp_path / "bad.json"
    bad.write_text("{exit: 1")
    with pytest.raises(CostModelError, match="not JSON"):
        costmodel.load([str(bad)])
    bad.write_text("[1, 2]")
    with pytest.raises(CostModelError, match="expected a JSON object"):
        costmodel.load([str(bad)])
    bad.write_text('{"exit": "fast"}')
    with pytest.raises(CostModelError, match="expected a number"):
        costmodel.load([str(bad)])

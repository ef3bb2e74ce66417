"""docs/scheduling.md's Python example runs as written."""

import os

from hv_support import needs_h
from sched_support import ROOT
from support.smp_tour import tour_output


@needs_h
def test_scheduling_doc_example_runs(capsys, monkeypatch):
    with open(os.path.join(ROOT, "docs", "scheduling.md")) as f:
        text = f.read()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(example, "docs/scheduling.md", "exec"), namespace)
    share, latency = capsys.readouterr().out.split(" ", 1)
    assert 0.9 < float(share) <= 1.0                  # batch's two VCPUs share hart 0
    assert "'count'" in latency
    assert namespace["part"].console_output == tour_output(1)
    assert namespace["host"].harts[1].partition is namespace["part"]

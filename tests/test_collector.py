"""pyvmm.collector: pyvmm's own processes settle the garbage collector; a
program that embeds pyvmm keeps its own settings."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(REPO, "guests", "hello.S")

# Runs the given statements in a fresh interpreter, then prints the
# collector's young threshold, frozen objects and whether it is on.
PROBE = """
import gc, json, os, sys
sys.stdout = open(os.devnull, "w")
{body}
sys.__stdout__.write(json.dumps([gc.get_threshold()[0], gc.get_freeze_count(), gc.isenabled()]))
"""


def probe(body):
    out = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_settle_freezes_what_exists_and_raises_the_young_threshold():
    from pyvmm.collector import YOUNG_OBJECTS
    young, frozen, enabled = probe("from pyvmm import collector; collector.settle()")
    assert (young, enabled) == (YOUNG_OBJECTS, True)
    assert frozen > 1000                      # the interpreter's and pyvmm's modules


def test_settle_keeps_a_collector_turned_off_or_a_larger_threshold():
    young, _, enabled = probe("gc.disable(); from pyvmm import collector; collector.settle()")
    assert (young, enabled) == (700, False)
    young, _, _ = probe("gc.set_threshold(50_000); from pyvmm import collector; collector.settle()")
    assert young == 50_000


def test_the_command_line_settles_it_and_an_embedding_call_does_not():
    from pyvmm.collector import YOUNG_OBJECTS
    command_line = f"sys.argv = ['pyvmm', 'run', {HELLO!r}]\nfrom pyvmm.cli import main\nmain()"
    young, frozen, _ = probe(command_line)
    assert young == YOUNG_OBJECTS and frozen > 0
    embedded = f"from pyvmm.cli import main\nmain(['run', {HELLO!r}])"
    young, frozen, _ = probe(embedded)
    assert (young, frozen) == (700, 0)

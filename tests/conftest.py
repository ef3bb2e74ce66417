"""Puts tests/ on sys.path so every test directory can import support.oracles,
and sets hypothesis's defaults for the whole suite."""

import os
import sys

from hypothesis import settings

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# No per-example deadline: tests check results, never timings, and on a loaded
# 2-core CI machine an example that starts a core or a subprocess can take
# longer than hypothesis's 200 ms default and fail for no fault of the code.
settings.register_profile("pyvmm", deadline=None)
settings.load_profile("pyvmm")

"""Conformance tests: skip cleanly when the chosen backend or assembler is absent."""

import importlib.util

import pytest

from . import harness


def _missing(module):
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


@pytest.fixture(autouse=True)
def _backend_available():
    backend = harness.default_backend()
    assembler = harness.default_assembler(backend)
    if backend == "core" and _missing("pyvmm._core"):
        pytest.skip("pyvmm._core is not built (python setup.py build_ext --inplace)")
    if backend == "qemu" and harness.qemu_missing():
        pytest.skip(harness.qemu_missing())
    if assembler == "gnu" and harness.gnu_tools_missing():
        pytest.skip(harness.gnu_tools_missing())
    if assembler == "pyvmm" and _missing("pyvmm.asm"):
        pytest.skip("pyvmm.asm is not available")

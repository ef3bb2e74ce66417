import shutil

import pytest


@pytest.fixture
def core_available():
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")


@pytest.fixture
def qemu_path():
    path = shutil.which("qemu-system-riscv64")
    if path is None:
        pytest.skip("qemu-system-riscv64 is not installed")
    return path

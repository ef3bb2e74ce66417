import pytest

from . import oracle


@pytest.fixture(scope="module")
def tools():
    """Skips unless GNU as/ld and QEMU are installed."""
    reason = oracle.missing_tools()
    if reason:
        pytest.skip(reason)

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fake_core import FakeCore  # noqa: E402

from pyvmm.hv import Host  # noqa: E402


@pytest.fixture
def fake_host():
    return Host(ram_size=16 << 20, core=FakeCore(ram_size=16 << 20))


@pytest.fixture
def fake_vm(fake_host):
    vm = fake_host.create_vm(ram_size=4 << 20)
    vm.vcpus[0].activate()
    return vm

"""Shared by the tests that run guests in VMs on the real core."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = os.path.join(ROOT, "guests", "kernel", "kernel.elf")
SBI_LOOP = os.path.join(ROOT, "guests", "hv", "sbi_loop.S")
PROBE = os.path.join(ROOT, "guests", "hv", "probe.S")


def core_has_h():
    try:
        from pyvmm._core import Core
    except ImportError:
        return False
    return hasattr(Core(ram_size=1 << 20), "virt")


def shadow_available():
    try:
        import pyvmm.hv.shadow  # noqa: F401
    except ImportError:
        return False
    return True


needs_h = pytest.mark.skipif(not core_has_h(),
                             reason="this build of pyvmm._core has no H extension (core.virt)")
needs_shadow = pytest.mark.skipif(not shadow_available(), reason="pyvmm/hv/shadow.py is not there yet")


def native_run(kernel, bootargs="", ram_size=128 << 20, max_insns=None):
    """(status, how, output) of the kernel on the board with --bios builtin."""
    from pyvmm.machine import Machine
    machine = Machine(ram_size=ram_size, bios="builtin", kernel=kernel, bootargs=bootargs)
    result = machine.run(max_insns)
    return result.status, result.how, machine.uart_output


def vm_run(kernel, paging="nested", bootargs="", ram_size=128 << 20, max_insns=None):
    """(status, how, output, vm) of the kernel in a VM, technique hw."""
    from pyvmm.hv import Host
    host = Host(ram_size=ram_size + (32 << 20))
    vm = host.create_vm(ram_size=ram_size, paging=paging, bootargs=bootargs)
    vm.load(kernel)
    result = vm.run(max_insns)
    return result.status, result.how, vm.console_output, vm


def assert_chains_consistent(tc):
    """Every patched stub is remembered once, under the target it jumps to,
    and nothing else is: what unchaining a dropped block relies on."""
    expected = {}
    for stub, target in tc.patched.items():
        expected.setdefault(target, []).append(stub)
    remembered = {target: sorted(tc.incoming_stubs(target)) for target in tc.incoming}
    assert remembered == {target: sorted(stubs) for target, stubs in expected.items()}

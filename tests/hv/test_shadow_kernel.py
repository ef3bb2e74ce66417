"""The shadow pager under the guest kernel (hw technique, paging="shadow"):
the kernel's own page-table stress modes give the native checksums, and the
pager's counters follow what the kernel does."""

import pytest
from hv_support import KERNEL, native_run, needs_h

pytestmark = needs_h


def shadow_run(bootargs, drop_on_sfence=True):
    from pyvmm.hv import Host
    host = Host(ram_size=(64 << 20) + (32 << 20))
    vm = host.create_vm(ram_size=64 << 20, paging="shadow", bootargs=bootargs)
    vm.pager.drop_on_sfence = drop_on_sfence
    vm.load(KERNEL)
    result = vm.run()
    return result.status, vm.console_output, vm.pager.counters, host


@pytest.mark.parametrize("drop_on_sfence", [True, False])
@pytest.mark.parametrize("bootargs", ["mode=ptemod iterations=100", "mode=ctxsw iterations=100",
                                      "mode=forkwait iterations=5"])
def test_kernel_page_table_modes_match_native(bootargs, drop_on_sfence):
    status, output = native_run(KERNEL, bootargs, ram_size=64 << 20)[::2]
    vm_status, vm_output, counters, _ = shadow_run(bootargs, drop_on_sfence)
    assert (vm_status, vm_output) == (status, output)
    assert counters["hidden_faults"] == counters["shadow_fills"]


def test_every_guest_pte_store_of_ptemod_is_a_write_protect_trap():
    _, _, counters, _ = shadow_run("mode=ptemod iterations=100")
    # one set_pte per iteration, each performed by the pager and each
    # invalidating the shadow entry of the page the next load goes through
    assert 100 <= counters["wp_traps"] <= 110
    assert counters["invalidations"] >= 100


def test_cached_roots_survive_context_switches_when_sfence_keeps_trees():
    _, _, dropping, _ = shadow_run("mode=ctxsw iterations=100")
    _, _, keeping, _ = shadow_run("mode=ctxsw iterations=100", drop_on_sfence=False)
    assert dropping["hidden_faults"] >= 4 * 100          # refilled after every switch
    assert keeping["hidden_faults"] < 100                # two cached trees, filled once
    assert keeping["spaces"] >= 2


def test_pager_frames_go_back_on_close():
    _, _, counters, host = shadow_run("mode=ctxsw iterations=10")
    vm = host.vms[0]
    before = host.frames.free_frames
    pages = counters["shadow_pages"]
    assert pages > 0
    vm.pager.close()
    assert host.frames.free_frames == before + pages

"""The shadow pager under the guest kernel (hw technique, paging="shadow"):
the kernel's own page-table stress modes give the native checksums, and the
pager's counters follow what the kernel does."""

import pytest
from hv_support import KERNEL, native_run, needs_h

pytestmark = needs_h


def shadow_run(bootargs, drop_on_sfence=True, fill_superpages=False):
    from pyvmm.hv import Host
    host = Host(ram_size=(64 << 20) + (32 << 20))
    vm = host.create_vm(ram_size=64 << 20, paging="shadow", bootargs=bootargs)
    vm.pager.drop_on_sfence = drop_on_sfence
    vm.pager.fill_superpages = fill_superpages
    vm.load(KERNEL)
    result = vm.run()
    return result.status, vm.console_output, vm.pager.counters, host


# (drop_on_sfence, fill_superpages): the pager's first settings, trees kept alone, and
# what hw --paging shadow and trap-emulate run with.
PAGER_SETTINGS = [(True, False), (False, False), (False, True)]


@pytest.mark.parametrize("drop_on_sfence, fill_superpages", PAGER_SETTINGS)
@pytest.mark.parametrize("bootargs", ["mode=ptemod iterations=100", "mode=ctxsw iterations=100",
                                      "mode=forkwait iterations=5"])
def test_kernel_page_table_modes_match_native(bootargs, drop_on_sfence, fill_superpages):
    status, output = native_run(KERNEL, bootargs, ram_size=64 << 20)[::2]
    vm_status, vm_output, counters, _ = shadow_run(bootargs, drop_on_sfence, fill_superpages)
    assert (vm_status, vm_output) == (status, output)
    if fill_superpages:               # a fault under a guest superpage fills its group
        assert counters["hidden_faults"] <= counters["shadow_fills"]
    else:
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


def _kept_or_dropped_run(technique, bootargs, drop_on_sfence):
    from pyvmm.hv import Host
    host = Host(ram_size=(64 << 20) + (32 << 20))
    vm = host.create_vm(ram_size=64 << 20, technique=technique, paging="shadow", bootargs=bootargs)
    vm.pager.drop_on_sfence = drop_on_sfence
    vm.load(KERNEL)
    result = vm.run()
    stats = vm.stats()
    seen = {"status": result.status, "output": vm.console_output, "instret": stats["instret"],
            "mtime": host.core.mtime}
    if technique == "trap-emulate":
        seen["guest_instructions"] = stats["trap_emulate"]["guest_instructions"]
        seen["emulated"] = stats["trap_emulate"]["emulated"]
    return seen, vm.pager.counters["wp_traps"]


@pytest.mark.parametrize("technique", ["hw", "trap-emulate"])
@pytest.mark.parametrize("bootargs", ["mode=forkwait iterations=5", "mode=demo"])
def test_a_store_the_pager_performs_counts_as_one_the_hart_runs(technique, bootargs):
    # Keeping trees across sfence.vma write-protects other page-table pages
    # at other times, so other guest stores are performed by the pager; the
    # guest's instret, its time and everything it prints stay the same.
    dropping, dropped_traps = _kept_or_dropped_run(technique, bootargs, True)
    keeping, kept_traps = _kept_or_dropped_run(technique, bootargs, False)
    assert dropped_traps != kept_traps
    assert keeping == dropping

"""The bt runtime's own bookkeeping on the exit path: virtual CSRs read
straight from the VCPU-state page read as SupervisorState defines them, and
the walks of translated code pages are kept in a form the garbage collector
stops tracking (a booting Linux keeps thousands of them)."""

import gc

import pytest
from hv_support import ROOT

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.bt import layout  # noqa: E402
from pyvmm.hv.vcpu_state import NAMED_CSRS, SSTATUS_UXL_64, SupervisorState  # noqa: E402

LOW_PAGES = f"{ROOT}/guests/hv/low_pages.S"
REMAP_CODE = f"{ROOT}/guests/hv/remap_code.S"
RAM = 64 << 20


def bt_run(image):
    host = Host(ram_size=RAM + (32 << 20))
    vm = host.create_vm(ram_size=RAM, technique="bt", paging="shadow")
    vm.load(image)
    result = vm.run()
    assert vm.error is None and result.how == "sbi-shutdown"
    return vm


def test_state_page_csr_reads_are_the_supervisor_states():
    vm = bt_run(LOW_PAGES)
    vcpu = vm.vcpus[0]
    state = vcpu.state
    for index, name in enumerate(layout.STATE_SLOTS):
        csr = NAMED_CSRS[name]
        # as translated code may leave a slot: any 64-bit value, sstatus
        # without its UXL bits included
        value = (0x0123_4567_89AB_CDEF * (index + 3)) & ((1 << 64) - 1) & ~SSTATUS_UXL_64
        vcpu._ram_words[(vcpu.state_hpa - vcpu.core.ram_base + layout.STATE_OFFSET[name]) >> 3] = value
        expected = SupervisorState.read(state, csr)      # through the slot's property
        assert state.read(csr) == expected, name
        assert expected == (value | SSTATUS_UXL_64 if name == "sstatus" else value), name
    # a CSR with no slot still reads as SupervisorState answers it
    assert state.read(NAMED_CSRS["stimecmp"]) == SupervisorState.read(state, NAMED_CSRS["stimecmp"])


@pytest.mark.parametrize("image", [LOW_PAGES, REMAP_CODE])
def test_code_page_walks_are_untracked_after_a_collection(image):
    vm = bt_run(image)
    walks = vm.vcpus[0].code_walks
    assert walks, "the guest runs paged code: its code pages were walked"
    # Two collections: the first may meet an entry before the tuples inside it
    # (the collector reorders what it finds reachable), so it untracks those
    # and the second the entry.
    gc.collect()
    gc.collect()
    for page, walk in walks.items():
        gpa_page, pte_gpas, values = walk
        assert all(isinstance(x, int) for x in pte_gpas), hex(page)
        assert not gc.is_tracked(walk), hex(page)

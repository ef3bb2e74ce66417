"""The dirty log of a migrating VM (pyvmm.migration.vm.VMGuest): the host
core's log of host frames, translated back to guest pages; frames of no
page of the VM are dropped, and a page whose frame changed since the last
fetch is dirty."""

import pytest

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host  # noqa: E402
from pyvmm.migration.vm import VMGuest  # noqa: E402

PAGE = 4096


@pytest.fixture
def vm():
    vm = Host(ram_size=16 << 20).create_vm(ram_size=4 << 20, technique="hw", paging="nested")
    yield vm
    vm.close()


def test_written_guest_pages_come_back_by_guest_page(vm):
    guest = VMGuest(vm)
    guest.dirty_log_start()
    assert guest.dirty_log_fetch() == []
    vm.write(vm.ram_base + 5 * PAGE + 8, b"x" * 16)
    vm.write(vm.ram_base + 700 * PAGE, b"y")
    assert guest.dirty_log_fetch() == [5, 700]
    assert guest.dirty_log_fetch() == []
    assert bytes(guest.page(5)[8:24]) == b"x" * 16
    guest.dirty_log_stop()


def test_host_frames_outside_the_vm_are_not_its_pages(vm):
    guest = VMGuest(vm)
    frames = {vm.gpa_to_hpa(vm.ram_base + i * PAGE) for i in range(guest.num_pages)}
    outside = next(hpa for hpa in range(vm.host.ram_base, vm.host.ram_base + (16 << 20), PAGE)
                   if hpa not in frames)
    guest.dirty_log_start()
    vm.host.core.write_mem(outside, b"page table")
    assert guest.dirty_log_fetch() == []
    guest.dirty_log_stop()


def test_a_page_whose_frame_changed_is_dirty(vm, monkeypatch):
    """As after a copy-on-write break: the page now lives in another frame."""
    guest = VMGuest(vm)
    guest.dirty_log_start()
    first, second = vm.ram_base + 3 * PAGE, vm.ram_base + 9 * PAGE
    moved = {first: vm.gpa_to_hpa(second), second: vm.gpa_to_hpa(first)}
    real = vm.gpa_to_hpa
    monkeypatch.setattr(vm, "gpa_to_hpa", lambda gpa: moved.get(gpa) or real(gpa))
    assert guest.dirty_log_fetch() == [3, 9]
    assert guest.dirty_log_fetch() == []
    guest.dirty_log_stop()

"""Content-based page sharing: identical pages of independently booted VMs
merged into one frame, copy-on-write breaking, under nested and shadow paging."""

import os

import pytest
from hv_support import KERNEL, ROOT, needs_h, needs_shadow

from pyvmm.hv import Host
from pyvmm.hv.sharing import SharingRoundRobin

pytestmark = [needs_h, needs_shadow]

COW_COUNTER = os.path.join(ROOT, "guests", "hv", "cow_counter.S")
RAM = 16 << 20
PAGES = RAM // 4096


def boot_vms(count, image, paging, at, technique="hw"):
    host = Host(ram_size=(count + 2) * RAM)
    vms = []
    for _ in range(count):
        vm = host.create_vm(ram_size=RAM, paging=paging, technique=technique)
        vm.load(image)
        assert vm.run(at).how == "budget"
        vms.append(vm)
    return host, vms


def alone(image, paging, technique="hw"):
    host = Host(ram_size=2 * RAM)
    vm = host.create_vm(ram_size=RAM, paging=paging, technique=technique)
    vm.load(image)
    vm.run()
    return vm


@pytest.mark.parametrize("paging, technique", [("nested", "hw"), ("shadow", "hw"),
                                               ("shadow", "trap-emulate")])
def test_independent_kernels_share_their_identical_pages(paging, technique):
    host, vms = boot_vms(4, KERNEL, paging, 300_000, technique)
    contents = [vm.read(vm.ram_base, vm.ram_size) for vm in vms]
    allocated = host.frames.allocated
    saved = host.share_pages()
    # The allocator got the duplicates back (its own count, not the scanner's).
    assert saved > 3 * PAGES
    assert host.frames.allocated == allocated - saved
    memory = host.memory_stats()
    assert memory["guest_pages"] == 4 * PAGES and memory["guest_frames"] == 4 * PAGES - saved
    # Not a byte of any VM changed.
    assert [vm.read(vm.ram_base, vm.ram_size) for vm in vms] == contents
    sharing = host.page_sharing.stats()
    assert sharing["pages_scanned"] == 4 * PAGES and sharing["frames_saved"] == saved
    # Running on breaks shares where the kernels write; each finishes as it would alone.
    want = alone(KERNEL, paging, technique).console_output
    for vm in vms:
        assert vm.run().how == "sbi-shutdown"
        assert vm.console_output == want
    assert host.page_sharing.stats()["shares_broken"] > 0
    assert sum(vm.memory_stats()["cow_faults"] for vm in vms) > 0


@pytest.mark.parametrize("paging", ["nested", "shadow"])
def test_a_write_to_a_merged_page_changes_that_vm_alone(paging):
    host, (first, second) = boot_vms(2, COW_COUNTER, paging, 60_000)
    cell = first.symbols["cell"]
    assert host.share_pages() > 0
    assert first.gpa_to_hpa(cell) == second.gpa_to_hpa(cell)       # one frame now
    first.write(cell, (0x4242).to_bytes(8, "little"))
    assert first.gpa_to_hpa(cell) != second.gpa_to_hpa(cell)
    assert int.from_bytes(second.read(cell, 8), "little") == 0x1003
    assert int.from_bytes(first.read(cell, 8), "little") == 0x4242
    want = alone(COW_COUNTER, paging).console_output
    assert second.run().how == first.run().how == "sbi-shutdown"
    assert second.console_output == want
    lines = first.console_output.decode().splitlines()
    assert [line for line in lines if "round 0000000000000003" in line][0].split(" cell ")[1].startswith(
        "0000000000004242")


def test_pages_that_differ_are_never_merged():
    host, vms = boot_vms(2, COW_COUNTER, "nested", 60_000)
    buffer = vms[0].symbols["buffer"]
    # Same hash bucket is not enough: make the pages differ in one byte only.
    vms[1].write(buffer + 4095, b"\x01")
    host.share_pages()
    assert vms[0].gpa_to_hpa(buffer) != vms[1].gpa_to_hpa(buffer)
    assert vms[0].read(buffer + 4095, 1) != vms[1].read(buffer + 4095, 1)
    # The unchanged pages of the buffer after it are merged.
    assert vms[0].gpa_to_hpa(buffer + 4096) == vms[1].gpa_to_hpa(buffer + 4096)


def test_scans_between_slices_keep_the_vms_exact():
    host = Host(ram_size=5 * RAM)
    vms = [host.create_vm(ram_size=RAM) for _ in range(3)]
    for vm in vms:
        vm.load(COW_COUNTER)
    scheduler = SharingRoundRobin(host, slice_insns=20_000, every=2)
    scheduler.run()
    want = alone(COW_COUNTER, "nested").console_output
    assert all(vm.console_output == want for vm in vms)
    stats = host.page_sharing.stats()
    assert stats["scans"] >= 3 and stats["frames_saved"] > 0 and stats["shares_broken"] > 0

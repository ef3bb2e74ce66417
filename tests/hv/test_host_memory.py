"""Host frames, the VM's GPA -> HPA map and its G-stage tables (fake core: no guest runs)."""

import pytest
from hv_support import needs_shadow

from pyvmm.hv import FrameAllocator, HvError
from pyvmm.hv.gstage import GStageTables, HGATP_MODE_SV39X4, LEAF_RWX

BASE = 0x8000_0000
PAGE = 4096


def test_frame_allocator_alignment_reuse_and_exhaustion():
    frames = FrameAllocator(BASE, 64 * PAGE)
    first = frames.alloc()
    assert first == BASE
    aligned = frames.alloc(4, align=4)
    assert aligned % (4 * PAGE) == 0 and aligned > first
    frames.free(first)
    assert frames.alloc() == first            # the lowest free frame comes back first
    assert frames.free_frames == 64 - 5
    with pytest.raises(HvError, match="exhausted"):
        frames.alloc(64)
    with pytest.raises(ValueError, match="not allocated"):
        frames.free(BASE + 63 * PAGE)
    with pytest.raises(ValueError, match="not a frame"):
        frames.free(BASE + 1)


def test_vm_memory_is_neither_identity_nor_contiguous(fake_vm):
    pages = list(fake_vm.memory)
    hpas = [fake_vm.memory[gpa] for gpa in pages]
    assert len(pages) == (4 << 20) // PAGE
    assert len(set(hpas)) == len(hpas)
    assert sum(hpa == gpa for gpa, hpa in zip(pages, hpas)) < len(pages) // 16
    jumps = sum(b - a != PAGE for a, b in zip(hpas, hpas[1:]))
    assert jumps >= len(pages) // 16 - 1      # at least every chunk boundary jumps
    assert fake_vm.gpa_to_hpa(BASE - 1) is None
    assert fake_vm.gpa_to_hpa(BASE + (4 << 20)) is None
    assert fake_vm.gpa_to_hpa(BASE + 5) == hpas[0] + 5


def test_vm_read_write_cross_pages_through_the_map(fake_vm):
    gpa = BASE + 0x10000 - 3                  # straddles a chunk boundary
    fake_vm.write(gpa, b"abcdefgh")
    assert fake_vm.read(gpa, 8) == b"abcdefgh"
    core = fake_vm.host.core
    assert core.read_mem(fake_vm.gpa_to_hpa(gpa), 3) == b"abc"
    assert core.read_mem(fake_vm.gpa_to_hpa(gpa + 3), 5) == b"defgh"
    with pytest.raises(HvError, match="not inside"):
        fake_vm.read(BASE + (4 << 20) - 2, 4)


def test_gstage_tables_translate_every_page_and_nothing_else(fake_vm):
    gstage = fake_vm.gstage
    for gpa in list(fake_vm.memory)[::97]:
        assert gstage.translate(gpa + 0x123) == fake_vm.memory[gpa] + 0x123
    assert gstage.translate(BASE + (4 << 20)) is None
    for base, size in fake_vm.mmio_ranges():
        assert gstage.translate(base) is None    # devices stay unmapped: they exit as MMIO
    assert gstage.hgatp >> 60 == HGATP_MODE_SV39X4
    assert (gstage.hgatp >> 44) & 0x3FFF == fake_vm.vmid
    root = (gstage.hgatp & ((1 << 44) - 1)) << 12
    assert root % (16 << 10) == 0


def test_gstage_tables_live_outside_every_vm(fake_host):
    a = fake_host.create_vm(ram_size=2 << 20)
    b = fake_host.create_vm(ram_size=2 << 20)
    assert a.vmid != b.vmid
    ram_a, ram_b = set(a.memory.values()), set(b.memory.values())
    assert not ram_a & ram_b
    tables = set(a.gstage.table_frames) | set(b.gstage.table_frames)
    assert not tables & (ram_a | ram_b)
    # No leaf of either VM points at the other's RAM or at any table frame.
    for vm, other in ((a, ram_b), (b, ram_a)):
        for gpa in vm.memory:
            hpa = vm.gstage.translate(gpa)
            assert hpa not in other and hpa not in tables


def test_gstage_leaf_bits_and_unmap(fake_host):
    tables = GStageTables(fake_host, vmid=7)
    tables.map_page(BASE, BASE + 0x40_0000)
    core = fake_host.core
    leaf = tables._leaf_address(BASE)
    pte = int.from_bytes(core.read_mem(leaf, 8), "little")
    assert pte & 0x3FF == LEAF_RWX                # V R W X U A D: a user page, never written back
    tables.unmap_page(BASE)
    assert tables.translate(BASE) is None
    with pytest.raises(ValueError):
        GStageTables(fake_host, vmid=1 << 14)
    with pytest.raises(ValueError, match="41 bits"):
        tables.map_page(1 << 41, BASE)


def test_bad_vm_configurations(fake_host):
    with pytest.raises(HvError, match="paging"):
        fake_host.create_vm(ram_size=2 << 20, paging="flat")
    with pytest.raises(HvError, match="multiple"):
        fake_host.create_vm(ram_size=(2 << 20) + 4096)
    with pytest.raises(HvError, match="unknown technique"):
        fake_host.create_vm(ram_size=2 << 20, technique="magic")
    with pytest.raises(HvError, match="host has"):
        fake_host.create_vm(ram_size=64 << 20)


def test_vm_device_tree_describes_the_vm_without_h(fake_host, tmp_path):
    from pyvmm.machine.fdt import parse_dtb
    image = tmp_path / "k.bin"
    image.write_bytes(b"\x13\x00\x00\x00")
    vm = fake_host.create_vm(ram_size=8 << 20, bootargs="mode=demo")
    vm.load(str(image))
    vm.boot()
    assert vm.dtb_gpa == BASE + (6 << 20) and vm.kernel_image.entry == BASE + (2 << 20)
    root, _ = parse_dtb(vm.read(vm.dtb_gpa, 4096 * 4))
    assert root.find("/memory@80000000").cells("reg") == [0, BASE, 0, 8 << 20]
    isa = root.find("/cpus/cpu@0").string("riscv,isa")
    assert isa.startswith("rv64") and "h" not in isa.split("_")[0]
    assert fake_host.core.read_csr(0x301) & (1 << 7)       # the host hart does have H
    assert root.find("/chosen").string("bootargs") == "mode=demo"
    vcpu = vm.vcpus[0]
    assert vcpu.get_x(10) == 0 and vcpu.get_x(11) == vm.dtb_gpa and vcpu.pc == BASE + (2 << 20)


@pytest.mark.parametrize("paging", ["nested", pytest.param("shadow", marks=needs_shadow)])
def test_destroying_a_vm_gives_every_frame_back(fake_host, paging):
    free = fake_host.frames.free_frames
    vm = fake_host.create_vm(ram_size=4 << 20, paging=paging)
    used = free - fake_host.frames.free_frames
    tables = len(vm.gstage.table_frames) if vm.gstage else vm.pager.counters["shadow_pages"]
    assert used >= (4 << 20) // PAGE + max(tables, 1)
    fake_host.destroy_vm(vm)
    assert fake_host.frames.free_frames == free and vm.stopped and vm not in fake_host.vms
    assert vm.vcpus[0].run(10).kind == "shutdown"
    with pytest.raises(HvError, match="not a VM"):
        fake_host.destroy_vm(vm)

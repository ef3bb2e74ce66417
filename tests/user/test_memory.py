"""Address spaces: brk and mmap growth seen by a program, and the Sv39
bookkeeping through the API (faults, permissions, EFAULT, fork copies)."""

import pytest

from conftest import pyvmm_user

from pyvmm._core import Core
from pyvmm.user.memory import (PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, AddressSpace, BadAddress, Frames,
                               OutOfMemory, Vma)


def test_brk_and_mmap_growth(root):
    proc = pyvmm_user("--root", root, "/bin/mem")
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0, proc.stderr
    assert lines and all(line.endswith(": ok") for line in lines), lines
    assert len(lines) == 12


def test_load_from_unmapped_page_is_sigsegv(root):
    proc = pyvmm_user("--root", root, "/bin/mem", "unmapped")
    assert proc.returncode == 139
    assert b"SIGSEGV" in proc.stderr


@pytest.fixture
def aspace():
    core = Core(ram_size=1 << 20)
    return AddressSpace(Frames(core))


def test_pages_appear_on_first_touch(aspace):
    aspace.map(Vma(0x10000, 0x20000, PROT_READ | PROT_WRITE))
    assert aspace.pages == {}
    assert aspace.fault(0x10008, PROT_WRITE)
    assert list(aspace.pages) == [0x10]
    assert not aspace.fault(0x20000, PROT_READ)          # outside the mapping
    assert not aspace.fault(0x10000, PROT_EXEC)          # not executable


def test_user_copies_cross_pages_and_check_permissions(aspace):
    aspace.map(Vma(0x10000, 0x12000, PROT_READ | PROT_WRITE))
    aspace.map(Vma(0x12000, 0x13000, PROT_READ))
    data = bytes(range(256)) * 20
    aspace.write(0x10F00, data[:0x1000])
    assert aspace.read(0x10F00, 0x1000) == data[:0x1000]
    with pytest.raises(BadAddress):
        aspace.write(0x11F00, bytes(0x200))              # runs into the read-only page
    with pytest.raises(BadAddress):
        aspace.read(0x13000, 1)
    aspace.poke(0x12000, b"text")                        # the loader may fill read-only pages
    assert aspace.read(0x12000, 4) == b"text"
    assert aspace.read_cstr(0x12000) == b"text"


def test_the_core_walks_the_tables_python_builds(aspace):
    aspace.map(Vma(0x40000, 0x41000, PROT_READ | PROT_WRITE))
    aspace.write(0x40010, b"\x2a\0\0\0\0\0\0\0")
    core = aspace.core
    root = aspace.root
    # walk like the hardware: three levels of 512 entries
    vpn = 0x40
    table = root
    for level in (2, 1, 0):
        idx = (vpn >> (9 * level)) & 511
        pte = int.from_bytes(core.read_mem(table + 8 * idx, 8), "little")
        assert pte & 1
        table = (pte >> 10) << 12
    assert core.read_mem(table + 0x10, 1) == b"\x2a"


def test_unmap_and_protect_split_mappings(aspace):
    aspace.map(Vma(0x10000, 0x15000, PROT_READ | PROT_WRITE))
    aspace.write(0x10000, bytes(5 * PAGE))
    used = aspace.frames.in_use
    aspace.unmap(0x11000, 0x12000)
    assert aspace.frames.in_use == used - 1
    assert [(v.start, v.end) for v in aspace.vmas] == [(0x10000, 0x11000), (0x12000, 0x15000)]
    assert aspace.protect(0x13000, 0x14000, PROT_READ)
    assert [(v.start, v.end, v.prot) for v in aspace.vmas][1:] == [
        (0x12000, 0x13000, 3), (0x13000, 0x14000, 1), (0x14000, 0x15000, 3)]
    assert not aspace.protect(0x10000, 0x13000, PROT_READ)   # the hole is not mapped
    with pytest.raises(BadAddress):
        aspace.write(0x13000, b"x")


def test_fork_copy_is_independent(aspace):
    aspace.map(Vma(0x10000, 0x11000, PROT_READ | PROT_WRITE))
    aspace.write(0x10000, b"parent")
    child = aspace.clone()
    child.write(0x10000, b"child!")
    assert aspace.read(0x10000, 6) == b"parent"
    assert child.read(0x10000, 6) == b"child!"
    assert child.root != aspace.root


def test_frames_run_out_and_come_back():
    core = Core(ram_size=4 * PAGE)
    frames = Frames(core)
    got = [frames.alloc() for _ in range(4)]
    with pytest.raises(OutOfMemory):
        frames.alloc()
    core.write_mem(got[0], b"dirty")
    frames.free(got[0])
    again = frames.alloc()
    assert again == got[0]
    assert core.read_mem(again, 5) == bytes(5)           # a reused frame is cleared


def test_find_free_is_top_down_and_avoids_mappings(aspace):
    a = aspace.find_free(0x2000)
    aspace.map(Vma(a, a + 0x2000, PROT_READ))
    b = aspace.find_free(0x2000)
    assert b == a - 0x2000
    assert aspace.find_free(0x1000, hint=0x50000) == 0x50000

"""Rewriting bench_iterations in the committed benchmark ELFs."""

import struct

import pytest

from pyvmm.bench import elfpatch
from pyvmm.bench.images import (ITERATIONS_SYMBOL, ImageMissing, default_image_dir, read_image,
                                sized_image)

IMAGES = ("compute.elf", "compute-sv39.elf", "compute-htif.elf", "fp.elf", "traps.elf")


@pytest.mark.parametrize("name", IMAGES)
def test_committed_images_default_to_one_iteration(name):
    assert elfpatch.read_u32(read_image(default_image_dir(), name), ITERATIONS_SYMBOL) == 1


@pytest.mark.parametrize("name", IMAGES)
def test_patch_changes_exactly_the_variable(name):
    data = read_image(default_image_dir(), name)
    patched = elfpatch.patch_u32(data, ITERATIONS_SYMBOL, 0x12345678)
    assert len(patched) == len(data)
    assert elfpatch.read_u32(patched, ITERATIONS_SYMBOL) == 0x12345678
    changed = [i for i in range(len(data)) if data[i] != patched[i]]
    offset = elfpatch.file_offset(data, elfpatch.symbol_address(data, ITERATIONS_SYMBOL), 4)
    assert changed and set(changed) <= set(range(offset, offset + 4))
    assert struct.unpack_from("<I", patched, offset)[0] == 0x12345678


def test_symbol_address_agrees_with_pyelftools():
    elftools = pytest.importorskip("elftools.elf.elffile", reason="pyelftools not installed")
    path = default_image_dir() / "compute.elf"
    with open(path, "rb") as f:
        elf = elftools.ELFFile(f)
        sym = elf.get_section_by_name(".symtab").get_symbol_by_name(ITERATIONS_SYMBOL)[0]
        data_section = elf.get_section_by_name(".data")
        expected_offset = data_section["sh_offset"] + sym["st_value"] - data_section["sh_addr"]
        expected_address = sym["st_value"]
    data = path.read_bytes()
    assert elfpatch.symbol_address(data, ITERATIONS_SYMBOL) == expected_address
    assert elfpatch.file_offset(data, expected_address, 4) == expected_offset


def test_missing_symbol():
    data = read_image(default_image_dir(), "compute.elf")
    with pytest.raises(elfpatch.ElfPatchError, match="no symbol 'no_such_symbol'"):
        elfpatch.patch_u32(data, "no_such_symbol", 1)


def test_not_an_elf():
    with pytest.raises(elfpatch.ElfPatchError, match="not an ELF"):
        elfpatch.patch_u32(b"#!/bin/sh\n" * 10, ITERATIONS_SYMBOL, 1)


def test_elf32_is_refused():
    data = bytearray(read_image(default_image_dir(), "compute.elf"))
    data[4] = 1
    with pytest.raises(elfpatch.ElfPatchError, match="ELF64"):
        elfpatch.symbol_address(bytes(data), ITERATIONS_SYMBOL)


@pytest.mark.parametrize("value", [-1, 1 << 32])
def test_value_must_fit(value):
    data = read_image(default_image_dir(), "compute.elf")
    with pytest.raises(elfpatch.ElfPatchError, match="32 bits"):
        elfpatch.patch_u32(data, ITERATIONS_SYMBOL, value)


def test_address_outside_the_file_image():
    data = read_image(default_image_dir(), "compute.elf")
    with pytest.raises(elfpatch.ElfPatchError, match="not in the file image"):
        elfpatch.file_offset(data, 0x1000, 4)


def test_sized_image_writes_a_patched_copy(tmp_path):
    path = sized_image(default_image_dir(), "traps.elf", 77, tmp_path)
    assert path.parent == tmp_path and path.name == "traps-77.elf"
    assert elfpatch.read_u32(path.read_bytes(), ITERATIONS_SYMBOL) == 77


def test_missing_image_is_one_clear_error(tmp_path):
    with pytest.raises(ImageMissing, match="nothing.elf"):
        sized_image(tmp_path, "nothing.elf", 2, tmp_path)


def test_image_that_cannot_be_patched(tmp_path):
    (tmp_path / "bad.elf").write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(ImageMissing, match="bad.elf"):
        sized_image(tmp_path, "bad.elf", 2, tmp_path)


def test_sized_image_applies_further_patches(tmp_path):
    path = sized_image(default_image_dir(), "compute.elf", 5, tmp_path,
                       (("bench_list_pages", 512),))
    assert path.name == "compute-5-bench_list_pages=512.elf"
    data = path.read_bytes()
    assert elfpatch.read_u32(data, ITERATIONS_SYMBOL) == 5
    assert elfpatch.read_u32(data, "bench_list_pages") == 512

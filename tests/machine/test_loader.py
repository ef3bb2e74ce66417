"""Image loading: ELF64, flat and assembly images, and every malformed input."""

import pytest

from board_helpers import error_line, gnu_build, make_elf, needs_core, needs_gnu, run_cli
from pyvmm.machine.loader import ImageError, load_image, parse_elf

RAM = 0x8000_0000
MiB = 1 << 20
CODE = bytes.fromhex("13050000") * 4


def load(path, **kw):
    kw.setdefault("ram_base", RAM)
    kw.setdefault("ram_size", 4 * MiB)
    return load_image(path, **kw)


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    return p


def test_elf_segments_zero_fill_entry_and_symbols(tmp_path):
    elf = make_elf([(RAM, CODE, 16), (RAM + 0x1000, b"\x01\x02", 8)], RAM + 4,
                   symbols={"tohost": RAM + 0x1000, "_start": RAM})
    image = load(write(tmp_path, "g.elf", elf))
    assert image.kind == "elf"
    assert image.entry == RAM + 4
    assert image.segments == [(RAM, CODE), (RAM + 0x1000, b"\x01\x02" + bytes(6))]
    assert image.symbols == {"tohost": RAM + 0x1000, "_start": RAM}


def test_elf_without_suffix_is_sniffed(tmp_path):
    image = load(write(tmp_path, "vmlinux", make_elf([(RAM, CODE, 16)], RAM)))
    assert image.kind == "elf" and image.symbols == {}


def test_flat_image_default_and_load_addr(tmp_path):
    path = write(tmp_path, "g.bin", CODE)
    assert load(path).segments == [(RAM, CODE)]
    assert load(path).entry == RAM
    image = load(path, load_addr=RAM + 0x20_0000)
    assert image.entry == RAM + 0x20_0000 and image.segments[0][0] == RAM + 0x20_0000
    assert load(path, default_addr=RAM + 0x1000).entry == RAM + 0x1000


@needs_gnu
def test_gnu_linked_elf_matches_objcopy_layout(tmp_path):
    elf = gnu_build(tmp_path, """
        .globl _start
        _start: la a0, msg
        j _start
        .data
        msg: .asciz "hi"
        .globl tohost
        .align 3
        tohost: .dword 0
    """)
    image = load(elf)
    assert image.entry == RAM == image.symbols["_start"]
    assert "tohost" in image.symbols and "msg" in image.symbols
    loaded = dict(image.segments)
    data_addr = image.symbols["msg"]
    assert any(a <= data_addr < a + len(d) and d[data_addr - a:data_addr - a + 3] == b"hi\0"
               for a, d in loaded.items())


@pytest.mark.parametrize("content,message", [
    (b"", "empty image"),
    (b"\x7fELF\x02\x01", "truncated ELF header"),
    (b"garbage that is not an elf at all" * 4, "bad magic"),
    (make_elf([(RAM, CODE, 16)], RAM, elf_class=1), "not a 64-bit ELF"),
    (make_elf([(RAM, CODE, 16)], RAM, data=2), "not a little-endian ELF"),
    (make_elf([(RAM, CODE, 16)], RAM, machine=62), "not RISC-V"),
    (make_elf([(RAM, CODE, 16)], RAM, e_type=1), "relocatable object"),
    (make_elf([], RAM), "no program headers"),
    (make_elf([(RAM, CODE, 16)], RAM)[:100], "program header table extends beyond"),
    (make_elf([(RAM, CODE, 16)], RAM)[:-4], "segment 0 extends beyond the end of the file"),
    (make_elf([(RAM, CODE, 8)], RAM), "exceeds memory size"),
    (make_elf([(0x1000, CODE, 16)], 0x1000), "outside RAM"),
    (make_elf([(RAM + 4 * MiB - 8, CODE, 16)], RAM + 4 * MiB - 8), "outside RAM"),
    (make_elf([(RAM, CODE, 16)], RAM + 0x100), "entry point"),
], ids=lambda v: v if isinstance(v, str) else "elf")
def test_malformed_elf(tmp_path, content, message):
    with pytest.raises(ImageError) as info:
        load(write(tmp_path, "bad.elf", content))
    text = str(info.value)
    assert message in text and "\n" not in text and "bad.elf" in text


def test_huge_bss_is_refused_before_allocating(tmp_path):
    elf = make_elf([(RAM, CODE, 1 << 50)], RAM)
    with pytest.raises(ImageError, match="segment 0 is 1125899906842624 bytes, larger than RAM"):
        load(write(tmp_path, "bss.elf", elf))


def test_flat_image_larger_than_ram(tmp_path):
    with pytest.raises(ImageError, match="larger than RAM"):
        load(write(tmp_path, "big.bin", bytes(4 * MiB + 4)))


def test_flat_image_past_the_end_of_ram(tmp_path):
    with pytest.raises(ImageError, match="outside RAM"):
        load(write(tmp_path, "g.bin", CODE), load_addr=RAM + 4 * MiB - 4)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load(tmp_path / "nope.elf")
    with pytest.raises(ImageError, match="is a directory"):
        load(tmp_path)


def test_load_addr_is_refused_for_elf(tmp_path):
    with pytest.raises(ImageError, match="flat images, not ELF"):
        load(write(tmp_path, "g.elf", make_elf([(RAM, CODE, 16)], RAM)), load_addr=RAM)


def test_symbol_table_out_of_bounds(tmp_path):
    elf = bytearray(make_elf([(RAM, CODE, 16)], RAM, symbols={"x": RAM}))
    # Point the section header table past the end of the file.
    elf[0x28:0x30] = (len(elf) + 100).to_bytes(8, "little")
    with pytest.raises(ImageError, match="section header table extends beyond"):
        parse_elf(bytes(elf), "x.elf")


def test_virtual_entry_is_translated_to_its_physical_address(tmp_path):
    elf = bytearray(make_elf([(RAM, CODE, 16)], 0xFFFF_FFFF_8000_0004))
    # p_vaddr of segment 0 -> the kernel's virtual base; p_paddr stays RAM.
    elf[64 + 16:64 + 24] = (0xFFFF_FFFF_8000_0000).to_bytes(8, "little")
    image = load(write(tmp_path, "k.elf", bytes(elf)))
    assert image.entry == RAM + 4


# -- the same errors through `pyvmm run`: exit 2 and one line ------------------------

@needs_core
@pytest.mark.parametrize("name,content,message", [
    ("trunc.elf", make_elf([(RAM, CODE, 16)], RAM)[:40], "truncated ELF header"),
    ("garbage.elf", b"\x00garbage" * 20, "bad magic"),
    ("arm.elf", make_elf([(RAM, CODE, 16)], RAM, machine=40), "not RISC-V"),
    ("low.elf", make_elf([(0x2000, CODE, 16)], 0x2000), "outside RAM"),
    ("huge.bin", bytes(5 * MiB), "larger than RAM"),
], ids=["truncated", "garbage", "wrong-machine", "outside-ram", "too-big"])
def test_cli_rejects_bad_images(tmp_path, name, content, message):
    proc = run_cli(write(tmp_path, name, content), "--ram", "4M")
    assert proc.returncode == 2
    line = error_line(proc)
    assert line.startswith("pyvmm run: error: ") and message in line and name in line
    assert proc.stdout == b""


@needs_core
def test_cli_missing_file(tmp_path):
    proc = run_cli(tmp_path / "missing.elf")
    assert proc.returncode == 2
    assert "no such file" in error_line(proc)

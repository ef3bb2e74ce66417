"""The ELF and flat images: accepted by readelf/objdump/objcopy without
warnings, consistent with Program's sections/segments, and the API contract of
docs/architecture.md section 1."""

import subprocess

import pytest

from asm_oracle import CORPUS, OBJCOPY, OBJDUMP, READELF, need_binutils
from pyvmm.asm import AsmError, Program, Section, assemble, assemble_file

SAMPLE = """
    .globl _start
    .type _start, @function
_start:
    la a0, msg
    call helper
    j _start
    .size _start, . - _start
helper:
    ret
    .section .rodata
msg: .asciz "hi"
    .data
    .globl counter
    .type counter, @object
counter: .dword 42
    .size counter, 8
    .bss
scratch: .zero 24
"""


@pytest.fixture
def sample_elf(tmp_path):
    program = assemble(SAMPLE, "sample.S")
    path = tmp_path / "sample.elf"
    path.write_bytes(program.to_elf())
    return program, path


def test_readelf_accepts_it_without_warnings(sample_elf):
    need_binutils("readelf")
    program, path = sample_elf
    result = subprocess.run([READELF, "-a", "-W", str(path)], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stderr == ""
    assert "Warning" not in result.stdout and "Error" not in result.stdout
    assert "Entry point address:               0x80000000" in result.stdout
    assert "EXEC (Executable file)" in result.stdout and "RISC-V" in result.stdout
    assert "RVC" in result.stdout
    for line in ("FUNC    GLOBAL DEFAULT    1 _start", "OBJECT  GLOBAL DEFAULT    3 counter",
                 "NOTYPE  LOCAL  DEFAULT    1 helper"):
        assert line in " ".join(result.stdout.split("  ")).replace("  ", " ") or \
            all(word in result.stdout for word in line.split())


def test_symbol_table_values_sizes_and_binding(sample_elf):
    from elftools.elf.elffile import ELFFile
    program, path = sample_elf
    with open(path, "rb") as f:
        elf = ELFFile(f)
        symbols = {s.name: s for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name}
        assert symbols["_start"]["st_value"] == program.entry == program.symbols["_start"]
        assert symbols["_start"]["st_info"]["bind"] == "STB_GLOBAL"
        assert symbols["_start"]["st_info"]["type"] == "STT_FUNC"
        assert symbols["_start"]["st_size"] == program.symbols["helper"] - program.symbols["_start"]
        assert symbols["counter"]["st_size"] == 8 and symbols["counter"]["st_info"]["type"] == "STT_OBJECT"
        assert symbols["helper"]["st_info"]["bind"] == "STB_LOCAL"
        assert elf.get_section_by_name(".symtab")["sh_info"] == \
            1 + sum(1 for s in symbols.values() if s["st_info"]["bind"] == "STB_LOCAL")
        names = {s.name for s in elf.iter_sections()}
        assert {".text", ".rodata", ".data", ".bss", ".symtab", ".strtab", ".shstrtab"} <= names
        loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
        assert [(seg["p_vaddr"], seg["p_memsz"]) for seg in loads] == \
            [(addr, len(data)) for addr, data in program.segments()]
        for seg in loads:
            assert seg["p_offset"] % 0x1000 == seg["p_vaddr"] % 0x1000
        bss = [seg for seg in loads if seg["p_filesz"] == 0]
        # ld's script aligns the end of .bss to 8: 24 bytes at an odd address grow by the gap
        assert len(bss) == 1 and bss[0]["p_flags"] == 6
        assert (bss[0]["p_vaddr"] + bss[0]["p_memsz"]) % 8 == 0 and 24 <= bss[0]["p_memsz"] < 32


def test_objdump_disassembles_it_cleanly(sample_elf):
    need_binutils("objdump")
    program, path = sample_elf
    result = subprocess.run([OBJDUMP, "-d", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    assert "<_start>:" in result.stdout and "auipc\ta0,0x0" in result.stdout
    assert "jal\t80000014 <helper>" in result.stdout or "<helper>" in result.stdout


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.S")), ids=lambda p: p.name)
def test_corpus_elf_is_clean_and_objcopy_binary_equals_to_binary(path, tmp_path):
    need_binutils("objcopy")
    program = assemble_file(path)
    elf = tmp_path / "x.elf"
    elf.write_bytes(program.to_elf())
    out = tmp_path / "x.bin"
    result = subprocess.run([OBJCOPY, "-O", "binary", str(elf), str(out)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    assert out.read_bytes() == program.to_binary()
    need_binutils("readelf", "objdump")
    for tool, flags in ((READELF, ["-a", "-W"]), (OBJDUMP, ["-d", "-h"])):
        checked = subprocess.run([tool, *flags, str(elf)], capture_output=True, text=True)
        assert checked.returncode == 0 and checked.stderr == "", checked.stderr
        assert "warning" not in checked.stdout.lower()


def test_program_contract():
    program = assemble(SAMPLE)
    assert isinstance(program, Program)
    assert program.entry == program.symbols["_start"] == 0x8000_0000
    names = [s.name for s in program.sections]
    assert names == [".text", ".rodata", ".data", ".bss"]
    for s in program.sections:
        assert isinstance(s, Section) and isinstance(s.data, bytes)
    bss = program.sections[-1]
    assert bss.nobits and bss.data == bytes(len(bss.data)) and (bss.addr + len(bss.data)) % 8 == 0
    data = program.sections[2]
    # ld's DATA_SEGMENT_ALIGN: same page offset, next page
    rodata = program.sections[1]
    end_ro = rodata.addr + len(rodata.data)
    assert data.addr == ((end_ro + 0xFFF) & ~0xFFF) + (end_ro & 0xFFF)
    segments = program.segments()
    assert [a for a, _ in segments] == [s.addr for s in program.sections]
    assert segments[-1][1] == bss.data
    flat = program.to_binary()
    assert flat[:len(program.sections[0].data)] == program.sections[0].data
    assert len(flat) == data.addr + len(data.data) - 0x8000_0000     # nobits not in the flat image


def test_entry_without_start_is_text_start_and_sections_can_move():
    program = assemble("nop\nmain: ret\n.data\n.word 1\n", section_starts={".text": 0x1000, ".data": 0x4000})
    assert program.entry == 0x1000
    assert program.symbols == {"main": 0x1002}
    assert [(s.name, s.addr) for s in program.sections] == [(".text", 0x1000), (".data", 0x4000)]


def test_numeric_and_internal_labels_are_not_symbols():
    program = assemble("1: j 1b\n2: la a0, 2b\n.Llocal: nop\n")
    assert set(program.symbols) == {".Llocal"}
    from elftools.elf.elffile import ELFFile
    import io
    elf = ELFFile(io.BytesIO(program.to_elf()))
    assert [s.name for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name] == []


def test_include_dirs_and_linker_symbols(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "defs.inc").write_text(".equ MAGIC, 0x5555\n")
    src = tmp_path / "main.S"
    src.write_text('.include "defs.inc"\nli a0, MAGIC\nla gp, __global_pointer$\nla t0, _end\n.bss\n.zero 8\n')
    with pytest.raises(AsmError, match="can't open include file `defs.inc'"):
        assemble_file(src)
    program = assemble_file(src, include_dirs=[str(tmp_path / "inc")])
    assert program.symbols["MAGIC"] == 0x5555
    bss = program.sections[-1]
    assert program.symbols["_end"] == bss.addr + len(bss.data)
    # MIN(__SDATA_BEGIN__ + 0x800, MAX(__DATA_BEGIN__ + 0x800, __BSS_END__ - 0x800)), no .sdata
    assert program.symbols["__global_pointer$"] == bss.addr + 0x800


def test_include_is_searched_beside_the_including_file(tmp_path, monkeypatch):
    """A guest's `.include "include/x.inc"` resolves from the source's own
    directory whatever the working directory (GNU as needs -I for that), and
    an include nested in it resolves beside the included file."""
    (tmp_path / "src" / "include").mkdir(parents=True)
    (tmp_path / "src" / "include" / "outer.inc").write_text('.include "inner.inc"\nli a1, OUTER\n')
    (tmp_path / "src" / "include" / "inner.inc").write_text(".equ INNER, 7\n.equ OUTER, 9\n")
    src = tmp_path / "src" / "main.S"
    src.write_text('.include "include/outer.inc"\nli a0, INNER\n')
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    program = assemble_file(str(src))
    assert program.symbols["INNER"] == 7 and program.symbols["OUTER"] == 9
    text = next(s for s in program.sections if s.name == ".text")
    assert text.data == assemble("li a1, 9\nli a0, 7\n").sections[0].data


def test_assembly_is_deterministic():
    source = (CORPUS / "directives.S").read_text()
    assert assemble(source).to_elf() == assemble(source).to_elf()


# -march -> GNU's Tag_RISCV_arch; pyvmm.asm always accepts Zicsr, Zifencei and H,
# so the marches compared with GNU name them
ATTRIBUTE_MARCHES = ["rv64imac_zicsr_zifencei_h", "rv64gc_h", "rv64ima_zicsr_zifencei_h",
                     "rv64i_zicsr_zifencei_h_zba_zbb"]


def _readelf_arch(path):
    out = subprocess.run([READELF, "-A", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if "Tag_" in line]


@pytest.mark.parametrize("march", ATTRIBUTE_MARCHES)
def test_riscv_attributes_match_gnu(march, tmp_path):
    need_binutils("as", "ld", "readelf")
    from asm_oracle import gnu_build
    src = tmp_path / "a.S"
    src.write_text("    .globl _start\n_start:\n    nop\n")
    gnu = gnu_build(src, tmp_path, march=march)
    mine = tmp_path / "pyvmm.elf"
    mine.write_bytes(assemble(src.read_text(), march=march).to_elf())
    assert _readelf_arch(mine) == _readelf_arch(gnu.elf_path)
    assert len(_readelf_arch(mine)) == 1


def test_arch_string_is_normalised_like_gnu():
    from pyvmm.asm.attributes import arch_string
    from pyvmm.asm.assembler import parse_march
    assert arch_string(parse_march("rv64imac_zifencei_zicsr")) == \
        "rv64i2p1_m2p0_a2p1_c2p0_zicsr2p0_zifencei2p0_zmmul1p0"
    assert arch_string(parse_march("rv64gch")) == \
        "rv64i2p1_m2p0_a2p1_f2p2_d2p2_c2p0_h1p0_zicsr2p0_zifencei2p0_zmmul1p0"
    assert assemble("nop", march="rv64ia").arch == "rv64i2p1_a2p1_h1p0_zicsr2p0_zifencei2p0"
    # .attribute arch sets the ISA the attribute records
    assert assemble('.attribute arch, "rv64imc"\nnop').arch == \
        "rv64i2p1_m2p0_c2p0_h1p0_zicsr2p0_zifencei2p0_zmmul1p0"


def test_objdump_decodes_h_instructions_in_pyvmm_elf(tmp_path):
    need_binutils("objdump")
    elf = tmp_path / "h.elf"
    elf.write_bytes(assemble("_start:\n    hlv.b a0, (a1)\n    hfence.gvma\n    csrr a0, hstatus\n").to_elf())
    out = subprocess.run([OBJDUMP, "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "\thlv.b\ta0,(a1)" in out and "\thfence.gvma" in out and "\tcsrr\ta0,hstatus" in out

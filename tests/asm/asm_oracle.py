"""Helpers for the assembler tests: GNU binutils as the oracle."""

import shutil
from pathlib import Path

import pytest

from support import oracles

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
GNU_AS = shutil.which(oracles.GNU_AS)
GNU_LD = shutil.which(oracles.GNU_LD)
READELF = shutil.which("riscv64-unknown-elf-readelf")
OBJDUMP = shutil.which("riscv64-unknown-elf-objdump")
OBJCOPY = shutil.which("riscv64-unknown-elf-objcopy")
# pyvmm's rv64imac always accepts Zicsr, Zifencei and H; GNU 2.40 wants them named
GNU_MARCH = "rv64imac_zicsr_zifencei_h"
# ld symbols that GNU's default script defines and pyvmm provides only on reference
LINKER_DEFINED = {"__global_pointer$", "__bss_start", "_edata", "edata", "_end", "end", "__BSS_END__",
                  "__DATA_BEGIN__", "__SDATA_BEGIN__", "_etext", "etext", "__etext"}


def need_binutils(*tools):
    missing = [t for t, path in (("as", GNU_AS), ("ld", GNU_LD), ("readelf", READELF),
                                 ("objdump", OBJDUMP), ("objcopy", OBJCOPY)) if t in tools and not path]
    if missing:
        pytest.skip("riscv64-unknown-elf-%s not installed (Debian: binutils-riscv64-unknown-elf)"
                    % "/".join(missing))


class GnuResult:
    def __init__(self, entry, sections, symbols, elf_path):
        self.entry = entry
        self.sections = sections      # name -> (addr, bytes) for allocated, non-empty sections
        self.symbols = symbols        # name -> value (defined symbols only)
        self.elf_path = elf_path


def gnu_build(source_path, tmp_path, march=GNU_MARCH, ld_args=("-Ttext=0x80000000",)):
    """Assemble with GNU as -mno-relax and link with GNU ld; GnuResult, or raise
    support.oracles.GnuBuildError ("GNU as failed" / "GNU ld failed" and stderr)."""
    need_binutils("as", "ld")
    from elftools.elf.elffile import ELFFile
    elf = oracles.build_with_gnu(source_path, tmp_path, name="gnu", march=march, ld_args=list(ld_args))
    with open(elf, "rb") as f:
        e = ELFFile(f)
        sections = {}
        for sec in e.iter_sections():
            if sec["sh_flags"] & 2 and sec["sh_size"]:
                data = bytes(sec["sh_size"]) if sec["sh_type"] == "SHT_NOBITS" else sec.data()
                sections[sec.name] = (sec["sh_addr"], data)
        symbols = {}
        for sym in e.get_section_by_name(".symtab").iter_symbols():
            if sym.name and not sym.name.startswith("$") and sym["st_shndx"] != "SHN_UNDEF" and \
                    sym["st_info"]["type"] in ("STT_NOTYPE", "STT_FUNC", "STT_OBJECT"):
                symbols[sym.name] = sym["st_value"]
        return GnuResult(e.header.e_entry, sections, symbols, elf)


def first_difference(a, b):
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b) or a[i] != b[i]:
            return i
    return None


def compare_with_gnu(program, gnu):
    """A list of human-readable differences (empty when identical)."""
    problems = []
    ours = {s.name: (s.addr, s.data) for s in program.sections if s.alloc and s.size}
    for name in sorted(set(ours) | set(gnu.sections)):
        if ours.get(name) != gnu.sections.get(name):
            oa, od = ours.get(name, (None, b""))
            ga, gd = gnu.sections.get(name, (None, b""))
            at = first_difference(od, gd)
            problems.append("section %s: pyvmm at %s (%d bytes), GNU at %s (%d bytes); first byte "
                            "difference at +%s: pyvmm %s, GNU %s" % (
                                name, oa and hex(oa), len(od), ga and hex(ga), len(gd),
                                at is not None and hex(at), od[at:at + 8].hex() if at is not None else "",
                                gd[at:at + 8].hex() if at is not None else ""))
    if program.entry != gnu.entry:
        problems.append("entry: pyvmm %#x, GNU %#x" % (program.entry, gnu.entry))
    for name, value in gnu.symbols.items():
        if name in LINKER_DEFINED:
            continue
        if program.symbols.get(name) != value:
            problems.append("symbol %s: pyvmm %s, GNU %#x" % (
                name, hex(program.symbols[name]) if name in program.symbols else "missing", value))
    return problems

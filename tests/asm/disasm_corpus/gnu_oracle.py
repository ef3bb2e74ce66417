"""GNU binutils as the oracle for the disassembler tests.

Builds images with riscv64-unknown-elf-as/ld (never with pyvmm's assembler,
so the differential tests do not depend on it) and parses
``riscv64-unknown-elf-objdump -d`` output. Loaded by path from the tests.
"""

import os
import re
import shutil
import struct
import subprocess

AS = "riscv64-unknown-elf-as"
LD = "riscv64-unknown-elf-ld"
OBJCOPY = "riscv64-unknown-elf-objcopy"
OBJDUMP = "riscv64-unknown-elf-objdump"
MARCH = "rv64imafdc_zicsr_zifencei_h_zicbom_zicboz_zicbop_zihintpause_zba_zbb_zbc_zbs"
BASE = 0x8000_0000

# "    80000000:\t4505                \tli\ta0,1"
INSN_LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$")


def missing_tools():
    """Names of the binutils programs that are not installed."""
    return [tool for tool in (AS, LD, OBJCOPY, OBJDUMP) if shutil.which(tool) is None]


def build_elf(source, workdir, name="image", base=BASE, strip_mapping_symbols=False):
    """Assemble and link `source` (text) at `base`; return the ELF path.

    With strip_mapping_symbols, the $x/$d symbols are removed so objdump
    decodes every byte of .text as instructions (`.short`/`.word` otherwise
    mark data).
    """
    src = os.path.join(workdir, name + ".S")
    obj = os.path.join(workdir, name + ".o")
    elf = os.path.join(workdir, name + ".elf")
    with open(src, "w") as f:
        f.write(source)
    subprocess.run([AS, "-march=" + MARCH, src, "-o", obj], check=True, capture_output=True)
    subprocess.run([LD, "-Ttext=0x%x" % base, obj, "-o", elf], check=True, capture_output=True)
    if strip_mapping_symbols:
        subprocess.run([OBJCOPY, "--wildcard", "--strip-symbol=$d*", "--strip-symbol=$x*", elf],
                       check=True, capture_output=True)
    return elf


def halves_source(blob):
    """Assembly source placing the bytes of `blob` (even length) at _start."""
    lines = [".text", ".globl _start", "_start:"]
    lines += [".short 0x%04x" % h for (h,) in struct.iter_unpack("<H", blob)]
    return "\n".join(lines) + "\n"


def objdump(elf, *options):
    """Full `objdump -d` output text."""
    return subprocess.run([OBJDUMP, "-d", *options, elf], check=True, capture_output=True,
                          text=True).stdout


def objdump_insns(elf, *options):
    """[(address, text)] for every instruction line of `objdump -d`."""
    found = []
    for line in objdump(elf, *options).splitlines():
        m = INSN_LINE.match(line)
        if m:
            found.append((int(m.group(1), 16), m.group(3)))
    return found


def text_section(elf):
    """(address, bytes) of the .text section."""
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        sec = ELFFile(f).get_section_by_name(".text")
        return sec["sh_addr"], sec.data()

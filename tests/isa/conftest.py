import shutil
import subprocess

import pytest

GNU_AS = shutil.which("riscv64-unknown-elf-as")
OBJDUMP = shutil.which("riscv64-unknown-elf-objdump")
GNU_MARCH = "rv64imafdc_zicsr_zifencei_h_zicbom_zicboz_zicbop_zihintpause_zba_zbb_zbc_zbs"


@pytest.fixture
def objdump_words(tmp_path):
    return lambda parcels: _objdump_words(parcels, tmp_path)


def _objdump_words(parcels, tmp_path):
    """{offset: (mnemonic, operands)} for [(length, value)], via `.insn` and objdump -M no-aliases.

    Assembling through GNU as (rather than objdump -b binary) puts the ISA
    string, F, D and H included, in .riscv.attributes so objdump decodes every
    extension pyvmm has and none it lacks.
    """
    if GNU_AS is None or OBJDUMP is None:
        pytest.skip("riscv64-unknown-elf-as/objdump not installed (binutils-riscv64-unknown-elf)")
    source = tmp_path / "words.S"
    source.write_text("".join(".insn %d, 0x%x\n" % (n, v) for n, v in parcels))
    obj = tmp_path / "words.o"
    subprocess.run([GNU_AS, "-march=" + GNU_MARCH, "-mno-relax", str(source), "-o", str(obj)],
                   check=True, capture_output=True)
    out = subprocess.run([OBJDUMP, "-d", "-M", "no-aliases", str(obj)],
                         check=True, capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0].strip().endswith(":"):
            continue
        offset = int(parts[0].strip()[:-1], 16)
        mnemonic = parts[2].strip()
        operands = parts[3].split("#")[0].split(" <")[0].strip() if len(parts) > 3 else ""
        result[offset] = (mnemonic, operands)
    return result

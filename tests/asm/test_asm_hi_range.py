"""%hi() of a constant takes what GNU as takes: any value of magnitude
below 2**32, the upper 20 bits wrapping when the rounding carries."""

import shutil
import subprocess

import pytest

from pyvmm.asm import assemble
from pyvmm.asm.errors import AsmError

ACCEPTED = ["0x7ffff800", "0x7fffffff", "0x80000000", "0xfffff7ff", "0xfffff800", "0xffffffff",
            "-0x80000800", "-0x80000801", "-0xfffff801", "-0xffffffff", "0", "0x12345678"]
REFUSED = ["0x100000000", "-0x100000000", "0x123456789"]

# lui a0, %hi(v) as GNU as 2.40 encodes it (the 20-bit immediate).
GNU_HI = {"0x7ffff800": 0x80000, "0x7fffffff": 0x80000, "0x80000000": 0x80000,
          "0xfffff7ff": 0xFFFFF, "0xfffff800": 0x0, "0xffffffff": 0x0, "-0x80000800": 0x80000,
          "-0x80000801": 0x7FFFF, "-0xfffff801": 0x0, "-0xffffffff": 0x0, "0": 0x0,
          "0x12345678": 0x12345}


def lui_imm(value):
    word = int.from_bytes(assemble("lui a0, %%hi(%s)\n" % value).sections[0].data[:4], "little")
    return word >> 12


@pytest.mark.parametrize("value", ACCEPTED)
def test_hi_of_a_32_bit_constant_wraps_as_gnu_as(value):
    assert lui_imm(value) == GNU_HI[value]


@pytest.mark.parametrize("value", REFUSED)
def test_hi_beyond_32_bits_is_refused(value):
    with pytest.raises(AsmError, match="out of range"):
        assemble("lui a0, %%hi(%s)\n" % value)


def test_same_bytes_as_gnu_as(tmp_path):
    gas = shutil.which("riscv64-unknown-elf-as")
    objcopy = shutil.which("riscv64-unknown-elf-objcopy")
    if not gas or not objcopy:
        pytest.skip("GNU binutils for riscv64 are not installed")
    source = "".join("lui a0, %%hi(%s)\naddi a0, a0, %%lo(%s)\n" % (v, v) for v in ACCEPTED)
    (tmp_path / "hi.S").write_text(source)
    subprocess.run([gas, "-o", str(tmp_path / "hi.o"), str(tmp_path / "hi.S")], check=True)
    subprocess.run([objcopy, "-O", "binary", "-j", ".text", str(tmp_path / "hi.o"),
                    str(tmp_path / "hi.bin")], check=True)
    assert (tmp_path / "hi.bin").read_bytes() == assemble(source).sections[0].data

"""Helpers for the core's tests: assemble a small program and load it into a Core.

GNU binutils assemble when installed (they are the reference); otherwise
pyvmm's own assembler does; with neither, the tests that need code skip.
"""

import io
import os
import shutil
import subprocess
import tempfile

import pytest

core_mod = pytest.importorskip("pyvmm._core", reason="pyvmm._core is not built (python setup.py build_ext --inplace)")

RAM_BASE = 0x8000_0000
# the hart's ISA for both assemblers (pyvmm.asm gates the Z extensions by it)
MARCH = "rv64imafdc_zicsr_zifencei_h_zicbom_zicboz_zicbop_zihintpause_zba_zbb_zbc_zbs"
GNU_AS = shutil.which("riscv64-unknown-elf-as")
GNU_LD = shutil.which("riscv64-unknown-elf-ld")


class Program:
    def __init__(self, base, image, symbols):
        self.base = base
        self.image = image
        self.sym = symbols

    def __getitem__(self, name):
        return self.sym[name]


def _assemble_gnu(source, base):
    from elftools.elf.elffile import ELFFile
    with tempfile.TemporaryDirectory(prefix="pyvmm-native-") as tmp:
        src, obj, elf = (os.path.join(tmp, n) for n in ("t.S", "t.o", "t.elf"))
        with open(src, "w") as f:
            f.write(source)
        for cmd in ([GNU_AS, "-march=" + MARCH, "-mno-relax", "-o", obj, src],
                    [GNU_LD, f"-Ttext=0x{base:x}", "-o", elf, obj]):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise AssertionError(f"{os.path.basename(cmd[0])} failed:\n{proc.stderr}")
        with open(elf, "rb") as f:
            reader = ELFFile(io.BytesIO(f.read()))
            image = bytearray()
            for sec in reader.iter_sections():
                if not sec["sh_flags"] & 2 or sec["sh_addr"] < base:    # SHF_ALLOC
                    continue
                off = sec["sh_addr"] - base
                data = bytes(sec["sh_size"]) if sec["sh_type"] == "SHT_NOBITS" else sec.data()
                if len(image) < off + len(data):
                    image.extend(bytes(off + len(data) - len(image)))
                image[off:off + len(data)] = data
            symbols = {s.name: s["st_value"] for s in reader.get_section_by_name(".symtab").iter_symbols()
                       if s.name}
    return Program(base, bytes(image), symbols)


def _assemble_pyvmm(source, base):
    from pyvmm.asm import assemble
    prog = assemble(source, section_starts={".text": base}, march=MARCH)
    image = bytearray()
    for addr, data in prog.segments():
        off = addr - base
        if len(image) < off + len(data):
            image.extend(bytes(off + len(data) - len(image)))
        image[off:off + len(data)] = data
    return Program(base, bytes(image), dict(prog.symbols))


def assemble(source, base=RAM_BASE):
    if GNU_AS and GNU_LD:
        return _assemble_gnu(source, base)
    try:
        from pyvmm.asm import assemble as _unused  # noqa: F401
    except ImportError:
        pytest.skip("no assembler: neither GNU binutils for RISC-V nor pyvmm.asm is available")
    return _assemble_pyvmm(source, base)


EBREAK_EXIT = 1 << 3


def load(source, base=RAM_BASE, ram_size=1 << 22, **core_kwargs):
    """A Core (M-mode) with `source` loaded at `base`; ebreak exits to the test."""
    prog = assemble(".globl _start\n_start:\n" + source, base)
    core = core_mod.Core(ram_size=ram_size, ram_base=RAM_BASE, **core_kwargs)
    core.write_mem(base, prog.image)
    core.pc = base
    core.exit_on_exception = EBREAK_EXIT
    open_pmp(core)
    return core, prog


def open_pmp(core):
    """Grant S and U all of memory, as firmware does (QEMU 7.2 refuses mret to
    S/U while no PMP rule exists, and denies S/U accesses no rule matches)."""
    core.write_csr(0x3B0, (1 << 54) - 1)     # pmpaddr0: NAPOT over everything
    core.write_csr(0x3A0, 0x1F)              # pmpcfg0: NAPOT, R W X


def run_to_ebreak(core, budget=1_000_000):
    """Run until the program's ebreak; fail on any other exit."""
    reason = core.run(budget)
    assert reason == core_mod.EXIT_TRAP, f"exit {reason} at pc {core.pc:#x}"
    assert core.exit_cause == 3, f"trap cause {core.exit_cause:#x} at {core.exit_pc:#x}"
    return core


def run_in_steps(core, step):
    """Run `step` instructions at a time until an exit other than the
    budget's, checking that each budget exit retired exactly `step`; that
    exit's reason."""
    while True:
        before = core.stats()["instret"]
        reason = core.run(step)
        if reason != core_mod.EXIT_BUDGET:
            return reason
        assert core.stats()["instret"] - before == step


def reg(core, name):
    names = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
             "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
    return int(core.x[names.index(name)])

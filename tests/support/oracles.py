"""The reference side of the differential tests: GNU binutils build, QEMU runs.

One place for the command lines, so every test builds and runs its reference
the same way (GNU as -mno-relax, ld -Ttext at RAM base, QEMU with -nographic
and 128 MiB). Each test directory keeps its own skip reasons and error types.
"""

import os
import shutil
import subprocess

GNU_AS = "riscv64-unknown-elf-as"
GNU_LD = "riscv64-unknown-elf-ld"
QEMU = "qemu-system-riscv64"
GNU_MARCH = "rv64imac_zicsr_zifencei"
RAM_BASE = 0x8000_0000
# Runs with -icount are deterministic: one instruction per virtual nanosecond.
QEMU_ICOUNT = ("-icount", "shift=0,sleep=off")


def first_missing(*tools):
    """The first of `tools` that is not on PATH, or None."""
    return next((tool for tool in tools if shutil.which(tool) is None), None)


class GnuBuildError(RuntimeError):
    """GNU as or ld refused; the message starts "GNU as failed" or "GNU ld failed"
    and ends with the tool's stderr."""


def build_with_gnu(source, out_dir, *, name=None, march=GNU_MARCH, text_addr=RAM_BASE, ld_args=None):
    """Assemble `source` (a path) with GNU as and link it at `text_addr` (or with
    `ld_args` instead); returns the ELF's path in `out_dir`.

    GNU as 2.40 searches .include only in -I directories (pyvmm.asm also looks
    beside the including file), so the source's own directory is passed."""
    source = str(source)
    name = name or os.path.splitext(os.path.basename(source))[0]
    obj = os.path.join(str(out_dir), name + ".o")
    elf = os.path.join(str(out_dir), name + ".elf")
    if ld_args is None:
        ld_args = ["-Ttext=%#x" % text_addr]
    for tool, cmd in (("as", [GNU_AS, "-march=" + march, "-mno-relax",
                              "-I", os.path.dirname(os.path.abspath(source)), "-o", obj, source]),
                      ("ld", [GNU_LD, *ld_args, "-o", elf, obj])):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise GnuBuildError("GNU %s failed: %s\n%s" % (tool, " ".join(cmd), proc.stderr))
    return elf


def build_text_with_gnu(text, out_dir, name="guest", **options):
    """build_with_gnu for a program held in a string (written to out_dir/name.S)."""
    source = os.path.join(str(out_dir), name + ".S")
    with open(source, "w") as f:
        f.write(text)
    return build_with_gnu(source, out_dir, name=name, **options)


def run_qemu(kernel, machine="virt", bios="none", *, cpu=None, icount=False, timeout=120):
    """(exit status, stdout bytes) of qemu-system-riscv64 -machine MACHINE -kernel KERNEL.

    bios=None leaves QEMU's default firmware; the UART (or HTIF console) is
    stdout, stdin is closed. subprocess.TimeoutExpired passes through."""
    args = [QEMU, "-machine", machine, "-nographic", "-m", "128M"]
    if bios is not None:
        args += ["-bios", bios]
    if cpu:
        args += ["-cpu", cpu]
    if icount:
        args += QEMU_ICOUNT
    proc = subprocess.run(args + ["-kernel", str(kernel)], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout

"""The reference side of the differential tests: GNU binutils to build, QEMU to run.

Both sides run the same image on the same board layout (QEMU's `virt`,
`-bios none`, entered in M-mode at 0x8000_0000) and must print the same UART
text and end with the same exit status.
"""

import os
import shutil
import subprocess
import sys

GNU_AS = "riscv64-unknown-elf-as"
GNU_LD = "riscv64-unknown-elf-ld"
QEMU = "qemu-system-riscv64"
GNU_MARCH = "rv64imac_zicsr_zifencei"
QEMU_ARGS = ("-machine", "virt", "-bios", "none", "-nographic", "-m", "128M")


def missing_tools():
    """A reason to skip, or None when GNU as/ld and QEMU are installed."""
    for tool in (GNU_AS, GNU_LD, QEMU):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (differential tests need GNU binutils and QEMU)"
    return None


class BuildError(Exception):
    pass


def build_elf(source_path, out_dir):
    """Assemble and link `source_path` at 0x8000_0000; return the ELF's path.

    GNU as 2.40 searches .include only in -I directories (pyvmm.asm also looks
    beside the including file), so the source's own directory is passed."""
    name = os.path.splitext(os.path.basename(source_path))[0]
    obj = os.path.join(out_dir, name + ".o")
    elf = os.path.join(out_dir, name + ".elf")
    for cmd in ([GNU_AS, f"-march={GNU_MARCH}", "-mno-relax",
                 "-I", os.path.dirname(os.path.abspath(source_path)), "-o", obj, source_path],
                [GNU_LD, "-Ttext=0x80000000", "-o", elf, obj]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise BuildError(f"{' '.join(cmd)}\n{proc.stderr}")
    return elf


# QEMU 7.2's default rv64 also has F, D, H and Zb*: switched off where a test
# needs QEMU to decode exactly pyvmm's RV64IMAC + Zicsr + Zifencei.
QEMU_CPU_RV64IMAC = "rv64,d=false,f=false,h=false,zba=false,zbb=false,zbc=false,zbs=false"


def run_qemu(elf, timeout=120, icount=False, cpu=None):
    """(exit status, UART bytes) of `elf` on qemu-system-riscv64 -machine virt."""
    args = [QEMU, *QEMU_ARGS]
    if cpu:
        args += ["-cpu", cpu]
    if icount:
        args += ["-icount", "shift=0,sleep=off"]
    proc = subprocess.run(args + ["-kernel", elf], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout


# Guests retire well under this; a runaway ends with status 124 instead of a hang.
MAX_INSNS = 200_000_000


def run_pyvmm(image, timeout=300, extra=()):
    """(exit status, UART bytes, stderr text) of `python -m pyvmm run image`."""
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--max-insns", str(MAX_INSNS), *extra, image],
                          capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


def run_pyvmm_in_process(image, max_insns=MAX_INSNS):
    """(exit status, UART bytes, "") of `image` on pyvmm's Machine, the board behind `pyvmm run`."""
    import io
    from pyvmm.machine import Machine
    console = io.BytesIO()
    machine = Machine(console=console)
    machine.load(image)
    result = machine.run(max_insns=max_insns)
    machine.flush_console()
    return result.status, console.getvalue(), f"stopped by {result.how}"


def first_difference(a, b, context=80):
    """A short description of where two byte strings first differ."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            break
    else:
        i = min(len(a), len(b))
    lo = max(0, i - context)
    return (f"first difference at byte {i}:\n  expected ...{a[lo:i + context]!r}\n"
            f"  got      ...{b[lo:i + context]!r}")

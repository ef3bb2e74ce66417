"""The reference side of the differential tests: GNU binutils to build, QEMU to run.

Both sides run the same image on the same board layout (QEMU's `virt`,
`-bios none`, entered in M-mode at 0x8000_0000) and must print the same UART
text and end with the same exit status.
"""

import os
import subprocess
import sys
import tempfile

from hypothesis import HealthCheck, Phase, settings

from support import oracles

def missing_tools():
    """A reason to skip, or None when GNU as/ld and QEMU are installed."""
    tool = oracles.first_missing(oracles.GNU_AS, oracles.GNU_LD, oracles.QEMU)
    if tool:
        return f"{tool} is not installed (differential tests need GNU binutils and QEMU)"
    return None


def build_elf(source_path, out_dir):
    """Assemble and link `source_path` at 0x8000_0000; return the ELF's path."""
    return oracles.build_with_gnu(source_path, out_dir)


# QEMU 7.2's default rv64 also has F, D, H and Zb*: switched off where a test
# needs QEMU to decode exactly pyvmm's RV64IMAC + Zicsr + Zifencei.
QEMU_CPU_RV64IMAC = "rv64,d=false,f=false,h=false,zba=false,zbb=false,zbc=false,zbs=false"
# QEMU 7.2's rv64 decoding what pyvmm's hart decodes (F, D and H off, Zb* on;
# QEMU 7.2 has no Zicbom/Zicboz, so tests keep cbo.* words away from it)
QEMU_CPU_PYVMM_DECODE = "rv64,d=false,f=false,h=false,zba=true,zbb=true,zbc=true,zbs=true"
# QEMU 7.2's rv64 with the extensions pyvmm's hart adds on: Zba/Zbb/Zbc/Zbs,
# Zihintpause, the 16 HPM counters and Sv57 (its defaults, named so a change
# of default cannot silently switch them off), and H
QEMU_CPU_RV64_EXTENSIONS = "rv64,h=true,zba=true,zbb=true,zbc=true,zbs=true,Zihintpause=true,pmu-num=16"


def run_qemu(elf, timeout=120, icount=False, cpu=None):
    """(exit status, UART bytes) of `elf` on qemu-system-riscv64 -machine virt -bios none."""
    return oracles.run_qemu(elf, cpu=cpu, icount=icount, timeout=timeout)


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


def run_on_qemu_and_pyvmm(source_text, cpu=None):
    """Build `source_text` with GNU binutils and run the ELF on QEMU and on pyvmm's
    Machine: (QEMU status, QEMU UART bytes, pyvmm status, pyvmm UART bytes, how pyvmm stopped)."""
    with tempfile.TemporaryDirectory(prefix="pyvmm-fuzz-") as tmp:
        elf = oracles.build_text_with_gnu(source_text, tmp, name="fuzz")
        q_status, q_out = run_qemu(elf, cpu=cpu)
        p_status, p_out, how = run_pyvmm_in_process(elf)
    return q_status, q_out, p_status, p_out, how


def fuzz_batches(count):
    """Hypothesis settings for `count` fuzz batches. No shrinking: each batch
    costs a QEMU run, and a failure already names the instruction."""
    return settings(max_examples=count, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow,
                                           HealthCheck.large_base_example, HealthCheck.function_scoped_fixture])


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

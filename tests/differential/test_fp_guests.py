"""The F/D guests (guests/fp/*.S) on QEMU 7.2 and on pyvmm: the same UART
text (per instruction and rounding mode, a hash of every result and the
fflags raised over tables of IEEE corner cases), the same exit status.
Built twice: by GNU as (the ELF runs on both) and by pyvmm.asm (on pyvmm)."""

import glob
import os
import tempfile

import pytest

from support import oracles
from . import oracle
from . import fp_programs as fp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = sorted(glob.glob(os.path.join(REPO, "guests", "fp", "*.S")))


def test_there_are_fp_guests():
    assert "fp_corners.S" in {os.path.basename(p) for p in GUESTS}


@pytest.mark.parametrize("guest", GUESTS, ids=os.path.basename)
def test_fp_guest_matches_qemu(tools, guest):
    with tempfile.TemporaryDirectory(prefix="pyvmm-fpg-") as tmp:
        elf = oracles.build_with_gnu(guest, tmp, march=fp.MARCH)
        q_status, q_out = oracle.run_qemu(elf, cpu=fp.QEMU_CPU_FD)
        p_status, p_out, how = oracle.run_pyvmm_in_process(elf)
        from pyvmm.asm import assemble_file
        own = os.path.join(tmp, "own.elf")
        with open(own, "wb") as f:
            f.write(assemble_file(guest, march=fp.MARCH, include_dirs=(os.path.dirname(guest),)).to_elf())
        o_status, o_out, _ = oracle.run_pyvmm_in_process(own)
    assert q_status == 0 and q_out.count(b"\n") >= 250, q_out[-500:]
    assert p_out == q_out, oracle.first_difference(q_out, p_out)
    assert p_status == q_status, how
    assert (o_status, o_out) == (q_status, q_out)

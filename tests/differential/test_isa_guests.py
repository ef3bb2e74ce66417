"""The ISA-extension guests (guests/isa/*.S) on QEMU 7.2 and on pyvmm: same UART output, same exit status.

Each guest covers one family: the bit-manipulation extensions and the hints
(zb.S), the HPM counters (hpm.S), Sv57 paging (sv57.S). QEMU runs with the
extensions on (oracle.QEMU_CPU_RV64_EXTENSIONS); pyvmm runs the GNU-built ELF
and the .S assembled by pyvmm.asm.
"""

import glob
import os

import pytest

from . import oracle

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = sorted(glob.glob(os.path.join(REPO, "guests", "isa", "*.S")))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """guest path -> (ELF path, QEMU exit status, QEMU UART output), built once per guest."""
    reason = oracle.missing_tools()
    if reason:
        pytest.skip(reason)
    out_dir = str(tmp_path_factory.mktemp("isa-guests"))
    cache = {}

    def get(path):
        if path not in cache:
            elf = oracle.build_elf(path, out_dir)
            status, output = oracle.run_qemu(elf, cpu=oracle.QEMU_CPU_RV64_EXTENSIONS)
            cache[path] = (elf, status, output)
        return cache[path]
    return get


def test_the_families_have_guests():
    assert {"zb.S", "hpm.S", "sv57.S"} <= {os.path.basename(p) for p in GUESTS}


@pytest.mark.parametrize("guest", GUESTS, ids=os.path.basename)
def test_guest_passes_on_qemu(guest, reference):
    _, status, output = reference(guest)
    assert status == 0, f"QEMU exit status {status}; output:\n{output.decode(errors='replace')}"
    assert output.count(b"\n") >= 3


@pytest.mark.parametrize("guest", GUESTS, ids=os.path.basename)
def test_elf_on_pyvmm_matches_qemu(guest, reference):
    elf, status, output = reference(guest)
    got_status, got_output, stderr = oracle.run_pyvmm(elf)
    assert got_output == output, oracle.first_difference(output, got_output) + "\n" + stderr[-2000:]
    assert got_status == status, stderr[-2000:]


@pytest.mark.parametrize("guest", GUESTS, ids=os.path.basename)
def test_source_on_pyvmm_matches_qemu(guest, reference):
    """`pyvmm run guest.S`: pyvmm's assembler (the guest's .attribute arch) and the board."""
    _, status, output = reference(guest)
    got_status, got_output, stderr = oracle.run_pyvmm(guest)
    assert got_output == output, oracle.first_difference(output, got_output) + "\n" + stderr[-2000:]
    assert got_status == status, stderr[-2000:]

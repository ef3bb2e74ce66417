"""Every guest in guests/*.S on QEMU and on pyvmm: same UART output, same exit status.

Three runs per guest: the GNU-built ELF on QEMU (the reference), the same ELF
on `pyvmm run`, and the .S source on `pyvmm run` (assembled by pyvmm.asm).
"""

import glob
import importlib
import os

import pytest

from . import oracle

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUESTS = sorted(glob.glob(os.path.join(REPO, "guests", "*.S")))


def _params():
    return [pytest.param(path, id=os.path.basename(path)) for path in GUESTS]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """guest path -> (ELF path, QEMU exit status, QEMU UART output), built once per guest."""
    reason = oracle.missing_tools()
    if reason:
        pytest.skip(reason)
    out_dir = str(tmp_path_factory.mktemp("guests"))
    cache = {}

    def get(path):
        if path not in cache:
            elf = oracle.build_elf(path, out_dir)
            status, output = oracle.run_qemu(elf)
            cache[path] = (elf, status, output)
        return cache[path]
    return get


def test_there_are_guests():
    names = {os.path.basename(p) for p in GUESTS}
    assert {"hello.S", "trap_demo.S", "skernel.S", "compute.S", "selfmod.S", "sstc_timer.S"} <= names


@pytest.mark.parametrize("guest", _params())
def test_guest_passes_on_qemu(guest, reference):
    """The guests themselves are right: they finish with status 0 on the reference."""
    _, status, output = reference(guest)
    assert status == 0, f"QEMU exit status {status}; output:\n{output.decode(errors='replace')}"
    assert output, "a guest must print something"


@pytest.mark.parametrize("guest", _params())
def test_guest_elf_on_pyvmm_matches_qemu(guest, reference):
    elf, status, output = reference(guest)
    got_status, got_output, stderr = oracle.run_pyvmm(elf)
    assert got_output == output, oracle.first_difference(output, got_output) + "\n" + stderr[-2000:]
    assert got_status == status, stderr[-2000:]


@pytest.mark.parametrize("guest", _params())
def test_guest_source_on_pyvmm_matches_qemu(guest, reference):
    """`pyvmm run guest.S`: pyvmm's assembler and the board together."""
    try:
        asm = importlib.import_module("pyvmm.asm")
    except ImportError:
        asm = None
    if not hasattr(asm, "assemble"):
        pytest.skip("pyvmm.asm.assemble is not available")
    _, status, output = reference(guest)
    got_status, got_output, stderr = oracle.run_pyvmm(guest)
    assert got_output == output, oracle.first_difference(output, got_output) + "\n" + stderr[-2000:]
    assert got_status == status, stderr[-2000:]


@pytest.mark.parametrize("guest", _params())
def test_guest_assembles_byte_identical_to_gnu(guest, reference):
    """pyvmm.asm lays out and encodes each guest exactly as GNU as + ld -Ttext=0x80000000."""
    from elftools.elf.elffile import ELFFile
    try:
        from pyvmm.asm import assemble_file
    except ImportError:
        pytest.skip("pyvmm.asm.assemble_file is not available")
    elf, _, _ = reference(guest)
    with open(elf, "rb") as f:
        reader = ELFFile(f)
        gnu = {s.name: (s["sh_addr"], s.data() if s["sh_type"] != "SHT_NOBITS" else bytes(s["sh_size"]))
               for s in reader.iter_sections() if s["sh_flags"] & 0x2 and s["sh_size"]}
    prog = assemble_file(guest)
    ours = {s.name: (s.addr, bytes(s.data)) for s in prog.sections}
    for name, (addr, data) in gnu.items():
        assert name in ours, f"section {name} missing from pyvmm's output"
        assert ours[name][0] == addr, f"{name} at {ours[name][0]:#x}, GNU ld puts it at {addr:#x}"
        if not ours_is_nobits(prog, name):
            assert ours[name][1] == data, f"{name} differs: " + oracle.first_difference(data, ours[name][1])


def ours_is_nobits(prog, name):
    return any(s.nobits for s in prog.sections if s.name == name)


@pytest.mark.parametrize("code", [1, 7, 200])
def test_finisher_failure_status_matches_qemu(code, tmp_path):
    """A guest failing through the finisher (0x3333 | code << 16) ends both runs with `code`."""
    reason = oracle.missing_tools()
    if reason:
        pytest.skip(reason)
    source = tmp_path / "fail.S"
    source.write_text("    .globl _start\n_start:\n    li t0, 0x100000\n"
                      f"    li t1, 0x3333 | ({code} << 16)\n    sw t1, 0(t0)\n1:  j 1b\n")
    elf = oracle.build_elf(str(source), str(tmp_path))
    status, output = oracle.run_qemu(elf)
    got_status, got_output, stderr = oracle.run_pyvmm(elf)
    assert status == code
    assert (got_status, got_output) == (status, output), stderr[-2000:]

"""Debian's OpenSBI (fw_jump and fw_dynamic) boots on pyvmm and runs the project's S-mode payloads; QEMU is the reference."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from support import oracles  # noqa: E402
from firmware_support import (FW_JUMP_BIN, FW_JUMP_ELF, GUESTS, KERNEL_ADDR, OPENSBI_DIR,  # noqa: E402
                              TOUR_OUTPUT, gnu_build, machine_run, need_opensbi, need_tool, pyvmm_run,
                              qemu_run)

FIRMWARE = os.path.join(GUESTS, "firmware")
PAYLOAD_LINE = b"sbi_payload: S-mode on hart 0, SBI spec 1.0, implementation 0x1, device tree ok\n"
BANNER_LINES = [
    b"OpenSBI v1.1",
    b"Platform Name             : riscv-virtio,qemu",
    b"Platform HART Count       : 1",
    b"Platform Console Device   : uart8250",
    b"Platform Shutdown Device  : sifive_test",
    b"Runtime SBI Version       : 1.0",
    b"Domain0 Next Address      : 0x0000000080200000",
    b"Domain0 Next Mode         : S-mode",
    b"Boot HART ID              : 0",
]


@pytest.fixture(scope="module")
def elves(tmp_path_factory):
    need_opensbi()
    out = tmp_path_factory.mktemp("opensbi")
    return {name: gnu_build(os.path.join(FIRMWARE, name + ".S"), out, KERNEL_ADDR)
            for name in ("sbi_payload", "sbi_tour")}


def text(out):
    """OpenSBI's console (sbi_putc) writes CR LF for each newline, on QEMU and on pyvmm alike."""
    return out.replace(b"\r\n", b"\n")


def banner(out):
    """The banner lines that describe the platform rather than the hart model: those until
    'Boot HART Domain' (ISA, privilege version, counters and delegation differ by CPU)."""
    lines = out.split(b"\n")
    start = lines.index(b"OpenSBI v1.1")
    end = next(i for i, line in enumerate(lines) if line.startswith(b"Boot HART Domain"))
    return lines[start:end + 1]


@pytest.fixture(scope="module")
def payload_run(elves):
    status, out, err = pyvmm_run("--bios", FW_JUMP_BIN, "--kernel", elves["sbi_payload"])
    assert status == 0, err
    return text(out)


def test_banner_and_payload_line(payload_run):
    for line in BANNER_LINES:
        assert line in payload_run.split(b"\n"), line
    assert payload_run.endswith(PAYLOAD_LINE)


def test_elf_firmware_in_process(elves):
    result, out, machine = machine_run(FW_JUMP_ELF, elves["sbi_payload"], max_insns=100_000_000)
    out = text(out)
    assert (result.status, result.how) == (0, "finisher-pass")
    assert out.endswith(PAYLOAD_LINE)
    # with the H extension OpenSBI also hands HS the guest-page and virtual-instruction faults
    assert b"Boot HART MEDELEG         : 0x0000000000f0b509" in out
    assert b"Boot HART MIDELEG         : 0x0000000000001666" in out


def test_same_as_qemu(elves, payload_run):
    qemu_status, qemu_out = qemu_run(elves["sbi_payload"], bios=FW_JUMP_BIN)
    qemu_out = text(qemu_out)
    assert qemu_status == 0
    assert qemu_out.endswith(PAYLOAD_LINE)
    assert banner(payload_run) == banner(qemu_out)


@pytest.fixture(scope="module")
def tour_run(elves):
    status, out, err = pyvmm_run("--bios", FW_JUMP_BIN, "--kernel", elves["sbi_tour"])
    assert status == 0, err
    return text(out)


def test_tour_under_opensbi(tour_run):
    assert tour_run[tour_run.index(b"sbi_tour: S-mode"):] == TOUR_OUTPUT


# QEMU's rv64 with the extensions pyvmm's hart lacks switched off: OpenSBI then describes
# both harts alike, so its whole output must match.
QEMU_CPU_LIKE_PYVMM = "rv64,h=true,zba=true,zbb=true,zbc=true,zbs=true,pmu-num=16"


def test_whole_output_same_as_qemu_with_the_same_hart(elves, tour_run):
    """Every line, the hart description included (priv v1.12, Sstc, PMP, MHPM, delegation)."""
    qemu_status, qemu_out = qemu_run(elves["sbi_tour"], bios=FW_JUMP_BIN, cpu=QEMU_CPU_LIKE_PYVMM)
    assert qemu_status == 0
    lines = tour_run.split(b"\n")
    assert lines == text(qemu_out).split(b"\n")
    assert b"Boot HART ISA Extensions  : time,sstc" in lines


def test_opensbi_finds_the_16_hpm_counters(tour_run):
    """OpenSBI counts the mhpmcounters that keep a written value: 3..18, as on QEMU 7.2."""
    assert b"Boot HART MHPM Count      : 16" in tour_run.split(b"\n")


def test_payload_source_assembled_by_pyvmm():
    need_opensbi()
    status, out, err = pyvmm_run("--bios", FW_JUMP_BIN, "--kernel",
                                 os.path.join(FIRMWARE, "sbi_payload.S"))
    assert status == 0, err
    assert text(out).endswith(PAYLOAD_LINE)


# fw_dynamic takes the next stage's address and mode from the struct fw_dynamic_info in a2
# (QEMU's MROM; pyvmm's page below the device tree) rather than from build-time constants.
FW_DYNAMIC_BIN = os.path.join(OPENSBI_DIR, "fw_dynamic.bin")
FW_DYNAMIC_ELF = os.path.join(OPENSBI_DIR, "fw_dynamic.elf")


def need_fw_dynamic():
    need_opensbi()
    if not os.path.exists(FW_DYNAMIC_BIN):
        pytest.skip("Debian's OpenSBI has no fw_dynamic: no %s" % FW_DYNAMIC_BIN)


@pytest.fixture(scope="module")
def packed_elves(tmp_path_factory):
    """The payloads linked with -n, so their lowest loaded byte is their entry: QEMU 7.2's
    riscv_load_kernel hands fw_dynamic the ELF's lowest load address as next_addr, not
    e_entry, and a default -Ttext link puts the ELF header in a segment 4 KiB below .text
    (QEMU would jump into it). pyvmm passes e_entry; on these ELFs both agree."""
    need_fw_dynamic()
    need_tool(oracles.GNU_AS, "GNU binutils build the reference ELF")
    need_tool(oracles.GNU_LD, "GNU binutils build the reference ELF")
    out = tmp_path_factory.mktemp("fw_dynamic")
    return {name: oracles.build_with_gnu(os.path.join(FIRMWARE, name + ".S"), out,
                                         ld_args=["-n", "-Ttext=%#x" % KERNEL_ADDR])
            for name in ("sbi_payload", "sbi_tour")}


@pytest.fixture(scope="module")
def dynamic_tour_run(packed_elves):
    status, out, err = pyvmm_run("--bios", FW_DYNAMIC_BIN, "--kernel", packed_elves["sbi_tour"])
    assert status == 0, err
    return text(out)


def test_fw_dynamic_boots_the_payload(packed_elves):
    status, out, err = pyvmm_run("--bios", FW_DYNAMIC_BIN, "--kernel", packed_elves["sbi_payload"])
    assert status == 0, err
    out = text(out)
    for line in BANNER_LINES:
        assert line in out.split(b"\n"), line
    assert out.endswith(PAYLOAD_LINE)


def test_fw_dynamic_elf_in_process(elves):
    need_fw_dynamic()
    result, out, machine = machine_run(FW_DYNAMIC_ELF, elves["sbi_payload"], max_insns=100_000_000)
    assert (result.status, result.how) == (0, "finisher-pass")
    assert text(out).endswith(PAYLOAD_LINE)


def test_fw_dynamic_whole_output_same_as_qemu(packed_elves, dynamic_tour_run):
    """QEMU -bios fw_dynamic.bin -kernel: the same banner, domain and hart lines, and tour."""
    qemu_status, qemu_out = qemu_run(packed_elves["sbi_tour"], bios=FW_DYNAMIC_BIN, cpu=QEMU_CPU_LIKE_PYVMM)
    assert qemu_status == 0
    lines = dynamic_tour_run.split(b"\n")
    assert lines == text(qemu_out).split(b"\n")
    assert b"Domain0 Next Address      : 0x0000000080200000" in lines
    assert dynamic_tour_run[dynamic_tour_run.index(b"sbi_tour: S-mode"):] == TOUR_OUTPUT

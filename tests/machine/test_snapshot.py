"""Snapshots of the bare board: a run saved at N instructions and restored
finishes exactly as the uninterrupted run does (console bytes, instret,
exit status), through the API and through `pyvmm run --savevm/--loadvm`;
bad files are refused with one line and nothing made."""

import os
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pyvmm._core import Core, HartStateError
from pyvmm.machine import Machine
from pyvmm.machine.devices import DeviceConfig
from pyvmm.machine.snapfile import FORMAT_VERSION, SnapshotError

sys.path.insert(0, os.path.dirname(__file__))
import devices_support as dev  # noqa: E402

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
KERNEL = os.path.join(REPO, "guests", "kernel", "kernel.elf")
SMP_TOUR = os.path.join(REPO, "guests", "smp", "smp_tour.S")


def _uninterrupted(make, load):
    m = make()
    m.load(load)
    result = m.run(max_insns=100_000_000)
    assert result.how != "budget", "the guest did not finish"
    out, instret = m.uart_output, m.stats()["instret"]
    m.close()
    return result, out, instret


def _split(make, load, at, path, base_at=None):
    """Run to `at`, save (incrementally on a snapshot at `base_at`), restore
    into a new machine and finish there: (result, console bytes, instret, restored)."""
    m = make()
    m.load(load)
    if base_at is not None:
        m.run(max_insns=base_at)
        m.save(str(path) + ".base")
        m.run(max_insns=at - base_at)
        m.save(str(path), base=str(path) + ".base")
    else:
        m.run(max_insns=at)
        m.save(str(path))
    first = m.uart_output
    m.close()
    restored = Machine.restore(str(path))
    result = restored.run(max_insns=100_000_000)
    return result, first + restored.uart_output, restored.stats()["instret"], restored


@pytest.fixture(scope="module")
def kernel_reference():
    return _uninterrupted(lambda: Machine(bios="builtin"), KERNEL)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.integers(min_value=1, max_value=1_280_000))
def test_kernel_saved_anywhere_finishes_like_an_uninterrupted_run(at, kernel_reference, tmp_path):
    want_result, want_out, want_instret = kernel_reference
    result, out, instret, restored = _split(lambda: Machine(bios="builtin"), KERNEL, at,
                                            tmp_path / f"k{at}.snap")
    restored.close()
    assert out == want_out
    assert instret == want_instret
    assert result == want_result


def test_restored_harts_match_the_saved_ones_register_for_register(tmp_path):
    m = Machine(bios="builtin")
    m.load(KERNEL)
    m.run(max_insns=700_000)
    m.save(str(tmp_path / "k.snap"))
    restored = Machine.restore(str(tmp_path / "k.snap"))
    assert restored.core.export_state() == m.core.export_state()
    assert restored.core.read_mem(0x8020_0000, 1 << 16) == m.core.read_mem(0x8020_0000, 1 << 16)
    # both run on to the end in step; only the cache figures (TLB, decoded
    # instructions, walks) may differ, since a restored hart starts with them empty
    m.run()
    restored.run()
    a, b = restored.core.export_state(), m.core.export_state()
    for state in (a, b):
        counters = state.pop("counters")
        state["events"] = (counters["traps"], counters["interrupts"], counters["exits"])
        for cache in ("tlb_hits", "tlb_misses", "page_walks", "walk_mem_refs", "decode_fills",
                      "tlb_flushes"):
            state["raw"].pop(cache, None)
    assert a == b
    assert restored.core.instret == m.core.instret


def test_same_state_gives_the_same_snapshot_bytes(tmp_path):
    paths = []
    for name in ("a", "b"):
        m = Machine(bios="builtin")
        m.load(KERNEL)
        m.run(max_insns=500_000)
        paths.append(tmp_path / f"{name}.snap")
        m.save(str(paths[-1]))
        m.close()
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_incremental_snapshot_is_smaller_and_restores_the_same(kernel_reference, tmp_path):
    want_result, want_out, want_instret = kernel_reference
    result, out, instret, restored = _split(lambda: Machine(bios="builtin"), KERNEL, 900_000,
                                            tmp_path / "inc.snap", base_at=800_000)
    restored.close()
    assert (out, instret, result) == (want_out, want_instret, want_result)
    full = Machine(bios="builtin")
    full.load(KERNEL)
    full.run(max_insns=900_000)
    full.save(str(tmp_path / "full.snap"))
    assert os.path.getsize(tmp_path / "inc.snap") < os.path.getsize(tmp_path / "full.snap")


@pytest.mark.parametrize("at", [20_000, 45_000, 80_000])
def test_two_harts_saved_mid_run_finish_alike(at, tmp_path):
    make = lambda: Machine(smp=2, bios="builtin")     # noqa: E731
    want = _uninterrupted(make, SMP_TOUR)
    result, out, instret, restored = _split(make, SMP_TOUR, at, tmp_path / "smp.snap")
    assert restored.smp == 2
    restored.close()
    assert (result, out, instret) == want


def _blk_machine(image):
    return lambda: Machine(devices=DeviceConfig(
        drives=[f"file={image},format=raw,if=none,id=d0,snapshot=on"],
        devices=[f"virtio-blk-device,drive=d0,serial={dev.BLK_SERIAL}"]))


def test_virtio_blk_saved_between_requests_finishes_alike(tmp_path):
    image = tmp_path / "disk.img"
    disk = dev.make_disk(image)
    make = _blk_machine(image)
    want_result, want_out, want_instret = _uninterrupted(make, dev.guest_source("blk_irq"))
    assert want_out == dev.expected_blk(disk, irq=True)
    # save points spread over the whole run: before, during and after the requests,
    # with the overlay of the snapshot=on drive holding the sector the guest wrote
    for at in range(2_000, want_instret, max(1, want_instret // 4)):
        result, out, instret, restored = _split(make, dev.guest_source("blk_irq"), at,
                                                tmp_path / f"blk{at}.snap")
        restored.close()
        assert (result, out, instret) == (want_result, want_out, want_instret), at
    assert image.read_bytes() == disk       # snapshot=on: the file never changed


# -- the hart state alone ------------------------------------------------------


def test_a_bad_hart_state_changes_nothing():
    core = Core(ram_size=1 << 20)
    before = core.export_state()
    for bad in ({**before, "priv": 2}, {**before, "x": before["x"][:31]},
                {**before, "csrs": {**before["csrs"], 0x7C0: 1}},
                {**before, "raw": {**before["raw"], "tselect": 99}},
                {**before, "watches": [[0x1000, 0x1008]]}, {**before, "hartid": 3}):
        with pytest.raises(HartStateError):
            core.import_state(bad)
        assert core.export_state() == before


def test_hart_state_carries_every_csr_the_hart_has():
    core = Core(ram_size=1 << 20)
    state = core.export_state()
    for number in (0x300, 0x344, 0x600, 0x645, 0x680, 0x200, 0x280, 0x3A0, 0x3B0, 0x7A1, 0xB00):
        assert number in state["csrs"]
    core.write_csr(0x645, 1 << 2)          # hvip.VSSIP
    core.write_csr(0x3B0, 0x1234)
    other = Core(ram_size=1 << 20)
    other.import_state(core.export_state())
    assert other.read_csr(0x644) == core.read_csr(0x644)
    assert other.read_csr(0x3B0) == 0x1234


def test_hart_state_carries_the_fpu_and_the_performance_counters():
    core = Core(ram_size=1 << 20)
    core.write_csr(0x300, core.read_csr(0x300) | (3 << 13))    # mstatus.FS = Dirty
    core.set_f(5, 0xFFFF_FFFF_3FC0_0000)                        # 1.5f, NaN-boxed
    core.set_f(31, 0x4009_21FB_5444_2D18)                       # pi
    core.write_csr(0x003, 0x7F)                                 # fcsr: frm 3, all flags
    core.write_csr(0x323, 2)                                    # mhpmevent3: instructions
    core.write_csr(0xB03, 1000)                                 # mhpmcounter3
    core.write_mem(0x8000_0000, bytes.fromhex("13000000") * 64)  # nops
    core.run(40)
    other = Core(ram_size=1 << 20)
    other.import_state(core.export_state())
    assert other.get_f(5) == 0xFFFF_FFFF_3FC0_0000 and other.get_f(31) == 0x4009_21FB_5444_2D18
    assert other.read_csr(0x003) == 0x7F and other.read_csr(0x300) >> 13 & 3 == 3
    counted = core.read_csr(0xB03)
    assert 1000 < counted <= 1040 and other.read_csr(0xB03) == counted
    other.write_mem(0x8000_0000, bytes.fromhex("13000000") * 64)
    core.run(10)
    other.run(10)
    assert other.read_csr(0xB03) == core.read_csr(0xB03) == counted + 10


# -- bad files -----------------------------------------------------------------


@pytest.fixture(scope="module")
def good_snapshot(tmp_path_factory):
    path = tmp_path_factory.mktemp("snap") / "good.snap"
    m = Machine(bios="builtin")
    m.load(KERNEL)
    m.run(max_insns=200_000)
    m.save(str(path))
    m.close()
    return path.read_bytes()


def _damaged(data, how):
    if how == "flipped":
        return data[:1000] + bytes([data[1000] ^ 0x01]) + data[1001:]
    if how == "truncated":
        return data[:len(data) // 2]
    if how == "magic":
        return b"NOTASNAP" + data[8:]
    if how == "newer":
        return data[:8] + struct.pack("<I", FORMAT_VERSION + 1) + data[12:]
    if how == "empty":
        return b""
    raise ValueError(how)


DAMAGE = ["flipped", "truncated", "magic", "newer", "empty"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_file_is_refused(how, good_snapshot, tmp_path):
    path = tmp_path / "bad.snap"
    path.write_bytes(_damaged(good_snapshot, how))
    with pytest.raises(SnapshotError) as error:
        Machine.restore(str(path))
    assert "\n" not in str(error.value)


# -- the command line ----------------------------------------------------------


def _pyvmm(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(REPO))
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], capture_output=True,
                          env=env, cwd=cwd, timeout=600)


def test_cli_savevm_then_loadvm_equals_one_run(kernel_reference, tmp_path):
    _, want_out, want_instret = kernel_reference
    snap = str(tmp_path / "cli.snap")
    first = _pyvmm("--bios", "builtin", KERNEL, "--max-insns", "654321", "--savevm", snap)
    assert first.returncode == 124, first.stderr
    second = _pyvmm("--loadvm", snap, "--stats-file", str(tmp_path / "stats.json"))
    assert second.returncode == 0, second.stderr
    assert first.stdout + second.stdout == want_out
    import json
    assert json.loads((tmp_path / "stats.json").read_text())["instret"] == want_instret


def test_cli_incremental_chain(kernel_reference, tmp_path):
    _, want_out, _ = kernel_reference
    base, top = str(tmp_path / "base.snap"), str(tmp_path / "top.snap")
    one = _pyvmm("--bios", "builtin", KERNEL, "--max-insns", "300000", "--savevm", base)
    two = _pyvmm("--loadvm", base, "--max-insns", "300000", "--savevm", top, "--savevm-base", base)
    three = _pyvmm("--loadvm", top)
    assert (one.returncode, two.returncode, three.returncode) == (124, 124, 0), three.stderr
    assert one.stdout + two.stdout + three.stdout == want_out
    assert os.path.getsize(top) < os.path.getsize(base)


@pytest.mark.parametrize("how", DAMAGE)
def test_cli_refuses_a_damaged_file_with_one_line_and_status_2(how, good_snapshot, tmp_path):
    path = tmp_path / "bad.snap"
    path.write_bytes(_damaged(good_snapshot, how))
    proc = _pyvmm("--loadvm", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyvmm run: error: "), lines
    assert proc.stdout == b""


def test_cli_loadvm_takes_the_machine_from_the_file(good_snapshot, tmp_path):
    path = tmp_path / "good.snap"
    path.write_bytes(good_snapshot)
    proc = _pyvmm("--loadvm", str(path), "--ram", "256M")
    assert proc.returncode == 2
    assert b"--ram cannot be used with --loadvm" in proc.stderr
    proc = _pyvmm("--loadvm", str(path), "--technique", "hw")
    assert proc.returncode == 2
    assert b"--technique cannot be used with --loadvm" in proc.stderr

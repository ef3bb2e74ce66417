"""Live migration between two real pyvmm processes over 127.0.0.1: the
destination's output continues the source's byte for byte, and its final
instret and RAM are an uninterrupted run's; Xen's stop rules end the
pre-copy; a broken connection leaves the source's guest whole; a
truncated, corrupt, other-version or other-machine stream is refused with
one line and status 2."""

import os
import struct

import pytest

from migration_support import (GUESTS, Destination, Recorder, check_continues,
                               check_destination_killed_mid_stream, error_lines, migrate, reference,
                               replay, run)

IDLE = os.path.join(GUESTS, "lifecycle", "idle.S")
DIRTY = os.path.join(GUESTS, "lifecycle", "dirty.S")
DIRTY_SMP = os.path.join(GUESTS, "lifecycle", "dirty_smp.S")
KERNEL = os.path.join(GUESTS, "kernel", "kernel.elf")


def test_idle_guest_migrates_after_one_round(tmp_path):
    source, src_stats, dst, dst_stats = migrate(tmp_path, IDLE, "1M")
    check_continues(reference(IDLE), source, dst, dst_stats)
    report = dst_stats["migration"]
    assert report["stop_rule"] == "few-dirty"
    assert report["rounds"] == 1
    assert report["dirtied_per_round"][0] < 50
    assert report["received_pages_per_round"] == report["pages_per_round"]
    assert report["paused_at_insn"] >= 1_000_000
    assert report["downtime_guest_insns"] > 0 and report["downtime_host_ms"] > 0
    assert src_stats["migration"]["downtime_guest_insns"] == report["downtime_guest_insns"]
    assert b"migration round 1:" in source.stderr


def test_write_heavy_guest_stops_at_three_times_its_ram(tmp_path):
    options = ("--ram", "8M")
    source, src_stats, dst, dst_stats = migrate(tmp_path, DIRTY, "5M", *options)
    check_continues(reference(DIRTY, *options), source, dst, dst_stats)
    report = dst_stats["migration"]
    pages = 8 * 256
    # the guest rewrites its 512-page buffer faster than any round sends it
    assert all(dirtied >= 512 for dirtied in report["dirtied_per_round"])
    assert report["stop_rule"] == "sent-3x-ram"
    assert report["precopy_pages"] >= 3 * pages > report["precopy_pages"] - report["pages_per_round"][-1]
    assert report["rounds"] < 29
    # Xen's rate: 100 Mbit/s first, then the dirtying rate + 50, at most 500
    rates = report["rate_mbit_per_round"]
    assert rates[0] == 100 and rates[-1] == 500
    assert all(100 <= a <= b <= 500 for a, b in zip(rates, rates[1:]))
    assert report["stop_copy_pages"] >= 512
    assert report["received_stop_copy_pages"] == report["stop_copy_pages"]


def test_write_heavy_guest_in_a_large_ram_stops_after_29_rounds(tmp_path):
    # 128 MiB: 3x RAM is 98,304 pages, farther than 29 rounds of 513 go
    source, src_stats, dst, dst_stats = migrate(tmp_path, DIRTY, "5M")
    check_continues(reference(DIRTY), source, dst, dst_stats)
    report = dst_stats["migration"]
    assert report["stop_rule"] == "iterations"
    assert report["rounds"] == 29
    assert report["precopy_pages"] < 3 * 32768
    assert all(dirtied >= 512 for dirtied in report["dirtied_per_round"])


def test_migration_is_the_same_on_every_run(tmp_path):
    runs = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        runs.append(migrate(tmp_path / name, DIRTY, "4M", "--ram", "8M")[3])
    first, second = runs
    modeled = ("rounds", "pages_per_round", "dirtied_per_round", "rate_mbit_per_round",
               "guest_insns_per_round", "paused_at_insn", "downtime_guest_insns", "stop_rule",
               "state_bytes", "received_bytes", "final_ram_sha256")
    assert {k: first["migration"][k] for k in modeled} == {k: second["migration"][k] for k in modeled}


def test_smp_board_migrates_with_both_harts_writing(tmp_path):
    options = ("--smp", "2", "--ram", "4M")
    source, src_stats, dst, dst_stats = migrate(tmp_path, DIRTY_SMP, "3M", *options)
    check_continues(reference(DIRTY_SMP, *options), source, dst, dst_stats)
    assert dst_stats["migration"]["rounds"] >= 2


def test_kernel_on_the_builtin_sbi_migrates(tmp_path):
    options = ("--bios", "builtin", "--smp", "2", "--bootargs", "mode=forkwait iterations=400")
    source, src_stats, dst, dst_stats = migrate(tmp_path, KERNEL, "2M", *options)
    check_continues(reference(KERNEL, *options), source, dst, dst_stats)


def test_destination_killed_mid_stream_leaves_the_source_whole(tmp_path):
    options = ("--ram", "8M")
    check_destination_killed_mid_stream(tmp_path, DIRTY, options, reference(DIRTY, *options))


@pytest.mark.parametrize("close_after", [0, 5000])
def test_connection_that_breaks_leaves_the_source_whole(tmp_path, close_after):
    recorder = Recorder(close_after=close_after)
    proc, stats = run(IDLE, "--migrate", recorder.address, "--migrate-at", "1M",
                      stats=str(tmp_path / "src.json"))
    recorder.join()
    expected, instret, status, digest = reference(IDLE)
    assert proc.returncode == 0 and proc.stdout == expected
    assert stats["instret"] == instret and stats["migration"]["final_ram_sha256"] == digest
    assert [line for line in proc.stderr.decode().splitlines() if "migration failed" in line]


def test_no_destination_there():
    import socket
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]      # free once closed: nobody listens there
    proc, _ = run(IDLE, "--migrate", f"tcp:127.0.0.1:{port}", "--migrate-at", "1M")
    assert proc.returncode == 0 and proc.stdout == reference(IDLE)[0]
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "migration failed: cannot connect" in lines[0], lines


def test_guest_that_ends_during_precopy_is_not_migrated(tmp_path):
    # idle.S retires 8,000,308 instructions: round 1 cannot send its pages in the rest
    destination = Destination()
    proc, _ = run(IDLE, "--migrate", destination.address, "--migrate-at", "7990000")
    status, out, err = destination.finish()
    assert proc.returncode == 0 and proc.stdout == reference(IDLE)[0]
    assert b"the guest stopped (finisher-pass) during the migration; it was not migrated" in proc.stderr
    lines = error_lines(err)
    assert status == 2 and out == b""
    assert len(lines) == 1 and "the source cancelled the migration" in lines[0], lines


# -- refused streams ------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded_stream():
    """A whole stream of the idle guest, recorded by a destination that never
    answers (so its source ran the guest to the end itself)."""
    recorder = Recorder()
    proc, _ = run(IDLE, "--migrate", recorder.address, "--migrate-at", "1M")
    data = recorder.join()
    assert proc.returncode == 0
    assert b"no answer" in proc.stderr or b"did not take the guest over" in proc.stderr
    assert data.startswith(b"PYVMMIGR")
    return data


def test_the_recorded_stream_is_accepted_whole(recorded_stream):
    status, out, err = replay(recorded_stream)
    assert status == 0, err
    assert out == b"idle: done\n"


@pytest.mark.parametrize("cut", [4, 40, 0.5, -1])
def test_truncated_stream_is_refused(recorded_stream, cut):
    end = int(len(recorded_stream) * cut) if isinstance(cut, float) else cut % len(recorded_stream)
    status, out, err = replay(recorded_stream[:end])
    lines = error_lines(err)
    assert status == 2 and out == b""
    assert len(lines) == 1 and "truncated migration stream" in lines[0], lines


@pytest.mark.parametrize("where", [0.3, 0.6, 0.9, -5])
def test_corrupt_stream_is_refused(recorded_stream, where):
    data = bytearray(recorded_stream)
    at = int(len(data) * where) if isinstance(where, float) else len(data) + where
    data[at] ^= 0x40
    status, out, err = replay(bytes(data))
    lines = error_lines(err)
    assert status == 2 and out == b""
    assert len(lines) == 1 and ("corrupt" in lines[0] or "truncated" in lines[0]), lines


def test_other_version_is_refused(recorded_stream):
    data = recorded_stream[:8] + struct.pack("<I", 2) + recorded_stream[12:]
    status, out, err = replay(data)
    assert status == 2 and error_lines(err) == [
        "pyvmm run: error: incoming migration: migration stream version 2, this pyvmm reads version 1"]


@pytest.mark.parametrize("option,value,says", [("--smp", "2", "1 harts"), ("--ram", "64M", "134217728")])
def test_other_configuration_is_refused(recorded_stream, option, value, says):
    status, out, err = replay(recorded_stream, option, value)
    lines = error_lines(err)
    assert status == 2 and out == b""
    assert len(lines) == 1 and "configuration mismatch" in lines[0] and says in lines[0], lines


# -- usage ----------------------------------------------------------------------


@pytest.mark.parametrize("args,says", [
    ((IDLE, "--migrate", "tcp:127.0.0.1:1"), "--migrate needs --migrate-at"),
    ((IDLE, "--migrate-at", "5"), "--migrate-at needs --migrate"),
    ((IDLE, "--migrate", "udp:x:1", "--migrate-at", "5"), "expected tcp:HOST:PORT"),
    ((IDLE, "--migrate", "tcp:127.0.0.1:1", "--migrate-at", "5", "--max-insns", "9"),
     "--migrate cannot be used with --max-insns"),
    ((IDLE, "--incoming", "tcp:127.0.0.1:0"), "IMAGE cannot be used with --incoming"),
])
def test_usage_errors(args, says):
    proc, _ = run(*args)
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and says in lines[0], lines

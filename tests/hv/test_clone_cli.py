"""`pyvmm clone`: usage errors, the clones' consoles and the memory report."""

import json
import os
import subprocess
import sys

import pytest
from hv_support import KERNEL, ROOT, needs_h

pytestmark = needs_h

COW_COUNTER = os.path.join(ROOT, "guests", "hv", "cow_counter.S")


def run_clone(*argv):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "clone", *argv], cwd=ROOT,
                          capture_output=True, timeout=600)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def uninterrupted(image):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--technique", "hw", "--ram", "16M",
                           image], cwd=ROOT, capture_output=True, timeout=600)
    assert proc.returncode == 0
    return proc.stdout.decode().splitlines()


@pytest.mark.parametrize("argv, message", [
    ([COW_COUNTER, "--count", "2"], "--at"),
    ([COW_COUNTER, "--at", "1000"], "--count"),
    ([COW_COUNTER, "--at", "1000", "--count", "0"], "--count must be at least 1"),
    ([COW_COUNTER, "--at", "lots", "--count", "2"], "bad --at"),
    ([COW_COUNTER, "--at", "1000", "--count", "2", "--paging", "flat"], "--paging"),
    ([COW_COUNTER, "--at", "1000", "--count", "2", "--technique", "magic"], "--technique magic: unknown"),
    ([COW_COUNTER, "--at", "1000", "--count", "2", "--serial-dir", "/nonexistent/dir"], "not a directory"),
    ([COW_COUNTER, "--at", "1000", "--count", "2", "--share-every", "0"], "--share-every must be"),
])
def test_bad_options_print_the_usage_line_and_exit_2(argv, message):
    status, out, err = run_clone(*argv)
    assert status == 2
    assert err.startswith("usage: pyvmm clone") and message in err and "Traceback" not in err
    assert out == ""


def test_a_missing_image_is_one_line():
    status, out, err = run_clone("/nonexistent/kernel.elf", "--at", "1000", "--count", "2")
    assert status == 2 and err.count("\n") == 1 and "pyvmm clone: error" in err


def test_template_that_ends_before_the_clone_point():
    status, out, err = run_clone(COW_COUNTER, "--at", "10M", "--count", "2", "--ram", "16M")
    assert status == 1 and "stopped (sbi-shutdown, status 0) before instruction 10000000" in err


@pytest.mark.parametrize("paging", ["nested", "shadow"])
def test_each_clone_prints_the_rest_of_the_run(paging):
    want = uninterrupted(COW_COUNTER)
    status, out, err = run_clone(COW_COUNTER, "--at", "60000", "--count", "3", "--ram", "16M",
                                 "--paging", paging)
    assert status == 0, err
    lines = out.splitlines()
    template = [line[len("template| "):] for line in lines if line.startswith("template| ")]
    assert template and want[:len(template)] == template
    for n in (1, 2, 3):
        mine = [line[len(f"clone{n}| "):] for line in lines if line.startswith(f"clone{n}| ")]
        assert template + mine == want
        report = [line for line in lines if line.startswith(f"clone{n}: ")]
        assert report[0].startswith(f"clone{n}: sbi-shutdown, status 0, instret ")
    saved = [line for line in lines if line.startswith("independent VMs")][0]
    assert "(template + 3) would use 16384 frames" in saved


@pytest.mark.parametrize("technique", ["trap-emulate", "bt"])
def test_clones_under_a_shadowing_technique_print_the_rest_of_the_run(technique):
    want = uninterrupted(COW_COUNTER)
    status, out, err = run_clone(COW_COUNTER, "--at", "60000", "--count", "2", "--ram", "16M",
                                 "--technique", technique)
    assert status == 0, err
    lines = out.splitlines()
    template = [line[len("template| "):] for line in lines if line.startswith("template| ")]
    assert template
    for n in (1, 2):
        mine = [line[len(f"clone{n}| "):] for line in lines if line.startswith(f"clone{n}| ")]
        assert template + mine == want


def test_ten_clones_of_the_kernel_with_consoles_in_files(tmp_path):
    status, out, err = run_clone(KERNEL, "--at", "300000", "--count", "10", "--ram", "16M",
                                 "--serial-dir", str(tmp_path), "--stats")
    assert status == 0, err
    assert sorted(os.listdir(tmp_path)) == sorted(["template.log"] + [f"clone{n}.log" for n in range(1, 11)])
    whole = "\n".join(uninterrupted(KERNEL)) + "\n"
    template = (tmp_path / "template.log").read_text()
    for n in range(1, 11):
        clone_log = (tmp_path / f"clone{n}.log").read_text()
        assert "kernel: shutdown" in clone_log and whole.startswith(template)
    assert "| " not in out
    stats = json.loads(err)
    host = stats["host_memory"]
    # Eleven VMs of 4096 pages each in far fewer frames than 11 * 4096.
    assert host["guest_pages"] == 11 * 4096
    assert host["guest_frames"] < 2 * 4096
    assert sum(stats[f"clone{n}"]["memory"]["private_frames"] for n in range(1, 11)) < 4096


def test_share_pages_merges_what_the_clones_wrote_alike():
    status, out, err = run_clone(COW_COUNTER, "--at", "60000", "--count", "4", "--ram", "16M",
                                 "--share-pages", "--share-every", "1")
    assert status == 0, err
    line = [line for line in out.splitlines() if line.startswith("page sharing: ")][0]
    scans, saved = int(line.split()[2]), int(line.split(" frames saved")[0].split()[-1])
    assert scans > 0 and saved > 0


def test_max_insns_stops_the_clones_with_124():
    status, out, err = run_clone(COW_COUNTER, "--at", "60000", "--count", "2", "--ram", "16M",
                                 "--max-insns", "50000")
    assert status == 124, err
    assert "clone1: budget, status 124" in out and "clone2: budget, status 124" in out

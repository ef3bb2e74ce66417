"""Live migration of a VM between two real pyvmm processes over 127.0.0.1,
under every hypervisor technique: the destination builds the VM on a new
Host from the stream and its output continues the source's byte for byte;
its final instret and guest RAM are an uninterrupted run's. A write-heavy
S-mode guest shows Xen's stop rules ending pre-copy for a VM; a destination
that disappears leaves the source's VM whole; a destination whose options
do not match the stream's VM refuses it with one line and status 2."""

import hashlib
import os

import pytest
from migration_support import (GUESTS, Destination, check_continues,
                               check_destination_killed_mid_stream, error_lines, migrate, run)

from pyvmm.migration import MigrationError

pytest.importorskip("pyvmm._core")

KERNEL = os.path.join(GUESTS, "kernel", "kernel.elf")
KERNEL_PV = os.path.join(GUESTS, "kernel", "kernel-pv.elf")
DIRTY_S = os.path.join(GUESTS, "lifecycle", "dirty_s.S")
DIRTY_SMP_S = os.path.join(GUESTS, "lifecycle", "dirty_smp_s.S")
# The kernel's compute mode: user processes over the kernel's page tables,
# timer interrupts, ~5.7 M instructions.
COMPUTE = ("--bootargs", "mode=compute iterations=8")
TECHNIQUES = [("hw", "nested"), ("hw", "shadow"), ("trap-emulate", "shadow"), ("bt", "shadow"),
              ("pv", "shadow")]


def _has_h():
    from pyvmm._core import Core
    return hasattr(Core(ram_size=1 << 20), "virt")


needs_h = pytest.mark.skipif(not _has_h(), reason="this build of pyvmm._core has no H extension")


def reference(image, technique, paging="nested", ram="32M", vcpus=1, bootargs=""):
    """The uninterrupted VM through the API: (output, instret, status, guest RAM SHA-256)."""
    from pyvmm.hv import Host
    from pyvmm.machine.cli import parse_size
    ram_size = parse_size(ram)
    vm = Host(ram_size=ram_size + (32 << 20)).create_vm(ram_size=ram_size, technique=technique,
                                                        paging=paging, vcpus=vcpus,
                                                        bootargs=bootargs)
    vm.load(image)
    result = vm.run()
    digest = hashlib.sha256(vm.read(vm.ram_base, vm.ram_size)).hexdigest()
    output = vm.console_output
    vm.close()
    return output, vm.stats()["instret"], result.status, digest


@needs_h
@pytest.mark.parametrize("technique, paging", TECHNIQUES)
def test_the_kernel_in_a_vm_migrates_under_every_technique(tmp_path, technique, paging):
    image = KERNEL_PV if technique == "pv" else KERNEL
    options = ("--technique", technique, "--paging", paging, "--ram", "32M") + COMPUTE
    source, src_stats, dst, dst_stats = migrate(tmp_path, image, "2M", *options)
    check_continues(reference(image, technique, paging, bootargs=COMPUTE[1]), source, dst,
                    dst_stats)
    assert dst_stats["technique"] == technique and dst_stats["paging"] == paging
    report = dst_stats["migration"]
    assert report["paused_at_insn"] >= 2_000_000
    assert report["received_pages_per_round"] == report["pages_per_round"]
    assert report["received_stop_copy_pages"] == report["stop_copy_pages"]
    # the kernel's image and the pages it touched; not the 8192 pages of its RAM
    assert 0 < report["pages_per_round"][0] < 200
    assert src_stats["migration"]["downtime_guest_insns"] == report["downtime_guest_insns"] > 0


@needs_h
def test_a_write_heavy_vm_stops_iterating_by_xens_rules(tmp_path):
    options = ("--technique", "hw", "--ram", "8M")
    source, src_stats, dst, dst_stats = migrate(tmp_path, DIRTY_S, "5M", *options)
    check_continues(reference(DIRTY_S, "hw", ram="8M"), source, dst, dst_stats)
    report = dst_stats["migration"]
    pages = 8 * 256
    # its 512-page buffer is rewritten faster than any round sends it: the
    # log (host frames, translated back to guest pages) sees all of it each round
    assert all(dirtied >= 512 for dirtied in report["dirtied_per_round"])
    assert report["stop_rule"] == "sent-3x-ram"
    assert report["precopy_pages"] >= 3 * pages > report["precopy_pages"] - report["pages_per_round"][-1]
    rates = report["rate_mbit_per_round"]
    assert rates[0] == 100 and rates[-1] == 500
    assert report["stop_copy_pages"] >= 512
    assert b"migration round 2:" in source.stderr


@needs_h
def test_an_smp_vm_migrates_with_both_vcpus_writing(tmp_path):
    options = ("--technique", "hw", "--smp", "2", "--ram", "8M")
    source, src_stats, dst, dst_stats = migrate(tmp_path, DIRTY_SMP_S, "5M", *options)
    check_continues(reference(DIRTY_SMP_S, "hw", ram="8M", vcpus=2), source, dst, dst_stats)
    assert dst_stats["vcpus"] == 2
    assert b"hart1 sum " in dst[1]
    report = dst_stats["migration"]
    # both halves of the buffer, each VCPU's, are dirtied every round
    assert all(dirtied >= 512 for dirtied in report["dirtied_per_round"])
    assert report["stop_rule"] == "sent-3x-ram"


@needs_h
def test_destination_killed_mid_stream_leaves_the_source_vm_whole(tmp_path):
    check_destination_killed_mid_stream(tmp_path, DIRTY_S, ("--technique", "hw", "--ram", "8M"),
                                        reference(DIRTY_S, "hw", ram="8M"))


@needs_h
@pytest.mark.parametrize("destination_options, says", [
    (("--technique", "bt"), "the stream's VM has --technique hw, this destination expects --technique bt"),
    (("--technique", "hw", "--paging", "shadow"), "--paging nested, this destination expects --paging shadow"),
    (("--smp", "2"), "1 VCPUs, this destination expects 2 VCPUs"),
    (("--ram", "64M"), "RAM of 33554432 bytes, this destination expects RAM of 67108864 bytes"),
])
def test_a_configuration_mismatch_is_refused(tmp_path, destination_options, says):
    destination = Destination(*destination_options)
    source, _ = run(KERNEL, "--technique", "hw", "--ram", "32M", *COMPUTE,
                    "--migrate", destination.address, "--migrate-at", "2M")
    status, out, err = destination.finish()
    lines = error_lines(err)
    assert status == 2 and out == b""
    assert len(lines) == 1 and "configuration mismatch" in lines[0] and says in lines[0], lines
    # the source's VM ran on to its end
    assert source.returncode == 0
    assert source.stdout == reference(KERNEL, "hw", bootargs=COMPUTE[1])[0]
    assert b"migration failed" in source.stderr


@needs_h
def test_a_board_stream_is_refused_by_a_vm_destination(tmp_path):
    destination = Destination("--technique", "hw")
    run(os.path.join(GUESTS, "lifecycle", "idle.S"), "--migrate", destination.address,
        "--migrate-at", "1M")
    status, out, err = destination.finish()
    lines = error_lines(err)
    assert status == 2 and len(lines) == 1
    assert "the stream carries a 'machine', this destination expects a --technique hw VM" in lines[0]


@needs_h
def test_a_forking_kernel_under_trap_emulate_executes_the_same_guest_instructions(tmp_path):
    """The shadow tables are rebuilt on demand at the destination, so one of
    the guest's stores to a page table may retire natively there where the
    warm shadow of the uninterrupted run trapped and emulated it: the
    guest's instructions (retired + emulated) are the same, and so are its
    output and RAM."""
    bootargs = "mode=forkwait iterations=400"
    options = ("--technique", "trap-emulate", "--ram", "32M", "--bootargs", bootargs)
    source, src_stats, dst, dst_stats = migrate(tmp_path, KERNEL, "2M", *options)
    from pyvmm.hv import Host
    vm = Host(ram_size=64 << 20).create_vm(ram_size=32 << 20, technique="trap-emulate",
                                           paging="shadow", bootargs=bootargs)
    vm.load(KERNEL)
    result = vm.run()
    assert source.returncode == 0 and dst[0] == result.status == 0, dst[2]
    assert source.stdout + dst[1] == vm.console_output and dst[1]
    assert dst_stats["migration"]["final_ram_sha256"] == \
        hashlib.sha256(vm.read(vm.ram_base, vm.ram_size)).hexdigest()
    assert dst_stats["trap_emulate"]["guest_instructions"] == \
        vm.stats()["trap_emulate"]["guest_instructions"]
    vm.close()


@needs_h
def test_a_vm_migration_is_the_same_on_every_run(tmp_path):
    options = ("--technique", "bt", "--ram", "32M") + COMPUTE
    reports = []
    for attempt in ("first", "second"):
        (tmp_path / attempt).mkdir()
        source, src_stats, dst, dst_stats = migrate(tmp_path / attempt, KERNEL, "2M", *options)
        assert source.returncode == 0 and dst[0] == 0
        reports.append(dst_stats["migration"])
    modeled = ("rounds", "pages_per_round", "dirtied_per_round", "rate_mbit_per_round",
               "guest_insns_per_round", "stop_rule", "paused_at_insn", "downtime_guest_insns",
               "total_guest_insns", "state_bytes", "received_bytes", "final_ram_sha256")
    assert {k: reports[0][k] for k in modeled} == {k: reports[1][k] for k in modeled}


@needs_h
def test_the_api_moves_a_vm_to_a_new_host_in_one_process():
    import io

    from pyvmm.hv import Host
    from pyvmm.migration import precopy, stream
    from pyvmm.migration.destination import receive
    from pyvmm.migration.vm import VMGuest, build_migrated_vm, check_vm_config
    expected = reference(KERNEL_PV, "pv", "shadow", bootargs=COMPUTE[1])
    vm = Host(ram_size=64 << 20).create_vm(ram_size=32 << 20, technique="pv", paging="shadow",
                                           bootargs=COMPUTE[1])
    vm.load(KERNEL_PV)
    vm.run(2_000_000)
    wire = bytearray()
    report = precopy.PreCopy(VMGuest(vm), stream.StreamWriter(wire.extend)).run()
    before = vm.console_output
    incoming = receive(stream.StreamReader(io.BytesIO(wire).read),
                       lambda conf: check_vm_config(conf, {"technique": "pv"}))
    assert incoming.conf["options"]["technique"] == "pv"
    copy = build_migrated_vm(incoming.conf, incoming.state, incoming.pages)
    assert copy.host is not vm.host
    result = copy.run()
    assert (before + copy.console_output, copy.stats()["instret"], result.status,
            hashlib.sha256(copy.read(copy.ram_base, copy.ram_size)).hexdigest()) == expected
    assert report["paused_at_insn"] == sum(vcpu.instret for vcpu in vm.vcpus)
    with pytest.raises(MigrationError, match="this destination expects --technique hw"):
        receive(stream.StreamReader(io.BytesIO(wire).read),
                lambda conf: check_vm_config(conf, {"technique": "hw"}))
    copy.close()
    vm.close()


@pytest.mark.parametrize("args, says", [
    ((KERNEL, "--technique", "hw", "--host-harts", "2", "--migrate", "tcp:127.0.0.1:1",
      "--migrate-at", "1"), "--migrate cannot be used with --host-harts"),
    ((KERNEL, "--technique", "hw", "--scheduler", "credit", "--migrate", "tcp:127.0.0.1:1",
      "--migrate-at", "1"), "--migrate cannot be used with --scheduler"),
    (("--incoming", "tcp:127.0.0.1:0", "--scheduler", "credit"),
     "--incoming cannot be used with --scheduler"),
    ((KERNEL, "--technique", "hw", "--migrate", "tcp:127.0.0.1:1"), "--migrate needs --migrate-at"),
])
def test_vm_migration_usage_errors(args, says):
    proc, _ = run(*args)
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and says in lines[0], lines

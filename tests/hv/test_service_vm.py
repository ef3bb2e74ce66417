"""A split block driver through a service VM: the DomU's requests cross its
ring to Dom0, Dom0's NVMe driver and the host's controller (assigned to
Dom0, its DMA into the granted page through the IOMMU), and come back; the
grant and event-channel hypercalls refuse what a VM was not given."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "machine"))
from nvme_image import IMAGE, SECTOR, SERIAL  # noqa: E402
from pyvmm.hv import interdomain  # noqa: E402
from pyvmm.hv.host import Host, HvError  # noqa: E402
from pyvmm.hv.interdomain import DOMAIN_EID  # noqa: E402
from pyvmm.hv.passthrough import Passthrough  # noqa: E402
from pyvmm.hv.service_vm import ServiceVms  # noqa: E402
from pyvmm.io.pci.nvme import NvmeController  # noqa: E402
from pyvmm.machine.memory import DmaError  # noqa: E402
from pyvmm.machine.sbi_defs import (SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_DENIED,  # noqa: E402
                                    SBI_ERR_INVALID_ADDRESS, SBI_ERR_INVALID_PARAM,
                                    SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS)

SPLIT = os.path.join(os.path.dirname(__file__), "..", "..", "guests", "split")
DOM0, DOMU, DOMU_REFS, DIRECT = (os.path.join(SPLIT, name) for name in
                                 ("dom0.S", "domu.S", "domu_refs.S", "nvme_direct.S"))
IO_RING = os.path.join(SPLIT, "..", "bench", "io_ring.S")
IO_NVME = os.path.join(SPLIT, "..", "bench", "io_nvme.S")
BUDGET = 300_000_000
WORKLOAD_REQUESTS = 16 + 16 + 16 + 8 + 16       # every blk_io of blk_workload.inc


def workload_lines(output):
    return [line for line in output.decode().splitlines() if line.startswith("workload:")]


def call(vm, fid, *args):
    """The hypercall as the VM's kernel makes it (a0..a5 -> (error, value))."""
    args = (list(args) + [0] * 6)[:6]
    return vm.hypercalls[(DOMAIN_EID, fid)](vm.vcpus[0], args)


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(IMAGE)
    return path


def split_host(disk):
    host = Host(ram_size=256 << 20)
    split = ServiceVms(host)
    controller = NvmeController(str(disk), serial=SERIAL)
    dom0 = split.create_service_vm(DOM0, controller, name="dom0")
    return host, split, controller, dom0


def test_domu_workload_through_dom0_matches_the_device_directly(disk, tmp_path):
    # The reference: the same workload with the controller assigned to a VM.
    direct_disk = tmp_path / "direct.img"
    direct_disk.write_bytes(IMAGE)
    host = Host(ram_size=256 << 20)
    passthrough = Passthrough(host)
    direct_controller = NvmeController(str(direct_disk), serial=SERIAL)
    passthrough.assign(passthrough.add_host_function(direct_controller, device=3),
                       vm := host.create_vm(ram_size=64 << 20))
    vm.load(DIRECT)
    assert vm.run(BUDGET).how == "finisher-pass"
    direct_controller.close()
    reference = workload_lines(vm.console_output)
    assert len(reference) == 3

    host, split, controller, dom0 = split_host(disk)
    domu = split.create_frontend_vm(DOMU, backend="dom0", name="domu")
    results = host.run(BUDGET)
    assert results[dom0].how == results[domu].how == "finisher-pass", (dom0.console_output,
                                                                        domu.console_output)
    assert workload_lines(domu.console_output) == reference
    assert domu.console_output.endswith(b"done\n")
    requests = WORKLOAD_REQUESTS + 1                   # and the close
    assert dom0.console_output.endswith(
        f"dom0: served {requests:#06x} requests, controller shut down\n".encode())
    # Clean shutdown: the disk file holds what the workload wrote, as the
    # direct run left it.
    controller.close()
    assert disk.read_bytes() == direct_disk.read_bytes() != IMAGE

    # Each request crossed DomU -> Dom0 -> device -> back.
    front, back = split.stats(domu), split.stats(dom0)
    device = back["device"]
    assert front["grants"] == 2 and front["refused"] == back["refused"] == 0
    assert front["notifications_sent"] + front["notifications_dropped"] == requests
    assert back["notifications_received"] == front["notifications_sent"]
    assert back["notifications_sent"] == front["notifications_received"] == requests
    assert back["maps"] == back["unmaps"] == WORKLOAD_REQUESTS + 1     # each data page, and the ring
    assert device["nvme_io_0x01"] + device["nvme_io_0x02"] == WORKLOAD_REQUESTS
    assert device["nvme_io_0x00"] == 1                                  # the close's flush
    assert device["nvme_bytes_read"] == (16 + 16 + 16) * 4096
    assert device["dma_refused_by_iommu"] == 0
    assert back["live_mappings"] == 0
    # Every DMA into a DomU page went through a grant mapped in Dom0's table.
    assert split.passthrough.iommu.faults() == []


def test_io_bench_workload_through_dom0_prints_the_passthrough_checksum(tmp_path):
    """guests/bench/io_workload.inc, the workload of `pyvmm bench --suite io`:
    its frontend build prints io_nvme.S's last line for the same disk."""
    import random
    data = random.Random(1).randbytes(1 << 20)
    lines, disks = [], []
    for kind in ("passthrough", "split"):
        path = tmp_path / f"{kind}.img"
        path.write_bytes(data)
        host = Host(ram_size=256 << 20)
        controller = NvmeController(str(path), serial="io0001")
        if kind == "passthrough":
            passthrough = Passthrough(host)
            vm = host.create_vm(ram_size=64 << 20)
            passthrough.assign(passthrough.add_host_function(controller, device=3), vm)
            vm.load(IO_NVME)
            assert vm.run(BUDGET).how == "sbi-shutdown"
        else:
            split = ServiceVms(host)
            dom0 = split.create_service_vm(DOM0, controller, name="dom0")
            vm = split.create_frontend_vm(IO_RING, backend=dom0, name="domu")
            results = host.run(BUDGET)
            assert results[vm].how == "sbi-shutdown" and results[dom0].how == "finisher-pass"
            assert split.stats(dom0)["maps"] == 256 + 1 and split.stats(dom0)["device"]["nvme_io_0x02"] == 128
        controller.close()
        lines.append(vm.console_output.decode().splitlines()[-1])
        disks.append(path.read_bytes())
    assert lines[0] == lines[1] and lines[0].startswith("io_bench: 256 requests of 4096 bytes over 64 blocks")
    assert disks[0] == disks[1] != data


def test_bad_grants_give_error_statuses_and_change_nothing(disk):
    host, split, controller, dom0 = split_host(disk)
    other = host.create_vm(ram_size=16 << 20, name="other")
    split.join(other)
    page = other.ram_base + 0x10_0000
    other.write(page, b"other's page" * 16)
    refs = [call(other, interdomain.GRANT_ACCESS, dom0.vmid, page, 0) for _ in range(7)]
    assert refs[-1] == (SBI_SUCCESS, 7)         # the DomU's FOREIGN_REF is other's number 7
    domu = split.create_frontend_vm(DOMU_REFS, backend=dom0, name="domu")
    results = host.run_vms([dom0, domu], BUDGET)         # `other` runs no kernel
    assert results[domu].how == results[dom0].how == "finisher-pass", domu.console_output
    assert domu.console_output.decode().splitlines() == [
        "refs: good: status 0",
        "refs: never granted: error 0xfffffffd",
        "refs: revoked: error 0xfffffffd",
        "refs: read into a read-only grant: error 0x00000004",    # the IOMMU refused the DMA
        "refs: another VM's reference: error 0xfffffffd",
        "done"]
    controller.close()
    data = disk.read_bytes()
    good = bytes((7 * i + 17 * 42 + 1) & 0xFF for i in range(4096))
    assert data[320 * SECTOR:328 * SECTOR] == good
    assert data[:320 * SECTOR] == IMAGE[:320 * SECTOR]
    assert data[328 * SECTOR:] == IMAGE[328 * SECTOR:]
    assert other.read(page, 192) == b"other's page" * 16
    back = split.stats(dom0)
    assert back["refused"] == 3 and back["maps"] == 1 + 2          # the ring, good, read-only
    assert back["device"]["dma_refused_by_iommu"] == 1
    assert [fault[0] for fault in split.passthrough.iommu.faults()] == [23]   # a write guest-page fault


def test_grant_hypercalls_refuse_what_was_not_granted(disk):
    host, split, controller, dom0 = split_host(disk)
    a = host.create_vm(ram_size=16 << 20, name="a")
    b = host.create_vm(ram_size=16 << 20, name="b")
    split.join(a)
    split.join(b)
    page = a.ram_base + 0x8000
    a.write(page, b"A" * 4096)
    error, to_b = call(a, interdomain.GRANT_ACCESS, b.vmid, page, 0)
    assert error == SBI_SUCCESS
    window = 0x1_0000_0000
    # Dom0 was not granted b's grant: refused, and nothing is mapped.
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, to_b, window) == (SBI_ERR_DENIED, 0)
    assert dom0.gstage.translate(window) is None
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, 99, window) == (SBI_ERR_INVALID_PARAM, 0)
    assert call(dom0, interdomain.GRANT_MAP, 4000, to_b, window) == (SBI_ERR_INVALID_PARAM, 0)
    # Bad places to map: RAM, a device window, unaligned, beyond Sv39x4.
    for gpa in (b.ram_base, b.ram_base + b.ram_size - 4096, b.ram_base - 4096 + 8, 0x1000_0000,
                0x4000_0000, 0x4_0000_0000, 0x200_0000, window + 8, 1 << 41, (1 << 41) - 4096 + 1):
        assert call(b, interdomain.GRANT_MAP, a.vmid, to_b, gpa) == (SBI_ERR_INVALID_ADDRESS, 0)
    # Granting what is not one's own RAM page.
    for gpa in (a.ram_base + a.ram_size, page + 4, 0x1000_0000):
        assert call(a, interdomain.GRANT_ACCESS, b.vmid, gpa, 0)[0] == SBI_ERR_INVALID_ADDRESS
    assert call(a, interdomain.GRANT_ACCESS, a.vmid, page, 0)[0] == SBI_ERR_INVALID_PARAM
    shadowed = host.create_vm(ram_size=16 << 20, paging="shadow", technique="trap-emulate")
    split.join(shadowed)
    assert call(shadowed, interdomain.GRANT_ACCESS, b.vmid, shadowed.ram_base, 0)[0] == SBI_ERR_NOT_SUPPORTED
    error, to_shadowed = call(a, interdomain.GRANT_ACCESS, shadowed.vmid, page, 0)
    assert call(shadowed, interdomain.GRANT_MAP, a.vmid, to_shadowed, window)[0] == SBI_ERR_NOT_SUPPORTED
    assert call(a, interdomain.GRANT_ACCESS, b.vmid, page, 2)[0] == SBI_ERR_INVALID_PARAM
    # The grantee maps it: b's G-stage table now reaches a's frame there.
    assert call(b, interdomain.GRANT_MAP, a.vmid, to_b, window) == (SBI_SUCCESS, 0)
    assert b.gstage.translate(window) == a.gpa_to_hpa(page)
    assert call(b, interdomain.GRANT_MAP, a.vmid, to_b, window) == (SBI_ERR_ALREADY_AVAILABLE, 0)
    assert call(a, interdomain.GRANT_REVOKE, to_b) == (SBI_ERR_DENIED, 0)     # still mapped
    assert call(b, interdomain.GRANT_UNMAP, window) == (SBI_SUCCESS, 0)
    assert b.gstage.translate(window) is None
    assert call(b, interdomain.GRANT_UNMAP, window) == (SBI_ERR_INVALID_ADDRESS, 0)
    # Grant copy, bounded by the page and the grant's permission.
    dst = b.ram_base + 0x4000
    assert call(b, interdomain.GRANT_COPY, a.vmid, to_b, 100, dst, 8, 0) == (SBI_SUCCESS, 8)
    assert b.read(dst, 8) == b"A" * 8
    b.write(dst, b"from b")
    assert call(b, interdomain.GRANT_COPY, a.vmid, to_b, 4090, dst, 6, 1) == (SBI_SUCCESS, 6)
    assert a.read(page + 4090, 6) == b"from b"
    assert call(b, interdomain.GRANT_COPY, a.vmid, to_b, 4090, dst, 7, 1)[0] == SBI_ERR_INVALID_PARAM
    assert call(b, interdomain.GRANT_COPY, a.vmid, to_b, 0, b.ram_base + b.ram_size - 4, 8, 0)[0] \
        == SBI_ERR_INVALID_ADDRESS
    assert call(dom0, interdomain.GRANT_COPY, a.vmid, to_b, 0, dom0.ram_base, 8, 0)[0] == SBI_ERR_DENIED
    error, readonly = call(a, interdomain.GRANT_ACCESS, b.vmid, page, 1)
    assert call(b, interdomain.GRANT_COPY, a.vmid, readonly, 0, dst, 4, 1)[0] == SBI_ERR_DENIED
    # A revoked grant is gone.
    assert call(a, interdomain.GRANT_REVOKE, to_b) == (SBI_SUCCESS, 0)
    assert call(b, interdomain.GRANT_MAP, a.vmid, to_b, window) == (SBI_ERR_INVALID_PARAM, 0)
    assert call(b, interdomain.GRANT_COPY, a.vmid, to_b, 0, dst, 4, 0)[0] == SBI_ERR_INVALID_PARAM
    assert a.read(page, 4090) == b"A" * 4090
    stats = split.stats(b)
    assert stats["maps"] == 1 and stats["unmaps"] == 1 and stats["copies"] == 2
    assert stats["refused"] == 17           # the calls of b above that had to fail


def test_event_channels_bind_only_to_their_named_peer(disk):
    host, split, controller, dom0 = split_host(disk)
    a = host.create_vm(ram_size=16 << 20, name="a")
    b = host.create_vm(ram_size=16 << 20, name="b")
    split.join(a)
    split.join(b)
    error, port = call(a, interdomain.EVTCHN_ALLOC_UNBOUND, b.vmid)
    assert error == SBI_SUCCESS
    assert call(dom0, interdomain.EVTCHN_BIND, a.vmid, port) == (SBI_ERR_DENIED, 0)
    assert call(b, interdomain.EVTCHN_BIND, a.vmid, port + 1) == (SBI_ERR_INVALID_PARAM, 0)
    error, b_port = call(b, interdomain.EVTCHN_BIND, a.vmid, port)
    assert error == SBI_SUCCESS
    assert call(dom0, interdomain.EVTCHN_BIND, a.vmid, port) == (SBI_ERR_INVALID_PARAM, 0)
    assert call(b, interdomain.EVTCHN_SEND, 63) == (SBI_ERR_INVALID_PARAM, 0)
    b.vcpus[0].waiting_for_interrupt = True
    assert call(b, interdomain.EVTCHN_SEND, b_port) == (SBI_SUCCESS, 0)
    assert a.vcpus[0].get_csr("hvip") & interdomain.HVIP_VSSIP
    assert call(a, interdomain.EVTCHN_BLOCK) == (SBI_SUCCESS, 1 << port)
    assert not a.vcpus[0].get_csr("hvip") & interdomain.HVIP_VSSIP
    assert call(a, interdomain.EVTCHN_SEND, port) == (SBI_SUCCESS, 0)
    assert not b.vcpus[0].waiting_for_interrupt          # woken
    # A VCPU waiting in evtchn_block gets the event as the call's answer (a1).
    assert call(a, interdomain.EVTCHN_BLOCK) == (SBI_SUCCESS, 0)
    a.vcpus[0].set_x(11, 0)                      # as the SBI exit leaves a1
    assert a.vcpus[0].waiting_for_interrupt
    assert call(b, interdomain.EVTCHN_SEND, b_port) == (SBI_SUCCESS, 0)
    assert not a.vcpus[0].waiting_for_interrupt and a.vcpus[0].get_x(11) == 1 << port
    assert not a.vcpus[0].get_csr("hvip") & interdomain.HVIP_VSSIP
    assert call(b, interdomain.EVTCHN_SEND, b_port) == (SBI_SUCCESS, 0)   # no one waits: pending
    assert call(a, interdomain.EVTCHN_BLOCK) == (SBI_SUCCESS, 1 << port)
    assert split.stats(a)["notifications_received"] == 3 and split.stats(b)["notifications_sent"] == 3


def test_bad_configurations_are_refused(disk):
    host, split, controller, dom0 = split_host(disk)
    plain = host.create_vm(ram_size=16 << 20, name="plain")
    with pytest.raises(HvError, match="backend 'plain' is not a service VM"):
        split.create_frontend_vm(DOMU, backend="plain")
    with pytest.raises(HvError, match="backend 'nobody' is not a service VM"):
        split.create_frontend_vm(DOMU, backend="nobody")
    vms = len(host.vms)
    with pytest.raises(HvError, match=r"nvme .* is already assigned to dom0"):
        split.create_service_vm(DOM0, controller, device_id=0x18, name="second")
    with pytest.raises(HvError, match="unknown service 'net'"):
        split.create_service_vm(DOM0, controller, service="net")
    assert len(host.vms) == vms
    with pytest.raises(HvError, match="already has the interdomain hypercalls"):
        split.join(dom0)
    assert plain not in split.services


def run_cli(*argv):
    import subprocess
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", ".."))
    return subprocess.run([sys.executable, "-m", "pyvmm", "host", *argv], capture_output=True,
                          text=True, env=env, timeout=600)


def test_cli_runs_a_service_vm_and_its_frontend(disk, tmp_path):
    stats = tmp_path / "stats.json"
    host_disk = [f"--drive=if=none,id=d0,file={disk},format=raw",
                 f"--device=nvme,drive=d0,serial={SERIAL}"]
    done = run_cli(*host_disk, f"--vm={DOM0},name=dom0,service=nvme",
                   f"--vm={DOMU},name=domu,backend=dom0", f"--stats-file={stats}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "[domu] done" in lines and "[dom0] dom0: served 0x0049 requests, controller shut down" in lines
    assert len([line for line in lines if line.startswith("[domu] workload:")]) == 3
    assert disk.read_bytes() != IMAGE
    import json
    report = json.loads(stats.read_text())["vms"]
    assert report["dom0"]["interdomain"]["maps"] == WORKLOAD_REQUESTS + 1
    assert report["domu"]["interdomain"]["grants"] == 2

    for argv, message in (
            ([f"--vm={DOMU},backend=dom0"], "vm1: backend 'dom0' is not a service VM"),
            ([f"--vm={DOM0},name=dom0,service=nvme"], "dom0: service=nvme: no host nvme controller left"),
            (host_disk + [f"--vm={DOM0},name=a,service=nvme", f"--vm={DOM0},name=b,service=nvme"],
             "b: service=nvme: no host nvme controller left (--device nvme,...); assigned to a"),
            (host_disk + [f"--vm={DOM0},name=a,service=disk"], "a: unknown service 'disk'"),
            (host_disk + [f"--vm={DOMU},name=u,backend=nobody"],
             "1 host --device nvme for 0 service VM(s): each controller needs a --vm IMAGE,service=nvme"),
            (host_disk + [f"--vm={os.path.join(SPLIT, '..', 'hello.S')}"],
             "--drive/--device give the host devices for a service VM")):
        refused = run_cli(*argv)
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1 and message in refused.stderr, refused.stderr


def test_destroying_a_granter_unmaps_its_pages_everywhere(disk):
    host, split, controller, dom0 = split_host(disk)
    a = host.create_vm(ram_size=16 << 20, name="a")
    split.join(a)
    page = a.ram_base + 0x3000
    error, ref = call(a, interdomain.GRANT_ACCESS, dom0.vmid, page, 0)
    window = 0x2_0000_0000
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, ref, window) == (SBI_SUCCESS, 0)
    assert dom0.gstage.translate(window) == a.gpa_to_hpa(page)
    controller.config_write(0x04, 2, 0x6)            # bus mastering, as Dom0's driver sets it
    controller.memory.write(window, b"DMA")          # through the IOMMU: now in its IOTLB
    assert a.read(page, 3) == b"DMA"
    host.destroy_vm(a)
    assert dom0.gstage.translate(window) is None
    with pytest.raises(DmaError):                    # the IOTLB entry went with the mapping
        controller.memory.write(window, b"DMA")
    assert split.stats(dom0)["live_mappings"] == 0
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, ref, window) == (SBI_ERR_INVALID_PARAM, 0)
    with pytest.raises(HvError, match="already has its grant tables"):
        ServiceVms(host, passthrough=split.passthrough)


def test_split_driver_on_two_harts_is_deterministic(tmp_path):
    runs = []
    for attempt in range(2):
        disk = tmp_path / f"disk{attempt}.img"
        disk.write_bytes(IMAGE)
        host = Host(ram_size=256 << 20, harts=2, scheduler="credit")
        split = ServiceVms(host)
        controller = NvmeController(str(disk), serial=SERIAL)
        dom0 = split.create_service_vm(DOM0, controller, name="dom0")
        domu = split.create_frontend_vm(DOMU, backend=dom0, name="domu")
        results = host.run(BUDGET)
        assert results[domu].how == results[dom0].how == "finisher-pass"
        controller.close()
        runs.append((domu.console_output, dom0.console_output, split.stats(domu), split.stats(dom0),
                     disk.read_bytes()))
    assert runs[0] == runs[1]
    assert len(workload_lines(runs[0][0])) == 3


def test_any_arguments_give_an_sbi_answer_and_reach_only_granted_pages(disk):
    import random
    host, split, controller, dom0 = split_host(disk)
    a = host.create_vm(ram_size=16 << 20, name="a")
    b = host.create_vm(ram_size=16 << 20, name="b")
    split.join(a)
    split.join(b)
    a.write(a.ram_base, bytes(range(256)) * (a.ram_size // 256))
    before = {vm: vm.read(vm.ram_base, vm.ram_size) for vm in (a, dom0)}
    rng = random.Random(7)
    junk = (1 << 64) - 1
    pools = ([a.vmid, a.vmid, a.vmid, b.vmid, dom0.vmid, 0, 99, junk],
             [1, 2, 3, 4, 5, 6, 7, 8, a.ram_base, a.ram_base + 4096, 0x1_0000_0000, junk],
             [0, 1, 8, 4095, 0x1_0000_0000, 0x1_0000_1000, b.ram_base, 1 << 41, junk],
             [b.ram_base, b.ram_base + 100, 0, b.ram_base + b.ram_size - 8, junk],
             [8, 100, 4096, 0, junk],
             [0, 1, 2])
    pages = [a.ram_base + n * 4096 for n in range(6)] + [a.ram_base + 1, junk]
    writable = set()             # pages `a` ever granted `b` writable
    fids = [f for f in interdomain.CALLS if f != interdomain.EVTCHN_BLOCK]
    fids += [interdomain.GRANT_COPY] * 6 + [interdomain.GRANT_MAP] * 2
    for n in range(6):
        assert call(a, interdomain.GRANT_ACCESS, b.vmid, pages[n], n % 2)[0] == SBI_SUCCESS
        if n % 2 == 0:
            writable.add(pages[n])
    assert call(b, interdomain.GRANT_COPY, a.vmid, 1, 16, b.ram_base, 8, 1) == (SBI_SUCCESS, 8)
    for _ in range(4000):
        # `a` grants and revokes; `b` tries everything on whatever it names.
        if rng.random() < 0.02:
            vm, fid = a, rng.choice((interdomain.GRANT_ACCESS, interdomain.GRANT_ACCESS,
                                     interdomain.GRANT_REVOKE))
            args = [rng.choice((b.vmid, b.vmid, dom0.vmid, 77)), rng.choice(pages), rng.choice((0, 1, 5))]
            if fid == interdomain.GRANT_REVOKE:
                args = [rng.randrange(0, 12)]
        else:
            vm, fid = b, rng.choice(fids)
            args = [rng.choice(pool) if rng.random() < 0.9 else rng.getrandbits(64) for pool in pools]
        error, value = call(vm, fid, *args)
        assert error in (SBI_SUCCESS, -1, -2, -3, -4, -5, -6) and 0 <= value < 1 << 64
        if vm is a and fid == interdomain.GRANT_ACCESS and error == SBI_SUCCESS and args[0] == b.vmid \
                and args[2] == 0:
            writable.add(args[1])
    stats = split.stats(b)
    assert stats["copies"] > 1 and stats["maps"] > 0 and stats["refused"] > 1000
    # Whatever b mapped is a grant made to b, at a GPA outside its RAM.
    for gpa, (granter, ref) in split.interdomain.domain(b).mapped.items():
        grant = granter.grants[ref]
        assert grant.grantee_domid == b.vmid and not b.in_ram(gpa)
        assert b.gstage.translate(gpa) == granter.vm.gpa_to_hpa(grant.gpa)
    # b's copies changed only pages a granted it writable, and nothing of Dom0.
    after = a.read(a.ram_base, a.ram_size)
    changed = {a.ram_base + i for i in range(0, a.ram_size, 4096)
               if after[i:i + 4096] != before[a][i:i + 4096]}
    assert changed and changed <= writable
    assert dom0.read(dom0.ram_base, dom0.ram_size) == before[dom0]


def test_vms_bound_by_grants_are_not_saved_or_cloned(disk, tmp_path):
    host, split, controller, dom0 = split_host(disk)
    domu = split.create_frontend_vm(DOMU, backend=dom0, name="domu")
    for vm, what in ((dom0, "host devices assigned"), (domu, "grant tables and event channels")):
        with pytest.raises(HvError, match=what):
            vm.save(str(tmp_path / "vm.snap"))
        with pytest.raises(HvError, match=what):
            vm.clone()
    assert not (tmp_path / "vm.snap").exists()
    host.run()
    assert domu.result.how == "finisher-pass"
    controller.close()

"""`pyvmm host` choosing each VM's I/O model (io=, pci=, drive=, bar=) and a
named hypervisor configuration (--model type0|type1|type2): the io bench
workload prints the same checksum and leaves the same disk under every
model; what a model forbids, and every bad input, is one line, exit 2."""

import json
import os
import random
import subprocess
import sys

import pytest

from hv_support import needs_h

pytestmark = needs_h

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "guests", "bench")
DOM0 = os.path.join(ROOT, "guests", "split", "dom0.S")
BLOCKS = 10
DISK_BYTES = 1 << 20
BASE = random.Random(0x696f).randbytes(DISK_BYTES)
HALF = DISK_BYTES // 2


def pyvmm_host(*argv):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pyvmm", "host", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def workload(tmp_path, driver):
    """The io bench guest for `driver` (nvme, virtio, ring) over BLOCKS blocks."""
    path = tmp_path / f"io_{driver}_{BLOCKS}.S"
    path.write_text(f"    .equ IO_BLOCKS, {BLOCKS}\n    .equ IO_RANDOM, {BLOCKS}\n"
                    f"    .include \"{os.path.join(BENCH, f'io_{driver}.S')}\"\n")
    return str(path)


def disk(tmp_path, name="disk.img", contents=BASE):
    path = tmp_path / name
    path.write_bytes(contents)
    return path


def host_nvme(path, sriov_max_vfs=0, id="N0"):
    device = f"--device=nvme,drive=d0,serial=s0,id={id}"
    if sriov_max_vfs:
        device += f",sriov_max_vfs={sriov_max_vfs}"
    return [f"--drive=if=none,id=d0,file={path},format=raw", device]


def checksum_lines(done, name):
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines()
             if line.startswith(f"[{name}] io_bench: {4 * BLOCKS} requests of 4096 bytes")]
    assert len(lines) == 1, done.stdout
    return lines[0].split("] ", 1)[1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The emulated NVMe (hypervisor direct): its checksum line and the disk it leaves."""
    tmp_path = tmp_path_factory.mktemp("reference")
    path = disk(tmp_path)
    done = pyvmm_host(f"--vm={workload(tmp_path, 'nvme')},name=a,io=direct:nvme,drive={path}")
    line = checksum_lines(done, "a")
    written = path.read_bytes()
    assert written != BASE
    return line, written


def model_run(model, tmp_path):
    """argv for `model` over a fresh disk and the name of the VM printing the checksum."""
    path = disk(tmp_path)
    nvme, virtio, ring = (workload(tmp_path, driver) for driver in ("nvme", "virtio", "ring"))
    runs = {
        "split": [f"--vm={virtio},name=a,io=split:virtio-blk,drive={path}"],
        "passthrough": host_nvme(path) + [f"--vm={nvme},name=a,io=passthrough:N0"],
        "xl-pci": host_nvme(path) + [f"--vm={nvme},name=a,pci=N0,bar=0x40000000"],
        "vf": host_nvme(path, sriov_max_vfs=2) + [f"--vm={nvme},name=a,io=vf:N0.0"],
        "type0": ["--model=type0", "--harts=2"] + host_nvme(path) + [f"--vm={nvme},name=a,pci=N0"],
        "type1": ["--model=type1"] + host_nvme(path) + [f"--vm={DOM0},name=dom0,service=nvme",
                                                        f"--vm={ring},name=a,backend=dom0"],
        "type2": ["--model=type2", f"--vm={nvme},name=a,io=direct:nvme,drive={path}"],
    }
    return runs[model], path


@pytest.mark.parametrize("model", ["split", "passthrough", "xl-pci", "vf", "type0", "type1", "type2"])
def test_every_model_same_checksum_same_disk(model, reference, tmp_path):
    argv, path = model_run(model, tmp_path)
    line = checksum_lines(pyvmm_host(*argv), "a")
    expected_line, expected_disk = reference
    assert line == expected_line
    written = path.read_bytes()
    if model == "vf":            # VF 0's namespace is the drive's first half
        assert written[:HALF] == expected_disk[:HALF] and written[HALF:] == BASE[HALF:]
    else:
        assert written == expected_disk


def test_two_vms_each_on_a_vf_of_one_controller(reference, tmp_path):
    halves = BASE[:HALF] * 2             # both VF namespaces start alike
    path = disk(tmp_path, contents=halves)
    nvme = workload(tmp_path, "nvme")
    stats = tmp_path / "stats.json"
    done = pyvmm_host(*host_nvme(path, sriov_max_vfs=2), f"--vm={nvme},name=a,io=vf:N0.0",
                      f"--vm={nvme},name=b,pci=N0.1", f"--stats-file={stats}")
    assert checksum_lines(done, "a") == checksum_lines(done, "b") == reference[0]
    written = path.read_bytes()
    assert written[:HALF] == written[HALF:] == reference[1][:HALF]
    vms = json.loads(stats.read_text())["vms"]
    assert vms["a"]["io"]["model"] == vms["b"]["io"]["model"] == "vf"
    assert (vms["a"]["io"]["device"], vms["b"]["io"]["device"]) == ("N0.0", "N0.1")
    # the VF's registers are reached without exits of the VM
    assert vms["a"]["io"]["device_accesses"] > 4 * BLOCKS
    assert vms["a"]["exits"].get("mmio", 0) < 4 * BLOCKS


def test_type2_prices_each_io_exit_with_the_host_os_round_trip(tmp_path):
    from pyvmm.bench.costmodel import DEFAULT
    nvme = workload(tmp_path, "nvme")
    reports = {}
    for how in ("direct", "passthrough"):
        path = disk(tmp_path, f"{how}.img")
        stats = tmp_path / f"{how}.json"
        io = [f"--vm={nvme},name=a,io=direct:nvme,drive={path}"] if how == "direct" else \
            host_nvme(path) + [f"--vm={nvme},name=a,io=passthrough:N0"]
        done = pyvmm_host("--model=type2", *io, f"--stats-file={stats}")
        checksum_lines(done, "a")
        report = json.loads(stats.read_text())
        assert report["model"]["name"] == "type2"
        reports[how] = report["vms"]["a"]
    for vm in reports.values():
        hosted = vm["hosted"]
        assert hosted["io_exits"] == vm["exits"]["mmio"]
        assert hosted["hosted_exit_cycles"] == hosted["io_exits"] * DEFAULT.hosted_exit
    # emulated registers exit for every access; an assigned function's do not
    assert reports["direct"]["hosted"]["io_exits"] > 4 * BLOCKS
    assert reports["passthrough"]["hosted"]["io_exits"] < reports["direct"]["hosted"]["io_exits"] / 4


def test_type0_gives_each_vm_its_own_harts(tmp_path):
    path = disk(tmp_path, contents=BASE[:HALF] * 2)
    nvme = workload(tmp_path, "nvme")
    stats = tmp_path / "stats.json"
    done = pyvmm_host("--model=type0", "--harts=3", *host_nvme(path, sriov_max_vfs=2),
                      f"--vm={nvme},name=a,io=vf:N0.0", f"--vm={nvme},name=b,io=vf:N0.1",
                      f"--stats-file={stats}")
    checksum_lines(done, "a")
    checksum_lines(done, "b")
    harts = json.loads(stats.read_text())["host"]["hart_time"]
    assert [hart["partition"] for hart in harts] == [None, "a", "b"]


def test_bad_input_one_line_exit_2(tmp_path):
    path = disk(tmp_path)
    nvme, virtio = workload(tmp_path, "nvme"), workload(tmp_path, "virtio")
    cases = (
        (["--model=type3", f"--vm={nvme}"], "unknown hypervisor model 'type3' (known: type0, type1, type2)"),
        (host_nvme(path) + [f"--vm={nvme},name=a,io=passthrough:N0", f"--vm={nvme},name=b,pci=N0"],
         "io=passthrough:N0: one device for two VMs (a and b)"),
        (host_nvme(path, sriov_max_vfs=2) + [f"--vm={nvme},io=vf:N0.2"], "has no VF 2: 2 VFs enabled (NumVFs)"),
        (host_nvme(path) + [f"--vm={nvme},name=a,io=passthrough:N0,bar=0x80000000"],
         "a: a BAR at 0x80000000+0x4000 overlaps guest RAM [0x80000000, 0x84000000)"),
        (host_nvme(path) + [f"--vm={nvme},io=passthrough:N9"], "no host --device with id=N9 (known: N0)"),
        (host_nvme(path, sriov_max_vfs=2) + [f"--vm={nvme},name=a,io=vf:N0.0", f"--vm={nvme},name=b,pci=N0"],
         "has its VFs enabled"),
        ([f"--vm={nvme},io=mmio:nvme"], "unknown I/O model 'mmio'"),
        ([f"--vm={nvme},io=direct:virtio-blk,drive={path}"], "direct emulates nvme, not 'virtio-blk'"),
        ([f"--vm={nvme},io=vf:N0"], "a VF is PF.INDEX"),
        ([f"--vm={nvme},io=direct:nvme"], "io=direct:nvme needs drive=FILE"),
        ([f"--vm={nvme},drive={path}"], "drive= backs an emulated device"),
        ([f"--vm={nvme},io=split:virtio-blk,drive={path},bar=0x40000000"], "bar= places an assigned"),
        ([f"--vm={nvme},io=direct:nvme,pci=N0,drive={path}"], "io= and pci= both given"),
        (["--model=type0", f"--vm={virtio},io=split:virtio-blk,drive={path}"],
         "vm1: io=split:virtio-blk: type0 gives devices only by assignment"),
        (["--model=type0", "--scheduler=credit", f"--vm={nvme}"], "type0 has no scheduler"),
        (["--model=type0", f"--vm={nvme}"], "partition hart 1 does not exist (the host has harts 0..0)"),
        (["--model=type1", f"--vm={nvme},io=direct:nvme,drive={path}"],
         "vm1: type1: every VM is a service VM (service=) or a frontend (backend=)"),
        (["--model=type1"] + host_nvme(path) + [f"--vm={DOM0},name=dom0,service=nvme",
                                               f"--vm={nvme},backend=dom0,io=passthrough:N0"],
         "gets its device by service=/backend=, not io="),
        (["--model=type2", "--harts=2", f"--vm={nvme},partition=1"], "type2 runs VMs as host processes"),
        (["--model=type2"] + host_nvme(path) + [f"--vm={DOM0},name=dom0,service=nvme"],
         "type2 has no service VM"),
    )
    for argv, message in cases:
        refused = pyvmm_host(*argv)
        assert refused.returncode == 2, (argv, refused.stderr)
        assert refused.stderr.count("\n") == 1 and message in refused.stderr, (message, refused.stderr)
        assert refused.stdout == ""
    assert path.read_bytes() == BASE


def test_api_names_the_problem():
    from pyvmm.hv import HvError
    from pyvmm.hv.io_models import IoChoice, hypervisor_model, parse_io
    assert parse_io("vf:N0.1") == IoChoice("vf", "N0", 1)
    assert parse_io("passthrough:E0") == IoChoice("passthrough", "E0")
    assert str(parse_io("split:virtio-blk")) == "split:virtio-blk"
    with pytest.raises(HvError, match="unknown hypervisor model 'xen'"):
        hypervisor_model("xen")
    with pytest.raises(HvError, match="unknown I/O model"):
        parse_io("emulated:nvme")
    type0 = hypervisor_model("type0")
    type0.check_vm("a", io=parse_io("vf:N0.1"), partition=[1])
    with pytest.raises(HvError, match="a: type0 has no scheduler"):
        type0.check_vm("a", partition=[1], weighted=True)
    with pytest.raises(HvError, match="a: type0 has no service VMs"):
        type0.check_vm("a", partition=[1], role="service")


def test_nic_passthrough_by_id(tmp_path):
    """A pyvmm-nic with a --netdev, assigned by its id: the guest's driver
    finds and enables it (its wire has no far end, so the budget ends it)."""
    stats = tmp_path / "stats.json"
    done = pyvmm_host("--netdev=hub,id=lan", "--device=pyvmm-nic,netdev=lan,queues=2,id=E0",
                      f"--vm={os.path.join(ROOT, 'guests', 'pci', 'nic_smode.S')},name=n,pci=E0",
                      "--max-insns=20M", f"--stats-file={stats}")
    assert done.returncode == 124, done.stderr
    assert done.stdout.splitlines()[:2] == ["[n] nic at 00:01.0 class 020000 pin 0x01",
                                            "[n] bar0 size 0x00004000"]
    assert "[n] enabled, status 0x03" in done.stdout.splitlines()
    io = json.loads(stats.read_text())["vms"]["n"]["io"]
    assert io["model"] == "passthrough" and io["device"] == "E0" and io["device_accesses"] > 0

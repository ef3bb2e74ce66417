"""`pyvmm bench --suite io`: the storage workload under every I/O model,
run as a user runs it (the CLI, the quick workload), and what the report
must say of it."""

import json

import pytest

from pyvmm.bench import io_report, io_suite
from pyvmm.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    directory = tmp_path_factory.mktemp("io-suite")
    path = directory / "io.json"
    status = main(["bench", "--suite", "io", "--quick", "-q", "--json", str(path)])
    assert status == 0
    return json.loads(path.read_text())


def rows(report):
    return {row["model"]: row for row in report["models"]}


def test_every_model_reads_the_same_bytes(report):
    assert [r["model"] for r in report["models"]] == [m.name for m in io_suite.MODELS]
    assert report["checksums_equal"] is True
    checksums = {(r["checksum"], r["checksum_small"]) for r in report["models"]}
    assert len(checksums) == 1
    (large, small), = checksums
    assert large != small and large.startswith("0x") and len(large) == 18


def test_exits_per_request_are_what_each_model_implies(report):
    by = rows(report)
    small, large = io_suite.SIZES["quick"]
    for row in by.values():
        assert row["requests"] == 4 * (large - small)
        # one device command of 4 KiB per guest request, under every model
        assert row["per_request"]["device_blocks"] == 1.0
    for native in ("native-nvme", "native-virtio"):
        assert by[native]["per_request"]["exits"] == 0
        assert by[native]["overhead_percent"] is None
    # NVMe: the SQ tail and CQ head doorbells; virtio-blk: QueueNotify
    assert by["native-nvme"]["per_request"]["device_accesses"] == 2
    assert by["native-virtio"]["per_request"]["device_accesses"] == 1
    direct = by["direct"]["per_request"]
    assert direct["exits_by_kind"]["mmio"] >= by["native-nvme"]["per_request"]["device_accesses"]
    assert direct["device_accesses"] == 0
    split = by["split"]["per_request"]
    assert split["exits_by_kind"]["mmio"] == 1 and split["virtio_notifies"] == 1
    passthrough = by["passthrough"]["per_request"]
    assert passthrough["exits"] == 0
    assert passthrough["device_accesses"] == 2
    # the submission entry read, the data, the completion entry written
    assert passthrough["iommu_translations"] >= 3
    for name in ("native-nvme", "direct", "split"):
        assert by[name]["per_request"]["iommu_translations"] == 0
    # a virtual function is reached as the physical one is: no exits, through the IOMMU
    vf = by["sriov-vf"]["per_request"]
    assert vf["exits"] == 0 and vf["device_accesses"] == 2 and vf["iommu_translations"] >= 3
    # the same guest instructions per request whatever serves the device
    assert direct["instret"] == passthrough["instret"] == vf["instret"] == \
        by["native-nvme"]["per_request"]["instret"]


def test_hosted_models_price_their_base_run_with_the_host_round_trip(report):
    by = rows(report)
    model = report["cost_model"]
    for hosted, base in (("direct-hosted", "direct"), ("split-hosted", "split")):
        assert by[hosted]["hosted"] and by[hosted]["runs"] == base
        assert by[hosted]["per_request"] == by[base]["per_request"]
        extra = by[hosted]["cycles_per_request"] - by[base]["cycles_per_request"]
        assert extra == pytest.approx(model["hosted_exit"] * by[base]["per_request"]["exits_by_kind"]["mmio"])


def test_cycles_and_overheads(report):
    by = rows(report)
    model = report["cost_model"]
    for row in report["models"]:
        assert row["cycles_per_request"] == pytest.approx(sum(row["cycle_breakdown"].values()))
        assert row["mb_per_s_modeled"] == pytest.approx(
            4096 / (row["cycles_per_request"] / report["modeled_hz"]) / 1e6)
        if row["native"]:
            base = by[row["native"]]["cycles_per_request"]
            assert row["overhead_percent"] == pytest.approx(100 * (row["cycles_per_request"] / base - 1))
            assert row["vmware_io"] == io_suite.verdict(row["overhead_percent"], (25.0, 60.0))
    assert by["direct"]["cycle_breakdown"]["mmio_exit"] == 2 * model["mmio_exit"]
    assert by["passthrough"]["overhead_percent"] < by["split"]["overhead_percent"]
    cpu = report["cpu_control"]
    assert cpu["columns"]["native"]["checksum"] == cpu["columns"]["hw-nested"]["checksum"]
    assert cpu["vmware_cpu"] == io_suite.verdict(cpu["overhead_percent"], (2.0, 10.0))


def test_report_structure(report):
    assert report["suite"] == "io" and report["quick"] is True
    assert set(report["vmware"]) == {"io_percent", "cpu_percent"}
    table = io_report.render(report, "table").splitlines()
    assert table[2].split()[:3] == ["model", "MB/s", "model"]
    assert [line.split()[0] for line in table[3:3 + len(report["models"])]] == \
        [m.name for m in io_suite.MODELS]
    markdown = io_report.render(report, "markdown")
    assert markdown.count("\n| ") == len(report["models"]) + 1
    assert json.loads(io_report.render(report, "json")) == report


def test_plot_is_written(report, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "io.png"
    io_report.write_plot(report, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_model_is_one_table_entry():
    model = io_suite.IoModel("again", "native NVMe once more", "nvme", io_suite.setup_native)
    assert model.native is None and not model.hosted
    with pytest.raises(io_suite.IoBenchError, match="passthrough assigns the host's NVMe"):
        io_suite.setup_vm_passthrough("virtio", "guest.S", "disk.img")


@pytest.mark.parametrize("argv, message", [
    (["--suite", "io", "--techniques", "hw"], "--techniques does not apply to --suite io"),
    (["--suite", "io", "--iterations", "16"], "--iterations does not apply to --suite io"),
    (["--suite", "io", "--scale", "2"], "--scale does not apply to --suite io"),
    (["--suite", "core", "--quick"], "--quick and --json belong to --suite io"),
    (["--suite", "nano", "--json", "x.json"], "--quick and --json belong to --suite io"),
    (["--suite", "disks"], "invalid choice: 'disks'"),
])
def test_bad_suite_or_option_exits_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("pyvmm bench: error:") and message in err[-1]


def test_unwritable_json_is_one_line(capsys, tmp_path):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    missing = tmp_path / "no-such-dir" / "io.json"
    assert main(["bench", "--suite", "io", "--quick", "-q", "--json", str(missing)]) == 1
    out, err = capsys.readouterr()
    assert "native-nvme" in out
    assert err.splitlines() == [f"pyvmm bench: error: {missing}: No such file or directory"]


def test_bad_cost_model_is_one_line(capsys):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    assert main(["bench", "--suite", "io", "--quick", "--cost-model", "mmio_exit=x"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        "pyvmm bench: error: cost-model override 'mmio_exit=x': 'x' is not a number"]


def test_every_io_parameter_is_priced(report):
    from pyvmm.bench import costmodel
    by = rows(report)
    for name in costmodel.IO_PARAMETERS + ("instruction", "device_access"):
        counted = [r for r in report["models"] if r["events"][name]]
        # The drivers poll (no interrupts), and one buffer and one queue pair
        # stay in the IOTLB after the first requests: neither scales with them.
        if name not in ("interrupt_injection", "iotlb_miss"):
            assert counted, f"no model counts {name}"
        for row in counted:
            bumped = costmodel.DEFAULT.with_overrides({name: getattr(costmodel.DEFAULT, name) + 1})
            assert bumped.cycles(row["events"]) == pytest.approx(
                row["cycles_per_request"] + row["events"][name])
    assert by["direct-hosted"]["events"]["hosted_exit"] == 2


MASK64 = (1 << 64) - 1
LCG_MUL, LCG_ADD = 6364136223846793005, 1442695040888963407


def reference(blocks, random_ops, seed=0x2545f4914f6cdd1d):
    """io_workload.inc's definition, computed here: (checksum, the region's
    blocks as the last writes left them)."""
    region, requests, h, state = {}, 0, 0xcbf29ce484222325, seed

    def fill(block):
        x, words = (block << 32 | requests) & MASK64, []
        for _ in range(512):
            x = (x * LCG_MUL + LCG_ADD) & MASK64
            words.append(x)
        region[block] = words

    def fold(block):
        nonlocal h
        for word in region[block]:
            h = (h * 0x100000001b3 + word) & MASK64

    def next_block():
        nonlocal state
        state = (state * LCG_MUL + LCG_ADD) & MASK64
        return (state >> 33) % blocks

    for block in range(blocks):
        fill(block)
        requests += 1
    for block in range(blocks):
        fold(block)
        requests += 1
    for _ in range(random_ops):
        fill(next_block())
        requests += 1
    for _ in range(random_ops):
        fold(next_block())
        requests += 1
    return f"{h:#018x}", region


def test_checksum_is_the_workloads_definition(report):
    small, large = io_suite.SIZES["quick"]
    assert report["models"][0]["checksum"] == reference(large, large)[0]
    assert report["models"][0]["checksum_small"] == reference(small, small)[0]


@pytest.mark.parametrize("name", ["native-nvme", "split", "passthrough"])
def test_the_disk_holds_the_last_writes_at_their_blocks(tmp_path, name):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    import struct
    blocks = 6
    run = io_suite.run_once(io_suite.BY_NAME[name], blocks, str(tmp_path))
    checksum, region = reference(blocks, blocks)
    assert run["checksum"] == checksum
    disk = (tmp_path / f"{name}-{blocks}.img").read_bytes()
    for block, words in region.items():
        assert list(struct.unpack_from("<512Q", disk, block * 4096)) == words, f"block {block}"
    # beyond the region the disk is as it was made
    untouched = blocks * 4096
    original = tmp_path / "original.img"
    io_suite.make_disk(str(original))
    assert disk[untouched:] == original.read_bytes()[untouched:]

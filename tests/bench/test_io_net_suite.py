"""`pyvmm bench --suite io`: the network workloads (request/response and
bulk against the echo netdev) under every network model, run as a user
runs them (the CLI, --quick), and what the report must say of them."""

import json

import pytest

from pyvmm.bench import io_report, io_suite
from pyvmm.cli import main
from pyvmm.io.net.echo import ECHO_MAC

MASK64 = (1 << 64) - 1
LCG_MUL, LCG_ADD = 6364136223846793005, 1442695040888963407
NIC_MAC = bytes.fromhex("525400123456")     # both NICs' default address


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    path = tmp_path_factory.mktemp("io-net-suite") / "io.json"
    assert main(["bench", "--suite", "io", "--quick", "-q", "--json", str(path)]) == 0
    return json.loads(path.read_text())


def workloads(report):
    return {w["workload"]: {r["model"]: r for r in w["models"]}
            for w in report["network"]["workloads"]}


def frame(number, length):
    x, payload = number, bytearray()
    while 14 + len(payload) < length:
        x = (x * LCG_MUL + LCG_ADD) & MASK64
        payload += x.to_bytes(8, "little")
    return b"\xff" * 6 + NIC_MAC + b"\x88\xb5" + bytes(payload[:length - 14])


def reference(mode, frames):
    """net_workload.inc's definition, computed here, with the echo peer."""
    h = 0xcbf29ce484222325
    for k in range(frames):
        sent = frame(k, 64 + 8 * (k % 32) if mode == "rr" else 1514)
        reply = sent[6:12] + ECHO_MAC + sent[12:]
        whole = len(reply) // 8 * 8
        for i in range(0, whole, 8):
            h = (h * 0x100000001b3 + int.from_bytes(reply[i:i + 8], "little")) & MASK64
        for byte in reply[whole:]:
            h = (h * 0x100000001b3 + byte) & MASK64
        h = (h * 0x100000001b3 + len(reply)) & MASK64
    return f"{h:#018x}"


def test_every_model_receives_the_same_bytes_per_workload(report):
    small, large = io_suite.NET_SIZES["quick"]
    assert [w["workload"] for w in report["network"]["workloads"]] == ["rr", "bulk"]
    for workload in report["network"]["workloads"]:
        assert [r["model"] for r in workload["models"]] == [m.name for m in io_suite.NET_MODELS]
        assert workload["checksums_equal"] is True
        assert {r["checksum"] for r in workload["models"]} == {reference(workload["workload"], large)}
        assert {r["checksum_small"] for r in workload["models"]} == \
            {reference(workload["workload"], small)}


def test_exits_and_accesses_per_frame_are_what_each_model_implies(report):
    small, large = io_suite.NET_SIZES["quick"]
    for name, by in workloads(report).items():
        # rr: a transmit and a receive doorbell per frame; bulk: one each per batch
        doorbells = 2 if name == "rr" else 2 / io_suite.NET_BATCH
        for row in by.values():
            assert row["requests"] == large - small
        for native in ("native-nic", "native-virtio"):
            per = by[native]["per_request"]
            assert per["exits"] == 0 and per["device_accesses"] == doorbells
            assert per["iommu_translations"] == 0 and by[native]["overhead_percent"] is None
        direct = by["direct"]["per_request"]
        assert direct["exits_by_kind"]["mmio"] >= by["native-nic"]["per_request"]["device_accesses"]
        assert direct["device_accesses"] == 0 and direct["iommu_translations"] == 0
        split = by["split"]["per_request"]
        assert split["exits_by_kind"]["mmio"] == split["virtio_notifies"] == doorbells
        passthrough = by["passthrough"]["per_request"]
        assert passthrough["exits"] == 0
        assert passthrough["device_accesses"] == doorbells
        # the transmit descriptor and frame read, its status written back; the
        # receive descriptor read, the frame and its length and status written
        assert passthrough["iommu_translations"] >= 6
        # Through a service VM: Dom0 rings the doorbells the frontend's driver
        # would and the NIC's DMA translates as under passthrough (the frames
        # are in the frontend's pages, granted to Dom0); what it adds are
        # hypercalls -- each frame's transmit and receive page mapped and
        # unmapped, event-channel sends and blocks -- and both VMs' code.
        service = by["service-vm"]["per_request"]
        assert service["device_accesses"] == doorbells
        assert service["iommu_translations"] == passthrough["iommu_translations"]
        assert service["exits_by_kind"].get("mmio", 0) == 0 and service["exits_by_kind"]["sbi"] >= 4
        assert service["instret"] > passthrough["instret"]
        # the same guest instructions per frame whatever serves the NIC
        assert direct["instret"] == passthrough["instret"] == \
            by["native-nic"]["per_request"]["instret"]
        assert split["instret"] == by["native-virtio"]["per_request"]["instret"]
        # a VF of the SR-IOV NIC is reached as the whole NIC is: no exits, through the IOMMU
        vf = by["sriov-vf"]["per_request"]
        assert vf["exits"] == 0 and vf["device_accesses"] == doorbells
        assert vf["iommu_translations"] == passthrough["iommu_translations"]
        assert vf["instret"] == by["native-nic"]["per_request"]["instret"]
        for row in by.values():
            frame_bytes = row["per_request"]["frame_bytes"]
            assert frame_bytes == (1514 if name == "bulk" else
                                   sum(64 + 8 * (k % 32) for k in range(small, large)) / (large - small))
            # each frame goes out and comes back: twice its bytes through the device
            assert row["per_request"]["device_blocks"] == pytest.approx(2 * frame_bytes / 4096)


def test_cycles_rates_and_overheads(report):
    model = report["cost_model"]
    for name, by in workloads(report).items():
        for row in by.values():
            assert row["cycles_per_request"] == pytest.approx(sum(row["cycle_breakdown"].values()))
            seconds = row["cycles_per_request"] / report["modeled_hz"]
            assert row["requests_per_s_modeled"] == pytest.approx(1 / seconds)
            assert row["mb_per_s_modeled"] == pytest.approx(row["per_request"]["frame_bytes"] / seconds / 1e6)
            if row["native"]:
                base = by[row["native"]]["cycles_per_request"]
                assert row["overhead_percent"] == pytest.approx(100 * (row["cycles_per_request"] / base - 1))
                assert row["vmware_io"] == io_suite.verdict(row["overhead_percent"], (25.0, 60.0))
        for hosted, base in (("direct-hosted", "direct"), ("split-hosted", "split")):
            assert by[hosted]["runs"] == base and by[hosted]["per_request"] == by[base]["per_request"]
            assert by[hosted]["cycles_per_request"] - by[base]["cycles_per_request"] == pytest.approx(
                model["hosted_exit"] * by[base]["per_request"]["exits_by_kind"]["mmio"])
        assert by["passthrough"]["overhead_percent"] < by["direct"]["overhead_percent"] \
            < by["direct-hosted"]["overhead_percent"]
        assert by["passthrough"]["overhead_percent"] < by["service-vm"]["overhead_percent"]


def test_report_shows_storage_then_one_table_per_network_workload(report):
    table = io_report.render(report, "table").splitlines()
    starts = [i for i, line in enumerate(table) if line.startswith("network, ")]
    assert len(starts) == 2 and "request/response" in table[starts[0]] and "bulk" in table[starts[1]]
    for start, workload in zip(starts, report["network"]["workloads"]):
        assert table[start + 2].split()[:3] == ["model", "frames/s", "model"]
        assert [line.split()[0] for line in table[start + 3:start + 3 + len(workload["models"])]] == \
            [m.name for m in io_suite.NET_MODELS]
    assert "checksums (rr): all models received the same bytes" in "\n".join(table)
    markdown = io_report.render(report, "markdown")
    assert markdown.count("\n| ") == len(report["models"]) + 1 + sum(
        len(w["models"]) + 1 for w in report["network"]["workloads"])
    assert json.loads(io_report.render(report, "json"))["network"] == report["network"]


def test_plot_has_a_row_per_table(report, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "io.png"
    io_report.write_plot(report, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["passthrough", "sriov-vf"])
def test_a_run_gives_the_same_counters_every_time(tmp_path, name):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    model, workload = io_suite.NET_BY_NAME[name], io_suite.NET_WORKLOADS[0]
    runs = [io_suite.run_net_once(model, workload, 4, str(tmp_path)) for _ in range(2)]
    for run in runs:
        del run["host_seconds"]
    assert runs[0] == runs[1] and runs[0]["checksum"] == reference("rr", 4)


def test_passthrough_assigns_only_the_nic():
    with pytest.raises(io_suite.IoBenchError, match="passthrough assigns the host's pyvmm-nic"):
        io_suite.setup_net_passthrough("virtio", "guest.S")
    with pytest.raises(io_suite.IoBenchError, match="an SR-IOV VF is one of the host's pyvmm-nic's"):
        io_suite.setup_net_vm_vf("virtio", "guest.S")


def test_differing_network_checksums_fail_the_command(report, monkeypatch, capsys):
    broken = json.loads(json.dumps(report))
    bulk = broken["network"]["workloads"][1]
    bulk["models"][-1]["checksum"] = "0x0000000000000000"
    bulk["checksums_equal"] = False
    monkeypatch.setattr(io_suite, "run_io_suite", lambda **kwargs: broken)
    assert main(["bench", "--suite", "io", "--quick", "-q"]) == 1
    out, err = capsys.readouterr()
    assert "checksums (bulk): DIFFER between models" in out
    assert err.splitlines() == ["pyvmm bench: error: the models received different bytes (bulk): "
                                + ", ".join(f"{r['model']} {r['checksum']}" for r in bulk["models"])]

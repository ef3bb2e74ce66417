"""A split network driver through a service VM: the DomU's frames cross its
ring to Dom0, Dom0's pyvmm-nic driver and the host's NIC (assigned to Dom0,
its DMA reading the DomU's granted transmit page and writing the echo into
a granted receive page through the IOMMU), and come back; the DomU prints
what the native NIC's driver prints, and every bad grant either side
presents ends in an SBI error or an error response."""

import json
import os
import socket
import struct
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "machine"))
from nvme_image import IMAGE, SERIAL  # noqa: E402
from pyvmm.bench import io_suite  # noqa: E402
from pyvmm.hv import interdomain  # noqa: E402
from pyvmm.hv.host import Host, HvError  # noqa: E402
from pyvmm.hv.interdomain import DOMAIN_EID  # noqa: E402
from pyvmm.hv.service_vm import ServiceVms  # noqa: E402
from pyvmm.io.net.echo import ECHO_MAC, EchoNetdev  # noqa: E402
from pyvmm.io.pci.nic import NicController  # noqa: E402
from pyvmm.io.pci.nvme import NvmeController  # noqa: E402
from pyvmm.machine.memory import DmaError  # noqa: E402
from pyvmm.machine.sbi_defs import (SBI_ERR_DENIED, SBI_ERR_INVALID_ADDRESS,  # noqa: E402
                                    SBI_ERR_INVALID_PARAM, SBI_SUCCESS)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SPLIT = os.path.join(ROOT, "guests", "split")
DOM0_NET, DOMU_NET, DOMU_NET_REFS, DOM0, DOMU = (os.path.join(SPLIT, name) for name in (
    "dom0_net.S", "domu_net.S", "domu_net_refs.S", "dom0.S", "domu.S"))
NET_NIC = os.path.join(ROOT, "guests", "bench", "net_nic.S")
BUDGET = 300_000_000
FRAMES = 24                       # a multiple of the bulk batch
RX_PAGES = 8                      # netfront.inc's NETFRONT_RX_BUFS
TX_PAGES = 2                      # NET_BATCH (4) slots of 2 KiB
WORKLOADS = {w.name: w for w in io_suite.NET_WORKLOADS}


def call(vm, fid, *args):
    """The hypercall as the VM's kernel makes it (a0..a5 -> (error, value))."""
    args = (list(args) + [0] * 6)[:6]
    return vm.hypercalls[(DOMAIN_EID, fid)](vm.vcpus[0], args)


def last_line(output):
    return output.decode().strip().splitlines()[-1]


def net_host():
    host = Host(ram_size=256 << 20)
    split = ServiceVms(host)
    nic = NicController(EchoNetdev("n0"))
    dom0 = split.create_service_vm(DOM0_NET, nic, service="nic", name="dom0")
    return host, split, nic, dom0


def native_line(tmp_path, workload):
    """What net_nic.S prints on the bare board with the NIC on it."""
    guest = io_suite.net_guest_source(str(tmp_path), "nic", WORKLOADS[workload], FRAMES)
    target = io_suite.setup_net_native("nic", guest)
    result = target.target.run(BUDGET)
    assert result.how == "sbi-shutdown" and result.status == 0
    line = last_line(target.target.uart_output)
    target.close()
    return line


def run_split(tmp_path, workload, harts=1):
    guest = io_suite.net_guest_source(str(tmp_path), "ring", WORKLOADS[workload], FRAMES)
    host = Host(ram_size=256 << 20, harts=harts, scheduler="credit" if harts > 1 else None)
    split = ServiceVms(host)
    nic = NicController(EchoNetdev("n0"))
    dom0 = split.create_service_vm(DOM0_NET, nic, service="nic", name="dom0")
    domu = split.create_frontend_vm(guest, backend=dom0, name="domu")
    results = host.run(BUDGET)
    assert results[dom0].how == "finisher-pass", dom0.console_output
    assert (results[domu].how, results[domu].status) == ("sbi-shutdown", 0), domu.console_output
    nic.close()
    return dom0, domu, split


@pytest.mark.parametrize("workload", ["rr", "bulk"])
def test_domu_frames_through_dom0_match_the_native_nic(tmp_path, workload):
    dom0, domu, split = run_split(tmp_path, workload)
    assert last_line(domu.console_output) == native_line(tmp_path, workload)
    assert dom0.console_output.decode().splitlines() == [
        "dom0: nic ready", "dom0: frontend connected",
        f"dom0: sent {FRAMES:#06x} frames, received {FRAMES:#06x}, closed"]
    back, front = split.stats(dom0), split.stats(domu)
    # Every frame: its transmit page mapped and unmapped, and a receive page;
    # the ring once, and the receive pages still posted at the close.
    assert back["maps"] == back["unmaps"] == 1 + FRAMES + RX_PAGES + FRAMES
    assert back["live_mappings"] == 0 and back["refused"] == 0
    assert back["copies"] == front["copies"] == 0          # the NIC reads and writes in place
    assert front["grants"] == front["live_grants"] == 1 + TX_PAGES + RX_PAGES
    device = back["device"]
    assert device["nic_tx_frames"] == device["nic_rx_frames"] == device["netdev_echoed"] == FRAMES
    assert device["dma_refused_by_iommu"] == 0 and device["nic_dma_errors"] == 0
    # A notification per doorbell the driver rings (a transmit and a receive
    # per frame, or per batch in bulk), the first receive kick and the close;
    # Dom0's: one per pass that answered, the ready and the close.
    kicks = FRAMES if workload == "rr" else FRAMES // io_suite.NET_BATCH
    assert front["notifications_sent"] == 2 * kicks + 2
    assert back["notifications_sent"] == kicks + 2
    assert front["notifications_dropped"] == back["notifications_dropped"] == 0


def test_two_runs_on_two_harts_are_the_same(tmp_path):
    runs = []
    for _ in range(2):
        dom0, domu, split = run_split(tmp_path, "bulk", harts=2)
        runs.append((domu.console_output, dom0.console_output, split.stats(dom0), split.stats(domu),
                     dom0.stats()["exits"], domu.stats()["exits"]))
    assert runs[0] == runs[1]
    assert runs[0][2]["maps"] == 1 + 2 * FRAMES + RX_PAGES


def test_bad_grants_and_requests_give_error_responses_and_touch_nothing():
    host, split, nic, dom0 = net_host()
    other = host.create_vm(ram_size=16 << 20, name="other")
    split.join(other)
    page = other.ram_base + 0x10_0000
    other.write(page, b"other's page" * 16)
    refs = [call(other, interdomain.GRANT_ACCESS, dom0.vmid, page, 0) for _ in range(7)]
    assert refs[-1] == (SBI_SUCCESS, 7)         # the DomU's foreign reference is other's number 7
    domu = split.create_frontend_vm(DOMU_NET_REFS, backend=dom0, name="domu")
    results = host.run_vms([dom0, domu], BUDGET)        # `other` runs no kernel
    assert results[domu].how == results[dom0].how == "finisher-pass", domu.console_output
    assert domu.console_output.decode().splitlines() == [
        "refs: rx never granted: error 0xfffffffd",
        "refs: good frame: status 0",
        "refs: rx read-only grant: error 0x00000003",      # DD | ERR_DMA: the IOMMU refused
        "refs: tx never granted: error 0xfffffffd",
        "refs: tx revoked: error 0xfffffffd",
        "refs: tx foreign: error 0xfffffffd",
        "refs: tx beyond the page: error 0xfffffffd",
        "refs: tx unknown op: error 0xfffffffd",
        "refs: tx runt: error 0x00000005",                 # DD | ERR_LEN
        "refs: echo received: 0x003c bytes",
        "done"]
    assert other.read(page, 192) == b"other's page" * 16
    back = split.stats(dom0)
    assert back["refused"] == 4                 # rx never granted, tx never granted, revoked, foreign
    assert back["maps"] == back["unmaps"] == 6 and back["live_mappings"] == 0
    device = back["device"]
    assert device["dma_refused_by_iommu"] == 1 and device["nic_tx_len_errors"] == 1
    assert device["nic_tx_frames"] == 2 and device["nic_rx_frames"] == 1
    faults = split.passthrough.iommu.faults()
    assert [fault[0] for fault in faults] == [23]         # a write guest-page fault ...
    assert faults[0][2] == 0x1_0002_0000                  # ... at the mapped read-only page
    nic.close()


def test_dom0s_own_bad_grants_end_in_sbi_errors_and_the_nic_reaches_only_what_is_mapped():
    host, split, nic, dom0 = net_host()
    a = host.create_vm(ram_size=16 << 20, name="a")
    b = host.create_vm(ram_size=16 << 20, name="b")
    split.join(a)
    split.join(b)
    page, to_b = a.ram_base + 0x4000, a.ram_base + 0x5000
    a.write(page, b"a's frame" * 8)
    a.write(to_b, b"b's only" * 8)
    error, readonly = call(a, interdomain.GRANT_ACCESS, dom0.vmid, page, 1)
    assert error == SBI_SUCCESS
    error, for_b = call(a, interdomain.GRANT_ACCESS, b.vmid, to_b, 0)
    assert error == SBI_SUCCESS
    window = 0x1_0001_0000
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, for_b, window) == (SBI_ERR_DENIED, 0)
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, 999, window) == (SBI_ERR_INVALID_PARAM, 0)
    assert call(dom0, interdomain.GRANT_MAP, b.vmid, readonly, window) == (SBI_ERR_INVALID_PARAM, 0)
    for gpa in (dom0.ram_base + 0x1000, 0x4000_0000, window + 8, 1 << 41, (1 << 64) - 4096):
        assert call(dom0, interdomain.GRANT_MAP, a.vmid, readonly, gpa) == (SBI_ERR_INVALID_ADDRESS, 0)
    assert call(dom0, interdomain.GRANT_UNMAP, window) == (SBI_ERR_INVALID_ADDRESS, 0)
    assert call(dom0, interdomain.GRANT_MAP, a.vmid, readonly, window) == (SBI_SUCCESS, 0)
    assert call(a, interdomain.GRANT_REVOKE, readonly) == (SBI_ERR_DENIED, 0)
    nic.config_write(0x04, 2, 0x6)               # bus mastering, as Dom0's driver sets it
    assert nic.memory.read(window, 9) == b"a's frame"     # the NIC reads the frame in place
    with pytest.raises(DmaError):                 # but may not write a read-only grant
        nic.memory.write(window, b"NIC")
    with pytest.raises(DmaError):                 # nor reach b's grant, mapped nowhere for Dom0
        nic.memory.read(window + 0x1000, 8)
    assert call(dom0, interdomain.GRANT_UNMAP, window) == (SBI_SUCCESS, 0)
    with pytest.raises(DmaError):                 # no stale IOTLB entry after the unmap
        nic.memory.read(window, 9)
    assert a.read(page, 72) == b"a's frame" * 8 and a.read(to_b, 64) == b"b's only" * 8
    assert call(a, interdomain.GRANT_REVOKE, readonly) == (SBI_SUCCESS, 0)
    assert split.stats(dom0)["refused"] == 9 and split.stats(dom0)["live_mappings"] == 0
    nic.close()


def test_a_frontend_that_stops_without_closing_leaves_nothing_mapped(tmp_path):
    guest = tmp_path / "no_close.S"
    bench = os.path.abspath(os.path.join(ROOT, "guests", "bench"))
    guest.write_text(f'    .equ NET_FRAMES, 4\n    .include "{bench}/net_workload.inc"\n'
                     f'    .include "{bench}/../split/interdomain.inc"\n'
                     f'    .include "{bench}/../split/netif.inc"\n'
                     f'    .include "{bench}/../split/netfront.inc"\n')
    host, split, nic, dom0 = net_host()
    domu = split.create_frontend_vm(str(guest), backend=dom0, name="domu")
    results = host.run(BUDGET)
    assert results[domu].how == "sbi-shutdown"
    assert (results[dom0].how, results[dom0].status) == ("finisher-fail", 13)
    assert dom0.console_output.decode().splitlines()[-1] == \
        "dom0: sent 0x0004 frames, received 0x0004, the frontend stopped without closing"
    assert split.stats(dom0)["live_mappings"] == 0
    nic.close()


def test_bad_service_configurations_are_refused(tmp_path):
    host = Host(ram_size=256 << 20)
    split = ServiceVms(host)
    disk = tmp_path / "disk.img"
    disk.write_bytes(IMAGE)
    controller = NvmeController(str(disk), serial=SERIAL)
    vms = len(host.vms)
    with pytest.raises(HvError, match="service 'nic' serves a pyvmm-nic, not nvme"):
        split.create_service_vm(DOM0_NET, controller, service="nic")
    nic = NicController(EchoNetdev("n0"))
    with pytest.raises(HvError, match="service 'nvme' serves a nvme, not pyvmm-nic"):
        split.create_service_vm(DOM0, nic, service="nvme")
    assert len(host.vms) == vms and not split.passthrough.functions
    controller.close()
    nic.close()


def run_cli(command, *argv):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pyvmm", command, *argv], capture_output=True,
                          text=True, env=env, timeout=600)


HOST_NIC = ["--netdev=echo,id=n0", "--device=pyvmm-nic,netdev=n0"]


def test_cli_runs_a_network_service_vm_beside_a_storage_one(tmp_path):
    native = run_cli("run", "--bios", "builtin", *HOST_NIC, NET_NIC)
    assert native.returncode == 0, native.stderr
    disk = tmp_path / "disk.img"
    disk.write_bytes(IMAGE)
    stats = tmp_path / "stats.json"
    done = run_cli("host", f"--drive=if=none,id=d0,file={disk},format=raw",
                   f"--device=nvme,drive=d0,serial={SERIAL}", *HOST_NIC,
                   f"--vm={DOM0_NET},name=netback,service=nic",
                   f"--vm={DOMU_NET},name=netfront,backend=netback",
                   f"--vm={DOM0},name=blkback,service=nvme",
                   f"--vm={DOMU},name=blkfront,backend=blkback", f"--stats-file={stats}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"[netfront] {native.stdout.strip().splitlines()[-1]}" in lines
    assert "[netback] dom0: sent 0x0040 frames, received 0x0040, closed" in lines
    assert "[blkfront] done" in lines
    assert "[blkback] dom0: served 0x0049 requests, controller shut down" in lines
    report = json.loads(stats.read_text())["vms"]
    assert report["netback"]["interdomain"]["maps"] == 1 + 64 + RX_PAGES + 64
    assert report["netback"]["interdomain"]["device"]["nic_tx_frames"] == 64
    assert report["netfront"]["interdomain"]["grants"] == 1 + TX_PAGES + RX_PAGES
    assert report["blkback"]["interdomain"]["device"]["nvme_io_0x02"] > 0

    for argv, message in (
            ([f"--vm={DOM0_NET},name=dom0,service=nic"],
             "dom0: service=nic: no host pyvmm-nic left (--device pyvmm-nic,...)"),
            (HOST_NIC + [f"--vm={DOM0_NET},name=a,service=nic", f"--vm={DOM0_NET},name=b,service=nic"],
             "b: service=nic: no host pyvmm-nic left (--device pyvmm-nic,...); assigned to a"),
            (HOST_NIC + [f"--vm={DOMU_NET},name=u,backend=nobody"],
             "1 host --device pyvmm-nic for 0 service VM(s): each controller needs a --vm IMAGE,service=nic"),
            (["--device=pyvmm-nic", f"--vm={DOM0_NET},name=dom0,service=nic"], "netdev"),
            (HOST_NIC + [f"--vm={os.path.join(ROOT, 'guests', 'hello.S')}"],
             "--drive/--device give the host devices for a service VM")):
        refused = run_cli("host", *argv)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1 and message in refused.stderr, refused.stderr


class SocketEcho:
    """A TCP peer speaking QEMU's socket-netdev framing that answers each
    frame as the echo netdev does (to its sender, from ECHO_MAC), from a
    thread: its replies come whenever the host's scheduler gets to them."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(60)
        self.port = self.server.getsockname()[1]
        self.frames = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.server.accept()
        except OSError:          # closed by the test, or nobody came
            return
        buf = b""
        with conn:
            while data := conn.recv(65536):
                buf += data
                while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                    n = struct.unpack(">I", buf[:4])[0]
                    frame, buf = buf[4:4 + n], buf[4 + n:]
                    self.frames += 1
                    reply = frame[6:12] + ECHO_MAC + frame[12:]
                    conn.sendall(struct.pack(">I", len(reply)) + reply)

    def close(self):
        self.server.close()
        self.thread.join(5)


def test_frames_from_a_socket_peer_reach_the_frontend_on_dom0s_poll_timer(tmp_path):
    # The peer answers after the transmit's doorbell has returned: Dom0 finds
    # each reply on a later pass, when its poll timer ends its wait.
    guest = io_suite.net_guest_source(str(tmp_path), "ring", WORKLOADS["rr"], FRAMES)
    peer = SocketEcho()
    try:
        done = run_cli("host", f"--netdev=socket,id=n0,connect=127.0.0.1:{peer.port}",
                       "--device=pyvmm-nic,netdev=n0", f"--vm={DOM0_NET},name=dom0,service=nic",
                       f"--vm={guest},name=domu,backend=dom0")
    finally:
        peer.close()
    assert done.returncode == 0, done.stderr
    assert f"[domu] {native_line(tmp_path, 'rr')}" in done.stdout.splitlines()
    assert peer.frames == FRAMES


def test_any_ring_contents_get_answers_and_reach_only_granted_pages():
    # The test is the frontend: it writes random requests into its ring and
    # notifies; Dom0 answers each, and the NIC writes only into pages
    # granted writable.
    import random
    from pyvmm.hv.interdomain import (EVTCHN_ALLOC_UNBOUND, EVTCHN_SEND, FRONTEND_CONNECT,
                                      GRANT_ACCESS, GRANT_REVOKE)
    host, split, nic, dom0 = net_host()
    domu = host.create_vm(ram_size=16 << 20, name="domu")        # no kernel: this test drives it
    split.join(domu, backend=dom0)
    other = host.create_vm(ram_size=16 << 20, name="other")
    split.join(other)
    pattern = bytes(range(256)) * (domu.ram_size // 256)
    domu.write(domu.ram_base, pattern)
    base = domu.ram_base + 0x10_0000
    ring, tx, rx, ro, gone = (base + n * 4096 for n in range(5))
    domu.write(ring, bytes(4096))
    refs = {}
    for name, page, readonly in (("ring", ring, 0), ("tx", tx, 1), ("rx", rx, 0), ("ro", ro, 1),
                                 ("gone", gone, 0)):
        error, refs[name] = call(domu, GRANT_ACCESS, dom0.vmid, page, readonly)
        assert error == SBI_SUCCESS
    assert call(domu, GRANT_REVOKE, refs["gone"]) == (SBI_SUCCESS, 0)
    assert call(other, GRANT_ACCESS, dom0.vmid, other.ram_base, 0)[0] == SBI_SUCCESS
    pool = list(refs.values()) + [0, 1, 999, (1 << 32) - 1]
    # (the ring's own grant as a receive page would let a frame overwrite
    # the indices: an overflow, tried on its own below)
    rx_pool = [ref for ref in pool if ref != refs["ring"]]
    _, port = call(domu, EVTCHN_ALLOC_UNBOUND, dom0.vmid)
    assert call(domu, FRONTEND_CONNECT, refs["ring"], port) == (SBI_SUCCESS, 0)
    host.run_vms([dom0], 2_000_000)
    assert dom0.result.how == "budget" and domu.read(ring + 0x18, 4) == b"\1\0\0\0"

    def u32(offset):
        return int.from_bytes(domu.read(ring + offset, 4), "little")

    rng = random.Random(11)
    tx_prod = rx_prod = 0
    for _ in range(80):
        for _ in range(rng.randint(1, 3)):
            entry = ring + 0x100 + 16 * (tx_prod % 16)
            op = 0 if rng.random() < 0.8 else rng.choice((2, 5, (1 << 32) - 1))
            domu.write(entry, (tx_prod.to_bytes(4, "little") + op.to_bytes(4, "little")
                               + rng.choice(pool).to_bytes(4, "little")
                               + rng.randrange(0, 4200).to_bytes(2, "little")
                               + rng.randrange(0, 2100).to_bytes(2, "little")))
            tx_prod += 1
        while rx_prod - u32(0x0c) < 12 and rng.random() < 0.6:
            entry = ring + 0x300 + 16 * (rx_prod % 16)
            domu.write(entry, rx_prod.to_bytes(4, "little") + rng.choice(rx_pool).to_bytes(4, "little"))
            rx_prod += 1
        domu.write(ring, tx_prod.to_bytes(4, "little"))
        domu.write(ring + 8, rx_prod.to_bytes(4, "little"))
        dom0.resume()                         # after its budget: a peer one can signal again
        assert call(domu, EVTCHN_SEND, port) == (SBI_SUCCESS, 0)
        host.run_vms([dom0], 400_000)
        assert dom0.result.how == "budget" and dom0.error is None, dom0.console_output
        assert u32(0x04) == tx_prod                      # every transmit request answered
    back = split.stats(dom0)
    device = back["device"]
    assert back["refused"] > 50 and device["nic_tx_frames"] > 20 and device["nic_rx_frames"] > 5
    # A producer index beyond the ring: Dom0 serves this frontend no more.
    domu.write(ring, (tx_prod + 100).to_bytes(4, "little"))
    dom0.resume()
    assert call(domu, EVTCHN_SEND, port) == (SBI_SUCCESS, 0)
    host.run_vms([dom0], 400_000)
    assert (dom0.result.how, dom0.result.status) == ("finisher-fail", 14)
    assert dom0.console_output.decode().endswith("the frontend's ring overflowed\n")
    assert split.stats(dom0)["live_mappings"] == 0
    # Only the pages granted writable changed (the ring, and rx: the NIC's
    # frames); the read-only ones, the revoked one and the rest are as they were.
    after = domu.read(domu.ram_base, domu.ram_size)
    changed = {domu.ram_base + i for i in range(0, domu.ram_size, 4096)
               if after[i:i + 4096] != pattern[i:i + 4096]}
    assert changed <= {ring, rx} and rx in changed
    nic.close()

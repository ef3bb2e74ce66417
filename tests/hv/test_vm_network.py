"""Virtio-net between guests of one process: two VMs of one Host on a hub
(the in-process switch `--netdev hub` selects), two boards (Machine objects)
on a hub taking turns, and the same S-mode guest on two QEMU processes over a
socket netdev for reference. The guest (guests/devices/net_smode.S) pings
from the MAC ending in an odd byte and pongs from the other, and prints only
what it received, so every pairing prints the same lines."""

import os
import shutil
import socket
import subprocess
import time

import pytest

from pyvmm.hv import Host
from pyvmm.io.net import hub
from pyvmm.machine.devices import DeviceConfig
from pyvmm.machine.machine import Machine
from support import oracles

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST = os.path.join(REPO, "guests", "devices", "net_smode.S")
PING_MAC = "52:54:00:00:00:01"      # odd last byte: pings
PONG_MAC = "52:54:00:00:00:02"      # even: answers
ROUNDS = 4
FRAME_LEN = 60                      # the guest's Ethernet frames, without the virtio-net header
BUDGET = 200_000_000                # far above what a run needs (a few million instructions)
TURN = 200_000                      # instructions a board runs before the other's turn
# The pinger sends again after 2,000,000 ticks of time; a board counts 10
# instructions a tick.
RETRY_INSNS = 2_000_000 * 10


def expected(ping):
    """What net_smode.S prints as the pinger (ping=True) or the ponger."""
    mac, peer = (PING_MAC, PONG_MAC) if ping else (PONG_MAC, PING_MAC)
    lines = ["virtio-net: slot 7", "features: VERSION_1 1 MAC 1", "mac " + mac,
             "role: " + ("ping" if ping else "pong")]
    for k in range(ROUNDS):
        if ping:
            lines.append(f"rx pong {k} from {peer} to {mac} len 72")
        else:
            lines.append(f"rx ping {k} from {peer} to ff:ff:ff:ff:ff:ff len 72")
    lines.append("virtio-net: done")
    return ("\n".join(lines) + "\n").encode()


def net_config(hub_id, mac):
    return DeviceConfig(netdevs=[f"hub,id={hub_id}"],
                        devices=[f"virtio-net-device,netdev={hub_id},mac={mac}"])


def nic_stats(stats):
    """The virtio-net entry of a VM's or board's device statistics."""
    (nic,) = [v for k, v in stats["devices"].items() if k.startswith("VirtioNet")]
    return nic


# ------------------------------------------------------------------ two VMs of one Host

def run_two_vms(hub_id):
    """Both guests as VMs (hw technique, nested paging) of one Host, run by
    its round-robin scheduler; their results, outputs, instret and the hub's
    counters, with the VMs closed (their hub ports too) afterwards."""
    host = Host(ram_size=64 << 20)
    vms = [host.create_vm(ram_size=16 << 20, technique="hw", paging="nested",
                          devices=net_config(hub_id, mac)) for mac in (PING_MAC, PONG_MAC)]
    try:
        for vm in vms:
            vm.load(GUEST)
        results = host.run(max_insns=BUDGET)
        switch = hub.find_hub(hub_id).stats()
        return {"results": [results[vm] for vm in vms],
                "outputs": [vm.console_output for vm in vms],
                "instret": [vm.stats()["instret"] for vm in vms],
                "nics": [nic_stats(vm.stats()) for vm in vms],
                "sbi": [vm.sbi_calls for vm in vms],
                "hub": switch}
    finally:
        for vm in vms:
            vm.close()


def test_two_vms_of_one_host_ping_pong_through_a_hub():
    run = run_two_vms("lan-vms")
    assert run["outputs"] == [expected(True), expected(False)]
    for result in run["results"]:
        assert (result.how, result.status) == ("sbi-shutdown", 0)
    for sbi in run["sbi"]:
        assert sbi.get("srst.0") == 1, sbi
    # The pings are broadcast (flooded), the pongs go to the learned station.
    assert run["hub"] == {"ports": 2, "macs": 2, "forwarded": ROUNDS, "flooded": ROUNDS,
                          "filtered": 0}
    for nic in run["nics"]:
        assert (nic["tx_frames"], nic["rx_frames"]) == (ROUNDS, ROUNDS)
        assert nic["tx_bytes"] == ROUNDS * FRAME_LEN
    assert hub.find_hub("lan-vms") is None      # the last port closed: the hub is gone


def test_two_vms_are_deterministic():
    first, second = run_two_vms("lan-det"), run_two_vms("lan-det")
    assert first["outputs"] == second["outputs"] == [expected(True), expected(False)]
    assert first["instret"] == second["instret"]
    assert all(n > 0 for n in first["instret"])


# ------------------------------------------------------------------ two boards, by turns

def make_board(hub_id, mac):
    board = Machine(bios="builtin", ram_size=64 << 20, devices=net_config(hub_id, mac))
    board.load(GUEST)
    return board


def running(board):
    return board.result is None or board.result.how == "budget"


def take_turns(boards, limit=BUDGET):
    """Run each board for TURN instructions in turn until all have stopped
    (no scheduler spans boards; a budget stop resumes on the next run)."""
    spent = 0
    while any(running(b) for b in boards):
        assert spent < limit, [b.uart_output for b in boards]
        for board in boards:
            if running(board):
                board.run(max_insns=TURN)
                spent += TURN


def test_two_boards_in_one_process_take_turns_on_a_hub():
    boards = [make_board("lan-boards", mac) for mac in (PING_MAC, PONG_MAC)]
    try:
        take_turns(boards)
        assert [b.uart_output for b in boards] == [expected(True), expected(False)]
        assert [(b.result.how, b.result.status) for b in boards] == [("sbi-shutdown", 0)] * 2
        assert hub.find_hub("lan-boards").stats()["forwarded"] == ROUNDS
    finally:
        for board in boards:
            board.close()
    assert hub.find_hub("lan-boards") is None


def test_boards_print_what_the_vms_print():
    boards = [make_board("lan-same", mac) for mac in (PING_MAC, PONG_MAC)]
    try:
        take_turns(boards)
        native = [b.uart_output for b in boards]
    finally:
        for board in boards:
            board.close()
    assert native == run_two_vms("lan-same")["outputs"]


def test_pinger_sends_again_on_the_time_csr_until_a_peer_answers():
    """The pinger alone on the hub: its pings reach nobody. Once the ponger
    is plugged in, a ping sent again after the retry interval (read with
    rdtime) gets through, and both print the usual exchange."""
    pinger = make_board("lan-late", PING_MAC)
    ponger = None
    try:
        pinger.run(max_insns=RETRY_INSNS + RETRY_INSNS // 2)
        assert pinger.result.how == "budget"
        alone = nic_stats(pinger.stats())["tx_frames"]
        assert alone == 2               # the first ping and one sent again, both lost
        assert hub.find_hub("lan-late").stats()["flooded"] == 2
        ponger = make_board("lan-late", PONG_MAC)
        take_turns([pinger, ponger])
        assert [pinger.uart_output, ponger.uart_output] == [expected(True), expected(False)]
        assert [(b.result.how, b.result.status) for b in (pinger, ponger)] == \
            [("sbi-shutdown", 0)] * 2
        assert nic_stats(ponger.stats())["rx_frames"] == ROUNDS
    finally:
        for board in (pinger, ponger):
            if board is not None:
                board.close()


# ------------------------------------------------------------------ QEMU for reference

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether a socket listens on 127.0.0.1:port, from /proc/net/tcp
    (connecting to find out would take the listener's one connection)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        return any(fields[1] == want and fields[3] == "0A"
                   for fields in (line.split() for line in list(f)[1:]))


def guest_lines(stdout):
    """The guest's part of a QEMU console: OpenSBI's banner precedes it, and
    OpenSBI's console writes "\\r\\n" where the guest's UART bytes are "\\n"."""
    text = stdout.replace(b"\r\n", b"\n")
    start = text.find(b"virtio-net: slot")
    return text[start:] if start >= 0 else text


def test_same_lines_on_two_qemu_processes(tmp_path):
    missing = oracles.first_missing(oracles.QEMU, oracles.GNU_AS, oracles.GNU_LD)
    if missing or not os.path.exists("/proc/net/tcp"):
        pytest.skip(f"{missing or '/proc/net/tcp'} is needed for the QEMU reference")
    # -n: no ELF header page before .text, so OpenSBI enters at _start.
    elf = oracles.build_with_gnu(GUEST, tmp_path, ld_args=["-n", "-Ttext=0x80200000"])
    port = free_port()

    def qemu(mac, where):
        return subprocess.Popen(
            [oracles.QEMU, "-machine", "virt", "-nographic", "-m", "128M",
             "-global", "virtio-mmio.force-legacy=false",
             "-netdev", f"socket,id=n0,{where}=127.0.0.1:{port}",
             "-device", f"virtio-net-device,netdev=n0,mac={mac}", "-kernel", elf],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    procs = [qemu(PONG_MAC, "listen")]
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            assert procs[0].poll() is None, procs[0].communicate()
            assert time.monotonic() < deadline, f"QEMU does not listen on {port}"
            time.sleep(0.02)
        procs.append(qemu(PING_MAC, "connect"))
        outs = [proc.communicate(timeout=30) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    pong, ping = outs
    assert guest_lines(ping[0]) == expected(True), ping
    assert guest_lines(pong[0]) == expected(False), pong
    assert [proc.returncode for proc in procs] == [0, 0]
    assert run_two_vms("lan-qemu")["outputs"] == [guest_lines(ping[0]), guest_lines(pong[0])]

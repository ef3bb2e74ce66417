"""--netdev echo: the in-process peer that answers every frame with it back,
addresses swapped, before the transmit returns; what the network benchmark
and tests talk to."""

import os
import subprocess
import sys

import pytest

from pyvmm.io.net import EchoNetdev, build_netdev
from pyvmm.io.net.echo import ECHO_MAC
from pyvmm.io.options import OptionError

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MAC = bytes.fromhex("525400123456")


def test_echo_answers_inside_send_with_the_addresses_swapped():
    peer = build_netdev("echo,id=e0")
    assert isinstance(peer, EchoNetdev) and peer.id == "e0"
    frame = b"\xff" * 6 + MAC + b"\x88\xb5" + bytes(range(50))
    assert peer.send(frame) and peer.pending() == 1
    assert peer.pop() == MAC + ECHO_MAC + frame[12:]
    assert peer.stats()["echoed"] == 1 and peer.stats()["tx_bytes"] == len(frame)


def test_a_runt_is_dropped_and_not_echoed():
    peer = EchoNetdev()
    assert not peer.send(b"short")
    assert peer.pending() == 0 and peer.stats()["tx_dropped"] == 1


def test_a_full_receive_queue_loses_the_reply_not_the_send():
    peer = EchoNetdev()
    frame = b"\xff" * 6 + MAC + b"\x88\xb5"
    for _ in range(peer.rx.limit + 3):
        assert peer.send(frame)
    assert peer.pending() == peer.rx.limit and peer.rx.dropped == 3
    assert peer.echoed == peer.rx.limit


@pytest.mark.parametrize("text", ["echo", "echo,id=", "echo,id=e,listen=127.0.0.1:1"])
def test_bad_echo_options_are_one_line_option_errors(text):
    with pytest.raises(OptionError) as error:
        build_netdev(text)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("device, guest", [
    ("pyvmm-nic,netdev=n0", "net_nic.S"), ("virtio-net-device,netdev=n0", "net_virtio.S")])
def test_the_bench_guests_run_against_it_from_the_cli(device, guest):
    pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")
    out = subprocess.run(
        [sys.executable, "-m", "pyvmm", "run", "--bios", "builtin", "--netdev", "echo,id=n0",
         "--device", device, os.path.join(ROOT, "guests", "bench", guest)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.path.abspath(ROOT)})
    assert out.returncode == 0, out.stderr
    # the workload's definition for 64 frames of request/response
    # (tests/bench/test_io_net_suite.py computes it)
    assert out.stdout.splitlines()[-1] == "net_bench: rr 64 frames, checksum 0x88bd68f491e81a2b"

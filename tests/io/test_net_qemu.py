"""The socket netdev against QEMU's own: a QEMU 7.2 whose hub joins two of
its socket netdevs relays a frame between two pyvmm socket netdevs, so the
framing on the wire is QEMU's in both directions."""

import shutil
import subprocess
import time

import pytest

from pyvmm.io.net import SocketNetdev

QEMU = shutil.which("qemu-system-riscv64")
DEADLINE = 10.0


def until(condition, *netdevs):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        for netdev in netdevs:
            netdev.poll()
        if condition():
            return True
        time.sleep(0.005)
    return False


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 is not installed")
def test_frames_relayed_by_a_qemu_hub_in_both_directions():
    a = SocketNetdev("a", listen="127.0.0.1:0")
    b = SocketNetdev("b", listen="127.0.0.1:0")
    # QEMU passes frames only while its VM runs (no -S); with no firmware the
    # hart just traps in a loop, which is all this relay needs.
    qemu = subprocess.Popen(
        [QEMU, "-machine", "virt", "-bios", "none", "-nographic", "-nodefaults",
         "-netdev", f"socket,id=sa,connect=127.0.0.1:{a.address[1]}",
         "-netdev", f"socket,id=sb,connect=127.0.0.1:{b.address[1]}",
         "-netdev", "hubport,id=h1,hubid=0,netdev=sa",
         "-netdev", "hubport,id=h2,hubid=0,netdev=sb"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert until(lambda: a.link_up and b.link_up, a, b)
        there = b"\xff" * 6 + bytes.fromhex("525400000001") + b"\x88\xb5" + b"to b" * 300
        back = bytes.fromhex("525400000001525400000002") + b"\x88\xb5" + b"to a"
        assert a.send(there)
        assert until(lambda: b.pending(), a, b)
        assert b.pop() == there
        assert b.send(back)
        assert until(lambda: a.pending(), a, b)
        assert a.pop() == back
        qemu.kill()
        assert until(lambda: not a.link_up and not b.link_up, a, b)
        assert a.stats()["disconnects"] == b.stats()["disconnects"] == 1
    finally:
        qemu.kill()
        qemu.wait()
        a.close()
        b.close()

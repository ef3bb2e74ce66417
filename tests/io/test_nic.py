"""pyvmm-nic as a driver uses it: descriptor rings with head/tail doorbells
and the DD bit, multiqueue receive steering, error statuses in descriptors,
controller-fatal ring errors, INTx, snapshots, the --device option, and the
bare-metal driver (guests/pci/nic.S) exchanging frames through the CLI with
an echoing peer on 127.0.0.1."""

import os
import socket
import struct
import subprocess
import sys
import threading
import zlib

import pytest
from support.fnv import fnv1a32 as fnv1a
from support.netdevs import PEER_MAC, EchoNetdev, SinkNetdev, echo

from pyvmm.io.options import OptionError, build_devices
from pyvmm.io.pci import nic as nicmod
from pyvmm.io.pci.nic import NicController, rx_queue_for
from pyvmm.machine.memory import GuestMemory

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GUEST = os.path.join(ROOT, "guests", "pci", "nic.S")
RAM_BASE, RAM_SIZE = 0x8000_0000, 1 << 20
GUEST_MAC = bytes.fromhex("525400123456")


class Driver:
    """The registers and rings of one controller, from the host's side."""

    def __init__(self, netdev, queues=2, ring=8):
        self.nic = NicController(netdev, queues=queues)
        self.memory = GuestMemory(bytearray(RAM_SIZE), RAM_BASE, RAM_SIZE)
        self.nic.attach_memory(self.memory)
        self.nic.config_write(0x04, 2, 0x6)          # memory decode, bus master
        self.ring = ring
        self.txtail = [0] * queues
        self.rxtail = [0] * queues
        self.rxhead = [0] * queues
        for q in range(queues):
            self.set_ring(q, False, self.tx_ring(q), ring)
            self.set_ring(q, True, self.rx_ring(q), ring)
        self.write(nicmod.REG_IMS, 0xFFFF_FFFF)
        self.write(nicmod.REG_CTRL, nicmod.CTRL_EN)

    def read(self, offset):
        return self.nic.register_read(offset, 4)

    def write(self, offset, value):
        self.nic.register_write(offset, 4, value)

    def reg(self, q, rx, field):
        return nicmod.QUEUE_REGS + nicmod.QUEUE_STRIDE * q + (nicmod.RX_RING if rx else 0) + field

    def set_ring(self, q, rx, base, size):
        self.write(self.reg(q, rx, nicmod.RING_BASE_LO), base & 0xFFFF_FFFF)
        self.write(self.reg(q, rx, nicmod.RING_BASE_HI), base >> 32)
        self.write(self.reg(q, rx, nicmod.RING_LEN), size)

    def tx_ring(self, q):
        return RAM_BASE + 0x1000 * q

    def rx_ring(self, q):
        return RAM_BASE + 0x8000 + 0x1000 * q

    def rx_buffer(self, q, slot):
        return RAM_BASE + 0x20000 + (q * self.ring + slot) * 2048

    def descriptor(self, base, slot):
        raw = self.memory.read(base + 16 * slot, 16)
        return int.from_bytes(raw[0:8], "little"), int.from_bytes(raw[8:10], "little"), raw[13]

    def send(self, q, frame, address=None, length=None):
        """One frame on ring q; returns the descriptor's status."""
        slot = self.txtail[q]
        if address is None:
            address = RAM_BASE + 0x40000 + 0x1000 * slot
            self.memory.write(address, frame)
        self.memory.write(self.tx_ring(q) + 16 * slot, address.to_bytes(8, "little")
                          + (len(frame) if length is None else length).to_bytes(2, "little") + bytes(6))
        self.txtail[q] = (slot + 1) % self.ring
        self.write(self.reg(q, False, nicmod.RING_TAIL), self.txtail[q])
        return self.descriptor(self.tx_ring(q), slot)[2]

    def post(self, q, count=1, capacity=2048):
        for _ in range(count):
            slot = self.rxtail[q]
            self.memory.write(self.rx_ring(q) + 16 * slot, self.rx_buffer(q, slot).to_bytes(8, "little")
                              + capacity.to_bytes(2, "little") + bytes(6))
            self.rxtail[q] = (slot + 1) % self.ring
        self.write(self.reg(q, True, nicmod.RING_TAIL), self.rxtail[q])

    def received(self, q):
        """Frames (status, bytes) the controller completed on ring q since the last call."""
        out = []
        while True:
            slot = self.rxhead[q]
            address, length, status = self.descriptor(self.rx_ring(q), slot)
            if not status & nicmod.DD:
                return out
            out.append((status, self.memory.read(address, length) if status == nicmod.DD else length))
            self.memory.write(self.rx_ring(q) + 16 * slot + 13, b"\0")
            self.rxhead[q] = (slot + 1) % self.ring


def udp_frame(sport, payload=b"x" * 30):
    ip = bytes([0x45, 0, 0, 28 + len(payload), 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 10, 0, 2, 15, 10, 0, 2, 2])
    udp = sport.to_bytes(2, "big") + (7).to_bytes(2, "big") + (8 + len(payload)).to_bytes(2, "big") + bytes(2)
    return PEER_MAC + GUEST_MAC + b"\x08\x00" + ip + udp + payload


def test_rings_complete_in_order_with_dd_and_counters():
    netdev = EchoNetdev()
    d = Driver(netdev)
    d.post(0, 7)
    d.post(1, 7)
    frames = [udp_frame(1001, bytes([i]) * (20 + i)) for i in range(12)]
    for frame in frames:
        assert d.send(0, frame) == nicmod.DD
        got = d.received(0)
        assert got == [(nicmod.DD, echo(frame))]
        d.post(0)
    assert netdev.sent == frames
    assert d.read(d.reg(0, False, nicmod.RING_HEAD)) == 12 % 8
    stats = d.nic.stats()
    assert stats["nic_tx_frames"] == stats["nic_rx_frames"] == 12
    assert stats["nic_q0_tx_bytes"] == sum(map(len, frames)) and stats["nic_q1_rx_frames"] == 0
    assert d.read(nicmod.REG_ICR) == 1 | 1 << 8
    assert d.nic.irq_level
    d.write(nicmod.REG_ICR, 0xFFFF_FFFF)
    assert d.read(nicmod.REG_ICR) == 0 and not d.nic.irq_level


def test_steering_spreads_flows_over_the_active_rings():
    d = Driver(SinkNetdev(), queues=4)
    assert d.read(nicmod.REG_MQ_ACTIVE) == 1
    d.write(nicmod.REG_MQ_ACTIVE, 4)
    for q in range(4):
        d.post(q, 7)
    sent = [udp_frame(port) for port in range(1000, 1016)]
    arp = b"\xff" * 6 + PEER_MAC + b"\x08\x06" + bytes(28)
    for frame in sent + [arp]:
        d.nic.netdev.deliver(echo(frame) if frame is not arp else frame)
    d.nic.poll()
    rings = [[f for _, f in d.received(q)] for q in range(4)]
    for q in range(4):
        assert rings[q] == [f for f in [echo(s) for s in sent] + [arp] if rx_queue_for(f, 4) == q]
    assert all(rings), "sixteen flows use every ring"
    # The documented rule: CRC-32 of the flow (addresses, protocol, ports).
    key = bytes([10, 0, 2, 15, 10, 0, 2, 2, 0x11]) + (1000).to_bytes(2, "big") + (7).to_bytes(2, "big")
    assert rx_queue_for(echo(sent[0]), 4) == zlib.crc32(key) % 4
    # MQ_ACTIVE = 1 puts everything on ring 0; 0 or more than the pairs is refused.
    for q in range(4):
        d.post(q, len(rings[q]))
    d.write(nicmod.REG_MQ_ACTIVE, 1)
    for frame in sent[:4]:
        d.nic.netdev.deliver(frame)
    d.nic.poll()
    assert len(d.received(0)) == 4
    d.write(nicmod.REG_MQ_ACTIVE, 5)
    d.write(nicmod.REG_MQ_ACTIVE, 0)
    assert d.read(nicmod.REG_MQ_ACTIVE) == 1 and d.nic.stats()["nic_ring_errors"] == 2


def test_a_ring_that_is_off_drops_its_frames_without_holding_up_the_others():
    d = Driver(SinkNetdev(), queues=2)
    d.write(nicmod.REG_MQ_ACTIVE, 2)
    d.set_ring(1, True, 0, 0)                        # receive ring 1 off
    d.post(0, 7)
    flows = [udp_frame(port) for port in (1000, 1001, 1000, 1001)]
    for frame in flows:
        d.nic.netdev.deliver(frame)
    d.nic.poll()
    assert [f for _, f in d.received(0)] == [f for f in flows if rx_queue_for(f, 2) == 0]
    assert d.nic.stats()["nic_rx_ring_off"] == 2 and d.nic.netdev.pending() == 0


def test_frames_wait_for_buffers_and_too_big_is_an_error_status():
    d = Driver(SinkNetdev(), queues=1)
    d.nic.netdev.deliver(udp_frame(1, b"a" * 100))
    d.nic.netdev.deliver(udp_frame(1, b"b" * 10))
    d.nic.poll()
    assert d.received(0) == [] and d.nic.netdev.pending() == 2
    d.post(0, 1, capacity=64)
    assert d.received(0) == [(nicmod.DD | nicmod.ERR_LEN, 142)]
    d.post(0, 1, capacity=64)
    assert d.received(0) == [(nicmod.DD, udp_frame(1, b"b" * 10))]
    assert d.nic.stats()["nic_rx_too_big"] == 1
    d.nic.netdev.deliver(GUEST_MAC + PEER_MAC + b"\x88\xb5" + bytes(66000))   # past the 16-bit length
    d.post(0, 1, capacity=0xFFFF)
    assert d.received(0) == [(nicmod.DD | nicmod.ERR_LEN, 0xFFFF)]


def test_bad_descriptors_end_with_error_statuses():
    d = Driver(SinkNetdev(), queues=1)
    frame = udp_frame(5)
    assert d.send(0, frame, length=5) == nicmod.DD | nicmod.ERR_LEN
    assert d.send(0, frame, length=0) == nicmod.DD | nicmod.ERR_LEN
    assert d.send(0, frame, address=0x1000) == nicmod.DD | nicmod.ERR_DMA
    assert d.send(0, frame, address=RAM_BASE + RAM_SIZE - 8) == nicmod.DD | nicmod.ERR_DMA
    d.nic.netdev.close()
    assert d.send(0, frame) == nicmod.DD | nicmod.ERR_LINK
    stats = d.nic.stats()
    assert (stats["nic_tx_len_errors"], stats["nic_dma_errors"], stats["nic_tx_dropped"],
            stats["nic_tx_frames"]) == (2, 2, 1, 0)
    # A tail past the ring's end is dropped and counted; nothing moves.
    d.write(d.reg(0, False, nicmod.RING_TAIL), 8)
    assert d.nic.stats()["nic_doorbell_errors"] == 1
    assert d.read(d.reg(0, False, nicmod.RING_HEAD)) == 5


def test_unreachable_ring_is_controller_fatal_until_reset():
    d = Driver(SinkNetdev(), queues=1)
    d.set_ring(0, False, 0x1000, 8)                 # not RAM
    d.write(d.reg(0, False, nicmod.RING_TAIL), 1)
    assert d.read(nicmod.REG_STATUS) & nicmod.STATUS_FATAL
    assert d.read(nicmod.REG_ICR) & nicmod.ICR_FATAL and d.nic.irq_level
    assert d.nic.stats()["nic_fatal_errors"] == 1
    d.write(nicmod.REG_CTRL, nicmod.CTRL_RST)
    assert d.read(nicmod.REG_STATUS) == nicmod.STATUS_LINK_UP and not d.nic.irq_level
    assert d.read(d.reg(0, False, nicmod.RING_LEN)) == 0
    # Bus mastering off: the controller cannot fetch its ring either.
    d = Driver(SinkNetdev(), queues=1)
    d.nic.config_write(0x04, 2, 0x2)
    assert d.send(0, udp_frame(1)) == 0
    assert d.read(nicmod.REG_STATUS) & nicmod.STATUS_FATAL


def test_misaligned_or_oversized_ring_is_refused():
    d = Driver(SinkNetdev(), queues=1)
    d.set_ring(0, False, RAM_BASE + 8, 8)
    d.set_ring(0, True, RAM_BASE + 0x8000, nicmod.MAX_RING + 1)
    d.write(d.reg(0, False, nicmod.RING_TAIL), 1)
    d.write(d.reg(0, True, nicmod.RING_TAIL), 1)
    stats = d.nic.stats()
    assert stats["nic_ring_errors"] == 2 and stats["nic_doorbell_errors"] == 2
    assert not d.read(nicmod.REG_STATUS) & nicmod.STATUS_FATAL


def test_mac_registers_and_link_change_cause():
    d = Driver(SinkNetdev(), queues=1)
    assert d.read(nicmod.REG_MAC_LO).to_bytes(4, "little") + \
        d.read(nicmod.REG_MAC_HI).to_bytes(2, "little") == GUEST_MAC
    d.write(nicmod.REG_MAC_HI, 0x9988)
    assert d.nic.mac == GUEST_MAC[:4] + b"\x88\x99"
    d.write(nicmod.REG_ICR, 0xFFFF_FFFF)
    d.nic.netdev.close()
    d.nic.poll()
    assert d.read(nicmod.REG_ICR) == nicmod.ICR_LSC
    assert not d.read(nicmod.REG_STATUS) & nicmod.STATUS_LINK_UP


def test_state_restore_continues_the_rings():
    d = Driver(EchoNetdev())
    d.post(0, 7)
    d.post(1, 7)
    for i in range(3):
        d.send(0, udp_frame(1001, bytes([i]) * 40))
        d.received(0)
    state = d.nic.state()
    fresh = NicController(EchoNetdev(), queues=2)
    fresh.attach_memory(d.memory)
    fresh.restore(state)
    d.nic = fresh
    assert d.send(0, udp_frame(1001, b"after")) == nicmod.DD
    assert d.received(0) == [(nicmod.DD, echo(udp_frame(1001, b"after")))]
    assert fresh.stats()["nic_tx_frames"] == 4
    with pytest.raises(ValueError, match="queue pairs"):
        NicController(SinkNetdev(), queues=1).restore(state)


def test_device_options():
    built = build_devices([], ["pyvmm-nic,netdev=n0,queues=4,mac=52:54:00:aa:bb:cc"], ["hub,id=n0"])
    (controller, transport, _), = built
    assert transport == "pci-function" and controller.queues == 4
    assert controller.mac == bytes.fromhex("525400aabbcc")
    controller.close()
    (controller, _, _), = build_devices([], ["pyvmm-nic,netdev=n0"], ["hub,id=n0,queues=3"])
    assert controller.queues == 3
    controller.close()
    for device, message in (("pyvmm-nic,netdev=n0,queues=9", "queues='9' is not a number from 1 to 8"),
                            ("pyvmm-nic,netdev=n0,queues=x", "queues='x'"),
                            ("pyvmm-nic", "netdev= is required"),
                            ("pyvmm-nic,netdev=n0,mac=01:00:00:00:00:01", "multicast")):
        with pytest.raises(OptionError, match=message):
            build_devices([], [device], ["hub,id=n0"])


class EchoPeer:
    """A listening TCP peer speaking QEMU's socket-netdev framing that echoes
    every frame, one connection after another; `frames` are the ones it
    received."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(60)
        self.port = self.server.getsockname()[1]
        self.frames = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:          # closed by the test, or nobody came
                return
            self._echo(conn)

    def _echo(self, conn):
        buf = b""
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                    n = struct.unpack(">I", buf[:4])[0]
                    frame, buf = buf[4:4 + n], buf[4 + n:]
                    self.frames.append(frame)
                    reply = echo(frame)
                    conn.sendall(struct.pack(">I", len(reply)) + reply)

    def close(self):
        try:
            self.server.shutdown(socket.SHUT_RDWR)     # wakes the thread's accept()
        except OSError:
            pass        # not connected: Linux still wakes accept(); close does the rest
        self.server.close()
        self.thread.join(5)


BULK_BATCHES, BULK_BATCH = 8, 6


def bulk_frames():
    """nic.S's bulk frames in the order it sends them: (pair, frame)."""
    k = 32
    for _ in range(BULK_BATCHES):
        for pair in (0, 1):
            for _ in range(BULK_BATCH):
                yield pair, guest_frame(k, pair, 1472)
                k += 1


def guest_frame(k, pair=None, size=None):
    """Frame k of nic.S (its build_frame): the request/response frames by
    default, a bulk frame with `pair` and `size`."""
    if pair is None:
        pair, size = k % 2, 22 + 40 * (k % 8)
    payload = bytes((k * 31 + i * 7) & 0xFF for i in range(size))
    ip = bytes([0x45, 0]) + (28 + len(payload)).to_bytes(2, "big") + bytes(
        [0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 10, 0, 2, 15, 10, 0, 2, 2])
    udp = (1001, 1000)[pair].to_bytes(2, "big") + (7).to_bytes(2, "big") + \
        (8 + len(payload)).to_bytes(2, "big") + bytes(2)
    return PEER_MAC + GUEST_MAC + b"\x08\x00" + ip + udp + payload


def expected_output():
    lines = ["nic at 00:01.0 class 020000 pin 0x01", "bar0 size 0x00004000",
             "version 0x00010000 queues 0x02 link 0x1", "mac 52:54:00:12:34:56",
             "enabled, status 0x03"]
    for ring in (0, 1):
        replies = [echo(guest_frame(k)) for k in range(32) if k % 2 == ring]
        assert all(rx_queue_for(r, 2) == ring for r in replies)
        h = 0
        for reply in replies:
            h = fnv1a(reply, h or 0x811C9DC5)
        lines.append(f"rx ring 0x{ring:x} frames 0x{len(replies):02x} "
                     f"bytes 0x{sum(map(len, replies)):04x} fnv 0x{h:08x}")
    for ring in (0, 1):
        replies = [echo(f) for pair, f in bulk_frames() if pair == ring]
        assert all(rx_queue_for(r, 2) == ring for r in replies)
        h = 0
        for reply in replies:
            h = fnv1a(reply, h or 0x811C9DC5)
        lines.append(f"bulk ring 0x{ring:x} frames 0x{len(replies):02x} "
                     f"bytes 0x{sum(map(len, replies)):08x} fnv 0x{h:08x}")
    lines += ["short frame: status 0x05", "buffer outside RAM: status 0x03",
              "icr 0x00000303 intx 0x1 cleared: icr 0x00000000 intx 0x0", "status 0x03", "done"]
    return "\n".join(lines) + "\n"


def test_driver_exchanges_frames_on_two_queue_pairs_through_the_cli():
    peer = EchoPeer()
    try:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(ROOT))
        run = subprocess.run(
            [sys.executable, "-m", "pyvmm", "run", "--netdev", f"socket,id=n0,connect=127.0.0.1:{peer.port}",
             "--device", "pyvmm-nic,netdev=n0,queues=2", GUEST],
            capture_output=True, text=True, timeout=120, env=env)
    finally:
        peer.close()
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected_output()
    assert peer.frames == [guest_frame(k) for k in range(32)] + [f for _, f in bulk_frames()]


def pyvmm_run(*args):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(ROOT))
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_savevm_with_rings_set_up_and_loadvm_finish_the_exchange(tmp_path):
    """Stopped after the rings are programmed and some receive buffers are
    posted, before any frame (a frame in flight on a socket is the peer's
    timing) and continued from the file: the halves make the whole output."""
    peer = EchoPeer()
    snapshot = tmp_path / "nic.vm"
    try:
        first = pyvmm_run("--max-insns", "2400", "--savevm", str(snapshot), "--stats",
                          "--netdev", f"socket,id=n0,connect=127.0.0.1:{peer.port}",
                          "--device", "pyvmm-nic,netdev=n0,queues=2", GUEST)
        assert first.returncode == 124, first.stderr[-2000:]
        assert '"nic_doorbell_writes": 2,' in first.stderr and '"nic_tx_frames": 0,' in first.stderr
        second = pyvmm_run("--loadvm", str(snapshot))
    finally:
        peer.close()
    assert second.returncode == 0, second.stderr[-2000:]
    assert first.stdout + second.stdout == expected_output()


def test_cli_refuses_a_bad_queue_count():
    env = dict(os.environ, PYTHONPATH=os.path.abspath(ROOT))
    run = subprocess.run([sys.executable, "-m", "pyvmm", "run", "--netdev", "hub,id=n0",
                          "--device", "pyvmm-nic,netdev=n0,queues=0", GUEST],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "queues='0'" in run.stderr


def test_smode_build_in_a_vm_prints_the_same():
    """nic_smode.S in a VM (technique hw): the controller emulated by the
    VM's device set, the same lines. No instruction budget: the guest polls
    while the peer's echo crosses TCP, so how many instructions it retires
    depends on the host (about 0.9 G here); the driver's own poll limit and
    the subprocess timeout bound the run."""
    peer = EchoPeer()
    try:
        run = pyvmm_run("--technique", "hw",
                        "--netdev", f"socket,id=n0,connect=127.0.0.1:{peer.port}",
                        "--device", "pyvmm-nic,netdev=n0,queues=2",
                        os.path.join(ROOT, "guests", "pci", "nic_smode.S"))
    finally:
        peer.close()
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout == expected_output()


def test_random_register_writes_and_descriptors_never_raise():
    """Seeded garbage in registers, rings and descriptors: every outcome is a
    status, a counter or FATAL, and heads stay inside their rings."""
    import random
    rng = random.Random(7)
    keys = ("nic_tx_frames", "nic_rx_frames", "nic_tx_len_errors", "nic_dma_errors",
            "nic_doorbell_errors", "nic_ring_errors", "nic_fatal_errors", "nic_rx_too_big")
    seen = dict.fromkeys(keys, 0)
    for _ in range(30):
        d = Driver(EchoNetdev(), queues=rng.randint(1, 4))
        d.write(nicmod.REG_MQ_ACTIVE, d.nic.queues)
        d.memory.write(RAM_BASE, rng.randbytes(0x60000))
        for _ in range(400):
            what = rng.random()
            q = rng.randrange(d.nic.queues)
            rx = rng.random() < 0.5
            ring = (d.nic.rx if rx else d.nic.tx)[q]
            if what < 0.4:
                d.write(d.reg(q, rx, nicmod.RING_TAIL), rng.randrange(20))
            elif what < 0.5:
                field = rng.choice((nicmod.RING_LEN, nicmod.RING_BASE_LO, nicmod.RING_BASE_HI))
                value = rng.choice((rng.randrange(20), rng.getrandbits(32),
                                    RAM_BASE + 16 * rng.randrange(0x6000), RAM_BASE + rng.randrange(0x60000)))
                d.write(d.reg(q, rx, field), value)
            elif what < 0.75 and ring.size:
                # A descriptor that is plausible (in RAM) or not, at a slot of the ring.
                address = rng.choice((RAM_BASE + rng.randrange(0x60000), rng.getrandbits(64)))
                length = rng.choice((rng.randrange(20), rng.randrange(300), rng.getrandbits(16)))
                at = ring.base + 16 * rng.randrange(ring.size)
                if d.memory.contains(at, 16):
                    d.memory.write(at, address.to_bytes(8, "little") + length.to_bytes(2, "little") + bytes(6))
            elif what < 0.9:
                d.nic.netdev.deliver(udp_frame(rng.randrange(65536), rng.randbytes(rng.randrange(200))))
                d.nic.poll()
            elif what < 0.95:
                d.write(rng.randrange(0x8, 0x600, 4), rng.getrandbits(32))
            else:
                d.nic.register_write(rng.randrange(0x4000), rng.choice((1, 2, 8)), rng.getrandbits(64))
            for each in d.nic.tx + d.nic.rx:
                assert not each.valid() or 0 <= each.head < each.size
        stats = d.nic.stats()
        for key in keys:
            seen[key] += stats[key]
    # The garbage reached every path, not only the doorbell checks.
    assert all(seen.values()), seen

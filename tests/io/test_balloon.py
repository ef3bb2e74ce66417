"""virtio-balloon: the device through a driver's eyes (features, the
configuration space and its interrupt, inflate and deflate, bad PFNs and
descriptors, statistics, snapshots), the host memory behind inflated pages,
and the bare-metal driver guests/devices/balloon.S on `pyvmm run`."""

import os
import struct
import subprocess
import sys

import pytest

from pyvmm.io.virtio import mmio
from pyvmm.io.virtio.balloon import (DEFLATEQ, INFLATEQ, STATSQ, VIRTIO_BALLOON_F_PAGE_POISON,
                                     VIRTIO_BALLOON_F_STATS_VQ, VirtioBalloon)
from pyvmm.io.virtio.device import (DEVICE_NEEDS_RESET, INT_CONFIG_CHANGE, VIRTIO_F_EVENT_IDX,
                                    VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1)
from virtio_driver import DATA_AREA, RAM_BASE, RAM_SIZE, Driver

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST = os.path.join(REPO, "guests", "devices", "balloon.S")
PAGE = 4096
POOL = RAM_BASE + 0x80000           # pages the test driver balloons
PFNS = DATA_AREA                    # where it writes PFN lists


def page(i):
    return POOL + i * PAGE


def start(device=None, features=None):
    device = device or VirtioBalloon(RAM_SIZE)
    return Driver(device).start(features=features)


def post_pfns(driver, queue, pfns, raw=None):
    data = raw if raw is not None else struct.pack(f"<{len(pfns)}I", *pfns)
    driver.memory.write(PFNS, data)
    head = driver.rings[queue].add_chain([(PFNS, len(data), False)])
    driver.kick(queue)
    return head


def fill_pages(driver, indices, byte=0x5A):
    for i in indices:
        driver.memory.fill(page(i), PAGE, byte)


def config(driver, offset):
    return driver.transport.read(mmio.CONFIG + offset, 4)


# ------------------------------------------------------------------ features and configuration


def test_offers_qemu_72_features_and_a_16_byte_config():
    driver = Driver(VirtioBalloon(RAM_SIZE))
    assert driver.device_features() == (VIRTIO_BALLOON_F_STATS_VQ | VIRTIO_BALLOON_F_PAGE_POISON
                                        | VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC
                                        | VIRTIO_F_EVENT_IDX)
    assert driver.r(mmio.DEVICE_ID) == 5
    for q, expected in ((INFLATEQ, 128), (DEFLATEQ, 128), (STATSQ, 128), (3, 0)):
        driver.w(mmio.QUEUE_SEL, q)
        assert driver.r(mmio.QUEUE_NUM_MAX) == expected
    assert [config(driver, o) for o in (0, 4, 8, 12)] == [0, 0, 0, 0]
    assert config(driver, 16) == 0xFFFF_FFFF            # past the structure


def test_target_change_raises_a_config_interrupt_once_the_driver_runs():
    device = VirtioBalloon(RAM_SIZE)
    device.set_target(10)                               # before a driver: no interrupt
    driver = start(device)
    assert driver.irq_levels == [] and config(driver, 0) == 10
    generation = driver.r(mmio.CONFIG_GENERATION)
    device.set_target(32)
    assert driver.r(mmio.INTERRUPT_STATUS) == INT_CONFIG_CHANGE
    assert driver.irq_levels == [True]
    assert config(driver, 0) == 32
    assert driver.r(mmio.CONFIG_GENERATION) != generation
    driver.w(mmio.INTERRUPT_ACK, INT_CONFIG_CHANGE)
    assert driver.irq_levels == [True, False]
    assert device.stats()["target_changes"] == 2


def test_memory_target_is_qemus_balloon_command():
    device = VirtioBalloon(RAM_SIZE)                    # 1 MiB: 256 pages
    device.set_memory_target(RAM_SIZE - 40 * PAGE)
    assert device.num_pages == 40
    device.set_memory_target(RAM_SIZE * 4)              # clamped to the RAM: no balloon
    assert device.num_pages == 0
    with pytest.raises(ValueError):
        device.set_memory_target(0)
    with pytest.raises(ValueError):
        device.set_target(RAM_SIZE // PAGE + 1)


def test_driver_writes_actual_and_poison_but_not_num_pages():
    device = VirtioBalloon(RAM_SIZE)
    device.set_target(7)
    driver = start(device, features=VIRTIO_F_VERSION_1 | VIRTIO_BALLOON_F_PAGE_POISON)
    driver.transport.write(mmio.CONFIG + 0, 4, 99)      # the host's field: dropped
    driver.transport.write(mmio.CONFIG + 4, 4, 5)
    driver.transport.write(mmio.CONFIG + 12, 4, 0xAA55AA55)
    assert [config(driver, o) for o in (0, 4, 12)] == [7, 5, 0xAA55AA55]
    driver.transport.write(mmio.CONFIG + 5, 1, 1)       # a byte of actual
    assert device.actual == 0x105
    assert device.memory_size() == RAM_SIZE - 0x105 * PAGE
    # Without PAGE_POISON negotiated the poison value stays 0, as on QEMU.
    plain = start(VirtioBalloon(RAM_SIZE), features=VIRTIO_F_VERSION_1)
    plain.transport.write(mmio.CONFIG + 12, 4, 0xAA55AA55)
    assert config(plain, 12) == 0


# ------------------------------------------------------------------ inflate and deflate


def test_inflate_zeroes_the_pages_and_deflate_gives_them_back():
    reused = []
    device = VirtioBalloon(RAM_SIZE, reuse=reused.append)
    driver = start(device)
    fill_pages(driver, range(8))
    pfns = [page(i) >> 12 for i in range(4)]
    head = post_pfns(driver, INFLATEQ, pfns)
    assert driver.rings[INFLATEQ].take_used() == [(head, 0)]
    for i in range(4):
        assert driver.memory.read(page(i), PAGE) == bytes(PAGE)       # given back: zeros
    for i in range(4, 8):
        assert driver.memory.read(page(i), PAGE) == b"\x5a" * PAGE     # never inflated
    head = post_pfns(driver, DEFLATEQ, pfns[:2])
    assert driver.rings[DEFLATEQ].take_used() == [(head, 0)]
    assert reused == [page(0), page(1)]
    stats = device.stats()
    assert (stats["pages_inflated"], stats["pages_deflated"], stats["pages_ballooned"]) == (4, 2, 2)
    assert device.ballooned == {pfns[2], pfns[3]}
    assert driver.memory.guards_intact()


def test_discard_hook_gets_exactly_the_posted_pages_in_order():
    discarded = []
    device = VirtioBalloon(RAM_SIZE, discard=discarded.append)
    driver = start(device)
    pfns = [page(5) >> 12, page(1) >> 12, page(9) >> 12]
    post_pfns(driver, INFLATEQ, pfns)
    assert discarded == [pfn << 12 for pfn in pfns]


def test_bad_pfns_are_skipped_and_counted_never_touched():
    discarded = []
    device = VirtioBalloon(RAM_SIZE, discard=discarded.append)
    driver = start(device)
    below, past, huge = (RAM_BASE >> 12) - 1, (RAM_BASE + RAM_SIZE) >> 12, 0xFFFF_FFFF
    good = page(3) >> 12
    # A trailing 2 bytes are not a PFN: ignored, as QEMU reads whole 4-byte entries.
    raw = struct.pack("<4I", below, good, past, huge) + b"\x01\x02"
    head = post_pfns(driver, INFLATEQ, None, raw=raw)
    assert driver.rings[INFLATEQ].take_used() == [(head, 0)]
    assert discarded == [good << 12]
    stats = device.stats()
    assert (stats["bad_pfns"], stats["pages_inflated"], stats["errors"]) == (3, 1, 0)
    assert device.last_bad_pfn == huge
    assert not device.status & DEVICE_NEEDS_RESET
    assert driver.memory.guards_intact()


def test_a_buffer_outside_ram_needs_a_reset_and_discards_nothing():
    discarded = []
    device = VirtioBalloon(RAM_SIZE, discard=discarded.append)
    driver = start(device)
    driver.rings[INFLATEQ].add_chain([(RAM_BASE + RAM_SIZE - 8, 64, False)])
    driver.kick(INFLATEQ)
    assert device.status & DEVICE_NEEDS_RESET
    assert device.stats()["errors"] == 1 and discarded == []
    assert driver.r(mmio.INTERRUPT_STATUS) & INT_CONFIG_CHANGE
    assert driver.memory.guards_intact()


def test_device_writable_buffers_are_not_pfns():
    discarded = []
    device = VirtioBalloon(RAM_SIZE, discard=discarded.append)
    driver = start(device)
    driver.memory.write(PFNS, struct.pack("<2I", page(0) >> 12, page(1) >> 12))
    head = driver.rings[INFLATEQ].add_chain([(PFNS, 4, False), (PFNS + 4, 4, True)])
    driver.kick(INFLATEQ)
    assert driver.rings[INFLATEQ].take_used() == [(head, 0)]
    assert discarded == [page(0)]


# ------------------------------------------------------------------ statistics


def _stats(pairs):
    return b"".join(struct.pack("<HQ", tag, value) for tag, value in pairs)


def test_stats_buffer_is_held_until_the_host_asks():
    device = VirtioBalloon(RAM_SIZE)
    driver = start(device)
    driver.memory.write(PFNS, _stats([(5, 1 << 20), (4, 4096), (99, 1)]))
    head = driver.rings[STATSQ].add_chain([(PFNS, 30, False)])
    driver.kick(STATSQ)
    assert driver.rings[STATSQ].take_used() == []            # held
    assert device.guest_stats == {"total-memory": 1 << 20, "free-memory": 4096}
    assert device.request_stats()
    assert driver.rings[STATSQ].take_used() == [(head, 0)]
    assert not device.request_stats()                         # nothing held now
    assert device.stats()["stats_updates"] == 1 and device.stats()["stats_requests"] == 1


# ------------------------------------------------------------------ snapshots


def test_state_round_trip_keeps_target_actual_pages_and_the_held_stats():
    device = VirtioBalloon(RAM_SIZE)
    driver = start(device)
    device.set_target(3)
    post_pfns(driver, INFLATEQ, [page(i) >> 12 for i in range(3)])
    driver.transport.write(mmio.CONFIG + 4, 4, 3)
    driver.memory.write(PFNS + 0x100, _stats([(4, 123)]))
    head = driver.rings[STATSQ].add_chain([(PFNS + 0x100, 10, False)])
    driver.kick(STATSQ)
    state = device.state()

    clone = VirtioBalloon(RAM_SIZE)
    clone.attach_memory(driver.memory)
    clone.restore(state)
    assert clone.state() == state
    assert clone.config_bytes() == device.config_bytes()
    assert clone.ballooned == device.ballooned and clone.stats_head == head
    # The restored device goes on where the saved one was: the driver's next
    # deflate request, kicked at the clone, comes back through the same ring.
    driver.memory.write(PFNS, struct.pack("<I", page(0) >> 12))
    head = driver.rings[DEFLATEQ].add_chain([(PFNS, 4, False)])
    clone.notify(DEFLATEQ)
    assert driver.rings[DEFLATEQ].take_used() == [(head, 0)]
    assert clone.stats()["pages_deflated"] == 1 and clone.ballooned == {page(1) >> 12, page(2) >> 12}
    with pytest.raises(ValueError):
        VirtioBalloon(2 * RAM_SIZE).restore(state)


# ------------------------------------------------------------------ on the board


def test_host_buffer_discard_range_reads_zero():
    from pyvmm._core import Core
    core = Core(ram_size=1 << 20, ram_base=RAM_BASE)
    ram = memoryview(core.ram_buffer)
    ram[0x3000:0x5000] = b"\xff" * 0x2000
    core.ram_buffer.discard_range(0x3000, 0x1000)             # a whole page: dropped
    core.ram_buffer.discard_range(0x4010, 0x20)               # a piece: zeroed
    assert ram[0x3000:0x4000].tobytes() == bytes(0x1000)
    assert ram[0x4000:0x4010].tobytes() == b"\xff" * 0x10
    assert ram[0x4010:0x4030].tobytes() == bytes(0x20)
    assert ram[0x4030:0x5000].tobytes() == b"\xff" * 0xFD0
    with pytest.raises(ValueError):
        core.ram_buffer.discard_range(0xFF000, 0x2000)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def pyvmm(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], capture_output=True,
                          timeout=timeout, cwd=REPO, env=_env(), stdin=subprocess.DEVNULL)


TARGETS = ["--balloon-target", "126@2000000", "--balloon-target", "127M@8000000",
           "--balloon-target", "128M@14000000"]
EXPECTED = (b"virtio-balloon: slot 7\n"
            b"balloon features offered: 0x12\n"
            b"balloon features accepted: 0x02\n"
            b"ready: target 0\n"
            b"target 512: inflated 512 pages, actual 512\n"
            b"target 256: deflated 256 pages, actual 256, read back zero: 256\n"
            b"target 0: deflated 256 pages, actual 0, read back zero: 256\n"
            b"virtio-balloon: done\n")


@pytest.mark.parametrize("device", ["virtio-balloon-device", "virtio-balloon-device,bus=virtio-mmio-bus.2"])
def test_guest_driver_follows_the_targets_from_the_command_line(device, tmp_path):
    stats = tmp_path / "stats.json"
    proc = pyvmm("--device", device, *TARGETS, "--max-insns", "60000000",
                 "--stats-file", str(stats), GUEST)
    assert proc.returncode == 0, proc.stderr
    slot = b"2" if "bus=" in device else b"7"
    assert proc.stdout == EXPECTED.replace(b"slot 7", b"slot " + slot)
    import json
    counters = [v for k, v in json.loads(stats.read_text())["devices"].items() if "VirtioBalloon" in k]
    assert len(counters) == 1
    assert counters[0]["pages_inflated"] == 512 and counters[0]["pages_deflated"] == 512
    assert counters[0]["num_pages"] == 0 and counters[0]["actual"] == 0
    assert counters[0]["target_changes"] == 3 and counters[0]["bad_pfns"] == 0
    assert counters[0]["guest"] == {"total-memory": 4 << 20, "free-memory": 4 << 20}


def test_the_run_repeats_exactly():
    first = pyvmm("--device", "virtio-balloon-device", *TARGETS, "--max-insns", "60000000", GUEST)
    second = pyvmm("--device", "virtio-balloon-device", *TARGETS, "--max-insns", "60000000", GUEST)
    assert first.stdout == second.stdout == EXPECTED


@pytest.mark.parametrize("args,message", [
    (["--balloon-target", "126@1000"], "--balloon-target needs a --device virtio-balloon-device"),
    (["--device", "virtio-balloon-device", "--balloon-target", "126"], "expected SIZE@INSNS"),
    (["--device", "virtio-balloon-device", "--balloon-target", "0@5"], "positive size"),
    (["--device", "virtio-balloon-device", "--balloon-target", "x@5"], "bad size"),
    (["--device", "virtio-balloon-device", "--device", "virtio-balloon-pci"],
     "only one balloon device is supported"),
    (["--device", "virtio-balloon-device,page-poison=on"], "unknown property 'page-poison'"),
    (["--device", "virtio-balloon-device", "--balloon-target", "126@5", "--monitor", "stdio"],
     "cannot be used with --monitor"),
])
def test_bad_balloon_options_are_one_line_and_status_2(args, message):
    proc = pyvmm(*args, GUEST, timeout=60)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and message in err, err
    assert proc.stdout == b""


# ------------------------------------------------------------------ the board's API: monitor, RAM, snapshots


def _board(console=None):
    from pyvmm.machine import Machine
    from pyvmm.machine.devices import DeviceConfig
    machine = Machine(console=console, devices=DeviceConfig(devices=["virtio-balloon-device"]))
    machine.load(GUEST)
    return machine


def _run_until(machine, text, budget=20_000_000, step=500_000):
    while text not in machine.uart_output:
        assert budget > 0, machine.uart_output
        result = machine.run(step)
        assert result.how == "budget", (result, machine.uart_output)
        budget -= step


def test_monitor_balloon_and_info_balloon_drive_the_guest():
    from pyvmm.debug.monitor import Monitor
    from pyvmm.machine import Machine
    with _board() as machine:
        monitor = Monitor(machine)
        _run_until(machine, b"ready: target 0\n")
        assert monitor.execute("info balloon") == "balloon: actual=128\n"
        assert monitor.execute("balloon 0") == "Error: Parameter 'target' expects a size\n"
        assert monitor.execute("balloon lots") == "balloon: invalid size\n"
        assert monitor.execute("balloon 126") == ""
        _run_until(machine, b"actual 512\n")
        assert monitor.execute("info balloon") == "balloon: actual=126\n"
        # The board's RAM behind every inflated page reads zero.
        pool = 0x8040_0000
        assert machine.memory.read(pool, 512 * PAGE) == bytes(512 * PAGE)
        assert monitor.execute("balloon 1G") == ""       # more than RAM: the balloon empties
        result = machine.run(20_000_000)
        assert result.how == "finisher-pass", machine.uart_output
        assert machine.uart_output.endswith(b"target 0: deflated 512 pages, actual 0, "
                                            b"read back zero: 512\nvirtio-balloon: done\n")
        assert monitor.execute("info balloon") == "balloon: actual=128\n"
    with Machine(console=None) as bare:
        plain = Monitor(bare)
        assert plain.execute("balloon 64") == "Error: No balloon device has been activated\n"
        assert plain.execute("info balloon") == "Error: No balloon device has been activated\n"
    assert "balloon target -- request VM" in Monitor(machine).execute("help balloon")


def test_board_snapshot_carries_the_balloon(tmp_path):
    from pyvmm.machine import Machine
    from pyvmm.machine.balloon_target import info_text, set_memory_target
    path = tmp_path / "balloon.snap"
    with _board() as machine:
        _run_until(machine, b"ready: target 0\n")
        set_memory_target(machine, 126 << 20)
        _run_until(machine, b"actual 512\n")
        machine.save(path)
        saved = machine.device_set.balloons()[0].state()
    restored = Machine.restore(path, console=None)
    with restored:
        balloon = restored.device_set.balloons()[0]
        assert balloon.state() == saved
        assert (balloon.num_pages, balloon.actual, len(balloon.ballooned)) == (512, 512, 512)
        assert info_text(restored) == "balloon: actual=126\n"
        set_memory_target(restored, 128 << 20)
        result = restored.run(20_000_000)
        assert result.how == "finisher-pass"
        assert restored.uart_output.endswith(b"target 0: deflated 512 pages, actual 0, "
                                             b"read back zero: 512\nvirtio-balloon: done\n")
        assert balloon.stats()["pages_deflated"] == 512


def test_balloon_pci_is_a_pci_function_with_the_page_drop_wired():
    from pyvmm.machine import Machine
    from pyvmm.machine.devices import DeviceConfig
    with Machine(console=None, devices=DeviceConfig(devices=["virtio-balloon-pci"])) as machine:
        [(device, where)] = machine.device_set.virtio_devices
        assert device.device_id == 5 and where.startswith("pci 00:")
        assert machine.device_set.balloons() == [device] and device.ram_size == 128 << 20
        machine.memory.write(0x8080_0000, b"\x77" * PAGE)
        device.discard(0x8080_0000)
        assert machine.memory.read(0x8080_0000, PAGE) == bytes(PAGE)


def _rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) >> 10
    pytest.skip("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc/self/status")
def test_inflated_pages_leave_the_host_process():
    """The board's RAM behind inflated pages is given back to the host
    kernel (MADV_DONTNEED), not only zeroed: the process shrinks."""
    from pyvmm.machine import Machine
    from pyvmm.machine.devices import DeviceConfig
    size, base = 64 << 20, 0x8100_0000
    with Machine(console=None, devices=DeviceConfig(devices=["virtio-balloon-device"])) as machine:
        machine.memory.write(base, b"\x55" * size)
        touched = _rss_mib()
        balloon = machine.device_set.balloons()[0]
        for offset in range(0, size, PAGE):
            balloon.discard(base + offset)
        assert _rss_mib() <= touched - 48
        assert machine.memory.read(base, size) == bytes(size)


def test_legacy_transport_inflates_too():
    discarded = []
    device = VirtioBalloon(RAM_SIZE, discard=discarded.append)
    driver = Driver(device, legacy=True).start(features=VIRTIO_BALLOON_F_STATS_VQ)
    assert device.negotiated(VIRTIO_BALLOON_F_STATS_VQ)
    device.set_target(2)
    assert config(driver, 0) == 2 and driver.irq_levels == [True]
    post_pfns(driver, INFLATEQ, [page(0) >> 12, page(1) >> 12])
    assert discarded == [page(0), page(1)]


def test_virtio_balloon_pci_through_the_modern_transport():
    from pyvmm.io.pci import virtio_pci as vp
    from test_pci_virtio import PciDriver
    discarded = []
    driver = PciDriver(VirtioBalloon(RAM_SIZE, discard=discarded.append))
    assert driver.cfg(0, 4) == 0x1045_1AF4                   # modern virtio-balloon-pci
    assert driver.cfg(8, 4) >> 8 == 0x00FF00                 # QEMU's class: "other"
    rings = driver.start()
    assert len(rings) == 3
    driver.function.virtio.set_target(2)
    assert driver.isr() == 2
    assert driver.bus.read(driver.address(vp.DEVICE_CFG), 4) == 2
    driver.memory.write(PFNS, struct.pack("<2I", page(0) >> 12, page(1) >> 12))
    head = rings[INFLATEQ].add_chain([(PFNS, 8, False)])
    driver.kick(INFLATEQ)
    assert rings[INFLATEQ].take_used() == [(head, 0)]
    assert discarded == [page(0), page(1)]
    driver.bus.write(driver.address(vp.DEVICE_CFG, 4), 4, 2)  # actual
    assert driver.function.virtio.memory_size() == RAM_SIZE - 2 * PAGE

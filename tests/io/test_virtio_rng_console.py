"""virtio-rng (deterministic unless realtime, snapshot of its generator) and
virtio-console (output to the console writer, input delivered from poll)."""

from pyvmm.io.virtio.console import RECEIVEQ, TRANSMITQ, VirtioConsole
from pyvmm.io.virtio.rng import VirtioRng
from pyvmm.machine.console import ConsoleInput
from virtio_driver import DATA_AREA, Driver


def entropy(device, n=64, requests=2):
    driver = Driver(device).start()
    out = []
    for _ in range(requests):
        driver.rings[0].add_chain([(DATA_AREA, n, True)])
        driver.kick(0)
        [(_, written)] = driver.rings[0].take_used()
        assert written == n
        out.append(driver.memory.read(DATA_AREA, n))
    return out


def test_rng_is_deterministic_by_default():
    first, second = entropy(VirtioRng()), entropy(VirtioRng())
    assert first == second
    assert first[0] != first[1]
    assert len(set(first[0])) > 16


def test_rng_seed_changes_stream():
    assert entropy(VirtioRng(seed=1)) != entropy(VirtioRng(seed=2))


def test_rng_realtime_uses_host_entropy():
    assert entropy(VirtioRng(realtime=True)) != entropy(VirtioRng(realtime=True))


def test_rng_state_restores_the_stream():
    device = VirtioRng()
    driver = Driver(device).start()
    state = device.state()
    driver.rings[0].add_chain([(DATA_AREA, 32, True)])
    driver.kick(0)
    expected = driver.memory.read(DATA_AREA, 32)
    clone = VirtioRng()
    clone.restore(state)
    assert clone.entropy(32) == expected


def test_console_output():
    written = []
    driver = Driver(VirtioConsole(written.append)).start()
    driver.memory.write(DATA_AREA, b"hello hvc0\n")
    head = driver.rings[TRANSMITQ].add_chain([(DATA_AREA, 11, False)])
    driver.kick(TRANSMITQ)
    assert written == [b"hello hvc0\n"]
    assert driver.rings[TRANSMITQ].take_used() == [(head, 0)]


def test_console_input_waits_for_buffers_and_keeps_order():
    device = VirtioConsole(lambda data: None, ConsoleInput(b"abcdefgh"))
    driver = Driver(device).start()
    device.poll()                                   # no buffer yet: input waits
    assert bytes(device.pending_input) == b"abcdefgh"
    ring = driver.rings[RECEIVEQ]
    ring.add_chain([(DATA_AREA, 3, True)])
    ring.add_chain([(DATA_AREA + 0x100, 16, True)])
    driver.kick(RECEIVEQ)
    device.poll()
    used = ring.take_used()
    assert [n for _, n in used] == [3, 5]
    assert driver.memory.read(DATA_AREA, 3) == b"abc"
    assert driver.memory.read(DATA_AREA + 0x100, 5) == b"defgh"
    assert device.stats()["bytes_in"] == 8


def test_console_input_from_callable():
    chunks = [b"x", b"", b"yz"]
    device = VirtioConsole(lambda data: None, lambda: chunks.pop(0) if chunks else b"")
    driver = Driver(device).start()
    driver.rings[RECEIVEQ].add_chain([(DATA_AREA, 8, True)])
    for _ in range(3):
        device.poll()
    assert driver.rings[RECEIVEQ].take_used()[0][1] == 1
    driver.rings[RECEIVEQ].add_chain([(DATA_AREA, 8, True)])
    device.poll()
    assert driver.rings[RECEIVEQ].take_used()[0][1] == 2

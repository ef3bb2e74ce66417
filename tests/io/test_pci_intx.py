"""INTx: the swizzle onto PLIC sources 32..35 as QEMU's virt interrupt-map
routes it, shared level-triggered lines, the command register's INTx
disable, and the status register's interrupt bit."""

import pytest

from pyvmm.io.pci.config import COMMAND, COMMAND_INTX_DISABLE, STATUS, STATUS_INTERRUPT
from pyvmm.io.pci.intx import plic_source, swizzle
from pyvmm.io.pci.host import PciHost
from pci_firmware import NullPlic, SampleFunction, ecam, make_host


@pytest.mark.parametrize("device", range(8))
@pytest.mark.parametrize("pin", range(1, 5))
def test_swizzle(device, pin):
    assert swizzle(device, pin) == (pin - 1 + device) % 4
    assert plic_source(device, pin) == 32 + (pin - 1 + device) % 4


def test_pin_out_of_range():
    with pytest.raises(ValueError):
        swizzle(1, 0)
    with pytest.raises(ValueError):
        SampleFunction(pin=5)


def test_each_device_pin_reaches_its_source():
    host = PciHost(NullPlic(), 128 << 20)
    for device in range(1, 9):
        for pin in range(1, 5):
            plic = host.intx.plic
            function = SampleFunction(pin=pin)
            host.add_function(function, device=device, function_number=pin - 1)
            function.set_irq(True)
            assert plic.changes[-1] == (plic_source(device, pin), True)
            function.set_irq(False)
            assert plic.changes[-1] == (plic_source(device, pin), False)


def test_shared_line_stays_high_until_all_release():
    a, b = SampleFunction(pin=1), SampleFunction(pin=4)    # device 1 INTA and device 2 INTD share line 1
    host, bus, plic = make_host(a, b)
    assert plic_source(1, 1) == plic_source(2, 4) == 33
    a.set_irq(True)
    b.set_irq(True)
    a.set_irq(True)                                        # a repeated level changes nothing
    assert plic.changes == [(33, True)]
    a.set_irq(False)
    assert plic.levels[33] is True
    b.set_irq(False)
    assert plic.changes == [(33, True), (33, False)]


def test_intx_disable_masks_the_line_not_the_status():
    function = SampleFunction()
    host, bus, plic = make_host(function)
    bus.write(ecam(1, offset=COMMAND), 2, COMMAND_INTX_DISABLE)
    function.set_irq(True)
    assert plic.changes == []
    assert bus.read(ecam(1, offset=STATUS), 2) & STATUS_INTERRUPT
    bus.write(ecam(1, offset=COMMAND), 2, 0)               # enabling lets the pending level through
    assert plic.changes == [(33, True)]
    bus.write(ecam(1, offset=COMMAND + 1), 1, COMMAND_INTX_DISABLE >> 8)
    assert plic.changes == [(33, True), (33, False)]
    function.set_irq(False)
    assert plic.changes == [(33, True), (33, False)]
    assert not bus.read(ecam(1, offset=STATUS), 2) & STATUS_INTERRUPT


def test_function_without_pin_never_interrupts():
    function = SampleFunction(pin=0)
    host, bus, plic = make_host(function)
    function.set_irq(True)
    assert plic.changes == [] and not function.irq_level


def test_reset_deasserts():
    function = SampleFunction()
    host, bus, plic = make_host(function)
    function.set_irq(True)
    host.reset()
    assert plic.changes == [(33, True), (33, False)]

"""The device set's poll between slices reaches every PCI function that is a
device of its own, including one plugged in after the guest started."""

from pyvmm.io.pci.config import PciFunction
from pyvmm.machine.devices import DeviceConfig, DeviceSet


class Counted(PciFunction):
    def __init__(self):
        super().__init__(0x1B36, 0x0010, 0x010802, name="counted")
        self.polls = 0

    def poll(self):
        self.polls += 1


def test_a_function_added_after_polls_began_is_polled():
    devices = DeviceSet(DeviceConfig(), console_write=lambda data: None, request_stop=lambda *a: None,
                        mtime=lambda: 0, on_plic_change=lambda *changed: None,
                        ram_base=0x8000_0000, ram_size=8 << 20)
    first = Counted()
    devices.pci.add_function(first)
    devices.poll()
    devices.poll()
    later = Counted()
    devices.pci.add_function(later)          # as a device assigned to a running VM is
    devices.poll()
    assert (first.polls, later.polls) == (3, 1)

"""Whatever a guest does to the PCI windows ends in a register value, a
device error status or a bus error: never a host exception, never a write
outside guest RAM."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pyvmm.io.pci.memmap import ECAM_BASE, PIO_BASE
from pyvmm.io.pci.virtio_pci import NOTIFY_OFFSET
from pyvmm.io.virtio.rng import VirtioRng
from pci_firmware import BusFault
from test_pci_virtio import PciDriver

access = st.tuples(
    st.sampled_from(["ecam", "bar", "pio", "mmio"]),
    st.integers(0, 0x3FFF),
    st.sampled_from([1, 2, 4, 8]),
    st.integers(0, (1 << 64) - 1),
    st.booleans(),
)


@settings(max_examples=150)
@given(st.lists(access, max_size=60))
def test_random_accesses_never_escape(accesses):
    driver = PciDriver(VirtioRng())
    rings = driver.start()
    rings[0].add_chain([(0x8004_0000, 32, True)])
    bases = {"ecam": ECAM_BASE + (1 << 15), "bar": driver.bar, "pio": PIO_BASE, "mmio": 0x4000_0000}
    for space, offset, size, value, write in accesses:
        if space == "ecam":
            offset &= 0xFFF
        address = bases[space] + offset
        try:
            if write:
                driver.bus.write(address, size, value & ((1 << (8 * size)) - 1))
            else:
                driver.bus.read(address, size)
        except BusFault:
            pass
        driver.function.region_write(NOTIFY_OFFSET, 2, 0)       # a kick wherever BAR 4 now is
    assert driver.memory.guards_intact()

"""The pci@30000000 node against the one QEMU 7.2 writes for the virt
machine (dumped with dumpdtb), and its interrupt map against the swizzle."""

import shutil
import subprocess

import pytest

from pyvmm.io.pci.fdt import pcie_node
from pyvmm.io.pci.intx import plic_source
from pyvmm.io.pci.memmap import high_mmio_base
from pyvmm.machine.fdt import Node, parse_dtb, serialize

PHANDLE_PLIC = 3


def _qemu_node(tmp_path, memory):
    if not shutil.which("qemu-system-riscv64"):
        pytest.skip("qemu-system-riscv64 is not installed")
    blob = tmp_path / "virt.dtb"
    subprocess.run(["qemu-system-riscv64", "-machine", f"virt,dumpdtb={blob}", "-m", memory,
                    "-nographic", "-display", "none"],
                   check=True, capture_output=True, timeout=60)
    root, _ = parse_dtb(blob.read_bytes())
    return root.find("/soc/pci@30000000")


def _props(node):
    return dict(node.props)


@pytest.mark.parametrize("memory, ram_size", [("128M", 128 << 20), ("15G", 15 << 30)])
def test_node_matches_qemu(tmp_path, memory, ram_size):
    qemu = _qemu_node(tmp_path, memory)
    ours = pcie_node(PHANDLE_PLIC, high_mmio_base(0x8000_0000, ram_size))
    assert ours.name == qemu.name
    assert list(ours.props) == list(qemu.props)
    assert _props(ours) == _props(qemu)
    assert ours.children == qemu.children == []


def test_node_matches_qemu_through_dtc(tmp_path):
    """The same comparison as dtc prints both trees."""
    if not shutil.which("dtc"):
        pytest.skip("dtc is not installed")
    qemu = _qemu_node(tmp_path, "128M")
    texts = []
    for node in (qemu, pcie_node(PHANDLE_PLIC, high_mmio_base(0x8000_0000, 128 << 20))):
        root = Node("", {}, [node])
        dts = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", "-q"], input=serialize(root),
                             capture_output=True, check=True, timeout=60).stdout
        texts.append(dts)
    assert texts[0] == texts[1]


def test_interrupt_map_is_the_swizzle():
    node = pcie_node(PHANDLE_PLIC, 0x4_0000_0000)
    entries = node.cells("interrupt-map")
    assert len(entries) == 16 * 6
    mask = node.cells("interrupt-map-mask")
    for i in range(16):
        hi, _, _, pin, phandle, source = entries[6 * i:6 * i + 6]
        device = (hi & mask[0]) >> 11
        assert phandle == PHANDLE_PLIC
        for slot in (device, device + 4, device + 8):
            assert source == plic_source(slot, pin)


def test_ranges():
    node = pcie_node(PHANDLE_PLIC, 0x8_0000_0000)
    ranges = node.cells("ranges")
    assert ranges[:7] == [0x0100_0000, 0, 0, 0, 0x0300_0000, 0, 0x1_0000]
    assert ranges[7:14] == [0x0200_0000, 0, 0x4000_0000, 0, 0x4000_0000, 0, 0x4000_0000]
    assert ranges[14:] == [0x0300_0000, 8, 0, 8, 0, 4, 0]

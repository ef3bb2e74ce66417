"""The board's IOMMU as a user turns it on: `--iommu on`, the device-tree
node a guest finds it by (decompiled with dtc), and snapshots that keep it:
a guest that programs the IOMMU, is saved, and reads its registers back
after --loadvm."""

import os
import shutil
import subprocess
import sys

import pytest

from pyvmm.io.iommu import regs
from pyvmm.machine import Machine
from pyvmm.machine.devices import DeviceConfig
from pyvmm.machine.snapshot import restore_machine, save_machine

REPO = os.path.join(os.path.dirname(__file__), "..", "..")

# Sets ddtp to Bare, spins, then prints the mode it reads back ('1') and passes.
GUEST = """
    .equ IOMMU_DDTP, 0x03010010
    .equ UART, 0x10000000
    .globl _start
_start:
    li      t0, IOMMU_DDTP
    li      t1, 1
    sd      t1, 0(t0)
    li      t2, 20000
spin:
    addi    t2, t2, -1
    bnez    t2, spin
    ld      t1, 0(t0)
    andi    t1, t1, 0xf
    addi    t1, t1, '0'
    li      t3, UART
    sb      t1, 0(t3)
    li      t1, '\\n'
    sb      t1, 0(t3)
    li      t0, 0x100000
    li      t1, 0x5555
    sw      t1, 0(t0)
1:  j       1b
"""


def _pyvmm(*args):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(REPO))
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *args], capture_output=True,
                          env=env, timeout=300, text=True)


@pytest.fixture
def guest(tmp_path):
    path = tmp_path / "iommu_guest.S"
    path.write_text(GUEST)
    return str(path)


def test_iommu_on_then_snapshot_and_loadvm_keep_it(guest, tmp_path):
    whole = _pyvmm("--iommu", "on", guest)
    assert whole.returncode == 0 and whole.stdout == "1\n", whole.stderr
    snap = str(tmp_path / "iommu.snap")
    first = _pyvmm("--iommu", "on", guest, "--max-insns", "5000", "--savevm", snap)
    assert first.returncode == 124 and first.stdout == "", first.stderr
    second = _pyvmm("--loadvm", snap)
    assert second.returncode == 0 and second.stdout == "1\n", second.stderr
    # Without the IOMMU the register window is not there: the load faults.
    bare = _pyvmm(guest, "--max-insns", "100000")
    assert bare.stdout != "1\n"
    again = _pyvmm("--loadvm", snap, "--iommu", "on")
    assert again.returncode == 2 and "--iommu cannot be used with --loadvm" in again.stderr


def test_api_snapshot_records_the_iommu_and_its_registers(guest, tmp_path):
    machine = Machine(devices=DeviceConfig(iommu=True))
    machine.load(guest)
    iommu = machine.device_set.iommu
    iommu.write(regs.FQB, 8, 0x80001 << 10 | 3)
    iommu.write(regs.DDTP, 8, 0x80002 << 10 | regs.MODE_2LVL)
    path = tmp_path / "m.snap"
    save_machine(machine, str(path))
    restored = restore_machine(str(path))
    assert restored.device_set.config.iommu
    assert restored.device_set.iommu.state() == iommu.state()
    assert restored.device_set.iommu.read(regs.DDTP, 8) == 0x80002 << 10 | regs.MODE_2LVL
    machine.close()
    restored.close()


def test_bad_iommu_value_is_a_usage_error(guest):
    result = _pyvmm("--iommu", "maybe", guest)
    assert result.returncode == 2 and "--iommu: invalid choice: 'maybe'" in result.stderr


@pytest.mark.skipif(shutil.which("dtc") is None, reason="needs dtc")
def test_device_tree_node_and_iommu_map(guest, tmp_path):
    def tree(*options):
        dtb = tmp_path / "board.dtb"
        result = _pyvmm(*options, "--dumpdtb", str(dtb), guest)
        assert result.returncode == 0, result.stderr
        return subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(dtb)], capture_output=True,
                              text=True, check=True).stdout

    dts = tree("--iommu", "on")
    node = dts[dts.index("iommu@3010000 {"):]
    node = node[:node.index("};")]
    assert 'compatible = "riscv,iommu";' in node
    assert "reg = <0x00 0x3010000 0x00 0x1000>;" in node
    assert "interrupts = <0x24>;" in node and "interrupt-parent = <0x03>;" in node
    assert "#iommu-cells = <0x01>;" in node
    phandle = node[node.index("phandle = <") + 11:].split(">")[0]
    assert f"iommu-map = <0x00 {phandle} 0x00 0x10000>;" in dts
    plain = tree()
    assert "iommu" not in plain

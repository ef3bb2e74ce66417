"""Several harts on the board: the smp_tour guest (HSM, IPIs, LR/SC, remote
fence.i) on the built-in SBI and on OpenSBI against QEMU + OpenSBI, the
determinism of multi-hart runs, and the device tree, PLIC and CLINT wiring."""

import os
import subprocess
import sys

import pytest
from support.smp_tour import tour_output

sys.path.insert(0, os.path.dirname(__file__))
from firmware_support import FW_JUMP_BIN, GUESTS, KERNEL_ADDR, gnu_build, need_opensbi, need_tool  # noqa: E402

SMP_TOUR = os.path.join(GUESTS, "smp", "smp_tour.S")


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    return gnu_build(SMP_TOUR, tmp_path_factory.mktemp("smp"), KERNEL_ADDR)


def run_machine(bios, kernel, smp, max_insns=100_000_000):
    from pyvmm.machine.machine import Machine
    machine = Machine(bios=bios, smp=smp)
    machine.load(kernel)
    result = machine.run(max_insns=max_insns)
    return result, machine.uart_output, machine


def tail(out, marker=b"smp_tour: "):
    out = out.replace(b"\r\n", b"\n")
    return out[out.index(marker):] if marker in out else out


@pytest.mark.parametrize("smp", [1, 2, 4, 8])
def test_tour_on_builtin_sbi(tour, smp):
    result, out, machine = run_machine("builtin", tour, smp)
    assert out == tour_output(smp)
    assert (result.status, result.how) == (0, "sbi-shutdown")
    calls = machine.sbi.stats()["calls_by_function"]
    assert calls.get("hsm.hart_start", 0) == smp            # one refused: the boot hart
    assert calls.get("hsm.hart_stop", 0) == smp - 1


def test_tour_deterministic(tour):
    runs = []
    for _ in range(2):
        result, out, machine = run_machine("builtin", tour, 4)
        stats = machine.stats()
        for key in ("host_seconds", "mips"):
            stats.pop(key)
        runs.append((tuple(result), out, stats))
    assert runs[0] == runs[1]
    assert runs[0][2]["harts"]["turns"] > 4


@pytest.mark.parametrize("smp", [2, 4])
def test_tour_on_opensbi(tour, smp):
    need_opensbi()
    result, out, machine = run_machine(FW_JUMP_BIN, tour, smp, max_insns=400_000_000)
    assert f"Platform HART Count       : {smp}".encode() in out
    assert tail(out) == tour_output(smp)
    assert result.status == 0


@pytest.mark.parametrize("smp", [2, 4])
def test_tour_same_on_qemu(tour, smp):
    need_opensbi()
    qemu = need_tool("qemu-system-riscv64", "QEMU is the reference")
    proc = subprocess.run([qemu, "-machine", "virt", "-nographic", "-m", "128M", "-smp", str(smp),
                           "-bios", FW_JUMP_BIN, "-kernel", tour], capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0
    assert tail(proc.stdout) == tour_output(smp)


def test_secondaries_start_stopped_and_first_image_entry_for_all():
    from pyvmm.machine.machine import Machine
    m = Machine(bios="none", smp=3)
    image = os.path.join(GUESTS, "hello.S")
    m.load(image)
    m.boot()
    assert [c.pc for c in m.cores] == [m.boot_image.entry] * 3
    assert [int(c.x[10]) for c in m.cores] == [0, 1, 2]
    assert {int(c.x[11]) for c in m.cores} == {m.dtb_addr}
    assert all(c.priv == 3 for c in m.cores)


def test_plic_contexts_reach_their_harts():
    from pyvmm.machine.machine import Machine
    m = Machine(bios="none", smp=2)
    plic = m.plic
    assert plic.num_contexts == 4
    plic.priority[10] = 1
    plic.enable[3] = 1 << 10                    # hart 1, S-mode
    plic.set_level(10, 1)
    mip = 0x344
    assert m.cores[1].read_csr(mip) & (1 << 9)
    assert not m.cores[1].read_csr(mip) & (1 << 11)
    assert not m.cores[0].read_csr(mip) & ((1 << 9) | (1 << 11))
    plic.enable[0] = 1 << 10                    # hart 0, M-mode
    plic.set_level(10, 1)
    assert m.cores[0].read_csr(mip) & (1 << 11)


def test_device_tree_matches_qemu_layout(tmp_path):
    from pyvmm.machine import fdt
    from pyvmm.machine.machine import Machine
    m = Machine(bios="none", smp=4)
    root, _ = fdt.parse_dtb(fdt.build_dtb(m))
    cpus = root.find("/cpus")
    names = [c.name for c in cpus.children]
    assert names == ["cpu@0", "cpu@1", "cpu@2", "cpu@3", "cpu-map"]
    # QEMU 7.2 numbers cpu 3 first: cpu@3 = 1, its intc 2, ..., cpu@0 = 7, PLIC 9, test 10
    assert [c.u32("phandle") for c in cpus.children[:4]] == [7, 5, 3, 1]
    assert [c.children[0].u32("phandle") for c in cpus.children[:4]] == [8, 6, 4, 2]
    cluster = root.find("/cpus/cpu-map/cluster0")
    assert [(c.name, c.u32("cpu")) for c in cluster.children] == \
        [("core0", 7), ("core1", 5), ("core2", 3), ("core3", 1)]
    plic = root.find("/soc/plic@c000000")
    assert plic.u32("phandle") == 9
    assert plic.cells("interrupts-extended") == [8, 11, 8, 9, 6, 11, 6, 9, 4, 11, 4, 9, 2, 11, 2, 9]
    clint = root.find("/soc/clint@2000000")
    assert clint.cells("interrupts-extended") == [8, 3, 8, 7, 6, 3, 6, 7, 4, 3, 4, 7, 2, 3, 2, 7]
    assert root.find("/soc/test@100000").u32("phandle") == 10
    assert root.find("/poweroff").u32("regmap") == 10


def test_device_tree_same_as_qemu_dump(tmp_path):
    """Where the trees overlap (cpus, PLIC, CLINT), pyvmm's equals QEMU's dumpdtb."""
    qemu = need_tool("qemu-system-riscv64", "QEMU is the reference")
    from pyvmm.machine import fdt
    from pyvmm.machine.machine import Machine
    dump = tmp_path / "q.dtb"
    subprocess.run([qemu, "-machine", f"virt,dumpdtb={dump}", "-smp", "4", "-m", "128M",
                    "-nographic"], capture_output=True, timeout=60, check=True)
    q, _ = fdt.parse_dtb(dump.read_bytes())
    p, _ = fdt.parse_dtb(fdt.build_dtb(Machine(bios="none", smp=4)))
    for path in ("/soc/plic@c000000", "/soc/clint@2000000"):
        assert p.find(path).cells("interrupts-extended") == q.find(path).cells("interrupts-extended")
    for i in range(4):
        qc, pc = q.find(f"/cpus/cpu@{i}"), p.find(f"/cpus/cpu@{i}")
        assert pc.u32("phandle") == qc.u32("phandle")
        assert pc.children[0].u32("phandle") == qc.children[0].u32("phandle")
    assert p.find("/soc/plic@c000000").u32("phandle") == q.find("/soc/plic@c000000").u32("phandle")


def test_smp_limits():
    from pyvmm.machine.machine import Machine
    with pytest.raises(ValueError):
        Machine(bios="none", smp=0)
    with pytest.raises(ValueError):
        Machine(bios="none", smp=9)
    with pytest.raises(ValueError):
        Machine(bios="none", smp=2, hartid=1)

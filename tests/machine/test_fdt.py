"""The device tree pyvmm hands to firmware: structure, round trip, and QEMU 7.2's own tree as oracle."""

import shutil
import struct
import subprocess

import pytest

from pyvmm.machine import fdt, layout


class FakeMachine:
    ram_base = layout.RAM_BASE
    ram_size = 128 << 20
    bootargs = "console=ttyS0 earlycon=sbi"
    hartid = 0


class FakeCore:
    """Just the CSRs isa_string probes: misa and a menvcfg whose STCE may or may not stick."""

    def __init__(self, misa, stce_writable):
        self.csrs = {fdt.CSR_MISA: misa, fdt.CSR_MENVCFG: 0}
        self.stce_writable = stce_writable

    def read_csr(self, n):
        return self.csrs[n]

    def write_csr(self, n, v):
        if n == fdt.CSR_MENVCFG and not self.stce_writable:
            v &= ~fdt.MENVCFG_STCE
        self.csrs[n] = v


def misa_of(letters):
    return (2 << 62) | sum(1 << (ord(c) - ord("a")) for c in letters)


@pytest.fixture(scope="module")
def tree():
    root, header = fdt.parse_dtb(fdt.build_dtb(FakeMachine()))
    return root, header


def test_header_is_v17_and_consistent(tree):
    blob = fdt.build_dtb(FakeMachine())
    _, header = tree
    assert struct.unpack_from(">I", blob)[0] == fdt.FDT_MAGIC
    assert header["version"] == 17 and header["last_comp_version"] == 16
    assert header["totalsize"] == len(blob) and len(blob) % 8 == 0
    assert header["off_mem_rsvmap"] % 8 == 0 and header["off_dt_struct"] % 4 == 0
    assert header["reservations"] == []
    assert header["boot_cpuid_phys"] == 0


def test_root_memory_and_chosen(tree):
    root, _ = tree
    assert root.cells("#address-cells") == [2] and root.cells("#size-cells") == [2]
    assert root.string("compatible") == "riscv-virtio"
    mem = root.find("/memory@80000000")
    assert mem.string("device_type") == "memory"
    assert mem.cells("reg") == [0, 0x8000_0000, 0, 128 << 20]
    chosen = root.find("/chosen")
    assert chosen.string("bootargs") == "console=ttyS0 earlycon=sbi"
    assert chosen.string("stdout-path") == "/soc/serial@10000000"


def test_no_bootargs_property_when_empty():
    m = FakeMachine()
    m.bootargs = ""
    root, _ = fdt.parse_dtb(fdt.build_dtb(m))
    assert "bootargs" not in root.find("/chosen").props


def test_memory_node_follows_ram_size():
    m = FakeMachine()
    m.ram_size = 3 << 30
    root, _ = fdt.parse_dtb(fdt.build_dtb(m))
    assert root.find("/memory@80000000").cells("reg") == [0, 0x8000_0000, 0, 0xC000_0000]


def test_cpus(tree):
    root, _ = tree
    cpus = root.find("/cpus")
    assert cpus.u32("timebase-frequency") == 10_000_000
    assert cpus.u32("#address-cells") == 1 and cpus.u32("#size-cells") == 0
    cpu = cpus.child("cpu@0")
    assert cpu.string("device_type") == "cpu"
    assert cpu.u32("reg") == 0
    assert cpu.string("status") == "okay"
    assert cpu.string("riscv,isa") == "rv64imafdc" + EXTENSIONS + "_sstc"
    assert cpu.string("mmu-type") == "riscv,sv48"
    assert "riscv,cbom-block-size" not in cpu.props      # QEMU 7.2's virt has no Zicbom
    intc = cpu.child("interrupt-controller")
    assert "interrupt-controller" in intc.props and intc.props["interrupt-controller"] == b""
    assert intc.string("compatible") == "riscv,cpu-intc"
    assert intc.u32("#interrupt-cells") == 1
    assert cpus.find("cpu-map/cluster0/core0").u32("cpu") == cpu.u32("phandle")


def phandles(root):
    table = {}
    for path, node in root.walk():
        if "phandle" in node.props:
            ph = node.u32("phandle")
            assert ph not in table, "phandle %d used twice" % ph
            table[ph] = path
    return table


def test_interrupt_wiring(tree):
    root, _ = tree
    ph = phandles(root)
    intc_path = "/cpus/cpu@0/interrupt-controller"
    clint = root.find("/soc/clint@2000000")
    assert clint.strings("compatible") == ["sifive,clint0", "riscv,clint0"]
    assert clint.cells("reg") == [0, 0x200_0000, 0, 0x1_0000]
    ext = clint.cells("interrupts-extended")
    assert [ph[ext[0]], ext[1], ph[ext[2]], ext[3]] == [intc_path, 3, intc_path, 7]

    plic = root.find("/soc/plic@c000000")
    assert plic.strings("compatible") == ["sifive,plic-1.0.0", "riscv,plic0"]
    assert plic.u32("riscv,ndev") == 95
    assert plic.cells("reg") == [0, 0xC00_0000, 0, layout.PLIC_SIZE]
    ext = plic.cells("interrupts-extended")
    assert [ph[ext[0]], ext[1], ph[ext[2]], ext[3]] == [intc_path, 11, intc_path, 9]
    assert plic.u32("#interrupt-cells") == 1 and plic.u32("#address-cells") == 0

    uart = root.find("/soc/serial@10000000")
    assert uart.string("compatible") == "ns16550a"
    assert uart.u32("clock-frequency") == 3686400
    assert uart.u32("interrupts") == 10
    assert ph[uart.u32("interrupt-parent")] == "/soc/plic@c000000"
    assert uart.cells("reg") == [0, 0x1000_0000, 0, 0x100]

    for slot in range(8):
        base = 0x1000_1000 + 0x1000 * slot
        v = root.find("/soc/virtio_mmio@%x" % base)
        assert v.string("compatible") == "virtio,mmio"
        assert v.cells("reg") == [0, base, 0, 0x1000]
        assert v.u32("interrupts") == 1 + slot
        assert ph[v.u32("interrupt-parent")] == "/soc/plic@c000000"


def test_finisher_and_syscon_nodes(tree):
    root, _ = tree
    ph = phandles(root)
    test = root.find("/soc/test@100000")
    assert test.strings("compatible") == ["sifive,test1", "sifive,test0", "syscon"]
    assert test.cells("reg") == [0, 0x10_0000, 0, 0x1000]
    off = root.find("/poweroff")
    assert off.string("compatible") == "syscon-poweroff"
    assert ph[off.u32("regmap")] == "/soc/test@100000"
    assert (off.u32("offset"), off.u32("value")) == (0, 0x5555)
    reboot = root.find("/reboot")
    assert reboot.string("compatible") == "syscon-reboot"
    assert ph[reboot.u32("regmap")] == "/soc/test@100000"
    assert reboot.u32("value") == 0x7777


EXTENSIONS = "_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs"


def test_isa_string_follows_the_core():
    assert fdt.isa_string(FakeCore(misa_of("imacsu"), True)) == "rv64imac" + EXTENSIONS + "_sstc"
    assert fdt.isa_string(FakeCore(misa_of("imacsuh"), True)) == "rv64imach" + EXTENSIONS + "_sstc"
    # F and D in QEMU 7.2's order: rv64imafdch...
    assert fdt.isa_string(FakeCore(misa_of("imafdcsuh"), True)) == "rv64imafdch" + EXTENSIONS + "_sstc"
    core = FakeCore(misa_of("imacsu"), False)
    assert fdt.isa_string(core) == "rv64imac" + EXTENSIONS
    assert core.csrs[fdt.CSR_MENVCFG] == 0, "probing menvcfg must restore it"


def test_parse_rejects_bad_blobs():
    good = fdt.build_dtb(FakeMachine())
    with pytest.raises(fdt.FdtError, match="shorter"):
        fdt.parse_dtb(good[:16])
    with pytest.raises(fdt.FdtError, match="magic"):
        fdt.parse_dtb(b"\0" * 4 + good[4:])
    with pytest.raises(fdt.FdtError, match="totalsize"):
        fdt.parse_dtb(good[:-64])
    _, header = fdt.parse_dtb(good)
    corrupt = bytearray(good)
    struct.pack_into(">I", corrupt, header["off_dt_struct"], 7)
    with pytest.raises(fdt.FdtError, match="token"):
        fdt.parse_dtb(bytes(corrupt))


def test_serialize_roundtrip_with_reservations():
    root = fdt.Node("", {"a": fdt.cells(1, 2)}, [fdt.Node("x@1", {"s": fdt.strings("p", "q")})])
    blob = fdt.serialize(root, boot_cpuid=3, reservations=[(0x8000_0000, 0x20_0000)])
    back, header = fdt.parse_dtb(blob)
    assert header["reservations"] == [(0x8000_0000, 0x20_0000)]
    assert header["boot_cpuid_phys"] == 3
    assert back.cells("a") == [1, 2]
    assert back.find("/x@1").strings("s") == ["p", "q"]


@pytest.fixture(scope="module")
def dtc():
    path = shutil.which("dtc")
    if not path:
        pytest.skip("dtc (Debian package device-tree-compiler) is not installed")
    return path


def test_dtc_accepts_and_roundtrips(dtc, tmp_path):
    blob = fdt.build_dtb(FakeMachine())
    dtb = tmp_path / "pyvmm.dtb"
    dtb.write_bytes(blob)
    dts = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(dtb)], capture_output=True,
                         text=True, check=True).stdout
    assert 'riscv,isa = "rv64imafdc%s_sstc";' % EXTENSIONS in dts
    again = subprocess.run([dtc, "-I", "dts", "-O", "dtb", "-"], input=dts.encode(),
                           capture_output=True, check=True).stdout
    ours, _ = fdt.parse_dtb(blob)
    theirs, _ = fdt.parse_dtb(again)
    assert {p: n.props for p, n in ours.walk()} == {p: n.props for p, n in theirs.walk()}


# Properties where pyvmm deliberately differs from QEMU 7.2's tree:
# the ISA string (different hart), the Zicbom/Zicboz block sizes (QEMU 7.2
# has neither extension; QEMU 8.0 writes them), riscv,ndev (QEMU 7.2 says 96,
# one past the last source; later QEMU says 95 as pyvmm does), and the random seed.
DELIBERATE_DIFFERENCES = {("/cpus/cpu@0", "riscv,isa"), ("/soc/plic@c000000", "riscv,ndev"),
                          ("/chosen", "rng-seed")}


@pytest.fixture(scope="module")
def qemu_tree(tmp_path_factory):
    qemu = shutil.which("qemu-system-riscv64")
    if not qemu:
        pytest.skip("qemu-system-riscv64 is not installed")
    dtb = tmp_path_factory.mktemp("qemu") / "virt.dtb"
    subprocess.run([qemu, "-machine", "virt,dumpdtb=%s" % dtb, "-bios", "none", "-m", "128M",
                    "-smp", "1", "-nographic"], capture_output=True, check=True, timeout=60)
    root, _ = fdt.parse_dtb(dtb.read_bytes())
    return root


def test_every_pyvmm_node_matches_qemu_virt(qemu_tree):
    m = FakeMachine()
    m.bootargs = ""
    ours = dict(fdt.parse_dtb(fdt.build_dtb(m))[0].walk())
    theirs = dict(qemu_tree.walk())
    compared = 0
    for path, node in ours.items():
        assert path in theirs, "QEMU virt has no %s" % path
        for prop, value in node.props.items():
            if (path, prop) in DELIBERATE_DIFFERENCES:
                continue
            assert theirs[path].props.get(prop) == value, "%s:%s differs from QEMU" % (path, prop)
            compared += 1
        missing = set(theirs[path].props) - set(node.props)
        assert missing <= {prop for (p, prop) in DELIBERATE_DIFFERENCES if p == path}, (path, missing)
    assert compared > 80
    # The devices QEMU has that pyvmm's board does not: nothing of ours may be among them.
    assert set(theirs) - set(ours) >= {"/soc/rtc@101000", "/soc/pci@30000000", "/fw-cfg@10100000"}


from hypothesis import given, settings, strategies as st  # noqa: E402

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789,-_@", min_size=1, max_size=12)
_props = st.dictionaries(_names, st.binary(max_size=24), max_size=5)
_trees = st.recursive(
    st.builds(lambda name, props: fdt.Node(name, props), _names, _props),
    lambda children: st.builds(lambda name, props, kids: fdt.Node(name, props, kids),
                               _names, _props, st.lists(children, max_size=4)),
    max_leaves=12)


def _as_data(node):
    return (node.name, dict(node.props), [_as_data(c) for c in node.children])


@settings(max_examples=40, deadline=None)
@given(st.builds(lambda props, kids: fdt.Node("", props, kids), _props, st.lists(_trees, max_size=4)),
       st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(1, 2**64 - 1)), max_size=3))
def test_any_tree_roundtrips(root, reservations):
    blob = fdt.serialize(root, reservations=reservations)
    back, header = fdt.parse_dtb(blob)
    assert _as_data(back) == _as_data(root)
    assert header["reservations"] == reservations
    assert header["totalsize"] == len(blob) and len(blob) % 8 == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, 64))
def test_corrupt_blobs_fail_only_with_fdt_error(edits, cut):
    blob = bytearray(fdt.build_dtb(FakeMachine()))
    for offset, byte in edits:
        blob[offset % len(blob)] = byte
    if cut:
        del blob[-cut:]
    try:
        fdt.parse_dtb(bytes(blob))
    except fdt.FdtError:
        pass

"""The monitor through its Python API: Monitor(machine or vm).execute(line) -> text."""

import struct

import pytest

pytest.importorskip("pyvmm._core")

from pyvmm.debug.monitor import ConsoleMux, Monitor, MonitorError, parse_monitor_spec  # noqa: E402
from pyvmm.isa.csrs import CSRS  # noqa: E402
from pyvmm.machine import Machine  # noqa: E402

SPIN = """
    .globl _start
_start:
    li t0, 0x1234
    la t1, message
loop:
    addi t0, t0, 1
    j loop
    .data
message: .ascii "Hi!\\n"
    .balign 8
number: .dword -2
"""

V, R, W, X, U, A, D = 1, 2, 4, 8, 16, 64, 128


@pytest.fixture
def spin(tmp_path):
    path = tmp_path / "spin.S"
    path.write_text(SPIN)
    return path


@pytest.fixture
def machine(spin):
    m = Machine(console=None, smp=2)
    m.load(spin)
    m.run(max_insns=1000)
    return m


def test_info_registers_current_and_all(machine):
    monitor = Monitor(machine)
    text = monitor.execute("info registers")
    lines = text.splitlines()
    assert lines[0] == " V      =   0"
    assert lines[1] == " priv     M"
    core = machine.cores[0]
    assert f" pc       {core.pc:016x}" in lines
    assert " mhartid  0000000000000000" in lines
    assert any(line.startswith(" satp     ") for line in lines)
    t0 = core.get_x(5)
    assert f" x5/t0    {t0:016x}" in text
    assert lines[-1].startswith(" x28/t3   ") and lines[-1].split()[-2] == "x31/t6"
    every = monitor.execute("info registers -a")
    assert every.startswith("CPU#0\n") and "\nCPU#1\n" in every
    assert " mhartid  0000000000000001" in every
    assert monitor.execute("info registers -x") == \
        "info registers: unexpected argument '-x' (only -a)\n"


def test_info_cpus_marks_the_current_cpu(machine):
    monitor = Monitor(machine)
    pc0, pc1 = machine.cores[0].pc, machine.cores[1].pc
    assert monitor.execute("info cpus") == (
        f"* CPU #0: pc=0x{pc0:016x} priv=M (running)\n"
        f"  CPU #1: pc=0x{pc1:016x} priv=M (running)\n")
    assert monitor.execute("cpu 1") == ""
    assert monitor.execute("info cpus").splitlines()[1].startswith("* CPU #1:")
    assert monitor.execute("info registers").count("mhartid  0000000000000001") == 1
    assert monitor.execute("cpu 2") == "cpu: invalid CPU index '2' (0..1)\n"
    assert monitor.execute("cpu") == "cpu: invalid CPU index '' (0..1)\n"


def test_info_mtree_names_ram_and_every_device(machine):
    text = Monitor(machine).execute("info mtree")
    lines = text.splitlines()
    assert lines[0] == "address-space: memory"
    assert "    0000000080000000-0000000087ffffff (prio 0, ram): ram" in lines
    assert "    0000000010000000-00000000100000ff (prio 0, i/o): uart0" in lines
    assert "    0000000002000000-000000000200ffff (prio 0, i/o): clint" in lines
    assert "    000000000c000000-000000000c5fffff (prio 0, i/o): plic" in lines
    bases = [int(line.split("-")[0], 16) for line in lines[2:]]
    assert bases == sorted(bases)


def test_memory_dumps_in_qemu_formats(machine):
    monitor = Monitor(machine)
    message = machine.symbols["message"]
    assert monitor.execute(f"xp /4c {message:#x}") == f"{message:016x}: 'H' 'i' '!' '\\n'\n"
    assert monitor.execute("x /1xg number") == f"{machine.symbols['number']:016x}: 0xfffffffffffffffe\n"
    assert monitor.execute("x /1dg number") == \
        f"{machine.symbols['number']:016x}:                   -2\n"
    # QEMU's default unit is a word, 16 bytes a line
    word = struct.unpack("<5I", machine.core.read_mem(0x8000_0000, 20))
    assert monitor.execute("xp /5xw 0x80000000") == (
        "0000000080000000: " + " ".join(f"0x{w:08x}" for w in word[:4]) + "\n"
        f"0000000080000010: 0x{word[4]:08x}\n")
    # the format and size stay for the next command, as QEMU's do
    assert monitor.execute("xp /2xh 0x80000000").count("0x") == 2
    assert monitor.execute("xp 0x80000000") == \
        f"0000000080000000: 0x{word[0] & 0xFFFF:04x}\n"
    assert monitor.execute("xp /3ub 0x80000000") == "0000000080000000: " + " ".join(
        f"{b:3d}" for b in machine.core.read_mem(0x8000_0000, 3)) + "\n"


def test_x_i_disassembles_at_the_pc(machine):
    monitor = Monitor(machine)
    monitor.execute("cpu 1")                    # hart 1 has not run: it sits at the entry
    text = monitor.execute("x /2i $pc")
    first, second = text.splitlines()
    assert first.startswith("0x0000000080000000:  ") and "lui" in first and "t0" in first
    assert second.startswith("0x0000000080000002:  ")
    loop = machine.symbols["loop"]
    assert monitor.execute(f"x /2i {loop:#x}").splitlines()[1].endswith(f"j       {loop:x} <loop>")
    monitor.execute("cpu 0")
    assert monitor.execute("x /1i $t1 + 4 - 4").startswith(f"0x{machine.symbols['message']:016x}:")


def test_bad_memory_and_bad_arguments_are_one_line(machine):
    monitor = Monitor(machine)
    assert monitor.execute("xp /4x 0x10000000") == "0000000010000000: Cannot access memory\n"
    assert monitor.execute("x /2i 0x0") == "0x0000000000000000: Cannot access memory\n"
    assert monitor.execute("x /4z 0") == "x: invalid char in format: 'z'\n"
    assert monitor.execute("x /4x") == "x: an address is required\n"
    assert monitor.execute("x /4x nowhere") == "x: invalid address 'nowhere'\n"
    assert monitor.execute("x /4x $q9") == "x: unknown register '$q9'\n"
    assert monitor.execute("xp /100000x 0") == "xp: at most 65536 bytes at a time\n"
    assert monitor.execute("frobnicate 3") == "unknown command: 'frobnicate'\n"
    assert monitor.execute("system_reset") == "unknown command: 'system_reset'\n"
    assert monitor.execute("info") == "".join(f"info {s}\n" for s in (
        "registers", "cpus", "mtree", "mem", "tlb", "stats", "status", "balloon"))
    assert monitor.execute("info frob").startswith("info: unknown subcommand 'frob'")
    assert monitor.execute("info cpus now") == "info cpus: unexpected argument 'now'\n"
    assert monitor.execute("stop please") == "stop: unexpected argument 'please'\n"
    assert monitor.execute("   ") == ""
    # the guest is untouched
    pc = machine.cores[0].pc
    machine.run(max_insns=100)
    assert machine.cores[0].pc != pc or machine.cores[0].instret > 1000


def test_stop_cont_quit_and_status(machine):
    monitor = Monitor(machine)
    assert monitor.execute("info status") == "VM status: running\n"
    assert monitor.execute("stop") == "" and monitor.stopped
    assert monitor.execute("info status") == "VM status: paused\n"
    assert monitor.execute("c") == "" and not monitor.stopped
    assert not monitor.quit_requested
    assert monitor.execute("q") == "" and monitor.quit_requested


def test_help_lists_and_filters(machine):
    monitor = Monitor(machine)
    text = monitor.execute("help")
    for name in ("info registers", "info mtree", "x /fmt addr", "xp /fmt addr", "stop", "cont|c",
                 "quit|q"):
        assert name in text
    assert monitor.execute("help xp") == "xp /fmt addr -- physical memory dump starting at 'addr'\n"
    assert monitor.execute("help nothing") == "help: unknown command: 'nothing'\n"


def test_info_stats_is_the_stats_counters(machine):
    text = Monitor(machine).execute("info stats")
    lines = text.splitlines()
    assert "instret: 1000" in lines and "how: budget" in lines
    assert "harts.harts: 2" in lines


def _pte(ppn_addr, flags):
    return ((ppn_addr >> 12) << 10) | flags


def _write_pte(machine, table, index, value):
    machine.core.write_mem(table + 8 * index, struct.pack("<Q", value))


def test_info_mem_tlb_and_x_through_satp(machine):
    """Sv39 tables built by hand: a 2 MiB page, two 4 KiB pages that run on, one apart."""
    root, mid, leaf = 0x8010_0000, 0x8010_1000, 0x8010_2000
    for table in (root, mid, leaf):
        machine.core.write_mem(table, bytes(4096))
    _write_pte(machine, root, 2, _pte(mid, V))                        # va 0x8000_0000..
    _write_pte(machine, mid, 0, _pte(0x8000_0000, V | R | W | X | A | D))   # 2M at 0x8000_0000
    _write_pte(machine, mid, 1, _pte(leaf, V))                        # va 0x8020_0000..
    _write_pte(machine, leaf, 0, _pte(0x8030_0000, V | R | U | A))
    _write_pte(machine, leaf, 1, _pte(0x8030_1000, V | R | U | A))
    _write_pte(machine, leaf, 3, _pte(0x8040_0000, V | R | W | A | D))
    _write_pte(machine, root, 511, _pte(0x8000_0000, V | R | X | A))    # a 1G page, high half
    core = machine.cores[0]
    core.write_csr(CSRS["satp"], (8 << 60) | (root >> 12))
    monitor = Monitor(machine)
    assert monitor.execute("info mem") == (
        "vaddr            paddr            size             attr\n"
        "---------------- ---------------- ---------------- -------\n"
        "0000000080000000 0000000080000000 0000000000200000 rwx--ad\n"
        "0000000080200000 0000000080300000 0000000000002000 r--u-a-\n"
        "0000000080203000 0000000080400000 0000000000001000 rw---ad\n"
        "ffffffffc0000000 0000000080000000 0000000040000000 r-x--a-\n")
    assert monitor.execute("info tlb") == (
        "satp sv39:\n"
        "0000000080000000: 0000000080000000   2M rwx--ad\n"
        "0000000080200000: 0000000080300000   4K r--u-a-\n"
        "0000000080201000: 0000000080301000   4K r--u-a-\n"
        "0000000080203000: 0000000080400000   4K rw---ad\n"
        "ffffffffc0000000: 0000000080000000   1G r-x--a-\n")
    # M-mode loads are not translated; S-mode ones are
    core.write_mem(0x8030_0010, b"\x11\x22\x33\x44")
    core.write_mem(0x8020_0010, b"\x55\x66\x77\x88")
    assert monitor.execute("x /1x 0x80200010") == "0000000080200010: 0x88776655\n"
    core.priv = 1
    assert monitor.execute("x /1x 0x80200010") == "0000000080200010: 0x44332211\n"
    assert monitor.execute("x /1x 0x80202000") == "0000000080202000: Cannot access memory\n"
    assert monitor.execute("x /1x 0xffffffffc0000000") == \
        f"ffffffffc0000000: 0x{struct.unpack('<I', core.read_mem(0x8000_0000, 4))[0]:08x}\n"
    # a bare satp
    core.write_csr(CSRS["satp"], 0)
    assert monitor.execute("info mem") == "No translation or protection\n"
    assert monitor.execute("info tlb") == "No translation or protection\n"


def test_two_stage_translation_at_v1(machine):
    """vsatp's tables live in guest-physical memory, found through hgatp."""
    core = machine.cores[0]
    if not hasattr(core, "virt"):
        pytest.skip("the core has no H extension")
    g_root, g_mid = 0x8020_0000, 0x8010_0000          # Sv39x4: a 16 KiB root
    vs_root, vs_mid, vs_leaf = 0x8000_1000, 0x8000_2000, 0x8000_3000   # guest-physical
    host = {gpa: gpa + 0x40_0000 for gpa in (vs_root, vs_mid, vs_leaf)}
    for table in (g_root, g_mid) + tuple(host.values()):
        machine.core.write_mem(table, bytes(16384 if table == g_root else 4096))
    _write_pte(machine, g_root, 2, _pte(g_mid, V))
    # guest-physical 0x8000_0000 (2M) -> host 0x8040_0000, for every access kind
    _write_pte(machine, g_mid, 0, _pte(0x8040_0000, V | R | W | X | U | A | D))
    # the VS tables, at their host addresses: va 0x1000 -> gpa 0x8000_5000 (4K)
    _write_pte(machine, host[vs_root], 0, _pte(vs_mid, V))
    _write_pte(machine, host[vs_mid], 0, _pte(vs_leaf, V))
    _write_pte(machine, host[vs_leaf], 1, _pte(0x8000_5000, V | R | W | A | D))
    core.write_mem(0x8040_5000, b"\xef\xbe\xad\xde")
    core.write_csr(CSRS["hgatp"], (8 << 60) | (g_root >> 12))
    core.write_csr(CSRS["vsatp"], (8 << 60) | (vs_root >> 12))
    core.priv = 1
    core.virt = 1
    monitor = Monitor(machine)
    regs = monitor.execute("info registers").splitlines()
    assert regs[:2] == [" V      =   1", " priv     VS"]
    assert monitor.execute("info mem") == (
        "two-stage translation: vsatp sv39, hgatp sv39x4\n"
        "vaddr            gpaddr           paddr            size             attr    gattr\n"
        "---------------- ---------------- ---------------- ---------------- ------- -------\n"
        "0000000000001000 0000000080005000 0000000080405000 0000000000001000 rw---ad rwxu-ad\n")
    assert monitor.execute("info tlb") == (
        "vsatp sv39, hgatp sv39x4:\n"
        "0000000000001000: 0000000080005000 -> 0000000080405000   4K rw---ad rwxu-ad\n")
    assert monitor.execute("x /1x 0x1000") == "0000000000001000: 0xdeadbeef\n"
    assert monitor.execute("x /1x 0x2000") == "0000000000002000: Cannot access memory\n"
    assert monitor.execute("info cpus").startswith("* CPU #0: pc=0x")
    assert "priv=VS" in monitor.execute("info cpus")
    # a bare vsatp: the G stage alone
    core.write_csr(CSRS["vsatp"], 0)
    assert monitor.execute("info mem").splitlines()[3] == (
        "0000000080000000 0000000080000000 0000000080400000 0000000000200000 ------- rwxu-ad")


def test_a_page_table_that_loops_is_listed_and_cut_off(machine):
    root = 0x8010_0000
    machine.core.write_mem(root, bytes(4096))
    for i in range(512):
        _write_pte(machine, root, i, _pte(root, V))     # every entry points back at the root
    machine.cores[0].write_csr(CSRS["satp"], (8 << 60) | (root >> 12))
    text = Monitor(machine).execute("info tlb")
    assert text.endswith("(listing stopped after 65536 leaves or 16384 tables)\n")


def test_the_console_mux():
    written = []
    monitor = Monitor.__new__(Monitor)
    mux = ConsoleMux(monitor, written.append)
    assert mux.filter(b"ab\x01\x01c\x01a") == b"ab\x01c\x01"
    assert mux.filter(b"\x01") == b"" and mux.filter(b"c") == b""   # an escape split across reads
    assert mux.focus_monitor and written[-1].startswith(b"pyvmm monitor")
    assert mux.filter(b"info cpus\r\nx /2x 0\x7f1\n") == b""
    assert mux.events == [("line", "info cpus"), ("line", "x /2x 1")]
    assert mux.filter(b"\x01cguest\x01x") == b"guest"
    assert mux.events[-1] == ("quit",)
    assert mux.filter(b"\x01h") == b"" and b"C-a x" in written[-1]
    assert mux.filter(b"\x01z") == b""          # an unknown escape is dropped, as QEMU drops it


def test_monitor_spec_parsing():
    assert parse_monitor_spec("stdio") == ("stdio",)
    assert parse_monitor_spec("tcp:127.0.0.1:4444") == ("tcp", "127.0.0.1", 4444)
    assert parse_monitor_spec("tcp:localhost:0,server,nowait") == ("tcp", "localhost", 0)
    for bad in ("tcp:127.0.0.1", "tcp::4444", "tcp:127.0.0.1:99999", "telnet:x:1", "vc",
                "tcp:127.0.0.1:4444,wait=on"):
        with pytest.raises(MonitorError):
            parse_monitor_spec(bad)


def test_a_vm_shows_its_vcpus_and_guest_physical_map():
    from pyvmm.hv import Host
    host = Host(ram_size=48 << 20)
    if not hasattr(host.core, "virt"):
        pytest.skip("the core has no H extension")
    vm = host.create_vm(ram_size=16 << 20, paging="nested", technique="hw", console=None)
    vm.load("guests/kernel/kernel.elf")
    vm.run(300_000)
    monitor = Monitor(vm)
    vcpu = vm.vcpus[0]
    assert monitor.execute("info cpus") == f"* CPU #0: pc=0x{vcpu.pc:016x} priv=S (running)\n"
    regs = monitor.execute("info registers")
    assert regs.startswith(f" priv     S\n pc       {vcpu.pc:016x}\n sstatus  ")
    satp = vcpu.get_csr("vsatp")
    assert f" satp     {satp:016x}" in regs
    mtree = monitor.execute("info mtree").splitlines()
    assert mtree[0] == f"address-space: {vm.name} guest-physical"
    assert f"    {vm.ram_base:016x}-{vm.ram_base + vm.ram_size - 1:016x} (prio 0, ram): ram" in mtree
    assert "clint" not in "".join(mtree)
    assert any(line.endswith("(prio 0, i/o): uart0") for line in mtree)
    mem = monitor.execute("info mem").splitlines()
    assert satp >> 60 == 8 and mem[0].startswith("vaddr            paddr")
    # the kernel maps itself at its guest-physical address
    kernel = vm.kernel_image.entry
    assert any(int(row.split()[0], 16) <= kernel < int(row.split()[0], 16) + int(row.split()[2], 16)
               for row in mem[2:])
    first = vm.read(kernel, 4)
    assert monitor.execute(f"xp /1x {kernel:#x}") == \
        f"{kernel:016x}: 0x{struct.unpack('<I', first)[0]:08x}\n"
    assert monitor.execute(f"x /1x {kernel:#x}") == monitor.execute(f"xp /1x {kernel:#x}")
    assert monitor.execute("xp /1x 0x1000") == "0000000000001000: Cannot access memory\n"

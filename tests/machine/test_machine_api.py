"""The Machine's Python API on the real core: boot state, the repository's
guests through pyvmm's own assembler, tracing through page tables."""

import io
import os

import pytest

from board_helpers import REPO, error_line, make_elf, needs_core, run_cli
from pyvmm.machine.layout import RAM_BASE

pytestmark = needs_core

GUESTS = os.path.join(REPO, "guests")
GiB = 1 << 30


def machine(**kw):
    from pyvmm.machine import Machine
    kw.setdefault("console", None)
    return Machine(**kw)


def test_device_tree_placement_and_bootargs(tmp_path):
    from pyvmm.machine.fdt import parse_dtb
    image = tmp_path / "spin.bin"
    image.write_bytes(bytes.fromhex("6f000000"))            # j .
    m = machine(ram_size=GiB, bootargs="console=ttyS0 quiet")
    m.load(image)
    assert m.run(max_insns=100).how == "budget"
    # QEMU's riscv_compute_fdt_addr: 2 MiB-aligned, just below min(RAM end, 3 GiB).
    assert m.dtb_addr == 0xBFE0_0000
    assert int(m.core.x[11]) == m.dtb_addr and int(m.core.x[10]) == 0
    root, _ = parse_dtb(m.core.read_mem(m.dtb_addr, 0x10000))
    assert root.find("/chosen").string("bootargs") == "console=ttyS0 quiet"
    assert m.core.pc == RAM_BASE                             # `j .` spins in place


def test_image_overlapping_the_device_tree_is_refused(tmp_path):
    from pyvmm.machine.loader import ImageError
    image = tmp_path / "big.bin"
    image.write_bytes(bytes(3 << 20))
    m = machine(ram_size=4 << 20)
    m.load(image)
    with pytest.raises(ImageError, match="overlaps the device tree"):
        m.run()


def test_firmware_gets_fw_dynamic_info_in_a2(tmp_path):
    """QEMU's riscv_rom_copy_firmware_info: magic "OSBI", version 2, the kernel entry,
    S-mode, no options, boot hart 0; pyvmm keeps it 4 KiB below the device tree."""
    import struct
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(bytes.fromhex("6f000000"))         # j .
    kernel = tmp_path / "kernel.bin"
    kernel.write_bytes(bytes.fromhex("6f000000"))
    m = machine(bios=str(firmware), kernel=str(kernel))
    assert m.run(max_insns=100).how == "budget"
    a2 = int(m.core.x[12])
    assert a2 == m.fw_dynamic_info_addr == m.dtb_addr - 4096
    assert struct.unpack("<6Q", m.core.read_mem(a2, 48)) == (
        0x4942534F, 2, RAM_BASE + 0x20_0000, 1, 0, 0)
    assert (int(m.core.x[10]), int(m.core.x[11])) == (0, m.dtb_addr)


def test_fw_dynamic_info_without_a_kernel_and_without_firmware(tmp_path):
    import struct
    image = tmp_path / "spin.bin"
    image.write_bytes(bytes.fromhex("6f000000"))
    m = machine(bios=str(image))
    m.run(max_insns=10)
    assert struct.unpack("<6Q", m.core.read_mem(int(m.core.x[12]), 48))[2:4] == (0, 1)
    bare = machine()
    bare.load(image)
    bare.run(max_insns=10)
    assert bare.fw_dynamic_info_addr is None and int(bare.core.x[12]) == 0


def test_image_overlapping_the_fw_dynamic_info_is_refused(tmp_path):
    from pyvmm.machine.loader import ImageError
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(bytes.fromhex("6f000000"))
    kernel = tmp_path / "kernel.bin"
    # 8 MiB of RAM: the device tree at +6 MiB, the info at +6 MiB - 4 KiB.
    kernel.write_bytes(bytes(0x1000))
    m = machine(ram_size=8 << 20, bios=str(firmware))
    m.load(kernel, load_addr=RAM_BASE + (6 << 20) - 0x1800)
    with pytest.raises(ImageError, match="overlaps the firmware dynamic info"):
        m.run()


def needs_pyvmm_asm():
    try:
        from pyvmm.asm import assemble_file  # noqa: F401
    except ImportError:
        pytest.skip("pyvmm.asm.assemble_file is not available")


@pytest.mark.parametrize("guest,tail", [
    ("hello.S", b"Hello from pyvmm!\n"),
    ("skernel.S", b"page faults fixed: 0x0000000000000001\n"),
])
def test_repository_guests_assembled_by_pyvmm(guest, tail):
    needs_pyvmm_asm()
    m = machine()
    m.load(os.path.join(GUESTS, guest))
    assert tuple(m.run(max_insns=10_000_000)) == (0, "finisher-pass", 0)
    assert m.uart_output.endswith(tail)


def test_trace_follows_sv39_into_user_mode():
    needs_pyvmm_asm()
    out = io.StringIO()
    m = machine(trace={"in_asm", "int", "exec"}, trace_out=out)
    m.load(os.path.join(GUESTS, "skernel.S"))
    assert m.run(max_insns=10_000_000).how == "finisher-pass"
    lines = out.getvalue().splitlines()
    user = [line.split()[1] for line in lines if line.startswith("exec:") and line.endswith(" U")]
    assert user, "the guest's user task never showed up in the trace"
    # The user task's first instruction, disassembled from its virtual address.
    assert any(line.startswith(user[0] + ":  ") for line in lines)
    faults = [line for line in lines if "store/AMO page fault" in line]
    assert len(faults) == 1 and faults[0].endswith("-> S")
    assert "tval=0x40003000" in faults[0]


def test_htif_on_needs_tohost(tmp_path):
    elf = tmp_path / "plain.elf"
    elf.write_bytes(make_elf([(RAM_BASE, bytes.fromhex("6f000000"), 4)], RAM_BASE))
    proc = run_cli(elf, "--htif", "on")
    assert proc.returncode == 2
    assert "no loaded image defines a `tohost` symbol" in error_line(proc)


def test_realtime_mode_runs(tmp_path):
    needs_pyvmm_asm()
    proc = run_cli(os.path.join(GUESTS, "hello.S"), "--realtime")
    assert proc.returncode == 0 and proc.stdout == b"Hello from pyvmm!\n"


def test_two_machines_are_independent_and_identical():
    needs_pyvmm_asm()
    results = []
    for _ in range(2):
        m = machine()
        m.load(os.path.join(GUESTS, "trap_demo.S"))
        result = m.run(max_insns=10_000_000)
        stats = m.stats()
        del stats["host_seconds"], stats["mips"]
        results.append((tuple(result), m.uart_output, stats))
    assert results[0] == results[1]
    assert results[0][2]["interrupts"]      # the timer interrupt really happened


def test_exec_trace_counts_every_instruction_once():
    """Each retired instruction once, plus each one that trapped instead;
    an interrupt's line is followed by the handler's first instruction."""
    needs_pyvmm_asm()
    out = io.StringIO()
    m = machine(trace="exec,int")
    m.tracer.out = out
    m.load(os.path.join(GUESTS, "trap_demo.S"))
    assert m.run(max_insns=10_000_000).how == "finisher-pass"
    stats = m.stats()
    lines = out.getvalue().splitlines()
    execs = sum(1 for line in lines if line.startswith("exec:"))
    assert execs == stats["instret"] + sum(stats["traps"].values())
    mtvec = m.core.read_csr(0x305) & ~3
    irq = next(i for i, line in enumerate(lines) if "machine timer interrupt" in line)
    assert lines[irq + 1] == f"exec: {mtvec:#x} M"
    assert "epc=0x" in lines[irq] and lines[irq - 1].startswith("exec: ")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_close_gives_guest_ram_back_at_once(tmp_path):
    image = tmp_path / "spin.bin"
    image.write_bytes(bytes.fromhex("6f000000"))            # j .
    touched = 64 << 20
    with machine(ram_size=256 << 20) as m:
        m.load(image)
        m.memory.fill(RAM_BASE + (32 << 20), touched, 0xA5)
        assert m.run(max_insns=10).how == "budget"
        held = _rss_bytes()
        keep = m                                             # still referenced after close
    assert _rss_bytes() < held - touched // 2
    with pytest.raises(RuntimeError, match="closed"):
        keep.run(max_insns=10)
    # What the machine's views see afterwards is zeroed memory, never freed memory.
    assert keep.core.read_mem(RAM_BASE + (32 << 20), 4) == bytes(4)


def test_a_machine_runs_without_numpy(tmp_path):
    """Guest RAM and registers are the core's own memory: a plain run never
    needs NumPy (start-up stays short), and numpy views appear on request."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['numpy'] = None\n"
            "from pyvmm.machine import Machine\n"
            "m = Machine(console=None)\n"
            f"m.load({os.path.join(GUESTS, 'hello.S')!r})\n"
            "print(m.run(max_insns=100000).how)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "finisher-pass"

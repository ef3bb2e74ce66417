"""--trace classes beside in_asm, int and exec: cpu, mmu, exit, guest_errors,
unimp; --trace-filter; their usage errors. Each on a small guest, compared
with the lines it must give."""

import io

import pytest

from board_helpers import error_line, needs_core, run_cli
from pyvmm.machine.trace import Tracer, parse_classes, parse_filter

pytestmark = needs_core

FINISH_PASS = """
    li t0, 0x100000
    li t1, 0x5555
at_finish:
    sw t1, 0(t0)
1:  j 1b
"""

# M-mode: the UART's THR, a hardwired counter, an RTC offset the device
# lacks, a PLIC register no context has, then an address nothing decodes
# (the access fault's handler passes).
DEVICES = """
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t0, 0x10000000
    li a0, 'h'
at_uart:
    sb a0, 0(t0)
at_csr:
    csrr a1, hpmcounter3
    li t0, 0x101000
at_rtc:
    lw a2, 0x20(t0)
    li t0, 0x0c200000
at_plic:
    sw zero, 8(t0)
    li t0, 0x3000
at_bus:
    lw a3, 0(t0)
    j .
    .balign 4
handler:
""" + FINISH_PASS

# Sv39 from S-mode (a PMP rule first: QEMU 7.2 leaves M-mode only with one): root at +0x2000 (entry 2 -> the level-1 table at +0x3000,
# entry 0 a gigapage over the devices), level 1 at +0x3000 -> level 0 at
# +0x4000, which maps the code page and the data page at +0x5000 (A and D
# preset, so the walks leave every PTE as it was). The S-mode code loads from
# the data page, then from an address the tables do not map: the page fault
# goes to M-mode, which passes.
PAGING = """
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t0, 0x3fffffffffffff
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, (8 << 60) | (0x80002000 >> 12)
    csrw satp, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    li t0, 0x80005000
    ld a0, 0(t0)
    li t0, 0x40000000
    ld a0, 0(t0)
    j .
    .balign 4
handler:
""" + FINISH_PASS + """
    .org 0x2000
    .dword 0xcf
    .dword 0
    .dword (0x80003000 >> 12 << 10) | 1
    .org 0x3000
    .dword (0x80004000 >> 12 << 10) | 1
    .org 0x4000
    .dword (0x80000000 >> 12 << 10) | 0xcf
    .dword 0, 0, 0, 0
    .dword (0x80005000 >> 12 << 10) | 0xc7
    .org 0x5000
    .dword 0x1234
"""


def trace_run(tmp_path, source, classes, filters=None, **kw):
    from pyvmm.machine import Machine
    path = tmp_path / "guest.S"
    path.write_text(source)
    out = io.StringIO()
    m = Machine(console=None, trace=classes, trace_out=out, **kw)
    m.tracer.filters = filters
    m.load(path)
    result = m.run(max_insns=100_000)
    return m, result, out.getvalue().splitlines()


def test_exit_guest_errors_unimp(tmp_path):
    m, result, lines = trace_run(tmp_path, DEVICES, "exit,guest_errors,unimp")
    assert result.how == "finisher-pass"
    at = {name: f"{addr:#x}" for name, addr in m.symbols.items()}
    assert lines == [
        f"exit: mmio store addr=0x10000000 size=1 data=0x68 pc={at['at_uart']}",
        f"unimp: pc={at['at_csr']}: hpmcounter3 (0xc03) is not implemented: the counter reads as zero",
        f"exit: mmio load addr=0x101020 size=4 pc={at['at_rtc']}",
        f"unimp: pc={at['at_rtc']}: rtc: read of offset 0x20 is not implemented",
        f"exit: mmio store addr=0xc200008 size=4 data=0x0 pc={at['at_plic']}",
        f"guest_errors: pc={at['at_plic']}: plic: invalid register write: 0x200008",
        f"exit: mmio load addr=0x3000 size=4 pc={at['at_bus']}",
        f"guest_errors: pc={at['at_bus']}: 4-byte load at 0x3000: no device at 0x3000",
        f"exit: mmio store addr=0x100000 size=4 data=0x5555 pc={at['at_finish']}",
    ]


def test_cpu_dump_in_qemu_layout(tmp_path):
    m, _, lines = trace_run(tmp_path, DEVICES, {"cpu"})
    start = m.symbols["_start"]
    first = lines[:lines.index(" x28/t3   0000000000000000 x29/t4   0000000000000000 "
                               "x30/t5   0000000000000000 x31/t6   0000000000000000") + 1]
    assert first[:4] == [" V      =   0", f" pc       {start:016x}", " mhartid  0000000000000000",
                         " mstatus  0000000a00000000"]
    names = [line.split()[0] for line in first[2:-8]]
    assert names == ["mhartid", "mstatus", "hstatus", "vsstatus", "mip", "mie", "mideleg",
                     "hideleg", "medeleg", "hedeleg", "mtvec", "stvec", "vstvec", "mepc", "sepc",
                     "vsepc", "mcause", "scause", "vscause", "mtval", "stval", "htval", "mtval2",
                     "mscratch", "sscratch", "satp"]
    assert first[-8] == (" x0/zero  0000000000000000 x1/ra    0000000000000000 "
                         "x2/sp    0000000000000000 x3/gp    0000000000000000")
    assert first[-6].startswith(" x8/s0    0000000000000000 x9/s1    0000000000000000 "
                                "x10/a0   0000000000000000 x11/a1   ")
    # the second dump: t0 holds the handler's address from the first instruction (auipc)
    second = lines[len(first):2 * len(first)]
    assert second[1] == f" pc       {start + 4:016x}"
    assert second[-7].startswith(f" x4/tp    0000000000000000 x5/t0    {start:016x}")


def test_mmu_walks_of_fetch_data_and_fault(tmp_path):
    m, result, lines = trace_run(tmp_path, PAGING, {"mmu"})
    assert result.how == "finisher-pass"
    smode = m.symbols["smode"]
    walk_code = ["mmu:   l2 pte@0x80002010 = 0x0000000020000c01",
                 "mmu:   l1 pte@0x80003000 = 0x0000000020001001",
                 "mmu:   l0 pte@0x80004000 = 0x00000000200000cf"]
    assert lines == [
        f"mmu: fetch va={smode:#x} S satp=sv39 root=0x80002000", *walk_code,
        f"mmu:   -> pa={smode:#x}",
        "mmu: load va=0x80005000 S satp=sv39 root=0x80002000",
        "mmu:   l2 pte@0x80002010 = 0x0000000020000c01",
        "mmu:   l1 pte@0x80003000 = 0x0000000020001001",
        "mmu:   l0 pte@0x80004028 = 0x00000000200014c7",
        "mmu:   -> pa=0x80005000",
        "mmu: load va=0x40000000 S satp=sv39 root=0x80002000",
        "mmu:   l2 pte@0x80002008 = 0x0000000000000000",
        "mmu:   -> fault cause=0xd (load page fault) (invalid pte)",
    ]


def test_filter_keeps_instruction_classes_in_range(tmp_path):
    m, _, lines = trace_run(tmp_path, DEVICES, "exec,exit", filters=parse_filter("0x80000000+8"))
    start = m.symbols["_start"]
    execs = [line for line in lines if line.startswith("exec:")]
    assert execs == [f"exec: {start:#x} M", f"exec: {start + 4:#x} M"]
    assert sum(line.startswith("exit:") for line in lines) == 5     # exits are not filtered


@pytest.mark.parametrize("text, ranges", [
    ("0x1000+0x100", [(0x1000, 0x10FF)]),
    ("0x1000..0x10ff", [(0x1000, 0x10FF)]),
    ("0x10ff-0x100", [(0x1000, 0x10FF)]),
    ("0x1000+16, 4096..4096", [(0x1000, 0x100F), (0x1000, 0x1000)]),
])
def test_parse_filter(text, ranges):
    assert parse_filter(text) == ranges


@pytest.mark.parametrize("text", ["0x1000", "0x1000+0", "0x2000..0x1000", "zz+4", "0x10-0x20", ""])
def test_parse_filter_refuses(text):
    with pytest.raises(ValueError, match="bad filter range"):
        parse_filter(text)


def test_every_class_parses_and_the_tracer_takes_it():
    classes = parse_classes("in_asm,int,exec,cpu,mmu,exit,guest_errors,unimp")
    assert len(classes) == 8
    assert Tracer(classes, io.StringIO(), 0x8000_0000, 4096).classes == classes


@pytest.mark.parametrize("args, message", [
    (["--trace", "cpu,mmux"], "unknown trace class 'mmux'"),
    (["--trace-filter", "0x0+4"], "--trace-filter needs --trace"),
    (["--trace", "exec", "--trace-filter", "0x1000"], "--trace-filter: bad filter range '0x1000'"),
    (["--trace", "exec", "--trace-filter", "0x1000+0x10,9..1"], "--trace-filter: bad filter range '9..1'"),
])
def test_cli_usage_errors(tmp_path, args, message):
    guest = tmp_path / "g.S"
    guest.write_text(DEVICES)
    proc = run_cli(guest, *args)
    assert proc.returncode == 2
    assert message in error_line(proc)
    assert len(proc.stderr.decode().strip().splitlines()) == 1


def test_cli_trace_file_with_filter(tmp_path):
    guest = tmp_path / "g.S"
    guest.write_text(DEVICES)
    log = tmp_path / "trace.txt"
    proc = run_cli(guest, "--trace", "exec,unimp", "--trace-file", log,
                   "--trace-filter", "0x80000000..0x80000003")
    assert proc.returncode == 0 and proc.stderr == b""
    lines = log.read_text().splitlines()
    assert lines[0] == "exec: 0x80000000 M"
    assert [line.split(":")[0] for line in lines] == ["exec", "unimp", "unimp"]

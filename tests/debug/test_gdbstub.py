"""The GDB stub: gdb-multiarch as the real client, and the protocol's bad input."""

import shutil
import socket
import subprocess
import threading

import pytest

pytest.importorskip("pyvmm._core", reason="pyvmm._core is not built")
from pyvmm.debug.gdbstub import GdbStub  # noqa: E402
from pyvmm.machine.machine import Machine  # noqa: E402
from test_gdb_cli import BOARD_FINISH, build  # noqa: E402

GDB = shutil.which("gdb-multiarch")
GCC = shutil.which("riscv64-unknown-elf-gcc")

@pytest.fixture
def guest(tmp_path):
    """The counting loop gdb drives on the board (test_gdb_cli's guest)."""
    return build(tmp_path, BOARD_FINISH, 0x8000_0000)


def serve(elf):
    m = Machine()
    m.load(str(elf))
    stub = GdbStub.for_machine(m, port=0)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("status", stub.serve()), daemon=True)
    thread.start()
    return stub, thread, result


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_gdb_session_break_step_registers_memory_watch_detach(guest):
    stub, thread, result = serve(guest)
    cmds = ["file " + str(guest), f"target remote 127.0.0.1:{stub.port}", "break done", "continue",
            "p $a0", "stepi", "p/x $pc", "info registers mstatus", "p $priv", "x/2x &counter",
            "delete", "watch *(long*)&counter", "set var $a0=0", "set var $pc=loop", "continue",
            "p $a0", "delete", "detach"]
    args = [GDB, "-batch", "-nx"] + [a for c in cmds for a in ("-ex", c)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    thread.join(30)
    assert "Breakpoint 1, done ()" in out
    assert "$1 = 5" in out
    assert "$2 = 0x8000001a" in out
    assert "mstatus        0xa00000000" in out
    assert "$3 = 3" in out
    assert "0x00000005\t0x00000000" in out
    assert "Old value = 5\nNew value = 1" in out
    assert "$4 = 1" in out
    assert "detached" in out
    assert result["status"] == 0       # the guest ran on to its finisher write


def _packet(body):
    return b"$" + body + b"#%02x" % (sum(body) & 0xFF)


def test_bad_packets_get_errors_and_the_guest_is_unaffected(guest):
    stub, thread, result = serve(guest)
    s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)

    buf = bytearray()

    def read(n):
        while len(buf) < n:
            chunk = s.recv(4096)
            assert chunk, "the stub closed the connection"
            buf.extend(chunk)
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def ask(body):
        s.sendall(_packet(body))
        assert read(1) == b"+"
        assert read(1) == b"$"
        reply = b""
        while not reply.endswith(b"#"):
            reply += read(1)
        read(2)
        s.sendall(b"+")
        return reply[:-1]

    s.sendall(b"$g#00")                                 # bad checksum: a nak
    assert read(1) == b"-"
    assert ask(b"mzz,4") == b"E01"                      # malformed
    assert ask(b"m0,4") == b"E14"                       # nothing there
    assert ask(b"Z9,0,0") == b""                        # unknown breakpoint type
    assert ask(b"M80000000,4:00") == b"E01"             # length and data disagree
    s.sendall(b"$m80000000,")                           # dropped mid-packet
    s.close()
    s = socket.create_connection(("127.0.0.1", stub.port), timeout=10)
    buf.clear()
    assert ask(b"m80000000,4") == b"17130000"           # auipc t1, 0x1: the guest is untouched
    assert ask(b"D") == b"OK"
    thread.join(30)
    s.close()
    assert result["status"] == 0


BT_KERNEL = """
.globl _start
_start:
    li t0, 7
    csrw sscratch, t0
    csrr t1, sscratch
target:
    addi t1, t1, 1
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    li a1, 0
    ecall
"""


def test_binary_translation_breakpoints_and_steps_are_in_guest_instructions(tmp_path):
    """Under bt a kernel instruction runs as its translation: a breakpoint on
    a guest pc stops at the translation, a step covers a whole guest
    instruction (a CSR access is several TC instructions)."""
    from pyvmm.debug.gdbstub import VMTarget
    from pyvmm.hv.host import Host
    src = tmp_path / "k.S"
    src.write_text(BT_KERNEL)
    host = Host()
    vm = host.create_vm(ram_size=16 << 20, technique="bt", paging="shadow", console=None)
    vm.load(str(src))
    target = VMTarget(vm)
    entry = target.get_pc(0)
    target.set_debug([entry + 2], [])                 # csrw sscratch, t0 (after c.li)
    kind, *_ = target.run(0, 1000)
    assert kind == "debug" and target.get_pc(0) == entry + 2
    assert target.vm.vcpus[0].core.pc != entry + 2    # stopped in the translation cache
    target.set_debug([], [])
    assert target.step(0) is None and target.get_pc(0) == entry + 6
    assert target.step(0) is None and target.get_pc(0) == entry + 10
    assert target.get_x(0, 6) == 7                    # t1 = sscratch, the whole CSR read done
    assert target.step(0) is None and target.get_pc(0) == entry + 12
    assert target.get_x(0, 6) == 8
    target.set_debug([entry + 10], [])
    target.set_pc(0, entry)                           # again from the top: the breakpoint
    kind, *_ = target.run(0, 1000)                    # on `target` stops in its translation
    assert kind == "debug" and target.get_pc(0) == entry + 10 and target.get_x(0, 6) == 7
    target.set_debug([], [])
    assert target.run_to_end() == 0

FP_GUEST = """
.globl _start
_start:
    li t0, 1 << 13
    csrs mstatus, t0
    li t0, 3
    fcvt.d.l fa0, t0
    fsrmi 1
    li t0, 1
    fcvt.d.l fa1, t0
done:
    fadd.d fa2, fa0, fa1
    fmv.x.d a0, fa2
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
"""


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_gdb_sees_and_sets_the_f_registers_and_fcsr(tmp_path):
    if GCC is None:
        pytest.skip("riscv64-unknown-elf-gcc is not installed")
    src, elf = tmp_path / "f.S", tmp_path / "f.elf"
    src.write_text(FP_GUEST)
    subprocess.run([GCC, "-march=rv64imafdc_zicsr", "-mabi=lp64", "-nostdlib", "-g",
                    "-Ttext=0x80000000", "-o", str(elf), str(src)], check=True)
    stub, thread, result = serve(elf)
    cmds = ["file " + str(elf), f"target remote 127.0.0.1:{stub.port}", "break done", "continue",
            "p $fa0", "p $frm", "set var $fa1 = 0.5", "set var $fflags = 3", "stepi",
            "p $fa2", "p $fcsr", "detach"]
    args = [GDB, "-batch", "-nx"] + [a for c in cmds for a in ("-ex", c)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
    thread.join(30)
    # gdb shows an f register of the riscv fpu feature as a {float, double} union
    assert "$1 = {float = 0, double = 3}" in out
    assert "$2 = 1" in out                   # frm: RTZ
    assert "$3 = {float = 0, double = 3.5}" in out      # fa0 + the 0.5 gdb wrote into fa1
    assert "$4 = 35" in out                  # fcsr: frm 1 << 5 | the flags gdb set (3)
    assert result["status"] == 0

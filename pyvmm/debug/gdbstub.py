"""A GDB remote-serial-protocol stub for a board (Machine) or a VM.

    from pyvmm.debug.gdbstub import GdbStub
    GdbStub.for_machine(machine, port=1234).serve()    # returns when the guest ends or gdb detaches

gdb-multiarch connects with `target remote 127.0.0.1:1234`. The stub speaks
RSP over TCP (bound to 127.0.0.1 unless told otherwise): checksummed packets
with +/- acks and QStartNoAckMode, the riscv:rv64 target description
(org.gnu.gdb.riscv.cpu, org.gnu.gdb.riscv.fpu with f0-f31, fflags, frm and
fcsr, org.gnu.gdb.riscv.csr, and org.gnu.gdb.riscv.virtual with `priv` and
`virt`), registers (g/G/p/P), memory (m/M, as the selected
hart sees it: through its translation, both stages at V=1; physical with the
monitor command `phys on`), c/s and vCont, software and hardware breakpoints
(Z0/Z1, the core's breakpoint set), watchpoints (Z2/Z3/Z4, the core's
watchpoints: reported after the access), one thread per hart, qRcmd (the
stub's own `phys on|off` and `help`, the rest to pyvmm.debug.monitor), D
(detach: the guest runs on to its end) and k. A bad checksum is answered
with `-`, a malformed packet with an error reply, an unknown one with an
empty reply; a connection that drops leaves the guest stopped and the stub
waiting for the next one.

On a VM the stub sees what the guest sees: its VCPUs as threads, guest
registers, the guest supervisor CSRs, and guest-virtual addresses
translated by the guest's page tables into guest-physical memory.
"""

import select
import socket

from pyvmm.debug.monitor import Monitor, MonitorError, _CoreHart, _NoMemory, _VcpuHart
from pyvmm.machine.core_exits import (CORE_EXIT_BUDGET, CORE_EXIT_DEBUG, CORE_EXIT_MMIO, CORE_EXIT_TRAP,
                                      CORE_EXIT_WATCH)

MASK64 = (1 << 64) - 1
MAX_PACKET = 0x4000             # what qSupported advertises
MAX_MEMORY = 0x2000             # bytes of one m/M packet
POLL_INSNS = 200_000            # a running guest looks for gdb's interrupt this often
CSR_REGNUM_BASE = 65            # gdb's riscv numbering: CSR n is register 65 + n
F_REGNUM_BASE = 33              # f0..f31 are registers 33..64
FP_CSRS = {1: "fflags", 2: "frm", 3: "fcsr"}
PRIV_REGNUM = CSR_REGNUM_BASE + 0x1000
VIRT_REGNUM = PRIV_REGNUM + 1
SIGTRAP, SIGINT = 5, 2
PRIV_ALIASES = {3: "machine", 1: "supervisor", 0: "user"}
STUB_HELP = ("phys on|off  m/M addresses are physical (on) or as the hart translates them (off)\n"
             "help         this text, then the monitor's commands\n")


class _Disconnected(Exception):
    """The debugger's connection closed (possibly mid-packet)."""


# -- targets: a Machine's harts or a VM's VCPUs, behind one small interface ----------------------

class MachineTarget:
    """The harts of a pyvmm.machine.Machine."""

    def __init__(self, machine):
        self.machine = machine
        machine.boot()
        self.cores = machine.cores
        self.views = [_CoreHart(machine, i) for i in range(len(self.cores))]
        self.csrs = self._existing_csrs(self.cores[0])

    @staticmethod
    def _existing_csrs(core):
        from pyvmm.isa.csrs import CSRS
        names = {}
        for name, number in sorted(CSRS.items(), key=lambda kv: kv[1]):
            try:
                core.read_csr(number)
            except ValueError:
                continue
            names.setdefault(number, name)
        # fflags, frm and fcsr are described with the f registers (the fpu feature)
        return sorted((n, name) for n, name in names.items() if n not in FP_CSRS)

    def monitor_target(self):
        return self.machine

    def get_x(self, t, i):
        return self.cores[t].get_x(i)

    def set_x(self, t, i, v):
        self.cores[t].set_x(i, v)

    def get_pc(self, t):
        return self.cores[t].pc

    def set_pc(self, t, v):
        self.cores[t].pc = v

    def get_f(self, t, i):
        return self.cores[t].get_f(i)

    def set_f(self, t, i, v):
        self.cores[t].set_f(i, v)

    def get_fcsr(self, t):
        return self.cores[t].fcsr

    def set_fcsr(self, t, v):
        self.cores[t].fcsr = v

    def read_csr(self, t, n):
        return self.cores[t].read_csr(n)

    def write_csr(self, t, n, v):
        self.cores[t].write_csr(n, v)

    def priv(self, t):
        return self.cores[t].priv

    def virt(self, t):
        return self.views[t].virt

    def set_mode(self, t, priv=None, virt=None):
        core = self.cores[t]
        if priv is not None:
            core.priv = priv
        if virt is not None:
            core.virt = virt

    def physical_read(self, t, addr, n):
        return self.views[t].machine_read(addr, n)

    def physical_write(self, t, addr, data):
        try:
            self.cores[t].write_mem(addr, data)
        except ValueError:
            raise _NoMemory(addr) from None

    def translate(self, t, vaddr):
        return self.views[t].effective_translation().virtual_to_physical(vaddr)

    def set_debug(self, breakpoints, watchpoints):
        for core in self.cores:
            core.debug_breakpoints = breakpoints
            core.debug_watchpoints = watchpoints

    def run(self, t, budget):
        """Run for `budget` units (all harts, as the board schedules them);
        returns None (budget), ("debug", hart, core) or ("end", status)."""
        result = self.machine.run(budget)
        if result.how == "debug":
            return ("debug", self.machine.debug_hart, self.cores[self.machine.debug_hart])
        if result.how == "budget":
            return None
        return ("end", result.status)

    def step(self, t):
        core = self.cores[t]
        reason = core.run(1)
        if reason == CORE_EXIT_DEBUG:
            return ("debug", t, core)
        if reason != CORE_EXIT_BUDGET:
            # an MMIO access, a trap for the firmware, WFI: the board completes it
            self._service(core, reason)
        return None

    def _service(self, core, reason):
        m = self.machine
        if reason == CORE_EXIT_MMIO:
            m._service_mmio(core)
        elif reason == CORE_EXIT_TRAP:
            m._service_trap(core)
        elif reason == CORE_EXIT_WATCH:
            m._service_watch(core)

    def run_to_end(self):
        self.set_debug((), ())
        return self.machine.run(None).status


# A guest instruction's translation is a few TC instructions (a CSR access
# or a callout sequence at most a few dozen): a step that has not reached a
# boundary by then is the guest's own loop of exits, and stops anyway.
MAX_STEPS_TO_BOUNDARY = 256


class VMTarget:
    """The VCPUs of a pyvmm.hv VM, as its guest sees them."""

    GUEST_CSRS = ("sstatus", "sie", "stvec", "sscratch", "sepc", "scause", "stval", "sip", "satp")

    def __init__(self, vm):
        from pyvmm.isa.csrs import CSRS
        self.vm = vm
        vm.boot()
        self.core = vm.host.core
        self.views = [_VcpuHart(vm, i) for i in range(len(vm.vcpus))]
        self.csrs = [(CSRS[n], n) for n in self.GUEST_CSRS]
        self._csr_names = dict(self.csrs)
        self._breakpoints = ()
        # Under binary translation a guest kernel instruction runs as its
        # translation: VCPU index -> TC addresses that stand for a breakpoint.
        self._tc_breakpoints = {}
        self._applied = None          # (VCPU index, breakpoints) the core holds

    def monitor_target(self):
        return self.vm

    def get_x(self, t, i):
        return self.vm.vcpus[t].get_x(i) if i else 0

    def set_x(self, t, i, v):
        self.vm.vcpus[t].set_x(i, v)

    def get_pc(self, t):
        return self.vm.vcpus[t].pc

    def set_pc(self, t, v):
        self.vm.vcpus[t].pc = v

    def get_f(self, t, i):
        return self.vm.vcpus[t].get_f(i)

    def set_f(self, t, i, v):
        self.vm.vcpus[t].set_f(i, v)

    def get_fcsr(self, t):
        return self.vm.vcpus[t].get_fcsr()

    def set_fcsr(self, t, v):
        self.vm.vcpus[t].set_fcsr(v)

    def read_csr(self, t, n):
        from pyvmm.hv.host import HvError
        try:
            return self.vm.vcpus[t].get_csr("vs" + self._csr_names[n][1:])
        except (KeyError, HvError):
            raise ValueError(f"no CSR {n:#x}") from None

    def write_csr(self, t, n, v):
        from pyvmm.hv.host import HvError
        try:
            self.vm.vcpus[t].set_csr("vs" + self._csr_names[n][1:], v)
        except (KeyError, HvError):
            raise ValueError(f"no CSR {n:#x}") from None

    def priv(self, t):
        return self.views[t].priv

    def virt(self, t):
        return 0

    def set_mode(self, t, priv=None, virt=None):
        raise ValueError("a VM's guest mode is the hypervisor's to change")

    def physical_read(self, t, addr, n):
        return self.views[t].machine_read(addr, n)

    def physical_write(self, t, addr, data):
        if not self.vm.in_ram(addr, len(data)):
            raise _NoMemory(addr)
        self.vm.write(addr, data)

    def translate(self, t, vaddr):
        return self.views[t].effective_translation().virtual_to_physical(vaddr)

    def set_debug(self, breakpoints, watchpoints):
        from pyvmm._core import MAX_DEBUG_BREAKPOINTS
        self._breakpoints = tuple(breakpoints)
        self._tc_breakpoints = {}
        for index, vcpu in enumerate(self.vm.vcpus):
            tc = getattr(vcpu, "tc", None)
            if tc is None:
                continue
            addrs = tc.addresses_of(self._breakpoints) if self._breakpoints else set()
            if len(addrs) + len(self._breakpoints) > MAX_DEBUG_BREAKPOINTS:
                raise ValueError("too many translated copies of the breakpoints")
            self._tc_breakpoints[index] = addrs
            tc.on_change = self._translation_listener(index) if self._breakpoints else None
        self.core.debug_watchpoints = watchpoints
        self._applied = None
        self._apply(0)

    def _translation_listener(self, index):
        from pyvmm._core import MAX_DEBUG_BREAKPOINTS
        tc = self.vm.vcpus[index].tc

        def changed(block):
            if block is None:             # the TC was flushed: its addresses mean nothing now
                self._tc_breakpoints[index] = set()
            else:
                addrs = self._tc_breakpoints[index] | tc.addresses_of(self._breakpoints, block)
                # Beyond the core's table a further copy cannot stop: the
                # breakpoint still stops in the copies already armed.
                if len(addrs) + len(self._breakpoints) <= MAX_DEBUG_BREAKPOINTS:
                    self._tc_breakpoints[index] = addrs
            if self._applied is not None and self._applied[0] == index:
                self._applied = None
                self._apply(index)
        return changed

    def _apply(self, index):
        """Arm the core with VCPU `index`'s breakpoints (each VCPU under
        binary translation has its own translation cache)."""
        wanted = self._breakpoints + tuple(sorted(self._tc_breakpoints.get(index, ())))
        if self._applied != (index, wanted):
            self.core.debug_breakpoints = wanted
            self._applied = (index, wanted)

    def _run_vcpu(self, index, budget):
        vm = self.vm
        vcpu = vm.vcpus[index]
        self._apply(index)
        vm.poll_input()
        exit = vcpu.run(budget)
        if exit.kind == "debug":
            return ("debug", index, self.core)
        vm.handle(vcpu, exit)
        vm.flush_console()
        return None

    def run(self, t, budget):
        from pyvmm.machine.layout import EXIT_IDLE
        vm = self.vm
        vm.resume()
        used = 0
        while not vm.stopped and used < budget:
            runnable = [i for i, v in enumerate(vm.vcpus) if vm.runnable(v)]
            if not runnable:
                if not vm.input_can_wake():
                    vm.request_stop("idle", EXIT_IDLE)
                used += 1
                continue
            for i in runnable:
                before = vm.vcpus[i].instret
                stop = self._run_vcpu(i, budget - used)
                used += max(1, vm.vcpus[i].instret - before)
                if stop is not None:
                    return stop
                if vm.stopped or used >= budget:
                    break
        if vm.stopped:
            return ("end", vm.result.status)
        return None

    def step(self, t):
        """One guest instruction. Under binary translation that can be
        several instructions of its translation: step on to the next
        instruction boundary."""
        self.vm.resume()
        if self.vm.stopped:
            return None
        vcpu = self.vm.vcpus[t]
        at_boundary = getattr(vcpu, "at_boundary", None)
        stop = self._run_vcpu(t, 1)
        for _ in range(MAX_STEPS_TO_BOUNDARY):
            if stop is not None or self.vm.stopped or at_boundary is None or at_boundary():
                break
            stop = self._run_vcpu(t, 1)
        return stop

    def run_to_end(self):
        self.set_debug((), ())
        self.vm.resume()
        self.vm.run(None)
        return self.vm.result.status


# -- the target description ---------------------------------------------------------------------

def _target_xml(csrs):
    cpu = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
           '<feature name="org.gnu.gdb.riscv.cpu">']
    names = ("zero ra sp gp tp t0 t1 t2 fp s1 a0 a1 a2 a3 a4 a5 a6 a7 "
             "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
    for i, name in enumerate(names):
        kind = "code_ptr" if name == "ra" else "data_ptr" if name in ("sp", "gp", "tp", "fp") else "int"
        cpu.append(f'  <reg name="{name}" bitsize="64" type="{kind}" regnum="{i}"/>')
    cpu.append('  <reg name="pc" bitsize="64" type="code_ptr" regnum="32"/>')
    cpu.append("</feature>")
    fpu = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
           '<feature name="org.gnu.gdb.riscv.fpu">']
    fnames = ("ft0 ft1 ft2 ft3 ft4 ft5 ft6 ft7 fs0 fs1 fa0 fa1 fa2 fa3 fa4 fa5 fa6 fa7 "
              "fs2 fs3 fs4 fs5 fs6 fs7 fs8 fs9 fs10 fs11 ft8 ft9 ft10 ft11").split()
    for i, name in enumerate(fnames):
        fpu.append(f'  <reg name="{name}" bitsize="64" type="ieee_double" regnum="{F_REGNUM_BASE + i}"/>')
    for number, name in sorted(FP_CSRS.items()):
        fpu.append(f'  <reg name="{name}" bitsize="64" type="int" regnum="{CSR_REGNUM_BASE + number}"'
                   ' group="float"/>')
    fpu.append("</feature>")
    csr = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
           '<feature name="org.gnu.gdb.riscv.csr">']
    for number, name in csrs:
        csr.append(f'  <reg name="{name}" bitsize="64" regnum="{CSR_REGNUM_BASE + number}" group="csr"/>')
    csr.append("</feature>")
    virtual = ['<?xml version="1.0"?>', '<!DOCTYPE feature SYSTEM "gdb-target.dtd">',
               '<feature name="org.gnu.gdb.riscv.virtual">',
               f'  <reg name="priv" bitsize="64" regnum="{PRIV_REGNUM}" group="general"/>',
               f'  <reg name="virt" bitsize="64" regnum="{VIRT_REGNUM}" group="general"/>',
               "</feature>"]
    target = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">', "<target>",
              "  <architecture>riscv:rv64</architecture>",
              '  <xi:include href="riscv-64bit-cpu.xml"/>',
              '  <xi:include href="riscv-64bit-fpu.xml"/>',
              '  <xi:include href="riscv-64bit-csr.xml"/>',
              '  <xi:include href="riscv-64bit-virtual.xml"/>',
              "</target>"]
    target[2] = '<target version="1.0" xmlns:xi="http://www.w3.org/2001/XInclude">'
    return {"target.xml": "\n".join(target) + "\n",
            "riscv-64bit-cpu.xml": "\n".join(cpu) + "\n",
            "riscv-64bit-fpu.xml": "\n".join(fpu) + "\n",
            "riscv-64bit-csr.xml": "\n".join(csr) + "\n",
            "riscv-64bit-virtual.xml": "\n".join(virtual) + "\n"}


def _checksum(body):
    return sum(body) & 0xFF


def _le(value, size=8):
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little").hex()


class _BadPacket(Exception):
    """A packet the protocol does not allow; answered with an error reply."""


def _hexint(text):
    try:
        return int(text, 16)
    except ValueError:
        raise _BadPacket(text) from None


class GdbStub:
    """One debugger at a time over TCP; serve() returns the guest's exit status."""

    def __init__(self, target, host="127.0.0.1", port=1234, log=None):
        self.target = target
        self.host = host
        self.port = port
        self.log = log
        self.physical = False
        self.thread = 0
        self.breakpoints = {}       # addr -> "swbreak" | "hwbreak"
        self.watchpoints = {}       # (addr, len, kind 1|2|3) -> count
        self.features = _target_xml(target.csrs)
        self.monitor = Monitor(target.monitor_target())
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.conn = None
        self.ack = True
        self.buf = b""
        self.last_stop = f"T{SIGTRAP:02x}thread:{1:x};"

    @classmethod
    def for_machine(cls, machine, **kw):
        return cls(MachineTarget(machine), **kw)

    @classmethod
    def for_vm(cls, vm, **kw):
        return cls(VMTarget(vm), **kw)

    def close(self):
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()
        self.conn = None

    # -- the connection ----------------------------------------------------------------------

    def serve(self):
        """Serve debuggers until one detaches (the guest then runs to its end)
        or the guest ends; returns the guest's exit status."""
        try:
            while True:
                if self.conn is None:
                    self.conn, _ = self.listener.accept()
                    self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.ack = True
                    self.buf = b""
                try:
                    outcome = self._session()
                except _Disconnected:
                    self.conn.close()
                    self.conn = None
                    continue
                if outcome[0] == "end":
                    return outcome[1]
                if outcome[0] in ("detach", "kill"):
                    self.breakpoints.clear()
                    self.watchpoints.clear()
                    self.conn.close()
                    self.conn = None
                    if outcome[0] == "kill":
                        return None
                    return self.target.run_to_end()
        finally:
            self.close()

    def _recv(self):
        try:
            data = self.conn.recv(65536)
        except (ConnectionError, OSError):
            raise _Disconnected() from None
        if not data:
            raise _Disconnected()
        self.buf += data

    def _send_raw(self, data):
        try:
            self.conn.sendall(data)
        except (ConnectionError, OSError):
            raise _Disconnected() from None

    def _send(self, body):
        if isinstance(body, str):
            body = body.encode("latin-1")
        packet = b"$" + body + b"#%02x" % _checksum(body)
        while True:
            self._send_raw(packet)
            if not self.ack:
                return
            while True:
                while not self.buf:
                    self._recv()
                c, self.buf = self.buf[:1], self.buf[1:]
                if c == b"+":
                    return
                if c == b"-":
                    break           # resend

    def _next_packet(self):
        """The next packet's body (bytes), or b"\\x03" for an interrupt."""
        while True:
            start = -1
            for i, c in enumerate(self.buf):
                if c == 0x03:
                    self.buf = self.buf[i + 1:]
                    return b"\x03"
                if c == 0x24:      # $
                    start = i
                    break
            if start < 0:
                self.buf = b""
                self._recv()
                continue
            self.buf = self.buf[start:]
            end = self.buf.find(b"#")
            if end < 0:
                if len(self.buf) > MAX_PACKET * 2:
                    self.buf = b""      # an oversized packet: dropped, gdb resends
                    if self.ack:
                        self._send_raw(b"-")
                    continue
                self._recv()
                continue
            while len(self.buf) < end + 3:
                self._recv()
            body, cs, self.buf = self.buf[1:end], self.buf[end + 1:end + 3], self.buf[end + 3:]
            try:
                good = int(cs, 16) == _checksum(body)
            except ValueError:
                good = False
            if self.ack:
                self._send_raw(b"+" if good else b"-")
            if good or not self.ack:
                return body

    def _session(self):
        while True:
            body = self._next_packet()
            if body == b"\x03":
                continue            # already stopped
            try:
                reply = self._handle(body.decode("latin-1"))
            except _BadPacket:
                reply = "E01"
            if isinstance(reply, tuple):
                return reply
            if reply is not _NO_REPLY:
                self._send(reply)

    # -- packets -----------------------------------------------------------------------------

    def _thread_ids(self):
        return range(1, len(self.target.views) + 1)

    def _handle(self, p):
        t = self.target
        if p.startswith("qSupported"):
            return (f"PacketSize={MAX_PACKET:x};qXfer:features:read+;swbreak+;hwbreak+;"
                    "vContSupported+;QStartNoAckMode+")
        if p == "QStartNoAckMode":
            self._send("OK")
            self.ack = False
            return _NO_REPLY
        if p.startswith("qXfer:features:read:"):
            try:
                annex, span = p[len("qXfer:features:read:"):].rsplit(":", 1)
                off, length = (int(x, 16) for x in span.split(","))
            except ValueError:
                raise _BadPacket(p) from None
            doc = self.features.get(annex)
            if doc is None:
                return "E00"
            chunk = doc[off:off + length]
            return ("l" if off + length >= len(doc) else "m") + chunk
        if p == "?":
            return self.last_stop
        if p == "qAttached":
            return "1"
        if p == "qC":
            return f"QC{self.thread + 1:x}"
        if p == "qfThreadInfo":
            return "m" + ",".join(f"{i:x}" for i in self._thread_ids())
        if p == "qsThreadInfo":
            return "l"
        if p.startswith("qThreadExtraInfo,"):
            n = _hexint(p.split(",", 1)[1])
            return f"hart {n - 1}".encode().hex()
        if p[:1] == "H" and len(p) >= 2:
            n = p[2:]
            if n in ("0", "-1", ""):
                return "OK"
            tid = _hexint(n)
            if tid not in self._thread_ids():
                return "E02"
            if p[1] == "g":
                self.thread = tid - 1
            return "OK"
        if p[:1] == "T":
            return "OK" if _hexint(p[1:]) in self._thread_ids() else "E02"
        if p == "g":
            n = self.thread
            return "".join(_le(t.get_x(n, i)) for i in range(32)) + _le(t.get_pc(n))
        if p[:1] == "G":
            data = p[1:]
            if len(data) < 33 * 16:
                raise _BadPacket(p)
            for i in range(1, 32):
                t.set_x(self.thread, i, int.from_bytes(bytes.fromhex(data[16 * i:16 * i + 16]), "little"))
            t.set_pc(self.thread, int.from_bytes(bytes.fromhex(data[512:528]), "little"))
            return "OK"
        if p[:1] == "p":
            value = self._read_reg(_hexint(p[1:]))
            return "E45" if value is None else _le(value)
        if p[:1] == "P":
            reg, _, val = p[1:].partition("=")
            try:
                value = int.from_bytes(bytes.fromhex(val), "little")
            except ValueError:
                raise _BadPacket(p) from None
            return "OK" if self._write_reg(_hexint(reg), value) else "E45"
        if p[:1] == "m":
            addr, length = self._addr_len(p[1:])
            data = self._read_mem(addr, min(length, MAX_MEMORY))
            return "E14" if not data else data.hex()
        if p[:1] == "M":
            head, _, hexdata = p[1:].partition(":")
            addr, length = self._addr_len(head)
            try:
                data = bytes.fromhex(hexdata)
            except ValueError:
                raise _BadPacket(p) from None
            if len(data) != length:
                raise _BadPacket(p)
            return "OK" if self._write_mem(addr, data) else "E14"
        if p == "vCont?":
            return "vCont;c;C;s;S"
        if p.startswith("vCont;"):
            return self._vcont(p[6:])
        if p[:1] in ("c", "s", "C", "S"):
            rest = p[1:].split(";", 1)
            if p[:1] in ("C", "S"):
                rest = rest[1:] if len(rest) > 1 else []
            if rest and rest[0]:
                t.set_pc(self.thread, _hexint(rest[0]))
            return self._resume(step=p[:1] in ("s", "S"))
        if p[:1] in ("Z", "z") and len(p) > 1:
            return self._breakpoint(p)
        if p.startswith("qRcmd,"):
            try:
                line = bytes.fromhex(p[6:]).decode()
            except ValueError:
                raise _BadPacket(p) from None
            return self._monitor(line)
        if p[:1] == "D":
            self._send("OK")
            return ("detach",)
        if p == "k":
            return ("kill",)
        return ""

    def _addr_len(self, text):
        addr, sep, length = text.partition(",")
        if not sep:
            raise _BadPacket(text)
        return _hexint(addr) & MASK64, _hexint(length)

    def _read_reg(self, n):
        t, h = self.target, self.thread
        if 0 <= n < 32:
            return t.get_x(h, n)
        if n == 32:
            return t.get_pc(h)
        if F_REGNUM_BASE <= n < F_REGNUM_BASE + 32:
            return t.get_f(h, n - F_REGNUM_BASE)
        if n - CSR_REGNUM_BASE in FP_CSRS:
            fcsr = t.get_fcsr(h)
            return {1: fcsr & 0x1F, 2: fcsr >> 5 & 7, 3: fcsr & 0xFF}[n - CSR_REGNUM_BASE]
        if n == PRIV_REGNUM:
            return t.priv(h)
        if n == VIRT_REGNUM:
            return t.virt(h)
        if CSR_REGNUM_BASE <= n < PRIV_REGNUM:
            try:
                return t.read_csr(h, n - CSR_REGNUM_BASE)
            except ValueError:
                return None
        return None

    def _write_reg(self, n, value):
        t, h = self.target, self.thread
        value &= MASK64
        try:
            if 0 <= n < 32:
                t.set_x(h, n, value)
            elif n == 32:
                t.set_pc(h, value)
            elif F_REGNUM_BASE <= n < F_REGNUM_BASE + 32:
                t.set_f(h, n - F_REGNUM_BASE, value)
            elif n - CSR_REGNUM_BASE in FP_CSRS:
                fcsr = t.get_fcsr(h)
                if n - CSR_REGNUM_BASE == 1:
                    fcsr = (fcsr & ~0x1F) | (value & 0x1F)
                elif n - CSR_REGNUM_BASE == 2:
                    fcsr = (fcsr & 0x1F) | (value & 7) << 5
                else:
                    fcsr = value & 0xFF
                t.set_fcsr(h, fcsr)
            elif n == PRIV_REGNUM:
                t.set_mode(h, priv=value)
            elif n == VIRT_REGNUM:
                t.set_mode(h, virt=value)
            elif CSR_REGNUM_BASE <= n < PRIV_REGNUM:
                t.write_csr(h, n - CSR_REGNUM_BASE, value)
            else:
                return False
        except ValueError:
            return False
        return True

    def _pieces(self, addr, length):
        """(physical address, size) pieces of [addr, addr + length), page by page."""
        out = []
        while length > 0:
            n = min(length, 4096 - (addr & 0xFFF))
            pa = addr if self.physical else self.target.translate(self.thread, addr)
            out.append((pa, n))
            addr = (addr + n) & MASK64
            length -= n
        return out

    def _read_mem(self, addr, length):
        """The readable prefix of [addr, addr + length): as gdb's `m` packet
        allows, a read stops at the first byte that does not translate or is
        not memory (empty when none is, which the caller answers with E14)."""
        data = b""
        try:
            for pa, n in self._pieces(addr, length):
                data += self.target.physical_read(self.thread, pa, n)
        except (_NoMemory, MonitorError):
            return data
        return data

    def _write_mem(self, addr, data):
        try:
            pieces = self._pieces(addr, len(data))
            for pa, n in pieces:
                self.target.physical_write(self.thread, pa, data[:n])
                data = data[n:]
        except (_NoMemory, MonitorError):
            return False
        return True

    def _breakpoint(self, p):
        try:
            kind = int(p[1])
            addr_text, length_text = p[3:].split(";", 1)[0].split(",")[:2]
        except ValueError:
            raise _BadPacket(p) from None
        addr, length = _hexint(addr_text), _hexint(length_text)
        if kind > 4:
            return ""
        insert = p[0] == "Z"
        if kind <= 1:
            if insert:
                self.breakpoints[addr] = "swbreak" if kind == 0 else "hwbreak"
            else:
                self.breakpoints.pop(addr, None)
        else:
            if length <= 0:
                return "E22"
            key = (addr, length, {2: 2, 3: 1, 4: 3}[kind])
            if insert:
                if len(self.watchpoints) >= 16 and key not in self.watchpoints:
                    return "E28"
                self.watchpoints[key] = self.watchpoints.get(key, 0) + 1
            elif key in self.watchpoints:
                self.watchpoints[key] -= 1
                if not self.watchpoints[key]:
                    del self.watchpoints[key]
        try:
            self.target.set_debug(sorted(self.breakpoints), list(self.watchpoints))
        except ValueError:               # more than the core's table holds
            if insert and kind <= 1:
                self.breakpoints.pop(addr)
            self.target.set_debug(sorted(self.breakpoints), list(self.watchpoints))
            return "E28"
        return "OK"

    def _monitor(self, line):
        words = line.split()
        if words[:1] == ["phys"] and len(words) == 2 and words[1] in ("on", "off"):
            self.physical = words[1] == "on"
            return self._console(f"phys {words[1]}\n")
        if words == ["phys"]:
            return self._console(f"phys {'on' if self.physical else 'off'}\n")
        if not words or words[0] in ("help", "?"):
            return self._console(STUB_HELP + self.monitor.execute("help"))
        text = self.monitor.execute(line)
        return self._console(text if text else "")

    def _console(self, text):
        for i in range(0, len(text), 512):
            self._send("O" + text[i:i + 512].encode().hex())
        return "OK"

    def _vcont(self, actions):
        step_thread = None
        for action in actions.split(";"):
            what, _, tid = action.partition(":")
            if what[:1] in ("s", "S"):
                if tid and tid != "-1":
                    n = _hexint(tid)
                    if n not in self._thread_ids():
                        return "E02"
                    step_thread = n - 1
                else:
                    step_thread = self.thread
                break
            if what[:1] not in ("c", "C"):
                raise _BadPacket(actions)
        if step_thread is not None:
            self.thread = step_thread
            return self._resume(step=True)
        return self._resume(step=False)

    def _resume(self, step):
        t = self.target
        if step:
            stop = t.step(self.thread)
            if stop is None or stop[0] != "end":
                return self._stop_reply(stop, SIGTRAP)
            return f"W{stop[1] & 0xFF:02x}"
        while True:
            stop = t.run(self.thread, POLL_INSNS)
            if stop is not None:
                if stop[0] == "end":
                    return f"W{stop[1] & 0xFF:02x}"
                return self._stop_reply(stop, SIGTRAP)
            r, _, _ = select.select([self.conn], [], [], 0)
            if r:
                self._recv()
                if b"\x03" in self.buf:
                    self.buf = self.buf.replace(b"\x03", b"", 1)
                    return self._stop_reply(None, SIGINT)

    def _stop_reply(self, stop, signal):
        extra = ""
        if stop is not None and stop[0] == "debug":
            _, index, core = stop
            self.thread = index
            from pyvmm._core import DEBUG_BREAK
            if core.exit_cause == DEBUG_BREAK:
                extra = f"{self.breakpoints.get(core.exit_addr, 'swbreak')}:;"
            else:
                kind = "watch" if core.exit_is_write else "rwatch"
                for (a, n, k) in self.watchpoints:
                    if a <= core.exit_addr < a + n and k == 3:
                        kind = "awatch"
                extra = f"{kind}:{core.exit_addr:x};"
        self.last_stop = f"T{signal:02x}thread:{self.thread + 1:x};{extra}"
        return self.last_stop


_NO_REPLY = object()


# -- `pyvmm run --gdb` ----------------------------------------------------------------------------

DEFAULT_SPEC = "tcp:127.0.0.1:1234"     # -s, as QEMU's


def parse_spec(spec):
    """tcp:HOST:PORT (or tcp::PORT for 127.0.0.1) -> (host, port); ValueError if bad."""
    kind, _, rest = spec.partition(":")
    host, sep, port = rest.rpartition(":")
    if kind != "tcp" or not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--gdb {spec}: expected tcp:HOST:PORT")
    return host or "127.0.0.1", int(port)


def open_stub(spec, target, usage_error):
    """A stub for a Machine or a VM listening at `spec`; a bad spec or a busy
    port raises `usage_error`. The address goes to stderr."""
    import sys
    try:
        host, port = parse_spec(spec)
    except ValueError as e:
        raise usage_error(str(e)) from None
    adapter = VMTarget(target) if hasattr(target, "vcpus") else MachineTarget(target)
    try:
        stub = GdbStub(adapter, host=host, port=port)
    except OSError as e:
        raise usage_error(f"--gdb {spec}: cannot listen ({e.strerror or e})") from None
    sys.stderr.write(f"pyvmm: gdb stub on {host}:{stub.port}\n")
    sys.stderr.flush()
    return stub


def run_with_stub(stub, wait):
    """Run the guest under the stub: with `wait` (-S) nothing executes before
    a debugger attaches; else the guest runs and a debugger may attach
    between slices (it finds the guest stopped). Returns the exit status, or
    None when the debugger killed the guest."""
    if wait:
        return stub.serve()
    try:
        while True:
            ready, _, _ = select.select([stub.listener], [], [], 0)
            if ready:
                stub.last_stop = f"T{SIGINT:02x}thread:1;"
                return stub.serve()
            stop = stub.target.run(0, POLL_INSNS)
            if stop is not None and stop[0] == "end":
                return stop[1]
    finally:
        stub.close()

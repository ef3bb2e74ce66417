"""The user-mode kernel: processes on one core, their exits served in Python.

Every process runs in U-mode on the same core under its own Sv39 root
table. The core leaves its loop, undelivered, on every exception (the
`exit_on_exception` mask covers them all): an `ecall` is a system call,
served by the table in syscalls.py; a page fault inside a mapping maps the
page in and the instruction retries; any other fault ends the process as
Linux's default signal action would (SIGSEGV, SIGILL, SIGBUS, SIGTRAP).

Scheduling is deterministic: processes take turns in a fixed order, each
running until it blocks (a read of an empty pipe, wait4 with no child done,
a vfork parent), exits, or uses up a slice of instructions. A blocked
system call leaves the process at its `ecall`, so it runs again from the
start when its wait is over. After a fork the child runs first. The run
ends when the first process exits; its status is the run's status.
"""

import errno
import os
import random
import time

from pyvmm._core import Core
from pyvmm.user import loader, syscalls
from pyvmm.user.elf import ElfImage, ExecError
from pyvmm.user.fs import O_WRONLY, FileSystem, FsError, StdStream
from pyvmm.user.memory import FAULT_NEEDS, AddressSpace, BadAddress, Frames, OutOfMemory
from pyvmm.user.process import (REAPED, RUNNING, SIGBUS, SIGILL, SIGKILL, SIGNAL_TEXT, SIGSEGV, SIGTRAP, ZOMBIE,
                                FdTable, Process, signal_name)
from pyvmm.user.strace import format_call, format_result

EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP, EXIT_WFI = 1, 2, 3, 4
CAUSE_ECALL_U = 8
# Faults other than page faults and what Linux makes of them on RISC-V.
FAULT_SIGNALS = {0: SIGBUS, 1: SIGSEGV, 2: SIGILL, 3: SIGTRAP, 4: SIGBUS, 5: SIGSEGV, 6: SIGBUS, 7: SIGSEGV}

CSR_SSTATUS, CSR_SCOUNTEREN, CSR_SATP = 0x100, 0x106, 0x180
CSR_MSTATUS, CSR_MISA, CSR_MCOUNTEREN = 0x300, 0x301, 0x306
CSR_PMPCFG0, CSR_PMPADDR0, CSR_FCSR = 0x3A0, 0x3B0, 0x003
MSTATUS_FS_INITIAL = 1 << 13

SLICE = 5_000_000           # instructions a process runs before the next one gets its turn
RAM_BASE = 0x8000_0000
DEFAULT_MEMORY = 512 << 20
# The clock a deterministic run reads: 2024-01-01T00:00:00Z, advancing with
# retired instructions at 100 MIPS (10 ns each).
EPOCH_NS = 1_704_067_200 * 10**9
NS_PER_INSN = 10
DEFAULT_SEED = 0x5EED


class UserError(Exception):
    """A program that cannot be started (missing, not a static RV64 executable)."""


class RunLimit(Exception):
    """--max-insns ran out."""


class Kernel:
    """Runs one program and the processes it creates.

    `root`: the host directory that is the program's `/`; `writable` lets it
    change files there. `stdin`/`stdout`/`stderr`: host descriptors the
    program's 0/1/2 pass through to. `strace`: a binary stream that gets one
    line per system call. `realtime`: the host's clock and random bytes
    instead of the fixed ones. `memory`: bytes of RAM for all processes."""

    def __init__(self, root=".", writable=False, stdin=0, stdout=1, stderr=2, strace=None,
                 realtime=False, memory=DEFAULT_MEMORY, cwd=b"/", max_insns=None, seed=DEFAULT_SEED):
        self.realtime = realtime
        self.sleep_ns = 0
        self._rng = random.Random(seed)
        self.fs = FileSystem(root, writable, self.random_bytes)
        self.core = Core(ram_size=memory, ram_base=RAM_BASE)
        self.frames = Frames(self.core)
        self.stdio = (stdin, stdout, stderr)
        self.strace = strace
        self.max_insns = max_insns
        self.initial_cwd = cwd
        self.processes = {}
        self.run_queue = []
        self.next_pid = 1
        self.current = None
        self.init = None
        self.syscall_counts = {}
        self.unknown_syscalls = {}
        self.faults = {"page_faults": 0}
        self.pipe_inodes = 0
        self.multi = False
        self.stop_status = None
        self.fatal_message = None
        self.host_err = stderr
        self.misa = self.core.read_csr(CSR_MISA)
        self._setup_core()

    # --- the hart -----------------------------------------------------------------

    def _setup_core(self):
        core = self.core
        # One PMP rule covering all of memory, RWX: U-mode accesses that no rule
        # matches would fault; translation is what protects processes.
        core.write_csr(CSR_PMPADDR0, (1 << 54) - 1)
        core.write_csr(CSR_PMPCFG0, 0x1F)
        # time, cycle and instret readable from U-mode, as under qemu-user
        core.write_csr(CSR_MCOUNTEREN, 7)
        core.write_csr(CSR_SCOUNTEREN, 7)
        # FS=Initial: a core with F/D runs floating point in U-mode (WARL: reads 0 without F)
        core.write_csr(CSR_MSTATUS, core.read_csr(CSR_MSTATUS) | MSTATUS_FS_INITIAL)
        core.exit_on_exception = (1 << 64) - 1
        core.exit_on_interrupt = 0
        core.priv = 0

    @property
    def has_fp(self):
        return bool(self.misa & ((1 << 5) | (1 << 3)))

    def _save(self, proc):
        core = self.core
        proc.regs = core.x.copy()
        proc.pc = core.pc
        fregs = getattr(core, "f", None)
        if self.has_fp and fregs is not None:
            proc.fp = (fregs.copy(), core.read_csr(CSR_FCSR))

    def _load(self, proc):
        core = self.core
        core.x[:] = proc.regs
        core.pc = proc.pc
        fregs = getattr(core, "f", None)
        if self.has_fp and fregs is not None:
            if proc.fp is None:
                fregs[:] = 0
                core.write_csr(CSR_FCSR, 0)
            else:
                fregs[:] = proc.fp[0]
                core.write_csr(CSR_FCSR, proc.fp[1])
        core.write_csr(CSR_SATP, proc.aspace.satp)
        core.priv = 0
        core.flush_tlb()

    # --- time and randomness ---------------------------------------------------------

    def time_ns(self, clock_realtime):
        if self.realtime:
            return time.time_ns() if clock_realtime else time.monotonic_ns()
        elapsed = self.core.instret * NS_PER_INSN + self.sleep_ns
        return (EPOCH_NS if clock_realtime else 0) + elapsed

    def sleep(self, ns):
        """nanosleep: the host sleeps under --realtime; otherwise the run's
        clock jumps forward by `ns`, as a WFI with a timer armed skips ahead."""
        if self.realtime:
            time.sleep(ns / 1e9)
        else:
            self.sleep_ns += ns

    def random_bytes(self, n):
        if self.realtime:
            return os.urandom(n)
        return self._rng.randbytes(n)

    # --- processes --------------------------------------------------------------------

    def new_pid(self):
        pid = self.next_pid
        self.next_pid += 1
        return pid

    def _stdio_table(self):
        fds = FdTable()
        for n, hostfd in enumerate(self.stdio):
            name = (b"<stdin>", b"<stdout>", b"<stderr>")[n]
            fds.install(StdStream(hostfd, 0 if n == 0 else O_WRONLY, name), at=n)
        return fds

    def load_program(self, path, argv, envp):
        """Create the first process running `path` (a guest path inside the root)."""
        proc = Process(self.new_pid(), None, None, self._stdio_table(), self.initial_cwd)
        self.processes[proc.pid] = proc
        self.run_queue.append(proc)
        self.init = proc
        try:
            cwd = self.fs.resolve(b"/", self.initial_cwd)
        except FsError as err:
            raise UserError(f"working directory {os.fsdecode(self.initial_cwd)}: "
                            f"{os.strerror(err.errno)}") from None
        if not self.fs.is_dir(cwd):
            raise UserError(f"working directory {os.fsdecode(self.initial_cwd)}: not a directory")
        proc.cwd = self.fs.guest_path(cwd)
        try:
            self.exec_into(proc, path, argv, envp)
        except FsError as err:
            raise UserError(f"{os.fsdecode(path)}: {os.strerror(err.errno)}") from None
        except (ExecError, OutOfMemory) as err:
            raise UserError(str(err)) from None
        return proc

    def read_executable(self, proc, path):
        """(guest path, file bytes) of an executable inside the root."""
        comps = self.fs.resolve(proc.cwd, path)
        guest = self.fs.guest_path(comps)
        f = self.fs.open(proc.cwd, guest, 0, 0)
        try:
            st = f.stat()
            if not (st.mode & 0o170000) == 0o100000:
                raise FsError(errno.EACCES)
            if not st.mode & 0o111:
                raise FsError(errno.EACCES)
            chunks = []
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            f.close()
        return guest, b"".join(chunks)

    def exec_into(self, proc, path, argv, envp, depth=0):
        """execve: replace proc's image with the executable at guest `path`.
        A `#!` script runs its interpreter (one level, as Linux allows several)."""
        guest, data = self.read_executable(proc, path)
        if data[:2] == b"#!" and depth < 4:
            line = data[2:].split(b"\n", 1)[0].strip()
            if not line:
                raise ExecError(f"{os.fsdecode(path)}: empty #! line")
            interp, _, arg = line.partition(b" ")
            arg = arg.strip()
            new_argv = [interp] + ([arg] if arg else []) + [path] + list(argv[1:])
            return self.exec_into(proc, interp, new_argv, envp, depth + 1)
        image = ElfImage(data, os.fsdecode(path))
        aspace = AddressSpace(self.frames)
        try:
            loaded = loader.load_image(aspace, image, guest)
            uid, gid = os.getuid(), os.getgid()
            sp, auxv = loader.build_stack(aspace, loaded, list(argv), list(envp), path,
                                          self.random_bytes(16), loader.hwcap_from_misa(self.misa),
                                          (uid, uid, gid, gid))
        except (ExecError, BadAddress, OutOfMemory):
            aspace.release()
            raise
        old = proc.aspace
        proc.aspace = aspace
        if old is not None and not self._aspace_shared(proc, old):
            old.release()
        proc.auxv = auxv
        proc.exe = guest
        proc.comm = os.path.basename(path)[:15]
        proc.fds.close_on_exec()
        for sig, act in list(proc.sig_actions.items()):
            if act.handler not in (0, 1):
                del proc.sig_actions[sig]
        regs = self.core.x.copy()
        regs[:] = 0
        regs[2] = sp
        proc.regs = regs
        proc.pc = loaded.entry
        proc.fp = None
        proc.clear_child_tid = 0
        if proc.vfork_parent is not None:
            self._release_vfork_parent(proc)
        if proc is self.current:
            self._load(proc)

    def _aspace_shared(self, proc, aspace):
        return any(p is not proc and p.aspace is aspace and p.state == RUNNING for p in self.processes.values())

    def _release_vfork_parent(self, child):
        parent = child.vfork_parent
        child.vfork_parent = None
        if parent is not None:
            parent.vfork_child = None

    def fork(self, parent, share_vm, child_stack, tls):
        """A new process as clone(2) without CLONE_THREAD makes it; the
        caller's state is that of its ecall, which the child returns from with 0."""
        self.multi = True
        child = Process(self.new_pid(), parent, parent.aspace if share_vm else parent.aspace.clone(),
                        parent.fds.copy(), parent.cwd)
        child.umask = parent.umask
        child.sig_actions = {s: type(a)(a.handler, a.flags, a.mask) for s, a in parent.sig_actions.items()}
        child.sig_mask = parent.sig_mask
        child.exe, child.comm, child.pgid, child.sid = parent.exe, parent.comm, parent.pgid, parent.sid
        child.auxv = parent.auxv
        self._save(parent)
        regs = parent.regs.copy()
        regs[10] = 0
        if child_stack:
            regs[2] = child_stack
        if tls is not None:
            regs[4] = tls
        child.regs = regs
        child.pc = parent.pc + 4
        child.fp = parent.fp
        parent.children.append(child)
        self.processes[child.pid] = child
        # the child runs first: it goes to the front of the queue
        self.run_queue.insert(0, child)
        return child

    def terminate(self, proc, wait_status):
        """End a process: close its files, free its memory, wake its parent."""
        if proc.state != RUNNING:
            return
        proc.state = ZOMBIE
        proc.wait_status = wait_status
        proc.waiting = None
        if proc.clear_child_tid and proc.aspace is not None:
            try:
                proc.aspace.write(proc.clear_child_tid, b"\0\0\0\0")
            except BadAddress:
                pass        # as Linux's mm_release: a bad clear_child_tid address is ignored
        proc.fds.close_all()
        if proc.vfork_parent is not None:
            self._release_vfork_parent(proc)
        if proc.aspace is not None and not self._aspace_shared(proc, proc.aspace):
            proc.aspace.release()
        for child in proc.children:
            child.parent = None
        if proc in self.run_queue:
            self.run_queue.remove(proc)
        if proc.parent is None:
            # nobody can wait for it: reaped at once, as init reaps orphans
            proc.state = REAPED
        if proc is self.init:
            if wait_status & 0x7F:
                self.stop_status = 128 + (wait_status & 0x7F)
            else:
                self.stop_status = (wait_status >> 8) & 0xFF

    def kill_by_signal(self, proc, sig, pc=None, addr=None):
        """Linux's default action for a fatal signal: the process ends with it."""
        if proc is self.init:
            where = ""
            if pc is not None:
                where = f" at pc {pc:#x}"
                if addr is not None:
                    where += f" (address {addr:#x})"
            text = SIGNAL_TEXT.get(sig, "killed")
            self.fatal_message = f"pyvmm user: {os.fsdecode(proc.comm)}: {signal_name(sig)} ({text}){where}"
        self.trace_line(proc, f"+++ killed by {signal_name(sig)} +++")
        self.terminate(proc, sig)

    # --- tracing --------------------------------------------------------------------

    def trace_line(self, proc, text):
        if self.strace is None:
            return
        prefix = f"[pid {proc.pid}] " if self.multi else ""
        self.strace.write((prefix + text + "\n").encode("utf-8", "replace"))
        self.strace.flush()

    # --- the run loop ---------------------------------------------------------------

    def run(self):
        """Run until the first process ends; returns its exit status (128+signal if killed)."""
        while self.stop_status is None:
            proc = self._pick()
            if proc is None:
                self.fatal_message = "pyvmm user: every process is blocked waiting for another (deadlock)"
                for p in list(self.processes.values()):
                    if p.state == RUNNING:
                        self.terminate(p, SIGKILL)
                return 128 + SIGKILL
            if proc is not self.current:
                if self.current is not None and self.current.state == RUNNING:
                    self._save(self.current)
                self.current = proc
                self._load(proc)
            self._run_slice(proc)
            # a process that used its slice goes behind the others
            if proc in self.run_queue and proc.state == RUNNING:
                self.run_queue.remove(proc)
                self.run_queue.append(proc)
        return self.stop_status

    def _pick(self):
        for proc in self.run_queue:
            if proc.ready():
                proc.waiting = None
                return proc
        return None

    def _run_slice(self, proc):
        core = self.core
        start = core.instret
        while proc.state == RUNNING and self.stop_status is None:
            left = SLICE - (core.instret - start)
            if left <= 0:
                return
            if self.max_insns is not None:
                remaining = self.max_insns - core.instret
                if remaining <= 0:
                    raise RunLimit()
                left = min(left, remaining)
            reason = core.run(left)
            if reason == EXIT_TRAP:
                cause = core.exit_cause
                if cause == CAUSE_ECALL_U:
                    if not self._syscall(proc):
                        return
                elif cause in FAULT_NEEDS:
                    addr = core.exit_tval
                    self.faults["page_faults"] += 1
                    try:
                        handled = proc.aspace.fault(addr, FAULT_NEEDS[cause])
                    except OutOfMemory:
                        self.fatal_message = "pyvmm user: out of memory (raise --memory)"
                        self.kill_by_signal(proc, SIGKILL)
                        return
                    if not handled:
                        self.kill_by_signal(proc, SIGSEGV, core.exit_pc, addr)
                        return
                else:
                    sig = FAULT_SIGNALS.get(cause, SIGSEGV)
                    self.kill_by_signal(proc, sig, core.exit_pc,
                                        core.exit_tval if sig in (SIGSEGV, SIGBUS) else None)
                    return
            elif reason == EXIT_MMIO:
                # U-mode only reaches RAM through its page tables; anything else is a bus error
                core.complete_mmio_fault()

    def _syscall(self, proc):
        """Serve the ecall at pc. False when the process stops running here
        (blocked, exited, or another process must run first)."""
        core = self.core
        nr = core.get_x(17)
        args = [core.get_x(10 + i) for i in range(6)]
        entry = syscalls.TABLE.get(nr)
        if entry is None:
            self.unknown_syscalls[nr] = self.unknown_syscalls.get(nr, 0) + 1
            name, kinds, fn = "syscall_%#x" % nr, "xxxxxx", None
        else:
            name, kinds, fn = entry
            self.syscall_counts[name] = self.syscall_counts.get(name, 0) + 1
        before = None
        if self.strace is not None and name in syscalls.TRACE_BEFORE:
            from pyvmm.user.strace import format_args
            before = "%s(%s)" % (name, format_args(kinds, args, proc.aspace, before=True))
        try:
            ret = -errno.ENOSYS if fn is None else fn(self, proc, *args[:len(kinds)])
        except syscalls.Block as blk:
            # retried from the ecall when blk.ready() says so
            self.syscall_counts[name] -= 1
            proc.waiting = blk.ready
            self._save(proc)
            return False
        except FsError as err:
            ret = -err.errno
        except BadAddress:
            ret = -errno.EFAULT
        except OutOfMemory:
            ret = -errno.ENOMEM
        if ret is syscalls.NO_RETURN:
            # exit, or an exec that already set up the new image
            if self.strace is not None and before is not None:
                self.trace_line(proc, before + " = " + ("0" if proc.state == RUNNING else "?"))
                if proc.state != RUNNING and proc.wait_status & 0x7F == 0:
                    self.trace_line(proc, f"+++ exited with {(proc.wait_status >> 8) & 0xFF} +++")
            return proc.state == RUNNING and proc is self.current and proc.ready()
        if self.strace is not None:
            if before is not None:
                line = before + " = " + format_result(ret, name in syscalls.HEX_RESULT)
            else:
                line = format_call(name, kinds, args, proc.aspace, ret, name in syscalls.HEX_RESULT)
            self.trace_line(proc, line)
        if proc.state != RUNNING:
            return False
        core.set_x(10, ret & 0xFFFFFFFFFFFFFFFF)
        core.pc = core.exit_pc + 4
        if proc.waiting is not None:
            # the call is done but the caller waits (a vfork parent for its child)
            self._save(proc)
            return False
        # a fork or wake-up may have made another process due first (child runs first)
        if self.run_queue and self.run_queue[0] is not proc and self.run_queue[0].ready():
            self._save(proc)
            return False
        return True

    # --- results ---------------------------------------------------------------------

    def stats(self):
        return {
            "instret": self.core.instret,
            "syscalls": dict(sorted(self.syscall_counts.items())),
            "unknown_syscalls": {str(nr): n for nr, n in sorted(self.unknown_syscalls.items())},
            "processes": len(self.processes),
            "page_faults": self.faults["page_faults"],
            "frames_in_use": self.frames.in_use,
        }


def run_program(argv, envp=None, root=".", writable=False, stdin=0, stdout=1, stderr=2,
                strace=None, realtime=False, memory=DEFAULT_MEMORY, max_insns=None, stats=None):
    """Run the static executable argv[0] (a path inside `root`, or relative to
    it) with arguments argv and environment envp (lists of bytes or str).
    Returns the exit status (128+signal when a signal ended it). `stats`, a
    dict, receives the counters. Raises UserError when the program cannot
    start (missing, dynamic, not RV64), FsError when the root is not a directory."""
    argv = [os.fsencode(a) for a in argv]
    envp = [os.fsencode(e) for e in (envp or [])]
    kernel = Kernel(root, writable, stdin, stdout, stderr, strace, realtime, memory, max_insns=max_insns)
    kernel.load_program(argv[0], argv, envp)
    try:
        status = kernel.run()
    finally:
        if stats is not None:
            stats.update(kernel.stats())
    if kernel.fatal_message:
        os.write(stderr, (kernel.fatal_message + "\n").encode())
    return status


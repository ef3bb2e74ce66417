"""A user process: its registers while switched out, its address space, its
file descriptors, working directory, signal dispositions and family.

The descriptor table maps numbers to open file descriptions (fs.OpenFile),
which dup and fork share, as Linux shares `struct file`; a description is
closed on the host when its last descriptor goes.
"""

import errno

from pyvmm.user.fs import FsError

NOFILE = 1024           # RLIMIT_NOFILE's soft limit

SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL = 1, 2, 3, 4, 5, 6, 7, 8, 9
SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD = 10, 11, 12, 13, 14, 15, 16, 17
SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ = 18, 19, 20, 21, 22, 23, 24, 25
SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPWR, SIGSYS = 26, 27, 28, 29, 30, 31
NSIG = 64

SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
    8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
    14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
    20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
    26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}
SIGNAL_TEXT = {
    SIGILL: "Illegal instruction", SIGTRAP: "Trace/breakpoint trap", SIGABRT: "Aborted",
    SIGBUS: "Bus error", SIGFPE: "Floating point exception", SIGKILL: "Killed",
    SIGSEGV: "Segmentation fault", SIGPIPE: "Broken pipe", SIGTERM: "Terminated",
}
# Signals whose default action is to be ignored (all others in 1..31 terminate,
# or stop, which a process without a terminal treats like the kernel's
# orphaned-process-group rule: it is discarded).
DEFAULT_IGNORED = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT}
DEFAULT_STOP = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}

SIG_DFL = 0
SIG_IGN = 1

RUNNING = "running"
ZOMBIE = "zombie"
REAPED = "reaped"


def signal_name(sig):
    return SIGNAL_NAMES.get(sig, f"SIGRT{sig - 32}" if sig >= 32 else f"signal {sig}")


class FdTable:
    """Descriptor number -> [OpenFile, close-on-exec flag]."""

    def __init__(self):
        self.fds = {}

    def get(self, fd):
        entry = self.fds.get(fd)
        if entry is None:
            raise FsError(errno.EBADF)
        return entry[0]

    def install(self, file, cloexec=False, lowest=0, at=None):
        if at is None:
            at = lowest
            while at in self.fds:
                at += 1
            if at >= NOFILE:
                raise FsError(errno.EMFILE)
        elif at in self.fds:
            self.close(at)
        file.refs += 1
        self.fds[at] = [file, cloexec]
        return at

    def close(self, fd):
        entry = self.fds.pop(fd, None)
        if entry is None:
            raise FsError(errno.EBADF)
        file = entry[0]
        file.refs -= 1
        if file.refs == 0:
            file.close()

    def close_all(self):
        for fd in sorted(self.fds):
            self.close(fd)

    def close_on_exec(self):
        for fd in sorted(fd for fd, entry in self.fds.items() if entry[1]):
            self.close(fd)

    def copy(self):
        other = FdTable()
        for fd, (file, cloexec) in self.fds.items():
            file.refs += 1
            other.fds[fd] = [file, cloexec]
        return other


class SigAction:
    __slots__ = ("handler", "flags", "mask")

    def __init__(self, handler=SIG_DFL, flags=0, mask=0):
        self.handler, self.flags, self.mask = handler, flags, mask


class Process:
    """One process: `pid`, `parent` (Process or None), `aspace`, `fds`, `cwd`
    (canonical guest path, bytes), `regs`/`pc`/`fp` while not on the core,
    `state` (RUNNING, ZOMBIE, REAPED), `wait_status` (the wait(2) status once
    a zombie), `waiting` (a callable that says when a blocked system call may
    be retried, or None), `vfork_child` (the child a vfork parent waits for)."""

    def __init__(self, pid, parent, aspace, fds, cwd):
        self.pid = pid
        self.parent = parent
        self.aspace = aspace
        self.fds = fds
        self.cwd = cwd
        self.umask = 0o022
        self.regs = None
        self.pc = 0
        self.fp = None
        self.state = RUNNING
        self.wait_status = 0
        self.waiting = None
        self.children = []
        self.clear_child_tid = 0
        self.robust_list = (0, 0)
        self.sig_actions = {}
        self.sig_mask = 0
        self.vfork_parent = None
        self.vfork_child = None
        self.auxv = []
        self.altstack = (0, 2, 0)      # ss_sp, ss_flags (SS_DISABLE), ss_size
        self.rlimits = {}
        self.exe = b""
        self.comm = b""
        self.pgid = pid
        self.sid = pid

    def action(self, sig):
        return self.sig_actions.get(sig) or SigAction()

    def ready(self):
        return self.state == RUNNING and (self.waiting is None or self.waiting())

"""The system call table: Linux riscv64 (asm-generic) numbers, names, argument
signatures for strace, and the handlers.

A handler is `fn(kernel, proc, *args)` with the raw register values; it
returns the result (a non-negative value, or -errno), or NO_RETURN when it
set up the process's registers itself (exit, execve); it raises
`fs.FsError` for an error, `memory.BadAddress` for a bad pointer (EFAULT),
or `Block` when the call must wait (it is then retried from its ecall).
A number with no entry returns -ENOSYS and is counted by number.
"""

import errno
import os
import struct
import termios
import fcntl as host_fcntl

from pyvmm.user import memory as mm
from pyvmm.user.elf import ExecError
from pyvmm.user.fs import O_ACCMODE, O_APPEND, O_CLOEXEC, O_NONBLOCK, O_WRONLY, FsError, Pipe, PipeEnd
from pyvmm.user.process import (DEFAULT_IGNORED, DEFAULT_STOP, NSIG, RUNNING, SIG_DFL, SIGKILL,
                                SIGPIPE, SIGSTOP, ZOMBIE, REAPED, SigAction)

NO_RETURN = object()
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
AT_EACCESS = 0x200

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_VFORK, CLONE_PARENT, CLONE_THREAD, CLONE_SETTLS = 0x4000, 0x8000, 0x10000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000
CLONE_NEW_ANY = 0x20000 | 0x2000000 | 0x4000000 | 0x8000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80

WNOHANG = 1
MASK64 = (1 << 64) - 1


class Block(Exception):
    """The call cannot finish now; retry it once `ready()` is true."""

    def __init__(self, ready):
        super().__init__("blocked")
        self.ready = ready


def _s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _s64(v):
    return v - (1 << 64) if v & (1 << 63) else v


PROC_SELF_EXE = b"/proc/self/exe"


def _path(proc, addr):
    """A path argument. /proc/self/exe names the process's executable (there
    is no /proc otherwise): busybox and others re-run themselves through it."""
    if addr == 0:
        raise mm.BadAddress(0)
    try:
        path = proc.aspace.read_cstr(addr, 4095)
    except ValueError:
        raise FsError(errno.ENAMETOOLONG) from None
    return proc.exe if path == PROC_SELF_EXE and proc.exe else path


def _base_dir(proc, dirfd, path):
    """The guest directory a *at() call's relative path starts from."""
    if path.startswith(b"/") or _s32(dirfd) == AT_FDCWD:
        return proc.cwd
    f = proc.fds.get(_s32(dirfd))
    if f.kind != "dir":
        raise FsError(errno.ENOTDIR)
    return f.path


# --- file descriptors and I/O ----------------------------------------------------------

def sys_openat(k, p, dirfd, path_addr, flags, mode):
    path = _path(p, path_addr)
    flags &= 0xFFFFFFFF
    f = k.fs.open(_base_dir(p, dirfd, path), path, flags, (mode & ~p.umask) if flags & 0o100 else mode)
    try:
        return p.fds.install(f, cloexec=bool(flags & O_CLOEXEC))
    except FsError:
        f.close()
        raise


def sys_close(k, p, fd):
    p.fds.close(_s32(fd))
    return 0


def sys_dup(k, p, fd):
    return p.fds.install(p.fds.get(_s32(fd)))


def sys_dup3(k, p, old, new, flags):
    old, new = _s32(old), _s32(new)
    if flags & ~O_CLOEXEC or old == new:
        raise FsError(errno.EINVAL)
    if not 0 <= new < 1024:
        raise FsError(errno.EBADF)
    return p.fds.install(p.fds.get(old), cloexec=bool(flags & O_CLOEXEC), at=new)


F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_DUPFD_CLOEXEC, F_GETPIPE_SZ = 1030, 1032


def sys_fcntl(k, p, fd, cmd, arg):
    fd = _s32(fd)
    f = p.fds.get(fd)
    cmd = _s32(cmd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if not 0 <= _s32(arg) < 1024:
            raise FsError(errno.EINVAL)
        return p.fds.install(f, cloexec=cmd == F_DUPFD_CLOEXEC, lowest=_s32(arg))
    if cmd == F_GETFD:
        return 1 if p.fds.fds[fd][1] else 0
    if cmd == F_SETFD:
        p.fds.fds[fd][1] = bool(arg & 1)
        return 0
    if cmd == F_GETFL:
        return f.flags & (O_ACCMODE | O_APPEND | O_NONBLOCK | 0o10000000)
    if cmd == F_SETFL:
        f.flags = (f.flags & ~(O_APPEND | O_NONBLOCK)) | (arg & (O_APPEND | O_NONBLOCK))
        return 0
    if cmd == F_GETPIPE_SZ and f.kind == "pipe":
        return Pipe.CAPACITY
    raise FsError(errno.EINVAL)


def _check_read(f):
    if not f.readable:
        raise FsError(errno.EBADF)


def _check_write(f):
    if not f.writable:
        raise FsError(errno.EBADF)


def _read_from(k, p, f, n):
    """Read up to n bytes, blocking (retry) on an empty pipe that still has writers."""
    _check_read(f)
    if not f.ready_to_read():
        if f.flags & O_NONBLOCK:
            raise FsError(errno.EAGAIN)
        raise Block(f.ready_to_read)
    return f.read(n)


def _write_to(k, p, f, data):
    _check_write(f)
    if f.kind == "pipe":
        if f.pipe.readers == 0:
            _broken_pipe(k, p)
            raise FsError(errno.EPIPE)
        if not f.ready_to_write():
            if f.flags & O_NONBLOCK:
                raise FsError(errno.EAGAIN)
            raise Block(f.ready_to_write)
    if f.flags & O_APPEND and f.kind == "file":
        f.lseek(0, os.SEEK_END)
    return f.write(data)


def _broken_pipe(k, p):
    """A write to a pipe nobody reads: SIGPIPE, whose default action ends the
    process; ignored (or caught: handlers are not run), the write fails with EPIPE."""
    if p.action(SIGPIPE).handler == SIG_DFL and not p.sig_mask & (1 << (SIGPIPE - 1)):
        k.kill_by_signal(p, SIGPIPE)


def sys_read(k, p, fd, buf, count):
    f = p.fds.get(_s32(fd))
    count = min(count, 1 << 24)
    data = _read_from(k, p, f, count)
    p.aspace.write(buf, data)
    return len(data)


def sys_write(k, p, fd, buf, count):
    f = p.fds.get(_s32(fd))
    _check_write(f)
    data = p.aspace.read(buf, min(count, 1 << 24))
    return _write_to(k, p, f, data)


def _iovecs(p, iov, iovcnt):
    if iovcnt > 1024:
        raise FsError(errno.EINVAL)
    raw = p.aspace.read(iov, 16 * iovcnt)
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(iovcnt)]


def sys_readv(k, p, fd, iov, iovcnt):
    f = p.fds.get(_s32(fd))
    vecs = _iovecs(p, iov, iovcnt)
    total = sum(n for _, n in vecs)
    data = _read_from(k, p, f, total)
    pos = 0
    for base, n in vecs:
        if pos >= len(data):
            break
        p.aspace.write(base, data[pos:pos + n])
        pos += n
    return len(data)


def sys_writev(k, p, fd, iov, iovcnt):
    f = p.fds.get(_s32(fd))
    _check_write(f)
    data = b"".join(p.aspace.read(base, n) for base, n in _iovecs(p, iov, iovcnt))
    return _write_to(k, p, f, data)


def sys_pread64(k, p, fd, buf, count, offset):
    f = p.fds.get(_s32(fd))
    _check_read(f)
    if _s64(offset) < 0:
        raise FsError(errno.EINVAL)
    data = f.pread(min(count, 1 << 24), offset)
    p.aspace.write(buf, data)
    return len(data)


def sys_pwrite64(k, p, fd, buf, count, offset):
    f = p.fds.get(_s32(fd))
    _check_write(f)
    if _s64(offset) < 0:
        raise FsError(errno.EINVAL)
    return f.pwrite(p.aspace.read(buf, min(count, 1 << 24)), offset)


def sys_lseek(k, p, fd, offset, whence):
    f = p.fds.get(_s32(fd))
    if whence > 4:
        raise FsError(errno.EINVAL)
    return f.lseek(_s64(offset), whence)


def sys_pipe2(k, p, fds_addr, flags):
    if flags & ~(O_CLOEXEC | O_NONBLOCK | 0o40000):
        raise FsError(errno.EINVAL)
    k.pipe_inodes += 1
    pipe = Pipe()
    pipe.ino = 0x7000 + k.pipe_inodes
    r = PipeEnd(pipe, flags & O_NONBLOCK)
    w = PipeEnd(pipe, O_WRONLY | (flags & O_NONBLOCK))
    cloexec = bool(flags & O_CLOEXEC)
    rfd = p.fds.install(r, cloexec)
    try:
        wfd = p.fds.install(w, cloexec)
    except FsError:
        p.fds.close(rfd)
        w.close()
        raise
    try:
        p.aspace.write(fds_addr, struct.pack("<ii", rfd, wfd))
    except mm.BadAddress:
        p.fds.close(rfd)
        p.fds.close(wfd)
        raise
    return 0


def sys_getdents64(k, p, fd, buf, count):
    f = p.fds.get(_s32(fd))
    if f.kind != "dir":
        raise FsError(errno.ENOTDIR)
    entries = f.getdents()
    out = bytearray()
    pos = f.pos
    while pos < len(entries):
        ino, dtype, name = entries[pos]
        reclen = (19 + len(name) + 1 + 7) & ~7
        if len(out) + reclen > count:
            if not out:
                raise FsError(errno.EINVAL)
            break
        rec = struct.pack("<QqHB", ino, pos + 1, reclen, dtype) + name
        out += rec + bytes(reclen - len(rec))
        pos += 1
    f.pos = pos
    p.aspace.write(buf, bytes(out))
    return len(out)


# --- metadata ---------------------------------------------------------------------------

STAT = struct.Struct("<QQIIIIQQqiiqqqqqqqII")


def _pack_stat(st):
    return STAT.pack(st.dev, st.ino, st.mode, st.nlink, st.uid, st.gid, st.rdev, 0, st.size,
                     st.blksize, 0, st.blocks, st.atime_ns // 10**9, st.atime_ns % 10**9,
                     st.mtime_ns // 10**9, st.mtime_ns % 10**9, st.ctime_ns // 10**9, st.ctime_ns % 10**9,
                     0, 0)


def _stat_of(k, p, dirfd, path_addr, flags):
    if flags & AT_EMPTY_PATH:
        path = _path(p, path_addr) if path_addr else b""
        if not path:
            if _s32(dirfd) == AT_FDCWD:
                return k.fs.stat(p.cwd, b".")
            return p.fds.get(_s32(dirfd)).stat()
    path = _path(p, path_addr)
    return k.fs.stat(_base_dir(p, dirfd, path), path, follow=not flags & AT_SYMLINK_NOFOLLOW)


def sys_newfstatat(k, p, dirfd, path_addr, buf, flags):
    p.aspace.write(buf, _pack_stat(_stat_of(k, p, dirfd, path_addr, flags)))
    return 0


def sys_fstat(k, p, fd, buf):
    p.aspace.write(buf, _pack_stat(p.fds.get(_s32(fd)).stat()))
    return 0


STATX_BASIC_STATS = 0x7FF


def sys_statx(k, p, dirfd, path_addr, flags, mask, buf):
    st = _stat_of(k, p, dirfd, path_addr, flags)

    def ts(ns):
        return struct.pack("<qIi", ns // 10**9, ns % 10**9, 0)

    data = struct.pack("<IIQIIIHHQQQQ", STATX_BASIC_STATS, st.blksize, 0, st.nlink, st.uid, st.gid,
                       st.mode & 0xFFFF, 0, st.ino, st.size, st.blocks, 0)
    data += ts(st.atime_ns) + ts(0) + ts(st.ctime_ns) + ts(st.mtime_ns)
    data += struct.pack("<IIII", os.major(st.rdev), os.minor(st.rdev), os.major(st.dev), os.minor(st.dev))
    p.aspace.write(buf, data + bytes(256 - len(data)))
    return 0


def sys_readlinkat(k, p, dirfd, path_addr, buf, size):
    path = p.aspace.read_cstr(path_addr, 4095) if path_addr else b""
    if _s32(size) <= 0:
        raise FsError(errno.EINVAL)
    if path == PROC_SELF_EXE:
        target = p.exe
    else:
        target = k.fs.readlink(_base_dir(p, dirfd, path), path)
    target = target[:size]
    p.aspace.write(buf, target)
    return len(target)


def sys_faccessat(k, p, dirfd, path_addr, mode):
    return sys_faccessat2(k, p, dirfd, path_addr, mode, 0)


def sys_faccessat2(k, p, dirfd, path_addr, mode, flags):
    if mode & ~7:
        raise FsError(errno.EINVAL)
    path = _path(p, path_addr)
    k.fs.access(_base_dir(p, dirfd, path), path, mode, follow=not flags & AT_SYMLINK_NOFOLLOW)
    return 0


def sys_getcwd(k, p, buf, size):
    path = p.cwd + b"\0"
    if size < len(path):
        raise FsError(errno.ERANGE)
    p.aspace.write(buf, path)
    return len(path)


def sys_chdir(k, p, path_addr):
    path = _path(p, path_addr)
    comps = k.fs.resolve(p.cwd, path)
    if not k.fs.is_dir(comps):
        raise FsError(errno.ENOTDIR)
    p.cwd = k.fs.guest_path(comps)
    return 0


def sys_fchdir(k, p, fd):
    f = p.fds.get(_s32(fd))
    if f.kind != "dir":
        raise FsError(errno.ENOTDIR)
    p.cwd = f.path
    return 0


def sys_mkdirat(k, p, dirfd, path_addr, mode):
    path = _path(p, path_addr)
    k.fs.mkdir(_base_dir(p, dirfd, path), path, mode & ~p.umask)
    return 0


def sys_unlinkat(k, p, dirfd, path_addr, flags):
    if flags & ~AT_REMOVEDIR:
        raise FsError(errno.EINVAL)
    path = _path(p, path_addr)
    k.fs.unlink(_base_dir(p, dirfd, path), path, rmdir=bool(flags & AT_REMOVEDIR))
    return 0


def sys_renameat(k, p, olddirfd, old_addr, newdirfd, new_addr):
    return sys_renameat2(k, p, olddirfd, old_addr, newdirfd, new_addr, 0)


def sys_renameat2(k, p, olddirfd, old_addr, newdirfd, new_addr, flags):
    if flags:
        raise FsError(errno.EINVAL)
    old = _path(p, old_addr)
    new = _path(p, new_addr)
    old_base = _base_dir(p, olddirfd, old)
    new_base = _base_dir(p, newdirfd, new)
    # both names resolve from their own directory; the file system renames host paths
    old_parent, old_name = k.fs.resolve(old_base, old, want_parent=True)
    new_parent, new_name = k.fs.resolve(new_base, new, want_parent=True)
    k.fs.rename(b"/", k.fs.guest_path(old_parent + [old_name]), k.fs.guest_path(new_parent + [new_name]))
    return 0


def sys_symlinkat(k, p, target_addr, dirfd, path_addr):
    target = _path(p, target_addr)
    path = _path(p, path_addr)
    k.fs.symlink(_base_dir(p, dirfd, path), target, path)
    return 0


def sys_linkat(k, p, olddirfd, old_addr, newdirfd, new_addr, flags):
    old = _path(p, old_addr)
    new = _path(p, new_addr)
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        raise FsError(errno.EINVAL)
    old_parent, old_name = k.fs.resolve(_base_dir(p, olddirfd, old), old, want_parent=True)
    new_parent, new_name = k.fs.resolve(_base_dir(p, newdirfd, new), new, want_parent=True)
    k.fs.link(b"/", k.fs.guest_path(old_parent + [old_name]), k.fs.guest_path(new_parent + [new_name]))
    return 0


def sys_fchmodat(k, p, dirfd, path_addr, mode):
    path = _path(p, path_addr)
    k.fs.chmod(_base_dir(p, dirfd, path), path, mode)
    return 0


def sys_fchmod(k, p, fd, mode):
    f = p.fds.get(_s32(fd))
    if not k.fs.writable:
        raise FsError(errno.EROFS)
    if not hasattr(f, "host_path"):
        raise FsError(errno.EINVAL)
    os.chmod(f.fd, mode & 0o7777)
    return 0


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


def sys_utimensat(k, p, dirfd, path_addr, times_addr, flags):
    path = _path(p, path_addr) if path_addr else b""
    if not path:
        f = p.fds.get(_s32(dirfd))
        path = f.path
        base = b"/"
    else:
        base = _base_dir(p, dirfd, path)
    times = None
    if times_addr:
        a_s, a_ns, m_s, m_ns = struct.unpack("<qqqq", p.aspace.read(times_addr, 32))
        now = k.time_ns(True)
        st = k.fs.stat(base, path, follow=not flags & AT_SYMLINK_NOFOLLOW)

        def pick(sec, nsec, old):
            if nsec == UTIME_NOW:
                return now
            if nsec == UTIME_OMIT:
                return old
            return sec * 10**9 + nsec

        times = (pick(a_s, a_ns, st.atime_ns), pick(m_s, m_ns, st.mtime_ns))
    else:
        now = k.time_ns(True)
        times = (now, now)
    k.fs.utimens(base, path, times, follow=not flags & AT_SYMLINK_NOFOLLOW)
    return 0


def sys_ftruncate(k, p, fd, length):
    f = p.fds.get(_s32(fd))
    _check_write(f)
    if _s64(length) < 0:
        raise FsError(errno.EINVAL)
    f.truncate(length)
    return 0


def sys_fsync(k, p, fd):
    p.fds.get(_s32(fd)).sync()
    return 0


def sys_sync(k, p):
    return 0


def sys_umask(k, p, mask):
    old = p.umask
    p.umask = mask & 0o777
    return old


# --- terminals ----------------------------------------------------------------------------

TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ = 0x540F, 0x5410, 0x5413, 0x5414
FIONREAD, FIONBIO, FIONCLEX, FIOCLEX = 0x541B, 0x5421, 0x5450, 0x5451


def sys_ioctl(k, p, fd, req, arg):
    fd = _s32(fd)
    f = p.fds.get(fd)
    req &= 0xFFFFFFFF
    if req == FIOCLEX or req == FIONCLEX:
        p.fds.fds[fd][1] = req == FIOCLEX
        return 0
    if req == FIONBIO:
        on = struct.unpack("<i", p.aspace.read(arg, 4))[0]
        f.flags = (f.flags | O_NONBLOCK) if on else (f.flags & ~O_NONBLOCK)
        return 0
    if req == FIONREAD and f.kind == "pipe":
        p.aspace.write(arg, struct.pack("<i", len(f.pipe.buf)))
        return 0
    if not f.isatty():
        raise FsError(errno.ENOTTY)
    host = f.host_fd()
    if req == TCGETS:
        iflag, oflag, cflag, lflag, _ispeed, _ospeed, cc = termios.tcgetattr(host)
        ccb = bytes(c if isinstance(c, int) else c[0] for c in cc[:19])
        p.aspace.write(arg, struct.pack("<IIIIB", iflag, oflag, cflag, lflag, 0) + ccb.ljust(19, b"\0"))
        return 0
    if req in (TCSETS, TCSETSW, TCSETSF):
        raw = p.aspace.read(arg, 36)
        iflag, oflag, cflag, lflag, _line = struct.unpack_from("<IIIIB", raw)
        old = termios.tcgetattr(host)
        cc = list(old[6])
        for i, b in enumerate(raw[17:36]):
            if i < len(cc):
                cc[i] = b if isinstance(cc[i], int) else bytes([b])
        when = {TCSETS: termios.TCSANOW, TCSETSW: termios.TCSADRAIN, TCSETSF: termios.TCSAFLUSH}[req]
        termios.tcsetattr(host, when, [iflag, oflag, cflag, lflag, old[4], old[5], cc])
        return 0
    if req == TIOCGWINSZ:
        p.aspace.write(arg, host_fcntl.ioctl(host, termios.TIOCGWINSZ, bytes(8)))
        return 0
    if req == TIOCGPGRP:
        p.aspace.write(arg, struct.pack("<i", p.pgid))
        return 0
    if req == TIOCSPGRP:
        return 0 if struct.unpack("<i", p.aspace.read(arg, 4))[0] == p.pgid else -errno.EPERM
    raise FsError(errno.ENOTTY)


# --- memory ---------------------------------------------------------------------------------

def sys_brk(k, p, addr):
    a = p.aspace
    if addr < a.brk_start:
        return a.brk
    old_end = mm.page_up(a.brk)
    new_end = mm.page_up(addr)
    if new_end > old_end:
        if a.overlaps(old_end, new_end) or new_end > a.mmap_base:
            return a.brk
        heap = a.find_vma(old_end - 1) if old_end > a.brk_start else None
        if heap is not None and heap.name == "[heap]" and heap.end == old_end:
            heap.end = new_end
        else:
            a.map(mm.Vma(old_end, new_end, mm.PROT_READ | mm.PROT_WRITE, name="[heap]"))
    elif new_end < old_end:
        a.unmap(new_end, old_end)
    a.brk = addr
    return addr


def sys_mmap(k, p, addr, length, prot, flags, fd, offset):
    a = p.aspace
    flags &= 0xFFFFFFFF
    if length == 0 or offset & (mm.PAGE - 1) or prot & ~7:
        raise FsError(errno.EINVAL)
    length = mm.page_up(length)
    if length > mm.TASK_SIZE:
        raise FsError(errno.ENOMEM)
    kind = flags & 0xF
    if kind not in (mm.MAP_SHARED, mm.MAP_PRIVATE, 3):
        raise FsError(errno.EINVAL)
    data = None
    name = ""
    if not flags & mm.MAP_ANONYMOUS:
        f = p.fds.get(_s32(fd))
        if f.kind != "file" or not f.readable:
            raise FsError(errno.EACCES if f.kind == "file" else errno.ENODEV)
        if kind == mm.MAP_SHARED and prot & mm.PROT_WRITE:
            # a writable shared mapping would have to write back to the host
            # file; only private or read-only file mappings are served
            if not f.writable:
                raise FsError(errno.EACCES)
            raise FsError(errno.ENODEV)
        data = f.pread(length, offset)
        name = os.fsdecode(f.path)
        offset = 0
    if flags & (mm.MAP_FIXED | mm.MAP_FIXED_NOREPLACE):
        if addr & (mm.PAGE - 1) or addr < mm.MMAP_MIN_ADDR or addr + length > mm.TASK_SIZE:
            raise FsError(errno.EINVAL if addr & (mm.PAGE - 1) else errno.EPERM)
        if flags & mm.MAP_FIXED_NOREPLACE and not flags & mm.MAP_FIXED and a.overlaps(addr, addr + length):
            raise FsError(errno.EEXIST)
        start = addr
    else:
        start = a.find_free(length, addr)
        if start is None:
            raise FsError(errno.ENOMEM)
    a.map(mm.Vma(start, start + length, prot, flags, data, offset, name))
    if flags & mm.MAP_POPULATE:
        for va in range(start, start + length, mm.PAGE):
            a.fault(va, mm.PROT_READ if prot & mm.PROT_READ else prot or mm.PROT_READ)
    return start


def sys_munmap(k, p, addr, length):
    if addr & (mm.PAGE - 1) or length == 0 or addr + length > mm.TASK_SIZE:
        raise FsError(errno.EINVAL)
    p.aspace.unmap(addr, mm.page_up(addr + length))
    return 0


def sys_mprotect(k, p, addr, length, prot):
    if addr & (mm.PAGE - 1) or prot & ~7:
        raise FsError(errno.EINVAL)
    if length == 0:
        return 0
    if not p.aspace.protect(addr, mm.page_up(addr + length), prot):
        raise FsError(errno.ENOMEM)
    return 0


def sys_mremap(k, p, old, old_size, new_size, flags, new_addr):
    a = p.aspace
    if old & (mm.PAGE - 1) or flags & ~3 or new_size == 0:
        raise FsError(errno.EINVAL)
    if flags & mm.MREMAP_FIXED:
        # moving to a chosen address is not served
        raise FsError(errno.EINVAL)
    old_size, new_size = mm.page_up(old_size), mm.page_up(new_size)
    vma = a.find_vma(old)
    if vma is None or old + old_size > vma.end:
        raise FsError(errno.EFAULT)
    if new_size <= old_size:
        if new_size < old_size:
            a.unmap(old + new_size, old + old_size)
        return old
    if old + old_size == vma.end and not a.overlaps(vma.end, old + new_size) and old + new_size <= a.mmap_base:
        vma.end = old + new_size
        return old
    if not flags & mm.MREMAP_MAYMOVE:
        raise FsError(errno.ENOMEM)
    start = a.find_free(new_size)
    if start is None:
        raise FsError(errno.ENOMEM)
    moved = vma.split_copy(old, old + old_size)
    moved.start, moved.end = start, start + new_size
    moved_pages = {}
    for vpn in range(old >> 12, (old + old_size) >> 12):
        paddr = a.pages.pop(vpn, None)
        if paddr is not None:
            a._clear_pte(vpn)
            moved_pages[vpn - (old >> 12) + (start >> 12)] = paddr
    a.unmap(old, old + old_size)
    a.map(moved)
    for vpn, paddr in moved_pages.items():
        a.pages[vpn] = paddr
        a._set_pte(vpn, paddr, moved.prot)
    k.core.flush_tlb()
    return start


MADV_DONTNEED = 4


def sys_madvise(k, p, addr, length, advice):
    if addr & (mm.PAGE - 1):
        raise FsError(errno.EINVAL)
    if advice == MADV_DONTNEED:
        # private anonymous memory reads as zeros again: drop the frames, keep the mapping
        a = p.aspace
        end = mm.page_up(addr + length)
        for vpn in range(addr >> 12, end >> 12):
            paddr = a.pages.pop(vpn, None)
            if paddr is not None:
                a._clear_pte(vpn)
                a.frames.free(paddr)
        k.core.flush_tlb()
    return 0


# --- processes -------------------------------------------------------------------------------

def sys_exit(k, p, status):
    k.terminate(p, (status & 0xFF) << 8)
    return NO_RETURN


def sys_exit_group(k, p, status):
    return sys_exit(k, p, status)


def sys_getpid(k, p):
    return p.pid


def sys_gettid(k, p):
    return p.pid


def sys_getppid(k, p):
    return p.parent.pid if p.parent is not None else 0


def sys_getuid(k, p):
    return os.getuid()


def sys_getgid(k, p):
    return os.getgid()


def sys_getpgid(k, p, pid):
    target = _process(k, p, pid)
    return target.pgid


def sys_setpgid(k, p, pid, pgid):
    target = _process(k, p, pid)
    target.pgid = pgid or target.pid
    return 0


def sys_getsid(k, p, pid):
    return _process(k, p, pid).sid


def sys_setsid(k, p):
    if p.pgid == p.pid:
        raise FsError(errno.EPERM)
    p.sid = p.pgid = p.pid
    return p.pid


def _process(k, p, pid):
    pid = _s32(pid)
    if pid == 0:
        return p
    target = k.processes.get(pid)
    if target is None or target.state == REAPED:
        raise FsError(errno.ESRCH)
    return target


def sys_set_tid_address(k, p, addr):
    p.clear_child_tid = addr
    return p.pid


def sys_set_robust_list(k, p, head, length):
    if length != 24:
        raise FsError(errno.EINVAL)
    p.robust_list = (head, length)
    return 0


def sys_clone(k, p, flags, stack, ptid, tls, ctid):
    # RISC-V Linux selects CLONE_BACKWARDS: tls before the child's tid pointer
    if flags & CLONE_NEW_ANY:
        raise FsError(errno.EPERM)
    if flags & (CLONE_THREAD | CLONE_SIGHAND) or (flags & CLONE_VM and not flags & CLONE_VFORK):
        # threads need a shared-memory scheduler with futexes: not served
        raise FsError(errno.EINVAL)
    if flags & CLONE_FILES:
        raise FsError(errno.EINVAL)
    child = k.fork(p, bool(flags & CLONE_VM), stack, tls if flags & CLONE_SETTLS else None)
    if flags & CLONE_PARENT_SETTID:
        p.aspace.write(ptid, struct.pack("<i", child.pid))
    if flags & CLONE_CHILD_SETTID:
        child.aspace.write(ctid, struct.pack("<i", child.pid))
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = ctid
    if flags & CLONE_VFORK:
        child.vfork_parent = p
        p.vfork_child = child
        p.waiting = lambda: p.vfork_child is None
    return child.pid


def sys_execve(k, p, path_addr, argv_addr, envp_addr):
    path = _path(p, path_addr)

    def strings(addr):
        out = []
        while addr:
            ptr = p.aspace.read_u64(addr + 8 * len(out))
            if ptr == 0:
                break
            out.append(p.aspace.read_cstr(ptr, 131072))
            if len(out) > 65536:
                raise FsError(errno.E2BIG)
        return out

    argv = strings(argv_addr)
    envp = strings(envp_addr)
    try:
        k.exec_into(p, path, argv, envp)
    except ExecError as err:
        raise FsError(getattr(errno, err.errno_name)) from None
    except mm.OutOfMemory:
        raise FsError(errno.ENOMEM) from None
    return NO_RETURN


def sys_wait4(k, p, pid, status_addr, options, rusage):
    pid = _s32(pid)
    if options & ~(WNOHANG | 2 | 8 | 0x40000000 | 0x80000000 | 0x20000000):
        raise FsError(errno.EINVAL)

    def matches(c):
        return pid == -1 or c.pid == pid or (pid == 0 and c.pgid == p.pgid) or (pid < -1 and c.pgid == -pid)

    candidates = [c for c in p.children if c.state != REAPED and matches(c)]
    if not candidates:
        raise FsError(errno.ECHILD)
    done = [c for c in candidates if c.state == ZOMBIE]
    if not done:
        if options & WNOHANG:
            return 0
        raise Block(lambda: any(c.state == ZOMBIE for c in candidates))
    child = done[0]
    if status_addr:
        p.aspace.write(status_addr, struct.pack("<i", child.wait_status))
    if rusage:
        p.aspace.write(rusage, bytes(144))
    child.state = REAPED
    p.children.remove(child)
    return child.pid


def sys_kill(k, p, pid, sig):
    pid, sig = _s32(pid), _s32(sig)
    if not 0 <= sig <= NSIG:
        raise FsError(errno.EINVAL)
    if pid > 0:
        targets = [_process(k, p, pid)]
    elif pid == 0:
        targets = [q for q in k.processes.values() if q.state == RUNNING and q.pgid == p.pgid]
    elif pid == -1:
        targets = [q for q in k.processes.values() if q.state == RUNNING and q is not k.init]
    else:
        targets = [q for q in k.processes.values() if q.state == RUNNING and q.pgid == -pid]
    if not targets:
        raise FsError(errno.ESRCH)
    if sig == 0:
        return 0
    for target in targets:
        _send_signal(k, target, sig)
    return 0


def _send_signal(k, target, sig):
    """Deliver by the default action: terminate, or ignore. A signal with a
    handler installed is not run (handlers are recorded only): it is discarded,
    as is a blocked one."""
    if target.state != RUNNING:
        return
    act = target.action(sig)
    if sig in (SIGKILL, SIGSTOP) or (act.handler == SIG_DFL and not target.sig_mask & (1 << (sig - 1))):
        if sig in DEFAULT_IGNORED or sig in DEFAULT_STOP:
            return
        k.kill_by_signal(target, sig)


def sys_tgkill(k, p, tgid, tid, sig):
    return sys_kill(k, p, tid, sig)


def sys_tkill(k, p, tid, sig):
    return sys_kill(k, p, tid, sig)


def sys_rt_sigaction(k, p, sig, act, oact, sigsetsize):
    sig = _s32(sig)
    if sigsetsize != 8 or not 1 <= sig <= NSIG or (act and sig in (SIGKILL, SIGSTOP)):
        raise FsError(errno.EINVAL)
    old = p.action(sig)
    if act:
        handler, flags, mask = struct.unpack("<QQQ", p.aspace.read(act, 24))
        new = SigAction(handler, flags, mask)
    if oact:
        p.aspace.write(oact, struct.pack("<QQQ", old.handler, old.flags, old.mask))
    if act:
        p.sig_actions[sig] = new
    return 0


def sys_rt_sigprocmask(k, p, how, set_addr, oset_addr, sigsetsize):
    if sigsetsize != 8:
        raise FsError(errno.EINVAL)
    old = p.sig_mask
    if set_addr:
        new = struct.unpack("<Q", p.aspace.read(set_addr, 8))[0]
        if how == 0:
            mask = old | new
        elif how == 1:
            mask = old & ~new
        elif how == 2:
            mask = new
        else:
            raise FsError(errno.EINVAL)
        p.sig_mask = mask & ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)))
    if oset_addr:
        p.aspace.write(oset_addr, struct.pack("<Q", old))
    return 0


def sys_sigaltstack(k, p, ss, old_ss):
    current = p.altstack
    if old_ss:
        p.aspace.write(old_ss, struct.pack("<QiiQ", current[0], current[1], 0, current[2]))
    if ss:
        sp, flags, _pad, size = struct.unpack("<QiiQ", p.aspace.read(ss, 24))
        if flags & ~(2 | (1 << 31)):
            raise FsError(errno.EINVAL)
        if not flags & 2 and size < 2048:
            raise FsError(errno.ENOMEM)
        p.altstack = (sp, flags, size)
    return 0


RLIM_INFINITY = MASK64
RLIMITS = {3: (8 << 20, RLIM_INFINITY), 7: (1024, 4096)}


def sys_prlimit64(k, p, pid, resource, new, old):
    if pid and _s32(pid) != p.pid:
        _process(k, p, pid)
    if resource >= 16:
        raise FsError(errno.EINVAL)
    limits = p.rlimits
    cur = limits.get(resource) or RLIMITS.get(resource, (RLIM_INFINITY, RLIM_INFINITY))
    if old:
        p.aspace.write(old, struct.pack("<QQ", *cur))
    if new:
        soft, hard = struct.unpack("<QQ", p.aspace.read(new, 16))
        if soft > hard or hard > cur[1]:
            raise FsError(errno.EINVAL if soft > hard else errno.EPERM)
        limits[resource] = (soft, hard)
    return 0


def sys_getrlimit(k, p, resource, addr):
    return sys_prlimit64(k, p, 0, resource, 0, addr)


def sys_setrlimit(k, p, resource, addr):
    return sys_prlimit64(k, p, 0, resource, addr, 0)


def sys_getrusage(k, p, who, addr):
    if _s32(who) not in (0, -1, 1):
        raise FsError(errno.EINVAL)
    ns = k.core.instret * 10
    usage = struct.pack("<qqqq", ns // 10**9, (ns % 10**9) // 1000, 0, 0) + bytes(112)
    p.aspace.write(addr, usage)
    return 0


def sys_times(k, p, addr):
    ticks = k.core.instret * 10 // 10**7      # clock ticks of 10 ms
    if addr:
        p.aspace.write(addr, struct.pack("<qqqq", ticks, 0, 0, 0))
    return ticks


PR_SET_NAME, PR_GET_NAME = 15, 16


def sys_prctl(k, p, option, arg2, arg3, arg4, arg5):
    if option == PR_SET_NAME:
        p.comm = p.aspace.read(arg2, 16).split(b"\0")[0][:15]
        return 0
    if option == PR_GET_NAME:
        p.aspace.write(arg2, p.comm[:15].ljust(16, b"\0"))
        return 0
    raise FsError(errno.EINVAL)


def sys_sched_getaffinity(k, p, pid, size, mask):
    _process(k, p, pid)
    if size < 8 or size & 7:
        raise FsError(errno.EINVAL)
    p.aspace.write(mask, struct.pack("<Q", 1))
    return 8


def sys_sched_yield(k, p):
    return 0


def sys_rseq(k, p, rseq, length, flags, sig):
    # Linux built without CONFIG_RSEQ: the C library then does without it
    raise FsError(errno.ENOSYS)


def sys_clone3(k, p, args, size):
    # the C library falls back to clone(2) on ENOSYS, which serves fork and vfork
    raise FsError(errno.ENOSYS)


# --- time, identity, randomness -----------------------------------------------------------

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7


def _clock(k, clk):
    clk = _s32(clk)
    if clk in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE, 8 + 3):     # REALTIME, _COARSE, TAI
        return k.time_ns(True)
    if clk in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME):
        return k.time_ns(False)
    if clk in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
        return k.core.instret * 10
    raise FsError(errno.EINVAL)


def sys_clock_gettime(k, p, clk, ts):
    ns = _clock(k, clk)
    p.aspace.write(ts, struct.pack("<qq", ns // 10**9, ns % 10**9))
    return 0


def sys_clock_getres(k, p, clk, ts):
    _clock(k, clk)
    if ts:
        p.aspace.write(ts, struct.pack("<qq", 0, 1))
    return 0


def sys_gettimeofday(k, p, tv, tz):
    ns = k.time_ns(True)
    if tv:
        p.aspace.write(tv, struct.pack("<qq", ns // 10**9, (ns % 10**9) // 1000))
    if tz:
        p.aspace.write(tz, struct.pack("<ii", 0, 0))
    return 0


def _sleep(k, p, req, clk=CLOCK_MONOTONIC, absolute=False):
    sec, nsec = struct.unpack("<qq", p.aspace.read(req, 16))
    if sec < 0 or not 0 <= nsec < 10**9:
        raise FsError(errno.EINVAL)
    ns = sec * 10**9 + nsec
    if absolute:
        ns = max(0, ns - _clock(k, clk))
    k.sleep(ns)
    return 0


def sys_nanosleep(k, p, req, rem):
    return _sleep(k, p, req)


def sys_clock_nanosleep(k, p, clk, flags, req, rem):
    _clock(k, clk)
    return _sleep(k, p, req, clk, bool(flags & 1))


def sys_uname(k, p, buf):
    fields = (b"Linux", b"pyvmm", b"6.12.0-pyvmm", b"#1 SMP PREEMPT pyvmm user", b"riscv64", b"(none)")
    p.aspace.write(buf, b"".join(f.ljust(65, b"\0") for f in fields))
    return 0


def sys_sysinfo(k, p, buf):
    total = k.core.ram_size
    free = (k.frames.count - k.frames.in_use) * mm.PAGE
    procs = sum(1 for q in k.processes.values() if q.state == RUNNING)
    data = struct.pack("<q3QQQQQQQHH4xQQI", k.time_ns(False) // 10**9, 0, 0, 0, total, free, 0, 0, 0, 0,
                       procs, 0, 0, 0, 1)
    p.aspace.write(buf, data.ljust(112, b"\0"))
    return 0


def sys_getrandom(k, p, buf, length, flags):
    if flags & ~7:
        raise FsError(errno.EINVAL)
    length = min(length, 1 << 25)
    p.aspace.write(buf, k.random_bytes(length))
    return length


# --- RISC-V ------------------------------------------------------------------------------------

HWPROBE_KEY_MVENDORID, HWPROBE_KEY_MARCHID, HWPROBE_KEY_MIMPID = 0, 1, 2
HWPROBE_KEY_BASE_BEHAVIOR, HWPROBE_KEY_IMA_EXT_0, HWPROBE_KEY_CPUPERF_0 = 3, 4, 5
HWPROBE_KEY_ZICBOZ_BLOCK_SIZE = 6
HWPROBE_BASE_BEHAVIOR_IMA = 1
HWPROBE_IMA_FD, HWPROBE_IMA_C = 1, 2


def sys_riscv_hwprobe(k, p, pairs, count, cpusetsize, cpus, flags):
    if flags:
        raise FsError(errno.EINVAL)
    misa = k.misa
    ext = 0
    if misa & (1 << 5) and misa & (1 << 3):
        ext |= HWPROBE_IMA_FD
    if misa & (1 << 2):
        ext |= HWPROBE_IMA_C
    values = {HWPROBE_KEY_MVENDORID: 0, HWPROBE_KEY_MARCHID: 0, HWPROBE_KEY_MIMPID: 0,
              HWPROBE_KEY_BASE_BEHAVIOR: HWPROBE_BASE_BEHAVIOR_IMA, HWPROBE_KEY_IMA_EXT_0: ext,
              HWPROBE_KEY_CPUPERF_0: 0, HWPROBE_KEY_ZICBOZ_BLOCK_SIZE: 0}
    for i in range(count):
        key = _s64(p.aspace.read_u64(pairs + 16 * i))
        if key in values:
            p.aspace.write(pairs + 16 * i + 8, struct.pack("<Q", values[key]))
        else:
            p.aspace.write(pairs + 16 * i, struct.pack("<qQ", -1, 0))
    return 0


def sys_riscv_flush_icache(k, p, start, end, flags):
    if flags & ~1:
        raise FsError(errno.EINVAL)
    # the core keeps decoded instructions coherent with every store
    return 0


# --- the table -------------------------------------------------------------------------------------

# number: (name, strace argument kinds, handler)
TABLE = {}
# calls whose arguments must be shown before the call runs (it replaces or ends the image)
TRACE_BEFORE = {"execve", "exit", "exit_group"}
HEX_RESULT = {"brk", "mmap", "mremap"}


def _add(nr, name, kinds, fn):
    TABLE[nr] = (name, kinds, fn)


_add(17, "getcwd", "ru", sys_getcwd)
_add(23, "dup", "d", sys_dup)
_add(24, "dup3", "ddx", sys_dup3)
_add(25, "fcntl", "ddx", sys_fcntl)
_add(29, "ioctl", "dxx", sys_ioctl)
_add(34, "mkdirat", "Dsm", sys_mkdirat)
_add(35, "unlinkat", "Dsx", sys_unlinkat)
_add(36, "symlinkat", "sDs", sys_symlinkat)
_add(37, "linkat", "DsDsx", sys_linkat)
_add(38, "renameat", "DsDs", sys_renameat)
_add(46, "ftruncate", "du", sys_ftruncate)
_add(48, "faccessat", "Dsx", sys_faccessat)
_add(49, "chdir", "s", sys_chdir)
_add(50, "fchdir", "d", sys_fchdir)
_add(52, "fchmod", "dm", sys_fchmod)
_add(53, "fchmodat", "Dsm", sys_fchmodat)
_add(56, "openat", "Dsom", sys_openat)
_add(57, "close", "d", sys_close)
_add(59, "pipe2", "xx", sys_pipe2)
_add(61, "getdents64", "dxu", sys_getdents64)
_add(62, "lseek", "ddw", sys_lseek)
_add(63, "read", "dru", sys_read)
_add(64, "write", "diu", sys_write)
_add(65, "readv", "dxu", sys_readv)
_add(66, "writev", "dxu", sys_writev)
_add(67, "pread64", "druu", sys_pread64)
_add(68, "pwrite64", "diuu", sys_pwrite64)
_add(78, "readlinkat", "Dsru", sys_readlinkat)
_add(79, "newfstatat", "Dsxx", sys_newfstatat)
_add(80, "fstat", "dx", sys_fstat)
_add(81, "sync", "", sys_sync)
_add(82, "fsync", "d", sys_fsync)
_add(83, "fdatasync", "d", sys_fsync)
_add(88, "utimensat", "Dsxx", sys_utimensat)
_add(93, "exit", "d", sys_exit)
_add(94, "exit_group", "d", sys_exit_group)
_add(96, "set_tid_address", "x", sys_set_tid_address)
_add(99, "set_robust_list", "xu", sys_set_robust_list)
_add(101, "nanosleep", "xx", sys_nanosleep)
_add(113, "clock_gettime", "dx", sys_clock_gettime)
_add(114, "clock_getres", "dx", sys_clock_getres)
_add(115, "clock_nanosleep", "ddxx", sys_clock_nanosleep)
_add(123, "sched_getaffinity", "dux", sys_sched_getaffinity)
_add(124, "sched_yield", "", sys_sched_yield)
_add(129, "kill", "dS", sys_kill)
_add(130, "tkill", "dS", sys_tkill)
_add(131, "tgkill", "ddS", sys_tgkill)
_add(132, "sigaltstack", "xx", sys_sigaltstack)
_add(134, "rt_sigaction", "Sxxu", sys_rt_sigaction)
_add(135, "rt_sigprocmask", "dxxu", sys_rt_sigprocmask)
_add(153, "times", "x", sys_times)
_add(154, "setpgid", "dd", sys_setpgid)
_add(155, "getpgid", "d", sys_getpgid)
_add(156, "getsid", "d", sys_getsid)
_add(157, "setsid", "", sys_setsid)
_add(160, "uname", "x", sys_uname)
_add(163, "getrlimit", "dx", sys_getrlimit)
_add(164, "setrlimit", "dx", sys_setrlimit)
_add(165, "getrusage", "dx", sys_getrusage)
_add(166, "umask", "m", sys_umask)
_add(167, "prctl", "dxxxx", sys_prctl)
_add(169, "gettimeofday", "xx", sys_gettimeofday)
_add(172, "getpid", "", sys_getpid)
_add(173, "getppid", "", sys_getppid)
_add(174, "getuid", "", sys_getuid)
_add(175, "geteuid", "", sys_getuid)
_add(176, "getgid", "", sys_getgid)
_add(177, "getegid", "", sys_getgid)
_add(178, "gettid", "", sys_gettid)
_add(179, "sysinfo", "x", sys_sysinfo)
_add(214, "brk", "x", sys_brk)
_add(215, "munmap", "xu", sys_munmap)
_add(216, "mremap", "xuuxx", sys_mremap)
_add(220, "clone", "xxxxx", sys_clone)      # flags, stack, ptid, tls, ctid
_add(221, "execve", "sAA", sys_execve)
_add(222, "mmap", "xuxxdx", sys_mmap)
_add(226, "mprotect", "xux", sys_mprotect)
_add(233, "madvise", "xud", sys_madvise)
_add(258, "riscv_hwprobe", "xuuxx", sys_riscv_hwprobe)
_add(259, "riscv_flush_icache", "xxx", sys_riscv_flush_icache)
_add(260, "wait4", "dxxx", sys_wait4)
_add(261, "prlimit64", "ddxx", sys_prlimit64)
_add(276, "renameat2", "DsDsx", sys_renameat2)
_add(278, "getrandom", "xux", sys_getrandom)
_add(291, "statx", "Dsxxx", sys_statx)
_add(293, "rseq", "xuxx", sys_rseq)
_add(435, "clone3", "xu", sys_clone3)
_add(439, "faccessat2", "Dsxx", sys_faccessat2)

BY_NAME = {name: nr for nr, (name, _, _) in TABLE.items()}

"""The file system a user-mode program sees: a host directory as its root.

Path resolution is done here, one component at a time, the way a kernel
walks a path under chroot(2): the walk starts at the root for an absolute
path and at the process's working directory otherwise; `..` at the root
stays at the root; every symbolic link met is read and its target walked
in turn (an absolute target from the root again), at most 40 of them
(ELOOP). The host path that results is the root joined with plain
components only (never `..`, never a host symlink), and the last component
is opened with O_NOFOLLOW, so no path, however spelled, reaches a host
file outside the root.

Without `writable`, the view is read-only: opening for writing, creating,
removing or renaming anything is -EROFS, as on a read-only mount. A few
device nodes exist whatever the root holds, as character devices do on
Linux: /dev/null, /dev/zero, /dev/random and /dev/urandom (the latter two
draw from the run's deterministic random stream unless --realtime).
"""

import errno
import os
import stat

MAX_SYMLINKS = 40

O_ACCMODE = 0o3
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_CLOEXEC = 0o2000000
O_PATH = 0o10000000
O_TMPFILE = 0o20000000 | O_DIRECTORY

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12


class FsError(Exception):
    """A failed file operation: `.errno` is the Linux error number."""

    def __init__(self, err):
        super().__init__(errno.errorcode.get(err, str(err)))
        self.errno = err


def dtype_of(mode):
    if stat.S_ISDIR(mode):
        return DT_DIR
    if stat.S_ISREG(mode):
        return DT_REG
    if stat.S_ISLNK(mode):
        return DT_LNK
    if stat.S_ISCHR(mode):
        return DT_CHR
    if stat.S_ISBLK(mode):
        return DT_BLK
    if stat.S_ISFIFO(mode):
        return DT_FIFO
    if stat.S_ISSOCK(mode):
        return DT_SOCK
    return DT_UNKNOWN


class StatInfo:
    """The fields of struct stat a system call reports."""

    __slots__ = ("dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks",
                 "atime_ns", "mtime_ns", "ctime_ns")

    @classmethod
    def from_host(cls, st):
        s = cls()
        s.dev, s.ino, s.mode, s.nlink = st.st_dev, st.st_ino, st.st_mode, st.st_nlink
        s.uid, s.gid, s.rdev, s.size = st.st_uid, st.st_gid, st.st_rdev, st.st_size
        s.blksize, s.blocks = st.st_blksize, st.st_blocks
        s.atime_ns, s.mtime_ns, s.ctime_ns = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
        return s

    @classmethod
    def synthetic(cls, mode, ino, rdev=0, size=0, uid=0, gid=0):
        s = cls()
        s.dev, s.ino, s.mode, s.nlink, s.uid, s.gid = 5, ino, mode, 1, uid, gid
        s.rdev, s.size, s.blksize, s.blocks = rdev, size, 4096, 0
        s.atime_ns = s.mtime_ns = s.ctime_ns = 0
        return s


def _host_call(fn, *args):
    try:
        return fn(*args)
    except OSError as err:
        raise FsError(err.errno or errno.EIO) from None


# --- open file descriptions --------------------------------------------------------

class OpenFile:
    """An open file description: shared by dup'd descriptors and across fork.
    `flags` holds the access mode and the status flags (O_APPEND, O_NONBLOCK)."""

    kind = "file"

    def __init__(self, flags, path=b""):
        self.flags = flags
        self.path = path
        self.refs = 0

    @property
    def readable(self):
        return (self.flags & O_ACCMODE) in (0, O_RDWR) and not self.flags & O_PATH

    @property
    def writable(self):
        return (self.flags & O_ACCMODE) in (O_WRONLY, O_RDWR) and not self.flags & O_PATH

    def read(self, n):
        raise FsError(errno.EINVAL)

    def write(self, data):
        raise FsError(errno.EINVAL)

    def pread(self, n, offset):
        raise FsError(errno.ESPIPE)

    def pwrite(self, data, offset):
        raise FsError(errno.ESPIPE)

    def lseek(self, offset, whence):
        raise FsError(errno.ESPIPE)

    def stat(self):
        raise FsError(errno.EBADF)

    def getdents(self):
        raise FsError(errno.ENOTDIR)

    def isatty(self):
        return False

    def host_fd(self):
        """The host descriptor behind this file (for terminal ioctls), or None."""
        return None

    def ready_to_read(self):
        """False while a read would block (an empty pipe with writers)."""
        return True

    def ready_to_write(self):
        return True

    def truncate(self, length):
        raise FsError(errno.EINVAL)

    def sync(self):
        # Linux: fsync of a file that cannot be synchronized (pipe, FIFO)
        raise FsError(errno.EINVAL)

    def close(self):
        """Called when the last descriptor goes; a file holding nothing on
        the host has nothing to give back."""


class HostDescriptor(OpenFile):
    """An open file backed by a host descriptor `fd`: reads, writes, seeks,
    stat and fsync go straight to the host."""

    def sync(self):
        _host_call(os.fsync, self.fd)

    def read(self, n):
        return _host_call(os.read, self.fd, n)

    def write(self, data):
        return _host_call(os.write, self.fd, data)

    def pread(self, n, offset):
        return _host_call(os.pread, self.fd, n, offset)

    def pwrite(self, data, offset):
        return _host_call(os.pwrite, self.fd, data, offset)

    def lseek(self, offset, whence):
        return _host_call(os.lseek, self.fd, offset, whence)

    def stat(self):
        return StatInfo.from_host(_host_call(os.fstat, self.fd))


class HostFile(HostDescriptor):
    """A regular file (or a device inside the root) opened on the host."""

    def __init__(self, fd, flags, path, host_path):
        super().__init__(flags, path)
        self.fd = fd
        self.host_path = host_path

    def truncate(self, length):
        _host_call(os.ftruncate, self.fd, length)

    def close(self):
        os.close(self.fd)


class HostDirectory(HostFile):
    """A directory: getdents64 lists it sorted by name after `.` and `..`, so a
    listing is the same on every host (Linux leaves the order to the file system)."""

    kind = "dir"

    def __init__(self, fd, flags, path, host_path, parent_ino):
        super().__init__(fd, flags, path, host_path)
        self.parent_ino = parent_ino
        self.entries = None
        self.pos = 0

    def read(self, n):
        raise FsError(errno.EISDIR)

    def write(self, data):
        raise FsError(errno.EISDIR)

    def pread(self, n, offset):
        raise FsError(errno.EISDIR)

    def lseek(self, offset, whence):
        if whence != os.SEEK_SET or offset < 0:
            raise FsError(errno.EINVAL)
        self.pos = offset
        if offset == 0:
            self.entries = None
        return offset

    def getdents(self):
        """(entries, pos): entries is a list of (ino, dtype, name); the caller
        consumes from pos and stores the new position in .pos."""
        if self.entries is None:
            own = _host_call(os.fstat, self.fd).st_ino
            entries = [(own, DT_DIR, b"."), (self.parent_ino, DT_DIR, b"..")]
            with os.scandir(self.fd) as it:
                listed = sorted(((os.fsencode(e.name), e) for e in it), key=lambda t: t[0])
            for name, entry in listed:
                st = entry.stat(follow_symlinks=False)
                entries.append((st.st_ino, dtype_of(st.st_mode), name))
            self.entries = entries
        return self.entries


class StdStream(HostDescriptor):
    """One of the host's standard descriptors, passed through (never closed)."""

    def __init__(self, fd, flags, name):
        super().__init__(flags, name)
        self.fd = fd

    def isatty(self):
        return os.isatty(self.fd)

    def host_fd(self):
        return self.fd


class Pipe:
    """A pipe's buffer. Linux's capacity (64 KiB): a write blocks while the
    buffer is full and a read while it is empty, unless the other side is
    closed (EOF for the reader, EPIPE/SIGPIPE for the writer)."""

    CAPACITY = 65536

    def __init__(self):
        self.buf = bytearray()
        self.readers = 0
        self.writers = 0
        self.ino = 0


class PipeEnd(OpenFile):
    kind = "pipe"

    def __init__(self, pipe, flags):
        super().__init__(flags, b"pipe:[%d]" % pipe.ino)
        self.pipe = pipe
        if self.writable:
            pipe.writers += 1
        else:
            pipe.readers += 1

    def ready_to_read(self):
        return bool(self.pipe.buf) or self.pipe.writers == 0

    def ready_to_write(self):
        return len(self.pipe.buf) < Pipe.CAPACITY or self.pipe.readers == 0

    def read(self, n):
        data = bytes(self.pipe.buf[:n])
        del self.pipe.buf[:n]
        return data

    def write(self, data):
        room = Pipe.CAPACITY - len(self.pipe.buf)
        data = data[:room]
        self.pipe.buf += data
        return len(data)

    def stat(self):
        return StatInfo.synthetic(stat.S_IFIFO | 0o600, self.pipe.ino, uid=os.getuid(), gid=os.getgid(),
                                  size=len(self.pipe.buf))

    def close(self):
        if self.writable:
            self.pipe.writers -= 1
        else:
            self.pipe.readers -= 1


class CharDevice(OpenFile):
    """/dev/null, /dev/zero, /dev/random, /dev/urandom."""

    kind = "chr"
    DEVICES = {b"/dev/null": (1, 3), b"/dev/zero": (1, 5), b"/dev/random": (1, 8), b"/dev/urandom": (1, 9)}

    def __init__(self, path, flags, random):
        super().__init__(flags, path)
        self.major, self.minor = self.DEVICES[path]
        self.random = random

    def read(self, n):
        if self.minor == 3:
            return b""
        if self.minor == 5:
            return bytes(n)
        return self.random(n)

    def write(self, data):
        return len(data)

    def pread(self, n, offset):
        return self.read(n)

    def pwrite(self, data, offset):
        return len(data)

    def lseek(self, offset, whence):
        return 0

    def stat(self):
        return device_stat(self.path)


def device_stat(path):
    major, minor = CharDevice.DEVICES[path]
    return StatInfo.synthetic(stat.S_IFCHR | 0o666, 1000 + minor, rdev=(major << 8) | minor)


# --- the root and path resolution ----------------------------------------------------

class FileSystem:
    """The program's view of files: host directory `root`, read-only unless `writable`."""

    def __init__(self, root, writable=False, random=None):
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise FsError(errno.ENOTDIR)
        self.writable = writable
        self.random = random or (lambda n: bytes(n))

    def host_path(self, components):
        return os.path.join(self.root, *[os.fsdecode(c) for c in components]) if components else self.root

    def resolve(self, cwd, path, follow=True, want_parent=False):
        """Walk guest path `path` (bytes) from guest directory `cwd`.

        Returns the list of components of the canonical guest path. With
        `follow`, a symlink in the last component is followed too. With
        `want_parent`, the last component is not looked up (it may not
        exist) and the result is (parent components, last name). Raises
        FsError(ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG)."""
        if not path:
            raise FsError(errno.ENOENT)
        if len(path) >= 4096:
            raise FsError(errno.ENAMETOOLONG)
        stack = [] if path.startswith(b"/") else [c for c in cwd.split(b"/") if c]
        pending = [c for c in path.split(b"/") if c]
        trailing_slash = path.endswith(b"/")
        links = 0
        last_name = None
        if want_parent:
            if not pending:
                return stack[:-1], (stack[-1] if stack else b"/")
            last_name = pending.pop()
        while pending:
            comp = pending.pop(0)
            if comp == b".":
                continue
            if comp == b"..":
                if stack:
                    stack.pop()
                continue
            if len(comp) > 255:
                raise FsError(errno.ENAMETOOLONG)
            candidate = stack + [comp]
            if candidate[:1] == [b"dev"] and b"/" + b"/".join(candidate) in CharDevice.DEVICES:
                if pending:
                    raise FsError(errno.ENOTDIR)
                stack = candidate
                continue
            host = self.host_path(candidate)
            if candidate == [b"dev"] and pending and not os.path.lexists(host):
                # the device nodes are there even when the root has no /dev
                stack = candidate
                continue
            st = _host_call(os.lstat, host)
            is_last = not pending
            if stat.S_ISLNK(st.st_mode) and (not is_last or follow or trailing_slash):
                links += 1
                if links > MAX_SYMLINKS:
                    raise FsError(errno.ELOOP)
                target = os.fsencode(_host_call(os.readlink, host))
                if target.startswith(b"/"):
                    stack = []
                pending = [c for c in target.split(b"/") if c] + pending
                continue
            if not is_last and not stat.S_ISDIR(st.st_mode):
                raise FsError(errno.ENOTDIR)
            stack = candidate
        if trailing_slash and stack and not want_parent:
            guest = b"/" + b"/".join(stack)
            if guest not in CharDevice.DEVICES and not os.path.isdir(self.host_path(stack)):
                raise FsError(errno.ENOTDIR)
        if want_parent:
            if last_name in (b".", b".."):
                raise FsError(errno.EINVAL if last_name == b"." else errno.ENOTEMPTY)
            host = self.host_path(stack)
            if not os.path.isdir(host) or os.path.islink(host):
                raise FsError(errno.ENOTDIR)
            return stack, last_name
        return stack

    @staticmethod
    def guest_path(components):
        return b"/" + b"/".join(components)

    def lstat_components(self, components):
        guest = self.guest_path(components)
        if guest in CharDevice.DEVICES:
            return device_stat(guest)
        return StatInfo.from_host(_host_call(os.lstat, self.host_path(components)))

    def stat(self, cwd, path, follow=True):
        return self.lstat_components(self.resolve(cwd, path, follow))

    def open(self, cwd, path, flags, mode):
        """open(2) in the view: an OpenFile."""
        acc = flags & O_ACCMODE
        wants_write = acc in (O_WRONLY, O_RDWR) or flags & (O_TRUNC | O_CREAT) or \
            (flags & O_TMPFILE) == O_TMPFILE
        if acc == O_ACCMODE:
            raise FsError(errno.EINVAL)
        try:
            comps = self.resolve(cwd, path, follow=not (flags & O_NOFOLLOW))
        except FsError as err:
            if err.errno != errno.ENOENT or not flags & O_CREAT:
                raise
            if not self.writable:
                raise FsError(errno.EROFS) from None
            parent, name = self.resolve(cwd, path, want_parent=True)
            comps = parent + [name]
            if os.path.islink(self.host_path(comps)):
                # a dangling symlink: O_CREAT would create its target, which
                # may name a place outside the root; refused as Linux does in
                # sticky directories.
                raise FsError(errno.EACCES) from None
        guest = self.guest_path(comps)
        if guest in CharDevice.DEVICES:
            if flags & O_DIRECTORY:
                raise FsError(errno.ENOTDIR)
            return CharDevice(guest, flags & ~(O_CREAT | O_EXCL | O_TRUNC), self.random)
        if wants_write and not self.writable:
            if flags & O_CREAT and flags & O_EXCL and os.path.lexists(self.host_path(comps)):
                raise FsError(errno.EEXIST)
            raise FsError(errno.EROFS)
        host = self.host_path(comps)
        host_flags = (flags & (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECTORY | O_NONBLOCK)) \
            | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
        if flags & O_PATH:
            host_flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC | (flags & O_DIRECTORY)
        fd = _host_call(os.open, host, host_flags, mode & 0o7777)
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and not flags & O_PATH:
            parent = self.host_path(comps[:-1])
            return HostDirectory(fd, flags, guest, host, os.stat(parent).st_ino)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) and not flags & O_PATH:
            # device nodes, FIFOs and sockets inside the root are not served:
            # opening one could block the emulator or reach host hardware
            os.close(fd)
            raise FsError(errno.EACCES)
        return HostFile(fd, flags, guest, host)

    def readlink(self, cwd, path):
        comps = self.resolve(cwd, path, follow=False)
        host = self.host_path(comps)
        st = _host_call(os.lstat, host)
        if not stat.S_ISLNK(st.st_mode):
            raise FsError(errno.EINVAL)
        return os.fsencode(_host_call(os.readlink, host))

    def access(self, cwd, path, mode, follow=True):
        comps = self.resolve(cwd, path, follow)
        guest = self.guest_path(comps)
        if guest in CharDevice.DEVICES:
            return
        host = self.host_path(comps)
        if mode & os.W_OK and not self.writable:
            raise FsError(errno.EROFS)
        if mode and not os.access(host, mode, follow_symlinks=False):
            raise FsError(errno.EACCES)

    # --- changes (writable roots only) ------------------------------------------------

    def _need_writable(self):
        if not self.writable:
            raise FsError(errno.EROFS)

    def _parent(self, cwd, path):
        parent, name = self.resolve(cwd, path, want_parent=True)
        return os.path.join(self.host_path(parent), os.fsdecode(name)), parent + [name]

    def mkdir(self, cwd, path, mode):
        host, comps = self._parent(cwd, path)
        if os.path.lexists(host):
            raise FsError(errno.EEXIST)
        self._need_writable()
        _host_call(os.mkdir, host, mode & 0o7777)

    def unlink(self, cwd, path, rmdir=False):
        host, comps = self._parent(cwd, path)
        st = _host_call(os.lstat, host)
        self._need_writable()
        if rmdir:
            if not stat.S_ISDIR(st.st_mode):
                raise FsError(errno.ENOTDIR)
            _host_call(os.rmdir, host)
        else:
            if stat.S_ISDIR(st.st_mode):
                raise FsError(errno.EISDIR)
            _host_call(os.unlink, host)

    def rename(self, cwd, old, new):
        old_host, _ = self._parent(cwd, old)
        new_host, _ = self._parent(cwd, new)
        _host_call(os.lstat, old_host)
        self._need_writable()
        _host_call(os.rename, old_host, new_host)

    def symlink(self, cwd, target, path):
        host, _ = self._parent(cwd, path)
        if os.path.lexists(host):
            raise FsError(errno.EEXIST)
        self._need_writable()
        # the link's text is stored as written: it is only ever followed by
        # this resolver, which keeps it inside the root
        _host_call(os.symlink, os.fsdecode(target), host)

    def link(self, cwd, old, new):
        old_comps = self.resolve(cwd, old, follow=False)
        new_host, _ = self._parent(cwd, new)
        self._need_writable()
        _host_call(os.link, self.host_path(old_comps), new_host, follow_symlinks=False)

    def chmod(self, cwd, path, mode):
        comps = self.resolve(cwd, path)
        self._need_writable()
        _host_call(os.chmod, self.host_path(comps), mode & 0o7777)

    def utimens(self, cwd, path, times_ns, follow=True):
        comps = self.resolve(cwd, path, follow)
        self._need_writable()
        _host_call(lambda: os.utime(self.host_path(comps), ns=times_ns, follow_symlinks=follow))

    def truncate(self, cwd, path, length):
        comps = self.resolve(cwd, path)
        self._need_writable()
        _host_call(os.truncate, self.host_path(comps), length)

    def is_dir(self, components):
        host = self.host_path(components)
        return os.path.isdir(host) and not os.path.islink(host)

"""strace-style lines for system calls: `write(1, "hello\\n", 6) = 6`.

Each system call has an argument signature (a string of one letter per
argument, see ARG_KINDS); strings and buffers are shown as strace shows them
by default: C escapes, octal for other bytes, at most 32 bytes then `...`.
A failed call reads `= -1 ENOENT (No such file or directory)`.
"""

import errno
import os

from pyvmm.user.memory import BadAddress

STRSIZE = 32
AT_FDCWD = -100

# Argument kinds:
#   d  signed int (32-bit)         D  directory fd (AT_FDCWD)     u  unsigned decimal
#   x  hex (NULL for 0)            s  C string (a path)          o  open(2) flags
#   m  octal mode                  i  buffer in: length is the next argument
#   r  buffer out: length is the return value (shown after the call)
#   S  signal number               A  argv/envp array            w  whence
KIND_LETTERS = "dDuxsomirSAw"

OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
              (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"),
              (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"),
              (0o2000000, "O_CLOEXEC"), (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"),
              (0o20000000, "__O_TMPFILE"), (0o100000, "O_LARGEFILE")]
WHENCE = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}


def escape(data, limit=STRSIZE):
    """strace's quoting of a byte string: "..." with C escapes, `...` when cut."""
    cut = len(data) > limit
    data = data[:limit]
    out = ['"']
    specials = {0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r", 0x0C: "\\f", 0x0B: "\\v", 0x22: '\\"', 0x5C: "\\\\"}
    for i, b in enumerate(data):
        if b in specials:
            out.append(specials[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            nxt = data[i + 1] if i + 1 < len(data) else None
            if nxt is not None and 0x30 <= nxt <= 0x37:
                out.append("\\%03o" % b)
            else:
                out.append("\\%o" % b)
    out.append('"')
    if cut:
        out.append("...")
    return "".join(out)


def _s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _s64(v):
    return v - (1 << 64) if v & (1 << 63) else v


def open_flags(v):
    acc = ("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE")[v & 3]
    parts = [acc]
    rest = v & ~3
    for bit, name in OPEN_FLAGS:
        if rest & bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append("%#o" % rest)
    return "|".join(parts)


def _string_at(aspace, addr):
    if addr == 0:
        return "NULL"
    try:
        s = aspace.read_cstr(addr, 4096)
    except (BadAddress, ValueError):
        return "%#x" % addr
    return escape(s)


def _buffer_at(aspace, addr, n):
    if addr == 0:
        return "NULL"
    try:
        return escape(aspace.read(addr, min(n, STRSIZE + 1)))
    except BadAddress:
        return "%#x" % addr


def _array_at(aspace, addr):
    if addr == 0:
        return "NULL"
    items = []
    try:
        while len(items) < 33:
            p = aspace.read_u64(addr + 8 * len(items))
            if p == 0:
                break
            items.append(_string_at(aspace, p))
    except BadAddress:
        return "%#x" % addr
    if len(items) > 32:
        return "[" + ", ".join(items[:32]) + ", ...]"
    return "[" + ", ".join(items) + "]"


def format_args(kinds, args, aspace, ret=None, before=False):
    """The argument list of one call. Output buffers ('r') are shown only
    once the call has returned a length (`ret` >= 0), else as an address."""
    out = []
    for i, kind in enumerate(kinds):
        v = args[i]
        if kind == "d":
            out.append(str(_s32(v)))
        elif kind == "D":
            out.append("AT_FDCWD" if _s32(v) == AT_FDCWD else str(_s32(v)))
        elif kind == "u":
            out.append(str(v))
        elif kind == "x":
            out.append("NULL" if v == 0 else "%#x" % v)
        elif kind == "s":
            out.append(_string_at(aspace, v))
        elif kind == "o":
            out.append(open_flags(v))
        elif kind == "m":
            out.append("0%o" % v if v else "000")
        elif kind == "i":
            out.append(_buffer_at(aspace, v, args[i + 1]))
        elif kind == "r":
            if ret is not None and ret >= 0 and not before:
                out.append(_buffer_at(aspace, v, ret))
            else:
                out.append("%#x" % v)
        elif kind == "S":
            from pyvmm.user.process import signal_name
            out.append(signal_name(v) if 0 < v < 65 else str(_s32(v)))
        elif kind == "A":
            out.append(_array_at(aspace, v))
        elif kind == "w":
            out.append(WHENCE.get(v, str(v)))
        else:
            out.append("%#x" % v)
    return ", ".join(out)


def format_result(ret, hex_result=False):
    if ret is None:
        return "?"
    if ret < 0 and -ret < 4096:
        err = -ret
        name = errno.errorcode.get(err, "E%d" % err)
        return "-1 %s (%s)" % (name, os.strerror(err))
    return ("%#x" % ret) if hex_result else str(ret)


def format_call(name, kinds, args, aspace, ret, hex_result=False, pid_prefix=""):
    if name == "openat" and not args[2] & 0o20000100:
        kinds = kinds[:3]       # the mode is shown only when the call can create a file
    return "%s%s(%s) = %s" % (pid_prefix, name, format_args(kinds, args, aspace, ret), format_result(ret, hex_result))

"""The root directory view: reads inside it, no way out of it, read-only by
default, writes with --writable, directory listings."""

import errno
import os

import pytest

from conftest import pyvmm_user

from pyvmm.user.fs import FileSystem, FsError


@pytest.fixture
def outside(tmp_path):
    """A file next to the root that no guest path may reach."""
    path = tmp_path / "secret.txt"
    path.write_text("SECRET\n")
    return path


def test_cat_reads_files_under_the_root(root):
    proc = pyvmm_user("--root", root, "/bin/cat", "/etc/motd", "data/a.txt", "/data/link")
    assert proc.returncode == 0
    assert proc.stdout == b"inside the root\nay\nay\n"


def test_cwd_option_sets_the_working_directory(root):
    proc = pyvmm_user("--root", root, "--cwd", "/data", "/bin/cat", "b.txt", "../etc/motd")
    assert proc.stdout == b"bee\ninside the root\n"


def test_escapes_never_reach_outside(root, outside):
    rel = os.path.relpath(outside, root)
    os.symlink(str(outside), root / "data" / "abs_link")
    os.symlink(os.path.join("..", "..", rel), root / "data" / "rel_link")
    os.symlink(str(outside.parent), root / "data" / "dir_link")
    attempts = ["../secret.txt", "/../secret.txt", rel, "/" + rel, str(outside), "data/abs_link",
                "data/rel_link", "data/dir_link/secret.txt", "/data/../../../secret.txt"]
    proc = pyvmm_user("--root", root, "/bin/cat", *attempts)
    assert b"SECRET" not in proc.stdout
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == len(attempts)
    for line in lines:
        assert line.endswith(": -2") or line.endswith(": -13"), line
    assert proc.returncode == len(attempts)


def test_symlink_inside_the_root_is_followed_from_the_root(root):
    os.symlink("/etc/motd", root / "data" / "to_motd")
    os.symlink("../../../../etc/motd", root / "data" / "up_motd")
    proc = pyvmm_user("--root", root, "/bin/cat", "/data/to_motd", "/data/up_motd")
    assert proc.stdout == b"inside the root\ninside the root\n"


def test_symlink_loop_is_eloop(root):
    os.symlink("loop2", root / "data" / "loop1")
    os.symlink("loop1", root / "data" / "loop2")
    proc = pyvmm_user("--root", root, "/bin/cat", "/data/loop1")
    assert proc.stdout == b"/data/loop1: -%d\n" % errno.ELOOP


def test_getdents64_lists_a_directory(root):
    proc = pyvmm_user("--root", root, "/bin/ls", "/data")
    assert proc.returncode == 0
    assert proc.stdout == b". dir\n.. dir\na.txt file\nb.txt file\nlink link\n"


def test_getdents64_of_the_root(root):
    proc = pyvmm_user("--root", root, "/bin/ls", "/")
    assert proc.stdout == b". dir\n.. dir\nbin dir\ndata dir\netc dir\n"


def test_read_only_root_refuses_writes(root):
    (root / "existing.txt").write_text("keep\n")
    proc = pyvmm_user("--root", root, "/bin/files")
    lines = proc.stdout.decode().splitlines()
    erofs = "-%d" % errno.EROFS
    assert lines[0] == "mkdirat dir = " + erofs
    assert lines[1] == "openat dir/new.txt for writing = " + erofs
    assert "openat existing.txt for writing = " + erofs in lines
    assert "symlinkat = " + erofs in lines
    assert sorted(os.listdir(root)) == ["bin", "data", "etc", "existing.txt"]
    assert (root / "existing.txt").read_text() == "keep\n"


def test_writable_root_allows_changes_inside(root):
    (root / "existing.txt").write_text("keep\n")
    proc = pyvmm_user("--root", root, "--writable", "/bin/files")
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0
    assert lines[:4] == ["mkdirat dir = 0", "openat dir/new.txt for writing = 3", "write = 15", "close = 0"]
    assert "size = 15" in lines
    assert "inside" in lines                      # pread64 at offset 8 of "written inside\n"
    assert "unlinkat dir = 0" in lines
    assert not (root / "dir").exists()
    # the symlink was made inside the root; its absolute target is the root's /etc/passwd
    assert os.readlink(root / "link") == "/etc/passwd"


def test_dev_null_is_there_whatever_the_root(root):
    proc = pyvmm_user("--root", root, "/bin/cat", "/dev/null", "/etc/motd")
    assert proc.stdout == b"inside the root\n"


# --- the resolver through the API ---------------------------------------------------

def test_resolve_clamps_dotdot_at_the_root(tmp_path):
    (tmp_path / "a").mkdir()
    fs = FileSystem(str(tmp_path))
    assert fs.resolve(b"/", b"../../a") == [b"a"]
    assert fs.resolve(b"/a", b"..") == []
    assert fs.guest_path(fs.resolve(b"/a", b"../a/./")) == b"/a"


def test_resolve_errors(tmp_path):
    (tmp_path / "f").write_text("x")
    fs = FileSystem(str(tmp_path))
    for path, err in ((b"nothere", errno.ENOENT), (b"f/x", errno.ENOTDIR), (b"", errno.ENOENT),
                      (b"x" * 300, errno.ENAMETOOLONG)):
        with pytest.raises(FsError) as info:
            fs.resolve(b"/", path)
        assert info.value.errno == err


def test_open_never_follows_a_host_symlink_outside(tmp_path, outside):
    root = tmp_path / "r"
    root.mkdir()
    os.symlink(str(outside), root / "x")
    fs = FileSystem(str(root), writable=True)
    with pytest.raises(FsError) as info:
        fs.open(b"/", b"x", 0, 0)
    assert info.value.errno == errno.ENOENT
    # creating through a dangling link would create its target: refused
    with pytest.raises(FsError) as info:
        fs.open(b"/", b"x", 0o101, 0o644)
    assert info.value.errno in (errno.EACCES, errno.ENOENT)
    assert outside.read_text() == "SECRET\n"


def test_fsync_reaches_the_host_where_linux_would_sync(tmp_path):
    from pyvmm.user.fs import CharDevice, HostFile, Pipe, PipeEnd
    for unsyncable in (PipeEnd(Pipe(), os.O_WRONLY), CharDevice(b"/dev/null", os.O_RDWR, None)):
        with pytest.raises(FsError) as error:
            unsyncable.sync()
        assert error.value.errno == errno.EINVAL            # as Linux's fsync of a pipe or /dev/null
    path = tmp_path / "f"
    path.write_bytes(b"x")
    fd = os.open(path, os.O_RDWR)
    f = HostFile(fd, os.O_RDWR, b"/f", str(path))
    f.sync()
    f.close()

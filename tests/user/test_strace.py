"""--strace text, as strace prints it."""

from conftest import pyvmm_user

from pyvmm.user.strace import escape, format_result, open_flags


def test_write_line_is_straces(root):
    proc = pyvmm_user("--root", root, "--strace", "/bin/hello")
    lines = proc.stderr.decode().splitlines()
    assert proc.stdout == b"hello\n"
    assert lines == ['write(1, "hello\\n", 6) = 6', "exit_group(0) = ?", "+++ exited with 0 +++"]


def test_errors_and_opens(root):
    proc = pyvmm_user("--root", root, "--strace", "/bin/cat", "/nothere", "/etc/motd")
    lines = proc.stderr.decode().splitlines()
    assert lines[0] == 'openat(AT_FDCWD, "/nothere", O_RDONLY) = -1 ENOENT (No such file or directory)'
    assert 'openat(AT_FDCWD, "/etc/motd", O_RDONLY) = 3' in lines
    assert 'read(3, "inside the root\\n", 512) = 16' in lines
    assert "close(3) = 0" in lines
    assert lines[-1] == "+++ exited with 1 +++"


def test_unknown_syscall_line(root):
    proc = pyvmm_user("--root", root, "--strace", "/bin/unknown")
    lines = proc.stderr.decode().splitlines()
    assert lines[1].startswith("syscall_0x1f4(")
    assert lines[1].endswith(") = -1 ENOSYS (Function not implemented)")


def test_fork_lines_carry_the_pid(root):
    proc = pyvmm_user("--root", root, "--strace", "--cwd", "/bin", "/bin/fork")
    text = proc.stderr.decode()
    assert "[pid 2] " in text and "[pid 1] " in text
    assert '[pid 3] execve("hello", ["hello", "5"], ["FROM=fork"]) = 0' in text


def test_escape_like_strace():
    assert escape(b"a\nb\t\"\\") == '"a\\nb\\t\\"\\\\"'
    assert escape(b"\x00\x01x") == '"\\0\\1x"'
    assert escape(b"\x001") == '"\\0001"'          # an octal escape before a digit is 3 digits
    assert escape(b"x" * 40) == '"' + "x" * 32 + '"...'
    assert escape(b"\xff") == '"\\377"'


def test_results_and_flags():
    assert format_result(-2) == "-1 ENOENT (No such file or directory)"
    assert format_result(5) == "5"
    assert format_result(0x1000, hex_result=True) == "0x1000"
    assert open_flags(0o1101) == "O_WRONLY|O_CREAT|O_TRUNC"
    assert open_flags(0o2200000) == "O_RDONLY|O_DIRECTORY|O_CLOEXEC"

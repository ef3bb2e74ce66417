"""`pyvmm user` as a user runs it: exit statuses, fatal signals, bad input."""

import json
import os

from conftest import pyvmm_user


def test_hello_prints_and_exits_zero(root):
    proc = pyvmm_user("--root", root, "/bin/hello")
    assert proc.stdout == b"hello\n"
    assert proc.stderr == b""
    assert proc.returncode == 0


def test_exit_status_is_the_programs(root):
    for status in (0, 1, 42, 255):
        proc = pyvmm_user("--root", root, "/bin/hello", status)
        assert proc.returncode == status


def test_relative_program_path_resolves_in_the_root(root):
    proc = pyvmm_user("--root", root, "bin/hello", cwd="/")
    assert proc.stdout == b"hello\n"


def test_default_root_is_the_current_directory(root):
    proc = pyvmm_user("bin/hello", cwd=root)
    assert proc.stdout == b"hello\n"


def _fatal(root, what):
    proc = pyvmm_user("--root", root, "/bin/fault", what)
    lines = proc.stderr.decode().splitlines()
    assert proc.stdout == b"before\n"
    assert len(lines) == 1, lines
    return proc.returncode, lines[0]


def test_null_load_is_sigsegv_139(root):
    status, line = _fatal(root, "null")
    assert status == 139
    assert "SIGSEGV" in line and "pc 0x" in line and "address 0x0" in line


def test_illegal_instruction_is_sigill_132(root):
    status, line = _fatal(root, "ill")
    assert status == 132
    assert "SIGILL" in line and "pc 0x" in line


def test_ebreak_is_sigtrap_133(root):
    status, line = _fatal(root, "ebreak")
    assert status == 133
    assert "SIGTRAP" in line


def test_store_to_read_only_page_is_sigsegv(root):
    proc = pyvmm_user("--root", root, "/bin/mem", "protfault")
    assert proc.returncode == 139
    assert b"storing to a read-only page\n" in proc.stdout
    assert b"not reached" not in proc.stdout


def _bad_input(root, prog, *more):
    proc = pyvmm_user("--root", root, prog, *more)
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1, lines
    assert proc.stdout == b""
    return lines[0]


def test_missing_program_is_exit_2(root):
    assert "nothere" in _bad_input(root, "/bin/nothere")


def test_non_elf_is_exit_2(root):
    (root / "script.txt").write_text("just text\n")
    os.chmod(root / "script.txt", 0o755)
    line = _bad_input(root, "/script.txt")
    assert "script.txt" in line and "not an ELF" in line


def test_32_bit_elf_is_exit_2(root):
    data = bytearray((root / "bin" / "hello").read_bytes())
    data[4] = 1                         # EI_CLASS = ELFCLASS32
    (root / "bin" / "h32").write_bytes(bytes(data))
    os.chmod(root / "bin" / "h32", 0o755)
    line = _bad_input(root, "/bin/h32")
    assert "h32" in line and "32-bit" in line


def test_other_machine_elf_is_exit_2(root):
    data = bytearray((root / "bin" / "hello").read_bytes())
    data[18:20] = (62).to_bytes(2, "little")    # EM_X86_64
    (root / "bin" / "x86").write_bytes(bytes(data))
    os.chmod(root / "bin" / "x86", 0o755)
    line = _bad_input(root, "/bin/x86")
    assert "x86" in line and "not RISC-V" in line


def test_dynamic_executable_is_exit_2(root):
    # add a PT_INTERP by retyping the first program header
    data = bytearray((root / "bin" / "hello").read_bytes())
    phoff = int.from_bytes(data[32:40], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        at = phoff + 56 * i
        if int.from_bytes(data[at:at + 4], "little") != 1:      # not PT_LOAD
            data[at:at + 4] = (3).to_bytes(4, "little")
            break
    else:
        raise AssertionError("no non-LOAD program header to retype")
    (root / "bin" / "dyn").write_bytes(bytes(data))
    os.chmod(root / "bin" / "dyn", 0o755)
    line = _bad_input(root, "/bin/dyn")
    assert "dyn" in line and "dynamic" in line


def test_directory_as_program_is_exit_2(root):
    _bad_input(root, "/bin")


def test_stats_counts_syscalls_and_unknown_ones(root):
    proc = pyvmm_user("--root", root, "--stats", "/bin/unknown")
    assert proc.returncode == 0
    assert proc.stdout == b"syscall 500 = -38\n" * 3
    stats = json.loads(proc.stderr)
    assert stats["unknown_syscalls"] == {"500": 3}
    assert stats["syscalls"]["write"] == 9
    assert stats["syscalls"]["exit_group"] == 1
    assert stats["instret"] > 0


def test_same_program_same_output_every_run(root):
    first = pyvmm_user("--root", root, "--stats", "/bin/args", "x")
    second = pyvmm_user("--root", root, "--stats", "/bin/args", "x")
    assert first.returncode == 0
    assert first.stdout == second.stdout
    assert json.loads(first.stderr) == json.loads(second.stderr)


def test_max_insns_stops_with_124(root):
    proc = pyvmm_user("--root", root, "--max-insns", "1000", "/bin/mem")
    assert proc.returncode == 124


def test_missing_working_directory_is_exit_2(root):
    proc = pyvmm_user("--root", root, "--cwd", "/nothere", "/bin/hello")
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert "/nothere" in lines[0]

"""exec's initial stack: argc, argv, envp and the auxiliary vector, as the
program sees them (guests/user/args.c prints them)."""

import struct

import pytest

from conftest import GUEST_PATH, pyvmm_user

from pyvmm._core import Core
from pyvmm.user import loader
from pyvmm.user.elf import ElfImage
from pyvmm.user.memory import AddressSpace, Frames, STACK_TOP


def _fields(stdout):
    return stdout.decode().splitlines()


def test_argv_and_envp_reach_the_program(root):
    proc = pyvmm_user("--root", root, "-E", "GREETING=hi there", "/bin/args", "one", "two words", "")
    lines = _fields(proc.stdout)
    assert proc.returncode == 0
    assert lines[:5] == ["argc=4", "argv: /bin/args", "argv: one", "argv: two words", "argv: "]
    assert "env: " + GUEST_PATH in lines
    assert "env: GREETING=hi there" in lines


def test_auxv_has_what_linux_writes(root):
    lines = _fields(pyvmm_user("--root", root, "/bin/args").stdout)
    assert "sp%16=0" in lines
    assert "AT_PAGESZ=4096" in lines
    assert "AT_CLKTCK=100" in lines
    assert "AT_PHENT=56" in lines
    assert "AT_BASE=0" in lines
    assert "AT_SECURE=0" in lines
    assert "AT_EXECFN=/bin/args" in lines
    assert "AT_ENTRY==_start=1" in lines
    assert "PT_LOAD>0=1" in lines
    # RISC-V Linux writes no AT_PLATFORM
    assert "AT_PLATFORM present" not in lines
    random = [line for line in lines if line.startswith("AT_RANDOM=")]
    assert len(random) == 1 and random[0].endswith(" aligned")
    assert len(random[0].split("=")[1].split()[0]) == 32


def test_hwcap_is_misa_letters_linux_reports():
    misa = Core(ram_size=1 << 20).read_csr(0x301)
    cap = loader.hwcap_from_misa(misa)
    for letter in "imac":
        assert cap & (1 << (ord(letter) - ord("a")))
    assert not cap & (1 << (ord("h") - ord("a")))       # H is not an AT_HWCAP letter
    assert not cap & (1 << (ord("s") - ord("a")))
    assert loader.hwcap_from_misa(0) == 0


def test_auxv_random_is_fixed_unless_realtime(root):
    def random_line(*opts):
        lines = _fields(pyvmm_user("--root", root, *opts, "/bin/args").stdout)
        return [line for line in lines if line.startswith("AT_RANDOM=")][0]

    assert random_line() == random_line()
    assert random_line("--realtime") != random_line("--realtime")


def test_stack_layout_through_the_api(programs):
    core = Core(ram_size=8 << 20)
    core.write_csr(0x3B0, (1 << 54) - 1)
    aspace = AddressSpace(Frames(core))
    image = ElfImage(open(programs + "/hello", "rb").read(), "hello")
    loaded = loader.load_image(aspace, image, "/hello")
    sp, auxv = loader.build_stack(aspace, loaded, [b"hello", b"x"], [b"A=1"], b"/hello",
                                  bytes(range(16)), 0x1105, (1, 2, 3, 4))
    assert sp % 16 == 0 and STACK_TOP - 4096 < sp < STACK_TOP
    argc, argv0, argv1, null, env0, null2 = struct.unpack("<6Q", aspace.read(sp, 48))
    assert (argc, null, null2) == (2, 0, 0)
    assert aspace.read_cstr(argv0) == b"hello" and aspace.read_cstr(argv1) == b"x"
    assert aspace.read_cstr(env0) == b"A=1"
    words = struct.unpack("<%dQ" % (2 * len(auxv)), aspace.read(sp + 48, 16 * len(auxv)))
    pairs = list(zip(words[::2], words[1::2]))
    assert pairs == auxv
    values = dict(auxv)
    assert aspace.read(values[loader.AT_RANDOM], 16) == bytes(range(16))
    assert aspace.read_cstr(values[loader.AT_EXECFN]) == b"/hello"
    assert (values[loader.AT_UID], values[loader.AT_EUID], values[loader.AT_GID], values[loader.AT_EGID]) \
        == (1, 2, 3, 4)
    assert values[loader.AT_ENTRY] == image.entry
    assert pairs[-1] == (loader.AT_NULL, 0)
    # the strings sit above the pointers, the path last below the top zero word
    assert aspace.read(STACK_TOP - 8, 8) == bytes(8)
    assert values[loader.AT_EXECFN] + len(b"/hello") + 1 == STACK_TOP - 8


def test_elf_image_rejects_truncated_headers():
    from pyvmm.user.elf import ExecError
    with pytest.raises(ExecError, match="truncated"):
        ElfImage(b"\x7fELF" + bytes(10), "short")


def test_static_pie_runs_at_linuxs_et_dyn_base(tmp_path):
    import shutil
    import subprocess
    from conftest import CFLAGS, GUESTS
    cc = "riscv64-linux-gnu-gcc"
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} is not installed (apt-get install gcc-riscv64-linux-gnu): it links static-pie")
    out = tmp_path / "hello"
    flags = [f for f in CFLAGS if f != "-static"] + ["-static-pie", "-fPIE", "-Wl,--no-dynamic-linker"]
    subprocess.run([cc, *flags, "-o", str(out), GUESTS + "/start.S", GUESTS + "/hello.c"], check=True)
    image = ElfImage(out.read_bytes(), "hello")
    assert image.is_pie
    proc = pyvmm_user("--root", tmp_path, "/hello", 9)
    assert proc.stdout == b"hello\n"
    assert proc.returncode == 9
    core = Core(ram_size=4 << 20)
    aspace = AddressSpace(Frames(core))
    loaded = loader.load_image(aspace, image, "/hello")
    assert loaded.bias == loader.ET_DYN_BASE and loaded.entry == image.entry + loader.ET_DYN_BASE

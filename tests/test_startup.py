"""What `pyvmm` imports to start: each command pays for its own modules only.

Checked by module, never by time (benchmarks/test_startup_bench.py times it):
a `pyvmm run` imports none of the other commands' modules (the assembler's
only for a .S image), `--help` and usage errors stop before the board, the
trace machinery comes with --trace, and importing a package does no work.
"""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(REPO, "guests", "hello.S")


def core_built():
    try:
        import pyvmm._core  # noqa: F401
    except ImportError:
        return False
    return True


needs_core = pytest.mark.skipif(not core_built(), reason="pyvmm._core is not built")

# Runs main(argv) in a fresh interpreter; prints (status, the pyvmm modules
# and a few others imported) as JSON on the last line of stderr.
PROBE = """
import os, sys
argv = sys.argv[1:]
sys.stdout = open(os.devnull, "w")
from pyvmm.cli import main
try:
    status = main(argv)
except SystemExit as e:
    status = e.code
watched = ("numpy", "threading", "json", "hashlib")
mods = sorted(m for m in sys.modules if m.startswith("pyvmm") or m in watched)
import json
sys.stderr.write("\\n" + json.dumps([status, mods]) + "\\n")
"""


def imported_by(*argv):
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    status, modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return status, set(modules)


OTHER_COMMANDS = ("pyvmm.bench", "pyvmm.hv", "pyvmm.asm.cli", "pyvmm.asm.disasm",
                  "pyvmm.asm.disasm_cli", "pyvmm.debug")


def under(modules, *packages):
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@needs_core
def test_run_of_an_assembly_guest_imports_only_what_it_uses():
    status, modules = imported_by("run", HELLO)
    assert status == 0
    assert "pyvmm.machine.machine" in modules and "pyvmm.asm.assembler" in modules
    assert under(modules, *OTHER_COMMANDS) == []
    assert under(modules, "pyvmm.machine.trace") == []
    # the counters' JSON only when asked for (--stats, --stats-file)
    assert "json" not in modules


@needs_core
def test_run_of_an_elf_does_not_load_the_assembler_or_the_isa_tables(tmp_path):
    elf = tmp_path / "hello.elf"
    status, _ = imported_by("asm", HELLO, "-o", str(elf))
    assert status == 0
    status, modules = imported_by("run", str(elf))
    assert status == 0
    assert under(modules, "pyvmm.asm", *OTHER_COMMANDS) == []
    assert under(modules, "pyvmm.isa") == ["pyvmm.isa", "pyvmm.isa.causes"]


@needs_core
def test_stats_brings_json_and_trace_brings_the_tracer(tmp_path):
    status, modules = imported_by("run", HELLO, "--stats-file", str(tmp_path / "s.json"),
                                  "--trace", "int", "--trace-file", str(tmp_path / "trace"))
    assert status == 0
    assert "json" in modules and "pyvmm.machine.trace" in modules


@pytest.mark.parametrize("argv", [["run", "--help"], ["run"], ["run", "--ram", "lots", HELLO]],
                         ids=["help", "no-image", "bad-ram"])
def test_help_and_usage_errors_stop_before_the_board(argv):
    status, modules = imported_by(*argv)
    assert status in (0, 2)
    assert "numpy" not in modules
    assert under(modules, "pyvmm.machine.machine", "pyvmm.io", "pyvmm.isa.codec", "pyvmm.asm",
                 *OTHER_COMMANDS) == []


def test_top_level_help_still_lists_every_command():
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for command in ("run", "asm", "disasm", "bench", "analyze"):
        assert f"    {command} " in proc.stdout


def test_an_unknown_command_is_one_usage_error():
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "frobnicate"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "invalid choice: 'frobnicate'" in proc.stderr


def test_importing_the_packages_does_no_work():
    code = ("import sys, pyvmm, pyvmm.machine, pyvmm.isa, pyvmm.cli; "
            "print(int('numpy' in sys.modules), int('pyvmm.isa.codec' in sys.modules), "
            "int('pyvmm.machine.machine' in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "0"]


def test_the_lazy_package_names_resolve():
    import pyvmm.isa
    import pyvmm.machine
    from pyvmm.isa import BY_NAME, EXC_ECALL_S, decode, reg_name
    from pyvmm.machine import ImageError, load_image  # noqa: F401
    assert decode(0x00000013)[0].name == "addi" and "addi" in BY_NAME
    assert reg_name(10) == "a0" and EXC_ECALL_S == 9
    assert "Machine" in dir(pyvmm.machine) and "decode" in dir(pyvmm.isa)
    with pytest.raises(AttributeError):
        pyvmm.isa.no_such_name
    with pytest.raises(AttributeError):
        pyvmm.machine.no_such_name


def test_the_command_asks_numpy_for_one_blas_thread_unless_told_otherwise():
    probe = ("import os, sys\n"
             "from pyvmm.cli import main\n"
             "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
             "sys.stderr.write(os.environ.get('OPENBLAS_NUM_THREADS', '-'))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.stderr == "1"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO,
                          env=dict(env, OPENBLAS_NUM_THREADS="4"), capture_output=True, text=True,
                          timeout=120)
    assert proc.stderr == "4"

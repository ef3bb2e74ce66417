"""The built wheel, installed into a fresh virtual environment, works from a
directory that is not the checkout: the README's first example, a shipped
S-mode kernel, `pyvmm bench --suite nano --format json` and `pyvmm analyze`
all find the guests the wheel carries (pyvmm/guests), never the checkout's."""

import fcntl
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(pyvmm executable, its python, a scratch directory outside the checkout)."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheel"
    # pip builds in the checkout's own build/ directory: xdist workers that
    # each set this module up take turns there (a lock in the directory
    # their temporary directories share), or one copies what another deletes.
    with open(tmp_path_factory.getbasetemp().parent / "pyvmm-wheel-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                        str(CHECKOUT)], check=True, cwd=root)
    (wheel,) = wheels.glob("pyvmm-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, cwd=root)
    work = root / "work"
    work.mkdir()
    return env_dir / "bin" / "pyvmm", python, work


def run(installed, *argv, timeout=600):
    _pyvmm, python, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(installed[0]), *argv], cwd=work, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_installed_package_is_not_the_checkout(installed):
    _pyvmm, python, work = installed
    out = subprocess.run([str(python), "-c", "import pyvmm.resources as r; "
                          "print(r.guests_dir()); print(r.__file__)"],
                         cwd=work, capture_output=True, text=True, check=True).stdout.split()
    guests, module = (Path(p) for p in out)
    assert guests == Path(module).parent / "guests"
    assert CHECKOUT not in guests.parents
    assert (guests / "kernel" / "kernel.elf").is_file()
    assert (guests / "bench" / "compute.elf").is_file()


def test_readme_first_example(installed):
    proc = run(installed, "run", "guests/hello.S")
    assert proc.returncode == 0, proc.stderr
    assert "Hello from pyvmm" in proc.stdout


def test_shipped_kernel_on_the_builtin_sbi(installed):
    proc = run(installed, "run", "--bios", "builtin", "guests/kernel/kernel.elf")
    assert proc.returncode == 0, proc.stderr
    assert "kernel: shutdown" in proc.stdout


def test_a_path_that_names_no_guest_is_one_line_exit_2(installed):
    proc = run(installed, "run", "guests/no-such-guest.S")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "no-such-guest.S" in proc.stderr


def test_bench_nano_json(installed):
    proc = run(installed, "bench", "--suite", "nano", "--format", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert Path(report["kernel"]).name == "kernel.elf"
    assert CHECKOUT not in Path(report["kernel"]).parents
    assert all(reason is None for reason in report["availability"].values())
    assert [c for c in report["cells"] if c["error"]] == []
    assert report["walk2d"]["native"]["refs_per_walk"] == 3.0


def test_analyze(installed):
    proc = run(installed, "analyze", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["popek_goldberg_holds"] is True


def test_bench_boot_kernel_json(installed):
    proc = run(installed, "bench", "--suite", "boot", "--os", "kernel", "--runs", "1",
               "--techniques", "hw-nested", "--format", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    assert [(r["column"], r["same_as_native"]) for r in rows] == [("native", True),
                                                                  ("hw-nested", True)]


def test_the_linux_image_builder_finds_its_files_in_the_wheel(installed):
    _pyvmm, python, work = installed
    out = subprocess.run([str(python), "-c", "import os, pyvmm.bench.linux_images as l; "
                          "print(all(map(os.path.isfile, (l.INIT_SCRIPT, l.APPLETS_SCRIPT, "
                          "l.MINI_INIT_SOURCE)))); print(l.INIT_SCRIPT)"],
                         cwd=work, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True"
    assert CHECKOUT not in Path(out[1]).parents

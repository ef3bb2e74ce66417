"""`pyvmm bench --suite boot`: how long a whole OS boot takes under each
virtualization technique, in host time.

Two operating systems: the project's own kernel (guests/kernel, its
boot-to-shutdown run; pv boots its port kernel-pv.elf) and Debian's Linux
6.12 with a busybox initramfs whose /init mounts a virtio disk, prints a
known section between two markers and powers off (pyvmm.bench.linux_images
builds it from the Debian packages, or --linux-dir gives it prebuilt).
Every boot is a fresh process (pyvmm.bench.boot_run) set up the way
`pyvmm run` sets one up; the report gives for each technique the start-up
(process start to the first guest instruction), the host seconds from the
first instruction to the marker /init prints first and to the end, the
ratio of those to native's, instructions retired, exits by reason and per
host second, and modeled cycles (pyvmm.bench.costmodel).

A boot is correct when it ends with status 0 and prints what native
prints: the project kernel its whole console output, Linux the section
between the markers. The hart a VM offers has no H extension (and leaves
out what its device tree leaves out), so the lines of /proc/cpuinfo that
list the hart's ISA are compared with native's less exactly those
extensions. Native always runs, as the reference.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from statistics import median

from pyvmm.bench import costmodel, techniques
from pyvmm.bench.linux_images import BEGIN_MARKER, BOOT_FILES, END_MARKER

OSES = ("kernel", "linux")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
# The line the project kernel's user-mode init prints first (guests/kernel/user).
KERNEL_MARKER = "init: pid 1"
KERNEL_RAM = 64 << 20
KERNEL_MAX_INSNS = 200_000_000          # its boot retires about 1.3 million
# As the real-OS tests boot it (tests/guests/test_linux_disk.py), on one hart;
# no5lvl keeps the kernel at four levels, which shadow paging walks.
LINUX_APPEND = "console=ttyS0 panic=-1 no5lvl"
LINUX_RAM = 256 << 20
LINUX_MAX_INSNS = 16_000_000_000        # its boot retires about 3.3 billion
DEFAULT_TIMEOUT = 1800.0
GOAL_RATIO = 3.0                         # host time within 3x of native's
CPUINFO_ISA = re.compile(r"^((?:hart )?isa\s*:\s*)(rv64\S+)$")
LINUX_NO_PV = "Linux has no pv build (pv boots a kernel ported to pyvmm's hypercalls)"


class BootBenchError(Exception):
    """Bad input to the suite (a missing kernel): one line, exit status 2."""


# --- what to boot -------------------------------------------------------------------

def linux_images_from(linux_dir=None, scratch=None, progress=None):
    """({name: path} of BOOT_FILES, None) or (None, the one-line reason Linux
    cannot be booted). With linux_dir, the prebuilt files there; otherwise
    built into `scratch` from Debian's packages (fetched into the cache of
    pyvmm.bench.debian when they are not there yet)."""
    if linux_dir is not None:
        missing = [name for name in BOOT_FILES if not os.path.isfile(os.path.join(linux_dir, name))]
        if missing:
            return None, (f"{linux_dir} has no {', '.join(missing)} (python -m "
                          "pyvmm.bench.linux_images DIR writes them)")
        return {name: os.path.join(linux_dir, name) for name in BOOT_FILES}, None
    from pyvmm.bench.linux_images import Unavailable, build_boot_images
    if progress:
        progress("boot: building the Linux images from Debian's packages")
    try:
        build_boot_images(scratch)
    except Unavailable as exc:
        return None, f"Debian's Linux cannot be had: {exc}"
    return {name: os.path.join(scratch, name) for name in BOOT_FILES}, None


def native_bios(os_name):
    """The firmware the board boots `os_name` on: the project kernel on the
    built-in SBI (as `pyvmm run --bios builtin`), Linux on OpenSBI when
    Debian's opensbi package is installed, else on the built-in SBI."""
    if os_name == "linux" and os.path.isfile(OPENSBI):
        return OPENSBI
    return "builtin"


def specs_for(os_name, col, kernel, linux_files):
    """The boot_run spec (less t0 and the disk copy) of `os_name` under `col`."""
    if os_name == "kernel":
        return {"column": col.name, "kernel": str(techniques.kernel_for(col, kernel)),
                "bios": native_bios("kernel"), "initrd": None, "disk": None, "append": "",
                "ram": KERNEL_RAM, "max_insns": KERNEL_MAX_INSNS, "marker": KERNEL_MARKER}
    return {"column": col.name, "kernel": linux_files["Image"], "bios": native_bios("linux"),
            "initrd": linux_files["initrd.gz"], "disk": linux_files["disk-ext4.img"],
            "append": LINUX_APPEND, "ram": LINUX_RAM, "max_insns": LINUX_MAX_INSNS,
            "marker": BEGIN_MARKER}


# --- one boot -----------------------------------------------------------------------

class BootCrashed(Exception):
    """The boot process ended without a result (a technique raised): `trace`
    is what it wrote to stderr."""

    def __init__(self, message, trace):
        super().__init__(message)
        self.trace = trace


def _child_environment():
    """This process's environment, with the pyvmm being run first on the
    child's path and numpy's BLAS on one thread as `pyvmm` sets it."""
    import pyvmm
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(pyvmm.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def boot_once(spec, scratch, timeout):
    """Run one boot in a fresh process; its result dict, or {"error": ...}
    when it ran past `timeout`. Raises BootCrashed when the process failed."""
    spec = dict(spec)
    if spec["disk"] is not None:
        # A private copy: no boot sees another's writes.
        disk = os.path.join(scratch, "disk.img")
        shutil.copyfile(spec["disk"], disk)
        spec["disk"] = disk
    spec_path = os.path.join(scratch, "spec.json")
    result_path = os.path.join(scratch, "result.json")
    if os.path.exists(result_path):
        os.unlink(result_path)
    spec["t0"] = time.monotonic()
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    cmd = [sys.executable, "-m", "pyvmm.bench.boot_run", spec_path, result_path]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              env=_child_environment())
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout:g} s of host time (--boot-timeout)"}
    if proc.returncode != 0 or not os.path.exists(result_path):
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise BootCrashed(f"the boot under {spec['column']} failed: {last}", proc.stderr)
    with open(result_path) as f:
        return json.load(f)


def section(output):
    """The lines from the BEGIN marker to the END marker, or None."""
    lines = output.splitlines()
    if BEGIN_MARKER not in lines:
        return None
    start = lines.index(BEGIN_MARKER)
    if END_MARKER not in lines[start:]:
        return lines[start:]
    return lines[start:lines.index(END_MARKER, start) + 1]


def _isa_parts(isa):
    letters, _, extensions = isa[4:].partition("_")
    return set(letters), [e for e in extensions.split("_") if e]


def _isa_without(isa, letters_gone, extensions_gone):
    letters, extensions = isa[4:].partition("_")[0], _isa_parts(isa)[1]
    return ("rv64" + "".join(c for c in letters if c not in letters_gone)
            + "".join("_" + e for e in extensions if e not in extensions_gone))


def expected_section(native_lines, native_isa, isa):
    """Native's section as a hart offering `isa` (its device tree's) instead
    of native's `native_isa` prints it: the /proc/cpuinfo ISA lines without
    the letters and extensions the run's hart lacks."""
    if not native_isa or not isa or native_isa == isa:
        return list(native_lines)
    (native_letters, native_ext), (letters, ext) = _isa_parts(native_isa), _isa_parts(isa)
    letters_gone, ext_gone = native_letters - letters, set(native_ext) - set(ext)
    out = []
    for line in native_lines:
        match = CPUINFO_ISA.match(line)
        out.append(match.group(1) + _isa_without(match.group(2), letters_gone, ext_gone)
                   if match else line)
    return out


def compared_text(os_name, result):
    """What must equal native's: the kernel's whole output, Linux's section."""
    return result["output"].splitlines() if os_name == "kernel" else section(result["output"])


def run_error(os_name, result):
    """None when the boot ended as a correct boot ends; else why not."""
    if result.get("error"):
        return result["error"]
    if result.get("vm_error"):
        return f"the hypervisor stopped the VM: {result['vm_error']}"
    if result["status"] != 0:
        return f"the boot ended {result['how']} (status {result['status']})"
    if os_name == "linux":
        lines = section(result["output"])
        if lines is None:
            return "/init never printed its BEGIN marker"
        if lines[-1] != END_MARKER:
            return "/init never printed its END marker"
    return None


# --- the suite ----------------------------------------------------------------------

def _counters(result):
    return {"instructions": result["instret"], "exits": result["exits"]}


def _row(os_name, col, results, clock, model):
    first = results[0]
    secs = [r["seconds"][clock] for r in results]
    to_marker = [s["to_marker"] for s in secs]
    events = costmodel.events(first["counts"])
    to_end = median(s["to_end"] for s in secs)
    exits_total = sum(first["exits"].values())
    return {
        "os": os_name, "column": col.name, "available": True, "reason": None,
        "runs": len(results),
        "startup_s": median(s["startup"] for s in secs),
        "to_marker_s": None if None in to_marker else median(to_marker),
        "to_end_s": to_end,
        "instructions": first["instret"],
        "exits": first["exits"], "exits_total": exits_total,
        "exits_per_s": exits_total / to_end if to_end > 0 else None,
        "modeled_cycles": model.cycles(events),
        "counters_equal": (all(_counters(r) == _counters(first) for r in results)
                           if len(results) >= 2 else None),
        "isa": first["isa"],
        "how": first["how"], "status": first["status"],
        "error": None, "same_as_native": None,
        "ratio_marker": None, "ratio_end": None,
    }


def _na_row(os_name, col, reason):
    return {"os": os_name, "column": col.name, "available": False, "reason": reason}


def run_boot_suite(oses=OSES, columns=techniques.COLUMN_NAMES, kernel=None, linux_dir=None,
                   runs=1, clock="wall", model=costmodel.DEFAULT, timeout=DEFAULT_TIMEOUT,
                   progress=None):
    """Boot each OS of `oses` under each column of `columns` (native always
    runs first: the reference) `runs` times; the report dict. A boot whose
    process failed (a technique raised) is a row whose error names it and
    whose crash_trace holds the process's stderr. Raises BootBenchError for
    a missing project kernel."""
    from pyvmm.bench.kernel_workloads import default_kernel
    say = progress or (lambda message: None)
    kernel = str(kernel or default_kernel())
    if "kernel" in oses and not os.path.isfile(kernel):
        raise BootBenchError(f"{kernel}: no such guest kernel")
    wanted = ["native"] + [c for c in columns if c != "native"]
    cols = [techniques.column(name) for name in techniques.COLUMN_NAMES if name in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyvmm-boot-") as scratch:
        linux_files, linux_reason = None, None
        if "linux" in oses:
            linux_files, linux_reason = linux_images_from(
                linux_dir, os.path.join(scratch, "linux"), say)
        for os_name in oses:
            for col in cols:
                if os_name == "linux":
                    reason = (LINUX_NO_PV if col.technique == "pv" else linux_reason
                              or techniques.unavailable_reason(col))
                else:
                    reason = techniques.unavailable_reason(col, kernel)
                if reason is not None:
                    rows.append(_na_row(os_name, col, reason))
                    continue
                spec = specs_for(os_name, col, kernel, linux_files)
                results, error, trace = [], None, None
                for index in range(runs):
                    say(f"boot: {os_name} under {col.name}, run {index + 1} of {runs}")
                    try:
                        results.append(boot_once(spec, scratch, timeout))
                    except BootCrashed as exc:
                        error, trace = str(exc), exc.trace
                        break
                    error = run_error(os_name, results[-1])
                    if error is not None:
                        break
                if error is not None:
                    row = {"os": os_name, "column": col.name, "available": True,
                           "reason": None, "error": error, "crash_trace": trace}
                else:
                    row = _row(os_name, col, results, clock, model)
                    row["output"] = compared_text(os_name, results[0])
                    row["bios"] = spec["bios"] if col.is_native else None
                rows.append(row)
        _compare_with_native(rows)
    for row in rows:
        row.pop("output", None)
    return {"suite": "boot", "oses": list(oses), "columns": list(wanted), "runs": runs,
            "clock": clock, "goal_ratio": GOAL_RATIO, "cost_model": model.as_dict(),
            "rows": rows}


def _compare_with_native(rows):
    """Fill each row's same_as_native and ratios from its OS's native row."""
    natives = {r["os"]: r for r in rows if r["column"] == "native"}
    for row in rows:
        if not row["available"] or row.get("error"):
            continue
        native = natives.get(row["os"])
        if native is None or not native["available"] or native.get("error"):
            row["same_as_native"] = None
            continue
        expected = (expected_section(native["output"], native["isa"], row["isa"])
                    if row["os"] == "linux" else native["output"])
        row["same_as_native"] = row["output"] == expected
        if not row["same_as_native"]:
            row["error"] = "its output differs from native's"
        for key, seconds in (("ratio_marker", "to_marker_s"), ("ratio_end", "to_end_s")):
            if row[seconds] is not None and native[seconds]:
                row[key] = row[seconds] / native[seconds]


def crashed(report):
    """The rows whose boot process failed."""
    return [r for r in report["rows"] if r.get("crash_trace")]


def failed(report):
    """The rows that did not boot correctly or whose counters moved between runs."""
    return [r for r in report["rows"] if r["available"]
            and (r.get("error") or r.get("counters_equal") is False)]

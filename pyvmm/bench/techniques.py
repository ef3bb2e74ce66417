"""The virtualization techniques a benchmark cell can run under, and whether
this tree can run each one now.

A column of the report is a technique with a paging mode: native (the board,
no hypervisor), trap-emulate, bt and pv (software techniques over shadow
tables or the guest's own), hw with shadow paging (the first-generation VT
of Adams & Agesen) and hw with nested paging (G-stage tables). Which of them
exist is read from pyvmm.hv's registry at run time, never assumed: a column
whose technique is not registered (or whose core lacks the H extension hw
needs, or whose kernel build is missing) is reported "n/a (technique not
available)" with the reason. A technique that is registered but raises, when
its module loads or while it runs a guest, is an error (TechniqueCrashed),
never an n/a.
"""

import traceback
from dataclasses import dataclass


class TechniqueCrashed(Exception):
    """A technique (or a benchmark cell running one) raised: `message` is one
    line naming where, `trace` the formatted traceback. Picklable, so it
    crosses from a worker process or a Dask worker intact."""

    def __init__(self, message, trace=""):
        super().__init__(message, trace)
        self.message, self.trace = message, trace

    def __str__(self):
        return self.message


def crashed(where, exc):
    """A TechniqueCrashed for `exc`, raised while doing `where`."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return TechniqueCrashed(f"{where} raised {type(exc).__name__}: {first}".rstrip(": "),
                            "".join(traceback.format_exception(exc)))


@dataclass(frozen=True)
class Column:
    name: str                # the report's column: "hw-nested"
    technique: str           # pyvmm.hv technique name ("native" for the board)
    paging: str = None       # "nested" | "shadow" for VMs; None for native
    paper: str = None        # Adams & Agesen's column this one is read against
    kernel: str = None       # another build of the guest kernel beside the default (pv's port)

    @property
    def is_native(self):
        return self.technique == "native"


COLUMNS = (
    Column("native", "native", None, paper="native"),
    Column("trap-emulate", "trap-emulate", "shadow"),
    Column("bt", "bt", "shadow", paper="bt"),
    Column("pv", "pv", "shadow", kernel="kernel-pv.elf"),
    Column("hw-shadow", "hw", "shadow", paper="vt"),
    Column("hw-nested", "hw", "nested"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
BY_NAME = {c.name: c for c in COLUMNS}


def column(name):
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown technique column {name!r} (known: {', '.join(COLUMN_NAMES)})") \
            from None


def registered_techniques():
    """The names pyvmm.hv can run now (hw, and whatever providers registered)."""
    from pyvmm.hv import available_techniques
    return tuple(available_techniques())


def kernel_for(col, kernel):
    """The image `col` boots: the default kernel, or its own build beside it."""
    from pathlib import Path
    return Path(kernel).with_name(col.kernel) if col.kernel else Path(kernel)


def unavailable_reason(col, kernel=None):
    """None when `col` can run in this tree; otherwise why not (one line).
    Resolves the technique's classes (loading its provider module) and checks
    the core has what hw needs and the technique's kernel build exists,
    without running a guest. A provider module that raises as it loads
    raises TechniqueCrashed."""
    try:
        import pyvmm._core as core_module
    except ImportError as exc:
        return f"the compiled core is not built ({exc})"
    if col.is_native:
        return None
    from pyvmm.hv import HvError, technique_entry
    try:
        technique_entry(col.technique)
    except HvError:
        return f"technique {col.technique!r} is not registered in pyvmm.hv"
    except Exception as exc:
        raise crashed(f"loading technique {col.technique!r}", exc) from exc
    if col.paging == "shadow":
        import pyvmm.hv.shadow  # noqa: F401
    if col.technique == "hw" and not hasattr(core_module.Core, "virt"):
        return "this build of the core has no H extension"
    if col.kernel and kernel is not None and not kernel_for(col, kernel).is_file():
        return f"its kernel build {kernel_for(col, kernel)} does not exist"
    return None


def availability(columns=COLUMNS, kernel=None):
    """{column name: None (available) or the reason it is not}."""
    return {c.name: unavailable_reason(c, kernel) for c in columns}

"""The virtualization techniques a benchmark cell can run under, and whether
this tree can run each one now.

A column of the report is a technique with a paging mode: native (the board,
no hypervisor), trap-emulate, bt and pv (software techniques over shadow
tables or the guest's own), hw with shadow paging (the first-generation VT
of Adams & Agesen) and hw with nested paging (G-stage tables). Which of them
exist is read from pyvmm.hv's registry at run time, never assumed: a column
whose technique is not registered (or whose core lacks what it needs) is
reported "n/a (technique not available)" with the reason.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str                # the report's column: "hw-nested"
    technique: str           # pyvmm.hv technique name ("native" for the board)
    paging: str = None       # "nested" | "shadow" for VMs; None for native
    paper: str = None        # Adams & Agesen's column this one is read against

    @property
    def is_native(self):
        return self.technique == "native"


COLUMNS = (
    Column("native", "native", None, paper="native"),
    Column("trap-emulate", "trap-emulate", "shadow"),
    Column("bt", "bt", "shadow", paper="bt"),
    Column("pv", "pv", "shadow"),
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
    """The names pyvmm.hv knows now (hw, and whatever others registered)."""
    try:
        from pyvmm.hv import TECHNIQUES
    except ImportError:
        return ()
    return tuple(sorted(TECHNIQUES))


def unavailable_reason(col):
    """None when `col` can run in this tree; otherwise why not (one line).
    Resolves the technique's classes and checks the core has what hw needs,
    without running a guest."""
    try:
        import pyvmm._core as core_module
    except ImportError as exc:
        return f"the compiled core is not built ({exc})"
    if col.is_native:
        return None
    try:
        from pyvmm.hv import TECHNIQUES, technique_entry
    except ImportError as exc:
        return f"pyvmm.hv cannot be imported ({exc})"
    if col.technique not in TECHNIQUES:
        return f"technique {col.technique!r} is not registered in pyvmm.hv"
    try:
        technique_entry(col.technique)
    except Exception as exc:        # a registered module that does not import yet
        return f"technique {col.technique!r} does not load ({type(exc).__name__}: {exc})"
    if col.paging == "shadow":
        try:
            import pyvmm.hv.shadow  # noqa: F401
        except Exception as exc:
            return f"shadow paging does not load ({type(exc).__name__}: {exc})"
    if col.technique == "hw" and not hasattr(core_module.Core, "virt"):
        return "this build of the core has no H extension"
    return None


def availability(columns=COLUMNS):
    """{column name: None (available) or the reason it is not}."""
    return {c.name: unavailable_reason(c) for c in columns}

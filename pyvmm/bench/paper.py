"""Adams & Agesen (ASPLOS 2006), the published figures pyvmm's nanobenchmarks
are set beside: CPU cycles on a Pentium 4, native / software VMM (BT) /
hardware VMM (first-generation VT-x with shadow page tables).

From the paper's per-benchmark paragraphs (shared/REFERENCE.md section 1).
`None` is a figure the text does not state (it is only in the paper's bar
chart); values the text gives as a ratio are derived and marked so. The
paper's `in` is pyvmm's mmio, `cr8wr` csrwr, `divzero` trap.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperFigure:
    paper_name: str
    native: float = None
    bt: float = None
    vt: float = None
    note: str = ""


ADAMS_AGESEN = {
    "syscall": PaperFigure("syscall", None, None, None,
                           "text: BT ~ native + 2000 cycles, VT ~ native"),
    "mmio": PaperFigure("in", 3209, 214, 15826, "BT derived from '~15x faster than native'"),
    "csrwr": PaperFigure("cr8wr", 140, 35, 140, "native and VT derived ('~4x' BT, VT ~ native)"),
    "callret": PaperFigure("call/ret", 11, 51, 11),
    "pgfault": PaperFigure("pgfault", 1093, 3927, 11242),
    "trap": PaperFigure("divzero", 889, 3223, 1014),
    "ptemod": PaperFigure("ptemod", 1, 391, 12733, "native ~ a single store"),
    "ctxsw": PaperFigure("ctxsw", None, None, None, "not in the paper's nanobenchmarks"),
}

CITATION = ("K. Adams and O. Agesen, A Comparison of Software and Hardware Techniques for x86 "
            "Virtualization, ASPLOS 2006 (cycles, Pentium 4)")

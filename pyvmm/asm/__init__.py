"""pyvmm.asm: a GNU-as-compatible RV64IMAC(+Zicsr, Zifencei, priv, H) assembler.

    prog = assemble(source, filename="<string>", march="rv64imac",
                    section_starts={".text": 0x8000_0000}, include_dirs=())
    prog = assemble_file(path, **same_options)

The result is already linked (GNU ld default script layout, -mno-relax):
`prog.entry`, `prog.symbols`, `prog.sections`, `prog.segments()`,
`prog.to_elf()`, `prog.to_binary()`. Errors raise `AsmError` listing every
error as "file:line: message". See docs/architecture.md section 1.
"""

from pyvmm.asm.assembler import Assembler
from pyvmm.asm.elf import Program, Section  # noqa: F401
from pyvmm.asm.errors import AsmError, LineError
from pyvmm.asm.link import DEFAULT_TEXT, Linker

__all__ = ["assemble", "assemble_file", "AsmError", "Program", "Section"]


def assemble(source, filename="<string>", *, march="rv64imac", section_starts=None, include_dirs=()):
    """Assemble and link `source`; raises AsmError with every error found."""
    return assemble_sources([(source, filename)], march=march, section_starts=section_starts,
                            include_dirs=include_dirs)


def assemble_sources(sources, *, march="rv64imac", section_starts=None, include_dirs=()):
    """Assemble [(text, filename)] in order as one unit, then link."""
    first = sources[0][1] if sources else "<string>"
    try:
        asm = Assembler(march, include_dirs)
    except ValueError as e:
        raise AsmError([(first, 0, str(e))])
    for source, filename in sources:
        asm.where.file = filename
        asm.assemble_text(source, filename)
    if asm.cond_stack:
        asm.error("missing .endif at end of file")
    # Layout and linking run even after statement errors (the bad statements
    # produced nothing), so undefined symbols and out-of-range branches are
    # reported in the same run.
    try:
        asm.finish_sections()
        starts = {".text": DEFAULT_TEXT}
        starts.update(section_starts or {})
        program = Linker(asm, starts).link()
    except LineError as e:
        asm.error(e.message)
    if asm.errors:
        unique = []
        for error in asm.errors:
            if error not in unique:
                unique.append(error)
        raise AsmError(sorted(unique, key=lambda e: (e[0] != first, e[0], e[1])))
    program.messages = list(asm.messages)
    return program


def assemble_file(path, **options):
    """Assemble the file at `path` (see `assemble`)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            source = f.read()
    except OSError as e:
        raise AsmError([(str(path), 0, "cannot read: %s" % (e.strerror or e))])
    return assemble(source, str(path), **options)

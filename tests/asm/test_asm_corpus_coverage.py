"""The differential corpus covers every mnemonic, every RVC mnemonic and every
directive the assembler accepts (the few exceptions are listed with the reason
and tested here directly)."""

import re

from asm_oracle import CORPUS
from pyvmm import isa
from pyvmm.asm import AsmError, assemble
from pyvmm.asm.directives import DIRECTIVES
from pyvmm.asm.mnemonics import C_HINT_SPELLINGS, FORMS
from pyvmm.asm.source import LABEL, split_statements

# accepted, but kept out of the GNU comparison for a reason
NOT_IN_CORPUS = {
    # gas turns call-frame directives into an allocated .eh_frame, pyvmm emits none
    ".cfi_startproc": "eh_frame", ".cfi_endproc": "eh_frame", ".cfi_def_cfa_offset": "eh_frame",
    ".cfi_offset": "eh_frame", ".cfi_restore": "eh_frame", ".cfi_def_cfa": "eh_frame",
    ".cfi_sections": "eh_frame",
    ".rodata": "pyvmm shorthand for .section .rodata; GNU as has no such directive",
    ".error": "an error by design (tests/asm/test_asm_errors.py)",
}


def corpus_words():
    words = {}
    for path in CORPUS.rglob("*"):
        if path.suffix not in (".S", ".inc"):
            continue
        for line in path.read_text().splitlines():
            for statement in split_statements(line):
                while True:
                    m = LABEL.match(statement)
                    if not m:
                        break
                    statement = statement[m.end():]
                m = re.match(r"\s*(\S+)", statement)
                if m:
                    words[m.group(1).lower()] = words.get(m.group(1).lower(), 0) + 1
    return words


def test_every_mnemonic_and_directive_is_in_the_corpus():
    words = corpus_words()
    assert sorted(set(FORMS) - set(words)) == []
    assert sorted(set(isa.C_BY_NAME) - set(words)) == []
    assert sorted(set(C_HINT_SPELLINGS) - set(words)) == []
    assert sorted(set(DIRECTIVES) - set(words) - set(NOT_IN_CORPUS)) == []


def test_exempt_directives_work():
    program = assemble(".cfi_sections .debug_frame\nf:\n.cfi_startproc\n.cfi_def_cfa_offset 16\n"
                       ".cfi_offset ra, -8\n.cfi_restore ra\n.cfi_def_cfa sp, 0\nret\n.cfi_endproc\n"
                       ".rodata\nmsg: .byte 7\n")
    assert [s.name for s in program.sections] == [".text", ".rodata"]
    assert program.sections[1].data == b"\x07"
    try:
        assemble('.error "stop here"', "e.S")
    except AsmError as e:
        assert e.errors == [("e.S", 1, "stop here")]
    else:
        raise AssertionError(".error did not fail")


def test_warning_and_print_are_reported_not_fatal():
    program = assemble('.warning "careful"\n.print "hello"\nnop\n', "w.S")
    assert program.messages == [("warning", "w.S", 1, "careful"), ("print", "w.S", 2, "hello")]

"""Any input either assembles or raises AsmError (one `file:line: message` per
error): never another exception. Mutated corpus lines are the fuzz input."""

from hypothesis import HealthCheck, given, settings, strategies as st

from asm_oracle import CORPUS
from pyvmm.asm import AsmError, assemble

LINES = [line for path in sorted(CORPUS.rglob("*.S")) for line in path.read_text().splitlines()]
NOISE = "abcdefxz0123456789(),.%:;'\"\\ +-*/<>=@#_$\t\n"


@st.composite
def mutated_sources(draw):
    chunk = draw(st.lists(st.sampled_from(LINES), min_size=1, max_size=10))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(chunk) - 1))
        line = chunk[i]
        pos = draw(st.integers(0, len(line)))
        how = draw(st.integers(0, 2))
        if how == 0:
            line = line[:pos] + draw(st.sampled_from(NOISE)) + line[pos:]
        elif how == 1:
            line = line[:pos] + line[pos + 1:]
        else:
            line = line[:pos] + draw(st.sampled_from(LINES))[:draw(st.integers(0, 20))] + line[pos:]
        chunk[i] = line
    return "\n".join(chunk)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sources())
def test_mutated_sources_assemble_or_fail_cleanly(source):
    try:
        assemble(source, "fuzz.S")
    except AsmError as e:
        assert e.errors
        for file, line, message in e.errors:
            assert file == "fuzz.S" and line >= 0 and message and "\n" not in message


def test_exitm_outside_macro_and_bad_octal_are_errors():
    for source, message in ((".exitm", ".exitm outside a macro"), ("li a0, 09", "bad octal number `09'"),
                            ("li a0, '\\'", None)):
        try:
            assemble(source, "x.S")
        except AsmError as e:
            assert message and message in str(e)
        else:
            assert message is None

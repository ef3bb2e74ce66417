"""Source text -> statements: comments, statement separators, operand lists.

GNU as for RISC-V: `#` starts a comment anywhere outside a string or
character constant, `/* ... */` comments may span lines, `;` separates
statements on one line.
"""

import re

from pyvmm.asm.errors import LineError

LABEL = re.compile(r"\s*([A-Za-z_.$][A-Za-z0-9_.$]*|[0-9]+)\s*:(?![=:])")
ASSIGNMENT = re.compile(r"\s*([A-Za-z_.$][A-Za-z0-9_.$]*)\s*=(?!=)\s*(.*)$", re.S)
SYMBOL_NAME = re.compile(r"[A-Za-z_.$][A-Za-z0-9_.$]*$")


def char_constant_length(text, i):
    """Length of the character constant starting at text[i] == "'" ('a, 'a', '\\n')."""
    n = 2 if i + 1 < len(text) and text[i + 1] == "\\" else 1
    n = min(n + 1, len(text) - i)
    if i + n < len(text) and text[i + n] == "'":
        n += 1
    return n


def strip_block_comments(text):
    """Replace /* ... */ comments by spaces, keeping newlines so line numbers hold."""
    out = []
    i = 0
    in_string = False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"' or c == "\n":
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
        elif c == "#":
            end = text.find("\n", i)     # a line comment may contain "/*"
            end = len(text) if end < 0 else end
            out.append(text[i:end])
            i = end
            continue
        elif c == "'" and i + 1 < len(text):
            step = char_constant_length(text, i)
            out.append(text[i:i + step])
            i += step
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                end = len(text) - 2
            out.append(re.sub(r"[^\n]", " ", text[i:end + 2]))
            i = end + 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _lexemes(text):
    """`text` in pieces: a whole string literal, a whole character constant, or
    one other character, so callers can look for `#`, `;` or `,` outside quotes."""
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n:
                if text[j] == "\\" and j + 1 < n:
                    j += 2
                    continue
                j += 1
                if text[j - 1] == '"':
                    break
        elif c == "'" and i + 1 < n:
            j = i + char_constant_length(text, i)
        else:
            j = i + 1
        yield text[i:j]
        i = j


def split_statements(line):
    """One source line -> statements, dropping the `#` comment."""
    statements = []
    current = []
    for piece in _lexemes(line):
        if piece == "#":
            break
        if piece == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(piece)
    statements.append("".join(current))
    return [s for s in statements if s.strip()]


def split_operands(text):
    """Top-level comma-separated operands (commas inside parentheses or strings stay)."""
    text = text.strip()
    if not text:
        return []
    parts = []
    depth = 0
    current = []
    for piece in _lexemes(text):
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth -= 1
        if piece == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(piece)
    parts.append("".join(current).strip())
    return parts


_STRING_ESCAPES = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11,
                   "\\": 92, '"': 34, "'": 39}


def parse_string(text):
    """A double-quoted string literal (whole operand) -> bytes."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise LineError("expected a string in double quotes, got `%s'" % text)
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in "01234567":
                m = re.match(r"[0-7]{1,3}", body[i + 1:])
                out.append(int(m.group(0), 8) & 0xFF)
                i += 1 + len(m.group(0))
                continue
            if n in "xX":
                m = re.match(r"[0-9A-Fa-f]+", body[i + 2:])
                if m:
                    out.append(int(m.group(0), 16) & 0xFF)
                    i += 2 + len(m.group(0))
                    continue
            out.append(_STRING_ESCAPES.get(n, ord(n)))
            i += 2
            continue
        out.extend(c.encode("utf-8"))
        i += 1
    return bytes(out)

"""Assembler errors: one `LineError` per bad statement, collected into `AsmError`."""


class LineError(Exception):
    """An error in one statement; the assembler adds file and line."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class AsmError(Exception):
    """Every error of an assembly run. `errors` is [(file, line, message)]."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self):
        return "\n".join("%s:%d: %s" % e for e in self.errors)

"""A progress bar on stderr for the technique comparison.

No dependency: on a terminal one line redrawn in place (`\r`), elsewhere
(a log, a pipe, CI) one plain line per finished run, so nothing is lost to
carriage returns. tqdm or rich would add a dependency for this one line.
"""

import sys
import time

WIDTH = 30


class Progress:
    def __init__(self, stream=None, enabled=True):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = self.done = 0
        self.started = None

    def start(self, total):
        self.total, self.done, self.started = total, 0, time.monotonic()
        if self.enabled and total:
            self._show("starting")

    def advance(self, label):
        self.done += 1
        if self.enabled:
            self._show(label)

    def finish(self):
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self, label):
        elapsed = time.monotonic() - self.started
        if self.tty:
            filled = WIDTH * self.done // max(1, self.total)
            bar = "#" * filled + "." * (WIDTH - filled)
            self.stream.write(f"\rbench [{bar}] {self.done}/{self.total} {elapsed:5.1f}s "
                              f"{label[:40]:<40}")
        else:
            self.stream.write(f"bench: [{self.done}/{self.total}] {elapsed:.1f}s {label}\n")
        self.stream.flush()

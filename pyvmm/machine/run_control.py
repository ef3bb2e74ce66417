"""How a `pyvmm run` stops and reports, on the board and under a technique alike.

- SIGTERM stops a run as Ctrl-C (SIGINT) does: the run loop is left at its
  next trip through Python, drives are flushed, `--stats` / `--stats-file`
  are written (with how "sigterm" or "sigint"), and the process exits with
  128 + the signal number (143, 130).
- A progress line (instructions, MIPS, elapsed seconds) on stderr once a
  run has gone on for PROGRESS_AFTER seconds, only when stderr is a
  terminal; the guest's console output clears it first, and it is not drawn
  while the console is busy.
"""

import contextlib
import signal
import sys
import threading
import time

EXIT_SIGINT = 128 + signal.SIGINT       # 130
EXIT_SIGTERM = 128 + signal.SIGTERM     # 143

PROGRESS_AFTER = 3.0        # seconds of running before the line first appears
PROGRESS_EVERY = 1.0        # seconds between updates
_CLEAR = "\r\x1b[K"


class Terminated(BaseException):
    """SIGTERM arrived during a run (a BaseException, like KeyboardInterrupt,
    so that no handler meant for errors stops it)."""


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def stop_signals():
    """SIGTERM raises Terminated in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_stopped(body):
    """Call body(); returns (its value, None), or (None, (how, status)) when
    Ctrl-C or SIGTERM stopped it."""
    try:
        with stop_signals():
            return body(), None
    except KeyboardInterrupt:
        return None, ("sigint", EXIT_SIGINT)
    except Terminated:
        return None, ("sigterm", EXIT_SIGTERM)


def stats_destination(args):
    """'-' for --stats (stderr), the file of --stats-file, None for neither."""
    if getattr(args, "stats_file", None) is not None:
        return args.stats_file
    return "-" if getattr(args, "stats", False) else None


def write_stats(stats, destination, stopped=None):
    """Write the counters as JSON to a file, or to stderr for '-'; `stopped`
    is (how, status) of a run a signal ended."""
    import json
    if stopped is not None:
        stats["how"], stats["status"] = stopped
    text = json.dumps(stats, indent=2, sort_keys=True, default=str) + "\n"
    if destination == "-":
        sys.stderr.write(text)
        sys.stderr.flush()
    else:
        with open(destination, "w") as f:
            f.write(text)


def finish_run(target, args, result, stopped):
    """The end of a `pyvmm run` of `target` (a Machine or a VM): its counters
    to --stats/--stats-file, and the exit status: the signal's for a run
    `stopped` by one, else the guest's, 1 when that is not a byte."""
    destination = stats_destination(args)
    if destination is not None:
        write_stats(target.stats(), destination, stopped)
    if stopped is not None:
        return stopped[1]
    return result.status if 0 <= result.status <= 255 else 1


def _isatty(stream):
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """The progress line of one run. `instret()` gives the instructions
    retired so far (read from a second thread, while the core runs without
    the GIL: a value at most one core exit old)."""

    def __init__(self, instret, stream=None, after=PROGRESS_AFTER, every=PROGRESS_EVERY):
        self.instret = instret
        self.stream = sys.stderr if stream is None else stream
        self.after = after
        self.every = every
        self.enabled = _isatty(self.stream)
        self.shown = False
        self.lines = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = None
        self._console_at = 0.0

    def console(self, console):
        """The guest console to write through: it clears the line before the
        guest's bytes (stdout and stderr are most often one terminal)."""
        if not self.enabled or console is None:
            return console
        return _ClearingConsole(console, self)

    def _clear(self):
        with self._lock:
            self._console_at = time.perf_counter()
            if self.shown:
                self.stream.write(_CLEAR)
                self.stream.flush()
                self.shown = False

    def __enter__(self):
        if self.enabled:
            self._started = time.perf_counter()
            self._thread = threading.Thread(target=self._loop, name="pyvmm-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._done.set()
            self._thread.join()
            self._clear()

    def _loop(self):
        if self._done.wait(self.after):
            return
        last_time, last_count = time.perf_counter(), self.instret()
        while not self._done.wait(self.every):
            now, count = time.perf_counter(), self.instret()
            mips = (count - last_count) / (now - last_time) / 1e6 if now > last_time else 0.0
            last_time, last_count = now, count
            with self._lock:
                if self._done.is_set() or now - self._console_at < self.every:
                    continue    # the guest is writing to the console: stay out of its way
                self.stream.write(f"{_CLEAR}pyvmm: {count:,} instructions, {mips:.1f} MIPS, "
                                  f"{now - self._started:.0f} s")
                self.stream.flush()
                self.shown = True
                self.lines += 1


class _ClearingConsole:
    def __init__(self, console, progress):
        self._console = console
        self._progress = progress

    def write(self, data):
        self._progress._clear()
        return self._console.write(data)

    def flush(self):
        flush = getattr(self._console, "flush", None)
        if flush is not None:
            flush()

"""Child processes that Ctrl-C reaches.

A shell starts background jobs with SIGINT ignored, and a child inherits
that (Python then never raises KeyboardInterrupt): a test run in the
background would see the signal vanish. Tests that send SIGINT start their
pyvmm with the default disposition, as a foreground command has it."""

import signal


def as_in_the_foreground():
    """preexec_fn for subprocess.Popen: SIGINT and SIGQUIT as a terminal's foreground job has them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)

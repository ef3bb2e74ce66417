"""The one error a network back-end reports to the user: a bad option or a
peer it cannot reach, in one line."""

from pyvmm.io.options import OptionError


class NetdevError(OptionError):
    """A netdev option or connection problem, said in one line."""

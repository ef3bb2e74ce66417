"""The one error a network back-end reports to the user: a bad option or a
peer it cannot reach, in one line."""


class NetdevError(ValueError):
    """A netdev option or connection problem, said in one line."""

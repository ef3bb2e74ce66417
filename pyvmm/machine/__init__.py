"""pyvmm.machine: the `virt` board (devices, loader, boot, run loop).

Its names are imported when first used (`from pyvmm.machine import Machine`
works as always), so that the command line reaches its own module, e.g. for
`pyvmm run --help` or a usage error, without loading the board and numpy.
"""

import importlib

_EXPORTS = {
    "Image": "pyvmm.machine.loader",
    "ImageError": "pyvmm.machine.loader",
    "load_image": "pyvmm.machine.loader",
    "Machine": "pyvmm.machine.machine",
    "MachineError": "pyvmm.machine.machine",
    "RunResult": "pyvmm.machine.machine",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyvmm.machine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = sorted(_EXPORTS)

"""pyvmm.machine: the `virt` board (devices, loader, boot, run loop).

Its names are imported when first used (`from pyvmm.machine import Machine`
works as always), so that the command line reaches its own module, e.g. for
`pyvmm run --help` or a usage error, without loading the board and numpy.
"""

from pyvmm.lazy import lazy_exports

_EXPORTS = {
    "Image": "pyvmm.machine.loader",
    "ImageError": "pyvmm.machine.loader",
    "load_image": "pyvmm.machine.loader",
    "Machine": "pyvmm.machine.machine",
    "MachineError": "pyvmm.machine.machine",
    "RunResult": "pyvmm.machine.machine",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = sorted(_EXPORTS)

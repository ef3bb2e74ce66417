"""pyvmm.machine: the `virt` board (devices, loader, boot, run loop)."""

from pyvmm.machine.loader import Image, ImageError, load_image  # noqa: F401
from pyvmm.machine.machine import Machine, MachineError, RunResult  # noqa: F401

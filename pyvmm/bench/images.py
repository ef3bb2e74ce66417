"""Where the benchmark guests are, and sized copies of them.

The prebuilt ELFs live in guests/bench/ (built by its Makefile, committed so
no cross compiler is needed), which ships with pyvmm (pyvmm.resources). A sized copy is the same
file with `bench_iterations` rewritten, written to a scratch directory.
"""

import os
from pathlib import Path

from pyvmm.bench.elfpatch import ElfPatchError, patch_u32

ITERATIONS_SYMBOL = "bench_iterations"


class ImageMissing(Exception):
    """A benchmark guest image cannot be found or patched."""


def default_image_dir():
    """The shipped guests/bench/ (installed with pyvmm, or the checkout's)."""
    from pyvmm.resources import guest
    return guest("bench")


def read_image(image_dir, name):
    path = Path(image_dir) / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageMissing(f"{path}: {exc.strerror or exc}") from None


def sized_image(image_dir, name, iterations, scratch_dir, patches=()):
    """Write `name` with its iteration count set to `iterations` (and each
    (symbol, value) of `patches` set) into scratch_dir; returns the copy's path."""
    data = read_image(image_dir, name)
    try:
        patched = patch_u32(data, ITERATIONS_SYMBOL, iterations)
        for symbol, value in patches:
            patched = patch_u32(patched, symbol, value)
    except ElfPatchError as exc:
        raise ImageMissing(f"{Path(image_dir) / name}: {exc}") from None
    stem = name[:-4] if name.endswith(".elf") else name
    suffix = "".join(f"-{symbol}={value}" for symbol, value in patches)
    path = Path(scratch_dir) / f"{stem}-{iterations}{suffix}.elf"
    if not path.exists():
        path.write_bytes(patched)
        os.chmod(path, 0o644)
    return path

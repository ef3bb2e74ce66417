"""The guests that ship with pyvmm: the images and sources the README's
examples, `pyvmm bench` and the documentation run.

In a source checkout they are the tree guests/ beside the package; a built
wheel installs the same tree as pyvmm/guests/ (package data). `guests_dir()`
finds whichever is there, so nothing depends on the current directory.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GUESTS_PREFIX = "guests/"


class GuestsMissing(FileNotFoundError):
    """Neither an installed nor a checkout copy of the guests exists."""


def guests_dir():
    """The directory of the shipped guests (installed copy first, then the checkout's)."""
    for candidate in (PACKAGE_DIR / "guests", PACKAGE_DIR.parent / "guests"):
        if (candidate / "hello.S").is_file():
            return candidate
    raise GuestsMissing(f"pyvmm's guests are neither in {PACKAGE_DIR / 'guests'} nor in "
                        f"{PACKAGE_DIR.parent / 'guests'}: reinstall pyvmm")


def guest(relative):
    """The shipped guest `relative` to guests/ (e.g. "kernel/kernel.elf")."""
    return guests_dir() / relative


def resolve_image(path):
    """`path` itself when it exists or does not name a shipped guest;
    otherwise, for "guests/NAME" (as the README writes it), the shipped copy
    of NAME, so the README's commands work from any directory."""
    if path is None or Path(path).exists():
        return path
    text = str(path).replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if not text.startswith(GUESTS_PREFIX):
        return path
    try:
        shipped = guests_dir() / text[len(GUESTS_PREFIX):]
    except GuestsMissing:
        return path
    return str(shipped) if shipped.is_file() else path

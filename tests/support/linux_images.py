"""The real-OS image builder the tests use: pyvmm.bench.linux_images, where
`pyvmm bench --suite boot` finds it too. Build everything into a directory
with `python -m pyvmm.bench.linux_images OUTDIR`."""

from pyvmm.bench.linux_images import (APPLETS_SCRIPT, BEGIN_MARKER, DISK_FSTYPES,  # noqa: F401
                                      END_MARKER, GCC, INIT_FLAVOURS, INIT_SCRIPT,
                                      KNOWN_FILE_NAME, KNOWN_FILE_TEXT, MINI_INIT_SOURCE,
                                      LinuxImages, ModuleSet, Newc, Unavailable, build_all,
                                      build_disk, build_initramfs, build_mini_init, kernel_image)

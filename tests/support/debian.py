"""The Debian package fetcher the real-OS tests use: pyvmm.bench.debian,
where `pyvmm bench --suite boot` finds it too."""

from pyvmm.bench.debian import (ARCH, BUSYBOX_PACKAGE, KERNEL_METAPACKAGE, MIRROR,  # noqa: F401
                                SUITE, DebianArchive, LinuxPackages, Unavailable, cache_dir,
                                fetch_linux_packages)

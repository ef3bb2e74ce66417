"""Debian riscv64 packages for the real-OS tests, fetched without touching the
host's apt configuration.

apt-get runs with a private configuration under a cache directory
(~/.cache/pyvmm/debian, or $PYVMM_DEBIAN_CACHE): its own sources list naming
Debian trixie for riscv64 only, its own package lists, status file and
archive cache. The host's /etc/apt/sources.list and /var/lib/apt are neither
read nor written. Downloaded packages are unpacked with `dpkg-deb -x` and kept,
so a second run needs no network.

Nothing here runs at import time. Every step that cannot be done (no apt-get,
no keyring, no mirror, a package missing) raises Unavailable with a one-line
reason, which the tests turn into a skip.
"""

import fcntl
import json
import os
import shutil
import subprocess

SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
ARCH = "riscv64"
KERNEL_METAPACKAGE = "linux-image-riscv64"
BUSYBOX_PACKAGE = "busybox-static"
# Keyrings tried in order; the first that exists signs the private sources list.
# bookworm's debian-archive-keyring already carries trixie's release keys.
KEYRINGS = (
    "/usr/share/keyrings/debian-archive-keyring.gpg",
    "/usr/share/keyrings/debian-archive-trixie-stable.gpg",
)
APT_TIMEOUT = 600


class Unavailable(RuntimeError):
    """A package, tool or the mirror cannot be had; str() is a one-line reason."""


def cache_dir():
    """The directory that holds the private apt state, the .debs and the unpacked trees."""
    return os.environ.get("PYVMM_DEBIAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "pyvmm", "debian")


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


class DebianArchive:
    """A private apt setup for Debian SUITE on riscv64, rooted at `root`."""

    def __init__(self, root=None, suite=SUITE, mirror=MIRROR):
        self.root = os.path.abspath(root or cache_dir())
        self.suite = suite
        self.mirror = mirror
        self.apt_dir = os.path.join(self.root, "apt")
        self.debs_dir = os.path.join(self.root, "debs")
        self.trees_dir = os.path.join(self.root, "trees")

    # --- apt with a private configuration -------------------------------------

    def _keyring(self):
        for keyring in KEYRINGS:
            if os.path.exists(keyring):
                return keyring
        raise Unavailable("no Debian archive keyring (install debian-archive-keyring)")

    def _apt_options(self):
        sources = os.path.join(self.apt_dir, "sources.list")
        state = os.path.join(self.apt_dir, "state")
        options = {
            "Dir::Etc::SourceList": sources,
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::State": state,
            "Dir::State::status": os.path.join(state, "status"),
            "Dir::Cache": os.path.join(self.apt_dir, "cache"),
            "APT::Architecture": ARCH,
            "APT::Architectures": ARCH,
        }
        if os.geteuid() == 0:
            # apt drops to the _apt user for downloads, who cannot write here.
            options["APT::Sandbox::User"] = "root"
        args = []
        for key, value in options.items():
            args += ["-o", "%s=%s" % (key, value)]
        return args

    def _prepare(self):
        for sub in ("state/lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(self.apt_dir, sub), exist_ok=True)
        status = os.path.join(self.apt_dir, "state", "status")
        if not os.path.exists(status):
            open(status, "w").close()
        line = "deb [arch=%s signed-by=%s] %s %s main\n" % (ARCH, self._keyring(), self.mirror, self.suite)
        with open(os.path.join(self.apt_dir, "sources.list"), "w") as f:
            f.write(line)

    def _apt(self, tool, *args, cwd=None):
        if shutil.which(tool) is None:
            raise Unavailable("%s is not installed" % tool)
        cmd = [tool, "-q", *self._apt_options(), *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                                  stdin=subprocess.DEVNULL, timeout=APT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Unavailable("%s %s took over %d s" % (tool, args[0], APT_TIMEOUT)) from None
        if proc.returncode:
            raise Unavailable("%s %s failed: %s" % (tool, args[0], _last_line(proc.stderr or proc.stdout)))
        # apt-get update exits 0 even when a source could not be fetched.
        for line in proc.stderr.splitlines():
            if line.startswith(("E:", "W: Failed to fetch", "Err:")):
                raise Unavailable("%s %s: %s" % (tool, args[0], line.strip()))
        return proc.stdout

    def update(self):
        """Fetch the suite's package lists into the private state directory."""
        self._prepare()
        self._apt("apt-get", "update")

    def kernel_package(self):
        """The versioned kernel image package that the metapackage depends on,
        e.g. linux-image-6.12.117+deb13-riscv64."""
        out = self._apt("apt-cache", "depends", KERNEL_METAPACKAGE)
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Depends:"):
                name = line.split(":", 1)[1].strip()
                if name.startswith("linux-image-") and name.endswith("-" + ARCH):
                    return name
        raise Unavailable("%s names no linux-image-*-%s dependency" % (KERNEL_METAPACKAGE, ARCH))

    def download(self, package):
        """Download one .deb into debs/ (apt-get download); returns its path."""
        os.makedirs(self.debs_dir, exist_ok=True)
        before = set(os.listdir(self.debs_dir))
        self._apt("apt-get", "download", package, cwd=self.debs_dir)
        new = [name for name in set(os.listdir(self.debs_dir)) - before if name.endswith(".deb")]
        prefix = package + "_"
        matches = sorted(name for name in (new or os.listdir(self.debs_dir)) if name.startswith(prefix))
        if not matches:
            raise Unavailable("apt-get download %s left no %s*.deb" % (package, prefix))
        return os.path.join(self.debs_dir, matches[-1])

    def unpack(self, deb, name):
        """dpkg-deb -x `deb` into trees/NAME (once; the finished tree is kept)."""
        if shutil.which("dpkg-deb") is None:
            raise Unavailable("dpkg-deb is not installed")
        tree = os.path.join(self.trees_dir, name)
        if os.path.isdir(tree):
            return tree
        partial = tree + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        proc = subprocess.run(["dpkg-deb", "-x", deb, partial], capture_output=True, text=True)
        if proc.returncode:
            raise Unavailable("dpkg-deb -x %s failed: %s" % (os.path.basename(deb), _last_line(proc.stderr)))
        os.rename(partial, tree)
        return tree


class LinuxPackages:
    """The unpacked kernel and busybox: paths into the cache."""

    def __init__(self, kernel_package, kernel_tree, busybox_tree):
        self.kernel_package = kernel_package
        self.kernel_tree = kernel_tree
        self.busybox_tree = busybox_tree
        modules_root = None
        for base in ("usr/lib/modules", "lib/modules"):
            path = os.path.join(kernel_tree, base)
            if os.path.isdir(path):
                modules_root = path
                break
        if modules_root is None:
            raise Unavailable("%s holds no lib/modules" % kernel_package)
        versions = sorted(os.listdir(modules_root))
        if len(versions) != 1:
            raise Unavailable("%s holds %d module trees, expected one" % (kernel_package, len(versions)))
        self.kernel_version = versions[0]
        self.modules_dir = os.path.join(modules_root, self.kernel_version)
        boot = os.path.join(kernel_tree, "boot")
        images = [name for name in sorted(os.listdir(boot)) if name.startswith(("vmlinux-", "vmlinuz-"))] \
            if os.path.isdir(boot) else []
        if not images:
            raise Unavailable("%s holds no /boot/vmlinu[xz]-*" % kernel_package)
        self.boot_image = os.path.join(boot, images[0])
        self.config = os.path.join(boot, "config-" + self.kernel_version)
        for candidate in ("bin/busybox", "usr/bin/busybox"):
            path = os.path.join(busybox_tree, candidate)
            if os.path.isfile(path):
                self.busybox = path
                break
        else:
            raise Unavailable("%s holds no busybox binary" % BUSYBOX_PACKAGE)


def fetch_linux_packages(root=None):
    """Download (once) and unpack Debian trixie's riscv64 kernel and busybox-static.

    The package names resolved on the first fetch are kept in the cache's
    fetched.json, so later calls reuse the unpacked trees without apt or network.
    Several processes (pytest-xdist workers) may call this at once: they take
    turns on a lock file in the cache, and the later ones find the first one's
    trees. Raises Unavailable with a one-line reason when anything cannot be had."""
    archive = DebianArchive(root)
    try:
        os.makedirs(archive.root, exist_ok=True)
        lock = open(os.path.join(archive.root, "fetch.lock"), "w")
    except OSError as err:
        raise Unavailable("cannot use the cache %s: %s" % (archive.root, err.strerror)) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch_locked(archive)


def _fetch_locked(archive):
    record = os.path.join(archive.root, "fetched.json")
    if os.path.exists(record):
        with open(record) as f:
            saved = json.load(f)
        kernel_tree = os.path.join(archive.trees_dir, saved["kernel_package"])
        busybox_tree = os.path.join(archive.trees_dir, BUSYBOX_PACKAGE)
        if os.path.isdir(kernel_tree) and os.path.isdir(busybox_tree):
            return LinuxPackages(saved["kernel_package"], kernel_tree, busybox_tree)
    archive.update()
    kernel_package = archive.kernel_package()
    kernel_tree = archive.unpack(archive.download(kernel_package), kernel_package)
    busybox_tree = archive.unpack(archive.download(BUSYBOX_PACKAGE), BUSYBOX_PACKAGE)
    packages = LinuxPackages(kernel_package, kernel_tree, busybox_tree)
    with open(record, "w") as f:
        json.dump({"kernel_package": kernel_package, "suite": archive.suite}, f)
    return packages

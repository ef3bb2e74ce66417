"""Build what a real Linux boot needs from Debian's riscv64 packages: the flat
kernel Image, a gzip'd newc initramfs (busybox-static, the virtio and ext4
modules, guests/linux/init) and ext2/ext4 disk images holding a known file.

The cpio archive is written here, not by cpio(1), so it can hold the
/dev/console node without root and comes out the same on every build.

Run as a module to build everything into a directory (downloading the packages
into the cache of pyvmm.bench.debian when needed):

    python -m pyvmm.bench.linux_images OUTDIR

`pyvmm bench --suite boot` boots what build_boot_images writes (the kernel,
the busybox initramfs and the ext4 disk); the real-OS tests build everything.
"""

import gzip
import io
import lzma
import os
import shutil
import stat
import subprocess
import sys

from pyvmm.bench.debian import LinuxPackages, Unavailable, fetch_linux_packages  # noqa: F401
from pyvmm.resources import guest

INIT_SCRIPT = str(guest("linux/init"))
# The applet tour the busybox /init runs between the markers (/etc/applets.sh).
APPLETS_SCRIPT = str(guest("linux/applets.sh"))
# The same /init in C on raw system calls, for harts without F and D (Debian's
# busybox is built for rv64gc); it prints the same lines between the markers.
MINI_INIT_SOURCE = str(guest("linux/mini_init.c"))
GCC = "riscv64-unknown-elf-gcc"
MINI_INIT_CFLAGS = ("-march=rv64imac_zicsr", "-mabi=lp64", "-static", "-nostdlib", "-ffreestanding",
                    "-fno-builtin", "-O2", "-Wall", "-Werror", "-Ttext=0x10000",
                    "-Wl,--no-warn-rwx-segments")
INIT_FLAVOURS = ("busybox", "mini")

# The drivers the boot needs: virtio transports (MMIO, PCI), the block driver,
# and ext4 (which also mounts ext2) with the crc32c it asks the crypto API for
# (ext4's softdep "pre: crypto-crc32c", an alias no depends= line names).
# Those built into the kernel (modules.builtin) are left out; dependencies come
# from each module's own .modinfo depends= field.
WANTED_MODULES = ("virtio", "virtio_ring", "virtio_mmio",
                  "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
                  "virtio_blk", "crc32c_generic", "ext4")

# Applets /init and a person debugging the initramfs use; each is a symlink to busybox.
APPLETS = ("sh", "ash", "mount", "umount", "insmod", "lsmod", "cat", "echo", "sleep",
           "poweroff", "reboot", "sha256sum", "nproc", "uname", "dmesg", "tail", "awk",
           "ls", "grep", "test", "[", "mkdir", "sync", "seq", "sort", "tr", "head", "dd",
           "printf", "wc")

# The lines /init prints around what the tests compare (guests/linux/init).
BEGIN_MARKER = "==== pyvmm-linux-test BEGIN ===="
END_MARKER = "==== pyvmm-linux-test END ===="

KNOWN_FILE_NAME = "hello.txt"
KNOWN_FILE_TEXT = ("Hello from an ext filesystem on a virtio disk.\n"
                   "pyvmm reads this file through Debian's virtio_blk and ext4 modules.\n")
DISK_SIZE = "8M"
DISK_FSTYPES = ("ext4", "ext2")


def _norm(name):
    return name.replace("-", "_")


def _module_name(filename):
    name = os.path.basename(filename)
    for suffix in (".xz", ".zst", ".gz"):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return _norm(name[:-3]) if name.endswith(".ko") else None


def read_module(path):
    """The module's ELF bytes, decompressed (.ko.xz with lzma, .ko.gz with gzip);
    busybox insmod loads plain ELF only."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        raise Unavailable("zstd-compressed module %s: no decompressor in the standard library"
                          % os.path.basename(path))
    return data


def modinfo(data):
    """The module's .modinfo section as a dict of lists (key -> values)."""
    from elftools.elf.elffile import ELFFile
    section = ELFFile(io.BytesIO(data)).get_section_by_name(".modinfo")
    info = {}
    if section is None:
        return info
    for entry in section.data().split(b"\0"):
        if b"=" in entry:
            key, value = entry.decode("utf-8", "replace").split("=", 1)
            info.setdefault(key, []).append(value)
    return info


class ModuleSet:
    """The kernel's modules: which are built in, where the loadable ones are."""

    def __init__(self, modules_dir):
        self.modules_dir = modules_dir
        self.builtin = set()
        builtin = os.path.join(modules_dir, "modules.builtin")
        if os.path.exists(builtin):
            with open(builtin) as f:
                self.builtin = {_module_name(line.strip()) for line in f if line.strip()}
        self.paths = {}
        for dirpath, _, filenames in os.walk(os.path.join(modules_dir, "kernel")):
            for filename in filenames:
                name = _module_name(filename)
                if name:
                    self.paths[name] = os.path.join(dirpath, filename)
        self._data = {}

    def data(self, name):
        if name not in self._data:
            self._data[name] = read_module(self.paths[name])
        return self._data[name]

    def load_order(self, wanted):
        """The loadable modules among `wanted` and their dependencies, each after
        what it depends on: a list of names. A wanted name that is neither built
        in nor loadable raises Unavailable."""
        order, state = [], {}

        def visit(name, chain):
            if name in self.builtin or state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise Unavailable("module dependency cycle: %s" % " -> ".join(chain + [name]))
            if name not in self.paths:
                raise Unavailable("module %s is neither built in nor under %s" % (name, self.modules_dir))
            state[name] = "visiting"
            for depends in modinfo(self.data(name)).get("depends", []):
                for dep in filter(None, depends.split(",")):
                    visit(_norm(dep), chain + [name])
            state[name] = "done"
            order.append(name)

        for name in wanted:
            visit(_norm(name), [])
        return order


class Newc:
    """A newc ("070701") cpio archive built in memory, every entry owned by root."""

    def __init__(self):
        self.out = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", nlink=1, rdev=(0, 0)):
        name_bytes = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_bytes), 0)
        self.ino += 1
        self.out.write(b"070701" + b"".join(b"%08X" % value for value in fields))
        self.out.write(name_bytes)
        self.out.write(b"\0" * (-(110 + len(name_bytes)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def directory(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0, nlink=1)
        data = self.out.getvalue()
        return data + b"\0" * (-len(data) % 512)


def kernel_image(packages, out_dir):
    """The flat RISC-V Image of the Debian kernel in out_dir (gunzipped when
    /boot/vmlinuz-* is gzip'd; Debian's riscv64 /boot/vmlinux-* is already the
    Image, an EFI-stub PE with the "RSC\\x05" magic at 0x38)."""
    with open(packages.boot_image, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[0x38:0x3c] != b"RSC\x05":
        raise Unavailable("%s is not a RISC-V Image (no RSC\\x05 magic)" % os.path.basename(packages.boot_image))
    path = os.path.join(out_dir, "Image")
    with open(path, "wb") as f:
        f.write(data)
    return path


def build_mini_init(out_path):
    """Compile guests/linux/mini_init.c (RV64IMAC, no libc) to out_path."""
    if shutil.which(GCC) is None:
        raise Unavailable("%s is not installed: cannot build the F/D-free /init" % GCC)
    proc = subprocess.run([GCC, *MINI_INIT_CFLAGS, "-o", out_path, MINI_INIT_SOURCE],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError("%s failed on %s:\n%s" % (GCC, MINI_INIT_SOURCE, proc.stderr))
    return out_path


def build_initramfs(packages, out_path, wanted=WANTED_MODULES, init="busybox"):
    """Write the gzip'd newc initramfs to out_path; returns the module names in
    the order /init loads them. init="busybox": Debian's busybox-static with
    guests/linux/init; init="mini": guests/linux/mini_init.c compiled, no busybox."""
    if init not in INIT_FLAVOURS:
        raise ValueError("init must be one of %s, not %r" % (", ".join(INIT_FLAVOURS), init))
    modules = ModuleSet(packages.modules_dir)
    order = modules.load_order(wanted)
    archive = Newc()
    for directory in ("bin", "dev", "etc", "lib", "lib/modules", "mnt", "proc", "sys", "tmp"):
        archive.directory(directory)
    archive.chardev("dev/console", 5, 1)
    archive.chardev("dev/null", 1, 3, mode=0o666)
    if init == "busybox":
        with open(packages.busybox, "rb") as f:
            archive.file("bin/busybox", f.read(), mode=0o755)
        for applet in APPLETS:
            archive.symlink("bin/" + applet, "busybox")
        with open(INIT_SCRIPT, "rb") as f:
            archive.file("init", f.read(), mode=0o755)
        with open(APPLETS_SCRIPT, "rb") as f:
            archive.file("etc/applets.sh", f.read(), mode=0o644)
    else:
        binary = build_mini_init(out_path + ".init")
        with open(binary, "rb") as f:
            archive.file("init", f.read(), mode=0o755)
        os.unlink(binary)
    listing = []
    for name in order:
        path = "lib/modules/%s.ko" % name
        archive.file(path, modules.data(name))
        listing.append("/" + path)
    archive.file("etc/initrd-modules", ("\n".join(listing) + "\n").encode())
    with open(out_path, "wb") as f:
        # mtime=0: the same inputs give the same bytes.
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(archive.finish())
    return order


def build_disk(out_path, fstype="ext4", size=DISK_SIZE):
    """mke2fs -t FSTYPE -d <dir with the known file> OUT SIZE."""
    mke2fs = shutil.which("mke2fs") or ("/usr/sbin/mke2fs" if os.path.exists("/usr/sbin/mke2fs") else None)
    if mke2fs is None:
        raise Unavailable("mke2fs is not installed (e2fsprogs)")
    content = out_path + ".d"
    shutil.rmtree(content, ignore_errors=True)
    os.makedirs(content)
    with open(os.path.join(content, KNOWN_FILE_NAME), "w") as f:
        f.write(KNOWN_FILE_TEXT)
    if os.path.exists(out_path):
        os.unlink(out_path)
    cmd = [mke2fs, "-q", "-F", "-t", fstype, "-L", "pyvmm", "-E", "root_owner=0:0", "-d", content, out_path, size]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    shutil.rmtree(content, ignore_errors=True)
    if proc.returncode:
        raise Unavailable("mke2fs -t %s failed: %s" % (fstype, (proc.stderr or proc.stdout).strip()))
    return out_path


class LinuxImages:
    """Paths of one build: image (kernel), initrds {flavour: path, or the
    one-line reason it could not be built}, disks {fstype: path}, and the
    modules /init loads."""

    def __init__(self, packages, image, initrds, disks, modules):
        self.packages = packages
        self.image = image
        self.initrds = initrds
        self.disks = disks
        self.modules = modules

    @property
    def initrd(self):
        """The busybox initramfs."""
        return self.initrds["busybox"]


def build_all(out_dir, packages=None):
    """Fetch (when not given) the packages and build the Image, initrd.gz and
    the ext4 and ext2 disks into out_dir."""
    packages = packages or fetch_linux_packages()
    os.makedirs(out_dir, exist_ok=True)
    image = kernel_image(packages, out_dir)
    initrds = {"busybox": os.path.join(out_dir, "initrd.gz")}
    modules = build_initramfs(packages, initrds["busybox"])
    try:
        initrds["mini"] = os.path.join(out_dir, "initrd-mini.gz")
        build_initramfs(packages, initrds["mini"], init="mini")
    except Unavailable as err:
        initrds["mini"] = Unavailable(str(err))
    disks = {fstype: build_disk(os.path.join(out_dir, "disk-%s.img" % fstype), fstype)
             for fstype in DISK_FSTYPES}
    return LinuxImages(packages, image, initrds, disks, modules)


# What one boot of `pyvmm bench --suite boot` needs, as build_boot_images
# (and build_all) name them in their directory.
BOOT_FILES = ("Image", "initrd.gz", "disk-ext4.img")


def build_boot_images(out_dir, packages=None):
    """Fetch (when not given) the packages and build the three BOOT_FILES
    into out_dir: the Image, the busybox initramfs and the ext4 disk.
    Returns the LinuxImages of that build (no mini initramfs, no ext2 disk)."""
    packages = packages or fetch_linux_packages()
    os.makedirs(out_dir, exist_ok=True)
    image = kernel_image(packages, out_dir)
    initrds = {"busybox": os.path.join(out_dir, "initrd.gz")}
    modules = build_initramfs(packages, initrds["busybox"])
    disks = {"ext4": build_disk(os.path.join(out_dir, "disk-ext4.img"), "ext4")}
    return LinuxImages(packages, image, initrds, disks, modules)


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        images = build_all(args.out_dir)
    except Unavailable as err:
        print("cannot build: %s" % err, file=sys.stderr)
        return 1
    print("kernel   %s (%s)" % (images.image, images.packages.kernel_package))
    for flavour, initrd in images.initrds.items():
        if isinstance(initrd, Unavailable):
            print("initrd   %s: not built: %s" % (flavour, initrd))
        else:
            print("initrd   %s (%s /init; modules: %s)" % (initrd, flavour, " ".join(images.modules)))
    for fstype, path in images.disks.items():
        print("disk     %s (%s)" % (path, fstype))
    return 0


if __name__ == "__main__":
    sys.exit(main())

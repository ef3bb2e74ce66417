"""A real OS on pyvmm: Debian trixie's riscv64 Linux kernel with a busybox
initramfs that loads Debian's virtio and ext4 modules, mounts a virtio disk
(ext4 or ext2) read-only and prints a known file, its SHA-256 and the number
of online CPUs between two markers (guests/linux/init).

QEMU 7.2 is the reference: the lines between the markers must be what the
test expects there, and pyvmm's (natively, under --technique hw, over
virtio-mmio and virtio-pci) must be QEMU's, line for line.

The boots are slow tests: the session fixture downloads the packages into the
cache of support.debian (once) and skips with the reason when it cannot. The
fast tests at the top check the builder's pieces without any download.

Environment: PYVMM_LINUX_TIMEOUT (seconds a pyvmm boot may take, default 170)
and PYVMM_LINUX_MAX_INSNS (its --max-insns, default 4G) bound every boot.
"""

import hashlib
import lzma
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from support import linux_images
from support.debian import DebianArchive, Unavailable
from support.linux_images import (BEGIN_MARKER, END_MARKER, KNOWN_FILE_NAME, KNOWN_FILE_TEXT,
                                  ModuleSet, Newc)
from support.oracles import QEMU, first_missing

OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
APPEND = "console=ttyS0 panic=-1"
RAM = "256M"
QEMU_TIMEOUT = 150
PYVMM_TIMEOUT = float(os.environ.get("PYVMM_LINUX_TIMEOUT", "170"))
# A budget no correct boot comes near: natively the boot retires 3.3 G
# instructions, under bt 4.0 G (its translated code's own words count too).
PYVMM_MAX_INSNS = os.environ.get("PYVMM_LINUX_MAX_INSNS", "8G")
TRANSPORTS = {"mmio": "virtio-blk-device", "pci": "virtio-blk-pci"}
CONSOLE_TAIL = 40


# --- the builder's pieces, no download -----------------------------------------

def test_unreachable_mirror_is_a_one_line_reason(tmp_path):
    if first_missing("apt-get"):
        pytest.skip("apt-get is not installed")
    archive = DebianArchive(str(tmp_path / "cache"), mirror="http://127.0.0.1:9/debian")
    with pytest.raises(Unavailable) as caught:
        archive.update()
    reason = str(caught.value)
    assert reason.startswith("apt-get update") and "127.0.0.1:9" in reason and "\n" not in reason
    # The private state lives in the cache; the sources list names riscv64 only.
    with open(tmp_path / "cache" / "apt" / "sources.list") as f:
        assert f.read().startswith("deb [arch=riscv64 signed-by=")


def test_init_script_prints_the_markers_the_tests_look_for():
    with open(linux_images.INIT_SCRIPT) as f:
        init = f.read()
    assert init.startswith("#!/bin/sh\n")
    assert BEGIN_MARKER in init and END_MARKER in init
    assert "/etc/initrd-modules" in init and "poweroff -f" in init
    assert os.access(linux_images.INIT_SCRIPT, os.X_OK)


def test_newc_archive_lists_with_cpio(tmp_path):
    if first_missing("cpio"):
        pytest.skip("cpio is not installed")
    archive = Newc()
    archive.directory("bin")
    archive.file("bin/busybox", b"\x7fELF" + b"x" * 13, mode=0o755)
    archive.symlink("bin/sh", "busybox")
    archive.directory("dev")
    archive.chardev("dev/console", 5, 1)
    data = archive.finish()
    assert len(data) % 512 == 0
    path = tmp_path / "a.cpio"
    path.write_bytes(data)
    names = subprocess.run(["cpio", "-it", "--quiet", "-F", str(path)], capture_output=True,
                           text=True, check=True).stdout.split()
    assert names == ["bin", "bin/busybox", "bin/sh", "dev", "dev/console"]
    listing = subprocess.run(["cpio", "-itv", "--quiet", "-F", str(path)], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    console = next(line for line in listing if line.endswith(" dev/console"))
    assert console.startswith("crw-------") and re.search(r"\b5,\s+1\b", console), console
    assert all(" root " in line for line in listing), listing
    extract = tmp_path / "x"
    extract.mkdir()
    subprocess.run(["cpio", "-id", "--quiet", "-F", str(path), "bin/busybox", "bin/sh"],
                   cwd=extract, check=True)
    busybox = extract / "bin" / "busybox"
    assert busybox.read_bytes() == b"\x7fELF" + b"x" * 13
    assert os.stat(busybox).st_mode & 0o777 == 0o755
    assert os.readlink(extract / "bin" / "sh") == "busybox"


# objdump -d lines are "addr:<TAB>encoding<TAB>mnemonic<TAB>operands"; F, D and
# their compressed loads/stores are the mnemonics f* and c.f*, minus fence.
FP_MNEMONIC = re.compile(r"^\s*[0-9a-f]+:\t[0-9a-f ]+\t(c\.f[a-z.]+|f(?!ence)[a-z.]+)", re.MULTILINE)


def test_mini_init_builds_without_floating_point(tmp_path):
    if first_missing(linux_images.GCC, "riscv64-unknown-elf-objdump", "riscv64-unknown-elf-readelf"):
        pytest.skip("the riscv64-unknown-elf toolchain is not installed")
    binary = linux_images.build_mini_init(str(tmp_path / "init"))
    header = subprocess.run(["riscv64-unknown-elf-readelf", "-h", binary], capture_output=True,
                            text=True, check=True).stdout
    assert "EXEC (Executable file)" in header and "soft-float ABI" in header, header
    disassembly = subprocess.run(["riscv64-unknown-elf-objdump", "-d", "-M", "no-aliases", binary],
                                 capture_output=True, text=True, check=True).stdout
    assert "<_start>:" in disassembly and "ecall" in disassembly
    assert not FP_MNEMONIC.findall(disassembly)
    with open(linux_images.MINI_INIT_SOURCE) as f:
        source = f.read()
    assert BEGIN_MARKER in source and END_MARKER in source


MODINFO_SOURCE = """
    .section .modinfo, "a"
    .asciz "license=GPL"
    .asciz "depends={depends}"
    .asciz "vermagic=6.0 SMP mod_unload riscv"
"""


def _fake_module(tmp_path, directory, name, depends, compress):
    """A tiny riscv64 ELF object with a .modinfo section, as a kernel module file."""
    if first_missing("riscv64-unknown-elf-as"):
        pytest.skip("riscv64-unknown-elf-as is not installed")
    source = tmp_path / (name + ".S")
    source.write_text(MODINFO_SOURCE.format(depends=depends))
    obj = tmp_path / (name + ".o")
    subprocess.run(["riscv64-unknown-elf-as", "-o", str(obj), str(source)], check=True)
    data = obj.read_bytes()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name + ".ko" + (".xz" if compress else ""))
    with open(path, "wb") as f:
        f.write(lzma.compress(data, format=lzma.FORMAT_XZ) if compress else data)
    return data


def test_module_load_order_follows_depends_and_skips_builtins(tmp_path):
    modules_dir = tmp_path / "lib" / "modules" / "6.0"
    kernel = modules_dir / "kernel"
    plain = {}
    plain["ext4"] = _fake_module(tmp_path, str(kernel / "fs" / "ext4"), "ext4", "jbd2,mbcache,crc16", True)
    plain["jbd2"] = _fake_module(tmp_path, str(kernel / "fs" / "jbd2"), "jbd2", "", True)
    plain["mbcache"] = _fake_module(tmp_path, str(kernel / "fs"), "mbcache", "", False)
    plain["crc16"] = _fake_module(tmp_path, str(kernel / "lib"), "crc16", "", True)
    plain["virtio_blk"] = _fake_module(tmp_path, str(kernel / "drivers" / "block"), "virtio_blk",
                                       "virtio_ring", True)
    (modules_dir / "modules.builtin").write_text("kernel/drivers/virtio/virtio_ring.ko\n"
                                                 "kernel/drivers/virtio/virtio.ko\n")
    modules = ModuleSet(str(modules_dir))
    order = modules.load_order(["virtio", "virtio_blk", "ext4"])
    assert order == ["virtio_blk", "jbd2", "mbcache", "crc16", "ext4"]
    # .ko.xz comes out decompressed, ready for busybox insmod.
    assert all(modules.data(name) == plain[name] for name in order)
    with pytest.raises(Unavailable, match="neither built in nor"):
        modules.load_order(["virtio_net"])


def test_module_dependency_cycle_is_reported(tmp_path):
    kernel = tmp_path / "m" / "kernel"
    _fake_module(tmp_path, str(kernel), "a", "b", False)
    _fake_module(tmp_path, str(kernel), "b", "a", False)
    with pytest.raises(Unavailable, match="cycle: a -> b -> a"):
        ModuleSet(str(tmp_path / "m")).load_order(["a"])


# --- booting it ----------------------------------------------------------------

# Stages of a boot in the order they happen, each known by a console line.
MILESTONES = (
    ("OpenSBI", "OpenSBI started"),
    ("Linux version", "the kernel started"),
    ("VFS: Unable to mount root fs", "the kernel found no initramfs and no root disk (panic)"),
    ("Trying to unpack rootfs image as initramfs", "the kernel unpacks the initramfs"),
    ("Freeing initrd memory", "the initramfs is unpacked"),
    ("Run /init as init process", "the kernel starts /init (busybox)"),
    (BEGIN_MARKER, "/init runs (BEGIN marker)"),
    ("insmod ext4", "/init loaded the modules"),
    ("disk: /dev/vda", "/dev/vda appeared"),
    ("fstype: ", "/dev/vda is mounted"),
    ("---- sha256 ----", "the file was read"),
    ("nproc: ", "the CPUs were counted"),
    (END_MARKER, "/init finished (END marker)"),
)


class Boot:
    """One boot's console (\\r dropped), exit status (None on timeout) and duration."""

    def __init__(self, label, cmd, status, console, seconds):
        self.label = label
        self.cmd = cmd
        self.status = status
        self.console = console
        self.seconds = seconds

    def section(self):
        """The lines from the BEGIN marker to the END marker, both included;
        None when the BEGIN marker never came, the lines so far when END did not."""
        lines = self.console.splitlines()
        if BEGIN_MARKER not in lines:
            return None
        start = lines.index(BEGIN_MARKER)
        end = lines.index(END_MARKER, start) + 1 if END_MARKER in lines[start:] else len(lines)
        return lines[start:end]

    def milestone(self):
        """The last boot stage the console shows (see MILESTONES)."""
        reached = "nothing on the console"
        for needle, stage in MILESTONES:
            if needle in self.console:
                reached = stage
        return reached

    def describe(self):
        status = "timed out after %.0f s" % self.seconds if self.status is None else \
            "exit status %s after %.1f s" % (self.status, self.seconds)
        tail = "\n".join(self.console.splitlines()[-CONSOLE_TAIL:])
        return "%s: %s; got as far as: %s\n$ %s\n--- last console lines ---\n%s" % (
            self.label, status, self.milestone(), " ".join(self.cmd), tail)


def run_boot(label, cmd, timeout):
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
        status, out = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as err:
        status, out = None, err.stdout or b""
    seconds = time.monotonic() - start
    boot = Boot(label, cmd, status, out.decode("utf-8", "replace").replace("\r", ""), seconds)
    print("%s: %.1f s, status %s" % (label, seconds, status))
    return boot


def disk_copy(images, fstype, tmp_path):
    """A private copy of the disk image, so no two boots share one file."""
    path = os.path.join(str(tmp_path), "disk-%s.img" % fstype)
    shutil.copyfile(images.disks[fstype], path)
    return path


def initrd_of(images, flavour):
    """The initramfs with that /init; skips when it could not be built."""
    initrd = images.initrds[flavour]
    if isinstance(initrd, Unavailable):
        pytest.skip("no %s initramfs: %s" % (flavour, initrd))
    return initrd


# What a VM of pyvmm.hv offers its kernel: the board's hart without H (no
# nested virtualization). QEMU's reference for a VM boots that hart.
QEMU_CPU_OF_A_VM = "rv64,h=false"
# Shadow paging (and trap-and-emulate and bt, which use it) walks the guest's
# Sv39 and Sv48 tables: the kernel is told to stay at four levels on both
# sides, since QEMU's hart would give it Sv57.
FOUR_LEVELS = "no5lvl"


def qemu_boot(images, disk, transport="mmio", smp=2, flavour="busybox", cpu=None, append_more=""):
    cmd = [QEMU, "-machine", "virt", "-smp", str(smp), "-m", RAM, "-nographic", "-no-reboot",
           "-bios", OPENSBI, "-kernel", images.image, "-initrd", initrd_of(images, flavour),
           "-append", (APPEND + " " + append_more).strip(),
           "-drive", "file=%s,format=raw,if=none,id=d0" % disk,
           "-device", "%s,drive=d0" % TRANSPORTS[transport]]
    if transport == "mmio":
        cmd[-4:-4] = ["-global", "virtio-mmio.force-legacy=false"]
    if cpu is not None:
        cmd[3:3] = ["-cpu", cpu]
    label = "qemu %s smp %d %s%s /init" % (transport, smp, flavour, " -cpu " + cpu if cpu else "")
    boot = run_boot(label, cmd, QEMU_TIMEOUT)
    if boot.status is None:
        # QEMU's multi-threaded TCG now and then never gets past OpenSBI when
        # the host is overloaded (seen on 2 cores with the suite running
        # beside it); the same command boots in seconds otherwise, so the
        # reference is booted once more before the test believes it.
        boot = run_boot(label + " (second try)", cmd, QEMU_TIMEOUT)
    return boot


def pyvmm_boot(images, disk, transport="mmio", smp=2, technique=None, flavour="busybox",
               paging=None, append_more="", timeout=PYVMM_TIMEOUT):
    cmd = [sys.executable, "-m", "pyvmm", "run"]
    if technique is None:
        cmd += ["--bios", OPENSBI]
    else:
        # A technique's VM boots on pyvmm's own SBI.
        cmd += ["--technique", technique]
        if paging is not None:
            cmd += ["--paging", paging]
    cmd += ["--kernel", images.image, "--initrd", initrd_of(images, flavour),
            "--append", (APPEND + " " + append_more).strip(),
            "--ram", RAM,
            "--drive", "file=%s,format=raw,if=none,id=d0" % disk,
            "--device", "%s,drive=d0" % TRANSPORTS[transport],
            "--max-insns", PYVMM_MAX_INSNS]
    if smp != 1:
        cmd += ["--smp", str(smp)]              # one hart is the default
    label = "pyvmm %s%s%s smp %d %s /init" % (transport, " --technique " + technique if technique else "",
                                               " --paging " + paging if paging else "", smp, flavour)
    return run_boot(label, cmd, timeout)


_ISA = {}


def pyvmm_hart_isa(images, tmp_path):
    """The riscv,isa pyvmm's device tree gives hart 0 (pyvmm run --dumpdtb, dtc)."""
    if "isa" not in _ISA:
        if first_missing("dtc"):
            pytest.skip("dtc is not installed: cannot read pyvmm's riscv,isa")
        dtb = os.path.join(str(tmp_path), "pyvmm.dtb")
        subprocess.run([sys.executable, "-m", "pyvmm", "run", "--bios", OPENSBI, "--kernel", images.image,
                        "--dumpdtb", dtb], check=True, capture_output=True, timeout=120)
        dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", dtb], check=True,
                             capture_output=True, text=True).stdout
        _ISA["isa"] = re.search(r'riscv,isa = "([^"]+)"', dts).group(1)
    return _ISA["isa"]


def has_f_and_d(isa):
    letters = isa[4:].split("_")[0]                     # "rv64imafdc_zicsr..." -> "imafdc"
    return "g" in letters or ("f" in letters and "d" in letters)


def expected_section(images, fstype, smp):
    """What /init prints between the markers when everything works, up to
    the applet tour the busybox initramfs runs last (its lines are QEMU's
    to give: /proc/cpuinfo describes the machine)."""
    digest = hashlib.sha256(KNOWN_FILE_TEXT.encode()).hexdigest()
    path = "/mnt/" + KNOWN_FILE_NAME
    return [BEGIN_MARKER,
            "kernel: " + images.packages.kernel_version,
            *("insmod " + name for name in images.modules),
            "disk: /dev/vda",
            "fstype: " + fstype,
            "---- %s ----" % path,
            *KNOWN_FILE_TEXT.splitlines(),
            "---- sha256 ----",
            "%s  %s" % (digest, path),
            "cpus online: " + ("0" if smp == 1 else "0-%d" % (smp - 1)),
            "nproc: %d" % smp]


def section_is_complete(section, images, fstype, smp, flavour):
    expected = expected_section(images, fstype, smp)
    if section is None or section[:len(expected)] != expected or section[-1] != END_MARKER:
        return False
    tour = section[len(expected):-1]
    if flavour == "busybox":
        return tour[:1] == ["---- /proc/cpuinfo ----"] and "harmonic 7.485470860550" in tour
    return tour == []


@pytest.fixture(scope="session")
def linux(tmp_path_factory):
    """Debian's kernel, the initramfs and the disks, built once per session."""
    for tool in ("apt-get", "dpkg-deb"):
        if first_missing(tool):
            pytest.skip("%s is not installed: cannot fetch Debian's packages" % tool)
    try:
        return linux_images.build_all(str(tmp_path_factory.mktemp("linux")))
    except Unavailable as err:
        pytest.skip("Debian riscv64 kernel/busybox unavailable: %s" % err)


@pytest.fixture(scope="session")
def qemu_reference(linux, tmp_path_factory):
    """QEMU's boot for (fstype, transport, smp, flavour), one boot each, remembered."""
    if first_missing(QEMU):
        pytest.skip("%s is not installed" % QEMU)
    if not os.path.exists(OPENSBI):
        pytest.skip("no OpenSBI at %s (Debian's opensbi package)" % OPENSBI)
    boots = {}

    def reference(fstype="ext4", transport="mmio", smp=2, flavour="busybox", cpu=None, append_more=""):
        key = (fstype, transport, smp, flavour, cpu, append_more)
        if key not in boots:
            disk = disk_copy(linux, fstype, tmp_path_factory.mktemp("qemu"))
            boot = qemu_boot(linux, disk, transport, smp, flavour, cpu, append_more)
            assert boot.status == 0 and section_is_complete(boot.section(), linux, fstype, smp,
                                                            flavour), boot.describe()
            boots[key] = boot
        return boots[key]

    return reference


def assert_same_section(boot, reference, images=None, tmp_path=None, flavour="busybox"):
    """pyvmm's lines between the markers are QEMU's, and the guest powered off.

    Debian's busybox is built for rv64gc: on a pyvmm whose harts have no F and
    D (its device tree says so) the busybox flavour must get as far as the
    kernel starting /init, which then dies at its first F/D instruction; the
    test is then an expected failure, and becomes an ordinary one once the
    harts have F and D."""
    if flavour == "busybox" and boot.section() is None and images is not None:
        isa = pyvmm_hart_isa(images, tmp_path)
        if not has_f_and_d(isa):
            assert "Run /init as init process" in boot.console, \
                "the kernel did not even start /init\n" + boot.describe()
            assert "init[1]: unhandled signal 4" in boot.console, \
                "/init did not die of an illegal instruction\n" + boot.describe()
            pytest.xfail("pyvmm's harts are %s, without F and D: Debian's rv64gc busybox dies "
                         "at its first F/D instruction (SIGILL)" % isa)
    section = boot.section()
    assert section is not None, "no BEGIN marker: /init never ran\n" + boot.describe()
    assert section == reference.section(), \
        "console between the markers differs from QEMU's (%.1f s)\n%s" % (reference.seconds,
                                                                        boot.describe())
    assert boot.status == 0, "the guest printed everything but did not power off\n" + boot.describe()
    print("boot time: %s %.1f s, %s %.1f s" % (reference.label, reference.seconds,
                                              boot.label, boot.seconds))


# busybox: Debian's busybox-static runs guests/linux/init (needs F and D);
# mini: guests/linux/mini_init.c, RV64IMAC only, prints the same lines.
FLAVOURS = linux_images.INIT_FLAVOURS


@pytest.mark.slow
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("fstype", linux_images.DISK_FSTYPES)
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_qemu_boots_debian_and_reads_the_disk(qemu_reference, fstype, transport, flavour):
    boot = qemu_reference(fstype, transport, 2, flavour)
    assert "insmod ext4" in boot.section()


@pytest.mark.slow
@pytest.mark.parametrize("smp", [1, 4])
def test_qemu_counts_the_cpus(qemu_reference, smp):
    assert "nproc: %d" % smp in qemu_reference("ext4", "mmio", smp).section()


@pytest.mark.slow
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("smp", [1, 2, 4])
def test_pyvmm_boots_debian_like_qemu(linux, qemu_reference, tmp_path, smp, flavour):
    reference = qemu_reference("ext4", "mmio", smp, flavour)
    boot = pyvmm_boot(linux, disk_copy(linux, "ext4", tmp_path), "mmio", smp, flavour=flavour)
    assert_same_section(boot, reference, linux, tmp_path, flavour)


@pytest.mark.slow
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("smp", [1, 2])
def test_pyvmm_boots_debian_under_technique_hw(linux, qemu_reference, tmp_path, flavour, smp):
    reference = qemu_reference("ext4", "mmio", smp, flavour, cpu=QEMU_CPU_OF_A_VM)
    boot = pyvmm_boot(linux, disk_copy(linux, "ext4", tmp_path), "mmio", smp, technique="hw",
                      flavour=flavour)
    assert_same_section(boot, reference, linux, tmp_path, flavour)


# The techniques that run the guest kernel on shadow tables: (technique, paging).
# bt translates every kernel block first: its boot takes minutes, not seconds.
SHADOW_TECHNIQUES = {"hw-shadow": ("hw", "shadow"), "trap-emulate": ("trap-emulate", None),
                     "bt": ("bt", None)}
SHADOW_TECHNIQUE_TIMEOUT = float(os.environ.get("PYVMM_LINUX_SLOW_TIMEOUT", "900"))


@pytest.mark.slow
@pytest.mark.parametrize("technique", sorted(SHADOW_TECHNIQUES))
def test_busybox_runs_the_same_under_shadow_paging_techniques(linux, qemu_reference, tmp_path,
                                                              technique):
    reference = qemu_reference("ext4", "mmio", 1, "busybox", cpu=QEMU_CPU_OF_A_VM,
                               append_more=FOUR_LEVELS)
    name, paging = SHADOW_TECHNIQUES[technique]
    boot = pyvmm_boot(linux, disk_copy(linux, "ext4", tmp_path), "mmio", 1, technique=name,
                      paging=paging, append_more=FOUR_LEVELS, timeout=SHADOW_TECHNIQUE_TIMEOUT)
    assert_same_section(boot, reference, linux, tmp_path, "busybox")


@pytest.mark.slow
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_pyvmm_boots_debian_from_virtio_pci_ext2(linux, qemu_reference, tmp_path, flavour):
    reference = qemu_reference("ext2", "pci", 2, flavour)
    boot = pyvmm_boot(linux, disk_copy(linux, "ext2", tmp_path), "pci", 2, flavour=flavour)
    assert_same_section(boot, reference, linux, tmp_path, flavour)

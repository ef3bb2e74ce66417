"""VM snapshots (pyvmm.hv.snapshot): a VM saved after N instructions and
restored on a fresh Host runs on exactly as the uninterrupted VM does — the
same output from the save point on, the same final instret, the same guest
RAM — under every technique; SMP, incremental chains, the command line, and
every file or host that must be refused, with nothing left half-restored."""

import hashlib
import os
import struct
import subprocess
import sys

import pytest
from hv_support import KERNEL, ROOT, assert_chains_consistent, needs_h

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host, HvError  # noqa: E402
from pyvmm.machine import snapfile  # noqa: E402
from pyvmm.machine.snapfile import FORMAT_VERSION, SnapshotError  # noqa: E402

pytestmark = needs_h

KERNEL_PV = os.path.join(ROOT, "guests", "kernel", "kernel-pv.elf")
SMP_GUEST = os.path.join(ROOT, "guests", "hv", "smp_ipi.S")
VM_RAM = 32 << 20
HOST_RAM = 48 << 20

# (technique, paging): every way pyvmm runs a kernel in a VM.
TECHNIQUES = [("hw", "nested"), ("hw", "shadow"), ("trap-emulate", "shadow"), ("bt", "shadow"),
              ("pv", "shadow")]
# Save points: before the kernel's first line, mid-run, and near its end (~1.28 M).
SAVE_POINTS = [10_000, 450_000, 1_200_000]


def _kernel(technique):
    return KERNEL_PV if technique == "pv" else KERNEL


def _new_vm(technique, paging, guest=None, vcpus=1, host_ram=HOST_RAM):
    host = Host(ram_size=host_ram)
    vm = host.create_vm(ram_size=VM_RAM, technique=technique, paging=paging, vcpus=vcpus)
    vm.load(guest or _kernel(technique))
    return vm


def _ram_digest(vm):
    return hashlib.sha256(vm.read(vm.ram_base, vm.ram_size)).hexdigest()


def _outcome(vm, output):
    return {"output": output, "status": vm.result.status, "how": vm.result.how,
            "instret": vm.stats()["instret"], "ram": _ram_digest(vm)}


_REFERENCE = {}


def _uninterrupted(technique, paging, guest=None, vcpus=1):
    key = (technique, paging, guest, vcpus)
    if key not in _REFERENCE:
        vm = _new_vm(technique, paging, guest, vcpus)
        vm.run()
        _REFERENCE[key] = _outcome(vm, vm.console_output)
    return _REFERENCE[key]


def _finished(technique, paging):
    vm = _new_vm(technique, paging)
    vm.run()
    return vm


def _save_and_restore(tmp_path, technique, paging, n, guest=None, vcpus=1):
    vm = _new_vm(technique, paging, guest, vcpus)
    assert vm.run(max_insns=n).how == "budget"
    before = vm.console_output
    path = str(tmp_path / "vm.snap")
    digest = vm.save(path)
    assert digest == hashlib.sha256(open(path, "rb").read()[:-36]).hexdigest()
    restored = Host(ram_size=HOST_RAM).restore(path)
    assert restored.technique == technique and restored.paging == paging
    restored.run()
    return before, _outcome(restored, before + restored.console_output)


# Figures of the host, not of the guest's run: its hart's (TLB, walks), its
# clock, the shadow tables a restore need not make again (a gauge of what is
# held, not a count of what happened), and those derived from the total of
# exits, which a save adds a budget stop to.
HOST_FIGURES = ("host_seconds", "run_seconds", "mips", "exits_per_second", "vm", "vmid",
                "insns_per_exit", "exits_total", "exits_per_1000_insns", "shadow.shadow_pages")
HOST_PREFIXES = ("core.", "memory.")
BUDGET_COUNTS = ("exits.budget", "trap_emulate.exits.budget")


def _flat(stats, prefix=""):
    out = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _counters(vm):
    """Every figure of the guest's run (instret, exits and callouts by kind,
    blocks translated, shadow fills and faults, ...) but its budget exits,
    which count where runs were cut (each run(max_insns), a save's stop) as
    well as the time slices: equal for a run and its restored continuation."""
    return {key: value for key, value in _flat(vm.stats()).items()
            if key not in HOST_FIGURES + BUDGET_COUNTS and not key.startswith(HOST_PREFIXES)}


# Every this many instructions, from the first on, a save point of the project kernel's run.
SAVE_EVERY = 20_000


@pytest.mark.parametrize("technique, paging", [("bt", "shadow"), ("trap-emulate", "shadow"),
                                               ("hw", "shadow"), ("pv", "shadow")])
def test_a_vm_saved_anywhere_restores_into_the_same_counters(tmp_path, technique, paging):
    """What the shadow pager holds (which guest pages hold page tables, which
    leaves are filled and with which rights) decides hidden faults,
    write-protect traps and bt's adaptive page-table stores; bt's fetch map
    decides which sfence.vma drops blocks. Saved with the VM, they make the
    restored run take exactly the exits, callouts and translations of the
    uninterrupted one, from wherever it was saved."""
    reference = _new_vm(technique, paging)
    reference.run()
    want = _counters(reference)
    output = reference.console_output
    vm = _new_vm(technique, paging)
    saved = []
    for budget in [1, 100, 1_000] + [SAVE_EVERY] * 100:
        if vm.run(max_insns=budget).how != "budget":
            break
        path = str(tmp_path / f"{len(saved)}.snap")
        vm.save(path)
        saved.append((vm.stats()["instret"], vm.console_output, path))
    assert len(saved) > 40 and vm.result.how == "sbi-shutdown"
    # The VM saved every time ran on as if never saved.
    assert _counters(vm) == want and vm.console_output == output
    for instret, before, path in saved:
        restored = Host(ram_size=HOST_RAM).restore(path)
        if technique == "bt":             # the rebuilt TC's chains, each remembered once
            assert_chains_consistent(restored.vcpus[0].tc)
        restored.run()
        got = _counters(restored)
        assert got == want, (instret, {k: (want.get(k), got.get(k)) for k in set(want) | set(got)
                                       if want.get(k) != got.get(k)})
        assert before + restored.console_output == output, instret


@pytest.fixture(scope="module")
def linux_files(tmp_path_factory):
    """Debian's Linux Image and initramfs: from PYVMM_LINUX_DIR when set
    (`python -m pyvmm.bench.linux_images DIR` writes them), else built."""
    from pyvmm.bench.boot_suite import LINUX_APPEND, LINUX_RAM, linux_images_from
    files, reason = linux_images_from(os.environ.get("PYVMM_LINUX_DIR"),
                                      str(tmp_path_factory.mktemp("linux")))
    if files is None:
        pytest.skip(reason)
    return files, LINUX_APPEND, LINUX_RAM


@pytest.mark.slow
def test_a_linux_vm_under_bt_restores_into_the_same_counters(tmp_path, linux_files):
    """Linux under bt, saved early in its boot (its first blocks translated
    before it turned its MMU on, which its tables do not map) and late, runs
    on to the same point with the same counters and output."""
    import io
    files, append, ram = linux_files
    save_points, end = (300_000_000, 1_200_000_000), 1_500_000_000

    def new_host():
        return Host(ram_size=ram + (64 << 20))

    def boot():
        vm = new_host().create_vm(ram_size=ram, technique="bt", paging="shadow",
                                  bootargs=append, console=io.BytesIO(),
                                  initrd=files["initrd.gz"])
        vm.load(files["Image"])
        return vm

    reference = boot()
    reference.run(max_insns=end)
    want = _counters(reference)
    vm = boot()
    done = 0
    saved = []
    for point in save_points:
        vm.run(max_insns=point - done)
        done = point
        path = str(tmp_path / f"linux{point}.snap")
        vm.save(path)
        saved.append((point, vm.console_output, path))
    for point, before, path in saved:
        restored = new_host().restore(path, console=io.BytesIO())
        restored.run(max_insns=end - point)
        assert _counters(restored) == want, point
        assert before + restored.console_output == reference.console_output, point


@pytest.mark.parametrize("n", SAVE_POINTS)
@pytest.mark.parametrize("technique, paging", TECHNIQUES)
def test_a_restored_vm_runs_on_as_the_uninterrupted_one(tmp_path, technique, paging, n):
    reference = _uninterrupted(technique, paging)
    assert reference["how"] == "sbi-shutdown" and reference["status"] == 0
    before, restored = _save_and_restore(tmp_path, technique, paging, n)
    assert reference["output"].startswith(before)
    assert restored == reference


def test_a_bt_vcpu_stopped_inside_a_rewrite_is_saved_at_its_end(tmp_path):
    reference = _uninterrupted("bt", "shadow")
    counters = _counters(_finished("bt", "shadow"))
    vm = _new_vm("bt", "shadow")
    for _ in range(5000):               # on to a budget stop inside a multi-word rewrite
        vm.run(max_insns=1)
        if not vm.vcpus[0].at_boundary():
            break
    assert not vm.vcpus[0].at_boundary()
    budget_exits = vm.stats()["exits"]["budget"]
    vm.save(str(tmp_path / "bt.snap"))
    assert vm.vcpus[0].at_boundary()
    # The steps to the rewrite's end are the guest's instructions, their stops the save's own.
    assert vm.stats()["exits"]["budget"] == budget_exits
    before = vm.console_output
    restored = Host(ram_size=HOST_RAM).restore(str(tmp_path / "bt.snap"))
    restored.run()
    assert _outcome(restored, before + restored.console_output) == reference
    assert _counters(restored) == counters
    vm.run()
    assert _outcome(vm, vm.console_output) == reference
    assert _counters(vm) == counters


@pytest.mark.parametrize("n", [60, 5_000, 1_048_700])
def test_an_smp_vm_restores_with_every_vcpu_and_its_turn(tmp_path, n):
    reference = _uninterrupted("hw", "nested", SMP_GUEST, vcpus=2)
    assert reference["output"] == b"b016i*s\n"
    _, restored = _save_and_restore(tmp_path, "hw", "nested", n, SMP_GUEST, vcpus=2)
    assert restored == reference


def test_a_vm_without_sstc_keeps_its_software_timer(tmp_path):
    """Without Sstc the guest's timer is the hypervisor's (SBI set_timer, raised
    through hvip.VSTIP): it is part of the VCPU's state."""
    def vm_without_sstc():
        vm = Host(ram_size=HOST_RAM).create_vm(ram_size=VM_RAM, sstc=False)
        vm.load(KERNEL)
        return vm
    reference = vm_without_sstc()
    reference.run()
    vm = vm_without_sstc()
    vm.run(max_insns=700_000)
    assert vm.vcpus[0].soft_timer is not None
    vm.save(str(tmp_path / "nosstc.snap"))
    restored = Host(ram_size=HOST_RAM).restore(str(tmp_path / "nosstc.snap"))
    assert not restored.sstc and restored.vcpus[0].soft_timer == vm.vcpus[0].soft_timer
    restored.run()
    assert _outcome(restored, vm.console_output + restored.console_output) == \
        _outcome(reference, reference.console_output)


def test_the_saved_vm_itself_runs_on_unchanged(tmp_path):
    reference = _uninterrupted("trap-emulate", "shadow")
    vm = _new_vm("trap-emulate", "shadow")
    vm.run(max_insns=300_000)
    vm.save(str(tmp_path / "a.snap"))
    vm.run()
    assert _outcome(vm, vm.console_output) == reference


def test_the_same_state_saves_to_the_same_bytes(tmp_path):
    digests = []
    for name in ("a", "b"):
        vm = _new_vm("hw", "nested")
        vm.run(max_insns=200_000)
        digests.append(vm.save(str(tmp_path / f"{name}.snap")))
    assert digests[0] == digests[1]


def test_an_incremental_chain_restores_and_holds_only_changed_pages(tmp_path):
    reference = _uninterrupted("hw", "shadow")
    vm = _new_vm("hw", "shadow")
    paths = [str(tmp_path / f"s{i}.snap") for i in range(3)]
    vm.run(max_insns=400_000)
    vm.save(paths[0])
    vm.run(max_insns=200_000)
    vm.save(paths[1], base=paths[0])
    vm.run(max_insns=200_000)
    before = vm.console_output
    vm.save(paths[2], base=paths[1])
    assert os.path.getsize(paths[2]) < os.path.getsize(paths[0])
    full_pages = _page_count(paths[0])
    assert all(0 < _page_count(path) < full_pages for path in paths[1:])
    restored = Host(ram_size=HOST_RAM).restore(paths[2])
    restored.run()
    assert _outcome(restored, before + restored.console_output) == reference
    # A base that changed after the increment was taken is refused.
    vm.save(paths[1])
    with pytest.raises(SnapshotError, match="not the base"):
        Host(ram_size=HOST_RAM).restore(paths[2])


def _page_count(path):
    sections, _ = snapfile.read(path)
    return len(snapfile.unpack_ram(sections[b"RAM\0"])[2])


def test_a_hw_vm_restores_beside_a_running_one(tmp_path):
    """On a host whose clock another VM has moved on, the VM's time carries
    on from the saved one through htimedelta; its output is the same."""
    reference = _uninterrupted("hw", "nested")
    vm = _new_vm("hw", "nested")
    vm.run(max_insns=300_000)
    before = vm.console_output
    vm.save(str(tmp_path / "a.snap"))
    host = Host(ram_size=96 << 20)
    other = host.create_vm(ram_size=VM_RAM)
    other.load(KERNEL)
    other.run(max_insns=500_000)
    restored = host.restore(str(tmp_path / "a.snap"))
    assert restored.vcpus[0].guest_time() == vm.vcpus[0].guest_time()
    assert host.run() == {other: other.result, restored: restored.result}
    assert before + restored.console_output == reference["output"]
    assert other.console_output == reference["output"]


# -- refusals -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vm_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vmsnap") / "good.snap"
    vm = _new_vm("trap-emulate", "shadow")
    vm.run(max_insns=100_000)
    vm.save(str(path))
    return path.read_bytes()


def _damaged(data, how):
    if how == "flipped":
        return data[:2000] + bytes([data[2000] ^ 0x04]) + data[2001:]
    if how == "truncated":
        return data[:len(data) - 100]
    if how == "newer":
        return data[:8] + struct.pack("<I", FORMAT_VERSION + 1) + data[12:]
    raise ValueError(how)


def _rewritten(data, tmp_path, edit):
    """The file with its META/STAT changed by `edit(meta, state)`, checksum made good again."""
    src = tmp_path / "src.snap"
    src.write_bytes(data)
    sections, _ = snapfile.read(str(src))
    meta = snapfile.loads(sections[b"META"], "META")
    state = snapfile.loads(sections[b"STAT"], "STAT")
    edit(meta, state)
    out = tmp_path / "edited.snap"
    snapfile.write(str(out), [(b"META", snapfile.dumps(meta)), (b"STAT", snapfile.dumps(state)),
                              (b"RAM\0", sections[b"RAM\0"])])
    return str(out)


def _add_shadow_leaf(state, data_page):
    """A leaf at an address the saved shadow leaves empty, mapping data_page."""
    shadow = state["pager"]["shadow"]
    taken = {leaf[2] for leaf in shadow["leaves"]}
    gva = next(page for page in range(0, 1 << 30, 4096) if page not in taken)
    space, view = shadow["leaves"][0][:2]
    shadow["leaves"].append((space, view, gva, (), data_page, False, False, 0x5B))


def _make_first_leaf_global(state):
    leaves = state["pager"]["shadow"]["leaves"]
    leaves[0] = leaves[0][:7] + (leaves[0][7] | 0x20,)


def _assert_untouched(host, allocated):
    assert host.vms == [] and host.frames.allocated == allocated


@pytest.mark.parametrize("how, message", [("flipped", "checksum mismatch"),
                                          ("truncated", "truncated|corrupt"),
                                          ("newer", "format version")])
def test_a_damaged_vm_file_is_refused(vm_file, tmp_path, how, message):
    path = tmp_path / "bad.snap"
    path.write_bytes(_damaged(vm_file, how))
    host = Host(ram_size=HOST_RAM)
    with pytest.raises(SnapshotError, match=message) as error:
        host.restore(str(path))
    assert "\n" not in str(error.value)
    _assert_untouched(host, 0)


def test_files_of_the_other_kind_are_refused(vm_file, tmp_path):
    from pyvmm.machine import Machine
    path = tmp_path / "vm.snap"
    path.write_bytes(vm_file)
    with pytest.raises(SnapshotError, match="a snapshot of a vm, not of a machine"):
        Machine.restore(str(path))
    machine = Machine(bios="builtin", ram_size=32 << 20)
    machine.load(KERNEL)
    machine.run(max_insns=10_000)
    machine.save(str(tmp_path / "board.snap"))
    machine.close()
    host = Host(ram_size=HOST_RAM)
    with pytest.raises(SnapshotError, match="a snapshot of a machine, not of a vm"):
        host.restore(str(tmp_path / "board.snap"))
    _assert_untouched(host, 0)


@pytest.mark.parametrize("edit, error, message", [
    (lambda meta, state: meta["options"].update(technique="warp"), HvError, "unknown technique"),
    (lambda meta, state: state["vcpus"][0]["x"].pop(), SnapshotError, "x registers"),
    (lambda meta, state: state["vcpus"][0]["supervisor"].update(priv=3), SnapshotError,
     "virtual privilege"),
    (lambda meta, state: meta["options"].update(vcpus=2), SnapshotError, "VCPU count"),
    (lambda meta, state: state.pop("clock"), SnapshotError, "no clock"),
    # A file of an earlier pyvmm, without the shadow's contents.
    (lambda meta, state: state.pop("version"), SnapshotError,
     "a VM state of version 1, this pyvmm restores version 2 only"),
    # A global shadow leaf would outlive its tree's ASID in the host hart's TLB.
    (lambda meta, state: _make_first_leaf_global(state), SnapshotError, r"shadow: leaves"),
    # A shadow leaf for a guest page that is neither RAM nor a device: found building it.
    (lambda meta, state: _add_shadow_leaf(state, 1 << 46), SnapshotError,
     "shadow: 0x400000000000 is not a device address"),
    # Found only once the VM is built: the devices do not fit it.
    (lambda meta, state: state["devices"]["virtio_slots"].pop(), SnapshotError, "virtio-mmio"),
    (lambda meta, state: state["devices"]["plic"].update(priority=[1]), SnapshotError, "device"),
])
def test_a_file_for_another_configuration_leaves_the_host_as_it_was(vm_file, tmp_path, edit,
                                                                      error, message):
    path = _rewritten(vm_file, tmp_path, edit)
    host = Host(ram_size=HOST_RAM)
    # Frames a VM used before: a restore must not count on zeroed memory.
    earlier = host.create_vm(ram_size=VM_RAM)
    earlier.load(KERNEL)
    earlier.run(max_insns=100_000)
    host.destroy_vm(earlier)
    allocated = host.frames.allocated
    with pytest.raises(error, match=message) as raised:
        host.restore(path)
    assert "\n" not in str(raised.value)
    _assert_untouched(host, allocated)
    # And the host still restores a good file afterwards.
    good = tmp_path / "good.snap"
    good.write_bytes(vm_file)
    assert host.restore(str(good)).technique == "trap-emulate"


def test_a_host_without_room_refuses_the_vm(vm_file, tmp_path):
    path = tmp_path / "vm.snap"
    path.write_bytes(vm_file)
    host = Host(ram_size=16 << 20)
    with pytest.raises(HvError, match="free frames"):
        host.restore(str(path))
    _assert_untouched(host, 0)


def test_a_vm_that_reads_the_host_clock_needs_a_host_of_its_own(vm_file, tmp_path):
    path = tmp_path / "vm.snap"
    path.write_bytes(vm_file)
    host = Host(ram_size=96 << 20)
    host.create_vm(ram_size=VM_RAM)
    allocated = host.frames.allocated
    with pytest.raises(HvError, match="reads the host clock"):
        host.restore(str(path))
    assert len(host.vms) == 1 and host.frames.allocated == allocated


def test_a_finished_vm_has_nothing_to_save(tmp_path):
    vm = _new_vm("hw", "nested")
    vm.run()
    with pytest.raises(HvError, match="has stopped"):
        vm.save(str(tmp_path / "x.snap"))
    assert not (tmp_path / "x.snap").exists()


def test_an_incremental_base_of_another_vm_is_refused(tmp_path):
    vm = _new_vm("hw", "nested")
    vm.run(max_insns=50_000)
    vm.save(str(tmp_path / "hw.snap"))
    other = _new_vm("trap-emulate", "shadow")
    other.run(max_insns=50_000)
    with pytest.raises(SnapshotError, match="another VM configuration"):
        other.save(str(tmp_path / "te.snap"), base=str(tmp_path / "hw.snap"))


# -- the command line -----------------------------------------------------------------------------


def _pyvmm(*argv):
    return subprocess.run([sys.executable, "-m", "pyvmm", "run", *argv], cwd=ROOT,
                          capture_output=True, timeout=300)


def test_cli_savevm_and_loadvm_continue_a_vm(tmp_path):
    full = _pyvmm("--technique", "hw", "--paging", "shadow", KERNEL)
    assert full.returncode == 0
    first = str(tmp_path / "a.snap")
    second = str(tmp_path / "b.snap")
    part1 = _pyvmm("--technique", "hw", "--paging", "shadow", KERNEL, "--max-insns", "500000",
                   "--savevm", first)
    assert part1.returncode == 124 and os.path.exists(first)
    part2 = _pyvmm("--loadvm", first, "--max-insns", "300000", "--savevm", second,
                   "--savevm-base", first)
    assert part2.returncode == 124
    part3 = _pyvmm("--loadvm", second, "--stats")
    assert part3.returncode == 0
    assert part1.stdout + part2.stdout + part3.stdout == full.stdout
    assert b'"technique": "hw"' in part3.stderr and b'"paging": "shadow"' in part3.stderr


def test_cli_smp_vm_saves_with_smp(tmp_path):
    full = _pyvmm("--technique", "hw", "--smp", "2", SMP_GUEST)
    path = str(tmp_path / "smp.snap")
    part1 = _pyvmm("--technique", "hw", "--smp", "2", SMP_GUEST, "--max-insns", "1000",
                   "--savevm", path)
    part2 = _pyvmm("--loadvm", path)
    assert (part1.returncode, part2.returncode) == (124, 0)
    assert part1.stdout + part2.stdout == full.stdout == b"b016i*s\n"


def test_cli_refuses_shaping_options_and_bad_vm_files(vm_file, tmp_path):
    path = tmp_path / "vm.snap"
    path.write_bytes(vm_file)
    for extra, message in ((["--technique", "bt"], b"--technique cannot be used with --loadvm"),
                           ([KERNEL], b"IMAGE cannot be used with --loadvm"),
                           (["--paging", "nested"], b"--paging cannot be used with --loadvm")):
        proc = _pyvmm("--loadvm", str(path), *extra)
        assert proc.returncode == 2 and message in proc.stderr
    bad = tmp_path / "bad.snap"
    bad.write_bytes(_damaged(vm_file, "truncated"))
    proc = _pyvmm("--loadvm", str(bad))
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("pyvmm run: error: ")
    assert proc.stdout == b""


def test_console_input_not_yet_delivered_goes_with_the_vm(tmp_path):
    vm = _new_vm("hw", "nested")
    vm.run(max_insns=20_000)
    vm.input.push_front(b"typed ahead")
    vm.save(str(tmp_path / "in.snap"))
    restored = Host(ram_size=HOST_RAM).restore(str(tmp_path / "in.snap"))
    assert restored.input.unread() == b"typed ahead"


def test_counters_go_on_from_the_saved_ones(tmp_path):
    reference = _new_vm("trap-emulate", "shadow")
    reference.run()
    vm = _new_vm("trap-emulate", "shadow")
    vm.run(max_insns=450_000)
    vm.save(str(tmp_path / "c.snap"))
    restored = Host(ram_size=HOST_RAM).restore(str(tmp_path / "c.snap"))
    restored.run()
    want, got = reference.stats(), restored.stats()
    for key in ("instret", "sbi", "mmio", "reflected_faults"):
        assert got[key] == want[key], key
    assert got["trap_emulate"]["emulated"] == want["trap_emulate"]["emulated"]
    assert got["trap_emulate"]["guest_instructions"] == want["trap_emulate"]["guest_instructions"]
    # Rebuilt caches: the shadow refills what it held at the save point.
    assert got["shadow"]["shadow_fills"] >= want["shadow"]["shadow_fills"]
    assert got["exits"]["budget"] == want["exits"]["budget"] + 1
    # ...and counts its exits in what a new VM counts them in.
    assert type(restored.exit_counts) is type(reference.exit_counts)


def test_the_device_set_goes_with_the_vm(tmp_path):
    from pyvmm.machine.devices import DeviceConfig
    from pyvmm.machine.snapshot import device_states
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(range(256)) * 4096)
    devices = DeviceConfig(drives=[f"file={image},format=raw,if=none,id=d0,snapshot=on"],
                           devices=["virtio-blk-device,drive=d0", "virtio-rng-device"])
    host = Host(ram_size=HOST_RAM)
    vm = host.create_vm(ram_size=VM_RAM, devices=devices)
    vm.load(KERNEL)
    vm.run(max_insns=200_000)
    vm.save(str(tmp_path / "dev.snap"))
    restored = Host(ram_size=HOST_RAM).restore(str(tmp_path / "dev.snap"))
    config = restored.device_set.config
    assert config.drives == devices.drives and config.devices == devices.devices
    assert device_states(restored.device_set) == device_states(vm.device_set)
    reference = _uninterrupted("hw", "nested")
    restored.run()
    assert vm.console_output + restored.console_output == reference["output"]


def test_cli_savevm_after_the_guest_stopped_writes_nothing(tmp_path):
    path = tmp_path / "late.snap"
    proc = _pyvmm("--technique", "trap-emulate", KERNEL, "--max-insns", "50000000",
                  "--savevm", str(path))
    assert proc.returncode == 0 and not path.exists()
    assert b"no snapshot written" in proc.stderr

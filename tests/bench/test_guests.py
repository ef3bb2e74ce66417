"""The benchmark guests: the committed ELFs match their sources, and QEMU and
pyvmm print the same for the same sized image."""

import shutil
import subprocess

import pytest

from pyvmm.bench import pyvmm_backend, qemu_backend
from pyvmm.bench.elfpatch import file_offset
from pyvmm.bench.images import default_image_dir, sized_image

IMAGES = ("compute.elf", "compute-sv39.elf", "compute-htif.elf", "fp.elf", "traps.elf")


def test_committed_images_are_built_from_the_sources(tmp_path):
    if shutil.which("riscv64-unknown-elf-gcc") is None or shutil.which("make") is None:
        pytest.skip("riscv64-unknown-elf-gcc or make is not installed")
    subprocess.run(["make", "-s", "-C", str(default_image_dir()), f"OUT={tmp_path}",
                    f"OBJ={tmp_path / 'obj'}"], check=True, capture_output=True)
    for name in IMAGES:
        assert (tmp_path / name).read_bytes() == (default_image_dir() / name).read_bytes(), \
            f"guests/bench/{name} is stale: run `make -C guests/bench` and commit it"


@pytest.mark.parametrize("name, expected", [
    ("compute.elf", "compute iterations=3 checksum=0x"),
    ("compute-sv39.elf", "compute iterations=3 checksum=0x"),
    ("compute-htif.elf", "compute iterations=3 checksum=0x"),
    ("fp.elf", "fp iterations=3 checksum=0x"),
    ("traps.elf", "traps handled=3\n"),
])
def test_pyvmm_and_qemu_agree(core_available, qemu_path, tmp_path, name, expected):
    image = sized_image(default_image_dir(), name, 3, tmp_path)
    ours = pyvmm_backend.run_image(image, pyvmm_backend.instruction_limit(3))
    theirs = qemu_backend.run_image(qemu_path, image, timeout=60)
    assert ours.output.startswith(expected)
    assert theirs.output == ours.output
    assert theirs.cpu_seconds >= 0 and theirs.seconds > 0


def test_paging_variant_walks_4k_pages(core_available, tmp_path):
    bare = pyvmm_backend.run_image(sized_image(default_image_dir(), "compute.elf", 1, tmp_path))
    paged = pyvmm_backend.run_image(sized_image(default_image_dir(), "compute-sv39.elf", 1,
                                                tmp_path))
    assert paged.output == bare.output
    # the list alone spans 64 pages, each mapped by its own 4 KiB leaf
    assert paged.stats.get("page_walks", 0) >= 64


def test_sparse_list_outgrows_the_tlb(core_available, tmp_path):
    dense = pyvmm_backend.run_image(sized_image(default_image_dir(), "compute-sv39.elf", 2,
                                                tmp_path))
    sparse = pyvmm_backend.run_image(sized_image(default_image_dir(), "compute-sv39.elf", 2,
                                                 tmp_path, (("bench_list_pages", 512),)))
    # same nodes, same values, same walk: same checksum, same instructions
    assert sparse.output == dense.output
    assert sparse.instret == dense.instret
    # 16384 steps per walk over 512 pages: thousands of walks, not dozens
    assert sparse.stats["page_walks"] > 10 * dense.stats["page_walks"]
    assert sparse.stats["page_walks"] > 16384


def test_htif_variant_is_watched_and_runs_compute_unchanged(core_available, tmp_path):
    """compute-htif.elf: riscv-tests' tohost/fromhost, 8-byte aligned in a page of their own;
    with the Machine's htif on, tohost is watched, and the run is compute's, instruction for
    instruction (the watched word is never stored to)."""
    from pyvmm.bench.elfpatch import symbol_address
    data = (default_image_dir() / "compute-htif.elf").read_bytes()
    tohost, fromhost = symbol_address(data, "tohost"), symbol_address(data, "fromhost")
    assert tohost % 8 == 0 and fromhost % 8 == 0 and tohost // 4096 == fromhost // 4096
    plain = (default_image_dir() / "compute.elf").read_bytes()
    for symbol in ("bench_iterations", "__bss_end", "__stack_top"):
        assert symbol_address(plain, symbol) <= tohost // 4096 * 4096      # ends are exclusive
    machine = pyvmm_backend.load_machine(sized_image(default_image_dir(), "compute-htif.elf", 2,
                                                     tmp_path), htif="on")
    assert machine.htif is not None and machine.symbols["tohost"] == tohost
    watched = pyvmm_backend.run_loaded(machine)
    bare = pyvmm_backend.run_image(sized_image(default_image_dir(), "compute.elf", 2, tmp_path))
    assert (watched.output, watched.instret) == (bare.output, bare.instret)
    assert watched.stats["exits"].get("watch", 0) == 0


def test_htif_on_needs_tohost(core_available, tmp_path):
    from pyvmm.machine.loader import ImageError
    with pytest.raises(ImageError, match="tohost"):
        pyvmm_backend.load_machine(sized_image(default_image_dir(), "compute.elf", 1, tmp_path),
                                   htif="on")


def test_exit_loop_counts_every_exit(core_available, tmp_path):
    run = pyvmm_backend.run_exit_loop(sized_image(default_image_dir(), "traps.elf", 25, tmp_path),
                                      25)
    assert run.exits == 25 and run.instret > 25


def test_exit_loop_rejects_a_wrong_count(core_available, tmp_path):
    image = sized_image(default_image_dir(), "traps.elf", 25, tmp_path)
    with pytest.raises(pyvmm_backend.BenchRunError, match="expected 26 ecall exits"):
        pyvmm_backend.run_exit_loop(image, 26)


def test_qemu_failure_is_one_line(qemu_path, tmp_path):
    with pytest.raises(qemu_backend.QemuError, match="QEMU exited with status 1"):
        qemu_backend.run_image(qemu_path, tmp_path / "missing.elf", timeout=60)


def test_qemu_timeout(qemu_path, tmp_path):
    data = bytearray((default_image_dir() / "traps.elf").read_bytes())
    offset = file_offset(bytes(data), 0x8000_0000, 4)
    data[offset:offset + 4] = (0x0000006F).to_bytes(4, "little")        # j . at _start
    image = tmp_path / "spin.elf"
    image.write_bytes(bytes(data))
    with pytest.raises(qemu_backend.QemuError, match="did not finish within 1 s"):
        qemu_backend.run_image(qemu_path, image, timeout=1)


def test_qemu_version(qemu_path):
    assert "QEMU" in qemu_backend.qemu_version(qemu_path)

"""Binary translation's cost of a lookup miss: translating a guest's blocks into the TC.

A guest is run under bt to the end of its boot (the project kernel) or for
a number of instructions (Debian's Linux 6.12, with PYVMM_BENCH_LINUX=1);
the blocks valid at that point are then translated again into an emptied
TC, as many times as pytest-benchmark asks, each round from the same guest
memory. What is timed is what a lookup miss costs the runtime:
translation, installation (chaining to the blocks already there), the
watch on the guest pages and the TC's mappings.

    pytest benchmarks/test_bt_miss_bench.py --benchmark-json bt.json
    PYVMM_BENCH_LINUX=1 pytest benchmarks/test_bt_miss_bench.py -k linux

`extra_info` holds the blocks, their guest instructions and TC words, and
the microseconds per block and per guest instruction of the fastest round.
"""

import os
import tempfile

import pytest

from pyvmm.bench import boot_run, boot_suite, techniques
from pyvmm.bench.kernel_workloads import default_kernel

ROUNDS = int(os.environ.get("PYVMM_BENCH_ROUNDS", "3"))
LINUX = os.environ.get("PYVMM_BENCH_LINUX") == "1"
# Linux's boot reaches its drivers' probing by then: some 25 K blocks valid.
LINUX_INSNS = int(os.environ.get("PYVMM_BENCH_LINUX_INSNS", "400000000"))

pytest.importorskip("pyvmm._core", reason="the compiled core pyvmm._core is not built")


def _bt_vm(spec):
    from pyvmm.hv import Host
    col = techniques.column("bt")
    host = Host(ram_size=spec["ram"] + boot_run.HOST_OVERHEAD)
    vm = host.create_vm(ram_size=spec["ram"], paging=col.paging, technique=col.technique,
                        bootargs=spec.get("append") or "", console=boot_run.MarkedConsole(spec["marker"]),
                        devices=boot_run._devices(spec), initrd=spec.get("initrd"))
    vm.load(spec["kernel"])
    vm.boot()
    return vm


def _translatable(vcpu):
    """The guest pcs of the TC's valid blocks that translate from where the
    guest is now (a block translated before paging was on may not)."""
    from pyvmm.hv.bt.translator import FetchFault
    candidates = [block.guest_pc for block in vcpu.tc.blocks.values()]
    vcpu.tc.flush()
    pcs = []
    for pc in candidates:
        try:
            vcpu.block_for(pc)
        except FetchFault:
            continue
        pcs.append(pc)
    return pcs


def _bench(benchmark, spec, insns):
    vm = _bt_vm(spec)
    try:
        vm.run(insns)
        vcpu = vm.vcpus[0]
        pcs = _translatable(vcpu)
        assert pcs, "the guest ran no translated code"
        blocks = [vcpu.tc.blocks[pc] for pc in pcs]

        def retranslate():
            vcpu.tc.flush()
            for pc in pcs:
                vcpu.block_for(pc)

        benchmark.pedantic(retranslate, rounds=ROUNDS, iterations=1)
        again = [vcpu.tc.blocks[pc] for pc in pcs]
        # The same guest code translated at the same TC addresses: the same blocks.
        assert [(b.guest_pc, b.tc_addr, b.words) for b in again] == \
            [(b.guest_pc, b.tc_addr, b.words) for b in blocks]
        guest_insns = sum(b.guest_insns for b in blocks)
        fastest = benchmark.stats.stats.min
        benchmark.extra_info.update({
            "blocks": len(blocks), "guest_insns": guest_insns,
            "tc_words": sum(len(b.words) for b in blocks),
            "us_per_block": 1e6 * fastest / len(blocks),
            "us_per_guest_insn": 1e6 * fastest / guest_insns,
        })
    finally:
        vm.close()


def test_kernel_blocks(benchmark):
    spec = boot_suite.specs_for("kernel", techniques.column("bt"), str(default_kernel()), None)
    _bench(benchmark, spec, spec["max_insns"])


def test_linux_blocks(benchmark):
    if not LINUX:
        pytest.skip("Linux boots take minutes: set PYVMM_BENCH_LINUX=1 to run them")
    with tempfile.TemporaryDirectory(prefix="pyvmm-bt-bench-") as scratch:
        files, reason = boot_suite.linux_images_from(os.environ.get("PYVMM_BENCH_LINUX_DIR"),
                                                     os.path.join(scratch, "linux"))
        if files is None:
            pytest.skip(reason)
        spec = boot_suite.specs_for("linux", techniques.column("bt"), str(default_kernel()), files)
        disk = os.path.join(scratch, "disk.img")
        with open(files["disk-ext4.img"], "rb") as src, open(disk, "wb") as dst:
            dst.write(src.read())
        spec["disk"] = disk
        _bench(benchmark, spec, LINUX_INSNS)

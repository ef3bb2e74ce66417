"""Binary translation keeps its own state out of the guest's sight: a kernel
that uses guest-physical page 0, the first page of RAM, virtual page 0 (Sv39
and Sv48) and the old translation-cache address, through gp, prints what it
prints on the board; so do random kernels; a fault in an instruction naming
gp reaches the guest with every register as the guest left it."""

import pytest
from hv_support import ROOT, native_run
from random_kernels import random_kernel

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.bt import layout  # noqa: E402

LOW_PAGES = f"{ROOT}/guests/hv/low_pages.S"
RAM = 64 << 20

# Faults in renamed instructions (gp as base, gp as destination): the handler
# checks every borrowed-register candidate (t0-t2, t3) and gp itself, and
# prints one letter per fault: 'y' when all hold the guest's values.
STAND_IN_KERNEL = """
        .option norvc
        .text
        .globl _start
_start: la      t0, handler
        csrw    stvec, t0
        li      t0, 0x1111
        li      t1, 0x2222
        li      t2, 0x3333
        li      t3, 0x4444
        li      gp, 0x10                # below RAM: every access through it faults
        ld      a0, 8(gp)
        sd      t0, 0(gp)
        lw      gp, 0(gp)
        amoadd.d a1, t1, (gp)
        li      a0, '\\n'
        li      a7, 1
        ecall
        li      a7, 8
        ecall
        .balign 4
handler:
        li      a0, 'y'
        li      a1, 0x1111
        bne     t0, a1, 1f
        li      a1, 0x2222
        bne     t1, a1, 1f
        li      a1, 0x3333
        bne     t2, a1, 1f
        li      a1, 0x4444
        bne     t3, a1, 1f
        li      a1, 0x10
        beq     gp, a1, 2f
1:      li      a0, 'n'
2:      li      a7, 1
        ecall
        csrr    a0, sepc
        addi    a0, a0, 4
        csrw    sepc, a0
        sret
"""


def vm_run(image, technique, ram_size=RAM, max_insns=None):
    host = Host(ram_size=ram_size + (32 << 20))
    vm = host.create_vm(ram_size=ram_size, technique=technique, paging="shadow")
    vm.load(image)
    result = vm.run(max_insns)
    return result, vm


@pytest.mark.parametrize("technique", ["bt", "trap-emulate"])
def test_low_pages_read_as_on_the_board(technique):
    status, how, output = native_run(LOW_PAGES, ram_size=RAM)
    result, vm = vm_run(LOW_PAGES, technique)
    assert vm.error is None
    assert (status, how) == (result.status, result.how) == (0, "sbi-shutdown")
    assert vm.console_output == output
    lines = output.decode().splitlines()
    # 512 stores and 512 loads at page 0, a store and a load at the old TC
    # address: all access faults; then the pattern reads back everywhere.
    assert lines[0].split()[-2] == f"{1026:016x}"
    assert len(set(lines[2].split()[-7:-3])) == 1 and len(set(lines[3].split()[-7:-3])) == 1


def test_bt_runtime_pages_are_out_of_every_guest_address_space():
    # Above Bare's window (2^38) and non-canonical in Sv39 and Sv48, so no
    # guest translation yields them; canonical in the Sv57 shadow.
    for start, end in ((layout.STATE_GVA, layout.STATE_GVA + layout.PAGE_SIZE),
                       (layout.TC_BASE, layout.TC_BASE + layout.TC_SIZE)):
        for va in (start, end - 1):
            assert va >> 38 and va >> 47 and not va >> 56
    assert layout.STATE_BYTES <= 2048                    # gp-relative 12-bit offsets reach it all


def test_a_bt_vm_runs_on_sv57_shadow_trees():
    result, vm = vm_run(LOW_PAGES, "bt")
    assert result.status == 0
    assert vm.vcpus[0].real_satp >> 60 == 10
    vcpu = vm.vcpus[0]
    assert vm.pager.shadow_leaf(layout.STATE_GVA)[0] == vcpu.state_hpa
    leaf = vm.pager.shadow_leaf(0)                       # page 0 is the guest's (nothing: no RAM)
    assert leaf is None or leaf[0] != vcpu.state_hpa


def test_faults_in_renamed_instructions_show_the_guests_registers(tmp_path):
    image = tmp_path / "standin.S"
    image.write_text(STAND_IN_KERNEL)
    status, _, output = native_run(str(image), ram_size=RAM)
    assert (status, output) == (0, b"yyyy\n")
    result, vm = vm_run(str(image), "bt")
    assert vm.error is None and (result.status, vm.console_output) == (0, output)
    assert vm.vcpus[0].tc.renamed                        # the accesses through gp were renamed


@pytest.mark.parametrize("seed", range(8))
def test_random_kernels_match_the_board(tmp_path, seed):
    source, _ = random_kernel(seed)
    image = tmp_path / f"random{seed}.S"
    image.write_text(source)
    status, how, output = native_run(str(image), ram_size=RAM, max_insns=5_000_000)
    result, vm = vm_run(str(image), "bt", max_insns=5_000_000)
    assert vm.error is None
    assert (result.status, vm.console_output) == (status, output)
    assert status == 0 and output.endswith(b"\n")


def test_runtime_state_exports_and_imports_the_state_slots():
    result, vm = vm_run(LOW_PAGES, "bt")
    vcpu = vm.vcpus[0]
    data = vcpu.export_runtime_state()
    assert len(data) == layout.STATE_BYTES
    stvec = int.from_bytes(data[layout.STATE_OFFSET["stvec"]:][:8], "little")
    assert stvec == vcpu.state.stvec != 0
    vcpu.state.stvec = 0x1234
    vcpu.import_runtime_state(data)
    assert vcpu.state.stvec == stvec
    from pyvmm.hv.host import HvError
    with pytest.raises(HvError, match="runtime state"):
        vcpu.import_runtime_state(data[:-8])


REMAP_CODE = f"{ROOT}/guests/hv/remap_code.S"


@pytest.mark.parametrize("technique", ["bt", "trap-emulate"])
def test_a_remapped_code_page_runs_its_new_code(technique):
    """One virtual code page mapped to page A, B, then A again, called each
    time: translations are keyed by virtual pc, and a page-table change the
    guest made effective with sfence.vma drops the stale ones."""
    status, how, output = native_run(REMAP_CODE, ram_size=RAM)
    assert output == b"ABA\n"
    result, vm = vm_run(REMAP_CODE, technique)
    assert (vm.console_output, result.status, vm.error) == (output, status, None)
    if technique == "bt":
        assert vm.stats()["bt"]["remapped_code_pages"] == 2

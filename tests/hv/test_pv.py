"""pyvmm.hv.pv's hypercalls, upcalls and events with fabricated exits: a VM
of technique "pv" on the real core, no guest running."""

import struct

import pytest

from pyvmm.hv import Exit, Host
from pyvmm.hv import pv
from pyvmm.machine import sbi

RAM = 0x8000_0000
CALLBACK = 0x8020_0100
INFO = 0x8030_0000
FRAME = 0x8030_1000
BATCH = 0x8030_2000
ROOT = 0x8040_0000              # a guest Sv39 root table
LEAF_TABLE = 0x8040_1000
GIGA_RWX = 0xCF                 # V R W X A D
INTERRUPT = 1 << 63


@pytest.fixture
def vm():
    host = Host(ram_size=24 << 20)
    vm = host.create_vm(ram_size=16 << 20, technique="pv")
    vm.vcpus[0].activate()
    return vm


@pytest.fixture
def vcpu(vm):
    return vm.vcpus[0]


def call(vcpu, fid, *args):
    return vm_call(vcpu.vm, vcpu, fid, args)


def vm_call(vm, vcpu, fid, args):
    args = tuple(args) + (0,) * (6 - len(args))
    return vm.hypercalls[(pv.PV_EID, fid)](vcpu, args)


def u64(vm, gpa):
    return int.from_bytes(vm.read(gpa, 8), "little")


def put64(vm, gpa, value):
    vm.write(gpa, value.to_bytes(8, "little"))


def info(vm):
    return dict(zip(("pc", "cause", "tval", "prev_mode", "pending", "enabled", "upcall_mask",
                     "scratch"), struct.unpack("<8Q", vm.read(INFO, 64))))


def registered(vcpu):
    assert call(vcpu, pv.REGISTER_CALLBACKS, CALLBACK, INFO) == (0, 0)
    return vcpu


def leaf(pa, perm=GIGA_RWX):
    return ((pa >> 12) << 10) | perm


def gigapage_space(vm, vcpu):
    """Guest tables mapping 0x8000_0000.. (1 GiB, identity, kernel-only) and
    installed with new_baseptr."""
    put64(vm, ROOT + 2 * 8, leaf(RAM))
    assert call(vcpu, pv.NEW_BASEPTR, (8 << 60) | (ROOT >> 12)) == (0, 0)


# ------------------------------------------------------------------ the table

def test_every_hypercall_is_in_the_vm_table_and_the_base_probe_finds_the_extension(vm, vcpu):
    for fid in pv.HYPERCALLS:
        assert (pv.PV_EID, fid) in vm.hypercalls
    probe = vm.hypercalls[(sbi.EID_BASE, 3)]
    assert probe(vcpu, (pv.PV_EID, 0, 0, 0, 0, 0)) == (0, 1)
    assert probe(vcpu, (0x0A505601, 0, 0, 0, 0, 0)) == (0, 0)


def test_a_hypercall_added_to_the_module_table_reaches_later_vms():
    def answer(vcpu, args):
        return 0, args[0] * 2
    pv.HYPERCALLS[42] = answer
    try:
        host = Host(ram_size=24 << 20)
        vm = host.create_vm(ram_size=16 << 20, technique="pv")
        assert vm_call(vm, vm.vcpus[0], 42, (21,)) == (0, 42)
        assert vm.policy.stats()["pv"]["hypercalls"] == {"answer": 1}
    finally:
        del pv.HYPERCALLS[42]


def test_the_vm_runs_on_shadow_tables_with_ring_compression(vm):
    assert vm.paging == "shadow"
    assert vm.pager.user_split


# ------------------------------------------------------------------ register_callbacks

@pytest.mark.parametrize("gpa, error", [
    (0x1000_0000, sbi.SBI_ERR_INVALID_ADDRESS),       # a device, not RAM
    (RAM + (16 << 20) - 32, sbi.SBI_ERR_INVALID_ADDRESS),   # runs past the end of RAM
    (INFO + 4, sbi.SBI_ERR_INVALID_ADDRESS),          # misaligned
    (INFO + 4096 - 32, sbi.SBI_ERR_INVALID_ADDRESS),  # straddles a page
])
def test_register_callbacks_refuses_a_bad_info_page(vcpu, gpa, error):
    assert call(vcpu, pv.REGISTER_CALLBACKS, CALLBACK, gpa) == (error, 0)
    assert vcpu.callback is None


def test_register_callbacks_records_the_entry_and_clears_pending(vm, vcpu):
    put64(vm, INFO + pv.INFO_PENDING, 0xFFFF)
    registered(vcpu)
    assert vcpu.callback == CALLBACK and vcpu.info_gpa == INFO
    assert info(vm)["pending"] == 0


# ------------------------------------------------------------------ mmu_update

def write_batch(vm, pairs):
    vm.write(BATCH, b"".join(struct.pack("<QQ", ptr, val) for ptr, val in pairs))


def test_mmu_update_writes_a_batch_and_counts_it(vm, vcpu):
    pairs = [(LEAF_TABLE + 8 * i, leaf(RAM + 0x10_0000 + 0x1000 * i, 0xD7)) for i in range(3)]
    write_batch(vm, pairs)
    assert call(vcpu, pv.MMU_UPDATE, BATCH, 3) == (0, 3)
    for ptr, val in pairs:
        assert u64(vm, ptr) == val
    stats = vm.policy.stats()["pv"]
    assert stats["pte_updates"] == 3
    assert stats["mmu_update_batches"] == {"3": 1}
    assert stats["hypercalls"] == {"mmu_update": 1}


def test_mmu_update_stops_at_the_first_bad_entry(vm, vcpu):
    other_vm_frame = vm.host.frames.alloc(1)      # host memory this VM does not own
    pairs = [(LEAF_TABLE, leaf(RAM + 0x1000, 0xD7)),
             (LEAF_TABLE + 8, leaf(other_vm_frame, 0xD7)),
             (LEAF_TABLE + 16, leaf(RAM + 0x3000, 0xD7))]
    write_batch(vm, pairs)
    assert call(vcpu, pv.MMU_UPDATE, BATCH, 3) == (sbi.SBI_ERR_INVALID_PARAM, 1)
    assert u64(vm, LEAF_TABLE) == pairs[0][1]
    assert u64(vm, LEAF_TABLE + 8) == 0 and u64(vm, LEAF_TABLE + 16) == 0
    assert vm.policy.refused_ptes == 1


def test_mmu_update_refuses_a_pte_address_outside_ram(vm, vcpu):
    write_batch(vm, [(0x1000_0000, 0)])
    assert call(vcpu, pv.MMU_UPDATE, BATCH, 1) == (sbi.SBI_ERR_INVALID_ADDRESS, 0)
    write_batch(vm, [(LEAF_TABLE + 4, 0)])
    assert call(vcpu, pv.MMU_UPDATE, BATCH, 1) == (sbi.SBI_ERR_INVALID_ADDRESS, 0)


def test_mmu_update_refuses_a_batch_outside_ram_or_too_long(vcpu):
    assert call(vcpu, pv.MMU_UPDATE, 0x1000, 1) == (sbi.SBI_ERR_INVALID_ADDRESS, 0)
    assert call(vcpu, pv.MMU_UPDATE, BATCH, pv.MMU_UPDATE_MAX + 1) == (sbi.SBI_ERR_INVALID_PARAM, 0)
    assert call(vcpu, pv.MMU_UPDATE, BATCH, 0) == (0, 0)


@pytest.mark.parametrize("value, why", [
    (leaf(RAM, 0xD7), None),                      # RAM leaf
    (leaf(RAM + 0x5000, 0x01), None),             # pointer to a table in RAM
    (0x1234 << 10, None),                         # invalid entries are not looked at
    (leaf(0x1000_0000, 0xC7), None),              # a leaf on the VM's UART
    (leaf(0x1000_0000, 0x01), "not the VM's"),    # a table on a device
    (leaf(0x0, 0xD7), "not the VM's"),
    (leaf(RAM, 0xC5), "reserved encoding"),       # W without R
    (leaf(RAM, 0xD7) | 1 << 60, "reserved bits"),
])
def test_check_pte(vm, value, why):
    result = pv.check_pte(vm, value)
    assert (result is None) if why is None else why in result


def test_mmu_update_drops_the_shadow_entries_derived_from_the_old_pte(vm, vcpu):
    gigapage_space(vm, vcpu)
    pager = vm.pager
    assert pager.handle_page_fault(13, 0x8020_0000, 1, False, False) == "hidden"
    assert pager.guest_walk(0x8020_0000, "load", 1)[0] is not None
    fills = pager.counters["invalidations"]
    write_batch(vm, [(ROOT + 16, 0)])
    assert call(vcpu, pv.MMU_UPDATE, BATCH, 1) == (0, 1)
    assert pager.counters["invalidations"] == fills + 1
    assert pager.handle_page_fault(13, 0x8020_0000, 1, False, False) == "guest"


# ------------------------------------------------------------------ new_baseptr, tlb_flush

def test_new_baseptr_validates_and_installs_the_kernel_view(vm, vcpu):
    assert call(vcpu, pv.NEW_BASEPTR, (5 << 60) | (ROOT >> 12)) == (sbi.SBI_ERR_INVALID_PARAM, 0)
    assert call(vcpu, pv.NEW_BASEPTR, (8 << 60) | 0x100) == (sbi.SBI_ERR_INVALID_ADDRESS, 0)
    satp = (8 << 60) | (ROOT >> 12)
    assert call(vcpu, pv.NEW_BASEPTR, satp) == (0, 0)
    assert vm.pager.guest_satp == satp
    assert vcpu.core.read_csr(pv.CSR_SATP) == vm.pager.root_satp(pv.MODE_KERNEL)
    assert vm.pager.root_satp(pv.MODE_USER) != vm.pager.root_satp(pv.MODE_KERNEL)


def test_tlb_flush_takes_all_or_one_page(vcpu):
    assert call(vcpu, pv.TLB_FLUSH, pv.FLUSH_ALL, 0) == (0, 0)
    assert call(vcpu, pv.TLB_FLUSH, pv.FLUSH_PAGE, 0x8020_0000) == (0, 0)
    assert call(vcpu, pv.TLB_FLUSH, 7, 0) == (sbi.SBI_ERR_INVALID_PARAM, 0)


# ------------------------------------------------------------------ console

def test_console_write_and_read(vm, vcpu):
    vm.write(FRAME, b"hello, pv\n")
    assert call(vcpu, pv.CONSOLE_WRITE, 10, FRAME) == (0, 10)
    assert vm.console_output == b"hello, pv\n"
    assert call(vcpu, pv.CONSOLE_WRITE, 10, 0x1000) == (sbi.SBI_ERR_INVALID_ADDRESS, 0)
    assert call(vcpu, pv.CONSOLE_READ, 4, FRAME) == (0, 0)


def test_console_input_is_an_event_when_enabled(vm, vcpu):
    from pyvmm.machine.console import ConsoleInput
    vm.input = ConsoleInput(b"ab")
    registered(vcpu)
    vm.policy.deliver_events(vcpu)
    assert vcpu.pending_events == 0               # not enabled: input is left alone
    put64(vm, INFO + pv.INFO_ENABLED, 1 << pv.EVENT_CONSOLE)
    vcpu.set_mode(pv.MODE_USER)
    vcpu.pc = 0x4000_0000
    vm.policy.deliver_events(vcpu)
    state = info(vm)
    assert state["cause"] == INTERRUPT | pv.EVENT_CONSOLE and state["pc"] == 0x4000_0000
    assert vcpu.pc == CALLBACK and vcpu.mode == pv.MODE_KERNEL
    assert call(vcpu, pv.CONSOLE_READ, 8, FRAME) == (0, 2)
    assert vm.read(FRAME, 2) == b"ab"
    assert vcpu.pending_events == 0 and info(vm)["pending"] == 0
    assert vm.policy.upcalls == {"console": 1}


# ------------------------------------------------------------------ upcalls

def test_a_user_ecall_is_bounced_to_the_callback(vm, vcpu):
    registered(vcpu)
    put64(vm, INFO + pv.INFO_SCRATCH, FRAME)      # the trapframe, set by the kernel
    vcpu.set_mode(pv.MODE_USER)
    vcpu.set_x(2, 0x7FFF_F000)
    vm.handle(vcpu, Exit("trap", cause=8, pc=0x4000_0010, tval=0))
    state = info(vm)
    assert (state["pc"], state["cause"], state["prev_mode"]) == (0x4000_0010, 8, pv.MODE_USER)
    assert state["scratch"] == 0x7FFF_F000 and vcpu.get_x(2) == FRAME
    assert state["upcall_mask"] == 1
    assert vcpu.pc == CALLBACK and vcpu.mode == pv.MODE_KERNEL
    assert vm.policy.upcalls == {"syscall": 1}


def test_a_user_ecall_naming_the_pv_extension_is_still_the_kernels(vm, vcpu):
    registered(vcpu)
    vcpu.set_mode(pv.MODE_USER)
    vcpu.set_x(17, pv.PV_EID)
    vcpu.set_x(16, pv.IRET)
    vcpu.set_x(10, FRAME)
    vm.handle(vcpu, Exit("trap", cause=8, pc=0x4000_0010, tval=0))
    assert vm.policy.hypercalls == {"register_callbacks": 1} and vm.policy.upcalls == {"syscall": 1}
    assert vcpu.pc == CALLBACK and info(vm)["cause"] == 8


def test_a_kernel_ecall_is_a_hypercall(vm, vcpu):
    vm.write(FRAME, b"pv")
    vcpu.set_x(17, pv.PV_EID)
    vcpu.set_x(16, pv.CONSOLE_WRITE)
    vcpu.set_x(10, 2)
    vcpu.set_x(11, FRAME)
    vm.handle(vcpu, Exit("trap", cause=8, pc=0x8020_0040, tval=0))
    assert vm.console_output == b"pv"
    assert (vcpu.get_x(10), vcpu.get_x(11), vcpu.pc) == (0, 2, 0x8020_0044)
    assert vm.policy.hypercalls == {"console_write": 1}


def test_a_kernel_ecall_to_another_extension_is_the_sbi(vm, vcpu):
    vcpu.set_x(17, sbi.EID_SRST)
    vcpu.set_x(16, 0)
    vcpu.set_x(10, 0)
    vcpu.set_x(11, 0)
    vm.handle(vcpu, Exit("trap", cause=8, pc=0x8020_0040, tval=0))
    assert vm.stopped and vm.result.how == "sbi-shutdown" and vm.result.status == 0


def test_a_trap_before_register_callbacks_stops_the_vm(vm, vcpu):
    vm.handle(vcpu, Exit("trap", cause=2, pc=0x8020_0000, tval=0x10500073))
    assert vm.stopped and vm.result.status == 1
    assert "before register_callbacks" in vm.error and "\n" not in vm.error


def test_iret_restores_a_frame_in_user_mode(vm, vcpu):
    regs = [0] + [0x1000 + i for i in range(1, 32)] + [0x4000_0100]
    vm.write(FRAME, struct.pack("<33Q", *regs))
    assert call(vcpu, pv.IRET, FRAME) is None
    assert [vcpu.get_x(i) for i in range(1, 32)] == regs[1:32]
    assert vcpu.pc == 0x4000_0100 and vcpu.mode == pv.MODE_USER
    assert vcpu.core.read_csr(pv.CSR_SATP) == vm.pager.root_satp(pv.MODE_USER)
    assert call(vcpu, pv.IRET, FRAME + 4) == (sbi.SBI_ERR_INVALID_ADDRESS, 0)


# ------------------------------------------------------------------ timer and block

def test_the_timer_event_is_an_upcall_from_user_mode_only_when_enabled(vm, vcpu):
    registered(vcpu)
    core = vcpu.core
    assert call(vcpu, pv.SET_TIMER, core.mtime + 5) == (0, 0)
    core.mtime = core.mtime + 10
    vcpu.set_mode(pv.MODE_USER)
    vm.policy.deliver_events(vcpu)
    assert vcpu.pending_events == 1 << pv.EVENT_TIMER      # pending, not enabled
    assert vcpu.mode == pv.MODE_USER
    put64(vm, INFO + pv.INFO_ENABLED, 1 << pv.EVENT_TIMER)
    vm.policy.deliver_events(vcpu)
    assert info(vm)["cause"] == INTERRUPT | pv.EVENT_TIMER and vcpu.mode == pv.MODE_KERNEL
    assert vm.policy.upcalls == {"timer": 1}
    # masked in kernel mode: pending stays, no second upcall
    vm.policy.deliver_events(vcpu)
    assert vm.policy.upcalls == {"timer": 1}
    assert call(vcpu, pv.SET_TIMER, (1 << 64) - 1) == (0, 0)
    assert vcpu.pending_events == 0 and vcpu.timer is None


def test_block_returns_at_once_with_an_enabled_event_pending(vm, vcpu):
    registered(vcpu)
    put64(vm, INFO + pv.INFO_ENABLED, 1 << pv.EVENT_TIMER)
    vcpu.raise_event(pv.EVENT_TIMER)
    assert call(vcpu, pv.BLOCK) == (0, 0)
    assert vcpu.blocked_until is None and not vm.stopped


def test_block_sleeps_until_the_timer(vm, vcpu):
    registered(vcpu)
    put64(vm, INFO + pv.INFO_ENABLED, 1 << pv.EVENT_TIMER)
    deadline = vcpu.core.mtime + 1000
    call(vcpu, pv.SET_TIMER, deadline)
    assert call(vcpu, pv.BLOCK) == (0, 0)
    assert vcpu.blocked_until == deadline and not vm.stopped


def test_block_with_nothing_to_wake_it_is_idle_for_ever(vm, vcpu):
    registered(vcpu)
    assert call(vcpu, pv.BLOCK) == (0, 0)
    assert vm.stopped and vm.result.status == 125 and vm.result.how == "idle"


# ------------------------------------------------------------------ page faults

def test_a_kernel_store_to_its_page_table_is_reported(vm, vcpu):
    registered(vcpu)
    gigapage_space(vm, vcpu)
    pager = vm.pager
    assert pager.handle_page_fault(12, 0x8020_0000, 1, False, False) == "hidden"
    before = u64(vm, ROOT + 16)
    vm.handle(vcpu, Exit("trap", cause=15, pc=0x8020_0000, tval=ROOT + 16, insn=0x00B53023))
    assert vm.stopped and vm.result.status == 1
    assert "mmu_update" in vm.error and f"{ROOT:#x}" in vm.error
    assert u64(vm, ROOT + 16) == before
    assert vm.policy.direct_pt_writes == 1


def test_a_user_fault_on_kernel_memory_is_bounced_with_the_guests_cause(vm, vcpu):
    registered(vcpu)
    gigapage_space(vm, vcpu)                      # the gigapage has no U bit
    vcpu.set_mode(pv.MODE_USER)
    vm.handle(vcpu, Exit("trap", cause=13, pc=0x4000_0000, tval=0x8020_0000, insn=0x0005B503))
    state = info(vm)
    assert (state["cause"], state["tval"], state["pc"]) == (13, 0x8020_0000, 0x4000_0000)
    assert vcpu.mode == pv.MODE_KERNEL and vm.policy.upcalls == {"page_fault": 1}


def test_a_hidden_fault_is_not_the_guests(vm, vcpu):
    registered(vcpu)
    gigapage_space(vm, vcpu)
    vcpu.pc = 0x8020_0000
    vm.handle(vcpu, Exit("trap", cause=12, pc=0x8020_0000, tval=0x8020_0000))
    assert vcpu.pc == 0x8020_0000 and not vm.policy.upcalls
    assert vm.pager.counters["hidden_faults"] == 1

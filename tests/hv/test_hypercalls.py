"""The VM's SBI table and the run loop end to end, on a scripted fake core."""

from fake_core import EXIT_BUDGET, EXIT_MMIO, EXIT_TRAP, EXIT_WFI

from pyvmm.hv import Exit, Host
from pyvmm.hv.hypercalls import default_hypercalls
from pyvmm.isa import causes
from pyvmm.machine import sbi
from fake_core import FakeCore

BASE = 0x8000_0000
MASK64 = (1 << 64) - 1
SV39 = 8 << 60
PTE_V, PTE_R, PTE_W = 1, 2, 4


def call(vm, ext, fid, *args):
    args = tuple(args) + (0,) * (6 - len(args))
    vcpu = vm.vcpus[0]
    vm.handle(vcpu, Exit("sbi", cause=10, pc=BASE, ext=ext, fid=fid, args=args))
    return vcpu.get_x(10), vcpu.get_x(11)


def test_every_extension_the_kernel_probes_is_there():
    table = default_hypercalls()
    for ext in (sbi.EID_BASE, sbi.EID_TIME, sbi.EID_IPI, sbi.EID_RFENCE, sbi.EID_HSM, sbi.EID_SRST,
                sbi.EID_DBCN):
        assert any(key[0] == ext for key in table)
    assert (sbi.EID_LEGACY_CONSOLE_PUTCHAR, None) in table
    assert default_hypercalls() is not table          # each VM gets its own


def test_hsm_status_start_and_suspend(fake_vm):
    assert call(fake_vm, sbi.EID_HSM, 2, 0) == (0, sbi.HSM_STARTED)
    assert call(fake_vm, sbi.EID_HSM, 2, 3)[0] == sbi.SBI_ERR_INVALID_PARAM & MASK64
    assert call(fake_vm, sbi.EID_HSM, 0, 0)[0] == sbi.SBI_ERR_ALREADY_AVAILABLE & MASK64
    assert call(fake_vm, sbi.EID_HSM, 3, 0)[0] == 0                  # retentive: back at once
    vcpu = fake_vm.vcpus[0]
    vcpu.set_csr("vsstatus", 2)
    vcpu.set_csr("vsatp", SV39 | 0x80100)
    call(fake_vm, sbi.EID_HSM, 3, 0x8000_0000, BASE + 0x400, 0x77)   # non-retentive
    assert vcpu.pc == BASE + 0x400 and vcpu.get_x(10) == 0 and vcpu.get_x(11) == 0x77
    assert vcpu.get_csr("vsatp") == 0 and vcpu.get_csr("vsstatus") & 2 == 0
    assert call(fake_vm, sbi.EID_HSM, 3, 0x8000_0000, 0x1000)[0] == \
        sbi.SBI_ERR_INVALID_ADDRESS & MASK64


def test_dbcn_read_and_getchar_take_console_input(fake_host):
    vm = fake_host.create_vm(ram_size=1 << 20, stdin=b"abcdef")
    vm.vcpus[0].activate()
    assert call(vm, sbi.EID_DBCN, 1, 4, BASE + 0x100, 0) == (0, 4)
    assert vm.read(BASE + 0x100, 4) == b"abcd"
    assert call(vm, sbi.EID_LEGACY_CONSOLE_GETCHAR, 0)[0] == ord("e")
    assert call(vm, sbi.EID_DBCN, 2, ord("!"))[0] == 0 and vm.console_output == b"!"


def build_sv39(vm, table_gpa, va, pa):
    """One 4 KiB mapping va -> pa in guest memory, three levels from table_gpa."""
    l1, l0 = table_gpa + 0x1000, table_gpa + 0x2000
    for gpa in (table_gpa, l1, l0):
        vm.write(gpa, bytes(4096))
    vm.write(table_gpa + ((va >> 30) & 511) * 8, (((l1 >> 12) << 10) | PTE_V).to_bytes(8, "little"))
    vm.write(l1 + ((va >> 21) & 511) * 8, (((l0 >> 12) << 10) | PTE_V).to_bytes(8, "little"))
    vm.write(l0 + ((va >> 12) & 511) * 8,
             (((pa >> 12) << 10) | PTE_V | PTE_R | PTE_W).to_bytes(8, "little"))
    return SV39 | (table_gpa >> 12)


def test_legacy_remote_calls_read_the_mask_through_the_guest_tables(fake_vm):
    vcpu = fake_vm.vcpus[0]
    mask_gpa = BASE + 0x5008
    fake_vm.write(mask_gpa, (1).to_bytes(8, "little"))
    vcpu.set_csr("vsatp", build_sv39(fake_vm, BASE + 0x10_0000, 0x4000_0000, BASE + 0x5000))
    assert fake_vm.policy.guest_virt_to_phys(vcpu, 0x4000_0008) == mask_gpa
    assert fake_vm.policy.guest_virt_to_phys(vcpu, 0x4000_1000) is None
    flushes = fake_vm.host.core.tlb_flushes
    assert call(fake_vm, sbi.EID_LEGACY_REMOTE_SFENCE_VMA, 0, 0x4000_0008)[0] == 0
    assert fake_vm.host.core.tlb_flushes == flushes + 1
    assert call(fake_vm, sbi.EID_LEGACY_SEND_IPI, 0, 0x4000_0008)[0] == 0
    assert vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_SOFT)
    assert call(fake_vm, sbi.EID_LEGACY_SEND_IPI, 0, 0x4000_1000)[0] == \
        sbi.SBI_ERR_INVALID_ADDRESS & MASK64


def test_plic_drives_vseip_through_hvip(fake_vm):
    vcpu = fake_vm.vcpus[0]
    plic = fake_vm.plic
    plic.write(10 * 4, 4, 1)                   # UART source priority 1
    plic.write(0x2000 + 0x80, 4, 1 << 10)      # enabled for context 1 (the guest's S-mode)
    fake_vm.uart.write(1, 1, 0x02)             # IER: transmitter empty -> interrupt now
    assert vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_EXT)
    fake_vm.uart.write(1, 1, 0)
    assert not vcpu.get_csr("hvip") & (1 << causes.IRQ_VS_EXT)


def test_the_run_loop_end_to_end(tmp_path):
    core = FakeCore(ram_size=32 << 20)
    host = Host(ram_size=32 << 20, core=core)
    vm = host.create_vm(ram_size=8 << 20)
    image = tmp_path / "k.bin"
    image.write_bytes(b"\x13\x00\x00\x00" * 4)
    vm.load(str(image))
    ecall = {"exit_cause": causes.EXC_ECALL_VS, "exit_pc": BASE + 0x20_0000, "exit_tval": 0,
             "exit_insn": 0x73}

    def regs(*values):
        def apply(c=core):
            c.x[10:18] = list(values) + [0] * (8 - len(values))
        return apply

    steps = [
        (regs(ord("h"), 0, 0, 0, 0, 0, 0, 1), (EXIT_TRAP, ecall, 10)),
        (None, (EXIT_MMIO, {"exit_addr": 0x1000_0000, "exit_size": 1, "exit_is_write": 1,
                            "exit_data": ord("i"), "exit_pc": BASE}, 3)),
        (None, (EXIT_BUDGET, {}, 1 << 20)),
        (None, (EXIT_WFI, {"exit_pc": BASE}, 1)),
    ]
    script = []
    for setup, entry in steps:
        script.append((setup, entry))
    real_run = core.run

    def run(budget):
        setup, entry = script.pop(0)
        if setup:
            setup()
        core.script = [entry]
        return real_run(budget)

    core.run = run
    result = vm.run()
    assert vm.console_output == b"hi"
    assert (result.status, result.how) == (125, "idle")       # WFI, no timer: idle for ever
    assert vm.exit_counts == {"sbi": 1, "mmio": 1, "budget": 1, "wfi": 1}
    stats = vm.stats()
    # The budget exit ends the first slice at 2^20 instructions in all.
    assert stats["exits_handled"] == 3 and stats["instret"] == (1 << 20) + 1
    assert stats["insns_per_exit"] == round(((1 << 20) + 1) / 3, 1)
    assert stats["sbi"] == {"legacy.0x1": 1}
    assert core.pc == BASE + 0x20_0000 + 4            # past the ecall


def test_the_board_and_every_vm_answer_with_the_same_sbi_calls():
    """One SBI implementation: the VM's default hypercalls wrap the very
    functions the board's built-in firmware dispatches to."""
    from pyvmm.machine.sbi_calls import CALLS
    table = default_hypercalls()
    assert set(table) == set(CALLS)
    for key, (name, call) in CALLS.items():
        assert table[key].__wrapped__ is call, name

"""The RISC-V IOMMU as a hypervisor programs it: device contexts and
G-stage tables in memory, permissions, the IOTLB and its invalidation,
the fault queue, isolation between domains, the command queue, and that a
malformed table or register write is a fault or an error bit, never a host
exception."""

import random

import pytest

from iommu_tables import LEAF, PAGE, READ_ONLY, GStage, Hypervisor, ram_hash
from pyvmm.io.iommu import regs
from pyvmm.io.iommu.iommu import RiscvIommu
from pyvmm.machine.bus import BusFault
from pyvmm.machine.memory import DmaError

DEV_A, DEV_B = 0x08, 0x10          # 00:01.0 and 00:02.0


def domain(hv, device_id, gscid, mode=regs.HGATP_SV39X4):
    table = GStage(hv, mode)
    hv.set_context(device_id, table.iohgatp(gscid))
    return table, hv.iommu.dma_memory(device_id)


def test_translation_reaches_the_mapped_page_only():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 1)
    page = hv.alloc()
    table.map(0x4000_0000, page)
    dma.write(0x4000_0ff0, b"0123456789abcdef")
    assert hv.memory.read(page + 0xff0, 16) == b"0123456789abcdef"
    assert dma.read(0x4000_0ff8, 8) == b"89abcdef"
    before = ram_hash(hv.memory, [(hv.fq, hv.fq + PAGE)])
    with pytest.raises(DmaError):
        dma.write(0x4000_0ff8, b"x" * 16)     # runs into the unmapped next page
    assert ram_hash(hv.memory, [(hv.fq, hv.fq + PAGE)]) == before     # not even the mapped half was written
    assert hv.faults() == [(regs.CAUSE_WRITE_GUEST_PAGE, regs.TTYP_WRITE, DEV_A,
                            0x4000_1000, 0x4000_1000)]


@pytest.mark.parametrize("mode", [regs.HGATP_SV39X4, regs.HGATP_SV48X4])
def test_read_only_mapping_refuses_writes(mode):
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 3, mode)
    page = hv.alloc()
    hv.memory.write(page, b"firmware")
    table.map(0x7000, page, READ_ONLY)
    assert dma.read(0x7000, 8) == b"firmware"
    before = ram_hash(hv.memory, [(hv.fq, hv.fq + PAGE)])
    for attempt in (lambda: dma.write(0x7000, b"overwrite"), lambda: dma.fill(0x7000, 64),
                    lambda: dma.write_u32(0x7004, 0)):
        with pytest.raises(DmaError):
            attempt()
    assert ram_hash(hv.memory, [(hv.fq, hv.fq + PAGE)]) == before
    faults = hv.faults()
    assert [f[:3] for f in faults] == [(regs.CAUSE_WRITE_GUEST_PAGE, regs.TTYP_WRITE, DEV_A)] * 3
    assert [f[3] for f in faults] == [0x7000, 0x7000, 0x7004]
    stats = hv.iommu.stats()
    assert stats["iommu_faults"] == stats["iommu_faults_recorded"] == 3


def test_clean_page_is_not_writable_without_hardware_dirty_updates():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 1)
    table.map(0x1000, hv.alloc(), LEAF & ~regs.PTE_D)
    dma.read(0x1000, 4)
    with pytest.raises(DmaError):
        dma.write(0x1000, b"d")
    assert hv.faults()[0][0] == regs.CAUSE_WRITE_GUEST_PAGE


def test_stale_iotlb_entry_is_used_until_invalidated():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 7)
    old, new = hv.alloc(), hv.alloc()
    hv.memory.write(old, b"old page")
    hv.memory.write(new, b"new page")
    table.map(0x10_0000, old)
    assert dma.read(0x10_0000, 8) == b"old page"
    table.map(0x10_0000, new)                       # the table changes, the IOTLB does not
    assert dma.read(0x10_0000, 8) == b"old page"
    hits = hv.iommu.iotlb_hits
    hv.iotinval_gvma(gscid=8)                       # another domain's invalidation
    assert dma.read(0x10_0000, 8) == b"old page"
    assert hv.iommu.iotlb_hits == hits + 1
    hv.iotinval_gvma(gscid=7, gpa=0x10_0123)
    assert dma.read(0x10_0000, 8) == b"new page"
    table.unmap(0x10_0000)
    assert dma.read(0x10_0000, 8) == b"new page"    # still cached
    hv.iotinval_gvma()                              # every GSCID
    with pytest.raises(DmaError):
        dma.read(0x10_0000, 8)
    stats = hv.iommu.stats()
    assert stats["iommu_invalidations"] == 3 and stats["iommu_commands"] == 3
    assert stats["iommu_iotlb_entries_invalidated"] == 2


def test_superpage_is_invalidated_by_any_address_inside_it():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 2)
    big = (hv.memory.ram_base + (2 << 20))          # a 2 MiB-aligned machine range
    table.map(0x20_0000, big, level=1)
    dma.write(0x3F_FFF0, b"end of superpage")
    assert hv.memory.read(big + 0x1F_FFF0, 16) == b"end of superpage"
    table.unmap(0x20_0000, level=1)
    assert dma.read(0x20_0000, 4) == hv.memory.read(big, 4)
    hv.iotinval_gvma(gscid=2, gpa=0x2A_B000)
    with pytest.raises(DmaError):
        dma.read(0x20_0000, 4)
    assert hv.faults()[0][0] == regs.CAUSE_READ_GUEST_PAGE


def test_misaligned_superpage_is_a_guest_page_fault():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 2)
    table.map(0x20_0000, hv.memory.ram_base + PAGE, level=1)
    with pytest.raises(DmaError):
        dma.read(0x20_0000, 4)
    assert hv.faults()[0][0] == regs.CAUSE_READ_GUEST_PAGE


def test_device_context_is_cached_until_iodir_inval_ddt():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 4)
    table.map(0, hv.alloc())
    dma.read(0, 4)
    hv.set_context(DEV_A, 0, tc=0)                  # invalid in memory, still cached
    dma.read(0, 4)
    hv.iodir_inval_ddt(DEV_B)
    dma.read(0, 4)
    hv.iodir_inval_ddt(DEV_A)
    with pytest.raises(DmaError):
        dma.read(0, 4)
    assert hv.faults() == [(regs.CAUSE_DDT_INVALID, regs.TTYP_READ, DEV_A, 0, 0)]
    assert hv.iommu.stats()["iommu_contexts_invalidated"] == 1


def test_two_domains_cannot_reach_each_others_pages():
    hv = Hypervisor(levels=regs.MODE_2LVL)
    table_a, dma_a = domain(hv, DEV_A, 1)
    table_b, dma_b = domain(hv, 0x0100, 2)          # 01:00.0 on another directory page
    page_a, page_b = hv.alloc(), hv.alloc()
    table_a.map(0x8000, page_a)
    table_b.map(0x8000, page_b)
    dma_a.write(0x8000, b"A" * 64)
    dma_b.write(0x8000, b"B" * 64)
    assert hv.memory.read(page_a, 2) == b"AA" and hv.memory.read(page_b, 2) == b"BB"
    before = ram_hash(hv.memory, [(hv.fq, hv.fq + PAGE)])
    # Each device tries the other's page by every address it could name.
    for dma, target in ((dma_a, page_b), (dma_b, page_a)):
        for address in (target, target - hv.memory.ram_base, 0x9000):
            with pytest.raises(DmaError):
                dma.write(address, b"intrusion")
            with pytest.raises(DmaError):
                dma.read(address, 1)
    assert ram_hash(hv.memory, [(hv.fq, hv.fq + PAGE)]) == before
    faults = hv.faults()
    assert len(faults) == 12
    assert {f[2] for f in faults} == {DEV_A, 0x0100}


@pytest.mark.parametrize("context, cause", [
    (dict(tc=regs.TC_V | regs.TC_EN_ATS), regs.CAUSE_DDT_MISCONFIGURED),
    (dict(tc=regs.TC_V | regs.TC_GADE), regs.CAUSE_DDT_MISCONFIGURED),
    (dict(tc=regs.TC_V | 1 << 40), regs.CAUSE_DDT_MISCONFIGURED),
    (dict(iohgatp=10 << 60), regs.CAUSE_DDT_MISCONFIGURED),           # Sv57x4 not offered
    (dict(iohgatp=8 << 60 | 0x80001), regs.CAUSE_DDT_MISCONFIGURED),   # root not 16 KiB aligned
    (dict(iohgatp=5 << 44), regs.CAUSE_DDT_MISCONFIGURED),             # Bare with a GSCID
    (dict(fsc=8 << 60 | 0x80000), regs.CAUSE_DDT_MISCONFIGURED),       # first stage
    (dict(ta=1 << 12), regs.CAUSE_DDT_MISCONFIGURED),
    (dict(tc=0), regs.CAUSE_DDT_INVALID),
])
def test_malformed_device_context_is_a_recorded_fault(context, cause):
    hv = Hypervisor()
    fields = dict(tc=regs.TC_V, iohgatp=0, ta=0, fsc=0)
    fields.update(context)
    hv.set_context(DEV_A, fields["iohgatp"], tc=fields["tc"], ta=fields["ta"], fsc=fields["fsc"])
    dma = hv.iommu.dma_memory(DEV_A)
    with pytest.raises(DmaError):
        dma.write(0x8000_0000 + 0x10_0000, b"x")
    assert hv.faults() == [(cause, regs.TTYP_WRITE, DEV_A, 0x8010_0000, 0)]


def test_directory_faults_and_modes():
    hv = Hypervisor()
    dma = hv.iommu.dma_memory(0x0100)                # too wide for one level
    with pytest.raises(DmaError):
        dma.read(hv.memory.ram_base, 1)
    hv.write(regs.DDTP, 8, (0x1_0000_0000 >> 12) << 10 | regs.MODE_2LVL)   # root outside RAM
    with pytest.raises(DmaError):
        dma.read(hv.memory.ram_base, 1)
    hv.write(regs.DDTP, 8, regs.MODE_OFF)
    with pytest.raises(DmaError):
        dma.read(hv.memory.ram_base, 1)
    assert [f[0] for f in hv.faults()] == [regs.CAUSE_TTYPE_DISALLOWED, regs.CAUSE_DDT_LOAD_ACCESS,
                                           regs.CAUSE_ALL_DISALLOWED]
    hv.write(regs.DDTP, 8, regs.MODE_BARE)           # pass-through
    dma.write(hv.memory.ram_base + 0x30_0000, b"bare")
    assert hv.memory.read(hv.memory.ram_base + 0x30_0000, 4) == b"bare"
    hv.write(regs.DDTP, 8, 9)                        # no such mode: the field keeps Bare
    assert hv.read(regs.DDTP, 8) & 0xF == regs.MODE_BARE


def test_translation_outside_memory_is_an_access_fault():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 1)
    table.map(0x5000, 0x1000_0000)                    # the UART, not memory
    with pytest.raises(DmaError):
        dma.write(0x5000, b"x")
    assert hv.faults()[0][:2] == (regs.CAUSE_WRITE_ACCESS, regs.TTYP_WRITE)


def test_disable_translation_fault_reporting():
    hv = Hypervisor()
    table = GStage(hv)
    hv.set_context(DEV_A, table.iohgatp(1), tc=regs.TC_V | regs.TC_DTF)
    with pytest.raises(DmaError):
        hv.iommu.dma_memory(DEV_A).read(0x1000, 4)
    assert hv.faults() == [] and hv.iommu.stats()["iommu_faults"] == 1


def test_fault_queue_overflow_and_interrupt():
    hv = Hypervisor(fault_entries=4)
    dma = hv.iommu.dma_memory(DEV_A)                  # no context: DDT entry not valid
    assert not hv.irq.level
    for i in range(5):
        with pytest.raises(DmaError):
            dma.read(0x1000 * i, 1)
    assert hv.irq.level and hv.read(regs.IPSR, 4) & regs.IPSR_FIP
    assert hv.read(regs.FQCSR, 4) & regs.FQCSR_OF
    assert len(hv.faults()) == 3                      # a 4-entry queue holds 3
    stats = hv.iommu.stats()
    assert stats["iommu_faults_recorded"] == 3 and stats["iommu_faults_dropped"] == 2
    hv.write(regs.IPSR, 4, regs.IPSR_FIP)
    assert not hv.irq.level
    hv.write(regs.FQCSR, 4, regs.QCSR_EN | regs.QCSR_IE | regs.FQCSR_OF)   # clear the overflow
    with pytest.raises(DmaError):
        dma.read(0, 1)
    assert len(hv.faults()) == 1 and hv.irq.level


def test_illegal_command_stops_the_queue_until_cleared():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 1)
    table.map(0, hv.alloc())
    dma.read(0, 1)
    hv.command(0x7F)                                   # no such opcode
    hv.iotinval_gvma()                                 # queued behind it
    assert hv.read(regs.CQCSR, 4) & regs.CQCSR_CMD_ILL
    assert hv.read(regs.CQH, 4) == 0 and hv.read(regs.CQT, 4) == 2
    assert len(hv.iommu.iotlb.entries) == 1
    hv.memory.write_u64(hv.cq, regs.OP_IOFENCE | 1 << 10 | 0xC0FFEE << 32)   # fix it: a fence
    hv.memory.write_u64(hv.cq + 8, hv.cq + 0x800)
    hv.write(regs.CQCSR, 4, regs.QCSR_EN | regs.CQCSR_CMD_ILL)
    assert hv.read(regs.CQH, 4) == 2 and not hv.read(regs.CQCSR, 4) & regs.CQCSR_CMD_ILL
    assert hv.memory.read_u32(hv.cq + 0x800) == 0xC0FFEE
    assert len(hv.iommu.iotlb.entries) == 0


@pytest.mark.parametrize("low", [
    regs.OP_IOTINVAL | regs.IOTINVAL_GVMA << 7 | 1 << 32,    # PSCV with GVMA
    regs.OP_IOTINVAL | 5 << 7,                               # no such func3
    regs.OP_IODIR | regs.IODIR_INVAL_DDT << 7 | 1 << 12,     # PID with INVAL_DDT
    regs.OP_IODIR | regs.IODIR_INVAL_PDT << 7,               # INVAL_PDT needs DV
    regs.OP_ATS,                                             # no ATS
])
def test_malformed_commands_are_illegal(low):
    hv = Hypervisor()
    hv.command(low)
    assert hv.read(regs.CQCSR, 4) & regs.CQCSR_CMD_ILL and hv.iommu.stats()["iommu_commands"] == 0


def test_command_queue_outside_memory_is_a_memory_fault():
    hv = Hypervisor()
    hv.write(regs.CQCSR, 4, 0)
    hv.write(regs.CQB, 8, (0x1_0000_0000 >> 12) << 10 | 7)
    hv.write(regs.CQCSR, 4, regs.QCSR_EN | regs.QCSR_IE)
    hv.write(regs.CQT, 4, 1)
    assert hv.read(regs.CQCSR, 4) & regs.QCSR_MF and hv.irq.level


def test_register_interface():
    iommu = RiscvIommu()
    caps = iommu.read(regs.CAPABILITIES, 8)
    assert caps & 0xFF == 0x10 and caps & regs.CAP_SV39X4 and caps & regs.CAP_SV48X4
    assert iommu.read(regs.CAPABILITIES + 4, 4) == caps >> 32
    assert iommu.read(regs.FCTL, 4) == regs.FCTL_WSI
    iommu.write(regs.FCTL, 4, regs.FCTL_BE | regs.FCTL_GXL)
    assert iommu.read(regs.FCTL, 4) == regs.FCTL_WSI
    iommu.write(0x100, 4, 0xFFFF_FFFF)                 # reserved: ignored, reads 0
    assert iommu.read(0x100, 4) == 0
    for size, offset in ((1, regs.DDTP), (2, regs.DDTP), (8, regs.CQH), (4, regs.DDTP + 2)):
        with pytest.raises(BusFault):
            iommu.read(offset, size)
    iommu.write(regs.DDTP + 4, 4, 0xFFFF_FFFF)         # the upper half of ddtp
    assert iommu.read(regs.DDTP, 8) >> 54 == 0         # PPN is 44 bits, PAS 56


def test_state_and_restore_keep_registers_and_caches():
    hv = Hypervisor()
    table, dma = domain(hv, DEV_A, 9)
    old = hv.alloc()
    table.map(0x1000, old)
    dma.write(0x1000, b"cached")
    state = hv.iommu.state()
    table.map(0x1000, hv.alloc())                      # stale in the saved IOTLB
    fresh = RiscvIommu()
    fresh.attach_memory(hv.memory)
    fresh.restore(state)
    assert fresh.read(regs.DDTP, 8) == hv.read(regs.DDTP, 8)
    assert fresh.dma_memory(DEV_A).read(0x1000, 6) == b"cached"
    assert fresh.state() == state


def test_garbage_tables_and_registers_never_raise_anything_but_dma_errors():
    rng = random.Random(1234)
    hv = Hypervisor(levels=regs.MODE_3LVL)
    for _ in range(400):
        hv.memory.write(hv.memory.ram_base + rng.randrange(0, 64 * PAGE, 8),
                        rng.getrandbits(64).to_bytes(8, "little"))
    for _ in range(300):
        offset = rng.choice(list(regs.REGISTER_WIDTH))
        width = regs.REGISTER_WIDTH[offset]
        hv.write(offset, width, rng.getrandbits(8 * width))
        dma = hv.iommu.dma_memory(rng.randrange(1 << 24))
        try:
            dma.write(rng.getrandbits(rng.choice((12, 32, 48, 64))), b"z" * rng.randrange(1, 9000))
        except DmaError:
            pass    # refusals are the expected outcome of garbage tables
    stats = hv.iommu.stats()
    assert stats["iommu_translations"] >= 300 and stats["iommu_faults"] > 0

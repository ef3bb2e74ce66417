"""The default hypervisor (technique "hw"): how a VM's VCPUs are configured
and how their exits are completed.

Configuration, as KVM's RISC-V port does it:
* hedeleg hands the guest its own exceptions: misaligned fetch/load/store
  (0, 4, 6), access faults (1, 5, 7), illegal instruction (2: VS must see its
  own U-mode's illegal instructions, and the hart raises virtual-instruction,
  not 2, for what the hypervisor must emulate), breakpoint (3), ecall from VU
  (8) and, under nested paging, the VS-stage page faults (12, 13, 15).
  Left to the hypervisor: ecall from VS (10, the SBI), guest-page faults
  (20, 21, 23), virtual instruction (22), and under shadow paging the page
  faults, which are the shadow pager's.
* hideleg delegates the three VS interrupts; the hypervisor raises them
  through hvip (external: the VM's PLIC; software: SBI IPI), the timer is
  the guest's own vstimecmp (henvcfg.STCE) when the host has Sstc.
* nested paging: hgatp = the VM's Sv39x4 tables; device pages unmapped and
  registered as guest MMIO. Shadow paging: hgatp = Bare, vsatp = the
  pager's table, hstatus.VTVM = 1 so satp and sfence.vma are emulated here.
"""

from pyvmm.hv import exits
from pyvmm.hv.gstage import GStageTables
from pyvmm.hv.shadow import ShadowPager, retire_performed_store
from pyvmm.isa import causes

MASK64 = (1 << 64) - 1

HSTATUS_VTVM = 1 << 20
HENVCFG_STCE = 1 << 63

GUEST_EXCEPTIONS = sum(1 << c for c in (
    causes.EXC_INST_MISALIGNED, causes.EXC_INST_ACCESS, causes.EXC_ILLEGAL_INST,
    causes.EXC_BREAKPOINT, causes.EXC_LOAD_MISALIGNED, causes.EXC_LOAD_ACCESS,
    causes.EXC_STORE_MISALIGNED, causes.EXC_STORE_ACCESS, causes.EXC_ECALL_U))
PAGE_FAULTS = ((1 << causes.EXC_INST_PAGE_FAULT) | (1 << causes.EXC_LOAD_PAGE_FAULT)
               | (1 << causes.EXC_STORE_PAGE_FAULT))
VS_INTERRUPTS = ((1 << causes.IRQ_VS_SOFT) | (1 << causes.IRQ_VS_TIMER)
                 | (1 << causes.IRQ_VS_EXT))

SATP_MODE_SHIFT = 60
SATP_MODES = (0, 8, 9)             # Bare, Sv39, Sv48 (what the hart supports)
SATP_ASID_PPN = (1 << 60) - 1
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19


class Policy:
    on_bad_access = "reflect"      # or "stop": a guest touching memory it has not

    def __init__(self, vm):
        self.vm = vm
        self.shadow = vm.paging == "shadow"
        self.handlers = dict(exits.HANDLERS)
        host = vm.host
        if self.shadow:
            vm.pager = ShadowPager(vm, drop_on_sfence=False, fill_superpages=True)
        else:
            vm.gstage = GStageTables(host, vm.vmid)
            pagemap = vm.pagemap
            for index, hpa in enumerate(pagemap.hpa):
                vm.gstage.map_page(pagemap.gpa(index), hpa, pagemap.perms(index))
        self.emulated = {"satp_reads": 0, "satp_writes": 0, "sfence_vma": 0}

    # -- configuration --------------------------------------------------------------------

    def configure(self, vcpu):
        """Fill a new VCPU's hypervisor CSRs (it is not loaded yet)."""
        vm = self.vm
        core = vm.host.core
        vcpu.set_csr("hedeleg", GUEST_EXCEPTIONS | (0 if self.shadow else PAGE_FAULTS))
        vcpu.set_csr("hideleg", VS_INTERRUPTS)
        vcpu.set_csr("hcounteren", 0xFFFF_FFFF)
        vcpu.set_csr("henvcfg", HENVCFG_STCE if vm.sstc else 0)
        # Each VM's clock starts at 0 when it is created.
        vcpu.set_csr("htimedelta", -core.mtime & MASK64)
        hstatus = core.read_csr(0x600)       # the hart's reset value keeps VSXL
        vcpu.set_csr("hstatus", hstatus | HSTATUS_VTVM if self.shadow else hstatus & ~HSTATUS_VTVM)
        if self.shadow:
            vcpu.set_csr("hgatp", 0)
            vcpu.guest_mmio = []
        else:
            vcpu.set_csr("hgatp", vm.gstage.hgatp)
            vcpu.guest_mmio = vm.mmio_ranges()
        vcpu.guest_satp = 0
        self.set_guest_satp(vcpu, 0)

    def reset(self, vcpu):
        self.set_guest_satp(vcpu, 0)

    # -- exits -------------------------------------------------------------------------------

    def handle(self, vcpu, exit):
        self.handlers[exit.kind](vcpu, exit)

    def mmio_gpa(self, addr):
        """EXIT_MMIO's address as a GPA: the core gives the GPA under nested
        paging, the host-physical window the pager mapped under shadow."""
        return self.vm.mmio_gpa(addr) if self.shadow else addr

    def handle_exception(self, vcpu, exit):
        """Page faults under shadow paging go to the pager; True if handled."""
        if not self.shadow or not PAGE_FAULTS >> exit.cause & 1:
            return False
        vsstatus = vcpu.get_csr("vsstatus")
        outcome = self.vm.pager.handle_page_fault(
            exit.cause, exit.tval, exit.priv, bool(vsstatus & MSTATUS_SUM),
            bool(vsstatus & MSTATUS_MXR), exit.insn)
        if outcome == "emulated":
            retire_performed_store(vcpu)
        elif outcome == "guest":
            # The guest's own fault; the pager says which (a page fault, or an
            # access fault for a guest-physical address with nothing behind it).
            pager = self.vm.pager
            cause = getattr(pager, "fault_cause", None)
            tval = getattr(pager, "fault_tval", None)
            cause = exit.cause if cause is None else cause
            self.vm.reflected_faults[cause] += 1
            vcpu.inject_vs_exception(cause, exit.tval if tval is None else tval)
        return True

    def emulate_instruction(self, vcpu, exit, insn):
        """satp accesses and sfence.vma from VS under shadow paging (VTVM);
        True if emulated (pc advanced)."""
        if not self.shadow:
            return False
        kind, rd, rs1, funct3, csr = exits.decode_system(insn)
        if kind == "sfence.vma":
            vaddr = vcpu.get_x(rs1) if rs1 else None
            asid = vcpu.get_x(csr) if csr else None        # rs2 field
            self.emulated["sfence_vma"] += 1
            self.guest_sfence(vcpu, vaddr, asid)
        elif kind == "csr" and csr == exits.CSR_SATP:
            old = vcpu.guest_satp
            operand = rs1 if funct3 & 4 else vcpu.get_x(rs1)
            new = exits.csr_op(funct3, old, operand, rs1)
            if new is not None:
                self.emulated["satp_writes"] += 1
                if new >> SATP_MODE_SHIFT in SATP_MODES:     # other modes: the write is ignored
                    self.set_guest_satp(vcpu, new)
            else:
                self.emulated["satp_reads"] += 1
            vcpu.set_x(rd, old)
        else:
            return False
        vcpu.pc = exit.pc + 4
        return True

    # -- the guest's address translation, for hypercalls and emulation -----------------------

    def set_guest_satp(self, vcpu, value):
        if self.shadow:
            vcpu.guest_satp = value
            self.vm.pager.set_guest_satp(value)
            vcpu.set_csr("vsatp", self.vm.pager.root_satp(1))
        else:
            vcpu.set_csr("vsatp", value)

    def guest_sfence(self, vcpu, vaddr, asid):
        if self.shadow:
            pager = self.vm.pager
            pager.sfence(vaddr=vaddr, asid=asid)
            if vcpu.core is pager.core:
                return                # the pager flushed this core's TLB already
        vcpu.core.flush_tlb()

    def guest_virt_to_phys(self, vcpu, vaddr):
        """A VS-mode data address -> GPA, walking the guest's own tables in
        guest memory (None when it does not translate)."""
        satp = vcpu.guest_satp if self.shadow else vcpu.get_csr("vsatp")
        mode = satp >> SATP_MODE_SHIFT
        if mode == 0:
            return vaddr
        levels = {8: 3, 9: 4}.get(mode)
        if levels is None:
            return None
        vm = self.vm
        table = (satp & ((1 << 44) - 1)) << 12
        for level in reversed(range(levels)):
            pte_gpa = table + ((vaddr >> (12 + 9 * level)) & 0x1FF) * 8
            if not vm.in_ram(pte_gpa, 8):
                return None
            pte = int.from_bytes(vm.read(pte_gpa, 8), "little")
            if not pte & 1 or (not pte & 2 and pte & 4):
                return None
            ppn = (pte >> 10) & ((1 << 44) - 1)
            if pte & 0xA:
                offset_bits = 12 + 9 * level
                return ((ppn << 12) & ~((1 << offset_bits) - 1)) | (vaddr & ((1 << offset_bits) - 1))
            table = ppn << 12
        return None

    def stats(self):
        stats = {}
        if self.shadow:
            stats["emulated"] = dict(self.emulated)
        return stats

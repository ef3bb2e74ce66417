"""A RISC-V IOMMU (Architecture Specification 1.0) in front of the PCI
functions' DMA: its register file, the command and fault queues in memory,
and the translation of each device access.

What it implements of the specification:

* ddtp modes Off, Bare, 1LVL, 2LVL and 3LVL over base-format (32-byte)
  device contexts; a device id is the PCI routing ID (bus << 8 | devfn).
* G-stage translation (iohgatp Bare, Sv39x4 or Sv48x4) and no first stage
  (fsc must be Bare): the device's addresses are guest-physical, and the
  G-stage table can be a VM's own hgatp table.
* An IOTLB tagged by GSCID and a device-context cache, kept until the
  commands IOTINVAL.GVMA / IODIR.INVAL_DDT invalidate them; IOTINVAL.VMA,
  IOFENCE.C (with its completion write) and IODIR.INVAL_PDT.
* The fault queue with 32-byte records (cause, TTYP, device id, iotval,
  iotval2), overflow and memory-fault reporting, and the wired interrupt
  (IGS = WSI): one line, high while a pending bit in ipsr is set.

It lacks ATS, PRI, MSI translation, process contexts, hardware A/D updates
and the performance-monitoring counters; the capabilities register says
so, and a device context asking for them is "DDT entry misconfigured".

Tables and queues live in machine memory, read and written through the
GuestMemory the IOMMU is given; the registers are an MMIO device on the bus.
"""

from pyvmm.io.iommu import regs
from pyvmm.io.iommu.iotlb import ContextCache, Iotlb
from pyvmm.io.iommu.walk import (PAGE_SHIFT, DeviceContext, IommuFault, Translation,
                                 fetch_device_context, gstage_walk)
from pyvmm.machine.bus import BusFault
from pyvmm.machine.memory import DmaError

CAPABILITIES = (regs.CAP_VERSION_1_0 | regs.CAP_SV39X4 | regs.CAP_SV48X4 | regs.CAP_IGS_WSI
                | regs.PAS_BITS << regs.CAP_PAS_SHIFT)
_U32 = 0xFFFF_FFFF
_U64 = (1 << 64) - 1
_PAS_PPN_MASK = (1 << (regs.PAS_BITS - PAGE_SHIFT)) - 1


class RiscvIommu:
    """`set_irq(level)` drives the wired interrupt; `attach_memory(memory)`
    gives the machine memory that holds tables and queues and that
    translated DMA reaches."""

    def __init__(self, set_irq=None, iotlb_entries=64, context_entries=32):
        self.set_irq = set_irq
        self.memory = None
        self.iotlb = Iotlb(iotlb_entries)
        self.contexts = ContextCache(context_entries)
        self._irq_level = False
        self.reset()
        self.translations = 0
        self.iotlb_hits = 0
        self.iotlb_misses = 0
        self.context_hits = 0
        self.context_misses = 0
        self.faults = 0
        self.faults_recorded = 0
        self.faults_dropped = 0
        self.commands = 0
        self.invalidations = 0
        self.iotlb_entries_invalidated = 0
        self.contexts_invalidated = 0
        self.bytes_translated = 0

    def reset(self):
        self.fctl = regs.FCTL_WSI
        self.ddtp = regs.MODE_OFF
        self.cqb = self.cqh = self.cqt = self.cqcsr = 0
        self.fqb = self.fqh = self.fqt = self.fqcsr = 0
        self.pqb = self.pqh = self.pqt = self.pqcsr = 0
        self.ipsr = 0
        self.icvec = 0
        self.iotlb.invalidate()
        self.contexts.invalidate()
        self._update_irq()

    def attach_memory(self, memory):
        self.memory = memory

    # -- registers -----------------------------------------------------------------

    def _register(self, offset, size):
        if size not in (4, 8) or offset % size:
            raise BusFault(f"IOMMU registers take aligned 4- or 8-byte accesses ({size} at {offset:#x})")
        base = offset & ~7 if size == 4 and regs.REGISTER_WIDTH.get(offset & ~7) == 8 else offset
        width = regs.REGISTER_WIDTH.get(base)
        if width is None:
            return None, 0
        if size == 8 and width != 8:
            raise BusFault(f"an 8-byte access at {offset:#x} spans two IOMMU registers")
        return base, (offset - base) * 8

    def _value(self, base):
        return {regs.CAPABILITIES: CAPABILITIES, regs.FCTL: self.fctl, regs.DDTP: self.ddtp,
                regs.CQB: self.cqb, regs.CQH: self.cqh, regs.CQT: self.cqt, regs.FQB: self.fqb,
                regs.FQH: self.fqh, regs.FQT: self.fqt, regs.PQB: self.pqb, regs.PQH: self.pqh,
                regs.PQT: self.pqt, regs.CQCSR: self.cqcsr, regs.FQCSR: self.fqcsr,
                regs.PQCSR: self.pqcsr, regs.IPSR: self.ipsr, regs.ICVEC: self.icvec}[base]

    def read(self, offset, size):
        """Reserved and unimplemented registers read 0."""
        base, shift = self._register(offset, size)
        if base is None:
            return 0
        return (self._value(base) >> shift) & (_U32 if size == 4 else _U64)

    def write(self, offset, size, value):
        """Fields are WARL: a value the IOMMU cannot take leaves the field as
        it was; read-only registers and reserved offsets ignore writes."""
        base, shift = self._register(offset, size)
        if base is None:
            return
        mask = (_U32 if size == 4 else _U64) << shift
        value = (self._value(base) & ~mask) | ((value << shift) & mask)
        handler = getattr(self, f"_write_{_NAMES[base]}", None)
        if handler is not None:
            handler(value)

    def _write_ddtp(self, value):
        mode = value & regs.DDTP_MODE_MASK
        if mode > regs.MODE_3LVL:
            mode = self.ddtp & regs.DDTP_MODE_MASK
        ppn = (value >> regs.DDTP_PPN_SHIFT) & _PAS_PPN_MASK
        self.ddtp = mode | ppn << regs.DDTP_PPN_SHIFT

    @staticmethod
    def _queue_base(value):
        return value & (regs.QB_LOG2SZ_MASK | _PAS_PPN_MASK << regs.DDTP_PPN_SHIFT)

    def _write_cqb(self, value):
        if not self.cqcsr & regs.QCSR_ON:
            self.cqb = self._queue_base(value)

    def _write_fqb(self, value):
        if not self.fqcsr & regs.QCSR_ON:
            self.fqb = self._queue_base(value)

    def _write_pqb(self, value):
        # No page-request interface (no ATS/PRI): the queue exists as storage.
        if not self.pqcsr & regs.QCSR_ON:
            self.pqb = self._queue_base(value)

    def _write_cqt(self, value):
        self.cqt = value & (self._entries(self.cqb) - 1)
        self._process_commands()

    def _write_fqh(self, value):
        self.fqh = value & (self._entries(self.fqb) - 1)

    def _write_pqh(self, value):
        self.pqh = value & (self._entries(self.pqb) - 1)

    def _write_fctl(self, value):
        # Little-endian only, WSI only, GXL clear: nothing here is writable.
        self.fctl = regs.FCTL_WSI

    def _write_icvec(self, value):
        self.icvec = value & 0xFFFF

    def _write_ipsr(self, value):
        self.ipsr &= ~(value & (regs.IPSR_CIP | regs.IPSR_FIP | regs.IPSR_PMIP | regs.IPSR_PIP))
        self._update_irq()

    def _write_cqcsr(self, value):
        errors = regs.QCSR_MF | regs.CQCSR_CMD_TO | regs.CQCSR_CMD_ILL | regs.CQCSR_FENCE_W_IP
        csr = self.cqcsr & ~(value & errors)          # error bits are write-one-to-clear
        if value & regs.QCSR_EN and not csr & regs.QCSR_ON:
            self.cqh = self.cqt = 0
            csr = (csr & ~errors) | regs.QCSR_ON
        elif not value & regs.QCSR_EN:
            csr &= ~regs.QCSR_ON
        self.cqcsr = (csr & ~(regs.QCSR_EN | regs.QCSR_IE)) | (value & (regs.QCSR_EN | regs.QCSR_IE))
        self._process_commands()

    def _write_fqcsr(self, value):
        errors = regs.QCSR_MF | regs.FQCSR_OF
        csr = self.fqcsr & ~(value & errors)
        if value & regs.QCSR_EN and not csr & regs.QCSR_ON:
            self.fqh = self.fqt = 0
            csr = (csr & ~errors) | regs.QCSR_ON
        elif not value & regs.QCSR_EN:
            csr &= ~regs.QCSR_ON
        self.fqcsr = (csr & ~(regs.QCSR_EN | regs.QCSR_IE)) | (value & (regs.QCSR_EN | regs.QCSR_IE))

    def _write_pqcsr(self, value):
        self.pqcsr = value & (regs.QCSR_EN | regs.QCSR_IE)
        if value & regs.QCSR_EN:
            self.pqcsr |= regs.QCSR_ON

    @staticmethod
    def _entries(queue_base):
        return 1 << ((queue_base & regs.QB_LOG2SZ_MASK) + 1)

    @staticmethod
    def _queue_address(queue_base):
        return ((queue_base >> regs.DDTP_PPN_SHIFT) & _PAS_PPN_MASK) << PAGE_SHIFT

    # -- interrupts -----------------------------------------------------------------

    def _pend(self, bit, enabled):
        if enabled:
            self.ipsr |= bit
            self._update_irq()

    def _update_irq(self):
        level = bool(self.ipsr)
        if level != self._irq_level:
            self._irq_level = level
            if self.set_irq is not None:
                self.set_irq(level)

    # -- the command queue -----------------------------------------------------------

    def _process_commands(self):
        """Run commands from cqh to cqt; an illegal command or a memory fault
        stops the queue (cqh stays on the culprit) until software clears
        the error bit."""
        stop = regs.QCSR_MF | regs.CQCSR_CMD_ILL
        entries = self._entries(self.cqb)
        base = self._queue_address(self.cqb)
        while self.cqcsr & regs.QCSR_ON and not self.cqcsr & stop and self.cqh != self.cqt:
            try:
                low = self.memory.read_u64(base + self.cqh * regs.COMMAND_SIZE)
                high = self.memory.read_u64(base + self.cqh * regs.COMMAND_SIZE + 8)
            except DmaError:
                self.cqcsr |= regs.QCSR_MF
                self._pend(regs.IPSR_CIP, self.cqcsr & regs.QCSR_IE)
                return
            outcome = self._execute(low, high)
            if outcome == "illegal":
                self.cqcsr |= regs.CQCSR_CMD_ILL
                self._pend(regs.IPSR_CIP, self.cqcsr & regs.QCSR_IE)
                return
            if outcome == "memory":
                self.cqcsr |= regs.QCSR_MF
                self._pend(regs.IPSR_CIP, self.cqcsr & regs.QCSR_IE)
                return
            self.commands += 1
            self.cqh = (self.cqh + 1) % entries

    def _execute(self, low, high):
        opcode, func3 = low & 0x7F, (low >> 7) & 7
        if opcode == regs.OP_IOTINVAL and func3 in (regs.IOTINVAL_VMA, regs.IOTINVAL_GVMA):
            av, pscv, gv = low >> 10 & 1, low >> 32 & 1, low >> 33 & 1
            reserved = low & ~(0x3FF | 1 << 10 | 0xFFFFF << 12 | 3 << 32 | 0xFFFF << 44)
            if reserved or high & 0x3FF or (func3 == regs.IOTINVAL_GVMA and pscv):
                return "illegal"
            self.invalidations += 1
            if func3 == regs.IOTINVAL_VMA:
                # First-stage (VS) translations: this IOMMU caches none.
                return "done"
            gscid = (low >> 44) & regs.GSCID_MASK if gv else None
            gpa = (high >> 10) << PAGE_SHIFT if av and gv else None
            self.iotlb_entries_invalidated += self.iotlb.invalidate(gscid, gpa)
            return "done"
        if opcode == regs.OP_IOFENCE and func3 == regs.IOFENCE_C:
            av, wsi = low >> 10 & 1, low >> 11 & 1
            if low & ~(0x3FF | 0xF << 10 | _U32 << 32) or high & 3:
                return "illegal"
            # Translations finish synchronously, so every earlier command and
            # DMA is complete by now: the fence only has to report.
            if av:
                try:
                    self.memory.write_u32(high & ~3, low >> 32)
                except DmaError:
                    return "memory"
            if wsi:
                self._pend(regs.IPSR_CIP, self.cqcsr & regs.QCSR_IE)
            return "done"
        if opcode == regs.OP_IODIR and func3 in (regs.IODIR_INVAL_DDT, regs.IODIR_INVAL_PDT):
            dv, pid = low >> 33 & 1, (low >> 12) & 0xFFFFF
            if low & ~(0x3FF | 0xFFFFF << 12 | 1 << 33 | 0xFFFFFF << 40) or high:
                return "illegal"
            if func3 == regs.IODIR_INVAL_DDT and pid:
                return "illegal"
            if func3 == regs.IODIR_INVAL_PDT and not dv:
                return "illegal"
            self.invalidations += 1
            if func3 == regs.IODIR_INVAL_DDT:
                self.contexts_invalidated += self.contexts.invalidate(low >> 40 if dv else None)
            # INVAL_PDT: no process-directory entries are ever cached here.
            return "done"
        return "illegal"      # ATS commands (no ATS) and unknown opcodes

    # -- the fault queue --------------------------------------------------------------

    def _record_fault(self, device_id, fault, iova, write):
        self.faults += 1
        if not self.fqcsr & regs.QCSR_ON or self.fqcsr & (regs.QCSR_MF | regs.FQCSR_OF):
            self.faults_dropped += 1
            return
        entries = self._entries(self.fqb)
        if (self.fqt + 1) % entries == self.fqh:
            self.fqcsr |= regs.FQCSR_OF
            self.faults_dropped += 1
            self._pend(regs.IPSR_FIP, self.fqcsr & regs.QCSR_IE)
            return
        ttyp = regs.TTYP_WRITE if write else regs.TTYP_READ
        record = (fault.cause | ttyp << 34 | device_id << 40).to_bytes(8, "little") + bytes(8)
        record += (iova & _U64).to_bytes(8, "little")
        record += ((fault.gpa & ~3) if fault.gpa is not None else 0).to_bytes(8, "little")
        try:
            self.memory.write(self._queue_address(self.fqb) + self.fqt * regs.FAULT_RECORD_SIZE, record)
        except DmaError:
            self.fqcsr |= regs.QCSR_MF
            self.faults_dropped += 1
            self._pend(regs.IPSR_FIP, self.fqcsr & regs.QCSR_IE)
            return
        self.fqt = (self.fqt + 1) % entries
        self.faults_recorded += 1
        self._pend(regs.IPSR_FIP, self.fqcsr & regs.QCSR_IE)

    # -- translation ------------------------------------------------------------------

    def _context(self, device_id):
        context = self.contexts.lookup(device_id)
        if context is not None:
            self.context_hits += 1
            return context
        self.context_misses += 1
        mode = self.ddtp & regs.DDTP_MODE_MASK
        root = ((self.ddtp >> regs.DDTP_PPN_SHIFT) & _PAS_PPN_MASK) << PAGE_SHIFT
        context = fetch_device_context(self.memory, mode, root, device_id)
        self.contexts.insert(device_id, context)
        return context

    def translate(self, device_id, iova, write):
        """The machine address for one access by `device_id` to `iova` that
        stays within a page, or None when the IOMMU refuses it (the fault is
        recorded in the fault queue unless the device context disables it)."""
        if self.memory is None:
            raise DmaError("the IOMMU has no memory attached yet")
        self.translations += 1
        mode = self.ddtp & regs.DDTP_MODE_MASK
        context = None
        try:
            if mode == regs.MODE_OFF:
                raise IommuFault(regs.CAUSE_ALL_DISALLOWED, "the IOMMU is off")
            if mode == regs.MODE_BARE:
                return iova
            context = self._context(device_id)
            if context.gstage_mode == regs.HGATP_BARE:
                return iova
            entry = self.iotlb.lookup(context.gscid, iova)
            if entry is not None and (entry.writable if write else entry.readable):
                self.iotlb_hits += 1
            else:
                self.iotlb_misses += 1
                entry = gstage_walk(self.memory, context, iova, write)
                self.iotlb.insert(context.gscid, entry)
            return entry.spa_base + (iova - entry.gpa_base)
        except IommuFault as fault:
            if context is None or context.report_faults or fault.cause >= regs.CAUSE_ALL_DISALLOWED:
                self._record_fault(device_id, fault, iova, write)
            else:
                self.faults += 1
            return None

    def dma_memory(self, device_id):
        """The GuestMemory interface for `device_id`'s DMA through this IOMMU."""
        from pyvmm.io.iommu.dma import IommuMemory
        return IommuMemory(self, device_id)

    def access_fault(self, device_id, iova, write):
        """A translated address that no memory answers: an access fault."""
        cause = regs.CAUSE_WRITE_ACCESS if write else regs.CAUSE_READ_ACCESS
        self._record_fault(device_id, IommuFault(cause, f"{iova:#x} reaches no memory"), iova, write)

    # -- snapshots and counters -------------------------------------------------------------

    def state(self):
        return {
            "registers": {name: getattr(self, name) for name in _STATE_REGISTERS},
            "irq_level": self._irq_level,
            "iotlb": self.iotlb.state(),
            "contexts": self.contexts.state(),
        }

    def restore(self, state):
        """Reload registers and caches (a cached entry stays stale across a
        snapshot exactly as it would have without one)."""
        for name in _STATE_REGISTERS:
            setattr(self, name, state["registers"][name])
        self.iotlb.restore(state["iotlb"], Translation)
        self.contexts.restore(state["contexts"], DeviceContext)
        self._irq_level = not state["irq_level"]
        self._update_irq()

    def stats(self):
        return {
            "iommu_translations": self.translations,
            "iommu_iotlb_hits": self.iotlb_hits,
            "iommu_iotlb_misses": self.iotlb_misses,
            "iommu_iotlb_evictions": self.iotlb.evictions,
            "iommu_context_hits": self.context_hits,
            "iommu_context_misses": self.context_misses,
            "iommu_faults": self.faults,
            "iommu_faults_recorded": self.faults_recorded,
            "iommu_faults_dropped": self.faults_dropped,
            "iommu_commands": self.commands,
            "iommu_invalidations": self.invalidations,
            "iommu_iotlb_entries_invalidated": self.iotlb_entries_invalidated,
            "iommu_contexts_invalidated": self.contexts_invalidated,
            "iommu_bytes_translated": self.bytes_translated,
        }


_NAMES = {regs.CAPABILITIES: "capabilities", regs.FCTL: "fctl", regs.DDTP: "ddtp",
          regs.CQB: "cqb", regs.CQH: "cqh", regs.CQT: "cqt", regs.FQB: "fqb", regs.FQH: "fqh",
          regs.FQT: "fqt", regs.PQB: "pqb", regs.PQH: "pqh", regs.PQT: "pqt", regs.CQCSR: "cqcsr",
          regs.FQCSR: "fqcsr", regs.PQCSR: "pqcsr", regs.IPSR: "ipsr", regs.ICVEC: "icvec"}
_STATE_REGISTERS = ("fctl", "ddtp", "cqb", "cqh", "cqt", "cqcsr", "fqb", "fqh", "fqt", "fqcsr",
                    "pqb", "pqh", "pqt", "pqcsr", "ipsr", "icvec")
